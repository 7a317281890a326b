"""Compiled (numba) decoding of the block-coded words that received a flip (issue: real codes, "Speed").

The compiled twin of the NumPy route of :mod:`qtaml_tac.coded_injection`,
giving the same read-back bit for bit. It never touches the stored data: for a
linear code the syndrome of a received word is the syndrome of its error
pattern (the stored word is a codeword, of syndrome zero), and the decoder's
table maps that syndrome to the positions it flips
(:mod:`qtaml_theory.ecc.linear`). So, from the sparse flips alone, the words
split into segments of :data:`SEGMENT_WORDS` (one task each, on numba's
threading layer or one after the other; the result does not depend on it), and
in each segment:

1. each flipped data bit XORs its column into its (word, plane)'s syndrome,
   and each flipped check bit its check column (one pass over the flips);
2. word after word, every plane of non-zero syndrome looks up the decoder's
   corrections and status; a correction cancels the flip it lands on, or
   (a miscorrection) adds a flip where there was none, if it lands on a data
   bit of a real weight (a shortened word's missing bits read nothing);
   the word's flips are written out in order, zero values dropped;
3. under ``on_failure="zero"`` the words of a detected failure are listed,
   and their weights read as zero.

The decoded data differ from the stored data by exactly this XOR, so the result
is what encoding, flipping and decoding the words gives (a test holds the two
routes equal on the same random stream).

:func:`patch_read_back` writes such a sparse read-back into the parameter
(the clean value back where the previous draw wrote, then the new flips and
zeroed weights) in one compiled pass instead of NumPy's fancy indexing.

Importing this module needs numba.
"""

from functools import lru_cache

import numpy as np
from numba import njit, prange

from .kernel_dispatch import _KERNEL_LOCK

__all__ = ["block_residual", "patch_read_back", "SEGMENT_WORDS", "PARALLEL_FLIPS"]

#: Words of a segment: the unit of work of a task (its syndromes, 8 bytes a plane a word, stay in cache).
SEGMENT_WORDS = 4096
#: Below this many flips a parallel launch costs more than the work: the segments run in the calling thread
#: (the result is the same either way).
PARALLEL_FLIPS = 200_000

_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DE_BRUIJN_INDEX = np.zeros(64, dtype=np.int64)
_DE_BRUIJN_INDEX[[((1 << i) * 0x03F79D71B4CB0A89 % (1 << 64)) >> 58 for i in range(64)]] = np.arange(64)


@njit(inline="always")
def _segment_syndromes(segment, positions, values, event_bounds, first_plane, n_planes, data_bits, data_columns,
                       check_cells, check_bounds, check_bits, check_columns, syndromes, touched):
    """Step 1: the syndrome of every (word, plane) of the segment, entry ``(word - first word) * planes + plane``,
    and which words received a flip (``touched``); branch-free over the planes of a flip."""
    first_word = segment * SEGMENT_WORDS
    word, end = np.int64(-1), np.int64(0)
    for event in range(event_bounds[segment], event_bounds[segment + 1]):
        position = positions[event]
        if position >= end:  # positions are sorted: divide only on entering a new word
            word = position // data_bits
            end = (word + 1) * data_bits
        column = data_columns[position - word * data_bits]
        planes = values[event] >> first_plane
        index = (word - first_word) * n_planes
        for plane in range(n_planes):
            syndromes[index + plane] ^= column & -((planes >> plane) & 1)
        touched[word - first_word] = True
    for plane in range(n_planes):
        for cell in check_cells[check_bounds[plane, segment]:check_bounds[plane, segment + 1]]:
            word = cell // check_bits
            syndromes[(word - first_word) * n_planes + plane] ^= check_columns[cell - word * check_bits]
            touched[word - first_word] = True


@njit(inline="always")
def _lowest_bit(low):
    """The index of the single set bit of the uint64 ``low`` (a de Bruijn multiplication)."""
    return _DE_BRUIJN_INDEX[(low * _DE_BRUIJN) >> np.uint64(58)]


