"""Compiled (numba) twins of the NumPy samplers of :mod:`qtaml_tac.flip_law`, optionally fused with the decode.

Same stream, same tables, same masks as the NumPy methods (see
:mod:`qtaml_tac.flip_law`). Each kernel is one loop over chunks of
:data:`~qtaml_tac.flip_law.CHUNK` weights, each chunk with its own keyed
stream, so the result does not depend on the thread count: :data:`PARALLEL`
runs the chunks on numba's threading layer, :data:`SERIAL` in the calling
thread (no threading layer at all: safe in a forked child and from any number
of Python threads).
``block_readback`` decodes block-scaled weights (channel and group scales,
MX blocks) in one pass. With ``write`` the sampling kernels also write each
sampled weight's read-back value
``lookup[code ^ mask]`` into ``out`` (the parameter's memory): one pass over
the tensor (dense) or over its events (sparse, after putting back the clean
read-back at the previous draw's positions).

Importing this module needs numba; :func:`qtaml_tac.kernel_dispatch.compiled_kernels`
says whether it is in use.
"""

from dataclasses import dataclass

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
def _draw(slots, cdfs, row, word):
    """The outcome of ``word`` in table ``row`` (2-D indexing: no row views in the inner loops)."""
    slot = word >> _SLOT_SHIFT
    outcome = np.int64(slots[row, slot])
    if outcome >= 0:
        return outcome
    j = -outcome - 1
    u = np.float64((slot << uint64(37)) | ((word >> uint64(11)) & _LOW)) * 2.0**-53
    while u >= cdfs[row, j + 1]:
        j += 1
    return j


@njit(inline="always")
def _select(virtual, code, n_bits, directional):
    if directional:
        return ((virtual & code) | ((virtual >> n_bits) & ~code)) & ((1 << n_bits) - 1)
    return virtual


@njit(inline="always")
def _dense_chunk(c, codes, seed, slots, cdfs, shifts, n_bits, directional, masks, write, lookup, out):
    x = _mix(uint64(seed) ^ (uint64(c) * _GAMMA))
    for i in range(c * CHUNK, min(codes.size, (c + 1) * CHUNK)):
        virtual = np.int64(0)
        for h in range(shifts.size):
            x += _GAMMA
            virtual |= _draw(slots, cdfs, h, _mix(x)) << shifts[h]
        code = np.int64(codes[i])
        mask = _select(virtual, code, n_bits, directional)
        masks[i] = mask
        if write:
            out[i] = lookup[code ^ mask]


@njit(inline="always")
def _sparse_chunk(c, codes, seed, gap_slots, gap_cdf, skip, event_slots, event_cdfs, shifts, n_bits, directional,
                  positions, values, counts, capacity, write, lookup, out, previous, previous_start):
    start, stop = c * CHUNK, min(codes.size, (c + 1) * CHUNK)
    if write:  # the previous draw's positions first, in a loop of their own (merged into the events, it mispredicts)
        for j in range(previous_start[c], previous_start[c + 1]):
            out[previous[j]] = lookup[codes[previous[j]]]
    key = _mix(uint64(seed) ^ (uint64(c) * _GAMMA))
    stride = shifts.size + 1
    position, step, found, base = start, 0, 0, c * capacity
    while True:
        first = uint64(step * stride)
        step += 1
        gap = _draw(gap_slots, gap_cdf, 0, _mix(key + (first + uint64(1)) * _GAMMA))
        if gap == skip:
            position += skip
            if position >= stop:
                break
            continue
        position += gap
        if position >= stop:
            break
        virtual = np.int64(0)
        conditioned = np.int64(1)  # picks the table by index, not by a branch (a coin flip at 16 bits)
        for h in range(shifts.size):
            mask = _draw(event_slots, event_cdfs, conditioned * shifts.size + h,
                         _mix(key + (first + uint64(2 + h)) * _GAMMA))
            conditioned &= np.int64(mask == 0)
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


@njit(inline="always")
def _compared_chunk(c, codes, key, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates, per_cell, masks, write,
                    lookup, out):
    for i in range(c * CHUNK, min(codes.size, (c + 1) * CHUNK)):
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


