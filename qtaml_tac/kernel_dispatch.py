"""Kernel dispatch: which sampler draws a mask, into which buffers, and what each parameter holds (Section 3, 5.7).

The numba kernels of :mod:`qtaml_tac.flip_kernels` and their NumPy twins in
:mod:`qtaml_tac.flip_law` give the same masks; this module picks one
(:func:`compiled_kernels`), serializes launches (one lock), hands out the
buffers the masks are drawn into, and decides whether a kernel writes the
read-back into the parameter as it samples (a fused write).

A :class:`TensorWorkspace` is the injection side's state of one stored
tensor: its reused buffers and what its parameter holds, so that a sparse
draw patches only the weights the previous draw changed. The storage
(:mod:`qtaml_tac.storage`, stage 1) knows none of this; a workspace notices
any write it did not make (a clean read-back, a restore) by the parameter's
version counter and then rewrites the whole tensor.
"""

from __future__ import annotations

import math
import os
import threading

import numpy as np
import torch

from .flip_law import CHUNK, compared_masks

__all__ = ["compiled_kernels", "SPARSE_SLACK", "PATCHED_SHARE", "TensorWorkspace", "fused_target", "mask_buffer", "dense_masks",
           "sparse_flips", "compared_masks_into", "block_readback_into"]

#: Serializes kernel launches from several Python threads (numba's "workqueue" threading layer, where neither
#: TBB nor OpenMP is found, is not thread-safe); each launch is itself parallel.
_KERNEL_LOCK = threading.Lock()

#: Each chunk's slice of a compiled sparse draw holds this many standard deviations above the expected events.
SPARSE_SLACK = 12

#: Events a chunk's slice holds beyond ``SPARSE_SLACK`` standard deviations (room for small expectations).
_SPARSE_EXTRA = 32

#: A write with flipped scales patches their blocks while they hold at most this share of the tensor's weights;
#: beyond it the whole tensor is rewritten. Measured crossover (2M weights, one thread, int4 with groups of 32 and
#: MXFP8 with their scales in faulty memory): between 0.077 and 0.09.
PATCHED_SHARE = 0.08

#: What a parameter holds when it is noisy everywhere (a dense write) or not known (see TensorWorkspace).
_EVERYWHERE = torch.empty(0)


def compiled_kernels():
    """The numba kernels in use (:class:`qtaml_tac.flip_kernels.Kernels`), or ``None`` for the NumPy twin.

    ``None`` when numba is missing or ``QTAML_COMPILED=0`` is set. The kernels
    follow ``torch.get_num_threads()``: with one thread the serial ones (no
    threading layer: safe in a forked child, e.g. a ``multiprocessing`` worker
    that sets one torch thread), else the parallel ones on that many threads.
    Every route gives the same masks; the compiled ones are faster and write
    the read-back values while they sample.
    """
    if os.environ.get("QTAML_COMPILED", "1") == "0":
        return None
    try:
        from . import flip_kernels
    except ImportError:
        return None
    import numba

    threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if threads <= 1:
        return flip_kernels.SERIAL
    numba.set_num_threads(threads)
    return flip_kernels.PARALLEL


def _buffer(space, key, size, dtype):
    if key not in space or space[key].size < size:
        space[key] = np.empty(size, dtype=dtype)
    return space[key][:size]


def mask_buffer(space: dict, size: int, n_bits: int) -> np.ndarray:
    """A dense mask buffer of ``size`` entries from ``space`` (uint8 up to 8 bits, else int32)."""
    return _buffer(space, "masks", size, np.uint8 if n_bits <= 8 else np.int32)


