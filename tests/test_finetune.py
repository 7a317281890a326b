"""Fault-aware fine-tuning (qtaml_tac.finetune, the paper's conclusion: distribution-matched training).

Each test names the bug it would catch. Monte Carlo checks compare a drawn
perturbation with the law's moments taken by another route (exact
enumeration, :meth:`qtaml_theory.WeightError.mean` / ``var`` with
``method="enumeration"``), seeded, with a bound of ``Z_BOUND`` standard errors
(a two-sided false-alarm rate of about 6e-7 for a Gaussian statistic).
"""

import copy
import math
import os

import numpy as np
import pytest
import torch

import qtaml_tac.finetune as finetune_module
from qtaml_tac import ChannelFaults, DeploymentConfig, Plan, deployed, plan_deployment, protection_for, quantize, storage_for
from qtaml_tac.finetune import NOISES, RANDBET_CLIP_FRACTION, finetune, perturbed_weights
from qtaml_theory import WeightError, get_encoding

#: Standard errors a seeded Monte Carlo statistic may stray (two-sided false alarm ~6e-7 for a Gaussian statistic).
Z_BOUND = 5.0
#: The layer the distribution checks look at: SmallCNN's fc1, 32,768 weights.
LAYER = "fc1.weight"
#: Training examples of the fast runs (4 steps of 64 per epoch).
SUBSET = 256


@pytest.fixture(scope="module")
def task(digit_task):
    model, split = digit_task
    return model, (split.x_train[:SUBSET], split.y_train[:SUBSET]), split


def state(model):
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def assert_same_state(first, second):
    assert first.keys() == second.keys()
    for name in first:
        assert torch.equal(first[name], second[name]), name


def draw(model, noise, p, seed, plan=None, config=None):
    """One step's read-back of ``LAYER`` minus its clean read-back, in float64, and the layer's stored codes and step."""
    config = DeploymentConfig(p=p) if config is None else config
    noisy = perturbed_weights(model, config, noise, plan, torch.Generator().manual_seed(seed))[LAYER]
    clean = perturbed_weights(model, config, "none", plan)[LAYER]
    tensor = (quantize(model) if plan is None else storage_for(model, plan))[LAYER]
    return (noisy.double() - clean.double()).flatten(), tensor.codes.numpy(), tensor.scale / tensor.factor


def enumerated_moments(codes, p, delta, n_bits=8):
    """Per-weight mean and variance of the read-back error by exact enumeration (not the formula route)."""
    encoding = get_encoding("offset_binary", n_bits)
    unique, index = np.unique(codes, return_inverse=True)
    kappa = np.array([WeightError(encoding, int(c), p, delta).cumulants(method="enumeration")[:2] for c in unique],
                     dtype=np.float64)
    return kappa[index, 0], kappa[index, 1]


# -- gradients and the caller's model ------------------------------------------------------------------------

def test_gradients_at_the_readback_reach_the_float_master_weights(task):
    """One SGD step: W_new = W - lr * dL/dW evaluated at the clean read-back (straight through).

    Catches gradients that never reach the master weights (W unchanged), a
    master replaced by its read-back (W_new = W_hat - lr g, off by ~Delta/2),
    and gradients taken at the float weights instead of the read-back.
    """
    model, _, split = task
    inputs, labels = split.x_train[:64], split.y_train[:64]
    lr = 0.5
    expected = copy.deepcopy(model).train()
    storage = quantize(expected)
    storage.write_()
    torch.nn.functional.cross_entropy(expected(inputs), labels).backward()
    storage.restore_()
    result = finetune(model, (inputs, labels), DeploymentConfig(p=0.05), noise="none", lr=lr,
                      optimizer=torch.optim.SGD, progress=False)
    for name, parameter in expected.named_parameters():
        want = parameter.detach() - lr * parameter.grad
        assert torch.allclose(dict(result.model.named_parameters())[name].detach(), want, rtol=1e-5, atol=1e-7), name
    moved = dict(result.model.named_parameters())[LAYER].detach() - dict(model.named_parameters())[LAYER].detach()
    assert float(moved.abs().max()) > 1e-4  # the step is far above the tolerance


