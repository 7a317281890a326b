"""Private arithmetic of the law's routes (:mod:`qtaml_theory.law`; paper Section 3, A.3-A.8).

The formula route in units of Delta, exact-or-float products and sums over
bits, the Monte Carlo route's k-statistics, and the ratios and square roots
that keep every answer finite wherever the true value is.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np

from . import _closed_forms as cf
from ._cell_law import cell_cf, cell_unit_cumulants

_BERNOULLI_CUMULANTS = (cf.bernoulli_cumulant_1, cf.bernoulli_cumulant_2,
                        cf.bernoulli_cumulant_3, cf.bernoulli_cumulant_4)

def unit_cumulants(encoding, codes, channel):
    """``kappa_1..kappa_4`` of ``delta / Delta`` for checked codes (formula route).

    The Bernoulli cumulants keep their ``pi (1 - pi)`` factors (generated
    factored), so each term is accurate relative to itself near ``pi = 0``
    and ``pi = 1``; for sign-magnitude the mean is taken from the stored
    magnitude and the magnitude's drift, never as a difference of two
    nearly equal read-back means. A channel of multi-bit cells sums the
    cells' exact cumulants instead (:func:`cell_unit_cumulants`).
    """
    if channel.bits_per_cell > 1:
        return cell_unit_cumulants(encoding, codes, channel)
    exact = channel.is_exact
    bits = encoding.bits(codes)
    rates = channel.rates_for_bits(bits)
    dtype = object if exact else np.float64
    if encoding.is_linear:
        signs = (1 - 2 * bits).astype(dtype)
        amplitudes = signs * np.array(encoding.bit_weights, dtype=dtype)
        return [bit_sum(amplitudes, rates, m) for m in (1, 2, 3, 4)]
    magnitude_bits = bits[..., :-1]
    amplitudes = (1 - 2 * magnitude_bits).astype(dtype) * np.array(encoding.bit_weights, dtype=dtype)
    magnitude = magnitude_bits.astype(dtype) @ np.array(encoding.bit_weights, dtype=dtype)
    sigma = (1 - 2 * bits[..., -1]).astype(dtype)
    mag_rates = rates[..., :-1]
    drift = bit_sum(amplitudes, mag_rates, 1)
    mix = cf.sign_mixture_cumulants(
        sigma, rates[..., -1], magnitude + drift,
        *(bit_sum(amplitudes, mag_rates, m) for m in (2, 3, 4)),
    )
    return [cf.sign_mixture_error_mean(sigma, rates[..., -1], magnitude, drift), *mix[1:]]


def times_power(value, delta, power):
    """``value * delta**power`` by repeated multiplication.

    The partial products run monotonically from ``value`` to the result, so
    none overflows or underflows unless the result does (``delta**power``
    alone overflows for ``delta`` near the largest float).
    """
    for _ in range(power):
        value = value * delta
    return value


def bit_sum(amplitudes, rates, order):
    """``sum_i amplitudes_i**order * kappa_order(rates_i)`` over the last axis."""
    if amplitudes.shape[-1] == 0:
        return np.zeros(amplitudes.shape[:-1], dtype=amplitudes.dtype)
    return np.sum(amplitudes**order * _BERNOULLI_CUMULANTS[order - 1](rates), axis=-1)

def product_cf(t, amplitudes, rates):
    """``prod_i (1 - pi_i + pi_i exp(i t a_i))`` broadcast over ``t``."""
    terms = 1 - rates + rates * np.exp(1j * np.multiply.outer(t, amplitudes))
    return np.prod(terms, axis=-1)


def check_size(size):
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 2:
        raise ValueError(f"size must be an integer >= 2 for the montecarlo route, got {size!r}")
    return int(size)


def sample_cumulants(draws):
    """Unbiased k-statistics ``k_1..k_4`` of the draws (Fisher).

    From the sample's central moments ``m_j`` (about the sample mean, so no
    power sums cancel): ``k_2 = N m_2 / (N - 1)``, ``k_3 = N**2 m_3 / ((N - 1)(N - 2))``,
    ``k_4 = N**2 ((N + 1) m_4 - 3 (N - 1) m_2**2) / ((N - 1)(N - 2)(N - 3))``;
    NaN where ``N`` is too small for the order.
    """
    draws = np.asarray(draws, dtype=np.float64)
    size = draws.size
    mean = float(np.mean(draws))
    deviations = draws - mean
    m2, m3, m4 = (float(np.mean(deviations**j)) for j in (2, 3, 4))
    k2 = size * m2 / (size - 1)
    k3 = size**2 * m3 / ((size - 1) * (size - 2)) if size > 2 else math.nan
    k4 = (size**2 * ((size + 1) * m4 - 3 * (size - 1) * m2**2) / ((size - 1) * (size - 2) * (size - 3))
          if size > 3 else math.nan)
    return mean, k2, k3, k4


def skewness(k2, k3):
    """``k3 / k2**(3/2)`` as a float, NaN for ``k2 = 0``: exact ratio first, then one square root."""
    if not k2 > 0:
        return math.nan
    if isinstance(k2, Fraction):
        magnitude = sqrt_to_float(k3 * k3 / k2**3)
        return -magnitude if k3 < 0 else magnitude
    return (k3 / k2) / math.sqrt(k2)


def excess_kurtosis(k2, k4):
    """``k4 / k2**2``: a Fraction for exact input, else ``(k4 / k2) / k2`` (no underflow of ``k2**2``)."""
    if not k2 > 0:
        return math.nan
    if isinstance(k2, Fraction):
        return k4 / k2**2
    return (k4 / k2) / k2


#: Bits kept in the integer square root of :func:`_sqrt_to_float` (more than float64's 53).
_SQRT_BITS = 64


def sqrt_to_float(value):
    """``sqrt(value)`` of a non-negative Fraction as a float, within one unit in the last place.

    Works for values far outside the float range (an integer square root of
    a scaled value, then one exponent shift); ``inf`` where the root itself
    exceeds the largest float.
    """
    value = Fraction(value)
    if value == 0:
        return 0.0
    numerator, denominator = value.numerator, value.denominator
    shift = (2 * _SQRT_BITS - (numerator.bit_length() - denominator.bit_length())) // 2
    if shift >= 0:
        scaled = (numerator << (2 * shift)) // denominator
    else:
        scaled = numerator // (denominator << (-2 * shift))
    try:
        return math.ldexp(float(math.isqrt(scaled)), -shift)
    except OverflowError:
        return math.inf


def enumerated_law(encoding, code, factors, exact):
    """Distinct errors of ``code`` in units of Delta and their weights, over all flip masks.

    The error ``decode(code ^ mask) - decode(code)`` is an integer for every
    encoding (offsets cancel). The cells fail independently: ``factors[j]``
    holds the probabilities of cell ``j``'s ``2**w`` sub-masks (cells of
    ``w`` consecutive bits from bit 0; ``(1 - pi_i, pi_i)`` for a channel of
    independent bits), and each mask's probability is their product, built
    cell by cell. With rational probabilities the weights are integer
    numerators over ``total``, the product of the cells' common
    denominators, so the arithmetic stays in integers.

    Returns
    -------
    steps : ndarray of int64, sorted
    weights : list of int (exact) or ndarray of float64
    total : int or float
        The weights sum to ``total``.
    """
    n = encoding.n
    masks = np.arange(1 << n, dtype=np.int64)
    base = float(encoding.decode(code))
    steps = np.rint(encoding.decode(code ^ masks) - base).astype(np.int64)
    unique, inverse = np.unique(steps, return_inverse=True)
    if not exact:
        probabilities = np.ones(1)
        for factor in factors:
            probabilities = np.outer(np.asarray(factor, dtype=np.float64), probabilities).ravel()
        totals = np.bincount(inverse, weights=probabilities, minlength=unique.size)
        keep = totals > 0
        return unique[keep], totals[keep], 1.0
    weights, total = [1], 1
    for factor in factors:
        denominator = math.lcm(*(Fraction(x).denominator for x in factor))
        numerators = [int(Fraction(x) * denominator) for x in factor]
        weights = [x * numerator for numerator in numerators for x in weights]
        total *= denominator
    totals = [0] * unique.size
    for slot, weight in zip(inverse.tolist(), weights):
        totals[slot] += weight
    kept = [(s, c) for s, c in zip(unique.tolist(), totals) if c]
    return np.array([s for s, _ in kept], dtype=np.int64), [c for _, c in kept], total


def enumerated_cumulants(steps, weights, total, exact):
    """Cumulants of ``delta / Delta`` from the enumerated law (:func:`enumerated_law`'s output).

    Exact power sums with rational rates. In floats, the moments are taken
    about the most likely error first (an integer, so the deviations from
    it are exact), then about the mean: no cancellation when the law is
    concentrated near ``p = 0`` or ``p = 1``.
    """
    if exact:
        sums = [sum(s**j * c for s, c in zip(steps.tolist(), weights)) for j in range(5)]
        raw = [Fraction(x, total) for x in sums]
        mean = raw[1]
        central = [sum(math.comb(j, m) * raw[m] * (-mean) ** (j - m) for m in range(j + 1)) for j in (2, 3, 4)]
        return (mean, central[0], central[1], central[2] - 3 * central[0] ** 2)
    mode = steps[np.argmax(weights)]
    offsets = (steps - mode).astype(np.float64)
    shift = float(offsets @ weights)
    deviations = offsets - shift
    central = [float((deviations**j) @ weights) for j in (2, 3, 4)]
    return (float(mode) + shift, central[0], central[1], central[2] - 3 * central[0] ** 2)


def moment_cumulants(values, weights, exact):
    """``kappa_1..kappa_4`` of a finite law ``{values[i]: weights[i]}`` (weights summing to one).

    Moments about the mean, in Fractions when ``exact``; in floats the mean is
    taken first so the central moments carry no cancellation of raw moments.
    """
    if exact:
        mean = sum(v * w for v, w in zip(values, weights))
        central = [sum((v - mean) ** j * w for v, w in zip(values, weights)) for j in (2, 3, 4)]
    else:
        mean = float(values @ weights)
        deviations = values - mean
        central = [float((deviations**j) @ weights) for j in (2, 3, 4)]
    return (mean, central[0], central[1], central[2] - 3 * central[0] ** 2)


def channel_cf(t, encoding, code, channel, rates, delta):
    """Characteristic function of ``delta = w_hat - w`` of ``code`` under ``channel`` (Thm 3.1; A.8 for signs).

    ``rates`` are the channel's rates for the code's bits; multi-level cells
    take the product over cells (:func:`qtaml_theory._cell_law.cell_cf`).
    """
    if channel.bits_per_cell > 1:
        return cell_cf(t, encoding, code, channel, delta)
    rates = np.array([float(r) for r in rates])
    bits = encoding.bits(code)
    if encoding.is_linear:
        amplitudes = delta * (1 - 2 * bits) * np.array(encoding.bit_weights, dtype=np.float64)
        return product_cf(t, amplitudes, rates)
    amplitudes = delta * (1 - 2 * bits[:-1]) * np.array(encoding.bit_weights, dtype=np.float64)
    sigma = 1 - 2 * int(bits[-1])
    magnitude = abs(float(encoding.decode(code))) * delta
    r = rates[-1]

    def magnitude_cf(s):
        return np.exp(1j * s * magnitude) * product_cf(s, amplitudes, rates[:-1])

    # w_hat = sigma_hat * M_hat: a two-point mixture over the sign (A.8).
    stored = float(encoding.decode(code)) * delta
    return np.exp(-1j * t * stored) * ((1 - r) * magnitude_cf(sigma * t) + r * magnitude_cf(-sigma * t))
