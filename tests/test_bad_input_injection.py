"""Bad input to qtaml_tac's storage, injection and evaluation, tried as a new user would (issue 12, section 4).

Each case must give a ``ValueError`` naming the argument (or the right
result) and leave the user's model untouched.
"""

import hashlib
import math
from fractions import Fraction

import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import (
    BitRampFaults,
    CellVariationFaults,
    ChannelFaults,
    Chip,
    ClusteredFaults,
    DeploymentConfig,
    LayerVariationFaults,
    StorageConfig,
    deployed,
    evaluate,
    inject_,
    plan_deployment,
    quantize,
    sample_masks,
    select_parameters,
)


def test_storage_config_accepts_numpy_integers_and_one_name():
    config = StorageConfig(n_bits=np.int64(8))
    assert config.n_bits == 8 and type(config.n_bits) is int
    assert StorageConfig(n_bits=np.int64(8)) == StorageConfig()
    assert StorageConfig(names="0.weight").names == ("0.weight",)
    assert select_parameters(nn.Sequential(nn.Linear(2, 2)), StorageConfig(names="0.weight")) == ["0.weight"]


@pytest.mark.parametrize("kwargs, match", [
    ({"n_bits": 8.0}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": np.float64(8)}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": True}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": 40}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": "8"}, r"n_bits must be an integer in 1\.\.16"),
    ({"encoding": ["gray"]}, "encoding must be one of"),
    ({"include_bias": "yes"}, "include_bias must be True or False"),
    ({"include_norm": 1}, "include_norm must be True or False"),
    ({"names": ()}, "names must be one or more parameter names"),
    ({"names": ("a", 3)}, "names must be one or more parameter names"),
    ({"names": 3}, "names must be a parameter name or a sequence"),
    ({"filter_fn": "fc"}, "filter_fn must be a callable"),
])
def test_storage_config_refuses_bad_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StorageConfig(**kwargs)


def test_unknown_names_list_the_available_parameters():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"names not found .*\['0\.weigth'\].*did you mean '0\.weight'.*"
                                         r"available: \['0\.weight', '0\.bias', '2\.weight', '2\.bias'\]"):
        select_parameters(model, StorageConfig(names=("0.weigth", "2.weight")))


def test_integer_weights_are_refused_by_name_and_dtype():
    model = nn.Linear(3, 2)
    model.weight = nn.Parameter(torch.tensor([[3, 1, 0], [2, 2, 1]]), requires_grad=False)
    before = model.weight.clone()
    with pytest.raises(ValueError, match=r"non-floating dtype cannot be stored: weight \(torch\.int64\)"):
        quantize(model)
    with pytest.raises(ValueError, match=r"weight \(torch\.int64\)"):
        select_parameters(model, StorageConfig(names="weight"))
    assert torch.equal(model.weight, before)
    from qtaml_tac.storage import excluded_parameters
    assert "not floating point" in excluded_parameters(model)["weight"]
    kept = StorageConfig(include_bias=True, filter_fn=lambda name, p: p.is_floating_point())
    assert select_parameters(model, kept) == ["bias"]


# --- injection -------------------------------------------------------------------------------------------------


def _storage(rows=40, columns=30):
    torch.manual_seed(1)
    return quantize(nn.Linear(columns, rows))


def test_seeded_draws_are_bit_for_bit_those_of_before_the_seeding_change():
    """Seeded masks, chips and fault models give exactly the masks they gave before (digest taken then)."""
    torch.manual_seed(0)
    model = nn.Linear(300, 200)
    storage = quantize(model)
    digest = hashlib.sha256()
    for faults in (0.1, 1e-3, 0.3, BitRampFaults(0.05), ClusteredFaults(0.01, block=8),
                   CellVariationFaults(0.02, sigma=0.5, seed=3)):
        for protected in (0, 2):
            seeded = sample_masks(storage, faults, {"weight": protected}, torch.Generator().manual_seed(7))
            on_chip = sample_masks(storage, faults, {"weight": protected}, chip=Chip(4))
            digest.update(seeded["weight"].dense().numpy().tobytes())
            digest.update(on_chip["weight"].dense().numpy().tobytes())
    inject_(storage, 0.05, generator=torch.Generator().manual_seed(2))
    digest.update(model.weight.detach().numpy().tobytes())
    assert digest.hexdigest() == "da4b7c86b4405f3b5fd2b818ea3282f0055d76a41eaf8871ea8bd0a903588fa1"