def test_the_callers_model_is_untouched_unless_inplace(task):
    """Parameters, buffers (BatchNorm's running statistics) and every module's mode, bit for bit."""
    model, data, _ = task
    trained = copy.deepcopy(model).eval()
    trained.fc1.train()  # a mixed mode comes back exactly
    before, modes = state(trained), [m.training for m in trained.modules()]
    result = finetune(trained, data, DeploymentConfig(p=0.05), noise="law", progress=False)
    assert_same_state(before, state(trained))
    assert [m.training for m in trained.modules()] == modes == [m.training for m in result.model.modules()]
    assert result.model is not trained
    in_place = finetune(trained, data, DeploymentConfig(p=0.05), noise="law", progress=False, inplace=True)
    assert in_place.model is trained
    assert_same_state(state(in_place.model), state(result.model))  # the same run, on the caller's model


# -- the noise kinds -----------------------------------------------------------------------------------------

def test_law_noise_is_the_evaluation_sampler_with_the_plans_protection(task):
    """A step's "law" read-back is the chip evaluate would draw from the same generator state, bit for bit."""
    model, _, split = task
    config = DeploymentConfig(p=0.1, budget_fraction=0.2)
    plan = plan_deployment(model, split.calibration_batch(64), config, "uniform_msp")
    assert plan.bits_spent > 0
    drawn = perturbed_weights(model, config, "law", plan, torch.Generator().manual_seed(7))
    with deployed(storage_for(model, plan), ChannelFaults(config.channel), protection_for(plan),
                  torch.Generator().manual_seed(7)):
        chip = {name: p.detach().clone() for name, p in model.named_parameters() if name in drawn}
    assert drawn.keys() == chip.keys()
    for name in drawn:
        assert torch.equal(drawn[name], chip[name]), name


def test_gaussian_noise_has_zero_mean_and_the_laws_variance(task):
    """Mean and mean square of one draw over fc1 against the enumerated variance, within Z_BOUND standard errors.

    For a Gaussian, the mean square of N draws has standard error var * sqrt(2 / N).
    """
    model, _, _ = task
    p = 0.05
    errors, codes, delta = draw(model, "gaussian", p, seed=11)
    _, variance = enumerated_moments(codes[:1], p, delta)  # the same for every code (Thm A.11)
    size = errors.numel()
    assert abs(float(errors.mean())) < Z_BOUND * math.sqrt(variance[0] / size)
    assert abs(float((errors**2).mean()) - variance[0]) < Z_BOUND * variance[0] * math.sqrt(2 / size)


@pytest.mark.parametrize("noise", ["moments", "law"])
def test_moments_and_law_noise_have_the_laws_mean_per_weight(task, noise):
    """The drift: z = sum w_i (delta_i - m_i) / sqrt(sum w_i**2 v_i) with enumerated m_i, v_i is within Z_BOUND.

    Weighting by the stored value w_i makes z sensitive to the drift's slope
    -2p (Thm 3.2); a zero-mean draw (the "gaussian" kind) fails it by far,
    which the test checks too, so that it can fail.
    """
    model, _, _ = task
    p = 0.1
    errors, codes, delta = draw(model, noise, p, seed=13)
    mean, variance = enumerated_moments(codes, p, delta)
    stored = get_encoding("offset_binary", 8).decode(codes) * delta

    def z(values):
        return float(np.sum(stored * (values.numpy() - mean)) / math.sqrt(np.sum(stored**2 * variance)))

    assert abs(z(errors)) < Z_BOUND
    assert abs(z(draw(model, "gaussian", p, seed=13)[0])) > 3 * Z_BOUND


def test_none_is_the_clean_readback_and_deterministic(task):
    model, data, _ = task
    clean = quantize(model)
    readback = perturbed_weights(model, DeploymentConfig(p=0.1), "none", generator=torch.Generator().manual_seed(1))
    for tensor in clean:
        assert torch.equal(readback[tensor.name], tensor.decode())
    runs = [finetune(model, data, DeploymentConfig(p=0.1), noise="none", seed=seed, progress=False) for seed in (0, 0)]
    assert_same_state(state(runs[0].model), state(runs[1].model))