class TensorWorkspace:
    """The injection state of one stored tensor: reused buffers, and what its parameter holds.

    ``held`` is ``None`` when the parameter holds the clean read-back, a
    tensor of positions when it holds the clean read-back except there (the
    last sparse patch), or a marker for "noisy everywhere"; it is trusted
    only while the parameter's version counter is the one recorded after the
    last write made here (torch bumps it on every in-place write; the fused
    kernels write through NumPy and do not). Writes that bypass the counter
    (through ``parameter.data`` or a NumPy view) are not seen: call
    :meth:`qtaml_tac.storage.Storage.write_` or ``restore_`` after them.

    Parameters
    ----------
    tensor : qtaml_tac.storage.StoredTensor
    """

    def __init__(self, tensor):
        self.tensor = tensor
        self.buffers = {}
        #: What real codes store beside the tensor: each protected plane's words and check bits, encoded once.
        self.coded = {}
        self.held = _EVERYWHERE
        self.version = None

    @torch.no_grad()
    def patch_base_(self) -> torch.Tensor:
        """Ready the parameter for a sparse patch; returns the positions still to put back.

        When the parameter is noisy everywhere, or was written elsewhere, its
        clean read-back is decoded here first. The returned positions (int64,
        empty if none) must be put back by the caller before or while it patches.
        """
        tensor = self.tensor
        if self.held is _EVERYWHERE or self.version != tensor.parameter._version:
            tensor.write_readback_(tensor.codes)
            self.held = None
        return torch.empty(0, dtype=torch.int64) if self.held is None else self.held

    def written_(self, mask, positions=None) -> None:
        """Record that the read-back of ``mask`` (a :class:`qtaml_tac.inject.FlipMask`) is in the parameter
        (noisy at ``positions``, default the mask's)."""
        positions = mask.positions if positions is None else positions
        self.held = _EVERYWHERE if mask.dense_mask is not None else positions
        self.version = self.tensor.parameter._version

    @torch.no_grad()
    def patch_(self, mask) -> None:
        """Write a sparse ``mask``'s read-back through NumPy views when the parameter allows it, else :meth:`write_`.

        The same values as :meth:`write_` (a lookup of the same table), without
        torch's indexing overhead: what the fused kernels do for channel draws,
        for masks made in Python (real codes, :mod:`qtaml_tac.coded_injection`).
        """
        fused, lookup, out = fused_target(self.tensor, True, True)
        if not fused or mask.dense_mask is not None:
            self.write_(mask)
            return
        codes = self.tensor.codes.numpy()
        previous = self.patch_base_().numpy()
        positions, values = mask.positions.numpy(), mask.values.numpy()
        zeroed = np.zeros(0, dtype=np.int64) if mask.zeroed is None else mask.zeroed.numpy()
        if compiled_kernels() is not None:
            from .code_kernels import patch_read_back

            patch_read_back(out, lookup, codes, previous, positions, values, zeroed)
        else:
            out[previous] = lookup[codes[previous]]
            out[positions] = lookup[codes[positions] ^ values]
            out[zeroed] = 0
        self.written_(mask)

    @torch.no_grad()
    def write_(self, mask) -> None:
        """Write the read-back of ``codes ^ mask`` into the parameter, in place.

        A sparse mask patches only the flipped weights, after putting back
        the weights the previous sparse write patched (:meth:`patch_base_`);
        a flipped scale or zero point (:class:`qtaml_tac.inject.FlipMask`'s
        scale masks) adds its whole block to the patch. A dense mask, or
        flipped scales whose blocks hold more than :data:`PATCHED_SHARE` of
        the weights, rewrites the whole tensor.
        """
        tensor = self.tensor
        blocks = _flipped_blocks(mask)
        if mask.dense_mask is None and blocks.numel() * tensor.block <= PATCHED_SHARE * tensor.size:
            previous = self.patch_base_()
            tensor.write_readback_(tensor.codes[previous], previous)
            held = mask.positions
            multipliers = zero_points = None
            if blocks.numel():  # the flipped blocks with their read scales, then the flipped weights over them
                multipliers, zero_points = self._read_blocks(blocks, mask)
                spans = (blocks[:, None] * tensor.block + torch.arange(tensor.block)).flatten()
                tensor.write_readback_(tensor.codes[spans], spans, zero_points=zero_points, multipliers=multipliers)
                held = torch.cat([spans, held])  # put back as they come: order and repeats do not matter
            tensor.write_readback_(tensor.codes[mask.positions] ^ mask.values, mask.positions,
                                   zero_points=zero_points, multipliers=multipliers)
        else:
            scales, zero_points = tensor.scales_read(mask.scale_mask, mask.zero_point_mask)
            dense = mask.dense_mask if mask.dense_mask is not None else mask.dense()
            if tensor.lookup is not None or not block_readback_into(tensor.codes, dense, tensor.table,
                                                                    tensor.multipliers(scales), zero_points,
                                                                    tensor.block, tensor.parameter):
                codes = torch.bitwise_xor(tensor.codes, dense, out=self.buffers.setdefault(
                    "noisy_codes", torch.empty(tensor.size, dtype=tensor.codes.dtype)))
                tensor.write_readback_(codes, None, scales, zero_points)
            held = _EVERYWHERE
        if mask.zeroed is not None:
            tensor.parameter.view(-1)[mask.zeroed] = 0
        self.written_(mask, held)

    def _read_blocks(self, blocks, mask) -> tuple:
        """:meth:`~qtaml_tac.storage.StoredTensor.read_blocks` into this workspace's buffers: the blocks that
        the previous call read are put back, then ``blocks`` read (the cost of the flipped blocks only)."""
        tensor = self.tensor
        stored = (tensor.multipliers(), tensor.zero_points)  # what the buffers copy
        held = self.buffers.get("read_blocks")  # (stored, buffers, blocks read)
        if held is None or held[0][0] is not stored[0] or held[0][1] is not stored[1]:
            buffers = tensor.read_blocks(blocks, mask.scale_mask, mask.zero_point_mask)
        else:
            buffers = tensor.read_blocks(blocks, mask.scale_mask, mask.zero_point_mask, held[1], held[2])
        self.buffers["read_blocks"] = (stored, buffers, blocks)
        return buffers


