"""Compiled (numba) twins of the NumPy samplers of :mod:`qtaml_tac.flip_law`, optionally fused with the decode.

Same stream, same tables, same masks as the NumPy methods (see
:mod:`qtaml_tac.flip_law`); chunks run in parallel threads and each chunk has
its own keyed stream, so the result does not depend on the thread count.
With ``write`` the kernels also write each sampled weight's read-back value
``lookup[code ^ mask]`` into ``out`` (the parameter's memory): one pass over
the tensor (dense) or over its events (sparse, after putting back the clean
read-back at the previous draw's positions).

Importing this module needs numba; :func:`qtaml_tac.inject.compiled_kernels`
says whether it is in use.
"""

import numpy as np
from numba import njit, prange, uint64

from .flip_law import _LOW37, _MIX1, _MIX2, CHUNK, GAMMA, SLOT_BITS

_GAMMA = np.uint64(GAMMA)
_M1 = np.uint64(_MIX1)
_M2 = np.uint64(_MIX2)
_LOW = np.uint64(_LOW37)
_SLOT_SHIFT = np.uint64(64 - SLOT_BITS)


@njit(inline="always")
def _mix(z):
    z = (z ^ (z >> uint64(30))) * _M1
    z = (z ^ (z >> uint64(27))) * _M2
    return z ^ (z >> uint64(31))


@njit(inline="always")
def _draw(slots, cdf, word):
    slot = word >> _SLOT_SHIFT
    outcome = np.int64(slots[slot])
    if outcome >= 0:
        return outcome
    j = -outcome - 1
    u = np.float64((slot << uint64(37)) | ((word >> uint64(11)) & _LOW)) * 2.0**-53
    while u >= cdf[j + 1]:
        j += 1
    return j


@njit(inline="always")
def _select(virtual, code, n_bits, directional):
    if directional:
        return ((virtual & code) | ((virtual >> n_bits) & ~code)) & ((1 << n_bits) - 1)
    return virtual


@njit(parallel=True, cache=True)
def dense_flips(codes, seed, slots, cdfs, shifts, n_bits, directional, masks, write, lookup, out):
    """Every weight's mask into ``masks``; with ``write``, ``out[i] = lookup[codes[i] ^ mask]``."""
    size = codes.size
    for c in prange((size + CHUNK - 1) // CHUNK):
        x = _mix(uint64(seed) ^ (uint64(c) * _GAMMA))
        for i in range(c * CHUNK, min(size, (c + 1) * CHUNK)):
            virtual = np.int64(0)
            for h in range(shifts.size):
                x += _GAMMA
                virtual |= _draw(slots[h], cdfs[h], _mix(x)) << shifts[h]
            code = np.int64(codes[i])
            mask = _select(virtual, code, n_bits, directional)
            masks[i] = mask
            if write:
                out[i] = lookup[code ^ mask]


@njit(parallel=True, cache=True)
def sparse_flips(codes, seed, gap_slots, gap_cdf, skip, slots, cdfs, given_slots, given_cdfs, shifts, n_bits,
                 directional, positions, values, counts, capacity, write, lookup, out, previous, previous_start):
    """Each chunk's events into its ``capacity`` slice of ``positions``/``values``, their number in ``counts``
    (``-1``: the slice overflowed). With ``write``, first put back ``lookup[codes]`` at the chunk's
    ``previous`` positions, then write each event's read-back value."""
    size = codes.size
    stride = shifts.size + 1
    for c in prange((size + CHUNK - 1) // CHUNK):
        start, stop = c * CHUNK, min(size, (c + 1) * CHUNK)
        if write:
            for j in range(previous_start[c], previous_start[c + 1]):
                out[previous[j]] = lookup[codes[previous[j]]]
        key = _mix(uint64(seed) ^ (uint64(c) * _GAMMA))
        position, step, found, base = start, 0, 0, c * capacity
        while True:
            first = uint64(step * stride)
            step += 1
            gap = _draw(gap_slots, gap_cdf, _mix(key + (first + uint64(1)) * _GAMMA))
            if gap == skip:
                position += skip
                if position >= stop:
                    break
                continue
            position += gap
            if position >= stop:
                break
            virtual = np.int64(0)
            conditioned = True
            for h in range(shifts.size):
                word = _mix(key + (first + uint64(2 + h)) * _GAMMA)
                if conditioned:
                    mask = _draw(given_slots[h], given_cdfs[h], word)
                    conditioned = mask == 0
                else:
                    mask = _draw(slots[h], cdfs[h], word)
                virtual |= mask << shifts[h]
            if found == capacity:
                found = -1
                break
            code = np.int64(codes[position])
            mask = _select(virtual, code, n_bits, directional)
            positions[base + found] = position
            values[base + found] = mask
            if write:
                out[position] = lookup[code ^ mask]
            found += 1
            position += 1
        counts[c] = found


@njit(parallel=True, cache=True)
def compared_flips(codes, key, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates, per_cell, masks, write,
                   lookup, out):
    """Masks by comparison (:func:`qtaml_tac.flip_law.compared_masks`) into ``masks``; with ``write`` also
    ``out[i] = lookup[codes[i] ^ mask]``."""
    for i in prange(codes.size):
        code = np.int64(codes[i])
        mask = np.int64(0)
        first = uint64(i) * uint64(n_bits)
        for bit in range(exposed):
            word = _mix(uint64(key) + (first + uint64(bit + 1)) * _GAMMA)
            if per_cell:
                rate = cell_rates[i]
            elif (code >> bit) & 1:
                rate = rates_if_one[bit]
            else:
                rate = rates_if_zero[bit]
            if np.float64(word >> uint64(11)) * 2.0**-53 < rate:
                mask |= np.int64(1) << bit
        masks[i] = mask
        if write:
            out[i] = lookup[code ^ mask]
