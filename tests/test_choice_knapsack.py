"""The multiple-choice knapsack behind ``allocate_protection`` (issue #14): exact, greedy, LP bound."""

import itertools
import random
from fractions import Fraction

import numpy as np
import pytest
from scipy.optimize import Bounds, LinearConstraint, linprog, milp
from scipy.sparse import csr_array

from qtaml_theory import _choice_knapsack as choice_knapsack
from qtaml_theory import _exact_knapsack
from qtaml_theory._choice_knapsack import greedy, lower_bound, optimum

#: Float cross-checks against HiGHS (a sanity check, not the certificate).
REL = 1e-9
BRUTE_FORCE_INSTANCES = 2000


def total(rows, selection):
    return sum(row[j] for row, j in zip(rows, selection))


def brute_force(costs, losses, capacity):
    """Least total loss over every selection that fits (None when none fits)."""
    fitting = (
        total(losses, selection)
        for selection in itertools.product(*(range(len(row)) for row in costs))
        if total(costs, selection) <= capacity
    )
    return min(fitting, default=None)


def random_instance(rng, layers, choices, top_cost=6):
    """Small costs (zeros and duplicates frequent), Fraction losses with ties, capacity between the extremes."""
    costs = [[rng.randint(0, top_cost) for _ in range(rng.randint(1, choices))] for _ in range(layers)]
    losses = [[Fraction(rng.randint(0, 8), rng.randint(1, 3)) for _ in row] for row in costs]
    low, high = sum(map(min, costs)), sum(map(max, costs))
    return costs, losses, rng.randint(low, high + 1)


def test_optimum_matches_brute_force_and_brackets_hold():
    rng = random.Random(14)
    greedy_worse = 0
    for _ in range(BRUTE_FORCE_INSTANCES):
        costs, losses, capacity = random_instance(rng, rng.randint(1, 6), 5)
        best = brute_force(costs, losses, capacity)
        selection = optimum(costs, losses, capacity)
        assert total(costs, selection) <= capacity
        assert total(losses, selection) == best, (costs, losses, capacity, selection)
        quick = greedy(costs, losses, capacity)
        assert total(costs, quick) <= capacity
        assert total(losses, quick) >= best
        greedy_worse += total(losses, quick) > best
        bound, _ = lower_bound(costs, losses, capacity)
        assert bound <= best
    # The instances are hard enough for the greedy to miss the optimum now and then.
    assert greedy_worse > 0


def test_restarted_search_stays_exact(monkeypatch):
    """A node limit of 1 forces a restart on every search: the answer must not change."""
    monkeypatch.setattr(choice_knapsack, "FIRST_NODE_LIMIT", 1)
    rng = random.Random(3)
    for _ in range(300):
        costs, losses, capacity = random_instance(rng, rng.randint(2, 6), 5)
        selection = optimum(costs, losses, capacity)
        assert total(costs, selection) <= capacity
        assert total(losses, selection) == brute_force(costs, losses, capacity)


def test_lower_bound_is_a_feasible_fractional_solution_of_its_value():
    rng = random.Random(7)
    for _ in range(500):
        costs, losses, capacity = random_instance(rng, rng.randint(1, 6), 5)
        bound, solution = lower_bound(costs, losses, capacity)
        assert len(solution) == len(costs)
        assert all(sum(weights.values()) == 1 and min(weights.values()) > 0 for weights in solution)
        assert sum(len(weights) > 1 for weights in solution) <= 1
        assert sum(w * costs[layer][j] for layer, weights in enumerate(solution) for j, w in weights.items()) <= capacity
        assert sum(w * losses[layer][j] for layer, weights in enumerate(solution) for j, w in weights.items()) == bound


def test_lower_bound_is_exact_where_the_relaxation_is_integral():
    # One layer, choices on a convex curve: the relaxation mixes two neighbours.
    bound, solution = lower_bound([[0, 2, 4]], [[8, 2, 0]], 3)
    assert bound == 1
    assert solution == [{1: Fraction(1, 2), 2: Fraction(1, 2)}]
    assert lower_bound([[0, 2, 4]], [[8, 2, 0]], 4) == (0, [{2: 1}])