def _flipped_blocks(mask) -> torch.Tensor:
    """The blocks (int64, sorted) whose scale or zero point ``mask`` flips."""
    flipped = [m.numpy() for m in (mask.scale_mask, mask.zero_point_mask) if m is not None]
    if not flipped:
        return torch.empty(0, dtype=torch.int64)
    either = flipped[0] != 0 if len(flipped) == 1 else (flipped[0] | flipped[1]) != 0
    return torch.from_numpy(np.flatnonzero(either))  # of a bool array: several times faster than of int32


def fused_target(tensor, write: bool, kernels) -> tuple:
    """``(fused, lookup, out)``: whether a kernel can write the read-back into the parameter as it samples (a
    float32/float64 contiguous parameter on the CPU), with the NumPy views it writes through."""
    fused = write and kernels is not None and tensor.lookup is not None \
        and tensor.lookup.dtype in (torch.float32, torch.float64) \
        and tensor.parameter.device.type == "cpu" and tensor.parameter.is_contiguous()
    if not fused:
        return False, np.zeros(1), np.zeros(1)
    return True, tensor.lookup.numpy(), tensor.parameter.detach().view(-1).numpy()


def dense_masks(kernels, law, codes, seed, masks, fused, lookup, out) -> None:
    """Every weight's mask of ``law`` (:class:`qtaml_tac.flip_law.FlipLaw`) into ``masks``, by ``kernels`` or
    NumPy (:meth:`~qtaml_tac.flip_law.FlipLaw.dense`); a fused kernel also writes the read-back into ``out``."""
    if kernels is None:
        masks[:] = law.dense(codes, seed)
        return
    tables = law.kernel_arrays
    with _KERNEL_LOCK:
        kernels.dense_flips(codes, seed, tables["slots"], tables["cdfs"], tables["shifts"], law.n_bits,
                            law.directional, masks, fused, lookup, out)


