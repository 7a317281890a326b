"""Bad input raises ValueError naming the argument and the allowed range."""

import copy
import json
import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp
import torch
from torch import nn

from qtaml_tac import CalibrationConfig, DeploymentConfig, Plan, jacobian_gains, plan_deployment
from qtaml_tac.calibrate import mean_correction_decisions, output_deviation
from qtaml_tac.plan import protection_for, storage_for
from qtaml_tac.storage import StorageConfig, quantize
from qtaml_theory import DirectionalChannel, PerBitChannel, SymmetricChannel, WeightError, get_encoding
from qtaml_theory.law import error_cumulants, sample_errors

ENC = get_encoding("offset_binary", 4)

INVALID = [
    ("n below 1", lambda: get_encoding("offset_binary", 0), r"n must be an integer in 1\.\.32"),
    ("n above 32", lambda: get_encoding("twos_complement", 33), r"n must be an integer in 1\.\.32"),
    ("n not an integer", lambda: get_encoding("offset_binary", 4.0), r"n must be an integer"),
    ("unknown encoding", lambda: get_encoding("gray", 4), r"name must be one of"),
    ("p negative", lambda: SymmetricChannel(-0.1), r"p must be a probability in \[0, 1\]"),
    ("p above one", lambda: SymmetricChannel(Fraction(3, 2)), r"p must be a probability in \[0, 1\]"),
    ("p NaN", lambda: SymmetricChannel(math.nan), r"p must be a finite probability"),
    ("p infinite", lambda: WeightError(ENC, 3, math.inf), r"p must be a finite probability"),
    ("p symbolic", lambda: SymmetricChannel(sp.Symbol("x")), r"expected a number"),
    ("p a string", lambda: SymmetricChannel("0.1"), r"p must be a real number"),
    ("rate entry", lambda: PerBitChannel([0.1, 1.5]), r"rates\[1\] must be a probability"),
    ("rates length", lambda: WeightError(ENC, 3, PerBitChannel([0.1, 0.2])), r"rates must have one entry per bit \(length 4\)"),
    ("p01", lambda: DirectionalChannel(-1, 0.1), r"p01 must be a probability"),
    ("p10", lambda: DirectionalChannel(0.1, 2), r"p10 must be a probability"),
    ("code too large", lambda: WeightError(ENC, 16, 0.1), r"code must be an integer in 0\.\.15"),
    ("code negative", lambda: WeightError(ENC, -1, 0.1), r"code must be an integer in 0\.\.15"),
    ("code a float", lambda: WeightError(ENC, 3.0, 0.1), r"code must hold integers in 0\.\.15"),
    ("code array out of range", lambda: ENC.decode(np.array([1, 99])), r"code must hold integers in 0\.\.15"),
    ("encoding not an object", lambda: WeightError("offset_binary", 3, 0.1), r"encoding must be an object"),
    ("delta zero", lambda: WeightError(ENC, 3, 0.1, delta=0), r"delta must be a finite positive number"),
    ("delta NaN", lambda: WeightError(ENC, 3, 0.1, delta=math.nan), r"delta must be a finite positive number"),
    ("value NaN", lambda: ENC.encode([0.0, math.nan]), r"value must be finite"),
    ("value infinite", lambda: ENC.encode(math.inf), r"value must be finite"),
    ("unknown method", lambda: WeightError(ENC, 3, 0.1).mean(method="guess"), r"method must be one of"),
    ("montecarlo size", lambda: WeightError(ENC, 3, 0.1).var(method="montecarlo", size=1), r"size must be an integer >= 2"),
    ("sample size", lambda: sample_errors(ENC, 3, 0.1, size=0), r"size must be an integer >= 2"),
    ("enumeration too wide", lambda: WeightError(get_encoding("offset_binary", 21), 3, 0.1).pmf(), r"enumeration needs n <= 20"),
    ("cumulant codes", lambda: error_cumulants(ENC, [1, 2, 40], 0.1), r"code must hold integers in 0\.\.15"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_bad_input_raises_a_clear_value_error(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()


# ---------------------------------------------------------------------------------------------------------------
# qtaml_tac, the planning side: configs, names and bit counts, calibration batches, plans on load and on use.
# The models are tiny and the calibration minimal (2 probes, 1 trial), so that each case takes milliseconds.

FAST = CalibrationConfig(probes=2, trials=1)


def _tiny():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))


def _batch(rows=6):
    return torch.randn(rows, 4, generator=torch.Generator().manual_seed(1))


def _config(**overrides):
    return DeploymentConfig(**{"p": 0.1, "budget_fraction": 0.25, "calibration": FAST, **overrides})


def _snapshot(model):
    return {name: t.detach().clone() for name, t in [*model.named_parameters(), *model.named_buffers()]}


def _same(model, snapshot):
    now = dict([*model.named_parameters(), *model.named_buffers()])
    return now.keys() == snapshot.keys() and all(torch.equal(now[name], snapshot[name]) for name in snapshot)


# 1. Train mode: calibration runs in eval mode, leaves every buffer and parameter bit-exact, restores each mode.

class _BatchNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(2)
        self.body = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
        with torch.no_grad():  # running statistics far from a batch's own, so that train mode shows
            self.body[1].running_mean.fill_(3.0)
            self.body[1].running_var.fill_(0.25)

    def forward(self, x):
        return self.body(x)


def _modes(model):
    return [module.training for module in model.modules()]


def test_train_mode_model_is_calibrated_in_eval_mode_and_left_exactly_as_it_was():
    model = _BatchNormNet().train()
    model.body[3].eval()  # a mixed mode comes back mixed
    modes, snapshot = _modes(model), _snapshot(model)
    names = ["body.0.weight", "body.4.weight"]
    first = jacobian_gains(model, _batch(), names, FAST)
    second = jacobian_gains(model, _batch(), names, FAST)
    assert first == second
    assert _modes(model) == modes and _same(model, snapshot)
    # The reference: the same model switched to eval mode by hand (independent of evaluation_mode).
    reference = copy.deepcopy(model).eval()
    assert jacobian_gains(reference, _batch(), names, FAST) == first
    plans = [plan_deployment(model, _batch(), _config(), "tac") for _ in range(2)]
    assert plans[0] == plans[1] == plan_deployment(reference, _batch(), _config(), "tac")
    assert plan_deployment(model, _batch(), _config(), "sensitivity_ecc") == plan_deployment(
        reference, _batch(), _config(), "sensitivity_ecc")
    assert _modes(model) == modes and _same(model, snapshot)


def test_calibration_errors_also_restore_the_mode_and_buffers():
    model = _BatchNormNet().train()
    modes, snapshot = _modes(model), _snapshot(model)
    with pytest.raises(ValueError, match="does not fit the model"):
        plan_deployment(model, torch.randn(5, 7), _config(), "tac")
    assert _modes(model) == modes and _same(model, snapshot)


def test_output_deviation_and_step_3_leave_a_train_mode_model_as_it_was():
    model = _BatchNormNet().train()
    modes, snapshot = _modes(model), _snapshot(model)
    storage_config = StorageConfig()
    storage = quantize(model, storage_config)
    protection = {name: 2 for name in storage.names}
    deviation = output_deviation(model, _batch(), storage, 0.05, protection=protection, config=FAST)
    decisions = mean_correction_decisions(model, _batch(), storage_config, 0.05, protection, FAST)
    assert _modes(model) == modes and _same(model, snapshot)
    reference = copy.deepcopy(model).eval()
    assert deviation == output_deviation(reference, _batch(), quantize(reference, storage_config), 0.05,
                                         protection=protection, config=FAST)
    assert decisions == mean_correction_decisions(reference, _batch(), storage_config, 0.05, protection, FAST)


# 2. Names and bit counts: misspelled names and non-integer counts are errors, NumPy integers are fine.

def test_floors_accept_numpy_integers():
    plan = plan_deployment(_tiny(), _batch(), _config(floors={"0.weight": np.int64(2)}), "tac_alloc_only")
    assert plan.layer("0.weight").bits >= 2


def test_gains_from_jacobian_gains_are_reused_and_checked():
    model = _tiny()
    gains = jacobian_gains(model, _batch(), ["0.weight", "2.weight"], FAST)
    assert plan_deployment(model, _batch(), _config(), "tac", gains=gains) == plan_deployment(
        model, _batch(), _config(), "tac")


def _deviation(batch=None, **kwargs):
    model = _tiny()
    return output_deviation(model, _batch() if batch is None else batch, quantize(model), 0.1, config=FAST, **kwargs)


NAME_CASES = [
    ("misspelled floor", lambda: plan_deployment(_tiny(), _batch(), _config(floors={"0.wieght": 1}), "tac"),
     r"floors names parameters that are not stored: \['0.wieght'\]; the stored parameters are "
     r"\['0.weight', '2.weight'\]"),
    ("fractional floor", lambda: _config(floors={"0.weight": 1.7}),
     r"floors\['0.weight'\] must be an integer in 0\.\.8, got 1\.7"),
    ("floor a string", lambda: _config(floors={"0.weight": "2"}),
     r"floors\['0.weight'\] must be an integer in 0\.\.8, got '2'"),
    ("floor a bool", lambda: _config(floors={"0.weight": True}),
     r"floors\['0.weight'\] must be an integer in 0\.\.8, got True"),
    ("floor above n", lambda: _config(floors={"0.weight": 9}),
     r"floors\['0.weight'\] must be an integer in 0\.\.8, got 9"),
    ("floors a list", lambda: _config(floors=[1, 2]), r"floors must be None, 'auto' or a \{name: bits\} mapping"),
    ("residual floor fractional", lambda: _config(residual_floor=1.5), r"residual_floor must be an integer in 0\.\.8"),
    ("misspelled protection", lambda: _deviation(protection={"0.weigth": 2}),
     r"protection names parameters that are not stored: \['0.weigth'\]; the stored parameters are"),
    ("fractional protection", lambda: _deviation(protection={"0.weight": 2.5}),
     r"protection\['0.weight'\] must be an integer in 0\.\.8, got 2\.5"),
    ("step 3 protection", lambda: mean_correction_decisions(_tiny(), _batch(), StorageConfig(), 0.1, {"2.weight": 9}),
     r"protection\['2.weight'\] must be an integer in 0\.\.8, got 9"),
    ("misspelled deviation name", lambda: _deviation(names=["2.weigth"]),
     r"names names parameters that are not stored: \['2.weigth'\]"),
    ("misspelled gain name", lambda: jacobian_gains(_tiny(), _batch(), ["0.wieght"], FAST),
     r"names holds parameters the model does not have: \['0.wieght'\]; the model's parameters are"),
    ("gains misspelled", lambda: plan_deployment(_tiny(), _batch(), _config(), "tac",
                                                 gains={"0.weight": 1.0, "2.wieght": 1.0}),
     r"gains names parameters that are not stored: \['2.wieght'\]"),
    ("gains incomplete", lambda: plan_deployment(_tiny(), _batch(), _config(), "tac", gains={"0.weight": 1.0}),
     r"gains must cover every stored parameter; missing \['2.weight'\]"),
    ("gain NaN", lambda: plan_deployment(_tiny(), _batch(), _config(), "tac",
                                         gains={"0.weight": math.nan, "2.weight": 1.0}),
     r"gains\['0.weight'\] must be a finite number >= 0"),
]


@pytest.mark.parametrize("case", NAME_CASES, ids=[c[0] for c in NAME_CASES])
def test_unknown_names_and_non_integer_bit_counts_are_refused(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()


# 4. Calibration batches: empty, NaN, a model whose clean output is not finite.

class _DictModel(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 2)

    def forward(self, features):
        return self.linear(features["x"])


class _LogModel(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.linear = nn.Linear(4, 2)

    def forward(self, x):
        return torch.log(self.linear(x))  # NaN wherever the linear output is negative


def _nan_batch():
    batch = _batch()
    batch[2, 1] = math.nan
    return batch


BATCH_CASES = [
    ("empty batch", lambda: plan_deployment(_tiny(), torch.empty(0, 4), _config(), "tac"),
     r"the calibration batch is empty \(shape \(0, 4\)\); it must hold at least one input"),
    ("empty batch, gains", lambda: jacobian_gains(_tiny(), torch.empty(0, 4), ["0.weight"], FAST),
     r"the calibration batch is empty"),
    ("empty batch, deviation", lambda: _deviation(torch.empty(0, 4)),
     r"the calibration batch is empty"),
    ("NaN batch", lambda: plan_deployment(_tiny(), _nan_batch(), _config(), "tac"),
     r"the calibration batch holds NaN or infinity"),
    ("infinite batch, baseline", lambda: plan_deployment(_tiny(), _nan_batch().nan_to_num(nan=math.inf), _config(),
                                                         "magnitude_ecc"),
     r"the calibration batch holds NaN or infinity"),
    ("NaN in a dict batch", lambda: plan_deployment(_DictModel(), {"x": _nan_batch()}, _config(), "tac"),
     r"the calibration batch holds NaN or infinity"),
    ("non-finite model output", lambda: plan_deployment(_LogModel(), _batch(), _config(), "tac"),
     r"the model's output on the calibration batch holds NaN or infinity with its own weights"),
]


@pytest.mark.parametrize("case", BATCH_CASES, ids=[c[0] for c in BATCH_CASES])
def test_bad_calibration_batches_are_refused_before_any_work(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()


def test_a_dict_batch_still_calibrates():
    plan = plan_deployment(_DictModel(), {"x": _batch()}, _config(), "tac")
    assert plan.layer("linear.weight").gain > 0


# 5. Config fields: wrong types are ValueErrors naming the field; NumPy and Fraction numbers are accepted.

CONFIG_CASES = [
    ("budget a string", lambda: _config(budget_fraction="0.1"), r"budget_fraction must be a real number in \[0, 1\]"),
    ("budget above one", lambda: _config(budget_fraction=1.5), r"budget_fraction must be a probability in \[0, 1\]"),
    ("budget NaN", lambda: _config(budget_fraction=math.nan), r"budget_fraction must be a finite probability"),
    ("p a string", lambda: _config(p="0.1"), r"p must be a real number in \[0, 1\]"),
    ("p NaN", lambda: _config(p=np.float32("nan")), r"p must be a finite probability"),
    ("allocation", lambda: _config(allocation="ilp"), r"allocation must be 'exact' or 'greedy'"),
    ("weight scaling zero", lambda: _config(weight_scaling_target=0), r"weight_scaling_target must lie in \(0, 1\]"),
    ("weight scaling string", lambda: _config(weight_scaling_target="1"), r"weight_scaling_target must be a real"),
    ("seed fractional", lambda: _config(seed=0.5), r"seed must be an integer >= 0, got 0\.5"),
    ("seed negative", lambda: _config(seed=-1), r"seed must be an integer >= 0, got -1"),
    ("storage not a config", lambda: _config(storage={"n_bits": 8}), r"storage must be a StorageConfig"),
    ("calibration not a config", lambda: _config(calibration={"probes": 2}),
     r"calibration must be a CalibrationConfig"),
    ("config not a config", lambda: plan_deployment(_tiny(), _batch(), {"p": 0.1}, "tac"),
     r"config must be a DeploymentConfig"),
    ("model not a module", lambda: plan_deployment(lambda x: x, _batch(), _config(), "tac"),
     r"model must be a torch.nn.Module, got function"),
    ("gains of a non-module", lambda: jacobian_gains(lambda x: x, _batch(), ["w"], FAST),
     r"model must be a torch.nn.Module, got function"),
    ("calibration config", lambda: jacobian_gains(_tiny(), _batch(), ["0.weight"], {"probes": 2}),
     r"config must be a CalibrationConfig"),
    ("probes fractional", lambda: CalibrationConfig(probes=2.5), r"probes must be an integer >= 1, got 2\.5"),
    ("probes zero", lambda: CalibrationConfig(probes=0), r"probes must be an integer >= 1, got 0"),
    ("trials a string", lambda: CalibrationConfig(trials="4"), r"trials must be an integer >= 1, got '4'"),
    ("trials a bool", lambda: CalibrationConfig(trials=True), r"trials must be an integer >= 1, got True"),
    ("probe scale a string", lambda: CalibrationConfig(probe_scale="1e-3"), r"probe_scale must be a finite positive"),
    ("probe scale zero", lambda: CalibrationConfig(probe_scale=0.0), r"probe_scale must be a finite positive"),
    ("probe scale infinite", lambda: CalibrationConfig(probe_scale=math.inf), r"probe_scale must be a finite positive"),
    ("calibration seed", lambda: CalibrationConfig(seed=1.0), r"seed must be an integer >= 0, got 1\.0"),
]


@pytest.mark.parametrize("case", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_fields_of_the_wrong_type_are_refused_by_name(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()


def test_numpy_and_fraction_numbers_are_accepted_as_qtaml_theory_accepts_them():
    model = _tiny()
    reference = plan_deployment(model, _batch(), _config(p=0.1, budget_fraction=0.25), "tac")
    for p in (np.float64(0.1), Fraction(1, 10), sp.Rational(1, 10)):
        assert plan_deployment(model, _batch(), _config(p=p), "tac") == reference
    for fraction in (np.float32(0.25), Fraction(1, 4)):
        assert plan_deployment(model, _batch(), _config(budget_fraction=fraction), "tac") == reference
    single = plan_deployment(model, _batch(), _config(p=np.float32(0.1)), "tac")
    assert single.p == float(np.float32(0.1))
    calibration = CalibrationConfig(probes=np.int64(2), trials=np.int32(1), probe_scale=np.float32(1e-3),
                                    seed=np.int64(0))
    assert (calibration.probes, calibration.trials, calibration.seed) == (2, 1, 0)
    # The budget of an exact fraction is exact: floor(3/10 * 8 * 56) = 134, where 0.3 * 8 * 56 = 134.39999...
    assert plan_deployment(model, _batch(), _config(budget_fraction=Fraction(3, 10)), "tac").budget_bits == 134


# 3. Plans: the schema is checked on load, naming the wrong field; a plan for another model fails on use.

@pytest.fixture(scope="module")
def tiny_plan():
    return plan_deployment(_tiny(), _batch(), _config(), "tac")


def _edited(plan, edit):
    data = json.loads(plan.to_json())
    edit(data)
    return data


def _set(path, value):
    def edit(data):
        *parents, last = path
        for key in parents:
            data = data[key]
        data[last] = value
    return edit


def _delete(key):
    return lambda data: data.pop(key)


PLAN_CASES = [
    ("layers missing", _delete("layers"), r"layers is missing: a plan needs the fields"),
    ("channel missing", _delete("channel"), r"channel is missing"),
    ("bits a string", _set(("layers", 1, "bits"), "2"), r"layers\[1\]\.bits must be an integer in 0\.\.8, got '2'"),
    ("bits fractional", _set(("layers", 0, "bits"), 2.5), r"layers\[0\]\.bits must be an integer in 0\.\.8, got 2\.5"),
    ("bits a bool", _set(("layers", 0, "bits"), True), r"layers\[0\]\.bits must be an integer in 0\.\.8, got True"),
    ("bits above n", _set(("layers", 0, "bits"), 9), r"layers\[0\]\.bits must be an integer in 0\.\.8, got 9"),
    ("factor zero", _set(("layers", 0, "factor"), 0), r"layers\[0\]\.factor must be a finite positive number"),
    ("scale negative", _set(("layers", 0, "scale"), -0.1), r"layers\[0\]\.scale must be a finite positive number"),
    ("scale NaN", _set(("layers", 0, "scale"), math.nan), r"layers\[0\]\.scale must be a finite positive number"),
    ("size zero", _set(("layers", 0, "size"), 0), r"layers\[0\]\.size must be an integer >= 1, got 0"),
    ("size a string", _set(("layers", 0, "size"), "32"), r"layers\[0\]\.size must be an integer >= 1, got '32'"),
    ("gain a string", _set(("layers", 0, "gain"), "1.0"), r"layers\[0\]\.gain must be a finite non-negative number"),
    ("name missing", lambda data: data["layers"][0].pop("name"), r"layers\[0\]\.name is missing"),
    ("name duplicated", _set(("layers", 1, "name"), "0.weight"), r"layers\[1\]\.name '0.weight' appears twice"),
    ("unknown layer field", _set(("layers", 0, "bitz"), 2), r"layers\[0\] has unknown fields \['bitz'\]"),
    ("compensation", _set(("layers", 0, "compensation"), "meen"), r"layers\[0\]\.compensation must be one of"),
    ("layers empty", _set(("layers",), []), r"layers must be a non-empty list"),
    ("layers a dict", _set(("layers",), {}), r"layers must be a non-empty list"),
    ("unknown field", _set(("layer",), []), r"plan has unknown fields \['layer'\]"),
    ("method", _set(("method",), "tak"), r"method must be one of \[.*'tac'.*\], got 'tak'"),
    ("p not the channel's", _set(("p",), 0.2), r"p must be the channel's nominal rate 0\.1, got 0\.2"),
    ("p a string", _set(("p",), "0.1"), r"p must be a finite non-negative number, got '0.1'"),
    ("channel kind", _set(("channel", "kind"), "gaussian"), r"channel\.kind must be one of"),
    ("channel field", lambda data: data["channel"].pop("p"),
     r"a symmetric channel has the fields \['kind', 'p'\]; missing \['p'\]"),
    ("channel p", _set(("channel", "p"), 1.5), r"channel\.p must be a probability in \[0, 1\]"),
    ("channel width", _set(("channel",), {"kind": "per_bit", "rates": [0.1] * 4}),
     r"channel\.rates must have one entry per bit \(length 8\)"),
    ("n_bits a float", _set(("n_bits",), 8.0), r"n_bits must be an integer >= 1, got 8\.0"),
    ("encoding", _set(("encoding",), "gray"), r"encoding must be one of"),
    ("bits_spent", _set(("bits_spent",), 1), r"bits_spent must be the layers' protected bits \(sum of size \* bits"),
    ("over budget", _set(("budget_bits",), 0), r"the layers spend \d+ bits, above budget_bits = 0"),
    ("allocation method", _set(("allocation_method",), "ilp"), r"allocation_method must be one of"),
    ("excluded not strings", _set(("excluded",), {"0.bias": 1}), r"excluded must be an object mapping"),
    ("version", _set(("version",), 99), r"plan version must be 1, got 99"),
]


@pytest.mark.parametrize("case", PLAN_CASES, ids=[c[0] for c in PLAN_CASES])
def test_a_plan_that_fails_its_schema_is_refused_on_load_naming_the_field(tiny_plan, case):
    _, edit, message = case
    data = _edited(tiny_plan, edit)
    with pytest.raises(ValueError, match=message):
        Plan.from_dict(data)
    with pytest.raises(ValueError, match=message):
        Plan.from_json(json.dumps(data))


def test_a_plan_that_is_not_an_object_is_refused():
    with pytest.raises(ValueError, match="plan must be an object"):
        Plan.from_json("[1, 2]")


def test_plans_round_trip_and_load_without_the_excluded_field(tiny_plan):
    assert tiny_plan.excluded == {"0.bias": tiny_plan.excluded["0.bias"], "2.bias": tiny_plan.excluded["2.bias"]}
    assert Plan.from_json(tiny_plan.to_json()) == tiny_plan
    older = json.loads(tiny_plan.to_json())
    del older["excluded"]  # a plan saved before the field existed
    assert Plan.from_dict(older).excluded == {}


def test_a_plan_edited_after_loading_is_checked_again_when_used(tiny_plan):
    plan = Plan.from_json(tiny_plan.to_json())
    plan.layers[0].bits = 2.5
    with pytest.raises(ValueError, match=r"layers\[0\]\.bits must be an integer in 0\.\.8, got 2\.5"):
        protection_for(plan)
    with pytest.raises(ValueError, match=r"layers\[0\]\.bits must be an integer"):
        storage_for(_tiny(), plan)


def test_a_plan_for_another_model_fails_on_use_naming_the_layer(tiny_plan):
    renamed = nn.Sequential()
    renamed.add_module("first", nn.Linear(4, 8))
    renamed.add_module("second", nn.Linear(8, 3))
    with pytest.raises(ValueError, match=r"the plan's layer '0.weight' is not a parameter of the model: the plan was "
                                         r"made for another model \(the model's parameters are \['first.weight'"):
        storage_for(renamed, tiny_plan)
    wider = nn.Sequential(nn.Linear(4, 12), nn.ReLU(), nn.Linear(12, 3))
    with pytest.raises(ValueError, match=r"the plan's layer '0.weight' has 32 weights but the model's parameter has "
                                         r"48 \(shape \(12, 4\)\): the plan was made for another model"):
        storage_for(wider, tiny_plan)


# 6. What storage leaves out is in the plan, with the reason; recurrent weight matrices are stored.

class _Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.rnn = nn.LSTM(4, 3, batch_first=True)
        self.norm = nn.LayerNorm(3)
        self.head = nn.Linear(3, 2)

    def forward(self, x):
        return self.head(self.norm(self.rnn(x)[0][:, -1]))


def test_the_plan_says_which_parameters_were_left_out_and_why():
    model = _Recurrent()
    plan = plan_deployment(model, torch.randn(5, 2, 4, generator=torch.Generator().manual_seed(0)), _config(),
                           "tac")
    stored = [layer.name for layer in plan.layers]
    assert stored == ["rnn.weight_ih_l0", "rnn.weight_hh_l0", "head.weight"]
    assert list(plan.excluded) == ["rnn.bias_ih_l0", "rnn.bias_hh_l0", "norm.weight", "norm.bias", "head.bias"]
    assert all(isinstance(reason, str) and reason for reason in plan.excluded.values())
    assert "bias" in plan.excluded["head.bias"] and "norm" in plan.excluded["norm.weight"].lower()
    assert set(stored) | set(plan.excluded) == {name for name, _ in model.named_parameters()}
    assert Plan.from_json(plan.to_json()).excluded == plan.excluded