@pytest.mark.parametrize("rate", [0.3, 1e-3])  # the dense and the sparse route
def test_unseeded_draws_follow_torch_global_generator(rate):
    """Without a generator every call draws fresh faults; ``torch.manual_seed`` makes them reproducible.

    Two independent draws over 12,000 bits at p = 1e-3 coincide with probability
    below 1e-4 (each holds a flip with probability 1 - (1 - p)**12000 > 0.99999).
    """
    storage = _storage(400, 30)
    torch.manual_seed(3)
    first = sample_masks(storage, rate)["weight"].dense()
    second = sample_masks(storage, rate)["weight"].dense()
    torch.manual_seed(3)
    again = sample_masks(storage, rate)["weight"].dense()
    assert torch.equal(first, again) and not torch.equal(first, second)
    model = storage.model
    torch.manual_seed(3)
    with deployed(storage, rate):
        in_block = model.weight.detach().clone()
    with deployed(storage, rate):
        next_block = model.weight.detach().clone()
    torch.manual_seed(3)
    inject_(storage, rate)
    assert torch.equal(model.weight.detach(), in_block) and not torch.equal(in_block, next_block)
    storage.restore_()


@pytest.mark.parametrize("generator", [123, np.random.default_rng(0), "seed", torch.Generator().manual_seed(1).seed])
def test_a_generator_must_be_a_torch_generator(generator):
    storage = _storage()
    before = storage.model.weight.detach().clone()
    with pytest.raises(ValueError, match=r"generator must be a torch\.Generator or None.*torch\.Generator\(\)"):
        inject_(storage, 0.1, generator=generator)
    assert torch.equal(storage.model.weight.detach(), before)


def test_protection_per_layer_names_and_chip_are_checked_before_anything_is_written():
    storage = _storage()
    model = storage.model
    before = model.weight.detach().clone()
    cases = [
        (dict(protection={"weigth": 2}), r"protection names parameters that are not stored: \['weigth'\]"),
        (dict(protection={"weight": 2.5}), r"protection\['weight'\] must be an integer in 0\.\.8, got 2\.5"),
        (dict(protection={"weight": True}), r"protection\['weight'\] must be an integer in 0\.\.8"),
        (dict(protection={"weight": -1}), r"protection\['weight'\] must be an integer in 0\.\.8"),
        (dict(chip=3), r"chip must be a qtaml_tac\.Chip"),
        (dict(faults=ChannelFaults(0.1, {"bias": 0.2})), r"per_layer names parameters that are not stored: \['bias'\]"),
        (dict(faults="0.1"), "faults must be a FaultModel, a channel or a flip probability"),
    ]
    for kwargs, match in cases:
        faults = kwargs.pop("faults", 0.1)
        with pytest.raises(ValueError, match=match):
            inject_(storage, faults, generator=torch.Generator(), **kwargs)
        assert torch.equal(model.weight.detach(), before)
    with pytest.raises(ValueError, match=r"names names parameters that are not stored: \['nope'\]"):
        sample_masks(storage, 0.1, names=["nope"])
    assert sample_masks(storage, 0.1, {"weight": np.int64(8)}, torch.Generator())["weight"].dense().count_nonzero() == 0


