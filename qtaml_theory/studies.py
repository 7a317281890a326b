"""Measured studies of the allocation: Table 7 (A.13) and the greedy's distance from the optimum.

Both draw random layer configurations from stated distributions with a fixed
seed and return rows of data (the report renders them).

Sampling, for every configuration:

* sizes ``N_l = round(10**U)``, ``U ~ Uniform(2, 5)`` (100 to 100,000 weights);
* scores ``s_l = 10**V``, ``V ~ Uniform(-3, 0)`` (three decades, so the
  interior regime of A.12 is non-empty at ``n = 8``);
* for Table 7 the budget per weight ``beta`` is drawn uniformly inside the
  interior range of A.12 (where Thm 4.6's continuous ratio ``Gm/A`` holds),
  ``B = floor(beta N)``; for the greedy study ``beta ~ Uniform(0.5, n - 0.5)``.
"""

from __future__ import annotations

import math
import sys
from functools import lru_cache

import numpy as np
from tqdm import tqdm

from . import derive
from .allocation import allocate, integer_ratio, interior_budget_range, saturation_ratio

__all__ = ["TABLE7_LAYERS", "random_configuration", "integer_correction_study", "greedy_gap_study"]

#: The layer counts of the paper's Table 7.
TABLE7_LAYERS = (2, 3, 4, 5, 6, 8, 10, 15, 20, 30)


def random_configuration(layers, rng):
    """Sizes and scores drawn as stated in the module docstring."""
    sizes = np.rint(10 ** rng.uniform(2, 5, layers)).astype(np.int64)
    scores = 10 ** rng.uniform(-3, 0, layers)
    return sizes, scores


@lru_cache(maxsize=1)
def _rounding_bound():
    """A.13's symmetric bound as a float, derived once per process (the SymPy solve takes seconds)."""
    return float(derive.integer_rounding_bound())


def integer_correction_study(layer_counts=TABLE7_LAYERS, configs=200, n=8, seed=0, progress=False):
    """Table 7: the worst ratio of the integer optimum to the continuous optimum.

    For each layer count, ``configs`` random configurations at a random interior
    budget; the ratio is of leading-order objectives (Thm 4.6's setting),
    integer ``"exact"`` over ``"continuous"`` at the same budget.

    Parameters
    ----------
    progress : bool
        Show a progress bar (tqdm, on stderr) over the configurations.

    Returns
    -------
    list of dict
        ``layers``, ``configs``, ``worst``, ``median``, ``mean_rho`` (mean
        predicted ``Gm/A``), ``bound`` (A.13's symmetric bound), ``trivial`` (4),
        ``mean_rho_integer`` (mean measured :func:`~qtaml_theory.allocation.integer_ratio`
        at the whole number of bits per weight nearest the middle of the interior
        range) over the ``integer_configs`` configurations that have one.
    """
    bound = _rounding_bound()
    rng = np.random.default_rng(seed)
    rows = []
    bar = tqdm(total=len(layer_counts) * configs, desc="Table 7", unit="config", disable=not progress, file=sys.stderr)
    for layers in layer_counts:
        bar.set_postfix(L=layers)
        ratios, rhos, integer_rhos = [], [], []
        for _ in range(configs):
            sizes, scores = random_configuration(layers, rng)
            low, high = interior_budget_range(sizes, scores, n)
            budget = math.floor(rng.uniform(low, high) * sizes.sum())
            integer = allocate(sizes, scores, budget, n, method="exact")
            relaxed = allocate(sizes, scores, budget, n, method="continuous")
            ratios.append(integer.leading_objective / relaxed.leading_objective)
            rhos.append(saturation_ratio(sizes, scores))
            whole = range(math.ceil(low), math.floor(high) + 1)
            if len(whole):
                integer_rhos.append(integer_ratio(sizes, scores, whole[len(whole) // 2] * int(sizes.sum()), n))
            bar.update()
        rows.append({"layers": layers, "configs": configs, "worst": max(ratios), "median": float(np.median(ratios)),
                     "mean_rho": float(np.mean(rhos)), "bound": bound, "trivial": 4.0,
                     "mean_rho_integer": float(np.mean(integer_rhos)) if integer_rhos else math.nan,
                     "integer_configs": len(integer_rhos)})
    bar.close()
    return rows


#: The allocators whose monotonicity in the budget :func:`greedy_gap_study` measures.
_ALLOCATORS = ("greedy", "exact", "continuous")


def _monotone(allocations):
    """True when no layer's bits ever fall as the budget grows."""
    bits = np.array([a.bits for a in allocations])
    return bool(np.all(np.diff(bits, axis=0) >= 0))


def greedy_gap_study(layer_counts=(3, 10, 30), instances=200, sweeps=20, budgets=25, n=8, seed=0,
                     progress=False):
    """How far Algorithm 1's greedy is from the exact optimum, and whether allocations are monotone in B.

    Parameters
    ----------
    progress : bool
        Show a progress bar (tqdm, on stderr) over the allocations computed.

    Returns
    -------
    list of dict
        ``layers``, ``instances``, ``suboptimal`` (share of instances where the
        greedy's objective exceeds the optimum by more than 1e-12 relative),
        ``max_gap`` and ``median_gap`` (relative excess, the median over the
        suboptimal instances), ``greedy_monotone``, ``exact_monotone`` and
        ``continuous_monotone`` (share of ``sweeps`` instances whose allocation
        never drops a bit as the budget rises over ``budgets`` values; the
        water-filling is monotone by construction, a control for the check).
    """
    rng = np.random.default_rng(seed)
    rows = []
    per_layer_count = 2 * instances + len(_ALLOCATORS) * budgets * sweeps
    bar = tqdm(total=len(layer_counts) * per_layer_count, desc="greedy vs exact", unit="allocation",
               disable=not progress, file=sys.stderr)
    for layers in layer_counts:
        bar.set_postfix(L=layers)
        gaps = []
        for _ in range(instances):
            sizes, scores = random_configuration(layers, rng)
            budget = math.floor(rng.uniform(0.5, n - 0.5) * sizes.sum())
            exact = allocate(sizes, scores, budget, n, method="exact").objective
            greedy = allocate(sizes, scores, budget, n, method="greedy").objective
            gaps.append((greedy - exact) / exact if exact > 0 else 0.0)
            bar.update(2)
        gaps = np.array(gaps)
        worse = gaps[gaps > 1e-12]
        monotone = dict.fromkeys(_ALLOCATORS, 0)
        for _ in range(sweeps):
            sizes, scores = random_configuration(layers, rng)
            grid = np.linspace(0, n * sizes.sum(), budgets).astype(np.int64)
            for method in monotone:
                monotone[method] += _monotone([allocate(sizes, scores, int(b), n, method=method) for b in grid])
            bar.update(len(_ALLOCATORS) * budgets)
        rows.append({"layers": layers, "instances": instances, "suboptimal": worse.size / instances,
                     "max_gap": float(gaps.max()), "median_gap": float(np.median(worse)) if worse.size else 0.0,
                     **{f"{method}_monotone": count / sweeps for method, count in monotone.items()}})
    bar.close()
    return rows
