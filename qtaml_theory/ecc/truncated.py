"""The residual law of a larger code by number of errors, with a rigorous bound on the rest (issue: real codes).

Where the dynamic programme over all ``2**R`` syndromes
(:mod:`~qtaml_theory.ecc.residual`) is out of reach, the error patterns are
enumerated by weight. Every bit of an ``n``-bit codeword flips independently
with probability ``p``, so a pattern of weight ``w`` has probability
``q_w = p**w (1 - p)**(n - w)`` and the law is a sum over weights of ``q_w``
times *counts* that depend on the code alone (never on ``p``):

* a pattern of weight ``w <= t`` is corrected (bounded-distance decoding of a
  code of minimum distance at least ``2 t + 1``): it leaves nothing;
* a pattern of weight ``t < w <= J`` is looked up in the decoder's table: a
  detected failure leaves the pattern itself (policy ``"keep"``), any other
  syndrome leaves the pattern XOR the table's correction (a miscorrection,
  or an undetected codeword); :func:`error_counts` counts, per data position,
  the patterns that leave it wrong, with and without a detected failure;
* the patterns of weight ``w > J`` are not enumerated. The values reported are
  the exact law of a decoder that reads them as clean; the true values exceed
  them by at most ``P(W > J)`` each (the binomial tail, exact), and the mean
  of the per-position flip rates by at most
  ``(n p P(Binomial(n - 1, p) >= J) + t P(W > J)) / data_bits``
  (a pattern of weight ``w`` leaves at most ``w + t`` wrong bits, and
  ``E[W; W > J] = n p P(Binomial(n - 1, p) >= J)``).

The enumeration visits ``sum_{t < w <= J} C(n, w)`` patterns, vectorized: for
each choice of the highest positions, all subsets of the others below them at
once.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from itertools import combinations

import numpy as np

from .linear import DETECTED, SyndromeCode

__all__ = ["ENUMERATION_LIMIT", "BASE_LIMIT", "default_error_limit", "error_counts", "truncated_bits"]

#: The most error patterns :func:`default_error_limit` lets an enumeration visit.
ENUMERATION_LIMIT = 5_000_000
#: The most subsets of the positions an enumeration holds in memory at once (one NumPy pass each).
BASE_LIMIT = 1_000_000


def default_error_limit(code: SyndromeCode) -> int:
    """The largest ``J >= t + 1`` whose patterns of weights ``t + 1 .. J`` number at most :data:`ENUMERATION_LIMIT`.

    ``t`` for a code decoded algebraically (no table to look its patterns up in).
    """
    if not code.decoded_by_table:
        return code.corrects
    limit, patterns = code.corrects + 1, math.comb(code.length, code.corrects + 1)
    while limit < code.length and patterns + math.comb(code.length, limit + 1) <= ENUMERATION_LIMIT:
        limit += 1
        patterns += math.comb(code.length, limit)
    return limit


def _subsets(columns, size):
    """Every ``size``-subset of the positions, by rising largest position: ``(members, syndromes, ends)``.

    ``members`` has one row per subset (positions rising), ``syndromes`` the
    XOR of their columns, and the subsets whose positions all lie below ``m``
    are the first ``ends[m]``.
    """
    n = columns.size
    members = np.zeros((1, 0), dtype=np.int64)
    for width in range(1, size + 1):
        below = [members[members[:, -1] < m] if width > 1 else members for m in range(n)]
        members = np.concatenate([np.column_stack([rows, np.full(len(rows), m, dtype=np.int64)])
                                  for m, rows in enumerate(below)])
    syndromes = np.bitwise_xor.reduce(columns[members], axis=1)
    ends = np.searchsorted(members[:, -1], np.arange(n + 1))
    return members, syndromes, ends


@lru_cache(maxsize=32)
def error_counts(code: SyndromeCode, weight: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Counts over the error patterns of one ``weight`` of what the decoder leaves.

    The patterns are every choice of ``weight - b`` highest positions (a
    Python loop) with every ``b``-subset below them at once, ``b`` the
    largest with at most :data:`BASE_LIMIT` subsets.

    Returns
    -------
    wrong : ndarray of int64, shape ``(data_bits,)``
        Patterns after whose decoding data bit ``i`` is wrong (the pattern
        itself where the decoder detects a failure: policy ``"keep"``).
    wrong_accepted : ndarray of int64
        The same among the patterns the decoder does not declare failed.
    detected : int
        Patterns the decoder declares failed.
    """
    n, data_bits, columns = code.length, code.data_bits, code.columns
    base = max((b for b in range(1, weight + 1) if math.comb(n, b) <= BASE_LIMIT), default=1)
    members, subset_syndromes, ends = _subsets(columns, base)
    wrong = np.zeros(data_bits, dtype=np.int64)
    wrong_accepted = np.zeros(data_bits, dtype=np.int64)
    detected = 0
    for top in combinations(range(n), weight - base):
        stop = ends[top[0]] if top else ends[n]
        if stop == 0:
            continue
        syndromes = subset_syndromes[:stop] ^ np.bitwise_xor.reduce(columns[list(top)]) if top \
            else subset_syndromes
        failed = code.status[syndromes] == DETECTED
        fixes = code.corrections[syndromes].astype(np.int64)
        fixes[failed] = -1  # a detected failure is returned as read
        detected += int(failed.sum())
        pattern = [members[:stop, b] for b in range(base)] + [np.full(stop, position) for position in top]
        for member in pattern:
            kept = ~(fixes == member[:, None]).any(axis=1) & (member < data_bits)
            wrong += np.bincount(member[kept], minlength=data_bits)
            wrong_accepted += np.bincount(member[kept & ~failed], minlength=data_bits)
        for column in fixes.T:
            added = (column >= 0) & (column < data_bits)
            for member in pattern:
                added &= column != member
            wrong += np.bincount(column[added], minlength=data_bits)
            wrong_accepted += np.bincount(column[added], minlength=data_bits)
    return wrong, wrong_accepted, detected


def truncated_bits(code: SyndromeCode, p, limit: int):
    """The law of the decoded data bits from the patterns of at most ``limit`` errors, and its bounds.

    Returns ``(flip, flip_and_accepted, detected, bound, average_bound)`` as
    in :class:`~qtaml_theory.ecc.DecodedBits` (module docstring).
    """
    from ..protection.base import binomial_tail

    exact = isinstance(p, Fraction)
    n, t = code.length, code.corrects
    zero = Fraction(0) if exact else 0.0
    flip = [zero] * code.data_bits
    accepted = [zero] * code.data_bits
    detected = zero
    for weight in range(t + 1, limit + 1):
        share = p**weight * (1 - p) ** (n - weight)
        if share == 0:
            continue
        wrong, wrong_accepted, failed = error_counts(code, weight)
        flip = [f + share * int(c) for f, c in zip(flip, wrong)]
        accepted = [a + share * int(c) for a, c in zip(accepted, wrong_accepted)]
        detected += share * failed
    bound = binomial_tail(p, n, limit + 1)
    average_bound = (n * p * binomial_tail(p, n - 1, limit) + t * bound) / code.data_bits
    return flip, accepted, detected, bound, average_bound
