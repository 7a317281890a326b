"""Allocation over a menu of protection schemes: a multiple-choice knapsack (issue: real codes).

Each layer ``l`` picks one scheme ``c`` from the menu. It costs the scheme's
real extra storage ``C_lc = scheme.storage_bits(N_l, n)`` (whole codewords),
and leaves ``N_l s_l v_c``, where ``v_c`` is the scheme's residual variance
at the deployment channel in units of ``Delta_l**2`` (the per-weight variance
of the read-back error, averaged over the ``2**n`` codes with equal weight:
Lemma 4.3's objective with the law of the scheme instead of Lemma 4.2's).
Minimize the sum subject to ``sum_l C_lc <= budget_bits``:

``"exact"``
    A certified optimum of the multiple-choice knapsack in exact arithmetic
    (:mod:`qtaml_theory._choice_knapsack`; scores and variances are taken as
    the exact rationals their doubles hold). A menu of ``IdealMSB(0..n)``
    goes to :func:`qtaml_theory.allocation.allocate` itself, so it reproduces
    the paper's allocation bit for bit (at one bit per cell; over
    multi-level cells the knapsack runs on the cells' exact variances).
``"greedy"``
    Algorithm 1 extended: every layer starts at its cheapest scheme and the
    next upgrade goes to the layer with the largest loss decrease per extra
    bit along its convex hull, while it fits.
``"continuous"``
    The LP relaxation (a layer may mix two adjacent schemes of its hull): a
    lower bound on every allocation's objective.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from . import _choice_knapsack
from ._allocation_problem import check_scores, exact_real, rounded
from .channels import SymmetricChannel, as_channel
from .encodings import get_encoding
from .float_formats import TableEncoding
from .law import error_cumulants
from .protection import IdealMSB, Unprotected, independent_planes, protection_menu
from .validation import check_bits

__all__ = ["ProtectionAllocation", "allocate_protection", "residual_variance", "PROTECTION_ALLOCATION_METHODS"]

#: The allocators of :func:`allocate_protection`.
PROTECTION_ALLOCATION_METHODS = ("exact", "greedy", "continuous")


@dataclass(frozen=True)
class ProtectionAllocation:
    """The result of :func:`allocate_protection`.

    Attributes
    ----------
    protection : tuple
        The scheme of each layer (for ``"continuous"``, the scheme of largest
        weight in the layer's mix).
    mixture : tuple or None
        ``"continuous"`` only: per layer, ``{scheme: weight}``.
    objective : float
        ``sum_l N_l s_l v_l`` (in units of ``Delta**2`` times the scores),
        computed exactly and rounded once; for ``"continuous"`` the LP value,
        a lower bound on every allocation's.
    bits_spent : float
        Extra stored bits of the choice (whole codewords).
    budget_bits : float
    method : str
    variances : tuple of float
        Per layer, the predicted per-weight variance of the read-back error
        under its scheme, in units of ``Delta_l**2``: the scheme's ``v`` plus
        the layer's ``scale_variance`` (what its shared scales' flips add).
    """

    protection: tuple
    mixture: tuple | None
    objective: float
    bits_spent: float
    budget_bits: float
    method: str
    variances: tuple = ()


@lru_cache(maxsize=512)
def _variance(scheme, channel, n_bits, encoding):
    encoding = get_encoding(encoding, n_bits)
    if channel.bits_per_cell > 1 and not isinstance(scheme, (IdealMSB, Unprotected)):
        # A code over multi-level cells: its planes at their own rates (the named approximation; the law given
        # the data is qtaml_theory.protection.cell_code_law). Uncoded schemes keep the cells' exact law.
        channel = independent_planes(channel, n_bits)
    codes = np.arange(1 << n_bits, dtype=np.int64)
    order = {}
    if isinstance(encoding, TableEncoding):  # a stored NaN or infinity is not a weight; bits stored as qtaml_tac does
        from .float_law import protection_order

        codes = codes[~encoding.nonfinite]
        order = {"bit_order": protection_order(encoding, codes, SymmetricChannel(0.25))}
    return float(np.mean(error_cumulants(encoding, codes, channel, protection=scheme, **order)[1]))


def residual_variance(scheme, channel, n_bits: int, encoding: str = "offset_binary") -> float:
    """Per-weight variance of the read-back error under ``scheme``, in units of ``Delta**2``, averaged over codes
    (a float format's finite codes, its bits stored in their protection order as :mod:`qtaml_tac` stores them,
    :func:`qtaml_theory.float_law.protection_order` of all of them).

    For ``IdealMSB(k)`` and ``Unprotected()`` under the symmetric channel it is
    Lemma 4.2's ``p (1 - p) (4**(n-k) - 1) / 3`` for every code. Under a
    :class:`~qtaml_theory.channels.MultiLevelChannel` the uncoded schemes
    take the cells' exact law (each plane's own rates, a cell's bits
    together), and a code its planes at their own average rates
    (:func:`~qtaml_theory.protection.independent_planes`, an approximation).
    """
    return _variance(scheme, as_channel(channel), check_bits(n_bits, "n_bits"), encoding)


def _is_paper_menu(menu, n_bits):
    ks = sorted(0 if isinstance(s, Unprotected) else s.k for s in menu if isinstance(s, (IdealMSB, Unprotected)))
    return len(ks) == len(menu) and ks == list(range(n_bits + 1))


def allocate_protection(sizes, scores, menu, budget_bits, n, channel, method="exact", *,
                        encoding="offset_binary", scale_variance=None) -> ProtectionAllocation:
    """One scheme per layer from ``menu``, minimizing ``sum_l N_l s_l v(scheme_l)`` within ``budget_bits``.

    Parameters
    ----------
    sizes : sequence of int
        Weights per layer ``N_l``.
    scores : sequence of float
        Per-weight scores ``s_l = Delta_l**2 G_l / N_l`` (finite, ``>= 0``).
    menu : str or sequence of ProtectionScheme
        ``"ideal_msb"``, ``"codes"`` (:func:`qtaml_theory.protection.protection_menu`)
        or the schemes themselves.
    budget_bits : float
        Extra stored bits allowed, ``>= 0``.
    n : int
        Bits per weight.
    channel : float or Channel
        The deployment channel of the cells.
    method : {"exact", "greedy", "continuous"}
    encoding : str, optional
        The stored encoding (the residual variance is averaged over its codes).
    scale_variance : sequence of float, optional
        Per layer, the per-weight variance (units of ``Delta_l**2``, ``>= 0``)
        that flips of its shared scales and zero points add when they sit in
        the faulty memory (:func:`qtaml_tac.scale_variance.scale_flip_variance`,
        from :mod:`qtaml_theory.scaled_law`); default none. Scales are not
        protected, so the term is the same for every scheme of the menu: it
        enters each layer's loss ``N_l s_l (v + e_l)``, the objective and
        :attr:`ProtectionAllocation.variances`, never the choice.

    Returns
    -------
    ProtectionAllocation

    Raises
    ------
    ValueError
        An unknown method, a bad menu, or a budget that no choice fits (the
        cheapest schemes' cost is named).

    Examples
    --------
    >>> from qtaml_theory.allocation import allocate_protection
    >>> result = allocate_protection([6400, 64], [1.0, 50.0], "codes", 800, 8, 1e-3)
    >>> [str(s) for s in result.protection]  # doctest: +SKIP
    """
    if method not in PROTECTION_ALLOCATION_METHODS:
        raise ValueError(f"method must be one of {PROTECTION_ALLOCATION_METHODS}, got {method!r}")
    n_bits = check_bits(n, "n")
    menu = protection_menu(menu, n_bits)
    sizes = [int(s) for s in np.atleast_1d(np.asarray(sizes, dtype=np.int64))]
    if not sizes or min(sizes) < 1:
        raise ValueError(f"sizes must be positive integers, one per layer, got {sizes}")
    whole, denominator = check_scores(scores, len(sizes))
    budget = exact_real(budget_bits)
    if budget is None or budget < 0:
        raise ValueError(f"budget_bits must be a finite number of bits >= 0, got {budget_bits!r}")
    channel = as_channel(channel)
    extra = _scale_terms(scale_variance, len(sizes))
    costs = [[scheme.storage_bits(size, n_bits) for scheme in menu] for size in sizes]
    cheapest = sum(min(row) for row in costs)
    if cheapest > budget:
        raise ValueError(f"budget_bits = {budget_bits} is below the cheapest choice of the menu, {cheapest} bits: "
                         f"no scheme of the menu is affordable within the budget")
    if method == "exact" and _is_paper_menu(menu, n_bits) and channel.bits_per_cell == 1:
        return _paper(sizes, scores, menu, budget, n_bits, channel, encoding, extra)
    variances = [Fraction(residual_variance(scheme, channel, n_bits, encoding)) for scheme in menu]
    losses = [[size * Fraction(w, denominator) * v for v in variances] for size, w in zip(sizes, whole)]
    constant = sum(size * Fraction(w, denominator) * e for size, w, e in zip(sizes, whole, extra))
    capacity = int(budget)
    if method == "continuous":
        value, mixture = _choice_knapsack.lower_bound(costs, losses, capacity)
        mixes = tuple({menu[c]: float(weight) for c, weight in layer.items()} for layer in mixture)
        chosen = tuple(max(mix, key=mix.get) for mix in mixes)
        spent = sum(float(weight) * costs[index][c] for index, layer in enumerate(mixture) for c, weight in layer.items())
        return ProtectionAllocation(chosen, mixes, rounded(value + constant), spent, float(budget), method,
                                    _reported(chosen, channel, n_bits, encoding, extra))
    solve = _choice_knapsack.optimum if method == "exact" else _choice_knapsack.greedy
    picks = solve(costs, losses, capacity)
    chosen = tuple(menu[c] for c in picks)
    return ProtectionAllocation(chosen, None, rounded(sum(losses[index][c] for index, c in enumerate(picks)) + constant),
                                float(sum(costs[index][c] for index, c in enumerate(picks))), float(budget), method,
                                _reported(chosen, channel, n_bits, encoding, extra))


def _scale_terms(scale_variance, layers):
    """The per-layer scale terms as exact rationals (zeros by default), checked."""
    if scale_variance is None:
        return [Fraction(0)] * layers
    terms = [exact_real(e) for e in np.atleast_1d(np.asarray(scale_variance, dtype=object))]
    if len(terms) != layers or any(e is None or e < 0 for e in terms):
        raise ValueError(f"scale_variance must hold {layers} finite numbers >= 0 (one per layer), got {scale_variance!r}")
    return terms


def _reported(chosen, channel, n_bits, encoding, extra):
    """Each layer's predicted variance: its scheme's ``v`` plus its scale term (units of ``Delta_l**2``)."""
    return tuple(residual_variance(s, channel, n_bits, encoding) + float(e) for s, e in zip(chosen, extra))


def _paper(sizes, scores, menu, budget, n_bits, channel, encoding, extra):
    """An ``IdealMSB(0..n)`` menu: the paper's allocation itself, with the objective in this module's units."""
    from .allocation import allocate

    bits = allocate(sizes, scores, budget, n_bits, method="exact").bits
    by_k = {0 if isinstance(s, Unprotected) else s.k: s for s in menu}
    chosen = tuple(by_k[k] for k in bits)
    whole, denominator = check_scores(scores, len(sizes))
    objective = sum(size * Fraction(w, denominator) * (Fraction(residual_variance(s, channel, n_bits, encoding)) + e)
                    for size, w, s, e in zip(sizes, whole, chosen, extra))
    spent = sum(size * k for size, k in zip(sizes, bits))
    return ProtectionAllocation(chosen, None, rounded(objective), float(spent), float(budget), "exact",
                                _reported(chosen, channel, n_bits, encoding, extra))
