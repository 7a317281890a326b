"""Theorem 3.1 term by term: Bernoulli cumulants and closed sums over bits (paper Section 3, A.3).

The error of a weight is a sum over bits of scaled Bernoulli flips
``F_i Delta s_i c_i``; its cumulants are sums over bits of the cumulants of one
Bernoulli variable (:func:`bernoulli_cumulant`), closed for general ``n`` as
geometric series (:func:`bit_sum`) into :func:`linear_cumulant`, the cumulant
of any order of a linear encoding under any channel. Re-exported by
:mod:`qtaml_theory.derive`.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

import sympy as sp

from ._derive_symbols import CHANNELS, Delta, b, i, n, pi, t, u, v
from .channels import Channel
from .encodings import ENCODINGS, LinearEncoding

__all__ = [
    "bernoulli_log_cf",
    "bernoulli_cumulant",
    "bit_error_cf",
    "weight_error_cf",
    "bit_sum",
    "linear_cumulant",
]


def bernoulli_log_cf() -> sp.Expr:
    """Log-characteristic function of one Bernoulli(pi) flip at argument ``u``.

    ``log(1 - pi + pi e^{iu})``; for the bit term ``F_i a_i`` of Theorem 3.1,
    ``u = t a_i``.
    """
    return sp.log(1 - pi + pi * sp.exp(sp.I * u))


@cache
def bernoulli_cumulant(order: int) -> sp.Expr:
    """Cumulant of a Bernoulli(pi) variable, by differentiating its log-CF.

    ``kappa_order = (-i)^order d^order/du^order log(1 - pi + pi e^{iu}) |_{u=0}``.
    The bit term ``F_i a_i`` has cumulant ``a_i**order * kappa_order(pi_i)``
    (chain rule), and the cumulants of independent terms add (Thm 3.1).
    """
    if order < 1:
        raise ValueError(f"order must be a positive integer, got {order}")
    derivative = sp.diff(bernoulli_log_cf(), u, order).subs(u, 0)
    return sp.factor(sp.simplify((-sp.I) ** order * derivative))


def bit_error_cf(amplitude: sp.Expr, rate: sp.Expr) -> sp.Expr:
    """Characteristic function of ``F a`` with ``F ~ Bernoulli(rate)`` (A.3)."""
    return 1 - rate + rate * sp.exp(sp.I * t * amplitude)


def weight_error_cf(encoding: LinearEncoding, bits: Sequence, channel: Channel, delta: sp.Expr = Delta) -> sp.Expr:
    """Theorem 3.1 for explicit bits: ``prod_i (1 - pi_i + pi_i e^{i t Delta s_i c_i})``.

    Parameters
    ----------
    encoding : LinearEncoding
        Supplies the bit weights ``c_i``.
    bits : sequence
        Stored bits (numbers or SymPy symbols), bit 0 first.
    channel : Channel
        Supplies ``pi_i`` through :meth:`~qtaml_theory.channels.Channel.symbolic_rate`.
    """
    factors = []
    for index, (bit, weight) in enumerate(zip(bits, encoding.bit_weights)):
        rate = channel.symbolic_rate(bit, index)
        factors.append(bit_error_cf(delta * (1 - 2 * bit) * weight, rate))
    return sp.Mul(*factors)


def _reduce_binary(expr: sp.Expr) -> sp.Expr:
    """Use ``b_i**m = b_i`` for a 0/1 bit ``b_i``."""
    expr = sp.expand(expr)
    return expr.replace(lambda e: e.is_Pow and e.base == b[i] and e.exp.is_Integer and e.exp > 1,
                        lambda e: b[i])


def bit_sum(summand: sp.Expr, encoding_cls: type[LinearEncoding]) -> sp.Expr:
    """``sum_{i=0}^{n-1} summand`` for general ``n``, with the encoding's weights.

    ``summand`` may hold ``c`` (write it as ``encoding_cls.symbolic_weight(i, n)``)
    and the bit ``b[i]``. The bit-free part is closed as a geometric series;
    the part linear in ``b[i]`` is closed when its coefficient is a constant
    multiple ``beta`` of the bit weight, as ``beta (v - v0)`` with ``v`` the
    decoded value and ``v0`` the encoding's offset. Otherwise that part is
    returned as an unevaluated ``Sum`` (it depends on the bit pattern).

    Returns
    -------
    sympy.Expr
    """
    reduced = _reduce_binary(summand)
    constant = reduced.subs(b[i], 0)
    linear = sp.expand(reduced - constant).coeff(b[i])
    closed = _geometric_sum(constant)
    if linear == 0:
        return sp.simplify(closed)
    weight = encoding_cls.symbolic_weight(i, n)
    beta_rest = sp.simplify(linear.subs(sp.Eq(i, n - 1), False) / weight.subs(sp.Eq(i, n - 1), False))
    beta_top = sp.simplify(linear.subs(i, n - 1) / weight.subs(i, n - 1))
    if not beta_rest.has(i) and sp.simplify(beta_rest - beta_top) == 0:
        return sp.simplify(closed + beta_rest * (v - encoding_cls.symbolic_offset(n)))
    return closed + _geometric_sum(linear * b[i])


def _geometric_sum(expr: sp.Expr) -> sp.Expr:
    """``sum_{i=0}^{n-1} expr``, splitting off the top bit where weights differ there.

    Sums that do not close (they hold the bit pattern) stay unevaluated.
    """
    expr = sp.piecewise_fold(expr)
    if not expr.has(sp.Piecewise):
        return sp.Sum(expr, (i, 0, n - 1)).doit()
    rest = expr.subs(sp.Eq(i, n - 1), False)
    top = expr.subs(i, n - 1)
    return sp.Sum(rest, (i, 0, n - 2)).doit() + top


def linear_cumulant(order: int, encoding_name: str = "offset_binary", channel: str = "symmetric",
                    delta: sp.Expr = Delta) -> sp.Expr:
    """Cumulant ``order`` of the error of a linear encoding, general ``n``.

    ``kappa = Delta**order * sum_i (s_i c_i)**order * kappa_order(pi_i)``,
    closed over ``i`` by :func:`bit_sum`. ``channel`` is ``"symmetric"``,
    ``"per_bit"`` or ``"directional"``. The result is in terms of ``p``
    (``p01``, ``p10`` or the indexed ``p[i]``), ``Delta``, ``n`` and the decoded
    value ``v`` (units of Delta); odd orders of the symmetric channel at
    order 3 stay as a sum over the bit pattern.
    """
    encoding_cls = ENCODINGS[encoding_name]
    if not issubclass(encoding_cls, LinearEncoding):
        raise ValueError(f"encoding_name must name a linear encoding, got {encoding_name!r}")
    rate = CHANNELS[channel].symbolic_rate(b[i], i)
    weight = encoding_cls.symbolic_weight(i, n)
    summand = ((1 - 2 * b[i]) * weight) ** order * bernoulli_cumulant(order).subs(pi, rate)
    return delta**order * bit_sum(summand, encoding_cls)
