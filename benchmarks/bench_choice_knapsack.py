"""Benchmark (on demand): the exact multiple-choice knapsack at 500 layers x 10 choices.

Run: ``python benchmarks/bench_choice_knapsack.py``. For each instance family
and capacity (a fraction of the way from the cheapest to the dearest
selection), prints the time of :func:`qtaml_theory._choice_knapsack.optimum`
(exact Fractions in, certified optimum out) and its ratio to
``scipy.optimize.milp`` (HiGHS, float data, ``mip_rel_gap=0``) on the same
instance in the same run, and checks that the two objectives agree. (HiGHS
may print lines of its own while it solves.)

Measured (this machine, 2 cores shared with other jobs at a load of 5-6,
best of 3, two runs): 5-20 ms for uncorrelated choices, ties in common cost
units and scheme-like menus; 8-80 ms for equal slopes; 14-60 ms for strongly
correlated choices except at capacity 0.5, 180-480 ms. HiGHS took 47-5400 ms
on the same instances: ratios 0.01-0.28. The objectives agreed exactly or to
2.3e-16 (relative, HiGHS's floats).
"""

import time
from fractions import Fraction

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from qtaml_theory._choice_knapsack import optimum

LAYERS, CHOICES = 500, 10
#: Where the capacity sits between the cheapest and the dearest selection.
CAPACITY_FRACTIONS = (0.1, 0.5, 0.9)
#: Storage overhead (check bits per data bit, times 64) and residual loss of a ten-scheme menu.
MENU_OVERHEAD = (0, 8, 8, 14, 16, 21, 28, 32, 64, 128)
MENU_RESIDUAL = (4**8, 900, 1000, 150, 160, 40, 12, 30, 2, 1)


def uncorrelated(rng):
    costs = rng.integers(0, 1000, (LAYERS, CHOICES))
    losses = rng.integers(0, 10**6, (LAYERS, CHOICES))
    return costs, [[Fraction(int(v), 7) for v in row] for row in losses]


def correlated(rng):
    """Loss falls with cost, plus noise: long hulls, many near-hull choices."""
    costs = rng.integers(1, 1000, (LAYERS, CHOICES))
    losses = 2000 - 2 * costs + rng.integers(0, 100, (LAYERS, CHOICES))
    return costs, [[int(v) for v in row] for row in losses]


def equal_slopes(rng):
    """Every choice on one line of slope -3: a subset-sum in disguise, LP gap from rounding only."""
    costs = rng.integers(0, 100, (LAYERS, CHOICES)) * 8
    return costs, [[int(4000 - 3 * c) for c in row] for row in costs]


def ties(rng):
    """Costs in units of 64 bits, few distinct losses: many ties, duplicates and dominated choices."""
    costs = rng.integers(0, 8, (LAYERS, CHOICES)) * 64
    return costs, [[int(v) for v in row] for row in rng.integers(0, 5, (LAYERS, CHOICES))]


def menu(rng):
    """Real-scheme-like menu: cost = layer size x overhead, loss = size x score x residual."""
    sizes = rng.integers(1, 200, LAYERS) * 64
    scores = rng.integers(1, 10**4, LAYERS)
    costs = np.outer(sizes, MENU_OVERHEAD) // 64
    losses = [[Fraction(int(n) * int(s) * r, 3) for r in MENU_RESIDUAL] for n, s in zip(sizes, scores)]
    return costs, losses


FAMILIES = {
    "uncorrelated": uncorrelated,
    "correlated": correlated,
    "equal slopes": equal_slopes,
    "ties": ties,
    "menu": menu,
}


def with_highs(costs, losses, capacity):
    """Objective of ``scipy.optimize.milp`` (HiGHS) on float data, solved to zero relative gap."""
    layers, choices = costs.shape
    loss = np.array([[float(v) for v in row] for row in losses]).ravel()
    rows = np.repeat(np.arange(layers), choices)
    one_each = csr_array((np.ones(layers * choices), (rows, np.arange(layers * choices))))
    constraints = [
        LinearConstraint(one_each, 1, 1),
        LinearConstraint(costs.ravel()[None, :].astype(float), -np.inf, capacity),
    ]
    result = milp(loss, constraints=constraints, integrality=np.ones(loss.size), bounds=Bounds(0, 1),
                  options={"mip_rel_gap": 0})
    return result.fun


def main(seed=0, repeats=3):
    rng = np.random.default_rng(seed)
    print(f"{LAYERS} layers x {CHOICES} choices; times are the best of {repeats}")
    for name, family in FAMILIES.items():
        costs, losses = family(rng)
        low, high = int(costs.min(axis=1).sum()), int(costs.max(axis=1).sum())
        cost_lists = costs.tolist()
        for fraction in CAPACITY_FRACTIONS:
            capacity = low + int(fraction * (high - low))
            exact = highs = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                selection = optimum(cost_lists, losses, capacity)
                exact = min(exact, time.perf_counter() - start)
                start = time.perf_counter()
                reference = with_highs(costs, losses, capacity)
                highs = min(highs, time.perf_counter() - start)
            value = float(sum(row[j] for row, j in zip(losses, selection)))
            print(f"  {name:13s} capacity at {fraction:.1f}: exact {exact * 1e3:8.1f} ms, "
                  f"HiGHS {highs * 1e3:8.1f} ms, ratio {exact / highs:6.2f}; "
                  f"objectives differ by {abs(value - reference) / max(abs(reference), 1):.1e} (relative)")


if __name__ == "__main__":
    main()
