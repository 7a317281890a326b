"""Bit-budget allocation (Thm 4.4-4.6, A.12, A.13): exact, greedy, continuous, uniform."""

import itertools
import math
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from qtaml_theory import derive
from qtaml_theory.allocation import (
    allocate,
    continuous_ratio,
    interior_budget_range,
    objective,
    saturation_ratio,
    water_filling,
)
from qtaml_theory.studies import greedy_gap_study, integer_correction_study

REL = 1e-9


def brute_force(sizes, scores, budget, n, floors):
    best = math.inf
    for bits in itertools.product(*[range(f, n + 1) for f in floors]):
        if np.dot(sizes, bits) <= budget:
            best = min(best, objective(sizes, scores, bits, n))
    return best


@st.composite
def problems(draw):
    layers = draw(st.integers(1, 4))
    n = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 30), min_size=layers, max_size=layers))
    scores = draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 1e3)), min_size=layers, max_size=layers))
    floors = draw(st.lists(st.integers(0, n), min_size=layers, max_size=layers))
    floor_cost = int(np.dot(sizes, floors))
    budget = draw(st.integers(floor_cost, n * sum(sizes)))
    return sizes, scores, budget, n, floors


@given(problems())
def test_exact_equals_brute_force(problem):
    sizes, scores, budget, n, floors = problem
    result = allocate(sizes, scores, budget, n, floors, method="exact")
    optimum = brute_force(sizes, scores, budget, n, floors)
    assert result.objective == pytest.approx(optimum, rel=REL, abs=1e-12)


@given(problems())
def test_every_method_respects_floors_budget_and_the_objective_order(problem):
    sizes, scores, budget, n, floors = problem
    results = {m: allocate(sizes, scores, budget, n, floors, method=m)
               for m in ("exact", "greedy", "continuous", "uniform")}
    for result in results.values():
        assert all(f <= k <= n for f, k in zip(floors, result.bits))
        assert result.bits_spent <= budget * (1 + 1e-12)
        assert result.objective == pytest.approx(objective(sizes, scores, result.bits, n))
    tolerance = 1e-9 * max(1.0, results["exact"].objective)
    assert results["continuous"].objective <= results["exact"].objective + 1e-6 * max(1.0, results["exact"].objective)
    assert results["exact"].objective <= results["greedy"].objective + tolerance
    assert results["exact"].objective <= results["uniform"].objective + tolerance


def test_greedy_is_suboptimal_on_unequal_layers():
    """A knapsack case: the greedy's best-ratio bit blocks a better combination."""
    sizes, scores, budget = [10, 6, 6], [1.0, 0.9, 0.9], 12
    greedy = allocate(sizes, scores, budget, 1, method="greedy")
    exact = allocate(sizes, scores, budget, 1, method="exact")
    assert greedy.bits == (1, 0, 0) and exact.bits == (0, 1, 1)
    assert exact.objective < greedy.objective


def test_greedy_follows_algorithm_1_step_2_and_skips_layers_that_no_longer_fit():
    # Layer 0 has the best ratio but its next bit (10 weights) no longer fits after two bits; layer 1's does.
    result = allocate([10, 3], [1.0, 1e-3], budget_bits=23, n=4, method="greedy")
    assert result.bits == (2, 1)


def test_uniform_protects_the_largest_whole_k_and_leaves_the_remainder():
    result = allocate([100, 50], [1.0, 1.0], budget_bits=350, n=8, method="uniform")
    assert result.bits == (2, 2) and result.bits_spent == 300


def test_continuous_interior_solution_is_the_closed_form_water_filling():
    sizes, scores, n = np.array([400, 3000, 120]), np.array([0.5, 0.01, 0.2]), 8
    low, high = interior_budget_range(sizes, scores, n)
    beta = 0.5 * (low + high)
    budget = beta * sizes.sum()
    weights = sizes / sizes.sum()
    gm = np.exp(weights @ np.log(scores))
    expected = beta + np.log(scores / gm) / np.log(4)
    result = allocate(sizes, scores, budget, n, method="continuous")
    np.testing.assert_allclose(result.bits, expected, rtol=1e-10)
    np.testing.assert_allclose(water_filling(sizes, scores, budget, n), expected, rtol=1e-10)


