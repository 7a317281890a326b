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
    Provably optimal: the integer program as a mixed-integer linear program
    over one binary per (layer, extra bit), solved by HiGHS branch and bound
    with zero optimality gap. Because each layer's gains per bit fall by a
    factor of 4 from one bit to the next, every optimum protects a prefix of
    bits, so no ordering constraints are needed.
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
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import sys
import warnings
from dataclasses import dataclass

import numpy as np

from . import _closed_forms as cf
from ._validation import check_bits

__all__ = [
    "METHODS",
    "Allocation",
    "allocate",
    "objective",
    "water_filling",
    "saturation_ratio",
    "interior_budget_range",
    "continuous_ratio",
    "integer_ratio",
]

METHODS = ("exact", "greedy", "continuous", "uniform")


@dataclass(frozen=True)
class Allocation:
    """The result of :func:`allocate`.

    Attributes
    ----------
    bits : tuple
        Protected top bits per layer (ints; floats for ``"continuous"``).
    objective : float
        ``sum_l N_l s_l (4**(n-k_l) - 1)`` (Thm 4.4, exact geometric form).
    leading_objective : float
        ``sum_l N_l s_l 4**(n-k_l)`` (leading order, Sec. 4.5).
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


def _check_problem(sizes, scores, budget_bits, n, floors):
    n = check_bits(n)
    sizes_list = list(np.atleast_1d(np.asarray(sizes, dtype=object)))
    if not sizes_list:
        raise ValueError("sizes must hold at least one layer")
    for size in sizes_list:
        if isinstance(size, bool) or not isinstance(size, numbers.Integral) and not (
            isinstance(size, float) and size.is_integer()
        ) or size < 1:
            raise ValueError(f"sizes must be positive integers, got {size!r}")
    sizes = np.array([int(s) for s in sizes_list], dtype=np.int64)
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    if scores.shape != sizes.shape:
        raise ValueError(f"scores must have one entry per layer ({sizes.size}), got {scores.size}")
    if not np.all(np.isfinite(scores)) or np.any(scores < 0):
        raise ValueError("scores must be finite and >= 0 (a zero score means the layer needs no protection)")
    if floors is None:
        floors = np.zeros_like(sizes)
    else:
        floors = np.asarray(floors)
        if floors.shape != sizes.shape or not np.issubdtype(floors.dtype, np.integer):
            raise ValueError(f"floors must be {sizes.size} integers in 0..{n}")
        if np.any(floors < 0) or np.any(floors > n):
            raise ValueError(f"floors must be integers in 0..{n}, got {floors.tolist()}")
        floors = floors.astype(np.int64)
    if isinstance(budget_bits, bool) or not isinstance(budget_bits, numbers.Real) or not math.isfinite(budget_bits):
        raise ValueError(f"budget_bits must be a finite number of bits, got {budget_bits!r}")
    floor_cost = int(sizes @ floors)
    if budget_bits < floor_cost:
        raise ValueError(
            f"budget_bits = {budget_bits} is below the floors' cost {floor_cost}: "
            f"insufficient budget, short by {floor_cost - budget_bits} bits"
        )
    total = int(sizes.sum()) * n
    capped = budget_bits > total
    if capped:
        warnings.warn(f"budget_bits = {budget_bits} exceeds n * N = {total}; capped at {total}", stacklevel=3)
        budget_bits = total
    return sizes, scores, float(budget_bits), n, floors, capped


def objective(sizes, scores, bits, n, *, leading=False):
    """``sum_l N_l s_l (4**(n-k_l) - 1)``, or ``sum_l N_l s_l 4**(n-k_l)`` with ``leading=True``.

    The per-layer factors are :func:`qtaml_theory._closed_forms.protection_cost`
    (and ``protection_cost_leading``), generated from :mod:`qtaml_theory.derive`.
    """
    sizes = np.asarray(sizes, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    bits = np.asarray(bits, dtype=np.float64)
    cost = cf.protection_cost_leading if leading else cf.protection_cost
    return float(np.sum(sizes * scores * cost(float(n), bits)))


def _result(sizes, scores, bits, n, budget, method, capped):
    bits_array = np.asarray(bits, dtype=np.float64)
    as_ints = method != "continuous"
    return Allocation(
        bits=tuple(int(b) for b in bits) if as_ints else tuple(float(b) for b in bits),
        objective=objective(sizes, scores, bits_array, n),
        leading_objective=objective(sizes, scores, bits_array, n, leading=True),
        bits_spent=float(np.dot(sizes.astype(np.float64), bits_array)) if not as_ints else int(np.dot(sizes, bits)),
        budget_bits=budget,
        method=method,
        budget_capped=capped,
    )


def allocate(sizes, scores, budget_bits, n, floors=None, method="exact"):
    """Protected top bits per layer that minimize the output variance of Thm 4.4.

    Parameters
    ----------
    sizes : sequence of int
        Weights per layer ``N_l`` (positive integers).
    scores : sequence of float
        Per-weight scores ``s_l = Delta_l**2 G_l / N_l`` up to a common factor
        (finite, ``>= 0``).
    budget_bits : float
        Total protected bits ``B``; the constraint is ``sum_l N_l k_l <= B``.
        Above ``n N`` it is capped (with a warning and ``budget_capped``).
    n : int
        Bits per weight.
    floors : sequence of int, optional
        Minimum ``k_l`` per layer (Algorithm 1's residual floors), in ``0..n``.
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
    >>> allocate([100, 10], [1.0, 50.0], budget_bits=300, n=8).bits
    (2, 8)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    sizes, scores, budget, n, floors, capped = _check_problem(sizes, scores, budget_bits, n, floors)
    solver = {"exact": _exact, "greedy": _greedy, "continuous": _continuous, "uniform": _uniform}[method]
    bits = solver(sizes, scores, budget, n, floors)
    return _result(sizes, scores, bits, n, budget, method, capped)


def _gains(scores, n):
    """Variance reduction per bit of cost of each layer's next bit, ``s_l 3 4**(n-k-1)``, per k."""
    k = np.arange(n, dtype=np.float64)
    drop = cf.protection_cost(float(n), k) - cf.protection_cost(float(n), k + 1)
    return scores[:, None] * drop[None, :]


def _greedy(sizes, scores, budget, n, floors):
    bits = floors.copy()
    remaining = budget - float(sizes @ floors)
    per_bit = _gains(scores, n)
    active = bits < n
    while True:
        fits = active & (sizes <= remaining)
        if not fits.any():
            return bits
        candidates = np.flatnonzero(fits)
        best = candidates[np.argmax(per_bit[candidates, bits[candidates]])]
        bits[best] += 1
        remaining -= sizes[best]
        active[best] = bits[best] < n


def _exact(sizes, scores, budget, n, floors):
    """Optimal integer allocation: reduced-cost fixing, then a zero-gap MILP on the rest (HiGHS).

    Each extra bit ``(l, j)`` (from ``j`` to ``j + 1`` protected bits) is a
    knapsack item of weight ``N_l`` and gain ``N_l s_l 3 4**(n-j-1)``. With
    ``UB`` the LP-relaxation optimum, ``lambda`` its critical gain per bit and
    ``LB`` the gain of the greedy allocation (feasible), an item whose reduced
    cost ``|g - lambda w|`` exceeds ``UB - LB`` takes the same value in every
    optimum (LP duality), so it is fixed; only the remaining core goes to
    branch and bound.
    """
    from scipy.optimize import Bounds, LinearConstraint, milp

    layer, level = np.nonzero(np.arange(n)[None, :] >= floors[:, None])
    if layer.size == 0:
        return floors.copy()
    gains = _gains(scores, n)[layer, level] * sizes[layer]
    weights = sizes[layer].astype(np.float64)
    capacity = budget - float(sizes @ floors)
    greedy = _greedy(sizes, scores, budget, n, floors)
    lower = float(gains[level < greedy[layer]].sum())
    upper, critical = _knapsack_lp_bound(gains, weights, capacity)
    reduced = gains - critical * weights
    slack = upper - lower + 1e-9 * max(upper, 1e-300)
    fixed_in, fixed_out = reduced > slack, -reduced > slack
    core = ~(fixed_in | fixed_out)
    chosen = fixed_in.astype(np.int64)
    if core.any():
        scale = gains[core].max() if gains[core].max() > 0 else 1.0
        with _silenced_native_stdout():
            result = milp(
                c=-gains[core] / scale,
                integrality=np.ones(int(core.sum())),
                bounds=Bounds(0, 1),
                constraints=LinearConstraint(weights[core][None, :], -np.inf, capacity - weights[fixed_in].sum()),
                options={"mip_rel_gap": 0.0},
            )
        if result.status != 0:
            raise RuntimeError(f"HiGHS did not solve the allocation: {result.message}")
        chosen[core] = np.rint(result.x).astype(np.int64)
    extra = np.bincount(layer, weights=chosen, minlength=sizes.size).astype(np.int64)
    return floors + extra


@contextlib.contextmanager
def _silenced_native_stdout():
    """Send file descriptor 1 to /dev/null for the duration (the HiGHS MIP solver in some SciPy
    releases prints a stray debug line from C++ that no option turns off)."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as sink:
            os.dup2(sink.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _knapsack_lp_bound(gains, weights, capacity):
    """Optimum of the LP relaxation of a 0-1 knapsack and its critical ratio (Dantzig)."""
    order = np.argsort(-gains / weights, kind="stable")
    filled = np.cumsum(weights[order])
    whole = int(np.searchsorted(filled, capacity, side="right"))
    if whole == order.size:
        return float(gains.sum()), 0.0
    taken = float(gains[order[:whole]].sum())
    room = capacity - (filled[whole - 1] if whole else 0.0)
    critical = gains[order[whole]] / weights[order[whole]]
    return taken + room * critical, float(critical)


def water_filling(sizes, scores, budget_bits, n, floors=None):
    """KKT solution of the continuous relaxation (A.12), by bisection on the water level.

    Interior layers satisfy the water-filling condition ``s_l 4**(-k_l) = const``,
    i.e. ``k_l = c + log_4 s_l``; layers are clipped to ``[floor_l, n]``; a
    zero-score layer stays at its floor. ``c`` solves ``sum_l N_l k_l(c) = B``.

    Returns
    -------
    ndarray of float
    """
    sizes, scores, budget, n, floors, _ = _check_problem(sizes, scores, budget_bits, n, floors)
    return _water_filling(sizes, scores, budget, n, floors)


def _water_filling(sizes, scores, budget, n, floors):
    positive = scores > 0
    low, high = floors.astype(np.float64), np.full(sizes.size, float(n))
    if not positive.any():
        return low
    log_scores = np.where(positive, np.log(np.where(positive, scores, 1.0)) / np.log(4.0), 0.0)

    def levels(c):
        return np.where(positive, np.clip(c + log_scores, low, high), low)

    spent = lambda c: float(sizes @ levels(c))  # noqa: E731
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


def _continuous(sizes, scores, budget, n, floors):
    """The relaxation solved by cvxpy (exponential cone), checked against :func:`water_filling`."""
    import cvxpy as cp

    expected = _water_filling(sizes, scores, budget, n, floors)
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
    problem = cp.Problem(cp.Minimize(cp.log_sum_exp(log_weight + (n - k[positive]) * math.log(4.0))), constraints)
    problem.solve(solver=cp.CLARABEL)
    if problem.status not in ("optimal", "optimal_inaccurate") or k.value is None:
        raise RuntimeError(f"cvxpy did not solve the continuous relaxation: {problem.status}")
    solved = np.clip(np.asarray(k.value, dtype=np.float64), floors, n)
    achieved = objective(sizes, scores, solved, n, leading=True)
    reference = objective(sizes, scores, expected, n, leading=True)
    if not math.isclose(achieved, reference, rel_tol=1e-6):
        raise RuntimeError(f"cvxpy's optimum {achieved} disagrees with the KKT water-filling {reference}")
    return expected


def _uniform(sizes, scores, budget, n, floors):
    for level in range(n, -1, -1):
        bits = np.maximum(floors, level)
        if sizes @ bits <= budget:
            return bits
    return floors.copy()


def saturation_ratio(sizes, scores):
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
    sizes, scores, *_ = _check_problem(sizes, scores, 0, 1, None)
    weights = sizes / sizes.sum()
    arithmetic = float(weights @ scores)
    if arithmetic == 0:
        raise ValueError("scores must not all be zero: the ratio Gm / A is undefined")
    if np.any(scores == 0):
        return 0.0
    return float(np.exp(weights @ np.log(scores))) / arithmetic


def interior_budget_range(sizes, scores, n):
    """Budgets per weight ``beta = B / N`` for which every continuous ``k_l*`` lies in ``(0, n)`` (A.12).

    ``k_l* = beta + log_4(s_l / Gm)``; interior iff
    ``-min_l log_4(s_l/Gm) < beta < n - max_l log_4(s_l/Gm)``. Returns
    ``(beta_low, beta_high)``; empty (``low >= high``) when the scores spread
    over more than ``4**n``.
    """
    sizes, scores, _, n, *_ = _check_problem(sizes, scores, 0, n, None)
    if np.any(scores == 0):
        raise ValueError("scores must be positive for an interior regime (a zero score pins its layer at 0)")
    weights = sizes / sizes.sum()
    offsets = (np.log(scores) - weights @ np.log(scores)) / np.log(4.0)
    return float(-offsets.min()), float(n - offsets.max())


def continuous_ratio(sizes, scores, budget_bits, n):
    """TAC's continuous optimum over Uniform-MSP's, leading order, at one budget (A.12's envelope).

    Uniform-MSP here is continuous too (``k_l = B / N`` for all ``l``), so the
    ratio equals :func:`saturation_ratio` in the interior regime and rises
    toward 1 outside it.
    """
    sizes, scores, budget, n, floors, _ = _check_problem(sizes, scores, budget_bits, n, None)
    optimum = _water_filling(sizes, scores, budget, n, floors)
    uniform = np.full(sizes.size, budget / sizes.sum())
    return objective(sizes, scores, optimum, n, leading=True) / objective(sizes, scores, uniform, n, leading=True)


def integer_ratio(sizes, scores, budget_bits, n):
    """The measured counterpart of ``rho*``: integer optimum over integer Uniform-MSP, leading order.

    Both at the same budget; meaningful at a whole number of bits per weight,
    where Uniform-MSP spends the whole budget (Table 1 and 8 of the paper).
    """
    exact = allocate(sizes, scores, budget_bits, n, method="exact")
    uniform = allocate(sizes, scores, budget_bits, n, method="uniform")
    return exact.leading_objective / uniform.leading_objective