@njit(parallel=True, cache=True)
def _dense_parallel(codes, seed, slots, cdfs, shifts, n_bits, directional, masks, write, lookup, out):
    for c in prange((codes.size + CHUNK - 1) // CHUNK):
        _dense_chunk(c, codes, seed, slots, cdfs, shifts, n_bits, directional, masks, write, lookup, out)


@njit(cache=True)
def _dense_serial(codes, seed, slots, cdfs, shifts, n_bits, directional, masks, write, lookup, out):
    for c in range((codes.size + CHUNK - 1) // CHUNK):
        _dense_chunk(c, codes, seed, slots, cdfs, shifts, n_bits, directional, masks, write, lookup, out)


@njit(parallel=True, cache=True)
def _sparse_parallel(codes, seed, gap_slots, gap_cdf, skip, event_slots, event_cdfs, shifts, n_bits, directional,
                     positions, values, counts, capacity, write, lookup, out, previous, previous_start):
    for c in prange((codes.size + CHUNK - 1) // CHUNK):
        _sparse_chunk(c, codes, seed, gap_slots, gap_cdf, skip, event_slots, event_cdfs, shifts, n_bits, directional,
                      positions, values, counts, capacity, write, lookup, out, previous, previous_start)


@njit(cache=True)
def _sparse_serial(codes, seed, gap_slots, gap_cdf, skip, event_slots, event_cdfs, shifts, n_bits, directional,
                   positions, values, counts, capacity, write, lookup, out, previous, previous_start):
    for c in range((codes.size + CHUNK - 1) // CHUNK):
        _sparse_chunk(c, codes, seed, gap_slots, gap_cdf, skip, event_slots, event_cdfs, shifts, n_bits, directional,
                      positions, values, counts, capacity, write, lookup, out, previous, previous_start)


@njit(parallel=True, cache=True)
def _compared_parallel(codes, key, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates, per_cell, masks, write,
                       lookup, out):
    for c in prange((codes.size + CHUNK - 1) // CHUNK):
        _compared_chunk(c, codes, key, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates, per_cell, masks,
                        write, lookup, out)


@njit(cache=True)
def _compared_serial(codes, key, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates, per_cell, masks, write,
                     lookup, out):
    for c in range((codes.size + CHUNK - 1) // CHUNK):
        _compared_chunk(c, codes, key, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates, per_cell, masks,
                        write, lookup, out)


@njit(inline="always")
def _block(b, codes, masks, masked, table, multipliers, zero_points, shifted, block, out):
    multiplier = multipliers[b]
    zero = zero_points[b] if shifted else 0.0  # x - 0.0 is x, bit for bit
    for i in range(b * block, (b + 1) * block):
        code = np.int64(codes[i])
        if masked:
            code ^= np.int64(masks[i])
        out[i] = (table[code] - zero) * multiplier


@njit(parallel=True, cache=True)
def _blocks_parallel(codes, masks, masked, table, multipliers, zero_points, shifted, block, out):
    for b in prange(codes.size // block):
        _block(b, codes, masks, masked, table, multipliers, zero_points, shifted, block, out)


@njit(cache=True)
def _blocks_serial(codes, masks, masked, table, multipliers, zero_points, shifted, block, out):
    for b in range(codes.size // block):
        _block(b, codes, masks, masked, table, multipliers, zero_points, shifted, block, out)


@njit(cache=True)
def _positions_readback(codes, positions, table, multipliers, zero_points, shifted, block, out):
    for j in range(positions.size):
        b = positions[j] // block
        zero = zero_points[b] if shifted else 0.0
        out[positions[j]] = (table[np.int64(codes[j])] - zero) * multipliers[b]


@dataclass(frozen=True)
class Kernels:
    """The kernels of one kind (all arrays NumPy; ``write`` fuses the decode into ``out``).

    Attributes
    ----------
    dense_flips
        ``(codes, seed, slots, cdfs, shifts, n_bits, directional, masks, write, lookup, out)``: every
        weight's mask into ``masks`` (:meth:`qtaml_tac.flip_law.FlipLaw.dense`).
    sparse_flips
        ``(codes, seed, gap_slots, gap_cdf, skip, event_slots, event_cdfs, shifts, n_bits, directional,
        positions, values, counts, capacity, write, lookup, out, previous, previous_start)``: with
        ``gap_slots``/``gap_cdf`` one row, ``event_slots``/``event_cdfs`` the groups' tables and then their
        conditioned ones (row ``H + h``), chunk
        ``c``'s events into its ``capacity`` slice of ``positions``/``values`` and their number into
        ``counts[c]`` (``-1``: the slice overflowed); with ``write``, the chunk's ``previous`` positions get
        their clean read-back first (:meth:`qtaml_tac.flip_law.FlipLaw.sparse`).
    compared_flips
        ``(codes, key, n_bits, exposed, rates_if_zero, rates_if_one, cell_rates, per_cell, masks, write,
        lookup, out)``: :func:`qtaml_tac.flip_law.compared_masks` into ``masks``.
    block_readback
        ``(codes, masks, masked, table, multipliers, zero_points, shifted, block, out)``: the read-back of
        block-scaled weights, ``out[i] = (table[codes[i] ^ masks[i]] - zero_points[b]) * multipliers[b]``
        with ``b = i // block`` (no mask unless ``masked``, no zero point unless ``shifted``), in float64
        and rounded once to ``out``'s dtype (:meth:`qtaml_tac.storage.StoredTensor.readback`).
    positions_readback
        ``(codes, positions, table, multipliers, zero_points, shifted, block, out)``: the same read-back at
        ``positions`` only, of the codes ``codes[j]`` stored there (a sparse patch; serial in both kinds).
    """

    dense_flips: object
    sparse_flips: object
    compared_flips: object
    block_readback: object
    positions_readback: object


#: Chunks in parallel on numba's threading layer.
PARALLEL = Kernels(_dense_parallel, _sparse_parallel, _compared_parallel, _blocks_parallel, _positions_readback)
#: Chunks one after the other in the calling thread.
SERIAL = Kernels(_dense_serial, _sparse_serial, _compared_serial, _blocks_serial, _positions_readback)
