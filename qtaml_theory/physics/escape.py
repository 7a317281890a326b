"""Step 2 of the device physics: escape of one electron over a window of attempts (Lemma A.8).

``method="exact"`` is ``1 - (1 - T)**(nu tau)``, ``method="rare"`` the rare
form ``nu tau T``; both are computed with ``log1p`` and ``expm1``, and the
``log_`` variant starts from ``log T``, so that nothing underflows or rounds
to 1.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .. import closed_forms as cf
from ..validation import check_finite_values, check_positive_values, check_probability_values
from .bounds import _EXP_CAP, ESCAPE_METHODS, RARE_LAMBDA, _method, _result, _warn_outside

#: ``log T`` below which ``-log1p(-T) = T`` to double precision (T < 1e-17).
_LOG_TINY_T = -40.0
#: ``log |x|`` below which ``log(-expm1(x)) = log(-x) + x / 2`` to double precision (|x| < 1e-10).
_LOG_SMALL_X = math.log(1e-10)
#: ``log |x|`` above which ``log(1 - e^x)`` is taken as ``log1p(-e^x)`` (|x| > log 2), below as
#: ``log(-expm1(x))``.
_LOG_LN2 = math.log(math.log(2.0))

def _attempts(attempt_frequency_hz, window_s):
    return (check_positive_values(attempt_frequency_hz, "attempt_frequency_hz", " Hz")
            * check_positive_values(window_s, "window_s", " s"))


def _rare_escape_log(log_t, attempts):
    """``log(A T)`` of the rare form, warning (and capping at 0) outside its regime."""
    log_rare = np.log(cf.rare_escape_probability(1.0, attempts)) + log_t
    outside = log_rare >= math.log(RARE_LAMBDA)
    if np.any(outside):
        worst = float(np.max(log_rare))
        capped = " and was capped at 1" if worst > 0 else ""
        _warn_outside(f"the rare escape form nu tau T is used at nu tau T = {math.exp(min(worst, _EXP_CAP)):.3g} "
                      f">= {RARE_LAMBDA} (relative error about nu tau T / 2){capped}; use method='exact'")
    return np.minimum(log_rare, 0.0)


def log_escape_probability(log_transmission_value: ArrayLike, attempt_frequency_hz: ArrayLike, window_s: ArrayLike,
                           method: str = "exact") -> float | np.ndarray:
    """Natural log of :func:`escape_probability`, from ``log T`` (works where T underflows).

    ``"exact"`` is exact to rounding for every ``log T <= 0`` and every number
    of attempts ``A``: with ``x = A log(1 - T)``, ``log(-expm1(x))``, where
    ``log(-x)`` is formed in logs (``log A + log T`` once ``T < 1e-17``),
    ``log1p(-exp(x))`` serves for ``|x| > log 2`` and ``log(-expm1(x))``
    below, down to ``|x| = 1e-10`` where ``log(-x) + x / 2`` takes over.
    ``"rare"`` is ``log A + log T``, capped at 0 with an
    :class:`ApproximationWarning` outside its regime.
    """
    method = _method(method, ESCAPE_METHODS)
    log_t = check_finite_values(log_transmission_value, "log_transmission")
    if np.any(log_t > 0):
        raise ValueError("log_transmission must be <= 0 (a transmission lies in [0, 1])")
    attempts = _attempts(attempt_frequency_hz, window_s)
    if method == "rare":
        result = _rare_escape_log(log_t, attempts)
    else:
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            # log(-log(1 - T)) = log T + log1p(T / 2 + ...): log T itself once T / 2 is below rounding; near
            # T = 1, log(1 - T) = log(-expm1(log T)) (T itself would round to 1).
            log_1mt = np.where(log_t > -math.log(2.0), np.log(-np.expm1(log_t)), np.log1p(-np.exp(log_t)))
            log_minus_log1m = np.where(log_t < _LOG_TINY_T, log_t, np.log(-log_1mt))
            log_x = np.log(attempts) + log_minus_log1m  # log|x|, x = A log(1 - T) <= 0
            size = np.exp(log_x)  # |x|; log(1 - e^x) in the form that keeps its digits at each size of |x|
            result = np.where(log_x > _LOG_LN2, np.log1p(-np.exp(-size)),
                              np.where(log_x > _LOG_SMALL_X, np.log(-np.expm1(-size)), log_x - size / 2))
    return _result(np.asarray(result, dtype=np.float64), log_transmission_value, attempt_frequency_hz, window_s)


def escape_probability(transmission_value: ArrayLike, attempt_frequency_hz: ArrayLike, window_s: ArrayLike,
                       method: str = "exact") -> float | np.ndarray:
    """Probability that one electron escapes within a window (Lemma A.8).

    Parameters
    ----------
    transmission_value : float or array_like
        Per-attempt transmission T in ``[0, 1]``.
    attempt_frequency_hz : float or array_like
        Attempt frequency nu in Hz.
    window_s : float or array_like
        Window tau in seconds; ``nu tau`` attempts.
    method : {"exact", "rare"}
        ``1 - (1 - T)**(nu tau)`` computed as ``-expm1(nu tau log1p(-T))``,
        exact to rounding for every T in [0, 1]; or ``nu tau T`` (Lemma A.8's
        rare form: an :class:`ApproximationWarning` at ``nu tau T >=
        RARE_LAMBDA``, and capped at 1 where it exceeds 1).

    Returns
    -------
    float or ndarray
    """
    method = _method(method, ESCAPE_METHODS)
    t = check_probability_values(transmission_value, "transmission_value")
    attempts = _attempts(attempt_frequency_hz, window_s)
    if method == "rare":
        value = cf.rare_escape_probability(t, attempts)
        with np.errstate(divide="ignore"):
            _rare_escape_log(np.log(value / attempts), attempts)  # the warning outside the regime
        value = np.minimum(value, 1.0)
    else:
        with np.errstate(divide="ignore"):
            value = -np.expm1(attempts * np.log1p(-t))
    return _result(np.asarray(value, dtype=np.float64), transmission_value, attempt_frequency_hz, window_s)
