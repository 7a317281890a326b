"""Binary linear codes with syndrome decoding: shortened BCH and SEC-DED extended Hamming (issue: real codes).

A codeword is stored as an array of bits: the ``data_bits`` data bits first,
then the check bits (the systematic layout of ``galois.BCH``: array index
``p`` holds the coefficient of ``x**(n - 1 - p)`` of the shortened cyclic
code of length ``n``), and for SEC-DED one overall parity bit last.

Every position ``p`` has a *column*: the syndrome of a single error there, an
integer. For the cyclic part it is ``x**(n - 1 - p) mod g(x)``; SEC-DED
appends the overall parity as the syndrome's lowest bit. The syndrome of a
received word is the XOR of the columns of its set bits; it is zero on every
codeword and, by linearity, equal to the syndrome of the error pattern, so
the decoder's action does not depend on the data.

The decoder is a lookup table over all syndromes (:attr:`SyndromeCode.status`
and :attr:`SyndromeCode.corrections`): bounded-distance decoding, which
corrects exactly the error patterns of weight at most ``t`` (the unique such
pattern with the received syndrome) and declares every other syndrome a
detected failure. For binary BCH this is what Berlekamp-Massey decoding with a
Chien search returns; SEC-DED's table is the textbook rule (odd overall
parity: correct the position of the syndrome; even parity and a non-zero
syndrome: double error detected).
"""

from __future__ import annotations

from functools import cache
from itertools import combinations

import numpy as np

from .field import PRIMITIVE_POLYNOMIALS, bch_check_bits, bch_generator, polynomial_remainder

__all__ = ["SyndromeCode", "CLEAN", "CORRECTED", "DETECTED", "MAX_TABLE_SYNDROME_BITS", "MAX_PACKED_DATA_BITS",
           "bch_code", "secded_code", "smallest_field"]

#: Decoder outcomes (:attr:`SyndromeCode.status`).
CLEAN, CORRECTED, DETECTED = 0, 1, 2
#: Largest syndrome for which the decoding table (2**bits entries) is built; larger BCH codes are decoded
#: algebraically (:mod:`~qtaml_theory.ecc.algebraic`).
MAX_TABLE_SYNDROME_BITS = 22
#: Words of at most this many data bits also encode and decode packed in one integer (:meth:`SyndromeCode.decode_packed`).
MAX_PACKED_DATA_BITS = 64
_BYTE = 8


