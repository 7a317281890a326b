"""What a syndrome decoder leaves: the exact law of the decoded data bits (issue: real codes).

Every bit of a codeword (data and check bits) flips independently with the
same probability ``p``. Under syndrome decoding the decoded data differ from
the stored data by ``e' = e XOR c(S)``, where ``e`` is the error pattern,
``S`` its syndrome and ``c(S)`` the table's correction: a function of the
error pattern alone, never of the data. So the residual law follows from the
joint law of ``(e_i, S)``, computed exactly by dynamic programming over the
syndrome group (all ``2**R`` syndromes):

``P(e_i = 1, S = s) = p P(S_{-i} = s ^ h_i)`` and ``P(e_i = 0, S = s) = (1 - p) P(S_{-i} = s)``,

where ``S_{-i}`` is the syndrome of the other positions, built by ``n - 1``
steps ``P' (s) = (1 - p) P(s) + p P(s ^ h_j)`` (for all data positions ``i``
at once by divide and conquer: about ``L log2 L`` steps for ``L`` data bits,
not ``L**2``). Every term is a sum of products of non-negative numbers: in
floating point each result carries a relative error of at most about ``2 n``
units of rounding (no cancellation), and with rational ``p`` (Fractions) the
result is exact.

Above :data:`MAX_EXACT_SYNDROME_BITS` the ``2**R`` syndromes are out of reach:
the patterns are enumerated by number of errors up to ``J`` and the rest is
bounded rigorously (:mod:`~qtaml_theory.ecc.truncated`); the bound is reported
beside the values (:attr:`DecodedBits.bound`). A code decoded algebraically
(no table) is truncated at ``J = t``: every pattern of at most ``t`` errors is
corrected, so the values are zero and the bound is the uncorrectable
probability ``P(W > t)``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .linear import DETECTED, SyndromeCode
from .truncated import default_error_limit, truncated_bits

__all__ = ["DecodedBits", "decoded_bits", "MAX_EXACT_SYNDROME_BITS"]

#: Largest syndrome (in bits) over which :func:`decoded_bits` runs its dynamic programme (above it: the
#: enumeration by number of errors, :mod:`~qtaml_theory.ecc.truncated`).
MAX_EXACT_SYNDROME_BITS = 16


@dataclass(frozen=True)
class DecodedBits:
    """The law of one decoded codeword's data bits.

    Attributes
    ----------
    flip : tuple
        ``flip[i] = P(e'_i = 1)`` when a detected failure returns the data as
        read (policy ``"keep"``).
    flip_and_accepted : tuple
        ``P(e'_i = 1, no detected failure)`` (policy ``"zero"`` conditions on it).
    detected : float or Fraction
        ``P(the decoder declares a failure)``.
    bound : float or Fraction
        ``0`` for the exact law. Otherwise (``errors`` set) the values are the
        exact law of the decoder restricted to patterns of at most ``errors``
        errors, and each true value lies in ``[value, value + bound]``, with
        ``bound = P(more than errors errors)`` (:mod:`~qtaml_theory.ecc.truncated`).
    average_bound : float or Fraction
        The mean of ``flip`` over the data positions lies within
        ``[mean, mean + average_bound]`` (``0`` when exact).
    errors : int or None
        ``J``, the most errors per codeword enumerated; ``None``: all (exact).
    """

    flip: tuple
    flip_and_accepted: tuple
    detected: object
    bound: object = 0
    average_bound: object = 0
    errors: int | None = None


def decoded_bits(code: SyndromeCode, p, errors: int | None = None) -> DecodedBits:
    """The law of the decoded data bits of ``code`` when every stored bit flips with probability ``p``.

    Parameters
    ----------
    code : SyndromeCode or qtaml_theory.ecc.algebraic.AlgebraicBCH
    p : float or Fraction
        In ``[0, 1]``; a Fraction gives exact Fractions.
    errors : int, optional
        Enumerate the error patterns of at most this many errors and bound
        the rest (``t + 1 <= errors <= length`` for a code decoded by its
        table; ``errors = t`` for one decoded algebraically, whose patterns
        of at most ``t`` errors are all corrected: its law is zero within the
        bound). By default the law is exact (all syndromes) for syndromes of
        at most :data:`MAX_EXACT_SYNDROME_BITS` bits, and enumerated up to
        :func:`~qtaml_theory.ecc.truncated.default_error_limit` above.

    Raises
    ------
    ValueError
        ``errors`` out of range.
    """
    if errors is None:
        if code.syndrome_bits <= MAX_EXACT_SYNDROME_BITS:
            return _decoded_bits(code, p)
        errors = default_error_limit(code)
    low, high = (code.corrects + 1, code.length) if code.decoded_by_table else (code.corrects, code.corrects)
    if isinstance(errors, bool) or not isinstance(errors, numbers.Integral) or not low <= errors <= high:
        raise ValueError(f"errors must be an integer in {low}..{high} (errors per codeword enumerated for "
                         f"{code.name}{'' if code.decoded_by_table else ', decoded algebraically'}), got {errors!r}")
    flip, accepted, detected, bound, average_bound = truncated_bits(code, p, int(errors))
    if not isinstance(p, Fraction):
        flip, accepted, detected = [float(x) for x in flip], [float(x) for x in accepted], float(detected)
    return DecodedBits(tuple(flip), tuple(accepted), detected, bound, average_bound, int(errors))


@lru_cache(maxsize=256)
def _decoded_bits(code, p):
    exact = isinstance(p, Fraction)
    dtype = object if exact else np.float64
    one, zero = (Fraction(1), Fraction(0)) if exact else (1.0, 0.0)
    size = 1 << code.syndrome_bits
    index = np.arange(size, dtype=np.int64)
    partners = [index ^ h for h in code.columns.tolist()]
    failure = code.status == DETECTED

    def step(law, positions):
        for j in positions:
            law = (one - p) * law + p * law[partners[j]]
        return law

    start = np.full(size, zero, dtype=dtype)
    start[0] = one
    checks = step(start, range(code.data_bits, code.length))
    full = step(checks, range(code.data_bits))
    detected = full[failure].sum() if failure.any() else zero
    flip, accepted = [zero] * code.data_bits, [zero] * code.data_bits
    for i, others in _all_but_one(checks, list(range(code.data_bits)), step):
        error_one = p * others[partners[i]]
        error_zero = (one - p) * others
        corrected = (code.corrections == i).any(axis=1)
        residual_one = np.where(corrected, error_zero, error_one)
        flip[i] = residual_one.sum()
        accepted[i] = residual_one[~failure].sum()
    if not exact:
        flip, accepted, detected = ([float(x) for x in flip], [float(x) for x in accepted], float(detected))
    return DecodedBits(tuple(flip), tuple(accepted), detected)


def _all_but_one(law, positions, step):
    """``(i, law with every position of positions but i applied)`` for each ``i``: divide and conquer.

    Each half is applied to the law before recursing into the other, so the
    ``L`` laws cost about ``L log2 L`` steps instead of ``L**2`` (the steps,
    sums of non-negative products, are the same as applying them one by one).
    """
    if len(positions) == 1:
        yield positions[0], law
        return
    half = len(positions) // 2
    yield from _all_but_one(step(law, positions[half:]), positions[:half], step)
    yield from _all_but_one(step(law, positions[:half]), positions[half:], step)
