"""Algebraic decoding of binary BCH codes: syndromes over GF(2^m), Berlekamp-Massey, Chien search (issue: real codes).

A code whose syndrome has too many bits for a lookup table
(:data:`~qtaml_theory.ecc.linear.MAX_TABLE_SYNDROME_BITS`), such as the BCH
code of a NAND flash sector (``t = 15`` over 4,096 data bits in GF(2^13): 195
check bits, Micron TN-29-71), is decoded as a real controller decodes it
(Lin and Costello, *Error Control Coding*, 2nd ed., Sections 6.2 and 6.4):

1. the syndromes ``S_j = r(alpha**j)``, ``j = 1 .. 2t``, of the received word
   (``S_2j = S_j**2``: only the odd ones are summed);
2. Berlekamp-Massey: the shortest linear recurrence ``Lambda(x)`` of length
   ``L`` that generates them, the error locator polynomial;
3. Chien search: the roots ``alpha**-e`` of ``Lambda`` over the exponents ``e``
   of the shortened word's positions. If ``L <= t`` and ``Lambda`` has ``L``
   roots there, the bits at those positions are flipped (the correction);
   otherwise the decoder reports a failure. (A locator that does not divide
   ``x**(2**m) - x`` has fewer than ``L`` roots in the field: the search is
   skipped, with the same verdict.)

This is bounded-distance decoding, the same decoder as the syndrome table of
:class:`~qtaml_theory.ecc.SyndromeCode`: every pattern of at most ``t`` errors
is corrected; a heavier pattern is miscorrected when its syndromes are those of
a pattern of at most ``t`` errors inside the shortened word, and detected
otherwise (a root at a shortened-away position is a failure, as in
``galois.BCH``). Like the table, the decoder sees only the syndromes: what it
does depends on the error pattern, never on the data.

The layout is :mod:`~qtaml_theory.ecc.linear`'s: array position ``p`` of a
word of ``length`` bits holds the coefficient of ``x**(length - 1 - p)``, data
bits first. The decoder runs compiled by numba (a dependency; it is imported
with this module, which :func:`~qtaml_theory.ecc.bch_code` loads only for the
codes it serves).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .field import Field, bch_generator
from .linear import CLEAN, CORRECTED, DETECTED

__all__ = ["AlgebraicBCH", "decode_error_lists"]


@njit(cache=True)
def _berlekamp_massey(syndromes, corrects, exp, log, order, locator):
    """The shortest recurrence generating ``syndromes[1 .. 2t]`` into ``locator`` (Massey 1969); its length ``L``."""
    size = locator.size
    previous = np.zeros(size, dtype=np.int64)
    scratch = np.zeros(size, dtype=np.int64)
    locator[:] = 0
    locator[0] = previous[0] = 1
    length, shift, last = 0, 1, 1
    for step in range(2 * corrects):
        discrepancy = syndromes[step + 1]
        for i in range(1, length + 1):
            if locator[i] != 0 and syndromes[step + 1 - i] != 0:
                discrepancy ^= exp[log[locator[i]] + log[syndromes[step + 1 - i]]]
        if discrepancy == 0:
            shift += 1
            continue
        factor = (log[discrepancy] - log[last]) % order
        scratch[:] = locator
        for i in range(size - shift):
            if previous[i] != 0:
                locator[i + shift] ^= exp[factor + log[previous[i]]]
        if 2 * length <= step:
            length = step + 1 - length
            previous[:] = scratch
            last, shift = discrepancy, 1
        else:
            shift += 1
    return length


@njit(cache=True)
def _splits(locator, length, exp, log, order, m, remainder, square):
    """Whether ``x**(2**m) = x`` modulo ``locator``: then it is a product of ``length`` distinct factors ``x - beta``
    over GF(2^m) (it divides ``x**(2**m) - x``), else it has fewer than ``length`` roots there.

    ``m`` squarings of a remainder of degree below ``length`` (squaring is linear in characteristic 2), each
    reduced modulo ``locator``: about ``m length**2`` products, against ``length`` per position for a Chien
    search, so the words that fail (whose locator rarely splits) skip the search.
    """
    remainder[:] = 0
    remainder[1] = 1
    leading = log[locator[length]]
    for _ in range(m):
        square[:] = 0
        for i in range(length):
            if remainder[i] != 0:
                square[2 * i] = exp[2 * log[remainder[i]]]
        for degree in range(2 * length - 2, length - 1, -1):
            if square[degree] != 0:
                factor = (log[square[degree]] - leading) % order
                for i in range(length + 1):
                    if locator[i] != 0:
                        square[degree - length + i] ^= exp[factor + log[locator[i]]]
        remainder[:length] = square[:length]
    for i in range(length):
        if remainder[i] != (1 if i == 1 else 0):
            return False
    return True


@njit(cache=True)
def _chien(locator, length, word_length, exp, log, order, found, powers):
    """Roots ``alpha**-e`` of ``locator`` (degree ``length``) over exponents ``e < word_length``, into ``found``.

    ``powers[i]`` holds the logarithm of the term ``Lambda_i alpha**(-i e)``
    (``-1`` for a zero coefficient), stepped down by ``i`` from one exponent
    to the next (Chien's register update, no division).
    """
    if length == 1:  # Lambda = 1 + X x: the root is X itself
        exponent = log[locator[1]]
        if exponent < word_length:
            found[0] = exponent
            return 1
        return 0
    for i in range(1, length + 1):
        powers[i] = log[locator[i]] if locator[i] != 0 else -1
    count = 0
    for exponent in range(word_length):
        value = locator[0]
        for i in range(1, length + 1):
            if powers[i] >= 0:
                value ^= exp[powers[i]]
                powers[i] -= i % order
                if powers[i] < 0:
                    powers[i] += order
        if value == 0:
            found[count] = exponent
            count += 1
            if count == length:  # a polynomial of degree L has no more roots
                break
    return count


@njit(cache=True)
def decode_error_lists(offsets, exponents, corrects, word_length, exp, log, order, status, fixes):
    """Decode words given by the exponents of their set bits (word ``w``: ``exponents[offsets[w]:offsets[w + 1]]``).

    Writes ``status[w]`` (``CLEAN``, ``CORRECTED`` or ``DETECTED``) and
    ``fixes[w]``: the array positions the decoder flips (``-1`` padded).
    """
    syndromes = np.zeros(2 * corrects + 1, dtype=np.int64)
    locator = np.zeros(4 * corrects + 2, dtype=np.int64)
    powers = np.zeros(4 * corrects + 2, dtype=np.int64)
    remainder = np.zeros(4 * corrects + 2, dtype=np.int64)
    square = np.zeros(4 * corrects + 2, dtype=np.int64)
    found = np.zeros(corrects, dtype=np.int64)
    m = 0
    while (1 << m) - 1 < order:
        m += 1
    for word in range(offsets.size - 1):
        syndromes[:] = 0
        for event in range(offsets[word], offsets[word + 1]):
            for j in range(1, 2 * corrects + 1, 2):
                syndromes[j] ^= exp[(j * exponents[event]) % order]
        clean = True
        for j in range(1, 2 * corrects + 1):
            if j % 2 == 0 and syndromes[j // 2] != 0:
                syndromes[j] = exp[2 * log[syndromes[j // 2]]]
            clean &= syndromes[j] == 0
        fixes[word, :] = -1
        if clean:
            status[word] = CLEAN
            continue
        length = _berlekamp_massey(syndromes, corrects, exp, log, order, locator)
        degree = locator.size - 1
        while locator[degree] == 0:
            degree -= 1
        if length > corrects or degree != length \
                or (length > 1 and not _splits(locator, length, exp, log, order, m, remainder, square)) \
                or _chien(locator, length, word_length, exp, log, order, found, powers) != length:
            status[word] = DETECTED
            continue
        status[word] = CORRECTED
        for i in range(length):
            fixes[word, i] = word_length - 1 - found[i]


class AlgebraicBCH:
    """A shortened narrow-sense binary BCH code decoded algebraically (module docstring).

    It has the attributes and the ``encode``/``decode`` methods of
    :class:`~qtaml_theory.ecc.SyndromeCode`, but no syndrome table:
    :attr:`decoded_by_table` is ``False``, and its residual law is the
    truncation at ``J = t`` (:func:`~qtaml_theory.ecc.decoded_bits`).

    Parameters
    ----------
    data_bits : int
    corrects : int
        ``t``.
    m : int
        The field GF(2^m) (the smallest that holds the code).
    """

    decoded_by_table = False

    def __init__(self, data_bits: int, corrects: int, m: int):
        field = Field(m)
        generator = bch_generator(m, corrects)
        self.m, self.order = m, field.order
        self.check_bits = self.syndrome_bits = generator.bit_length() - 1
        self.data_bits, self.corrects = data_bits, corrects
        self.length = data_bits + self.check_bits
        self.name = f"({self.length},{data_bits}) BCH t={corrects}"
        self.exp = np.asarray(field.exp, dtype=np.int64)  # alpha**i for i < 2 order: sums of two logs need no reduction
        self.log = np.zeros(1 << m, dtype=np.int64)
        self.log[self.exp[: self.order]] = np.arange(self.order)
        self._parity = self._parity_matrix(generator)

    def __repr__(self):
        return f"AlgebraicBCH({self.name!r})"

    def _parity_matrix(self, generator):
        """``parity[p, q]``: check bit ``q`` of the codeword of a single data bit at ``p`` (``x**e mod g``, by an LFSR)."""
        r = self.check_bits
        low = np.array([(generator >> i) & 1 for i in range(r)], dtype=np.uint8)
        remainders = np.zeros((self.length, r), dtype=np.uint8)
        state = np.zeros(r, dtype=np.uint8)
        state[0] = 1
        for exponent in range(self.length):
            remainders[exponent] = state
            top = state[-1]
            state = np.concatenate([[0], state[:-1]]).astype(np.uint8)
            if top:
                state ^= low
        return remainders[::-1][: self.data_bits, ::-1].astype(np.float32)

    def encode(self, data: np.ndarray) -> np.ndarray:
        """Codewords (uint8 bit arrays, shape ``(..., length)``) of data bit arrays ``(..., data_bits)``."""
        data = np.asarray(data, dtype=np.uint8)
        if data.shape[-1] != self.data_bits:
            raise ValueError(f"data must have {self.data_bits} bits in its last axis, got {data.shape}")
        checks = (data.astype(np.float32) @ self._parity).astype(np.int64) & 1  # sums of at most 8191: exact
        return np.concatenate([data, checks.astype(np.uint8)], axis=-1)

    def decode_errors(self, offsets: np.ndarray, positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decode words given by their set bits: ``positions[offsets[w]:offsets[w + 1]]`` (array positions) of word ``w``.

        Returns
        -------
        status : ndarray of int8
            ``CLEAN``, ``CORRECTED`` or ``DETECTED`` per word.
        fixes : ndarray of int64, shape ``(words, t)``
            The positions the decoder flips, ``-1`` padded.
        """
        words = offsets.size - 1
        status = np.empty(words, dtype=np.int8)
        fixes = np.empty((words, self.corrects), dtype=np.int64)
        exponents = self.length - 1 - np.asarray(positions, dtype=np.int64)
        decode_error_lists(np.asarray(offsets, dtype=np.int64), exponents, self.corrects, self.length, self.exp,
                           self.log, self.order, status, fixes)
        return status, fixes

    def decode(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decoded data bits and decoder status of received words ``(..., length)`` (as :meth:`SyndromeCode.decode`)."""
        words = np.asarray(words, dtype=np.uint8)
        shape = words.shape[:-1]
        flat = words.reshape(-1, self.length)
        rows, positions = np.nonzero(flat)
        offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=flat.shape[0]))])
        status, fixes = self.decode_errors(offsets, positions)
        data = flat[:, : self.data_bits].copy()
        row, column = np.nonzero((fixes >= 0) & (fixes < self.data_bits))
        data[row, fixes[row, column]] ^= 1
        return data.reshape(shape + (self.data_bits,)), status.reshape(shape)