def test_a_dataloader_is_iterated_once_per_epoch(task):
    model, (inputs, labels), _ = task
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(inputs, labels), batch_size=100)
    report = finetune(model, loader, DeploymentConfig(p=0.05), noise="law", epochs=2, progress=False).rounds[0]
    assert report.steps == 2 * len(loader) and len(report.losses) == 2


def test_randbet_clips_every_stored_layer(task):
    model, data, _ = task
    result = finetune(model, data, DeploymentConfig(p=0.01), noise="randbet", progress=False)
    for tensor in quantize(model):
        bound = RANDBET_CLIP_FRACTION * float(tensor.original.abs().max())
        assert float(dict(result.model.named_parameters())[tensor.name].detach().abs().max()) <= bound


# -- plans and rounds ----------------------------------------------------------------------------------------

def test_rounds_replan_the_finetuned_model_and_report_each_round(task):
    model, data, split = task
    config = DeploymentConfig(p=0.05, budget_fraction=0.1)
    plan = plan_deployment(model, split.calibration_batch(64), config, "tac")
    result = finetune(model, data, config, noise="law", plan=plan, rounds=2, progress=False)
    first, second = result.rounds
    assert (first.round, second.round) == (1, 2) and first.noise == "law"
    assert first.bits_before == tuple(layer.bits for layer in plan.layers)
    assert second.bits_before == first.bits_after
    assert second.bits_after == tuple(layer.bits for layer in result.plan.layers)
    assert first.steps == second.steps == math.ceil(SUBSET / 64) and len(first.losses) == 1
    assert [layer.gain for layer in result.plan.layers] != [layer.gain for layer in plan.layers]  # re-calibrated
    assert [r["round"] for r in result.records()] == [1, 2]


# -- checkpoints ---------------------------------------------------------------------------------------------

class Interrupted(Exception):
    pass


def interrupt_after(monkeypatch, steps):
    """Make the run fail at its ``steps + 1``-th step, as a killed job would."""
    real, calls = finetune_module._step, []

    def step(*args):
        calls.append(1)
        if len(calls) > steps:
            raise Interrupted
        return real(*args)

    monkeypatch.setattr(finetune_module, "_step", step)


def test_a_resumed_run_gives_the_uninterrupted_runs_weights(task, tmp_path, monkeypatch):
    """Interrupted in epoch 2 of 3 (Adam, law noise), resumed from the epoch-1 checkpoint: identical weights."""
    model, data, _ = task
    config = DeploymentConfig(p=0.05)
    arguments = {"noise": "law", "epochs": 3, "seed": 5, "progress": False}
    whole = finetune(model, data, config, checkpoint=tmp_path / "whole.pt", **arguments)
    path = tmp_path / "cut.pt"
    with monkeypatch.context() as patch:
        interrupt_after(patch, 6)  # 4 steps per epoch: the cut falls inside epoch 2
        with pytest.raises(Interrupted):
            finetune(model, data, config, checkpoint=path, **arguments)
    assert torch.load(path, weights_only=True)["epoch"] == 1
    resumed = finetune(model, data, config, checkpoint=path, **arguments)
    assert_same_state(state(whole.model), state(resumed.model))
    assert resumed.rounds == whole.rounds
    again = finetune(model, data, config, checkpoint=path, **arguments)  # finished: nothing left to run
    assert_same_state(state(whole.model), state(again.model))