class SyndromeCode:
    """A binary linear code of ``data_bits + check_bits`` positions decoded by its syndrome table.

    Parameters
    ----------
    name : str
        Its name, e.g. ``"(72,64) SEC-DED"``.
    columns : sequence of int
        Syndrome of a single error at each position (data positions first).
    data_bits : int
    corrects : int
        ``t``: every error pattern of weight at most ``t`` is corrected.
    syndrome_bits : int
    table : (ndarray, ndarray)
        ``status[s]`` (``CLEAN``, ``CORRECTED`` or ``DETECTED``) and
        ``corrections[s]``: the positions the decoder flips at syndrome ``s``
        (``-1`` padded, ``t`` or more columns).
    """

    #: Decoded by a lookup table over all syndromes (:class:`~qtaml_theory.ecc.algebraic.AlgebraicBCH` is not).
    decoded_by_table = True

    def __init__(self, name, columns, data_bits, corrects, syndrome_bits, table):
        self.name = name
        self.columns = np.asarray(columns, dtype=np.int64)
        self.length = self.columns.size
        self.data_bits = data_bits
        self.check_bits = self.length - data_bits
        self.corrects = corrects
        self.syndrome_bits = syndrome_bits
        self.status, self.corrections = table
        self._check_matrix = (self.columns[:, None] >> np.arange(syndrome_bits)) & 1

    def __repr__(self):
        return f"SyndromeCode({self.name!r})"

    def syndromes(self, words: np.ndarray) -> np.ndarray:
        """Syndromes of words given as bit arrays of shape ``(..., length)``."""
        bits = (np.asarray(words, dtype=np.int64) @ self._check_matrix) & 1
        return bits @ (np.int64(1) << np.arange(self.syndrome_bits, dtype=np.int64))

    def encode(self, data: np.ndarray) -> np.ndarray:
        """Codewords (uint8 bit arrays, shape ``(..., length)``) of data bit arrays ``(..., data_bits)``.

        The check bits are those whose columns cancel the data's syndrome: the
        word's syndrome is zero.
        """
        data = np.asarray(data, dtype=np.uint8)
        if data.shape[-1] != self.data_bits:
            raise ValueError(f"data must have {self.data_bits} bits in its last axis, got {data.shape}")
        target = self._data_syndromes(data)
        words = np.zeros(data.shape[:-1] + (self.length,), dtype=np.uint8)
        words[..., : self.data_bits] = data
        words[..., self.data_bits:] = self._check_solution()[target]
        return words

    def _data_syndromes(self, data):
        bits = (data.astype(np.int64) @ self._check_matrix[: self.data_bits]) & 1
        return bits @ (np.int64(1) << np.arange(self.syndrome_bits, dtype=np.int64))

    def _check_solution(self):
        """``solution[s]``: the check bits whose columns XOR to ``s`` (the check columns span the syndromes)."""
        if "_solution" not in self.__dict__:
            checks = self.columns[self.data_bits:]
            patterns = np.arange(1 << self.check_bits, dtype=np.int64)
            bits = (patterns[:, None] >> np.arange(self.check_bits)) & 1
            sums = np.bitwise_xor.reduce(np.where(bits == 1, checks, 0), axis=1)
            solution = np.zeros((1 << self.syndrome_bits, self.check_bits), dtype=np.uint8)
            solution[sums] = bits
            self._solution = solution
        return self._solution

    def _byte_tables(self, columns):
        """``tables[b][v]``: the syndrome of the bits ``v`` of byte ``b`` over ``columns``."""
        count = -(-len(columns) // _BYTE)
        values = np.arange(256, dtype=np.int64)
        tables = np.zeros((count, 256), dtype=np.int64)
        for position, column in enumerate(columns):
            byte, bit = divmod(position, _BYTE)
            tables[byte] ^= np.where((values >> bit) & 1 == 1, column, 0)
        return tables

    def _packed_syndromes(self, tables, values):
        syndromes = np.zeros(values.shape, dtype=np.int64)
        for byte, table in enumerate(tables):
            syndromes ^= table[(values >> (_BYTE * byte)) & 0xFF]
        return syndromes

    def _packed_tables(self):
        if "_packed" not in self.__dict__:
            if self.data_bits > MAX_PACKED_DATA_BITS:
                raise ValueError(f"packed words hold at most {MAX_PACKED_DATA_BITS} data bits, {self.name} has "
                                 f"{self.data_bits}")
            solution = self._check_solution().astype(np.int64) @ (np.int64(1) << np.arange(self.check_bits))
            self._packed = (self._byte_tables(self.columns[: self.data_bits].tolist()),
                            self._byte_tables(self.columns[self.data_bits:].tolist()), solution)
        return self._packed

    def encode_packed(self, data: np.ndarray) -> np.ndarray:
        """Check bits (int64, bit ``q`` = check position ``q``) of data words packed in uint64 (bit ``i`` = position ``i``)."""
        data_tables, _, solution = self._packed_tables()
        return solution[self._packed_syndromes(data_tables, data.view(np.int64))]

    def decode_packed(self, data: np.ndarray, checks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`decode` of words packed as (uint64 data, int64 check bits): the decoded data and the status."""
        data_tables, check_tables, _ = self._packed_tables()
        syndromes = (self._packed_syndromes(data_tables, data.view(np.int64))
                     ^ self._packed_syndromes(check_tables, checks))
        decoded = data.copy()
        flips = self.corrections[syndromes]
        for column in range(flips.shape[-1]):
            position = flips[:, column].astype(np.int64)
            hit = (position >= 0) & (position < self.data_bits)
            decoded[hit] ^= np.left_shift(np.uint64(1), position[hit].astype(np.uint64))
        return decoded, self.status[syndromes]

    def decode(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decoded data bits and decoder status of received words ``(..., length)``.

        Returns
        -------
        data : ndarray of uint8, shape ``(..., data_bits)``
            The received data bits with the table's correction applied (on a
            detected failure: the data as read).
        status : ndarray of int8
            ``CLEAN``, ``CORRECTED`` or ``DETECTED`` per word.
        """
        words = np.asarray(words, dtype=np.uint8)
        syndromes = self.syndromes(words)
        data = words[..., : self.data_bits].copy()
        flips = self.corrections[syndromes]
        for column in range(flips.shape[-1]):
            position = flips[..., column]
            hit = (position >= 0) & (position < self.data_bits)
            index = np.nonzero(hit)
            data[index + (position[index],)] ^= 1
        return data, self.status[syndromes]


def _cyclic_columns(generator, length):
    degree = generator.bit_length() - 1
    return [polynomial_remainder(1 << (length - 1 - p), generator) for p in range(length)], degree


def _pattern_table(columns, corrects, syndrome_bits):
    """Bounded-distance table: the syndrome of each pattern of weight <= t maps to the pattern."""
    size = 1 << syndrome_bits
    status = np.full(size, DETECTED, dtype=np.int8)
    corrections = np.full((size, max(corrects, 1)), -1, dtype=np.int16)
    status[0] = CLEAN
    for weight in range(1, corrects + 1):
        for pattern in combinations(range(len(columns)), weight):
            syndrome = 0
            for p in pattern:
                syndrome ^= columns[p]
            if status[syndrome] != DETECTED:
                raise ArithmeticError("two correctable patterns share a syndrome: the code is not t-correcting")
            status[syndrome] = CORRECTED
            corrections[syndrome, :weight] = pattern
    return status, corrections


def smallest_field(data_bits: int, corrects: int, largest: int = max(PRIMITIVE_POLYNOMIALS)) -> int | None:
    """The smallest degree m whose length-``2**m - 1`` BCH code correcting ``t`` errors holds ``data_bits``."""
    for m in sorted(PRIMITIVE_POLYNOMIALS):
        if m > largest:
            break
        if (1 << m) - 1 - bch_check_bits(m, corrects) >= data_bits:
            return m
    return None


@cache
def bch_code(data_bits: int, corrects: int):
    """The narrow-sense binary BCH code correcting ``t = corrects`` errors, shortened to ``data_bits`` data bits.

    A :class:`SyndromeCode` (decoded by its syndrome table) up to
    :data:`MAX_TABLE_SYNDROME_BITS` check bits; above, an
    :class:`~qtaml_theory.ecc.algebraic.AlgebraicBCH` (Berlekamp-Massey and a
    Chien search), which decodes every word the same way.

    Raises
    ------
    ValueError
        If no field up to GF(2^13) holds the code.
    """
    m = smallest_field(data_bits, corrects)
    if m is None:
        raise ValueError(f"no binary BCH code over GF(2^3..2^13) corrects t = {corrects} errors in "
                         f"{data_bits} data bits")
    degree = bch_check_bits(m, corrects)
    if degree > MAX_TABLE_SYNDROME_BITS:
        from .algebraic import AlgebraicBCH

        return AlgebraicBCH(data_bits, corrects, m)
    columns, _ = _cyclic_columns(bch_generator(m, corrects), data_bits + degree)
    name = f"({data_bits + degree},{data_bits}) BCH t={corrects}"
    return SyndromeCode(name, columns, data_bits, corrects, degree, _pattern_table(columns, corrects, degree))


@cache
def secded_code(data_bits: int) -> SyndromeCode:
    """SEC-DED: the shortened cyclic Hamming code over ``data_bits`` plus an overall parity bit.

    The syndrome is the Hamming syndrome shifted left by one with the overall
    parity in bit 0. Table: parity odd and the syndrome of a position: correct
    it; parity odd and a zero Hamming syndrome: the parity bit itself flipped
    (corrected, data untouched); parity odd and a syndrome of no position (a
    shortened one): detected; parity even and a non-zero syndrome: detected
    (a double error).
    """
    m = smallest_field(data_bits, 1)
    if m is None:
        raise ValueError(f"no SEC-DED code over GF(2^3..2^13) holds {data_bits} data bits")
    generator = bch_generator(m, 1)
    cyclic, degree = _cyclic_columns(generator, data_bits + m)
    columns = [(c << 1) | 1 for c in cyclic] + [1]
    syndrome_bits = degree + 1
    status, corrections = _pattern_table(columns, 1, syndrome_bits)
    name = f"({len(columns)},{data_bits}) SEC-DED"
    return SyndromeCode(name, columns, data_bits, 1, syndrome_bits, (status, corrections))
