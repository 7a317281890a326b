"""Device physics: from a gate-oxide barrier to the flip probability p, and back (Section 3, A.1-A.2).

The chain, each step by named methods:

1. :func:`transmission` through a rectangular barrier: ``method="wkb"``
   (Lemma A.7, ``exp(-2 kappa d)``) or ``method="exact"`` (the matched wave
   function, ``1 / (1 + V0**2 sinh(kappa d)**2 / (4 E (V0 - E)))``).
2. :func:`escape_probability` of one electron over a window of ``tau`` seconds
   with attempt frequency ``nu``: ``method="exact"``, ``1 - (1 - T)**(nu tau)``,
   or ``method="rare"``, ``nu tau T`` (Lemma A.8); computed with ``log1p`` and
   ``expm1`` so that it neither underflows nor rounds to 1.
3. :func:`flip_probability` of a bit storing ``N_e`` electrons.
   **Threshold convention**: the bit flips when *at least* ``K_th`` electrons
   escape, ``p = P(K >= K_th)``, ``K ~ Binomial(N_e, P_esc)`` (Definition A.9).
   ``method="binomial"`` (exact; ``"exact"`` is an alias), ``"poisson"``
   (Prop A.10, ``lambda = N_e P_esc``) or ``"rare"`` (``lambda**K_th / K_th!``).
   The binomial and Poisson tails are summed term by term from the side of
   the mode that holds fewer terms (so no term cancels another), in exact
   integer arithmetic scaled from a 40-digit mpmath log of the first term,
   with a rigorous bound on the terms left out: results are correct to double
   precision down to the smallest positive double, and the ``log_`` variants
   go further, without underflow, for every ``N_e <= MAX_ELECTRONS``.

Approximations used outside their regime (``method="rare"`` with an expected
count ``lambda >= RARE_LAMBDA``, ``method="poisson"`` with ``P_esc >
HIGH_ESCAPE``) emit an :class:`ApproximationWarning`; where a rare form
exceeds 1 it is **capped at 1** (with the warning), so that no function here
ever returns a probability above 1.

Every step also has a ``log_`` variant, used by :func:`device_flip_probability`
and by the inverse design (:func:`thickness_for_flip_probability`,
:func:`window_for_flip_probability`). Inputs are SI, with the unit in the
argument name; the effective mass is in units of the electron mass. Constants
come from :mod:`scipy.constants`. All functions broadcast over numpy arrays.

The closed forms (decay constant, exact prefactor, WKB exponent, rare forms)
are generated from :mod:`qtaml_theory.physics_derivations`.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import constants

from . import _closed_forms as cf
from .channels import DirectionalChannel, SymmetricChannel
from .validation import check_finite_values, check_positive_values, check_probability_values

__all__ = [
    "ApproximationWarning",
    "MAX_ELECTRONS",
    "BarrierMaterial",
    "SIO2",
    "HFO2",
    "MATERIALS",
    "Device",
    "transmission",
    "log_transmission",
    "escape_probability",
    "log_escape_probability",
    "flip_probability",
    "log_flip_probability",
    "device_flip_probability",
    "RegimeReport",
    "regime",
    "thickness_for_flip_probability",
    "window_for_flip_probability",
    "deployment_channel",
]

TRANSMISSION_METHODS = ("wkb", "exact")
ESCAPE_METHODS = ("exact", "rare")
FLIP_METHODS = ("binomial", "poisson", "rare")
_PRECISION_DIGITS = 40
#: Bits of the integer partial sums of the tails: the 40 digits plus 64 guard bits for the truncations.
_SUM_BITS = math.ceil(_PRECISION_DIGITS * math.log2(10)) + 64
#: Relative size of the terms left out of a tail sum (bounded rigorously) at which the summation stops.
_SUM_TOLERANCE = 10.0 ** -(_PRECISION_DIGITS + 5)
_LARGEST_DOUBLE = np.finfo(np.float64).max

#: Regime boundaries (A.2 made concrete): rare when lambda = N_e P_esc < RARE_LAMBDA,
#: high-escape when P_esc > HIGH_ESCAPE, transition otherwise. The rare forms (``nu tau T`` for the
#: escape, ``lambda**K / K!`` for the flip) warn at an expected count of RARE_LAMBDA or more, the Poisson
#: tail above HIGH_ESCAPE.
RARE_LAMBDA = 0.1
HIGH_ESCAPE = 0.1

#: Most electrons a cell may store: the exact tails sum up to about 14 standard deviations of terms
#: (0.2 million at 1e9 electrons and P_esc = 1/2). Real cells hold tens to about 1e5 electrons.
MAX_ELECTRONS = 10**9


class ApproximationWarning(UserWarning):
    """An approximate method was used outside the regime where it holds (A.2).

    Emitted by ``method="rare"`` (escape and flip) at an expected count of
    :data:`RARE_LAMBDA` or more, and by ``method="poisson"`` at an escape
    probability above :data:`HIGH_ESCAPE`. The message says how far outside
    the regime the inputs are, and when a rare form above 1 was capped at 1.
    Silence it with ``warnings.simplefilter("ignore", ApproximationWarning)``,
    or use the exact method.
    """


def _warn_outside(message):
    warnings.warn(message, ApproximationWarning, stacklevel=4)


@dataclass(frozen=True)
class BarrierMaterial:
    """A gate-oxide barrier: conduction-band offset to silicon and tunneling effective mass.

    Attributes
    ----------
    name : str
    barrier_ev : float
        Barrier height V0 in eV.
    effective_mass : float
        Tunneling effective mass in units of the electron mass.
    source : str
        Where the values come from.
    """

    name: str
    barrier_ev: float
    effective_mass: float
    source: str


#: SiO2-like stack: Si/SiO2 conduction-band offset 3.15 eV and oxide effective mass 0.42 m_e, as fitted to
#: direct-tunneling currents by Depas et al., Solid-State Electronics 38, 1465 (1995); representative values.
SIO2 = BarrierMaterial("SiO2", 3.15, 0.42,
                       "Depas et al., Solid-State Electron. 38, 1465 (1995): V0 = 3.15 eV, m* = 0.42 m_e")
#: HfO2-like stack: conduction-band offset to Si 1.5 eV (Robertson, J. Vac. Sci. Technol. B 18, 1785 (2000))
#: and tunneling effective mass 0.11 m_e (Zhu et al., IEEE Electron Device Lett. 23, 97 (2002)); representative.
HFO2 = BarrierMaterial("HfO2", 1.5, 0.11,
                       "Robertson, JVST B 18, 1785 (2000): V0 = 1.5 eV; Zhu et al., IEEE EDL 23, 97 (2002): "
                       "m* = 0.11 m_e")
MATERIALS = {"sio2": SIO2, "hfo2": HFO2}


# -- argument checks ------------------------------------------------------------

def _counts(electrons, threshold):
    for name, value in (("electrons", electrons), ("threshold", threshold)):
        array = np.asarray(value)
        if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or (
                np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array))
                and np.all(array == np.round(array)))):
            raise ValueError(f"{name} must be a whole number of electrons, got {value!r}")
    electrons = np.asarray(electrons).astype(np.int64)
    threshold = np.asarray(threshold).astype(np.int64)
    if np.any(threshold < 1):
        raise ValueError(f"threshold must be an integer >= 1, got {threshold.tolist()}")
    if np.any(electrons < threshold):
        raise ValueError(f"electrons must be >= threshold (N_e >= K_th), got N_e = {electrons.tolist()} "
                         f"and K_th = {threshold.tolist()}")
    if np.any(electrons > MAX_ELECTRONS):
        raise ValueError(f"electrons must be <= MAX_ELECTRONS = {MAX_ELECTRONS:.0e} (threshold <= N_e <= "
                         f"{MAX_ELECTRONS:.0e}), got {electrons.max()}")
    return electrons, threshold


def _method(method, allowed, aliases=None):
    method = (aliases or {}).get(method, method)
    if method not in allowed:
        raise ValueError(f"method must be one of {allowed}, got {method!r}")
    return method


def _result(array, *inputs):
    """A Python float when every input was a scalar, else the array."""
    return float(array) if all(np.ndim(x) == 0 for x in inputs) else array


# -- 1. transmission ------------------------------------------------------------

#: Above this ``u = kappa d``, ``log sinh(u)`` is taken as ``u + log1p(-exp(-2u)) - log 2``; below, directly.
_SINH_SWITCH = 20.0

def _kappa(barrier_ev, energy_ev, effective_mass):
    """Decay constant in 1/m (generated from the Schrodinger equation).

    Evaluated in eV and scaled by ``sqrt(eV / J)`` afterwards: ``V0 - E`` is then
    a difference of the inputs themselves, exact when they are close (a
    difference of two products would lose ``log10(V0 / (V0 - E))`` digits).
    """
    return cf.decay_constant(barrier_ev, energy_ev, effective_mass * constants.m_e, constants.hbar) * math.sqrt(
        constants.electron_volt)


def _check_barrier(thickness_m, barrier_ev, energy_ev, effective_mass, method):
    thickness = check_positive_values(thickness_m, "thickness_m", " m")
    barrier = check_positive_values(barrier_ev, "barrier_ev", " eV")
    energy = check_finite_values(energy_ev, "energy_ev")
    mass = check_positive_values(effective_mass, "effective_mass", " (units of the electron mass)")
    if np.any(energy >= barrier):
        raise ValueError("energy_ev must be below barrier_ev: at or above the barrier the electron is not "
                         "tunneling and the formulas do not apply")
    low = 0 if method == "wkb" else np.nextafter(0, 1)
    if np.any(energy < low):
        raise ValueError(f"energy_ev must be {'>= 0' if method == 'wkb' else '> 0'} eV for the {method} "
                         f"transmission, got {energy_ev!r}")
    return thickness, barrier, energy, mass


def log_transmission(thickness_m, barrier_ev, energy_ev, effective_mass=1.0, method="wkb"):
    """Natural log of :func:`transmission` (never underflows)."""
    method = _method(method, TRANSMISSION_METHODS)
    thickness, barrier, energy, mass = _check_barrier(thickness_m, barrier_ev, energy_ev, effective_mass, method)
    kappa = _kappa(barrier, energy, mass)
    if method == "wkb":
        result = cf.wkb_log_transmission(kappa, thickness)
    else:
        # T = 1 / (1 + c sinh(u)**2), u = kappa d; log(c sinh(u)**2) without overflow (large u) and
        # without cancellation (small u, where 1 - exp(-2u) would lose digits).
        u = kappa * thickness
        with np.errstate(over="ignore"):
            log_sinh = np.where(u > _SINH_SWITCH, u + np.log1p(-np.exp(-2 * u)) - math.log(2),
                                np.log(np.sinh(np.minimum(u, _SINH_SWITCH))))
        result = -np.logaddexp(0.0, np.log(cf.transmission_prefactor(barrier, energy)) + 2 * log_sinh)
    return _result(np.asarray(result, dtype=np.float64), thickness_m, barrier_ev, energy_ev, effective_mass)


def transmission(thickness_m, barrier_ev, energy_ev, effective_mass=1.0, method="wkb"):
    """Probability that one electron at energy E tunnels through a rectangular barrier.

    Parameters
    ----------
    thickness_m : float or array_like
        Barrier (oxide) thickness d in metres, > 0.
    barrier_ev : float or array_like
        Barrier height V0 in eV, > 0.
    energy_ev : float or array_like
        Electron energy E in eV, below the barrier (``>= 0`` for WKB, ``> 0``
        for the exact form).
    effective_mass : float or array_like, optional
        Effective mass in units of the electron mass (default 1).
    method : {"wkb", "exact"}
        ``"wkb"``: ``exp(-2 kappa d)``, ``kappa = sqrt(2 m* (V0 - E)) / hbar``
        (Lemma A.7). ``"exact"``: ``1 / (1 + V0**2 sinh(kappa d)**2 / (4 E (V0 - E)))``.

    Returns
    -------
    float or ndarray

    Notes
    -----
    For thick barriers ``T_exact / T_WKB -> 16 E (V0 - E) / V0**2`` (the
    prefactor WKB's exponent leaves out; :data:`qtaml_theory._closed_forms.wkb_prefactor`).

    Examples
    --------
    >>> from qtaml_theory.physics import SIO2, transmission
    >>> t = transmission(2.1e-9, SIO2.barrier_ev, 0.1, SIO2.effective_mass)
    >>> f"{t:.3e}"
    '2.651e-11'
    """
    method = _method(method, TRANSMISSION_METHODS)
    thickness, barrier, energy, mass = _check_barrier(thickness_m, barrier_ev, energy_ev, effective_mass, method)
    kappa = _kappa(barrier, energy, mass)
    if method == "wkb":
        value = np.exp(cf.wkb_log_transmission(kappa, thickness))
    else:
        u = kappa * thickness
        with np.errstate(over="ignore"):
            direct = 1.0 / (1.0 + cf.transmission_prefactor(barrier, energy) * np.sinh(np.minimum(u, 700.0)) ** 2)
        value = np.where(u < 300, direct, np.exp(np.asarray(log_transmission(thickness, barrier, energy, mass,
                                                                              method))))
    return _result(np.asarray(value, dtype=np.float64), thickness_m, barrier_ev, energy_ev, effective_mass)


# -- 2. escape ------------------------------------------------------------------

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
        _warn_outside(f"the rare escape form nu tau T is used at nu tau T = {math.exp(min(worst, 700.0)):.3g} "
                      f">= {RARE_LAMBDA} (relative error about nu tau T / 2){capped}; use method='exact'")
    return np.minimum(log_rare, 0.0)


def log_escape_probability(log_transmission_value, attempt_frequency_hz, window_s, method="exact"):
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


def escape_probability(transmission_value, attempt_frequency_hz, window_s, method="exact"):
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


# -- 3. flip --------------------------------------------------------------------

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
        capped = f" and gives lambda**K / K! = {math.exp(min(worst, 700.0)):.3g} > 1, capped at 1" if worst > 0 else ""
        _warn_outside(f"the rare form lambda**K / K! is used at lambda = N_e P_esc = "
                      f"{math.exp(min(float(np.max(log_lam)), 700.0)):.3g} >= {RARE_LAMBDA}{capped}; use "
                      f"method='binomial'")
    log_p = np.minimum(log_p, 0.0)
    return log_p if log else np.exp(log_p)


def log_flip_probability(log_escape_probability_value, electrons, threshold, method="binomial"):
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


def flip_probability(escape_probability_value, electrons, threshold, method="binomial"):
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


# -- the whole chain ------------------------------------------------------------

@dataclass(frozen=True)
class Device:
    """A tunneling-prone memory cell, in SI units.

    Attributes
    ----------
    thickness_m : float
        Oxide (barrier) thickness d in metres.
    barrier_ev : float
        Barrier height V0 in eV.
    effective_mass : float
        Tunneling effective mass, units of the electron mass.
    energy_ev : float
        Energy of a stored electron in eV, below the barrier.
    attempt_frequency_hz : float
        Attempt frequency nu in Hz.
    electrons : int
        Electrons stored in a charged cell, N_e.
    threshold : int
        A bit flips when at least K_th = ``threshold`` electrons escape.

    Notes
    -----
    Use :meth:`from_material` with a preset (:data:`SIO2`, :data:`HFO2`) or
    your own :class:`BarrierMaterial`. Invalid values raise ``ValueError``.
    """

    thickness_m: float
    barrier_ev: float
    effective_mass: float
    energy_ev: float
    attempt_frequency_hz: float
    electrons: int
    threshold: int

    def __post_init__(self):
        _check_barrier(self.thickness_m, self.barrier_ev, self.energy_ev, self.effective_mass, "exact")
        check_positive_values(self.attempt_frequency_hz, "attempt_frequency_hz", " Hz")
        for name in ("electrons", "threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an integer number of electrons, got {value!r}")
        _counts(self.electrons, self.threshold)

    @classmethod
    def from_material(cls, material, thickness_m, energy_ev, attempt_frequency_hz, electrons, threshold):
        """A device whose barrier height and effective mass come from ``material``."""
        return cls(thickness_m, material.barrier_ev, material.effective_mass, energy_ev, attempt_frequency_hz,
                   electrons, threshold)

    def replace(self, **changes):
        """A copy with some fields changed (validated again)."""
        fields = {**self.__dict__, **changes}
        return Device(**fields)


def _device_log_flip(device, window_s, transmission_method, flip_method, thickness_m=None):
    log_t = log_transmission(device.thickness_m if thickness_m is None else thickness_m, device.barrier_ev,
                             device.energy_ev, device.effective_mass, transmission_method)
    log_escape = log_escape_probability(log_t, device.attempt_frequency_hz, window_s)
    return log_flip_probability(log_escape, device.electrons, device.threshold, flip_method)


def device_flip_probability(device, window_s, method="binomial", transmission_method="exact", log=False):
    """Flip probability of a device over a window: transmission, escape, threshold tail.

    Parameters
    ----------
    device : Device
    window_s : float or array_like
        Inference window tau in seconds.
    method : {"binomial", "exact", "poisson", "rare"}
        The tail (see :func:`flip_probability`).
    transmission_method : {"exact", "wkb"}
        The barrier transmission (see :func:`transmission`).
    log : bool
        Return ``log p`` (no underflow).
    """
    result = _device_log_flip(device, window_s, transmission_method, method)
    return result if log else _result(np.exp(np.asarray(result)), window_s)


@dataclass(frozen=True)
class RegimeReport:
    """Which regime of A.2 a device is in, and each approximation's relative error.

    ``regime`` is ``"rare"`` when ``lambda = N_e P_esc < RARE_LAMBDA`` (0.1),
    ``"high-escape"`` when ``P_esc > HIGH_ESCAPE`` (0.1: the Poisson
    approximation of the binomial degrades), and ``"transition"`` otherwise.

    ``exact``, ``poisson`` and ``rare`` are what :func:`flip_probability`
    returns with each method, as floats (0 where they underflow; the rare
    form capped at 1). ``log_exact`` and ``log_poisson`` are their natural
    logs, which never underflow; ``log_rare`` is the log of the rare *form*
    ``lambda**K / K!`` itself, before the cap (above 0 outside its regime).
    The relative errors ``|form / exact - 1|`` are computed from these logs,
    so they stay right however small ``p`` is, and ``rare_relative_error``
    shows how far the form is off even where the returned value is capped.
    """

    regime: str
    escape_probability: float
    mean_escaped: float
    exact: float
    poisson: float
    rare: float
    poisson_relative_error: float
    rare_relative_error: float
    log_exact: float
    log_poisson: float
    log_rare: float


def regime(escape_probability_value, electrons, threshold):
    """Classify the regime and measure the Poisson and rare forms against the exact tail.

    Parameters
    ----------
    escape_probability_value : float
        ``P_esc`` in ``(0, 1]``.
    electrons, threshold : int
        As in :func:`flip_probability`.

    Returns
    -------
    RegimeReport
        No :class:`ApproximationWarning` is emitted: measuring the
        approximations outside their regime is the point.
    """
    if np.ndim(escape_probability_value) != 0:
        raise ValueError(f"escape_probability_value must be a single number, got {escape_probability_value!r}")
    p_esc = float(check_probability_values(escape_probability_value, "escape_probability_value"))
    if p_esc == 0:
        raise ValueError("escape_probability_value must be > 0 to compare the approximations")
    n, k = (int(c) for c in _counts(electrons, threshold))
    log_exact = float(_tail_array(p_esc, n, k, "binomial", from_log=False, log=True))
    log_poisson = float(_tail_array(p_esc, n, k, "poisson", from_log=False, log=True))
    log_rare = float(cf.rare_log_flip_probability(math.log(n) + math.log(p_esc), k))
    lam = n * p_esc
    name = "rare" if lam < RARE_LAMBDA else ("high-escape" if p_esc > HIGH_ESCAPE else "transition")
    with np.errstate(over="ignore"):
        poisson_error, rare_error = (abs(math.expm1(min(log - log_exact, 700.0))) for log in (log_poisson, log_rare))
    return RegimeReport(name, p_esc, lam, math.exp(log_exact), math.exp(log_poisson), math.exp(min(log_rare, 0.0)),
                        poisson_error, rare_error, log_exact, log_poisson, log_rare)


# -- inverse design -------------------------------------------------------------

def _check_target(target_p):
    target = float(check_finite_values(target_p, "target_p"))
    if not 0 < target < 1:
        raise ValueError(f"target_p must lie in (0, 1), got {target_p!r}")
    return math.log(target)


def _solve_monotone(objective, low, high, name, unit):
    """Root of a monotone ``objective`` on ``[low, high]`` by Brent's method (bracketing)."""
    from scipy.optimize import brentq

    at_low, at_high = objective(low), objective(high)
    if at_low * at_high > 0:
        raise ValueError(f"target_p cannot be reached for {name} in [{low:g}, {high:g}] {unit}: "
                         f"log p runs from {at_low + 0:.4g} to {at_high + 0:.4g} about the target there")
    return brentq(objective, low, high, xtol=1e-15 * max(abs(low), abs(high)), rtol=1e-12, maxiter=200)


def thickness_for_flip_probability(target_p, device, window_s, bracket_m=(1e-10, 2e-8), method="binomial",
                                   transmission_method="exact"):
    """Oxide thickness that gives flip probability ``target_p`` over ``window_s`` (inverse design).

    ``p`` falls monotonically with thickness; the root of ``log p(d) = log target``
    is bracketed in ``bracket_m`` and found by Brent's method. ``device``'s own
    thickness is ignored.

    Raises
    ------
    ValueError
        If ``target_p`` is outside (0, 1) or cannot be reached inside the bracket
        (the message gives the range of ``log p`` there).
    """
    log_target = _check_target(target_p)
    low, high = (float(b) for b in bracket_m)
    if not 0 < low < high:
        raise ValueError(f"bracket_m must be (low, high) with 0 < low < high, got {bracket_m!r}")

    def gap(thickness):
        return float(_device_log_flip(device, window_s, transmission_method, method, thickness)) - log_target

    return _solve_monotone(gap, low, high, "thickness", "m")


def window_for_flip_probability(target_p, device, bracket_s=(1e-12, 1e12), method="binomial",
                                transmission_method="exact"):
    """Window length that gives flip probability ``target_p`` (p rises with the window)."""
    log_target = _check_target(target_p)
    low, high = (float(b) for b in bracket_s)
    if not 0 < low < high:
        raise ValueError(f"bracket_s must be (low, high) with 0 < low < high, got {bracket_s!r}")

    def gap(log_window):
        return float(device_flip_probability(device, math.exp(log_window), method, transmission_method,
                                             log=True)) - log_target

    return math.exp(_solve_monotone(gap, math.log(low), math.log(high), "log window", "(log s)"))


def deployment_channel(device, window_s, model="charge_loss", method="binomial"):
    """The flip channel that ``qtaml_tac`` deploys with, from a device description.

    Parameters
    ----------
    device : Device
    window_s : float
        Inference window in seconds.
    model : {"charge_loss", "symmetric"}
        ``"charge_loss"``: forward-only tunneling empties charged cells, so a
        stored 1 (charged) reads back as 0 with ``p`` and a stored 0 never
        flips: ``DirectionalChannel(p01=0, p10=p)``. ``"symmetric"``: the
        paper's channel, every bit with ``p`` (Section 3's assumption).
    method : str
        The tail of :func:`flip_probability`.
    """
    p = float(device_flip_probability(device, window_s, method))
    if model == "charge_loss":
        return DirectionalChannel(0.0, p)
    if model == "symmetric":
        return SymmetricChannel(p)
    raise ValueError(f"model must be 'charge_loss' or 'symmetric', got {model!r}")