def test_greedy_is_not_always_optimal():
    # Layer 0's upgrade has the best ratio (10/3) but leaves room for neither
    # of the other two (ratio 3 each); together those two save more.
    costs = [[0, 3], [0, 2], [0, 2]]
    losses = [[10, 0], [6, 0], [6, 0]]
    assert greedy(costs, losses, 4) == [1, 0, 0]
    assert total(losses, greedy(costs, losses, 4)) == 12
    assert optimum(costs, losses, 4) == [0, 1, 1]
    assert total(losses, optimum(costs, losses, 4)) == 10
    # NumPy integers are exact too.
    assert optimum(np.array(costs), np.array(losses), np.int64(4)) == [0, 1, 1]


def test_optimum_takes_choices_above_the_hull():
    # (1, 9) lies above the hull from (0, 10) to (2, 0): the greedy never takes
    # it, yet with capacity 1 it is the optimum.
    costs, losses = [[0, 1, 2]], [[10, 9, 0]]
    assert greedy(costs, losses, 1) == [0]
    assert optimum(costs, losses, 1) == [1]
    assert lower_bound(costs, losses, 1)[0] == 5


def test_ratios_that_round_to_the_same_float_are_ordered_exactly():
    # Layer 1's upgrade saves (2**60 + 1) / 2**60 per bit, layer 0's exactly 1:
    # equal as floats, so a float ordering would fall back to the layer index.
    big = 2**60
    costs, losses = [[0, big], [0, big]], [[big, 0], [big + 1, 0]]
    assert greedy(costs, losses, big) == [0, 1]
    assert optimum(costs, losses, big) == [0, 1]
    assert lower_bound(costs, losses, big) == (big, [{0: 1}, {1: 1}])
    # Ratios beyond the float range are ordered exactly too.
    huge = 10**400
    assert greedy([[0, 1], [0, 1]], [[huge, 0], [2 * huge, 0]], 1) == [0, 1]


def test_dominated_and_duplicate_choices_and_ties_are_settled_deterministically():
    costs = [[3, 1, 1, 5, 0], [2, 2, 0], [4]]
    losses = [[1, 4, 4, 7, Fraction(9, 2)], [1, 1, 5], [0]]
    first = optimum(costs, losses, 8)
    assert first == optimum(costs, losses, 8)
    # Of exact duplicates the first index wins (choice 1 over 2, 0 over 1).
    assert first == [1, 0, 0]
    # The greedy upgrades layer 1 first (ratio 2), then layer 0's hull step
    # from choice 4 to 0 (cost 3) no longer fits; choice 1 is above the hull.
    assert greedy(costs, losses, 8) == [4, 0, 0]
    assert optimum(costs, losses, 9) == [0, 0, 0]
    assert optimum([[2, 2]], [[1, 1]], 5) == [0]
    # Every layer has a single choice; zero costs fit a zero capacity.
    assert optimum([[0], [0]], [[3], [Fraction(1, 3)]], 0) == [0, 0]
    assert optimum([], [], 0) == []
    assert lower_bound([], [], 0) == (0, [])


def test_paper_special_case_matches_the_chain_solver():
    """Protecting the top k bits (Thm 4.4): cost N k, loss N s (4**(n-k) - 1); same optimum as _exact_knapsack."""
    rng = random.Random(45)
    for _ in range(300):
        layers, n = rng.randint(1, 8), rng.randint(1, 5)
        sizes = [rng.randint(1, 20) for _ in range(layers)]
        scores = [rng.randint(0, 5) for _ in range(layers)]
        capacity = rng.randint(0, sum(sizes) * n)
        costs = [[size * k for k in range(n + 1)] for size in sizes]
        losses = [[size * s * (4 ** (n - k) - 1) for k in range(n + 1)] for size, s in zip(sizes, scores)]
        chains = [[3 * s * 4 ** (n - j) for j in range(1, n + 1)] for s in scores]
        counts = _exact_knapsack.optimum(sizes, chains, capacity)
        assert total(losses, optimum(costs, losses, capacity)) == total(losses, counts)
        assert total(losses, greedy(costs, losses, capacity)) == total(
            losses, _exact_knapsack.greedy(sizes, chains, capacity)
        )


def test_collinear_choices_are_a_subset_sum():
    """Every choice on one line: the LP bound never closes, the optimum is the fullest reachable cost."""
    rng = random.Random(1001)
    for _ in range(5):
        costs = [[0] + rng.sample([1000, 1001, 2001, 3000], rng.randint(1, 4)) for _ in range(30)]
        losses = [[10**6 - 5 * c for c in row] for row in costs]
        capacity = rng.randint(20_000, 40_000)
        reachable = {0}
        for row in costs:
            reachable = {total + c for total in reachable for c in row if total + c <= capacity}
        selection = optimum(costs, losses, capacity)
        assert total(costs, selection) == max(reachable)
        assert total(losses, selection) == 30 * 10**6 - 5 * max(reachable)


