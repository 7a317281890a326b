"""Private core of the law of a table encoding's read-back error (:mod:`qtaml_theory.float_law`; issue 15).

The read-back of code ``c`` is ``table[c ^ mask]``; the bits flip
independently. Floats are not linear in their bits, so the law is a sum
over flip masks, done for many codes at once (rows: codes, columns: masks).

Masks are counted from each code's *most likely read*: a bit whose flip
rate exceeds 1/2 most likely reads flipped, so with ``rho_i = min(pi_i, 1 -
pi_i)`` a mask ``m`` of deviations has probability
``prod_i (1 - rho_i) * prod_{i in m} rho_i / (1 - rho_i)``, finite for every
rate in ``[0, 1]``. With ``max_flips = J`` only the masks of at most ``J``
deviations are summed; the rest has the probability ``R = P(K > J)`` of a
Poisson-binomial ``K`` (:func:`tail_mass`, a recursion over the bits whose
terms are all non-negative, so no cancellation), and every error is bounded
by ``B = max |finite value| + |stored value|`` under every read policy, so the
missed part of each moment ``E[e**m]`` is at most ``R B**m`` in magnitude;
for floats a tighter bound comes from the exact left-out absolute moments
(:func:`_missed`), and :func:`cumulant_bounds` carries the smaller to the
cumulants.

Floats with a sign bit enumerate the magnitude bits only: the sign bit is
independent of them (and of whether the read is finite), so the sign enters
exactly through the sign-magnitude mixture of A.8
(:func:`qtaml_theory.derive.sign_mixture_cumulants`).
"""

from __future__ import annotations

import functools
import itertools
import math

import numpy as np

from . import _closed_forms as cf
from ._derive_float import numeric
from ._float_tail import absolute_moments
from .float_formats import NONFINITE_POLICIES

__all__ = ["DEFAULT_MAX_FLIPS", "FULL_ENUMERATION_BITS", "check_policy", "float_rates", "policy_table",
           "nonfinite_probability", "unit_law", "cumulant_bounds", "raw_moments", "cumulants_from_raw",
           "tail_mass", "sample_unit_errors"]

#: Widest code whose law sums all ``2**n`` masks by default; wider codes sum masks of at most :data:`DEFAULT_MAX_FLIPS`.
FULL_ENUMERATION_BITS = 8
#: Flips (deviations from the most likely read) summed for codes wider than :data:`FULL_ENUMERATION_BITS`.
DEFAULT_MAX_FLIPS = 3
#: Entries (codes times masks) handled per chunk.
_CHUNK = 1 << 18


def check_policy(on_nonfinite):
    if not isinstance(on_nonfinite, str) or on_nonfinite not in NONFINITE_POLICIES:
        raise ValueError(f"on_nonfinite must be one of {NONFINITE_POLICIES}, got {on_nonfinite!r}")
    return on_nonfinite


def float_rates(channel, bits):
    """The channel's rates for ``bits`` as float64 (the float laws work in float64)."""
    if channel.bits_per_cell > 1:
        raise ValueError(f"channel must store one bit per cell for a float format (multi-level cells over floats "
                         f"are not modelled), got {channel!r}")
    return np.asarray(channel.rates_for_bits(bits), dtype=np.float64)


def policy_table(encoding, policy):
    """The value each code reads as under ``policy``: "zero" reads a non-finite code as 0, "clamp" as
    the largest finite value with the code's sign bit (a NaN's too; E8M0 has none: plus), "keep" as it is."""
    table = encoding.table.copy()
    bad = encoding.nonfinite
    if policy == "zero":
        table[bad] = 0.0
    elif policy == "clamp":
        negative = np.zeros(bad.shape, dtype=bool)
        if encoding.sign_bit is not None:
            negative = (np.arange(encoding.n_codes) >> encoding.sign_bit & 1).astype(bool)
        table[bad] = np.where(negative, -encoding.max_finite, encoding.max_finite)[bad]
    return table


