"""The sign-magnitude law: a sign flip multiplies the value by -1 (paper A.8).

Sign-magnitude is not a linear encoding, so Theorem 3.1's sum over bits does
not apply to the sign bit: the read-back is a two-point mixture of the
magnitude's read-back and its negation (:func:`sign_mixture_cumulants`), whose
mean (:func:`sign_magnitude_mean`) and variance
(:func:`sign_magnitude_variance`) follow for general ``n``. Re-exported by
:mod:`qtaml_theory.derive`.
"""

from __future__ import annotations

import sympy as sp

from ._derive_bit_sums import _reduce_binary, linear_cumulant
from ._derive_symbols import CHANNELS, Delta, M, b, drift, i, k2, k3, k4, m0, n, p, r, sigma, w

__all__ = [
    "sign_mixture_cumulants",
    "sign_mixture_error_mean",
    "sign_magnitude_mean",
    "sign_magnitude_variance",
]


def sign_mixture_cumulants() -> tuple[sp.Expr, sp.Expr, sp.Expr, sp.Expr]:
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


def sign_mixture_error_mean() -> sp.Expr:
    """``E[w_hat - w]`` for sign-magnitude from the stored magnitude ``m0`` and the magnitude's drift (A.8).

    With ``M = m0 + drift`` in :func:`sign_mixture_cumulants`, the stored value
    ``w = sigma m0`` is subtracted symbolically, so that the result,
    ``sigma ((1 - 2r) drift - 2 r m0)``, has no cancellation when flips are rare.
    """
    return sp.expand(sign_mixture_cumulants()[0].subs(M, m0 + drift) - sigma * m0)


def _reduce_sign(expr: sp.Expr) -> sp.Expr:
    """Use ``sigma**2 = 1`` for a stored sign ``sigma = +-1``."""
    poly = sp.Poly(expr, sigma)
    return sp.expand(sum(coeff * sigma ** (j % 2) for (j,), coeff in poly.terms()))


def sign_magnitude_mean(channel: str = "symmetric") -> sp.Expr:
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


def sign_magnitude_variance() -> sp.Expr:
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