def test_saturation_ratio_is_gm_over_a_and_budget_independent_in_the_interior():
    sizes, scores, n = np.array([400, 3000, 120, 999]), np.array([0.5, 0.01, 0.2, 0.05]), 8
    weights = sizes / sizes.sum()
    rho = saturation_ratio(sizes, scores)
    assert rho == pytest.approx(np.exp(weights @ np.log(scores)) / (weights @ scores), rel=1e-14)
    low, high = interior_budget_range(sizes, scores, n)
    for beta in np.linspace(low + 0.01, high - 0.01, 7):
        assert continuous_ratio(sizes, scores, beta * sizes.sum(), n) == pytest.approx(rho, rel=1e-9)
    outside = [continuous_ratio(sizes, scores, b * sizes.sum(), n) for b in (high + 0.5, high + 1.5, n - 0.01)]
    assert all(rho < r <= 1 for r in outside)
    assert outside == sorted(outside)


def test_saturation_ratio_is_one_for_equal_scores_and_below_one_otherwise():
    assert saturation_ratio([5, 7, 9], [0.3, 0.3, 0.3]) == pytest.approx(1.0)
    assert saturation_ratio([5, 7, 9], [0.3, 0.1, 0.3]) < 1
    assert saturation_ratio([5, 7], [0.0, 1.0]) == 0.0


def test_objective_factors_come_from_the_derivation():
    bits = np.array([0, 3, 8])
    sizes, scores = np.array([2, 3, 4]), np.array([1.0, 0.5, 0.25])
    exact = sum(N * s * float(derive.protection_cost().subs({derive.n: 8, derive.k: int(k)}))
                for N, s, k in zip(sizes, scores, bits))
    assert objective(sizes, scores, bits, 8) == pytest.approx(exact, rel=1e-15)
    assert objective(sizes, scores, bits, 8, leading=True) - objective(sizes, scores, bits, 8) == pytest.approx(
        sizes @ scores)


def test_integer_correction_study_respects_the_trivial_bound_and_tightens_with_layers():
    rows = integer_correction_study(layer_counts=(2, 30), configs=30, seed=1)
    assert rows[0]["bound"] == pytest.approx(3 * 4 ** (1 / 3) / (math.e * math.log(4)))
    for row in rows:
        assert 1 <= row["median"] <= row["worst"] <= 4
    assert rows[1]["worst"] < rows[0]["worst"]


def test_greedy_gap_study_finds_the_greedy_suboptimal_sometimes():
    (row,) = greedy_gap_study(layer_counts=(10,), instances=30, sweeps=2, seed=2)
    assert 0 < row["suboptimal"] <= 1 and row["max_gap"] > 0
    assert 0 <= row["greedy_monotone"] <= 1 and 0 <= row["exact_monotone"] <= 1
    assert row["continuous_monotone"] == 1.0


def test_budget_above_the_total_is_capped_and_said():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = allocate([10, 10], [1.0, 2.0], budget_bits=1000, n=4)
    assert result.budget_capped and result.budget_bits == 80 and result.bits == (4, 4)
    assert any("capped" in str(w.message) for w in caught)


INVALID = [
    ("size zero", dict(sizes=[0, 3]), r"sizes must be positive integers"),
    ("size fractional", dict(sizes=[2.5, 3]), r"sizes must be positive integers"),
    ("negative score", dict(scores=[-1.0, 1.0]), r"scores must be finite and >= 0"),
    ("infinite score", dict(scores=[math.inf, 1.0]), r"scores must be finite and >= 0"),
    ("score count", dict(scores=[1.0]), r"scores must have one entry per layer"),
    ("floor above n", dict(floors=[9, 0]), r"floors must be integers in 0\.\.8"),
    ("floor negative", dict(floors=[-1, 0]), r"floors must be integers in 0\.\.8"),
    ("budget below floors", dict(floors=[2, 2], budget_bits=10), r"short by 10 bits"),
    ("budget NaN", dict(budget_bits=math.nan), r"budget_bits must be a finite number"),
    ("n zero", dict(n=0), r"n must be an integer in 1\.\.32"),
    ("method", dict(method="lagrange"), r"method must be one of"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_bad_input_raises_value_error(case):
    _, override, message = case
    arguments = dict(sizes=[5, 5], scores=[1.0, 2.0], budget_bits=20, n=8, floors=None, method="exact")
    arguments.update(override)
    with pytest.raises(ValueError, match=message):
        allocate(**arguments)
