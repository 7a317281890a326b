"""SymPy derivations of the per-weight error law (paper Section 3, A.3-A.9).

Everything here starts from the characteristic function of Theorem 3.1,

.. math::

    \\varphi(t \\mid w) = \\prod_{i=0}^{n-1}\\left(1 - \\pi_i + \\pi_i e^{\\,i t \\Delta s_i c_i}\\right),

where ``pi_i`` is the flip probability of bit ``i`` given its stored value
(:mod:`qtaml_theory.channels`), ``s_i = 1 - 2 b_i`` and ``c_i`` the bit weight
(:mod:`qtaml_theory.encodings`). The log of a product is a sum, so the
cumulants of the error are sums over bits of the cumulants of one scaled
Bernoulli variable; those follow by differentiating its log-characteristic
function. Sums over bits are closed as geometric series for general ``n``.

The closed forms that run at run time are generated from these expressions
into :mod:`qtaml_theory._closed_forms` by the code generator,
:mod:`qtaml_theory.codegen` (``python -m qtaml_theory.codegen``, or ``python -m
qtaml_theory.derive``, rewrites it; a test regenerates it and compares).
Nothing is typed twice.

All functions return SymPy expressions; the symbols they use are in
:data:`SYMBOLS`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

from .channels import DirectionalChannel, PerBitChannel, SymmetricChannel
from .encodings import ENCODINGS, LinearEncoding

__all__ = [
    "SYMBOLS",
    "bernoulli_log_cf",
    "bernoulli_cumulant",
    "bit_error_cf",
    "weight_error_cf",
    "bit_sum",
    "linear_cumulant",
    "mean_drift",
    "variance",
    "variance_protected",
    "msb_variance_share",
    "third_cumulant",
    "fourth_cumulant",
    "skewness",
    "excess_kurtosis",
    "lyapunov_ratio",
    "sign_magnitude_mean",
    "sign_magnitude_variance",
    "sign_mixture_cumulants",
    "sign_mixture_error_mean",
    "output_variance_term",
    "protection_cost",
    "protection_cost_leading",
    "protected_mean_drift",
    "integer_rounding_ratio",
    "integer_rounding_bound",
    "mean_correction_factor",
    "compensated_mean",
    "cell_loss_rates",
    "multilevel_cell_drift",
    "multilevel_drift_slope",
    "multilevel_correction_factor",
]

t, u = sp.symbols("t u", real=True)
i, n, k = sp.symbols("i n k", integer=True, nonnegative=True)
pi = sp.Symbol("pi", nonnegative=True)
p = sp.Symbol("p", nonnegative=True)
p01, p10 = sp.symbols("p01 p10", nonnegative=True)
Delta = sp.Symbol("Delta", positive=True)
w = sp.Symbol("w", real=True)
v = sp.Symbol("v", real=True)
b = sp.IndexedBase("b")
S3 = sp.Symbol("S3", real=True)
sigma, r = sp.symbols("sigma r", real=True)
M, k2, k3, k4 = sp.symbols("M k2 k3 k4", real=True)
m0, drift = sp.symbols("m0 drift", real=True)

#: The flip rates: generated closed forms keep their factors (such as ``p (1 - p)``) unexpanded.
RATE_SYMBOLS = frozenset({pi, p, p01, p10, r})

#: The symbols of the derivations, by name.
SYMBOLS = {
    "t": t, "u": u, "i": i, "n": n, "k": k, "pi": pi, "p": p, "p01": p01, "p10": p10,
    "Delta": Delta, "w": w, "v": v, "b": b, "S3": S3, "sigma": sigma, "r": r,
    "M": M, "k2": k2, "k3": k3, "k4": k4, "m0": m0, "drift": drift,
}

CHANNELS = {
    "symmetric": SymmetricChannel(0),
    "per_bit": PerBitChannel([0]),
    "directional": DirectionalChannel(0, 0),
}


def bernoulli_log_cf():
    """Log-characteristic function of one Bernoulli(pi) flip at argument ``u``.

    ``log(1 - pi + pi e^{iu})``; for the bit term ``F_i a_i`` of Theorem 3.1,
    ``u = t a_i``.
    """
    return sp.log(1 - pi + pi * sp.exp(sp.I * u))


@cache
def bernoulli_cumulant(order):
    """Cumulant of a Bernoulli(pi) variable, by differentiating its log-CF.

    ``kappa_order = (-i)^order d^order/du^order log(1 - pi + pi e^{iu}) |_{u=0}``.
    The bit term ``F_i a_i`` has cumulant ``a_i**order * kappa_order(pi_i)``
    (chain rule), and the cumulants of independent terms add (Thm 3.1).
    """
    if order < 1:
        raise ValueError(f"order must be a positive integer, got {order}")
    derivative = sp.diff(bernoulli_log_cf(), u, order).subs(u, 0)
    return sp.factor(sp.simplify((-sp.I) ** order * derivative))


def bit_error_cf(amplitude, rate):
    """Characteristic function of ``F a`` with ``F ~ Bernoulli(rate)`` (A.3)."""
    return 1 - rate + rate * sp.exp(sp.I * t * amplitude)


def weight_error_cf(encoding, bits, channel, delta=Delta):
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


def _reduce_binary(expr):
    """Use ``b_i**m = b_i`` for a 0/1 bit ``b_i``."""
    expr = sp.expand(expr)
    return expr.replace(lambda e: e.is_Pow and e.base == b[i] and e.exp.is_Integer and e.exp > 1,
                        lambda e: b[i])


def bit_sum(summand, encoding_cls):
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


def _geometric_sum(expr):
    """``sum_{i=0}^{n-1} expr``, splitting off the top bit where weights differ there.

    Sums that do not close (they hold the bit pattern) stay unevaluated.
    """
    expr = sp.piecewise_fold(expr)
    if not expr.has(sp.Piecewise):
        return sp.Sum(expr, (i, 0, n - 1)).doit()
    rest = expr.subs(sp.Eq(i, n - 1), False)
    top = expr.subs(i, n - 1)
    return sp.Sum(rest, (i, 0, n - 2)).doit() + top


def linear_cumulant(order, encoding_name="offset_binary", channel="symmetric", delta=Delta):
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


def mean_drift(encoding_name="offset_binary", channel="symmetric"):
    """``E[delta | w]`` as a function of ``w`` (Thm 3.2, A.8; general channels).

    The decoded value ``v`` is replaced by ``w / Delta``.
    """
    if encoding_name == "sign_magnitude":
        return sp.simplify(sign_magnitude_mean() - w)
    return sp.simplify(linear_cumulant(1, encoding_name, channel).subs(v, w / Delta))


def variance(encoding_name="offset_binary", channel="symmetric"):
    """``Var[delta | w]`` (Thm A.11), general ``n``."""
    return sp.simplify(linear_cumulant(2, encoding_name, channel).subs(v, w / Delta))


def variance_protected(protected=k):
    """Lemma 4.2: per-weight variance when the top ``protected`` bits never flip.

    ``Delta**2 p (1-p) (4**(n-k) - 1) / 3`` for any linear encoding whose bit
    weights are ``+-2**i``: only bits ``0..n-k-1`` are exposed.
    """
    exposed = sp.Sum(bernoulli_cumulant(2).subs(pi, p) * 4**i, (i, 0, n - protected - 1)).doit()
    return sp.factor(Delta**2 * exposed)


def msb_variance_share():
    """Prop A.12: share of the variance carried by the most significant bit."""
    per_bit = Delta**2 * bernoulli_cumulant(2).subs(pi, p) * 4**i
    return sp.simplify(per_bit.subs(i, n - 1) / variance())


def third_cumulant():
    """Thm A.13: ``kappa_3 = Delta**3 p(1-p)(1-2p) S3`` with ``S3 = sum_i s_i 8**i``.

    The sum over the bit pattern is kept as the symbol ``S3``.
    """
    return Delta**3 * bernoulli_cumulant(3).subs(pi, p) * S3


def fourth_cumulant():
    """Thm A.14: ``kappa_4`` for the symmetric channel, general ``n``."""
    return sp.factor(linear_cumulant(4))


def skewness():
    """Thm A.13: ``kappa_3 / Var**(3/2)`` in terms of ``S3``."""
    return sp.simplify(third_cumulant() / variance() ** sp.Rational(3, 2))


def excess_kurtosis():
    """Thm A.14: ``kappa_4 / Var**2``, general ``n``."""
    return sp.simplify(fourth_cumulant() / variance() ** 2)


def lyapunov_ratio():
    """Thm 3.4: ``sum_i E|X_i - E X_i|**3 / (sum_i Var X_i)**(3/2)``, general ``n``.

    ``X_i = F_i s_i 2**i Delta``; ``E|F - p|**3 = p(1-p)**3 + (1-p) p**3``.
    """
    third_abs = p * (1 - p) ** 3 + (1 - p) * p**3
    numerator = Delta**3 * third_abs * sp.Sum(8**i, (i, 0, n - 1)).doit()
    return sp.simplify(numerator / variance() ** sp.Rational(3, 2))


def sign_mixture_cumulants():
    """Cumulants of the sign-magnitude read-back ``w_hat = sigma_hat * M_hat`` (A.8).

    The stored sign is ``sigma = +-1`` and reads back flipped with probability
    ``r``, independently of the magnitude ``M_hat``, whose mean is ``M`` and
    whose cumulants are ``k2, k3, k4`` (a linear sum of bit terms, so they
    follow from :func:`bernoulli_cumulant`). ``w_hat`` is a two-point mixture
    of ``sigma M_hat`` and ``-sigma M_hat``; its central moments are expanded
    about its mean and turned into cumulants.

    Returns
    -------
    tuple of sympy.Expr
        ``(E[w_hat], kappa_2, kappa_3, kappa_4)`` of ``w_hat`` (units of Delta).
    """
    y = sp.Symbol("y", real=True)
    central = {1: 0, 2: k2, 3: k3, 4: k4 + 3 * k2**2}
    mean = sp.expand(sigma * (1 - 2 * r) * M)

    def central_moment(order):
        branches = (1 - r) * (sigma * (M + y) - mean) ** order + r * (-sigma * (M + y) - mean) ** order
        poly = sp.Poly(sp.expand(branches), y)
        total = sum(coeff * (central[j] if j else 1) for (j,), coeff in poly.terms())
        return _reduce_sign(sp.expand(total))

    c2, c3, c4 = central_moment(2), central_moment(3), central_moment(4)
    return mean, sp.factor(c2), sp.factor(c3), sp.factor(_reduce_sign(sp.expand(c4 - 3 * c2**2)))


def sign_mixture_error_mean():
    """``E[w_hat - w]`` for sign-magnitude from the stored magnitude ``m0`` and the magnitude's drift (A.8).

    With ``M = m0 + drift`` in :func:`sign_mixture_cumulants`, the stored value
    ``w = sigma m0`` is subtracted symbolically, so that the result,
    ``sigma ((1 - 2r) drift - 2 r m0)``, has no cancellation when flips are rare.
    """
    return sp.expand(sign_mixture_cumulants()[0].subs(M, m0 + drift) - sigma * m0)


def _reduce_sign(expr):
    """Use ``sigma**2 = 1`` for a stored sign ``sigma = +-1``."""
    poly = sp.Poly(expr, sigma)
    return sp.expand(sum(coeff * sigma ** (j % 2) for (j,), coeff in poly.terms()))


def sign_magnitude_mean(channel="symmetric"):
    """``E[w_hat | w]`` for sign-magnitude, general ``n`` (A.8).

    The magnitude's mean is its linear drift over bits ``0..n-2``, the sign's
    mean ``sigma (1 - 2 r)`` with ``r`` the sign bit's flip probability; the
    stored magnitude is ``|w| / Delta = sigma w / Delta``.
    """
    rate = CHANNELS[channel].symbolic_rate(b[i], i)
    summand = _reduce_binary(rate * (1 - 2 * b[i]) * 2**i)
    constant = summand.subs(b[i], 0)
    linear = sp.simplify(sp.expand(summand - constant).coeff(b[i]) / 2**i)
    if channel == "per_bit" or linear.has(i):
        raise ValueError("the magnitude drift is affine only for the symmetric and directional channels")
    magnitude = sigma * w / Delta
    magnitude_mean = magnitude + sp.Sum(constant, (i, 0, n - 2)).doit() + linear * magnitude
    sign_rate = CHANNELS[channel].symbolic_rate(sp.Rational(1, 2) * (1 - sigma), n - 1)
    mean = sp.expand(sigma * (1 - 2 * sign_rate) * Delta * magnitude_mean)
    return sp.simplify(_reduce_sign(mean))


def sign_magnitude_variance():
    """``Var[delta | w]`` for sign-magnitude under the symmetric channel, general ``n``.

    The magnitude is an (n-1)-bit linear code (mean ``M``, variance ``k2``
    from :func:`linear_cumulant`); the sign enters through
    :func:`sign_mixture_cumulants`: ``Var = k2 + 4 r (1 - r) M**2``. Unlike
    Thm A.11 it grows with ``|w| = sigma w``.
    """
    magnitude = sigma * w / Delta
    magnitude_mean = (1 - 2 * p) * magnitude + p * (2 ** (n - 1) - 1)
    magnitude_var = (linear_cumulant(2) / Delta**2).subs(n, n - 1)
    variance = sign_mixture_cumulants()[1].subs({k2: magnitude_var, M: magnitude_mean, r: p})
    return sp.factor(_reduce_sign(sp.expand(Delta**2 * variance)))


def output_variance_term():
    """Thm 4.4: one layer's share of ``E||delta z||**2``, ``G sigma**2`` with top-k protection.

    Lemma 4.3 weighs the per-weight variance (Lemma 4.2) by the Jacobian gain
    ``G``; writing ``Delta**2 = s N / G`` with the per-weight score
    ``s = Delta**2 G / N`` gives ``N s p (1-p) (4**(n-k) - 1) / 3``.
    """
    gain, size, score = sp.symbols("G N s", positive=True)
    term = variance_protected() * gain
    return sp.factor(term.subs(Delta, sp.sqrt(score * size / gain)))


def protection_cost():
    """The allocation objective per unit ``N s`` (Thm 4.4-4.5): ``4**(n-k) - 1``.

    :func:`output_variance_term` divided by ``N s`` and by the common factor
    ``kappa_2(p) / 3``, which does not change the optimal allocation.
    """
    size, score = sp.symbols("N s", positive=True)
    common = bernoulli_cumulant(2).subs(pi, p) / 3
    return sp.simplify(output_variance_term() / (size * score * common))


def protection_cost_leading():
    """Leading-order form of :func:`protection_cost`: ``4**(n-k)`` (Sec. 4.5, A.12).

    The dominant term as the number of exposed bits ``m = n - k`` grows:
    ``lim_{m -> oo} cost / 4**m`` times ``4**m``.
    """
    exposed = sp.Symbol("m", positive=True)
    cost = sp.simplify(protection_cost().subs(n, k + exposed))
    return sp.limit(cost / 4**exposed, exposed, sp.oo) * 4 ** (n - k)


def integer_rounding_ratio():
    """A.13: the integer / continuous ratio when a share ``f`` of equal-fraction layers rounds up.

    Rounding ``k* = m + f`` down multiplies a layer's leading-order variance by
    ``4**f``, up by ``4**(f-1)`` (ratios of :func:`protection_cost_leading`).
    """
    f, m = sp.symbols("f m", positive=True)
    cost = protection_cost_leading()
    down = sp.simplify(cost.subs(k, m) / cost.subs(k, m + f))
    up = sp.simplify(cost.subs(k, m + 1) / cost.subs(k, m + f))
    return sp.simplify(f * up + (1 - f) * down)


def integer_rounding_bound():
    """A.13: ``max_f`` of :func:`integer_rounding_ratio`, ``3 * 4**(1/3) / (e ln 4)`` ~ 1.2637."""
    ratio = integer_rounding_ratio()
    (f,) = ratio.free_symbols
    (critical,) = sp.solve(sp.Eq(sp.diff(ratio, f), 0), f)
    return sp.simplify(ratio.subs(f, critical))


def protected_mean_drift():
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


def mean_correction_factor():
    """Prop 4.1: the pre-scaling factor ``1 / (1 - 2p)`` that undoes the shrinkage.

    Solved from ``(1 - 2p) x = 1``, the slope of the offset-binary drift.
    """
    slope = sp.diff(mean_drift("offset_binary") + w, w)
    x = sp.Symbol("x")
    (factor,) = sp.solve(sp.Eq(slope * x, 1), x)
    return factor


def compensated_mean():
    """Prop 4.1: ``E[w_hat]`` when ``w / (1 - 2p)`` is stored (offset binary)."""
    stored = w * mean_correction_factor()
    return sp.simplify((mean_drift("offset_binary") + w).subs(w, stored))


def cell_loss_rates(bits_per_cell):
    """Symbols ``q_1 .. q_{2**b - 1}``: the probability that level ``L`` loses one step over the window.

    Level 0 holds no charge and never loses a step (issue 16, one-step
    charge-loss model of a multi-level cell).
    """
    return sp.symbols(f"q1:{1 << bits_per_cell}", nonnegative=True)


def multilevel_cell_drift(bits_per_cell, level_map):
    """Mean change of one cell's read value, level by level, under one-step charge loss (issue 16).

    A cell at level ``L >= 1`` falls to ``L - 1`` with probability ``q_L``
    and keeps its level otherwise; level ``L`` reads back as the b-bit value
    ``m(L) = L`` (binary) or ``L ^ (L >> 1)`` (Gray). The change of the read
    value is ``m(L') - m(L)``; its characteristic function is
    ``1 - q_L + q_L exp(i u (m(L-1) - m(L)))`` and the drift is its first
    cumulant, ``q_L (m(L-1) - m(L))``, found by differentiating the log-CF
    as in :func:`bernoulli_cumulant`.

    Returns
    -------
    tuple of sympy.Expr
        Entry ``L`` is the drift of a cell programmed at level ``L`` (in
        units of the cell's least significant bit).
    """
    from .channels import _check_level_map, _read_values

    values = _read_values(bits_per_cell, _check_level_map(level_map))
    drifts = [sp.Integer(0)]
    for level, q in enumerate(cell_loss_rates(bits_per_cell), start=1):
        log_cf = sp.log(1 - q + q * sp.exp(sp.I * u * (values[level - 1] - values[level])))
        drifts.append(sp.simplify(-sp.I * sp.diff(log_cf, u).subs(u, 0)))
    return tuple(drifts)


def multilevel_drift_slope(bits_per_cell, level_map):
    """Least-squares slope of the cell's drift against its stored value, every level equally likely (issue 16).

    ``s = sum_L (d_L - dbar)(m(L) - mbar) / sum_L (m(L) - mbar)**2``. The
    cells of a code ``q = sum_j 2**(j b) v_j`` are independent and their
    drifts add with the same weights ``2**(j b)``, so ``s`` is also the slope
    of the whole code's drift ``E[delta | w] / Delta`` in ``w / Delta`` over
    uniformly used codes. With binary levels and ``q_L = L q`` (loss
    proportional to stored charge) the drift is exactly ``-q v``: ``s = -q``.
    """
    from .channels import _read_values

    values = _read_values(bits_per_cell, level_map)
    drifts = multilevel_cell_drift(bits_per_cell, level_map)
    levels = len(values)
    mean_value = sp.Rational(sum(values), levels)
    mean_drift_ = sp.Add(*drifts) / levels
    covariance = sp.Add(*((d - mean_drift_) * (v - mean_value) for d, v in zip(drifts, values)))
    spread = sp.Add(*((v - mean_value) ** 2 for v in values))
    return sp.expand(covariance / spread)


def multilevel_correction_factor(bits_per_cell, level_map):
    """The drift-compensation factor of a multi-level cell: ``1 / (1 + s)``, the analogue of Prop 4.1 (issue 16).

    Solved from ``(1 + s) x = 1``, with ``s`` the drift slope of
    :func:`multilevel_drift_slope`; storing ``w x`` puts the read-back back
    on ``w`` on average, to the least-squares affine part of the drift.
    """
    x = sp.Symbol("x")
    (factor,) = sp.solve(sp.Eq((1 + multilevel_drift_slope(bits_per_cell, level_map)) * x, 1), x)
    return factor


def __getattr__(name):
    """The code generator's names, kept here for callers of the time before :mod:`qtaml_theory.codegen`.

    Imported on first use: :mod:`qtaml_theory.codegen` imports this module.
    """
    if name in ("generate_closed_forms_module", "closed_forms_path", "main"):
        from . import codegen

        return getattr(codegen, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    from .codegen import main

    main()