@njit(inline="always")
def _segment(segment, positions, values, event_bounds, n_bits, first_plane, n_planes, size, data_bits, words,
             data_columns, check_cells, check_bounds, check_bits, check_columns, status, corrections, detected,
             out_positions, out_values, out_starts, out_counts, failed, failed_counts):
    """Steps 1 to 3 for one segment, into its slices of the outputs (``out_starts[segment]`` on; failed words from
    ``segment * SEGMENT_WORDS``), with the number written into ``out_counts`` and ``failed_counts``.

    A touched word's flips become one 64-bit mask per (plane, lane of 64
    positions); the corrections XOR into them (``corrections`` sends the ones
    that touch no data bit to a spare lane), and the set bits of the union
    over planes are written out in order.
    """
    first_word = segment * SEGMENT_WORDS
    last_word = min(words, first_word + SEGMENT_WORDS)
    syndromes = np.zeros((last_word - first_word) * n_planes, dtype=np.int64)
    touched = np.zeros(last_word - first_word, dtype=np.bool_)
    _segment_syndromes(segment, positions, values, event_bounds, first_plane, n_planes, data_bits, data_columns,
                       check_cells, check_bounds, check_bits, check_columns, syndromes, touched)
    width = corrections.shape[1]
    lanes = (data_bits + 63) // 64
    masks = np.zeros((n_bits, lanes + 1), dtype=np.uint64)
    one = np.uint64(1)
    out, event, stop, lost = out_starts[segment], event_bounds[segment], event_bounds[segment + 1], 0
    for word in range(first_word, last_word):
        if not touched[word - first_word]:  # no flip: no syndrome, nothing to write
            continue
        start = word * data_bits
        while event < stop and positions[event] < start + data_bits:
            bit = positions[event] - start
            lane, shift = bit >> 6, np.uint64(bit & 63)
            value = values[event]
            for plane in range(n_bits):
                masks[plane, lane] |= np.uint64((value >> plane) & 1) << shift
            event += 1
        failure = False
        for plane in range(n_planes):
            syndrome = syndromes[(word - first_word) * n_planes + plane]
            failure |= status[syndrome] == detected
            for column in range(width):
                bit = corrections[syndrome, column]
                masks[first_plane + plane, bit >> 6] ^= one << np.uint64(bit & 63)
        real = min(data_bits, size - start)  # a shortened last word: its missing bits read nothing
        for lane in range(lanes):
            union = np.uint64(0)
            for plane in range(n_bits):
                union |= masks[plane, lane]
            if real < (lane + 1) * 64:
                union &= (one << np.uint64(max(real - lane * 64, 0))) - one
            while union != 0:
                low = union & (~union + one)
                bit = _lowest_bit(low)
                value = np.int64(0)
                for plane in range(n_bits):
                    value |= np.int64((masks[plane, lane] >> np.uint64(bit)) & one) << plane
                out_positions[out] = start + lane * 64 + bit
                out_values[out] = value
                out += 1
                union ^= low
            for plane in range(n_bits):
                masks[plane, lane] = 0
        if failure:
            failed[first_word + lost] = word
            lost += 1
    out_counts[segment] = out - out_starts[segment]
    failed_counts[segment] = lost


@njit(parallel=True, cache=True, error_model="numpy")
def _segments_parallel(positions, values, event_bounds, n_bits, first_plane, n_planes, size, data_bits, words,
                       data_columns, check_cells, check_bounds, check_bits, check_columns, status, corrections,
                       detected, out_positions, out_values, out_starts, out_counts, failed, failed_counts):
    for segment in prange(event_bounds.size - 1):
        _segment(segment, positions, values, event_bounds, n_bits, first_plane, n_planes, size, data_bits, words,
                 data_columns, check_cells, check_bounds, check_bits, check_columns, status, corrections, detected,
                 out_positions, out_values, out_starts, out_counts, failed, failed_counts)


@njit(cache=True, error_model="numpy")
def _segments_serial(positions, values, event_bounds, n_bits, first_plane, n_planes, size, data_bits, words,
                     data_columns, check_cells, check_bounds, check_bits, check_columns, status, corrections,
                     detected, out_positions, out_values, out_starts, out_counts, failed, failed_counts):
    for segment in range(event_bounds.size - 1):
        _segment(segment, positions, values, event_bounds, n_bits, first_plane, n_planes, size, data_bits, words,
                 data_columns, check_cells, check_bounds, check_bits, check_columns, status, corrections, detected,
                 out_positions, out_values, out_starts, out_counts, failed, failed_counts)


