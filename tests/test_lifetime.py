"""Lifetime planning (issue 16): accuracy against retention time, its crossing, inverse design, the law's proxy.

The SmallCNN digit task of ``tac_fixtures``; few trials (the numbers are checked for structure, monotone trends and
the error paths, not for their Monte Carlo values).
"""

import math

import numpy as np
import pytest
import torch

from qtaml_tac import _lifetime_design
from qtaml_tac.experiments import run_experiments
from qtaml_tac.lifetime import (
    REFERENCE_LIFETIME_S,
    cheapest_protection,
    lifetime_curve,
    longest_refresh,
    proxy_rank_agreement,
    retention_device,
    thickness_for_lifetime,
    thinnest_oxide,
    time_to_accuracy,
)
from qtaml_theory.physics import SECONDS_PER_YEAR, charge_loss_transition
from qtaml_theory.protection import SECDED, Repetition, Unprotected

TIMES = (1.0, 1e8, 100 * SECONDS_PER_YEAR)


@pytest.fixture(scope="module", autouse=True)
def one_thread(digit_task):
    """One torch thread (after the shared model is trained): the tiny CNN's evaluations are fastest so."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def mlc_curve(digit_task):
    model, split = digit_task
    return lifetime_curve(model, split, retention_device("sio2"), TIMES, method="uncompensated", protection=0.0,
                          trials=2, bits_per_cell=2, level_map="gray")


def test_curve_rows_carry_time_and_cells_and_fall_with_time(mlc_curve):
    assert [row["time_s"] for row in mlc_curve] == list(TIMES)
    assert all(row["bits_per_cell"] == 2 and row["level_map"] == "gray" for row in mlc_curve)
    first, last = mlc_curve[0], mlc_curve[-1]
    assert first["accuracy_mean"] == pytest.approx(first["clean_accuracy"], abs=0.02)
    assert last["accuracy_mean"] < 0.9 * first["clean_accuracy"]
    assert first["flip_rate"] < 1e-12 < last["flip_rate"]
    assert first["predicted_deviation"] < last["predicted_deviation"]


def test_time_to_accuracy_brackets_the_crossing(mlc_curve):
    found = time_to_accuracy(mlc_curve, 0.95)
    assert found["time_s"] in TIMES[1:]
    assert found["earliest_s"] <= found["time_s"] <= found["latest_s"]
    assert TIMES[0] <= found["interpolated_s"] <= found["time_s"]
    never = [{**row, "accuracy_mean": 1.0, "ci95": [1.0, 1.0], "clean_accuracy": 1.0} for row in mlc_curve]
    assert time_to_accuracy(never, 0.95)["time_s"] == math.inf


def test_thickness_for_lifetime_keeps_the_escape_probability():
    device = retention_device("sio2")
    thickness = thickness_for_lifetime(device, 1e7, [1e7, 1e9])
    assert thickness[0] == pytest.approx(device.thickness_m, rel=1e-9)
    assert thickness[1] > device.thickness_m
    np.testing.assert_allclose(charge_loss_transition(device.replace(thickness_m=thickness[1]), 1e9, 2),
                               charge_loss_transition(device, 1e7, 2), rtol=1e-6, atol=1e-15)


OPTIONS = {"method": "uncompensated", "protection": 0.0, "trials": 2, "bits_per_cell": 2}


def test_inverse_designs_say_when_nothing_in_range_reaches_the_target(digit_task):
    model, split = digit_task
    device = retention_device("sio2")
    with pytest.raises(ValueError, match="no thickness in thickness_range_m"):
        thinnest_oxide(model, split, device, REFERENCE_LIFETIME_S, 0.95, (3e-9, 4e-9), **OPTIONS)
    with pytest.raises(ValueError, match="no budget in"):
        cheapest_protection(model, split, device, 100 * SECONDS_PER_YEAR, 0.99, budgets=(0.0,), **OPTIONS)
    with pytest.raises(ValueError, match="unknown options"):
        cheapest_protection(model, split, device, 100 * SECONDS_PER_YEAR, 0.99, oxide=1)


def test_cheapest_protection_over_a_menu_returns_the_lowest_overhead_that_passes(digit_task):
    """At one second every choice passes: the cheapest is the plan of least real overhead, whatever the order."""
    model, split = digit_task
    options = {"method": "tac", "trials": 2, "bits_per_cell": 2}
    menu = [Unprotected(), SECDED(1, 64), SECDED(8, 64), Repetition(1), Repetition(8)]
    cheap = cheapest_protection(model, split, retention_device("sio2"), 1.0, 0.9, budgets=(0.3, 0.05), menu=menu,
                                **options)
    assert cheap["budget_fraction"] == 0.05
    assert 0 < cheap["overhead"] <= 0.05
    assert any(scheme != "Unprotected()" for scheme in cheap["protection"])
    with pytest.raises(ValueError, match="no budget in .* of menu .*SECDED"):
        cheapest_protection(model, split, retention_device("sio2"), 100 * SECONDS_PER_YEAR, 0.99, budgets=(0.05,),
                            menu=menu, **options)
    with pytest.raises(ValueError, match="menu must be one of"):
        cheapest_protection(model, split, retention_device("sio2"), 1.0, 0.9, menu="hamming", **options)


@pytest.mark.slow
def test_inverse_designs_find_a_passing_choice(digit_task, monkeypatch):
    monkeypatch.setattr(_lifetime_design, "BISECTION_STEPS", 2)
    model, split = digit_task
    device = retention_device("sio2")
    thin = thinnest_oxide(model, split, device, REFERENCE_LIFETIME_S, 0.95, (4.5e-9, 5.5e-9), **OPTIONS)
    assert 4.5e-9 <= thin["thickness_m"] <= 5.5e-9
    assert thin["row"]["accuracy_mean"] >= 0.95 * thin["row"]["clean_accuracy"]
    refresh = longest_refresh(model, split, device, 100 * SECONDS_PER_YEAR, 0.95, **OPTIONS)
    assert 1.0 <= refresh["refresh_s"] < 100 * SECONDS_PER_YEAR
    assert refresh["row"]["accuracy_mean"] >= 0.95 * refresh["row"]["clean_accuracy"]
    cheap = cheapest_protection(model, split, device, 100 * SECONDS_PER_YEAR, 0.95, budgets=(0.0, 0.2, 0.4),
                                **{**OPTIONS, "method": "uniform_msp"})
    assert cheap["budget_fraction"] in (0.2, 0.4)


def test_proxy_rank_agreement_is_one_for_a_perfect_proxy():
    rows = [{"predicted_deviation": d, "accuracy_mean": 1 - d} for d in (0.1, 0.3, 0.2, 0.5)]
    assert proxy_rank_agreement(rows) == {"spearman": 1.0, "kendall": 1.0, "designs": 4}


@pytest.mark.parametrize("call, match", [
    (lambda m, s: lifetime_curve(m, s, retention_device("sio2"), [-1.0, 2.0]), "times must be"),
    (lambda m, s: lifetime_curve(m, s, retention_device("sio2"), [np.nan]), "times"),
    (lambda m, s: lifetime_curve(m, s, retention_device("sio2"), [1.0, 10.0], refresh_s=100.0),
     r"refresh_s must lie in \(0, 10\] s"),
    (lambda m, s: lifetime_curve(m, s, retention_device("sio2"), [1.0], bits_per_cell=4),
     "bits_per_cell must be an integer in 1..3"),
    (lambda m, s: lifetime_curve(m, s, retention_device("sio2"), [1.0], bits_per_cell=3),
     "n_bits must be a multiple of bits_per_cell = 3"),
    (lambda m, s: lifetime_curve(m, s, retention_device("sio2"), [1.0], level_map="grey"), "level_map must be"),
    (lambda m, s: time_to_accuracy([{"clean_accuracy": 0.9}], 1.5), r"target must lie in \(0, 1\]"),
    (lambda m, s: time_to_accuracy([{"clean_accuracy": 0.9}], 0.0), r"target must lie in \(0, 1\]"),
    (lambda m, s: time_to_accuracy([{"clean_accuracy": 0.9}], 0.95, absolute=True),
     r"target must lie in \(0, 0.9\] \(an accuracy at most the clean accuracy\)"),
    (lambda m, s: thinnest_oxide(m, s, retention_device("sio2"), -1.0), "lifetime_s"),
])
def test_bad_lifetime_input_names_the_argument_and_range(digit_task, call, match):
    with pytest.raises(ValueError, match=match):
        call(*digit_task)


@pytest.mark.slow
def test_the_lifetime_experiment_writes_records_figures_and_table(tmp_path):
    results = run_experiments(["lifetime"], tmp_path, quick=True, trials=2, progress=False)
    points = [r for r in results.records if r.get("faults") == "retention"]
    assert {(r["bits_per_cell"], r["level_map"]) for r in points} == {(1, "gray"), (2, "gray"), (2, "binary")}
    assert all({"time_s", "bits_per_cell", "level_map", "accuracy_mean", "ci95"} <= set(r) for r in points)
    assert any(r.get("quantity") == "proxy_ranking" for r in results.records)
    for name in ("exp_lifetime_accuracy_smallcnn.png", "exp_lifetime_thickness_smallcnn.png",
                 "table_exp_lifetime.tex"):
        assert (tmp_path / name).exists()


def test_refresh_replanning_drift_compensation_and_temperature_shape_the_curve(digit_task):
    model, split = digit_task
    device = retention_device("sio2")
    times = (1e8, 100 * SECONDS_PER_YEAR)
    options = {"method": "uncompensated", "protection": 0.0, "trials": 2, "bits_per_cell": 2, "level_map": "binary"}
    refreshed = lifetime_curve(model, split, device, times, refresh_s=1e8, plan_at="each", compensation="drift",
                               **options)
    assert [row["age_s"] for row in refreshed] == [1e8, 1e8]
    assert refreshed[1]["accuracy_mean"] == refreshed[0]["accuracy_mean"]  # same age, same plan, paired seeds
    hot = lifetime_curve(model, split, device, (1e5,), temperature_k=398.15, **options)
    cool = lifetime_curve(model, split, device, (1e5,), **options)
    assert hot[0]["flip_rate"] > cool[0]["flip_rate"]
