"""Checked input of the allocation (:mod:`qtaml_theory.allocation`) and its exact objective.

Every check raises :class:`ValueError` naming the argument and its allowed
range. Scores are kept exactly as given (a float is the dyadic rational it
stores), as integers over one common denominator, so that the exact solver
and the exact objective never round.
"""

from __future__ import annotations

import decimal
import functools
import math
import numbers
import sys
import warnings
from fractions import Fraction
from typing import NamedTuple

import numpy as np

from . import _closed_forms as cf
from .validation import MAX_BITS, _as_exact_number, check_bits


class Problem(NamedTuple):
    sizes: np.ndarray  # int64 N_l
    scores: np.ndarray  # float64 s_l
    whole_scores: list  # int: s_l exactly as given is whole_scores[l] / score_denominator
    score_denominator: int
    budget: float
    capacity: int  # whole bits left above the floors' cost
    n: int
    floors: np.ndarray  # int64
    capped: bool


def as_whole(value):
    """The int equal to ``value`` (int, numpy integer, integral float or Fraction), else ``None``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    exact = exact_real(value)
    return int(exact) if exact is not None and exact.denominator == 1 else None


def exact_real(value):
    """``value`` as an exact Fraction (floats exactly as stored), or ``None`` if not a finite real."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        return None
    exact = _as_exact_number(value)
    if exact is not None:
        return Fraction(exact)
    value = float(value)
    return Fraction(value) if math.isfinite(value) else None


def check_problem(sizes, scores, budget_bits, n, floors):
    n = check_bits(n, "n_bits")
    sizes_list = list(np.atleast_1d(np.asarray(sizes, dtype=object)).reshape(-1))
    if not sizes_list:
        raise ValueError("sizes must hold at least one layer")
    whole_sizes = [as_whole(size) for size in sizes_list]
    for size, whole in zip(sizes_list, whole_sizes):
        if whole is None or whole < 1:
            raise ValueError(f"sizes must be positive integers (1 or more), got {size!r}")
    sizes = np.array(whole_sizes, dtype=np.int64)
    whole_scores, score_denominator = check_scores(scores, sizes.size)
    if floors is None:
        floors = np.zeros_like(sizes)
    else:
        floors_list = list(np.atleast_1d(np.asarray(floors, dtype=object)).reshape(-1))
        if len(floors_list) != sizes.size:
            raise ValueError(f"floors must be {sizes.size} integers in 0..{n}, got {len(floors_list)}")
        whole_floors = [as_whole(floor) for floor in floors_list]
        if any(w is None or not 0 <= w <= n for w in whole_floors):
            raise ValueError(f"floors must be integers in 0..{n}, got {floors_list}")
        floors = np.array(whole_floors, dtype=np.int64)
    budget = exact_real(budget_bits)
    if budget is None:
        raise ValueError(f"budget_bits must be a finite number of bits, got {budget_bits!r}")
    floor_cost = int(sizes @ floors)
    if budget < floor_cost:
        raise ValueError(
            f"budget_bits = {budget_bits} is below the floors' cost {floor_cost}: "
            f"insufficient budget, short by {floor_cost - float(budget):g} bits"
        )
    total = int(sizes.sum()) * n
    capped = budget > total
    if capped:
        warnings.warn(f"budget_bits = {budget_bits} exceeds n * N = {total}; capped at {total}", stacklevel=3)
        budget = Fraction(total)
    scores = np.array([float(Fraction(s, score_denominator)) for s in whole_scores], dtype=np.float64)
    return Problem(sizes, scores, whole_scores, score_denominator, float(budget), math.floor(budget) - floor_cost,
                    n, floors, capped)


def check_scores(scores, layers):
    values = list(np.atleast_1d(np.asarray(scores, dtype=object)).reshape(-1))
    if len(values) != layers:
        raise ValueError(f"scores must have one entry per layer ({layers}), got {len(values)}")
    exact = [exact_real(value) for value in values]
    for value, score in zip(values, exact):
        if score is None or score < 0 or abs(score) > _LARGEST_DOUBLE:
            raise ValueError(
                f"scores must be finite and >= 0, at most {sys.float_info.max:.4g} "
                f"(a zero score means the layer needs no protection), got {value!r}"
            )
    denominator = math.lcm(*(score.denominator for score in exact))
    return [score.numerator * (denominator // score.denominator) for score in exact], denominator


_LARGEST_DOUBLE = Fraction(sys.float_info.max)


@functools.cache
def exact_costs(n, leading):
    """The generated per-layer cost at ``k = 0..n``, evaluated exactly (decimal arithmetic with inexact
    results trapped), as whole numbers over one common denominator: ``(numerators, denominator)``."""
    cost = cf.protection_cost_leading if leading else cf.protection_cost
    with decimal.localcontext() as context:
        context.prec = 4 * MAX_BITS
        context.traps[decimal.Inexact] = True
        values = [Fraction(cost(decimal.Decimal(n), decimal.Decimal(k))) for k in range(n + 1)]
    denominator = math.lcm(*(value.denominator for value in values))
    return tuple(value.numerator * (denominator // value.denominator) for value in values), denominator


def exact_objective(problem, bits, leading=False):
    """The objective at whole ``bits`` as an exact Fraction."""
    costs, denominator = exact_costs(problem.n, leading)
    total = sum(int(size) * score * costs[int(k)] for size, score, k in zip(problem.sizes, problem.whole_scores, bits))
    return Fraction(total, denominator * problem.score_denominator)


def rounded(value):
    """A Fraction rounded once to the nearest double; ``inf`` beyond the double range."""
    try:
        return float(value)
    except OverflowError:
        return math.inf


def chains(problem):
    """The knapsack of :mod:`._exact_knapsack` in whole numbers: per layer, the cost of one bit (``N_l / g``),
    the gains per unit cost of its next bits, ``s_l (c(k) - c(k+1))`` times a common denominator, and the
    capacity in units of ``g`` (the common divisor of the sizes)."""
    costs, _ = exact_costs(problem.n, False)
    drops = [costs[k] - costs[k + 1] for k in range(problem.n)]
    ratios = [[score * drop for drop in drops[floor:]] for score, floor in zip(problem.whole_scores, problem.floors)]
    divisor = math.gcd(*(int(size) for size in problem.sizes))
    return [int(size) // divisor for size in problem.sizes], ratios, problem.capacity // divisor