@pytest.mark.parametrize("p", [np.float32(0.25), np.float64(0.25), Fraction(1, 4), 0.25])
def test_fault_models_accept_the_numbers_qtaml_theory_accepts(p):
    """NumPy and Fraction rates give the very same faults as the float (0.25 is exact in every type)."""
    storage = _storage()
    reference = sample_masks(storage, 0.25, generator=torch.Generator().manual_seed(5))["weight"].dense()
    assert torch.equal(sample_masks(storage, p, generator=torch.Generator().manual_seed(5))["weight"].dense(),
                       reference)
    for model in (BitRampFaults(p, slope=np.float32(0.5)), CellVariationFaults(p, sigma=Fraction(1, 2)),
                  ClusteredFaults(p, block=np.int64(8), fraction=Fraction(1, 5), hot=np.float64(3)),
                  LayerVariationFaults(p, sigma=0.5, seed=np.int64(2))):
        assert model.p == 0.25 and type(model.p) is float
        sample_masks(storage, model, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize("make, match", [
    (lambda: ClusteredFaults(0.1, block=2.5), r"block must be an integer >= 1, got 2\.5"),
    (lambda: ClusteredFaults(0.1, block=0), r"block must be an integer >= 1, got 0"),
    (lambda: ClusteredFaults(0.1, block=True), r"block must be an integer >= 1"),
    (lambda: ClusteredFaults(0.1, fraction=0), r"fraction must be a finite number in \(0, 1\]"),
    (lambda: ClusteredFaults(0.1, fraction=math.nan), r"fraction must be a finite number in \(0, 1\]"),
    (lambda: ClusteredFaults(0.1, hot=0.5), r"hot must be a finite number >= 1"),
    (lambda: ClusteredFaults(0.1, hot=math.inf), r"hot must be a finite number >= 1"),
    (lambda: ClusteredFaults(0.1, hot="10"), r"hot must be a real number >= 1"),
    (lambda: ClusteredFaults(0.1, seed=-1), r"seed must be an integer >= 0, got -1"),
    (lambda: ClusteredFaults(0.1, seed=1.5), r"seed must be an integer >= 0"),
    (lambda: ClusteredFaults(math.nan), r"p must be a finite probability in \[0, 1\]"),
    (lambda: ClusteredFaults("0.1"), r"p must be a real number in \[0, 1\]"),
    (lambda: CellVariationFaults(0.1, sigma=-1), r"sigma must be a finite number >= 0"),
    (lambda: CellVariationFaults(0.1, sigma=math.inf), r"sigma must be a finite number >= 0"),
    (lambda: CellVariationFaults(0.1, sigma=math.nan), r"sigma must be a finite number >= 0"),
    (lambda: LayerVariationFaults(1.5), r"p must be a probability in \[0, 1\]"),
    (lambda: LayerVariationFaults(0.1, seed=np.float64(2)), r"seed must be an integer >= 0"),
    (lambda: BitRampFaults(0.1, slope=math.nan), r"slope must be a finite number in \[-1, 1\]"),
    (lambda: BitRampFaults(0.1, slope=1.5), r"slope must be a finite number in \[-1, 1\]"),
    (lambda: BitRampFaults(True), r"p must be a real number in \[0, 1\]"),
    (lambda: ChannelFaults(0.1, per_layer=[("weight", 0.2)]), r"per_layer must be a \{parameter name: channel\} dict"),
    (lambda: Chip(2.5), r"seed must be an integer >= 0, got 2\.5"),
    (lambda: Chip(-1), r"seed must be an integer >= 0, got -1"),
])
def test_fault_model_fields_are_checked_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# --- evaluation ------------------------------------------------------------------------------------------------


def _bn_model():
    """A model whose train mode differs from its eval mode (BatchNorm statistics, dropout), left in train mode."""
    torch.manual_seed(2)
    model = nn.Sequential(nn.Linear(6, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dropout(0.5), nn.Linear(8, 3))
    with torch.no_grad():
        model[1].running_mean.uniform_(-1, 1)
        model[1].running_var.uniform_(0.5, 2)
    model.train()
    model[4].eval()  # a module the caller left in eval mode comes back so
    return model, torch.randn(32, 6), torch.randint(0, 3, (32,))


def _uniform_plan(model, inputs):
    return plan_deployment(model, inputs, DeploymentConfig(p=0.05, budget_fraction=0.25), method="uniform_msp")


def test_evaluate_runs_in_eval_mode_and_leaves_the_model_bit_exact():
    model, inputs, labels = _bn_model()
    plan = _uniform_plan(model, inputs)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    modes = [module.training for module in model.modules()]
    result = evaluate(model, plan, inputs, labels, trials=3, seed=1)
    assert all(torch.equal(state[key], value) for key, value in model.state_dict().items())
    assert [module.training for module in model.modules()] == modes
    # The scores are those of the model in eval mode: the clean score is the eval-mode accuracy.
    with torch.no_grad():
        eval_accuracy = float((model.eval()(inputs).argmax(-1) == labels).float().mean())
    assert result.clean_score == eval_accuracy
    assert evaluate(model, plan, inputs, labels, trials=3, seed=1).scores == result.scores


@pytest.mark.parametrize("kwargs, match", [
    (dict(trials=2.5), r"trials must be an integer >= 2, got 2\.5"),
    (dict(trials=1), r"trials must be an integer >= 2, got 1"),
    (dict(trials="3"), r"trials must be an integer >= 2"),
    (dict(seed=-1), r"seed must be an integer >= 0, got -1"),
    (dict(progress="yes"), r"progress must be True or False"),
    (dict(inputs=torch.zeros(0, 6)), r"inputs must hold at least one input.*\(0, 6\)"),
    (dict(inputs=torch.full((4, 6), math.nan)), r"inputs holds NaN or infinity"),
    (dict(inputs=torch.zeros(4, 5)), r"the evaluation set does not fit the model"),
    (dict(labels=torch.zeros(31, dtype=torch.long)), r"labels must hold one class index per input: expected "
                                                      r"shape \(32,\), got \(31,\)"),
    (dict(labels=torch.zeros(32, 1, dtype=torch.long)), r"expected shape \(32,\), got \(32, 1\)"),
    (dict(labels=torch.zeros(32)), r"labels must be integer class indices, got dtype torch\.float32"),
    (dict(labels=torch.full((32,), 3)), r"labels must be class indices in 0\.\.2 .*got values in 3\.\.3"),
])
def test_evaluate_refuses_bad_input_by_name(kwargs, match):
    model, inputs, labels = _bn_model()
    plan = _uniform_plan(model, inputs)
    state = {key: value.clone() for key, value in model.state_dict().items()}
    arguments = dict(inputs=inputs, labels=labels, trials=2) | kwargs
    with pytest.raises(ValueError, match=match):
        evaluate(model, plan, arguments.pop("inputs"), arguments.pop("labels"), **arguments)
    assert all(torch.equal(state[key], value) for key, value in model.state_dict().items())
    assert model.training


def test_evaluate_accepts_numpy_integers_and_label_arrays():
    model, inputs, labels = _bn_model()
    plan = _uniform_plan(model, inputs)
    reference = evaluate(model, plan, inputs, labels, trials=2, seed=3)
    again = evaluate(model, plan, inputs, labels.numpy(), trials=np.int64(2), seed=np.int64(3))
    assert again.scores == reference.scores and again.trials == 2


def test_evaluate_progress_is_a_tqdm_bar_on_stderr_and_never_in_the_result(capsys):
    model, inputs, labels = _bn_model()
    plan = _uniform_plan(model, inputs)
    quiet = evaluate(model, plan, inputs, labels, trials=3, seed=1)
    assert capsys.readouterr().err == ""
    shown = evaluate(model, plan, inputs, labels, trials=3, seed=1, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and "3/3" in captured.err and "trial" in captured.err and "uniform_msp" in captured.err
    assert shown == quiet


def test_embedding_quality_checks_trials_and_seed_first():
    from qtaml_tac.zoo.minilm import embedding_quality

    with pytest.raises(ValueError, match=r"trials must be an integer >= 1, got 2\.5"):
        embedding_quality(nn.Linear(2, 2), None, None, trials=2.5)
    with pytest.raises(ValueError, match=r"seed must be an integer >= 0, got -3"):
        embedding_quality(nn.Linear(2, 2), None, None, seed=-3)


def test_quantize_checks_factors_and_channels_by_name():
    model = nn.Linear(4, 3)
    with pytest.raises(ValueError, match=r"factors names parameters that are not stored: \['bias'\]"):
        quantize(model, factors={"bias": 1.1})
    with pytest.raises(ValueError, match=r"channels names parameters that are not stored: \['wieght'\]"):
        quantize(model, channels={"wieght": 0.1})
    for bad in (0, -1.0, math.nan, math.inf, "2"):
        with pytest.raises(ValueError, match=r"factors\['weight'\] must be a finite positive number"):
            quantize(model, factors={"weight": bad})
    exact = quantize(model, factors={"weight": Fraction(5, 4)})["weight"]
    assert exact.factor == 1.25 and torch.equal(exact.codes, quantize(model, factors={"weight": 1.25})["weight"].codes)