def sparse_flips(kernels, law, codes, seed, space, write, lookup, out, previous) -> tuple:
    """Positions and values of a sparse draw by the compiled kernel (each chunk fills its own slice).

    With ``write`` the kernel puts back the clean read-back at ``previous``
    and writes the read-back of the new flips into ``out``.
    """
    n_chunks = -(-codes.size // CHUNK)
    expected = law.event_rate * min(CHUNK, codes.size)
    capacity = min(CHUNK, max(1, int(expected + SPARSE_SLACK * math.sqrt(expected) + _SPARSE_EXTRA)))
    if previous.size and np.any(previous[1:] < previous[:-1]):
        previous = np.sort(previous)
    previous_start = np.searchsorted(previous, np.arange(n_chunks + 1, dtype=np.int64) * CHUNK)
    tables = law.kernel_arrays
    while True:
        positions = _buffer(space, "positions", n_chunks * capacity, np.int64)
        values = _buffer(space, "values", n_chunks * capacity, np.int32)
        counts = np.empty(n_chunks, dtype=np.int64)
        with _KERNEL_LOCK:
            kernels.sparse_flips(codes, seed, law.gaps.slots[None], law.gaps.cdf[None], law.gap_skip,
                                 tables["event_slots"], tables["event_cdfs"], tables["shifts"], law.n_bits,
                                 law.directional, positions, values, counts, capacity, write, lookup, out, previous,
                                 previous_start)
        if counts.min() >= 0:
            break
        capacity = CHUNK  # a slice overflowed (beyond SPARSE_SLACK standard deviations): redraw the same stream
    slices = [slice(c * capacity, c * capacity + counts[c]) for c in range(n_chunks)]
    return (torch.from_numpy(np.concatenate([positions[s] for s in slices])),
            torch.from_numpy(np.concatenate([values[s] for s in slices])))


def compared_masks_into(kernels, codes, key, n_bits, exposed, by_bit, cell_rates, masks, fused, lookup, out) -> None:
    """Masks from comparing each (cell, bit)'s uniform of the stream ``key`` with its rate, into ``masks``
    (:func:`qtaml_tac.flip_law.compared_masks`); a fused kernel also writes the read-back into ``out``."""
    if kernels is None:
        masks[:] = compared_masks(key, codes, n_bits, exposed, by_bit[0], by_bit[1], cell_rates)
        return
    with _KERNEL_LOCK:
        kernels.compared_flips(codes, np.uint64(key), n_bits, exposed, by_bit[0], by_bit[1],
                               np.zeros(1) if cell_rates is None else cell_rates, cell_rates is not None,
                               masks, fused, lookup, out)


def block_readback_into(codes, masks, table, multipliers, zero_points, block, out, positions=None) -> bool:
    """The read-back of block-scaled weights written into ``out`` by the compiled kernel; ``False`` (nothing
    written) where there is none or ``out`` is not a float32/float64 contiguous CPU tensor.

    ``out[i] = (table[codes[i] ^ masks[i]] - zero_points[b]) * multipliers[b]``, ``b = i // block``, in
    float64 rounded once to ``out``'s dtype: the values of the torch route of
    :meth:`qtaml_tac.storage.StoredTensor.readback`, bit for bit. With ``positions`` (and ``masks=None``)
    only there: ``out[positions[j]]`` from ``codes[j]``.
    """
    kernels = compiled_kernels()
    if kernels is None or out.dtype not in (torch.float32, torch.float64) or out.device.type != "cpu" \
            or not out.is_contiguous():
        return False
    shifted = zero_points is not None
    arrays = (table.numpy(), multipliers.numpy(), zero_points.numpy() if shifted else np.zeros(1), shifted, block,
              out.detach().view(-1).numpy())
    with _KERNEL_LOCK:
        if positions is not None:
            kernels.positions_readback(codes.numpy(), positions.numpy(), *arrays)
        else:
            kernels.block_readback(codes.numpy(), np.zeros(1, np.int32) if masks is None else masks.numpy(),
                                   masks is not None, *arrays)
    return True