def nonfinite_probability(encoding, bits, rates):
    """``P(read-back not finite) = prod_{i in nonfinite_bits} q_i`` with ``q_i = P(bit i reads 1)`` (closed form)."""
    positions = list(encoding.nonfinite_bits)
    if not positions:
        return np.zeros(bits.shape[:-1])
    read_one = numeric("read_one_probability")(bits[..., positions], rates[..., positions])
    return np.prod(read_one, axis=-1)


@functools.cache
def flip_masks(width, max_flips):
    """Every mask of at most ``max_flips`` of ``width`` bits, by number of flips, with each mask's parent and bit.

    Mask ``m`` (after the empty one) is its parent (an earlier mask) with bit
    ``added[m]`` set, so a mask's probability is its parent's times one odds.
    """
    combos = [c for j in range(max_flips + 1) for c in itertools.combinations(range(width), j)]
    index = {combo: row for row, combo in enumerate(combos)}
    masks = np.array([sum(1 << i for i in c) for c in combos], dtype=np.int64)
    parents = np.array([index[c[:-1]] if c else 0 for c in combos], dtype=np.int64)
    added = np.array([c[-1] if c else 0 for c in combos], dtype=np.int64)
    return masks, parents, added


def tail_mass(rho, max_flips):
    """``P(K > max_flips)`` for ``K`` the number of bits that deviate, each with ``rho[..., i]`` (no cancellation)."""
    tail = np.zeros(rho.shape[:-1] + (max_flips + 2,))
    tail[..., 0] = 1.0
    for i in range(rho.shape[-1]):
        rate = rho[..., i:i + 1]
        tail[..., 1:] = rate * tail[..., :-1] + (1 - rate) * tail[..., 1:]
    return tail[..., max_flips + 1]