def highs_problem(costs, losses, capacity):
    layers, choices = costs.shape
    rows = np.repeat(np.arange(layers), choices)
    one_each = csr_array((np.ones(layers * choices), (rows, np.arange(layers * choices))))
    loss = np.array([[float(v) for v in row] for row in losses]).ravel()
    return loss, one_each, costs.ravel().astype(float)


@pytest.mark.parametrize(
    ("family", "fraction"), [("uncorrelated", 0.2), ("correlated", 0.6), ("menu", 0.2), ("menu", 0.6)]
)
def test_large_instance_agrees_with_highs(family, fraction):
    """200 layers x 10 choices: the exact optimum and LP bound against HiGHS in floats (zero MIP gap)."""
    rng = np.random.default_rng(int(fraction * 10) + len(family))
    layers, choices = 200, 10
    if family == "uncorrelated":
        costs = rng.integers(0, 1000, (layers, choices))
        losses = [[Fraction(int(v), 7) for v in row] for row in rng.integers(0, 10**6, (layers, choices))]
    elif family == "correlated":
        costs = rng.integers(1, 1000, (layers, choices))
        losses = (2000 - 2 * costs + rng.integers(0, 100, (layers, choices))).tolist()
    else:
        sizes = rng.integers(1, 200, layers) * 64
        costs = np.outer(sizes, [0, 8, 8, 14, 16, 21, 28, 32, 64, 128]) // 64
        residual = [4**8, 900, 1000, 150, 160, 40, 12, 30, 2, 1]
        losses = [[Fraction(int(n) * int(s) * r, 3) for r in residual] for n, s in zip(sizes, rng.integers(1, 10**4, layers))]
    low, high = int(costs.min(axis=1).sum()), int(costs.max(axis=1).sum())
    capacity = low + int(fraction * (high - low))
    loss, one_each, cost = highs_problem(costs, losses, capacity)
    constraints = [LinearConstraint(one_each, 1, 1), LinearConstraint(cost[None, :], -np.inf, capacity)]
    integer = milp(loss, constraints=constraints, integrality=np.ones(loss.size), bounds=Bounds(0, 1),
                   options={"mip_rel_gap": 0})
    relaxed = linprog(loss, A_ub=cost[None, :], b_ub=[capacity], A_eq=one_each, b_eq=np.ones(layers), bounds=(0, 1))
    selection = optimum(costs.tolist(), losses, capacity)
    assert total(costs.tolist(), selection) <= capacity
    assert float(total(losses, selection)) == pytest.approx(integer.fun, rel=REL, abs=0)
    assert float(lower_bound(costs.tolist(), losses, capacity)[0]) == pytest.approx(relaxed.fun, rel=REL, abs=0)


BAD_INPUTS = [
    (([[1]], [[1], [2]], 3), "one entry per layer"),
    (([[1, 2]], [[1]], 3), r"costs\[0\] and losses\[0\] must have the same length"),
    (([[1], []], [[1], []], 3), "layer 1 offers no choice"),
    (([[1, -2]], [[1, 2]], 3), r"costs\[0\]\[1\] must be an integer >= 0"),
    (([[1, 2.0]], [[1, 2]], 3), r"costs\[0\]\[1\] must be an integer >= 0"),
    (([[1, True]], [[1, 2]], 3), r"costs\[0\]\[1\] must be an integer >= 0"),
    (([[1, 2]], [[1, Fraction(-1, 2)]], 3), r"losses\[0\]\[1\] must be non-negative"),
    (([[1, 2]], [[1, 0.5]], 3), r"losses\[0\]\[1\] must be an exact non-negative rational"),
    (([[1, 2]], [[1, 2]], -1), "capacity must be an integer >= 0"),
    (([[1, 2]], [[1, 2]], 2.5), "capacity must be an integer >= 0"),
    (([[3, 4], [2, 5]], [[1, 0], [1, 0]], 4), "no selection fits.*costs 5 in total, above the capacity 4"),
]


@pytest.mark.parametrize("solver", [optimum, greedy, lower_bound])
@pytest.mark.parametrize(("arguments", "message"), BAD_INPUTS)
def test_bad_input_is_refused_by_name(solver, arguments, message):
    with pytest.raises(ValueError, match=message):
        solver(*arguments)
