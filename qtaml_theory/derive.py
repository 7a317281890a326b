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

import sympy as sp

from ._derive_bit_sums import (
    bernoulli_cumulant,
    bernoulli_log_cf,
    bit_error_cf,
    bit_sum,
    linear_cumulant,
    weight_error_cf,
)
from ._derive_protection import (
    integer_rounding_bound,
    integer_rounding_ratio,
    output_variance_term,
    protected_mean_drift,
    protection_cost,
    protection_cost_leading,
    variance_protected,
)
from ._derive_sign_magnitude import (
    sign_magnitude_mean,
    sign_magnitude_variance,
    sign_mixture_cumulants,
    sign_mixture_error_mean,
)
from ._derive_symbols import (  # noqa: F401  (CHANNELS and RATE_SYMBOLS: read as derive.X by the proofs and codegen)
    CHANNELS,
    RATE_SYMBOLS,
    S3,
    Delta,
    M,
    b,
    drift,
    i,
    k,
    k2,
    k3,
    k4,
    m0,
    n,
    p,
    p01,
    p10,
    pi,
    r,
    sigma,
    t,
    u,
    v,
    w,
)

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

#: The symbols of the derivations, by name.
SYMBOLS = {
    "t": t, "u": u, "i": i, "n": n, "k": k, "pi": pi, "p": p, "p01": p01, "p10": p10,
    "Delta": Delta, "w": w, "v": v, "b": b, "S3": S3, "sigma": sigma, "r": r,
    "M": M, "k2": k2, "k3": k3, "k4": k4, "m0": m0, "drift": drift,
}


def mean_drift(encoding_name: str = "offset_binary", channel: str = "symmetric") -> sp.Expr:
    """``E[delta | w]`` as a function of ``w`` (Thm 3.2, A.8; general channels).

    The decoded value ``v`` is replaced by ``w / Delta``.
    """
    if encoding_name == "sign_magnitude":
        return sp.simplify(sign_magnitude_mean() - w)
    return sp.simplify(linear_cumulant(1, encoding_name, channel).subs(v, w / Delta))


def variance(encoding_name: str = "offset_binary", channel: str = "symmetric") -> sp.Expr:
    """``Var[delta | w]`` (Thm A.11), general ``n``."""
    return sp.simplify(linear_cumulant(2, encoding_name, channel).subs(v, w / Delta))


def msb_variance_share() -> sp.Expr:
    """Prop A.12: share of the variance carried by the most significant bit."""
    per_bit = Delta**2 * bernoulli_cumulant(2).subs(pi, p) * 4**i
    return sp.simplify(per_bit.subs(i, n - 1) / variance())


def third_cumulant() -> sp.Expr:
    """Thm A.13: ``kappa_3 = Delta**3 p(1-p)(1-2p) S3`` with ``S3 = sum_i s_i 8**i``.

    The sum over the bit pattern is kept as the symbol ``S3``.
    """
    return Delta**3 * bernoulli_cumulant(3).subs(pi, p) * S3


def fourth_cumulant() -> sp.Expr:
    """Thm A.14: ``kappa_4`` for the symmetric channel, general ``n``."""
    return sp.factor(linear_cumulant(4))


def skewness() -> sp.Expr:
    """Thm A.13: ``kappa_3 / Var**(3/2)`` in terms of ``S3``."""
    return sp.simplify(third_cumulant() / variance() ** sp.Rational(3, 2))


def excess_kurtosis() -> sp.Expr:
    """Thm A.14: ``kappa_4 / Var**2``, general ``n``."""
    return sp.simplify(fourth_cumulant() / variance() ** 2)


def lyapunov_ratio() -> sp.Expr:
    """Thm 3.4: ``sum_i E|X_i - E X_i|**3 / (sum_i Var X_i)**(3/2)``, general ``n``.

    ``X_i = F_i s_i 2**i Delta``; ``E|F - p|**3 = p(1-p)**3 + (1-p) p**3``.
    """
    third_abs = p * (1 - p) ** 3 + (1 - p) * p**3
    numerator = Delta**3 * third_abs * sp.Sum(8**i, (i, 0, n - 1)).doit()
    return sp.simplify(numerator / variance() ** sp.Rational(3, 2))


def mean_correction_factor() -> sp.Expr:
    """Prop 4.1: the pre-scaling factor ``1 / (1 - 2p)`` that undoes the shrinkage.

    Solved from ``(1 - 2p) x = 1``, the slope of the offset-binary drift.
    """
    slope = sp.diff(mean_drift("offset_binary") + w, w)
    x = sp.Symbol("x")
    (factor,) = sp.solve(sp.Eq(slope * x, 1), x)
    return factor


def compensated_mean() -> sp.Expr:
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


def __getattr__(name: str) -> object:
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