@lru_cache(maxsize=64)
def _data_corrections(code):
    """``code.corrections`` with every entry that flips no data bit (padding, check bits) sent to the spare lane."""
    spare = -(-code.data_bits // 64) * 64
    corrections = code.corrections.astype(np.int64)
    return np.where((corrections >= 0) & (corrections < code.data_bits), corrections, spare)


def block_residual(positions, values, n_bits, first_plane, size, code, check_cells, zero, detected, parallel):
    """The read-back of one tensor's block-coded planes ``first_plane..n_bits - 1``, decoded by ``code``.

    Parameters
    ----------
    positions, values : ndarray of int64
        The flips of the weights' own cells (every plane), sorted by position.
    n_bits : int
        Bits per weight.
    first_plane : int
        The lowest protected plane (the protected planes run to the top).
    size : int
        Weights of the tensor.
    code : qtaml_theory.ecc.SyndromeCode
    check_cells : list of ndarray of int64
        The flipped check cells of each protected plane (from
        ``first_plane``), cell ``word * check_bits + bit``, sorted.
    zero : bool
        Whether a detected word's weights read as zero (``on_failure="zero"``).
    detected : int
        The table's status of a detected failure.
    parallel : bool
        Run the segments on numba's threading layer (else in this thread),
        when there are at least :data:`PARALLEL_FLIPS` flips.

    Returns
    -------
    positions, values : ndarray of int64
        The read-back XOR mask, sorted, without zero values.
    zeroed : ndarray of int64
        Sorted positions of the weights that read as zero.
    """
    data_bits, check_bits = code.data_bits, code.check_bits
    words = -(-size // data_bits)
    n_planes = len(check_cells)
    if words == 0:
        return positions, values.astype(np.int64), np.zeros(0, dtype=np.int64)
    word_bounds = np.minimum(np.arange(0, words + SEGMENT_WORDS, SEGMENT_WORDS, dtype=np.int64), words)
    segments = word_bounds.size - 1
    event_bounds = np.searchsorted(positions, word_bounds * data_bits)
    offsets = np.cumsum([0] + [cells.size for cells in check_cells])
    check_bounds = np.array([offset + np.searchsorted(cells, word_bounds * check_bits)
                             for offset, cells in zip(offsets.tolist(), check_cells)],
                            dtype=np.int64).reshape(n_planes, segments + 1)
    room = np.diff(event_bounds) + np.diff(word_bounds) * n_planes * code.corrections.shape[1]
    out_starts = np.concatenate([[0], np.cumsum(room)])
    out_positions = np.empty(out_starts[-1], dtype=np.int64)
    out_values = np.empty(out_starts[-1], dtype=np.int64)
    out_counts = np.empty(segments, dtype=np.int64)
    failed = np.empty(words if zero else 0, dtype=np.int64)
    failed_counts = np.empty(segments, dtype=np.int64)
    small = positions.size + sum(cells.size for cells in check_cells) < PARALLEL_FLIPS
    kernel = _segments_parallel if parallel and not small else _segments_serial
    with _KERNEL_LOCK:
        kernel(positions, values, event_bounds, n_bits, first_plane, n_planes, size, data_bits, words,
               code.columns[:data_bits], np.concatenate(check_cells), check_bounds, check_bits,
               code.columns[data_bits:], code.status, _data_corrections(code), detected if zero else -1,
               out_positions, out_values, out_starts[:-1], out_counts, failed, failed_counts)
    kept = [slice(start, start + count) for start, count in zip(out_starts[:-1].tolist(), out_counts.tolist())]
    zeroed = np.zeros(0, dtype=np.int64)
    if zero:
        lost = np.concatenate([failed[start:start + count] for start, count in
                               zip(word_bounds[:-1].tolist(), failed_counts.tolist())])
        zeroed = (lost[:, None] * data_bits + np.arange(data_bits, dtype=np.int64)).ravel()
        zeroed = zeroed[zeroed < size]
    return np.concatenate([out_positions[k] for k in kept]), np.concatenate([out_values[k] for k in kept]), zeroed


@njit(cache=True)
def patch_read_back(out, lookup, codes, previous, positions, values, zeroed):
    """``out[previous] = lookup[codes[previous]]``, then ``out[positions] = lookup[codes[positions] ^ values]``,
    then ``out[zeroed] = 0``: a sparse read-back patched into the parameter's memory ``out``."""
    for position in previous:
        out[position] = lookup[codes[position]]
    for index in range(positions.size):
        out[positions[index]] = lookup[codes[positions[index]] ^ values[index]]
    for position in zeroed:
        out[position] = 0
