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
steps ``P' (s) = (1 - p) P(s) + p P(s ^ h_j)``. Every term is a sum of
products of non-negative numbers: in floating point each result carries a
relative error of at most about ``2 n`` units of rounding (no cancellation),
and with rational ``p`` (Fractions) the result is exact.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache

import numpy as np

from .linear import DETECTED, SyndromeCode

__all__ = ["DecodedBits", "decoded_bits", "MAX_EXACT_SYNDROME_BITS"]

#: Largest syndrome (in bits) over which :func:`decoded_bits` runs its dynamic programme.
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
    """

    flip: tuple
    flip_and_accepted: tuple
    detected: object


def decoded_bits(code: SyndromeCode, p) -> DecodedBits:
    """Exact law of the decoded data bits of ``code`` when every stored bit flips with probability ``p``.

    Parameters
    ----------
    code : SyndromeCode
    p : float or Fraction
        In ``[0, 1]``; a Fraction gives exact Fractions.

    Raises
    ------
    ValueError
        If the code's syndrome has more than :data:`MAX_EXACT_SYNDROME_BITS` bits.
    """
    if code.syndrome_bits > MAX_EXACT_SYNDROME_BITS:
        raise ValueError(f"the exact residual law runs over at most 2**{MAX_EXACT_SYNDROME_BITS} syndromes; "
                         f"{code.name} has 2**{code.syndrome_bits}")
    return _decoded_bits(code, p)


@lru_cache(maxsize=256)
def _decoded_bits(code, p):
    exact = isinstance(p, Fraction)
    dtype = object if exact else np.float64
    one, zero = (Fraction(1), Fraction(0)) if exact else (1.0, 0.0)
    size = 1 << code.syndrome_bits
    index = np.arange(size, dtype=np.int64)
    partners = [index ^ h for h in code.columns.tolist()]
    failure = code.status == DETECTED
    full = _syndrome_law(partners, range(code.length), p, size, dtype, one, zero)
    detected = full[failure].sum() if failure.any() else zero
    flip, accepted = [], []
    for i in range(code.data_bits):
        others = _syndrome_law(partners, (j for j in range(code.length) if j != i), p, size, dtype, one, zero)
        error_one = p * others[partners[i]]
        error_zero = (one - p) * others
        corrected = (code.corrections == i).any(axis=1)
        residual_one = np.where(corrected, error_zero, error_one)
        flip.append(residual_one.sum())
        accepted.append(residual_one[~failure].sum())
    if not exact:
        flip, accepted, detected = ([float(x) for x in flip], [float(x) for x in accepted], float(detected))
    return DecodedBits(tuple(flip), tuple(accepted), detected)


def _syndrome_law(partners, positions, p, size, dtype, one, zero):
    law = np.full(size, zero, dtype=dtype)
    law[0] = one
    for j in positions:
        law = (one - p) * law + p * law[partners[j]]
    return law
