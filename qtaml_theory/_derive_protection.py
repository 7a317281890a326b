"""Derivations of protection and allocation: top-k protected bits (paper Section 4, A.12-A.13).

Lemma 4.2's variance when the top ``k`` bits never flip, a layer's share of
the output error (Thm 4.4), the allocation objective and its leading order
(Thm 4.4-4.5, Sec. 4.5), the integer-rounding ratio and its bound (A.13), and
the mean drift of a protected code (Sec. 4.1). Re-exported by
:mod:`qtaml_theory.derive`.
"""

from __future__ import annotations

import sympy as sp

from ._derive_bit_sums import bernoulli_cumulant
from ._derive_symbols import Delta, b, i, k, n, p, pi

__all__ = [
    "variance_protected",
    "output_variance_term",
    "protection_cost",
    "protection_cost_leading",
    "integer_rounding_ratio",
    "integer_rounding_bound",
    "protected_mean_drift",
]


def variance_protected(protected: sp.Expr | int = k) -> sp.Expr:
    """Lemma 4.2: per-weight variance when the top ``protected`` bits never flip.

    ``Delta**2 p (1-p) (4**(n-k) - 1) / 3`` for any linear encoding whose bit
    weights are ``+-2**i``: only bits ``0..n-k-1`` are exposed.
    """
    exposed = sp.Sum(bernoulli_cumulant(2).subs(pi, p) * 4**i, (i, 0, n - protected - 1)).doit()
    return sp.factor(Delta**2 * exposed)


def output_variance_term() -> sp.Expr:
    """Thm 4.4: one layer's share of ``E||delta z||**2``, ``G sigma**2`` with top-k protection.

    Lemma 4.3 weighs the per-weight variance (Lemma 4.2) by the Jacobian gain
    ``G``; writing ``Delta**2 = s N / G`` with the per-weight score
    ``s = Delta**2 G / N`` gives ``N s p (1-p) (4**(n-k) - 1) / 3``.
    """
    gain, size, score = sp.symbols("G N s", positive=True)
    term = variance_protected() * gain
    return sp.factor(term.subs(Delta, sp.sqrt(score * size / gain)))


def protection_cost() -> sp.Expr:
    """The allocation objective per unit ``N s`` (Thm 4.4-4.5): ``4**(n-k) - 1``.

    :func:`output_variance_term` divided by ``N s`` and by the common factor
    ``kappa_2(p) / 3``, which does not change the optimal allocation.
    """
    size, score = sp.symbols("N s", positive=True)
    common = bernoulli_cumulant(2).subs(pi, p) / 3
    return sp.simplify(output_variance_term() / (size * score * common))


def protection_cost_leading() -> sp.Expr:
    """Leading-order form of :func:`protection_cost`: ``4**(n-k)`` (Sec. 4.5, A.12).

    The dominant term as the number of exposed bits ``m = n - k`` grows:
    ``lim_{m -> oo} cost / 4**m`` times ``4**m``.
    """
    exposed = sp.Symbol("m", positive=True)
    cost = sp.simplify(protection_cost().subs(n, k + exposed))
    return sp.limit(cost / 4**exposed, exposed, sp.oo) * 4 ** (n - k)


def integer_rounding_ratio() -> sp.Expr:
    """A.13: the integer / continuous ratio when a share ``f`` of equal-fraction layers rounds up.

    Rounding ``k* = m + f`` down multiplies a layer's leading-order variance by
    ``4**f``, up by ``4**(f-1)`` (ratios of :func:`protection_cost_leading`).
    """
    f, m = sp.symbols("f m", positive=True)
    cost = protection_cost_leading()
    down = sp.simplify(cost.subs(k, m) / cost.subs(k, m + f))
    up = sp.simplify(cost.subs(k, m + 1) / cost.subs(k, m + f))
    return sp.simplify(f * up + (1 - f) * down)


def integer_rounding_bound() -> sp.Expr:
    """A.13: ``max_f`` of :func:`integer_rounding_ratio`, ``3 * 4**(1/3) / (e ln 4)`` ~ 1.2637."""
    ratio = integer_rounding_ratio()
    (f,) = ratio.free_symbols
    (critical,) = sp.solve(sp.Eq(sp.diff(ratio, f), 0), f)
    return sp.simplify(ratio.subs(f, critical))


def protected_mean_drift() -> sp.Expr:
    """``E[delta]`` with the top ``k`` bits protected (offset binary, symmetric channel; Sec. 4.1, issue 5).

    Only bits ``0..n-k-1`` flip: ``Delta p sum_{i<n-k} s_i 2**i = p Delta (2**(n-k) - 1 - 2 r)``
    with ``r = sum_{i<n-k} b_i 2**i`` the code's unprotected low bits. It is not
    ``-2 p w``: the correction ``w / (1 - 2p)`` is wrong on protected layers.
    """
    low = sp.Symbol("r", nonnegative=True)
    exposed = Delta * sp.Sum((1 - 2 * b[i]) * 2**i * bernoulli_cumulant(1).subs(pi, p), (i, 0, n - k - 1))
    total = sp.Sum(2**i, (i, 0, n - k - 1)).doit()
    low_bits = sp.Sum(b[i] * 2**i, (i, 0, n - k - 1))
    closed = Delta * p * (total - 2 * low_bits)
    if sp.simplify((exposed - closed).expand().doit()) != 0:
        raise RuntimeError("the protected drift did not split into its geometric and low-bit parts")
    return sp.factor(closed.subs(low_bits, low))