def test_a_failed_save_leaves_the_previous_checkpoint_whole(task, tmp_path, monkeypatch):
    model, data, _ = task
    path = tmp_path / "run.pt"
    real, calls = os.replace, []

    def failing_replace(source, target):
        calls.append(target)
        if len(calls) == 2:
            raise OSError("disk full")
        return real(source, target)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        finetune(model, data, DeploymentConfig(p=0.05), noise="law", epochs=2, progress=False, checkpoint=path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.pt"]  # no temporary file left
    assert torch.load(path, weights_only=True)["epoch"] == 1  # the first epoch's checkpoint, whole


# -- bad input -----------------------------------------------------------------------------------------------

def other_model_plan():
    other = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    return plan_deployment(other, torch.randn(16, 8), DeploymentConfig(p=0.05), "tac")


def drift_corrected_plan_at(model, batch, p):
    """A mean-correcting plan edited to claim channel p: plan_deployment itself refuses p >= 1/2."""
    data = plan_deployment(model, batch, DeploymentConfig(p=0.1), "mean_only").to_dict()
    data.update(p=p, channel={"kind": "symmetric", "p": p})
    return Plan.from_dict(data)


@pytest.mark.parametrize("case, message", [
    ({"noise": "uniform"}, "noise must be one of"),
    ({"noise": None}, "noise must be one of"),
    ({"epochs": 0}, "epochs must be an integer >= 1"),
    ({"epochs": 1.5}, "epochs must be an integer >= 1"),
    ({"lr": 0.0}, "lr must be a finite number > 0"),
    ({"lr": -1e-3}, "lr must be a finite number > 0"),
    ({"lr": float("nan")}, "lr must be a finite number > 0"),
    ({"train_data": "empty tensors"}, "train_data must hold at least one example"),
    ({"train_data": []}, "train_data must hold at least one example"),
    ({"train_data": "one-shot"}, "train_data must be re-iterable"),
    ({"plan": "another model"}, "plan does not fit the model.*another model"),
    ({"plan": "p = 0.6", "p": 0.6}, "config.p.*p must lie in \\[0, 0.5\\)"),
    ({"plan": "at p = 0.1", "p": 0.2}, "plan was made for the channel"),
    ({"rounds": 2}, "rounds must be 1 without a plan"),
    ({"seed": -1}, "seed must be an integer >= 0"),
], ids=lambda value: str(value)[:40])
def test_bad_input_is_refused_naming_the_argument(task, case, message):
    model, data, split = task
    before = state(model)
    case = dict(case)
    p = case.pop("p", 0.1)
    batch = split.calibration_batch(64)
    plans = {"another model": other_model_plan, "p = 0.6": lambda: drift_corrected_plan_at(model, batch, 0.6),
             "at p = 0.1": lambda: plan_deployment(model, batch, DeploymentConfig(p=0.1), "uncompensated")}
    if isinstance(case.get("plan"), str):
        case["plan"] = plans[case["plan"]]()
    if case.get("train_data") == "empty tensors":
        case["train_data"] = (data[0][:0], data[1][:0])
    if case.get("train_data") == "one-shot":
        case["train_data"] = iter([data])
    train_data = case.pop("train_data", data)
    with pytest.raises(ValueError, match=message):
        finetune(model, train_data, DeploymentConfig(p=p), progress=False, **case)
    assert_same_state(before, state(model))


def test_a_checkpoint_of_another_run_is_refused(task, tmp_path):
    model, data, _ = task
    path = tmp_path / "run.pt"
    finetune(model, data, DeploymentConfig(p=0.05), noise="law", progress=False, checkpoint=path)
    with pytest.raises(ValueError, match="checkpoint .* belongs to another run"):
        finetune(model, data, DeploymentConfig(p=0.05), noise="gaussian", progress=False, checkpoint=path)


# -- the experiment ------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_sweep(tmp_path_factory):
    """The fine-tuning experiment's points at one rate and no ECC (12 points, 2 trials), through the Dask runner."""
    from qtaml_tac.experiments import dask_client
    from qtaml_tac.experiments.runner import Results, run_points
    from qtaml_tac.experiments.sections import finetune_points

    out = tmp_path_factory.mktemp("finetune")
    points = finetune_points(("smallcnn",), (0.1,), (0.0,), epochs=1, rounds=(1,))
    with dask_client() as client:
        records = run_points(points, Results(out), 2, 0, client, progress=False)
    return out, points, records


def test_the_experiments_records_carry_noise_and_round_with_paired_trials(small_sweep):
    from qtaml_tac.experiments.runner import PRETRAINED

    _, points, records = small_sweep
    assert len(records) == len(points) == 12
    assert {(r["noise"], r["round"]) for r in records} == {(PRETRAINED, 0)} | {(noise, 1) for noise in NOISES}
    for faults in ("symmetric", "charge_loss"):
        here = [r for r in records if r["faults"] == faults]
        assert len({r["seed"] for r in here}) == 1 and all(len(r["trial_scores"]) == 2 for r in here)
    fine_tuned = {r["noise"]: r["clean_accuracy"] for r in records if r["faults"] == "symmetric"}
    assert len(set(fine_tuned.values())) > 1  # each kind trained its own model


def test_the_experiments_records_are_identical_on_a_local_cluster(small_sweep, tmp_path):
    """The fine-tuning runs in a worker process, from the shipped model and plan: the same records as in-process."""
    from distributed import Client, LocalCluster

    from qtaml_tac.experiments.runner import Results, run_points

    _, points, records = small_sweep
    symmetric = [p for p in points if p.faults == "symmetric"]
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        remote = run_points(symmetric, Results(tmp_path), 2, 0, client, progress=False)
    assert remote == [r for r in records if r["faults"] == "symmetric"]


def test_the_experiments_finished_points_are_not_recomputed(small_sweep, monkeypatch):
    from qtaml_tac.experiments import dask_client, runner
    from qtaml_tac.experiments.runner import Results, run_points

    out, points, records = small_sweep

    def refuse(*args):
        raise AssertionError("a finished point was recomputed")

    monkeypatch.setattr(runner, "evaluate_point", refuse)
    with dask_client() as client:
        assert run_points(points, Results(out), 2, 0, client, progress=False) == records


def test_the_experiments_rows_figures_and_tables(small_sweep, tmp_path):
    from qtaml_tac.experiments import figures, tables
    from qtaml_tac.experiments.output import save_figure, save_table
    from qtaml_tac.experiments.sections import (
        FINETUNE_NOISES,
        budget_needed,
        budget_saved_rows,
        finetune_accuracy_rows,
    )

    _, _, records = small_sweep
    accuracy = finetune_accuracy_rows(records)
    assert len(accuracy) == 2  # symmetric and charge loss, budget 0, round 1
    for row in accuracy:
        assert row["difference_low"] <= row["law_minus_gaussian"] <= row["difference_high"]
        assert row["law_minus_gaussian"] == pytest.approx(row["law"] - row["gaussian"], abs=1e-12)
    saved = budget_saved_rows(records)
    assert {(r["noise"], r["round"]) for r in saved} == {(noise, int(noise != FINETUNE_NOISES[0])) for noise in FINETUNE_NOISES}
    save_figure(tmp_path, "accuracy", figures.finetune_accuracy(records, FINETUNE_NOISES))
    save_figure(tmp_path, "saved", figures.budget_saved(saved, FINETUNE_NOISES))
    save_table(tmp_path, tables.finetune_accuracy(accuracy, NOISES))
    assert (tmp_path / "accuracy.png").stat().st_size > 1000 and (tmp_path / "table_exp_finetune.tex").exists()
    curve = [{"budget_fraction": 0.0, "accuracy_mean": 0.5}, {"budget_fraction": 0.1, "accuracy_mean": 0.9}]
    assert budget_needed(curve, 0.8) == pytest.approx(0.075, abs=1e-12)
    assert budget_needed(curve, 0.4) == 0.0 and budget_needed(curve, 0.95) is None


@pytest.mark.slow
def test_the_quick_experiment_runs_from_the_command_line(tmp_path):
    from qtaml_tac.experiments.__main__ import main

    assert main(["finetune", "--quick", "--quiet", "--out", str(tmp_path)]) == 0
    for name in ("exp_finetune_accuracy.png", "exp_finetune_budget_saved.png", "table_exp_finetune.tex",
                 "table_exp_finetune_budget.tex"):
        assert (tmp_path / name).stat().st_size > 500
