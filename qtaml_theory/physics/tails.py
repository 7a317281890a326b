"""Step 3 of the device physics: the flip probability, a tail of the escaped count (Def A.9, Prop A.10).

A bit storing ``N_e`` electrons flips when at least ``K_th`` escape:
``p = P(K >= K_th)`` with ``K ~ Binomial(N_e, P_esc)`` (``method="binomial"``),
its Poisson approximation (Prop A.10) or the rare form ``lambda**K_th / K_th!``.
The binomial and Poisson tails are summed term by term from the side of the
mode that holds fewer terms, in exact integer arithmetic scaled from a
40-digit mpmath log of the first term, with a rigorous bound on the terms
left out.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .. import closed_forms as cf
from ..validation import check_finite_values, check_probability_values
from .bounds import (
    _EXP_CAP,
    FLIP_METHODS,
    HIGH_ESCAPE,
    RARE_LAMBDA,
    _counts,
    _method,
    _result,
    _warn_outside,
)

#: Decimal digits of the mpmath arithmetic of the tails: double precision (about 16) with room to spare.
_PRECISION_DIGITS = 40
#: Bits of the integer partial sums of the tails: the 40 digits plus 64 guard bits for the truncations.
_SUM_BITS = math.ceil(_PRECISION_DIGITS * math.log2(10)) + 64
#: Relative size of the terms left out of a tail sum (bounded rigorously) at which the summation stops.
_SUM_TOLERANCE = 10.0 ** -(_PRECISION_DIGITS + 5)
_LARGEST_DOUBLE = np.finfo(np.float64).max


def _scaled_sum(ratio, numerator, denominator, steps):
    """``sum_{i >= 0} prod_{l < i} ratio * numerator(l) / denominator(l)`` as an integer over ``2**_SUM_BITS``.

    Each factor must be below 1 and must not grow with ``l`` (true on the far
    side of a binomial or Poisson mode), so that after term ``t`` the terms left
    out sum to at most ``t f / (1 - f)``, ``f`` the next factor: the loop stops
    when that bound falls below ``_SUM_TOLERANCE`` of the sum, or after
    ``steps`` factors (``None``: no end). ``ratio`` is an mpmath number, used
    exactly through its binary mantissa and exponent; each truncation costs at
    most one unit of ``2**-_SUM_BITS``.
    """
    sign, mantissa, exponent, _ = ratio._mpf_
    if sign or not mantissa:
        raise ValueError(f"the ratio of a tail sum must be > 0, got {ratio}")
    ratio_float = float(ratio)
    term = total = 1 << _SUM_BITS
    index = 0
    while steps is None or index < steps:
        term *= mantissa * numerator(index)
        term = (term << exponent) if exponent >= 0 else (term >> -exponent)
        term //= denominator(index)
        if term == 0:
            break
        total += term
        index += 1
        following = ratio_float * numerator(index) / denominator(index)
        if following < 1 and term / total * following / (1 - following) < _SUM_TOLERANCE:
            break
    return total


def _log_tail(escape, electrons, threshold, method, from_log):
    """``log P(K >= K_th)`` as an mpmath number (so that it never underflows), ``K`` binomial or Poisson.

    ``escape`` is ``P_esc`` itself, or its log when ``from_log``: each is taken
    as exact (``P_esc`` is not rebuilt from a rounded log: at ``N_e = 1e7`` that
    would cost 13 digits).

    The tail is summed from the side of the mode that does not contain it:
    above, ``sum_{j >= K_th}``; below, ``1 - sum_{j < K_th}`` (then the tail is
    at least about 1/2 and nothing cancels). Both sums start from their term
    nearest the mode (its log in mpmath at 40 digits plus the digits that
    ``loggamma(N_e)`` takes) and run outwards with falling term ratios (see
    :func:`_scaled_sum`).
    """
    import mpmath

    n, k = int(electrons), int(threshold)
    with mpmath.workdps(_PRECISION_DIGITS + 10 + len(str(n))):
        if from_log:
            log_q = mpmath.mpf(escape)
            q = mpmath.exp(log_q)
        else:
            q = mpmath.mpf(escape)
            if q == 0:
                return mpmath.mpf("-inf")
            log_q = mpmath.log(q)
        if method == "binomial":
            if q >= 1:
                return mpmath.mpf(0)
            log_1mq = mpmath.log1p(-q)
            rho = q / (1 - q)  # the odds: pmf(j + 1) / pmf(j) = rho (N - j) / (j + 1)
            mode = int(mpmath.floor((n + 1) * q))

            def log_pmf(j):
                return (mpmath.loggamma(n + 1) - mpmath.loggamma(j + 1) - mpmath.loggamma(n - j + 1)
                        + j * log_q + (n - j) * log_1mq)

            if k > mode:
                total = _scaled_sum(rho, lambda i: n - k - i, lambda i: k + i + 1, n - k)
                return log_pmf(k) + mpmath.log(total) - _SUM_BITS * mpmath.log(2)
            total = _scaled_sum(1 / rho, lambda i: k - 1 - i, lambda i: n - k + 2 + i, k - 1)
            lower = mpmath.exp(log_pmf(k - 1)) * total / mpmath.mpf(2) ** _SUM_BITS
            return mpmath.log1p(-lower)
        log_lam = mpmath.log(n) + log_q
        lam = mpmath.exp(log_lam)
        mode = int(mpmath.floor(lam))

        def log_pmf(j):
            return -lam + j * log_lam - mpmath.loggamma(j + 1)

        if k > mode:
            total = _scaled_sum(lam, lambda i: 1, lambda i: k + i + 1, None)
            return log_pmf(k) + mpmath.log(total) - _SUM_BITS * mpmath.log(2)
        total = _scaled_sum(1 / lam, lambda i: k - 1 - i, lambda i: 1, k - 1)
        lower = mpmath.exp(log_pmf(k - 1)) * total / mpmath.mpf(2) ** _SUM_BITS
        return mpmath.log1p(-lower)


def _tail_array(escape, electrons, threshold, method, from_log, log):
    """:func:`_log_tail` over broadcast arrays, rounded once to float (``p`` or ``log p``)."""
    import mpmath

    def one(value, n, k):
        log_tail = _log_tail(float(value), n, k, method, from_log)
        if log:
            return float(log_tail) if log_tail > -_LARGEST_DOUBLE else -math.inf
        with mpmath.workdps(_PRECISION_DIGITS):
            return float(mpmath.exp(log_tail))

    escape, electrons, threshold = np.broadcast_arrays(escape, electrons, threshold)
    return np.asarray(np.frompyfunc(one, 3, 1)(escape, electrons, threshold), dtype=np.float64)


def _approximate_flip(escape, from_log, electrons, threshold, method, log):
    """``p`` (or ``log p``) of the Poisson or rare form, warning (and capping the rare form at 1) outside
    its regime.

    ``escape`` is ``P_esc``, or its log when ``from_log`` (see :func:`_log_tail`).
    """
    with np.errstate(divide="ignore"):
        log_escape = escape if from_log else np.log(escape)
    if method == "poisson":
        if np.any(log_escape > math.log(HIGH_ESCAPE)):
            _warn_outside(f"the Poisson tail is used at P_esc = {math.exp(float(np.max(log_escape))):.3g} > "
                          f"{HIGH_ESCAPE} (high-escape regime, where it departs from the binomial); use "
                          f"method='binomial'")
        return _tail_array(escape, electrons, threshold, method, from_log, log)
    log_lam = np.log(electrons) + log_escape
    log_p = cf.rare_log_flip_probability(log_lam, threshold)
    if np.any(log_lam >= math.log(RARE_LAMBDA)):
        worst = float(np.max(log_p))
        capped = (f" and gives lambda**K / K! = {math.exp(min(worst, _EXP_CAP)):.3g} > 1, capped at 1"
                  if worst > 0 else "")
        _warn_outside(f"the rare form lambda**K / K! is used at lambda = N_e P_esc = "
                      f"{math.exp(min(float(np.max(log_lam)), _EXP_CAP)):.3g} >= {RARE_LAMBDA}{capped}; use "
                      f"method='binomial'")
    log_p = np.minimum(log_p, 0.0)
    return log_p if log else np.exp(log_p)


def log_flip_probability(log_escape_probability_value: ArrayLike, electrons: ArrayLike, threshold: ArrayLike,
                         method: str = "binomial") -> float | np.ndarray:
    """Natural log of :func:`flip_probability`, from ``log P_esc`` (no underflow, to any depth)."""
    method = _method(method, FLIP_METHODS, {"exact": "binomial"})
    log_escape = check_finite_values(log_escape_probability_value, "log_escape_probability")
    if np.any(log_escape > 0):
        raise ValueError("log_escape_probability must be <= 0 (a probability lies in [0, 1])")
    electrons_array, threshold_array = _counts(electrons, threshold)
    if method == "binomial":
        result = _tail_array(log_escape, electrons_array, threshold_array, method, from_log=True, log=True)
    else:
        result = _approximate_flip(log_escape, True, electrons_array, threshold_array, method, log=True)
    return _result(np.asarray(result, dtype=np.float64), log_escape_probability_value, electrons, threshold)


def flip_probability(escape_probability_value: ArrayLike, electrons: ArrayLike, threshold: ArrayLike,
                     method: str = "binomial") -> float | np.ndarray:
    """Probability that a stored bit flips: at least ``threshold`` of ``electrons`` escape (Def A.9).

    Parameters
    ----------
    escape_probability_value : float or array_like
        Per-electron escape probability ``P_esc`` over the window, in ``[0, 1]``.
    electrons : int or array_like of int
        Electrons stored in the cell, ``N_e >= threshold``.
    threshold : int or array_like of int
        ``K_th >= 1``: the bit flips when ``K >= K_th`` electrons escape.
    method : {"binomial", "exact", "poisson", "rare"}
        ``"binomial"`` (alias ``"exact"``): ``P(K >= K_th)``, ``K ~ Binomial(N_e, P_esc)``;
        ``"poisson"``: ``K ~ Poisson(N_e P_esc)`` (Prop A.10), with an
        :class:`ApproximationWarning` at ``P_esc > HIGH_ESCAPE``;
        ``"rare"``: ``lambda**K_th / K_th!``, with an :class:`ApproximationWarning`
        at ``lambda >= RARE_LAMBDA``, capped at 1 where it exceeds 1.

    Returns
    -------
    float or ndarray
        The binomial and Poisson tails are correct to double precision (one
        rounding of a 40-digit sum) down to the smallest positive double;
        below it they round to 0, and :func:`log_flip_probability` goes on.

    Raises
    ------
    ValueError
        If ``P_esc`` is outside [0, 1], a count is not a whole number,
        ``threshold < 1``, ``electrons < threshold`` or ``electrons >
        MAX_ELECTRONS``.

    Examples
    --------
    >>> from qtaml_theory.physics import flip_probability
    >>> f"{flip_probability(1e-5, 1000, 3):.6e}"
    '1.649294e-07'
    >>> f"{flip_probability(1e-5, 1000, 3, method='rare'):.6e}"
    '1.666667e-07'
    """
    method = _method(method, FLIP_METHODS, {"exact": "binomial"})
    p_esc = check_probability_values(escape_probability_value, "escape_probability_value")
    electrons_array, threshold_array = _counts(electrons, threshold)
    if method == "binomial":
        value = _tail_array(p_esc, electrons_array, threshold_array, method, from_log=False, log=False)
    else:
        value = _approximate_flip(p_esc, False, electrons_array, threshold_array, method, log=False)
    return _result(np.asarray(value, dtype=np.float64), escape_probability_value, electrons, threshold)
