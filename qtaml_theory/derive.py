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
into :mod:`qtaml_theory._closed_forms` by :func:`generate_closed_forms_module`
(``python -m qtaml_theory.derive`` rewrites it; a test regenerates it and
compares). Nothing is typed twice.

All functions return SymPy expressions; the symbols they use are in
:data:`SYMBOLS`.
"""

from __future__ import annotations

import math
from functools import lru_cache

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
    "generate_closed_forms_module",
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


@lru_cache(maxsize=None)
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


# --------------------------------------------------------------------------
# Code generation
# --------------------------------------------------------------------------

GENERATED_HEADER = '''"""Closed forms generated from :mod:`qtaml_theory.derive`. Do not edit.

Regenerate with ``python -m qtaml_theory.derive``; the test
``test_generated_closed_forms_match_derivation`` regenerates this file and
compares. Each expression is printed as one integer-coefficient numerator over
one denominator, so Fractions stay exact and numpy arrays broadcast; the
factors of the flip rates (such as ``p*(1 - p)``) stay unexpanded, so that
floats keep their digits near ``p = 0`` and ``p = 1``.
"""
'''


def _generated_functions():
    """``(name, arguments, expressions, docstring)`` of every generated function."""
    mix = sign_mixture_cumulants()
    functions = [
        (f"bernoulli_cumulant_{order}", (pi,), (bernoulli_cumulant(order),),
         f"Cumulant {order} of a Bernoulli(pi) flip (Thm 3.1).")
        for order in (1, 2, 3, 4)
    ]
    functions += [
        ("sign_mixture_cumulants", (sigma, r, M, k2, k3, k4), mix,
         "Mean and cumulants 2-4 of sigma_hat * M_hat (sign-magnitude, A.8)."),
        ("sign_mixture_error_mean", (sigma, r, m0, drift), (sign_mixture_error_mean(),),
         "E[w_hat - w] for sign-magnitude: stored magnitude m0, magnitude drift E[M_hat] - m0 (A.8)."),
        ("variance_symmetric", (n, p, Delta), (variance(),),
         "Var[delta | w] under the symmetric channel (Thm A.11)."),
        ("variance_protected", (n, k, p, Delta), (variance_protected(),),
         "Per-weight variance with the top k bits protected (Lemma 4.2)."),
        ("msb_variance_share", (n,), (msb_variance_share(),),
         "Share of the variance carried by the MSB (Prop A.12)."),
        ("fourth_cumulant_symmetric", (n, p, Delta), (fourth_cumulant(),),
         "Fourth cumulant under the symmetric channel (Thm A.14)."),
        ("lyapunov_ratio", (n, p), (lyapunov_ratio(),),
         "Lyapunov ratio of the per-weight sum (Thm 3.4); takes floats."),
        ("protection_cost", (n, k), (protection_cost(),),
         "Allocation objective per unit N s with the top k bits protected (Thm 4.4): 4**(n-k) - 1."),
        ("protection_cost_leading", (n, k), (protection_cost_leading(),),
         "Leading-order allocation objective per unit N s (Sec. 4.5): 4**(n-k)."),
        ("output_variance_factor", (p,), (bernoulli_cumulant(2).subs(pi, p) / 3,),
         "Common factor p(1-p)/3 of the output variance (Thm 4.4)."),
        ("protected_mean_drift", (n, k, sp.Symbol("r", nonnegative=True), p, Delta), (protected_mean_drift(),),
         "E[delta] with the top k bits protected, r the unprotected low bits (offset binary)."),
        ("drift_slope_directional", (p01, p10), (sp.diff(mean_drift("offset_binary", "directional"), w),),
         "Slope in w of E[delta | w] under the directional channel (linear encodings): -(p01 + p10)."),
        ("mean_correction_factor", (p,), (mean_correction_factor(),),
         "Pre-scaling factor 1/(1 - 2p) of the mean correction (Prop 4.1)."),
    ]
    for name in ("offset_binary", "offset_binary_symmetric", "twos_complement"):
        functions.append((f"mean_drift_{name}", (w, p, Delta), (mean_drift(name),),
                          f"E[delta | w] for {name} under the symmetric channel (Thm 3.2, A.8)."))
    return functions + _physics_functions()


def _physics_functions():
    """The device-physics closed forms of :mod:`qtaml_theory.physics_derivations`."""
    from . import physics_derivations as phys

    s = phys.SYMBOLS
    # K as a real symbol, so that log(gamma(K + 1)) stays loggamma (printed as scipy's gammaln).
    real_threshold = sp.Symbol("K", positive=True)
    rare_log = sp.expand_log(sp.log(phys.rare_flip_probability().rewrite(sp.gamma)), force=True)
    rare_log = rare_log.subs(s["K"], real_threshold).replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.gamma),
        lambda e: sp.loggamma(e.args[0].args[0]))
    # In terms of log(lambda), so that lambda may be far below the smallest float.
    log_lam = sp.Symbol("log_lam", real=True)
    rare_log = sp.expand_log(rare_log.subs(s["lam"], sp.exp(log_lam)), force=True)
    return [
        ("decay_constant", (s["V0"], s["E"], s["m"], s["hbar"]), (phys.decay_constant(),),
         "Decay constant kappa inside the barrier, 1/m from SI inputs (Lemma A.7)."),
        ("wkb_log_transmission", (s["kappa"], s["d"]),
         (sp.log(phys.wkb_transmission().subs(phys.decay_constant(), s["kappa"])).expand(force=True),),
         "log of the WKB transmission exp(-2 kappa d) (Lemma A.7)."),
        ("transmission_prefactor", (s["V0"], s["E"]), (phys.transmission_prefactor(),),
         "V0**2/(4E(V0-E)): exact T = 1/(1 + prefactor sinh(kappa d)**2) (rectangular barrier)."),
        ("wkb_prefactor", (s["V0"], s["E"]), (phys.wkb_prefactor(),),
         "Thick-barrier limit of T_exact / T_WKB, 16E(V0-E)/V0**2."),
        ("rare_escape_probability", (s["T"], s["A"]), (phys.rare_escape_probability(),),
         "Rare-escape form A T of 1 - (1 - T)**A, A = nu tau attempts (Lemma A.8)."),
        ("rare_log_flip_probability", (log_lam, real_threshold), (rare_log,),
         "log(lambda**K / K!) from log(lambda), the leading rare-event flip probability (Prop A.10)."),
    ]


def _integer_powers(expr):
    """Rewrite ``2**(a n + c)`` as ``2**c * (2**a)**n`` so that ``4**n`` prints as such."""
    def rewrite(power):
        linear = sp.Poly(power.exp, n)
        if linear.degree() != 1:
            return power
        slope, intercept = linear.all_coeffs()
        return power.base**intercept * (power.base**slope) ** n

    return expr.replace(
        lambda e: e.is_Pow and e.base.is_Integer and e.exp.has(n) and e.exp.is_polynomial(n),
        rewrite,
    )


def _print_ratio(expr, printer):
    """Print ``expr`` as one integer-coefficient numerator over one denominator.

    An expression of the flip rates (:data:`RATE_SYMBOLS`) keeps its factors in
    the rates (:func:`_factor_in_rates`): ``p (1 - p)`` printed expanded as
    ``p - p**2`` loses every digit near ``p = 1`` and underflows early.
    """
    if not expr.free_symbols & RATE_SYMBOLS:
        numerator, denominator = sp.fraction(sp.together(_integer_powers(expr)))
        numerator = sp.expand(numerator)
        scale = math.lcm(*(int(term.as_coeff_Mul()[0].q) for term in sp.Add.make_args(numerator)))
        numerator, denominator = sp.expand(numerator * scale), denominator * scale
    else:
        numerator, denominator = sp.fraction(_factor_in_rates(expr))
        terms = [term.as_coeff_Mul() for term in sp.Add.make_args(numerator)]
        scale = math.lcm(*(int(coeff.q) for coeff, _ in terms))
        numerator = sp.Add(*(sp.Mul(coeff * scale, rest, evaluate=False) if coeff * scale != 1 else rest
                             for coeff, rest in terms))
        denominator = denominator * scale
    if denominator == 1:
        return printer.doprint(numerator)
    return f"({printer.doprint(numerator)})/({printer.doprint(denominator)})"


def _factor_in_rates(expr):
    """``expr`` with every polynomial in the flip rates factored.

    The expression is factored as a whole; then every sum that still holds
    the rates (the sign mixture's cumulants, or a factor such as
    ``8 M**3 r (r - 1) + k3``) is grouped by its rate-free monomials, each
    multiplying a factored polynomial in the rates alone. The result equals
    ``expr``: checked to 40 digits at rational points of every symbol (SymPy
    does not always simplify the difference of the square roots to zero).
    """
    factored = _group_rates(sp.factor(_integer_powers(sp.together(expr))))
    symbols = sorted(expr.free_symbols, key=str)
    for trial in range(3):
        point = {s: (trial + 2 if s.is_integer else sp.Rational(trial + 1, 7 + index)) for index, s in enumerate(symbols)}
        before, after = (sp.N(e.subs(point), 50) for e in (expr, factored))
        if abs(before - after) > sp.Float(10) ** -40 * max(1, abs(before)):
            raise RuntimeError(f"factoring in the rates changed {expr}")
    return factored


def _group_rates(expr):
    """Group every sum in ``expr`` by rate-free monomials, factoring each polynomial in the rates."""
    if expr.is_Atom:
        return expr
    expr = expr.func(*(_group_rates(arg) for arg in expr.args))
    if not (expr.is_Add and expr.free_symbols & RATE_SYMBOLS):
        return expr
    groups = {}
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, rest = term.as_coeff_Mul()
        key, rates = rest.as_independent(*RATE_SYMBOLS, as_Add=False)
        groups[key] = groups.get(key, 0) + coeff * rates
    if len(groups) == 1:
        return expr
    return sp.Add(*(key * sp.factor(rates) for key, rates in groups.items()))


def generate_closed_forms_module():
    """Source text of :mod:`qtaml_theory._closed_forms`, printed from the derivations."""
    from sympy.printing.numpy import SciPyPrinter

    printer = SciPyPrinter({"fully_qualified_modules": False, "inline": True})
    lines = [GENERATED_HEADER, "from numpy import log, sqrt  # noqa: F401", "from scipy.special import gammaln  # noqa: F401", ""]
    for name, args, exprs, doc in _generated_functions():
        arg_names = ", ".join(str(a) for a in args)
        body = ", ".join(_print_ratio(e, printer) for e in exprs)
        lines += ["", f"def {name}({arg_names}):", f'    """{doc}"""', f"    return {body}", ""]
    return "\n".join(lines).rstrip() + "\n"


def closed_forms_path():
    """Path of the generated module inside the installed package."""
    from pathlib import Path

    return Path(__file__).with_name("_closed_forms.py")


def main():
    """Rewrite :mod:`qtaml_theory._closed_forms` from the derivations."""
    path = closed_forms_path()
    path.write_text(generate_closed_forms_module())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
