"""Where to spend a budget of ECC-protected bits across layers (Sections 4.2-4.5, A.11-A.13).

Protecting the top ``k_l`` bits of every weight of layer ``l`` leaves the
per-weight variance of Lemma 4.2; weighted by the layer's Jacobian gain
(Lemma 4.3) the expected squared logit error is, up to the common factor
``p(1-p)/3`` (Thm 4.4),

.. math::

    V(k) = \\sum_l N_l s_l \\left(4^{\\,n-k_l} - 1\\right),
    \\qquad s_l = \\Delta_l^2 G_l / N_l ,

to be minimized subject to ``sum_l N_l k_l <= budget_bits`` and
``floors_l <= k_l <= n`` (Thm 4.5). Both the exact form and the leading-order
form ``sum_l N_l s_l 4**(n-k_l)`` come from :mod:`qtaml_theory.derive`; they
differ by the constant ``sum_l N_l s_l``, so they share their minimizers.

:func:`allocate` solves it four ways (``method=``):

``"exact"``
    Certified optimal. Scores are taken exactly as stored (a float is the
    dyadic rational it holds; Fractions as given), the generated costs are
    evaluated exactly, and the problem becomes a knapsack in Python integers:
    one item per (layer, extra bit), whose gains per bit fall by a factor of 4
    along a layer, so every optimum protects a prefix of bits.
    :mod:`qtaml_theory._exact_knapsack` then proves the optimum with no
    floating point: Dantzig's LP bound and the greedy bracket the optimum,
    reduced-cost fixing settles the items that the bracket decides, and an
    exact branch and bound, bounded by the LP relaxation of the layers still
    open, searches the rest. Ties (exactly equal objectives) go to the first
    optimum the search meets, so the result is deterministic. Tested against
    exhaustive enumeration with exact objectives on thousands of random
    instances.
``"greedy"``
    Algorithm 1 Step 2 as the paper writes it: start at the floors and give
    the next bit to the layer with the largest marginal variance reduction
    per bit of cost. *Reading of the ambiguous case*: when the best layer's
    next bit no longer fits in the remaining budget, that layer is set aside
    and the greedy continues with the next best layer that still fits; it
    stops when no layer's next bit fits. Ties go to the lowest layer index.
    With unequal layer sizes this is a knapsack heuristic, not always optimal.
``"continuous"``
    The relaxation ``floors_l <= k_l <= n`` (real ``k_l``), solved with cvxpy and
    checked against the KKT water-filling of A.12 (:func:`water_filling`).
``"uniform"``
    Uniform-MSP: the same ``k`` on every layer, the largest whole ``k`` with
    ``k N <= budget_bits`` (raised to a layer's floor where the floor is
    higher). A budget that is not a whole number of bits per weight leaves
    its remainder unspent.

Real codes, which cost a fraction of a bit and leave a residual law, are
allocated over a menu of schemes by :func:`allocate_protection`
(:mod:`qtaml_theory._protection_allocation`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike

from . import _closed_forms as cf
from . import _exact_knapsack, _protection_allocation
from ._allocation_problem import chains, check_problem, exact_objective, exact_real, rounded
from ._deprecation import renamed_argument
from ._protection_allocation import ProtectionAllocation, allocate_protection, residual_variance

__all__ = [
    "ALLOCATION_METHODS",
    "METHODS",
    "Allocation",
    "allocate",
    "objective",
    "water_filling",
    "saturation_ratio",
    "interior_budget_range",
    "continuous_ratio",
    "integer_ratio",
    "allocate_protection",
    "ProtectionAllocation",
    "residual_variance",
    "PROTECTION_ALLOCATION_METHODS",
]

#: The allocators of :func:`allocate`.
ALLOCATION_METHODS = ("exact", "greedy", "continuous", "uniform")
#: The former name of :data:`ALLOCATION_METHODS`, kept working.
METHODS = ALLOCATION_METHODS
#: The allocators of :func:`allocate_protection` (over a menu of real codes).
PROTECTION_ALLOCATION_METHODS = _protection_allocation.PROTECTION_ALLOCATION_METHODS


@dataclass(frozen=True)
class Allocation:
    """The result of :func:`allocate`.

    Attributes
    ----------
    bits : tuple
        Protected top bits per layer (ints; floats for ``"continuous"``).
    objective : float
        ``sum_l N_l s_l (4**(n-k_l) - 1)`` (Thm 4.4, exact geometric form),
        computed exactly and rounded once (``inf`` beyond the double range).
    leading_objective : float
        ``sum_l N_l s_l 4**(n-k_l)`` (leading order, Sec. 4.5), likewise.
    bits_spent : float
        ``sum_l N_l k_l``.
    budget_bits : float
        The budget used (after capping at ``n N``).
    method : str
    budget_capped : bool
        True when the requested budget exceeded ``n N`` and was capped.
    """

    bits: tuple
    objective: float
    leading_objective: float
    bits_spent: float
    budget_bits: float
    method: str
    budget_capped: bool = False


@renamed_argument("n", "n_bits")
def objective(sizes: ArrayLike, scores: ArrayLike, bits: ArrayLike, n_bits: int, *, leading: bool = False) -> float:
    """``sum_l N_l s_l (4**(n-k_l) - 1)``, or ``sum_l N_l s_l 4**(n-k_l)`` with ``leading=True``.

    The per-layer factors are :func:`qtaml_theory._closed_forms.protection_cost`
    (and ``protection_cost_leading``), generated from :mod:`qtaml_theory.derive`.
    Whole bits are evaluated exactly (scores exactly as stored) and rounded
    once; fractional bits in floats, with the scores scaled by a power of two
    so that large scores do not overflow. Beyond the double range: ``inf``.

    Parameters
    ----------
    sizes, scores : sequence
        As for :func:`allocate`.
    bits : sequence of float
        Protected bits per layer, in ``0..n``.
    n_bits : int
        Bits per weight, in ``1..32`` (formerly ``n``, still accepted as a keyword with a DeprecationWarning).
    leading : bool
    """
    problem = check_problem(sizes, scores, 0, n_bits, None)
    values = list(np.atleast_1d(np.asarray(bits, dtype=object)).reshape(-1))
    exact_bits = [exact_real(value) for value in values]
    if len(values) != problem.sizes.size or any(b is None or not 0 <= b <= problem.n for b in exact_bits):
        raise ValueError(f"bits must be {problem.sizes.size} numbers in 0..{problem.n}, got {values}")
    if all(b.denominator == 1 for b in exact_bits):
        return rounded(exact_objective(problem, exact_bits, leading))
    cost = cf.protection_cost_leading if leading else cf.protection_cost
    exponent = math.frexp(problem.scores.max())[1]
    scaled = np.ldexp(problem.scores, -exponent)
    total = float(np.sum(problem.sizes * scaled * cost(float(problem.n), np.array([float(b) for b in exact_bits]))))
    return rounded(Fraction(total) * Fraction(2) ** exponent)


def _result(problem, bits, method):
    if method == "continuous":
        return Allocation(
            bits=tuple(float(b) for b in bits),
            objective=objective(problem.sizes, problem.scores, bits, problem.n),
            leading_objective=objective(problem.sizes, problem.scores, bits, problem.n, leading=True),
            bits_spent=float(np.dot(problem.sizes.astype(np.float64), bits)),
            budget_bits=problem.budget, method=method, budget_capped=problem.capped,
        )
    bits = [int(b) for b in bits]
    return Allocation(
        bits=tuple(bits),
        objective=rounded(exact_objective(problem, bits)),
        leading_objective=rounded(exact_objective(problem, bits, leading=True)),
        bits_spent=int(np.dot(problem.sizes, bits)),
        budget_bits=problem.budget, method=method, budget_capped=problem.capped,
    )


@renamed_argument("n", "n_bits")
def allocate(sizes: ArrayLike, scores: ArrayLike, budget_bits: float, n_bits: int, floors: ArrayLike | None = None,
             method: str = "exact") -> Allocation:
    """Protected top bits per layer that minimize the output variance of Thm 4.4.

    Parameters
    ----------
    sizes : sequence of int
        Weights per layer ``N_l`` (positive integers; integral floats and
        numpy integers are accepted).
    scores : sequence of float
        Per-weight scores ``s_l = Delta_l**2 G_l / N_l`` up to a common factor
        (finite, ``>= 0``; floats, numpy numbers or Fractions, used exactly
        as given by ``"exact"`` and ``"greedy"``).
    budget_bits : float
        Total protected bits ``B``; the constraint is ``sum_l N_l k_l <= B``.
        Above ``n N`` it is capped (with a warning and ``budget_capped``).
    n_bits : int
        Bits per weight, in ``1..32`` (formerly ``n``, still accepted as a keyword with a DeprecationWarning).
    floors : sequence of int, optional
        Minimum ``k_l`` per layer (Algorithm 1's residual floors), integers in
        ``0..n``.
    method : {"exact", "greedy", "continuous", "uniform"}
        See the module docstring.

    Returns
    -------
    Allocation

    Raises
    ------
    ValueError
        For invalid input, or when the floors alone cost more than the budget
        (Algorithm 1's "insufficient budget"; the message gives the shortfall).

    Examples
    --------
    >>> from qtaml_theory.allocation import allocate
    >>> allocate([100, 10], [1.0, 50.0], budget_bits=300, n_bits=8).bits
    (2, 8)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    problem = check_problem(sizes, scores, budget_bits, n_bits, floors)
    solver = {"exact": _exact, "greedy": _greedy, "continuous": _continuous, "uniform": _uniform}[method]
    return _result(problem, solver(problem), method)


def _greedy(problem):
    weights, ratios, capacity = chains(problem)
    return problem.floors + np.array(_exact_knapsack.greedy(weights, ratios, capacity), dtype=np.int64)


def _exact(problem):
    """Proven optimal allocation (:func:`qtaml_theory._exact_knapsack.optimum`)."""
    weights, ratios, capacity = chains(problem)
    return problem.floors + np.array(_exact_knapsack.optimum(weights, ratios, capacity), dtype=np.int64)


@renamed_argument("n", "n_bits")
def water_filling(sizes: ArrayLike, scores: ArrayLike, budget_bits: float, n_bits: int,
                  floors: ArrayLike | None = None) -> np.ndarray:
    """KKT solution of the continuous relaxation (A.12), by bisection on the water level.

    Interior layers satisfy the water-filling condition ``s_l 4**(-k_l) = const``,
    i.e. ``k_l = c + log_4 s_l``; layers are clipped to ``[floor_l, n]``; a
    zero-score layer stays at its floor. ``c`` solves ``sum_l N_l k_l(c) = B``.

    Returns
    -------
    ndarray of float
    """
    return _water_filling(check_problem(sizes, scores, budget_bits, n_bits, floors))


def _water_filling(problem):
    sizes, scores, budget, n, floors = problem.sizes, problem.scores, problem.budget, problem.n, problem.floors
    positive = scores > 0
    low, high = floors.astype(np.float64), np.full(sizes.size, float(n))
    if not positive.any():
        return low
    log_scores = np.where(positive, np.log(np.where(positive, scores, 1.0)) / np.log(4.0), 0.0)

    def levels(c):
        return np.where(positive, np.clip(c + log_scores, low, high), low)

    def spent(c):
        return float(sizes @ levels(c))

    if spent(n - log_scores[positive].min()) <= budget:
        return levels(n - log_scores[positive].min())
    # Invariant: spending at level lo fits the budget, at hi it does not; return the feasible side.
    lo, hi = -log_scores[positive].max(), n - log_scores[positive].min()
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if spent(mid) <= budget else (lo, mid)
        if hi - lo <= 1e-15 * max(1.0, abs(hi)):
            break
    return levels(lo)


def _continuous(problem):
    """The relaxation solved by cvxpy (exponential cone), checked against :func:`water_filling`."""
    import cvxpy as cp

    sizes, scores, budget, n, floors = problem.sizes, problem.scores, problem.budget, problem.n, problem.floors
    expected = _water_filling(problem)
    positive = scores > 0
    if not positive.any():
        return expected
    k = cp.Variable(sizes.size)
    fractions = sizes / sizes.sum()
    log_weight = np.log(fractions[positive] * scores[positive])
    # log sum_l N_l s_l 4**(n-k_l) is a monotone transform of the objective (same minimizer) and is
    # well conditioned; the constant -1 of the exact form does not move the minimizer either.
    constraints = [k >= floors, k <= n, fractions @ k <= budget / sizes.sum()]
    if (~positive).any():
        constraints.append(k[~positive] == floors[~positive])
    relaxation = cp.Problem(cp.Minimize(cp.log_sum_exp(log_weight + (n - k[positive]) * math.log(4.0))), constraints)
    relaxation.solve(solver=cp.CLARABEL)
    if relaxation.status not in ("optimal", "optimal_inaccurate") or k.value is None:
        raise RuntimeError(f"cvxpy did not solve the continuous relaxation: {relaxation.status}")
    solved = np.clip(np.asarray(k.value, dtype=np.float64), floors, n)
    unit_scores = _unit_scores(scores)
    achieved = objective(sizes, unit_scores, solved, n, leading=True)
    reference = objective(sizes, unit_scores, expected, n, leading=True)
    if not math.isclose(achieved, reference, rel_tol=1e-6):
        raise RuntimeError(f"cvxpy's optimum {achieved} disagrees with the KKT water-filling {reference}")
    return expected


def _unit_scores(scores):
    """Float scores scaled by a power of two so that the largest lies in [0.5, 1) (no overflow downstream)."""
    return np.ldexp(scores, -math.frexp(scores.max())[1])


def _uniform(problem):
    for level in range(problem.n, -1, -1):
        bits = np.maximum(problem.floors, level)
        if problem.sizes @ bits <= problem.budget:
            return bits
    return problem.floors.copy()


def saturation_ratio(sizes: ArrayLike, scores: ArrayLike) -> float:
    """Thm 4.6: ``rho* = Gm / A``, the size-weighted geometric over arithmetic mean of the scores.

    In the interior regime this is TAC's continuous-relaxation output variance
    over Uniform-MSP's at the same budget, whatever the budget; ``rho* <= 1``
    with equality iff all scores are equal (Jensen). A zero score makes
    ``Gm = 0``.

    Parameters
    ----------
    sizes : sequence of int
    scores : sequence of float

    Returns
    -------
    float
    """
    problem = check_problem(sizes, scores, 0, 1, None)
    sizes, scores = problem.sizes, problem.scores
    weights = sizes / sizes.sum()
    arithmetic = float(weights @ scores)
    if arithmetic == 0:
        raise ValueError("scores must not all be zero: the ratio Gm / A is undefined")
    if np.any(scores == 0):
        return 0.0
    return float(np.exp(weights @ np.log(scores))) / arithmetic


@renamed_argument("n", "n_bits")
def interior_budget_range(sizes: ArrayLike, scores: ArrayLike, n_bits: int) -> tuple[float, float]:
    """Budgets per weight ``beta = B / N`` for which every continuous ``k_l*`` lies in ``(0, n)`` (A.12).

    ``k_l* = beta + log_4(s_l / Gm)``; interior iff
    ``-min_l log_4(s_l/Gm) < beta < n - max_l log_4(s_l/Gm)``. Returns
    ``(beta_low, beta_high)``; empty (``low >= high``) when the scores spread
    over more than ``4**n``.
    """
    problem = check_problem(sizes, scores, 0, n_bits, None)
    sizes, scores, n = problem.sizes, problem.scores, problem.n
    if np.any(scores == 0):
        raise ValueError("scores must be positive for an interior regime (a zero score pins its layer at 0)")
    weights = sizes / sizes.sum()
    offsets = (np.log(scores) - weights @ np.log(scores)) / np.log(4.0)
    return float(-offsets.min()), float(n - offsets.max())


@renamed_argument("n", "n_bits")
def continuous_ratio(sizes: ArrayLike, scores: ArrayLike, budget_bits: float, n_bits: int) -> float:
    """TAC's continuous optimum over Uniform-MSP's, leading order, at one budget (A.12's envelope).

    Uniform-MSP here is continuous too (``k_l = B / N`` for all ``l``), so the
    ratio equals :func:`saturation_ratio` in the interior regime and rises
    toward 1 outside it. Scores must not all be zero (the ratio is 0/0).
    """
    problem = check_problem(sizes, scores, budget_bits, n_bits, None)
    if not problem.scores.any():
        raise ValueError("scores must not all be zero: the ratio of two zero objectives is undefined")
    optimum = _water_filling(problem)
    uniform = np.full(problem.sizes.size, problem.budget / problem.sizes.sum())
    unit_scores = _unit_scores(problem.scores)
    return (objective(problem.sizes, unit_scores, optimum, problem.n, leading=True)
            / objective(problem.sizes, unit_scores, uniform, problem.n, leading=True))


@renamed_argument("n", "n_bits")
def integer_ratio(sizes: ArrayLike, scores: ArrayLike, budget_bits: float, n_bits: int) -> float:
    """The measured counterpart of ``rho*``: integer optimum over integer Uniform-MSP, leading order.

    Both at the same budget; meaningful at a whole number of bits per weight,
    where Uniform-MSP spends the whole budget (Table 1 and 8 of the paper).
    Computed exactly and rounded once. Scores must not all be zero.
    """
    problem = check_problem(sizes, scores, budget_bits, n_bits, None)
    if not problem.scores.any():
        raise ValueError("scores must not all be zero: the ratio of two zero objectives is undefined")
    exact, uniform = _exact(problem), _uniform(problem)
    return float(exact_objective(problem, exact, leading=True) / exact_objective(problem, uniform, leading=True))