def _body_moments(values, counted, body_codes, stored, rates, max_flips, absolute):
    """Per code: mass summed, mean error, central moments 2-4 of the error and ``sum P |v'|**j`` (j = 1..4),
    over the masks of at most ``max_flips`` deviations.

    Each mask's probability is its parent's times the odds ``rho / (1 - rho) <= 1``
    of its added bit (:func:`flip_masks`), from the empty mask's ``prod (1 - rho)``.
    """
    width = rates.shape[-1]
    rho = np.minimum(rates, 1 - rates)
    reference = body_codes ^ ((rates > 0.5) @ (np.int64(1) << np.arange(width, dtype=np.int64)))
    odds = rho / (1 - rho)
    base = np.prod(1 - rho, axis=-1)
    masks, parents, added = flip_masks(width, max_flips)
    out = np.empty((9, body_codes.size))
    level_ends = np.cumsum([math.comb(width, j) for j in range(1, max_flips)])
    rows = max(1, _CHUNK // masks.size)
    for start in range(0, body_codes.size, rows):
        part = slice(start, start + rows)
        read = reference[part, None] ^ masks
        weight = np.empty(read.shape)
        weight[:, 0] = base[part]
        for level in np.split(np.arange(1, masks.size), level_ends):
            weight[:, level] = weight[:, parents[level]] * odds[part][:, added[level]]
        weight *= counted[read]
        if absolute:
            magnitude = np.abs(values[read])
            power = np.ones(read.shape)
            for j in range(1, 5):
                power *= magnitude
                out[4 + j, part] = np.einsum("ij,ij->i", weight, power)
        error = values[read] - stored[part, None]
        mass = weight.sum(axis=1)
        mean = np.einsum("ij,ij->i", weight, error) / mass
        error -= mean[:, None]
        square = error * error
        out[:5, part] = [mass, mean, np.einsum("ij,ij->i", weight, square) / mass,
                        np.einsum("ij,ij->i", weight, square * error) / mass,
                        np.einsum("ij,ij->i", weight, square * square) / mass]
    tail = tail_mass(rho, max_flips) if max_flips < width else np.zeros(body_codes.size)
    return out, tail


def unit_law(encoding, codes, rates, policy, max_flips=None, split_sign=True, bounds=True):
    """The law of ``table[c ^ mask] - table[c]`` for flat checked ``codes`` (units of the format's values).

    Returns a dict: ``cumulants`` (4, C), ``mass`` (the probability summed, of
    finite reads under "keep"), ``tail`` (``R``), ``max_flips``, and the
    bounds ``missed_mass`` and ``missed`` (4, C) on what was left out
    (:func:`_missed`; None when not ``bounds``). ``split_sign``: the sign bit by the A.8 mixture (the formula
    route); False enumerates every bit (the enumeration route).
    """
    bits = encoding.bits(codes)
    table = policy_table(encoding, policy)
    split = split_sign and encoding.sign_bit is not None
    width = encoding.n - 1 if split else encoding.n
    if max_flips is None:
        max_flips = width if encoding.n <= FULL_ENUMERATION_BITS else DEFAULT_MAX_FLIPS
    max_flips = min(max_flips, width)
    body_codes = codes & ((1 << width) - 1)
    values = np.abs(table[: 1 << width]) if split else table
    # A stored non-finite code is not a weight: its law is NaN under every policy (the policy reads, not stores).
    stored = np.where(encoding.nonfinite[codes], np.nan, values[body_codes])
    counted = np.ones(values.size)
    if policy == "keep":  # a non-finite read weighs 0; its value 0 keeps the products finite
        counted = np.where(encoding.nonfinite[: values.size], 0.0, 1.0)
        values = np.where(counted > 0, values, 0.0)
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        moments, tail = _body_moments(values, counted, body_codes, stored, rates[..., :width], max_flips,
                                      bounds and max_flips < width)
    mass, mean, c2, c3, c4 = moments[:5]
    missed_mass, missed = tail, None
    if bounds:
        with np.errstate(invalid="ignore"):
            missed_mass, missed = _missed(encoding, values, counted, body_codes, rates[..., :width], split, max_flips,
                                          tail, np.concatenate([mass[None], moments[5:]]), np.abs(stored))
    if split:
        sigma, r = 1 - 2 * bits[..., -1], rates[..., -1]
        first = cf.sign_mixture_error_mean(sigma, r, stored, mean)
        _, k2, k3, k4 = cf.sign_mixture_cumulants(sigma, r, stored + mean, c2, c3, c4 - 3 * c2**2)
        cumulants = np.stack([first, k2, k3, k4])
    else:
        cumulants = np.stack([mean, c2, c3, c4 - 3 * c2**2])
    return {"cumulants": cumulants, "mass": mass, "tail": tail, "max_flips": max_flips, "missed_mass": missed_mass,
            "missed": missed}


#: Relative rounding margin added to the exact tail of the absolute moments (a difference of two sums).
_TAIL_MARGIN = 1e-10


def _missed(encoding, values, counted, body_codes, rates, split, max_flips, tail, included, magnitude):
    """Bounds on the left-out mass and on ``|sum over left-out masks P e**m|`` (m = 1..4), per code.

    Always ``R`` and ``R B**m`` with ``B = max |finite value| + |w|``. For a
    float whose exponent rows factor (:mod:`qtaml_theory._float_tail`), also
    the exact left-out part ``T_i`` of ``E[|v'|**i]`` (the full sum minus the
    summed part, plus a rounding margin), and ``|e| <= |v'| + |w|`` gives
    ``sum_i C(m, i) |w|**(m - i) T_i``; the smaller bound is kept.
    """
    largest = max(abs(encoding.min_finite), encoding.max_finite)
    crude = np.stack([tail * (largest + magnitude) ** m for m in (1, 2, 3, 4)])
    width = rates.shape[-1]
    if max_flips >= width or not (split or encoding.sign_bit is None) or not encoding.exponent_bits:
        return tail, crude
    full = absolute_moments(values, counted, body_codes, rates, encoding.mantissa_width)
    if full is None:
        return tail, crude
    left = np.maximum(full - included, 0.0) + _TAIL_MARGIN * full
    tight = np.stack([sum(math.comb(m, i) * magnitude ** (m - i) * left[i] for i in range(m + 1)) for m in (1, 2, 3, 4)])
    return np.minimum(tail, left[0]), np.minimum(crude, tight)


#: Raw moments ``E[e**m]`` as polynomials of the cumulants, and the cumulants as polynomials of the raw
#: moments: ``(coefficient, (a_1, a_2, a_3, a_4))`` terms of ``prod_m r_m**a_m``.
_CUMULANT_TERMS = (
    ((1, (1, 0, 0, 0)),),
    ((1, (0, 1, 0, 0)), (-1, (2, 0, 0, 0))),
    ((1, (0, 0, 1, 0)), (-3, (1, 1, 0, 0)), (2, (3, 0, 0, 0))),
    ((1, (0, 0, 0, 1)), (-4, (1, 0, 1, 0)), (-3, (0, 2, 0, 0)), (12, (2, 1, 0, 0)), (-6, (4, 0, 0, 0))),
)


def raw_moments(cumulants):
    """``E[e**m]`` (``m = 1..4``) from ``kappa_1..kappa_4``."""
    k1, k2, k3, k4 = cumulants
    return [k1, k2 + k1**2, k3 + 3 * k2 * k1 + k1**3, k4 + 4 * k3 * k1 + 3 * k2**2 + 6 * k2 * k1**2 + k1**4]


def cumulants_from_raw(raw):
    """``kappa_1..kappa_4`` from ``E[e**m]`` (``m = 1..4``): the polynomials of :data:`_CUMULANT_TERMS`."""
    return [sum(c * np.prod([x**a for x, a in zip(raw, powers)], axis=0) for c, powers in terms)
            for terms in _CUMULANT_TERMS]


def cumulant_bounds(cumulants, missed_mass, missed, mass):
    """Bounds on ``|kappa_m(true) - kappa_m(summed)|`` when masks of (counted) probability ``missed_mass`` were left out.

    The summed law's raw moments ``r_m`` (from its cumulants) differ from the
    true ones by at most ``b_m = (D_m + R |r_m|) / S``, with ``S`` the mass
    summed, ``D_m = missed[m - 1]`` a bound on the left-out part of
    ``sum P e**m`` and ``R = missed_mass``: the normalizer (one, or the finite
    mass under "keep") lies in ``[S, S + R]``.
    Each cumulant is a polynomial in the ``r_m``; a monomial changes by at
    most ``prod (|r_m| + b_m)**a_m - prod |r_m|**a_m``. Float64 rounding of
    the summed part is not included.
    """
    size = [np.abs(x) for x in raw_moments(cumulants)]
    slack = [(missed[m - 1] + missed_mass * size[m - 1]) / mass for m in (1, 2, 3, 4)]
    bounds = []
    for terms in _CUMULANT_TERMS:
        total = 0.0
        for coefficient, powers in terms:
            wide = np.prod([(s + b) ** a for s, b, a in zip(size, slack, powers)], axis=0)
            narrow = np.prod([s**a for s, a in zip(size, powers)], axis=0)
            total = total + abs(coefficient) * (wide - narrow)
        bounds.append(total)
    return np.stack(bounds)


def sample_unit_errors(encoding, codes, channel, size, rng, policy):
    """``size`` draws of ``read - table[code]`` per code under ``policy`` ("keep" leaves NaN and infinities)."""
    bits = encoding.bits(codes)
    float_rates(channel, bits)
    masks = channel.sample_masks(bits, size, np.random.default_rng(rng))
    table = policy_table(encoding, policy)
    with np.errstate(invalid="ignore"):
        return table[codes ^ masks] - encoding.table[codes]
