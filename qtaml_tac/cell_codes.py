"""Real codes over multi-level cells, bit for bit: data, check bits and copies all in cells (issues 14 and 16).

A :class:`~qtaml_theory.channels.MultiLevelChannel` stores ``b`` bits per
cell, and the bits of a cell fail together. With a protection scheme of
:mod:`qtaml_theory.protection` every stored bit lives in such a cell:

Data
   Each weight's ``n_bits`` code in ``n_bits / b`` cells, as without a code
   (cell ``j`` holds code bits ``j*b .. j*b + b - 1``, bit 0 least significant).
Check bits (:class:`~qtaml_theory.protection.SECDED`, :class:`~qtaml_theory.protection.BCH`)
   Encoded once, at the write, from the stored data, as
   :func:`qtaml_tac.coded_injection.stored_words` lays the words out
   (protected plane ``q = 0 .. k-1`` from the lowest protected plane up;
   plane ``q`` cut into ``words`` words of ``data_bits`` weights in storage
   order, the last one shortened). They form one stream: check bit ``i`` of
   word ``w`` of plane ``q`` is entry ``g = (q * words + w) * check_bits + i``.
Extra copies (:class:`~qtaml_theory.protection.Repetition`)
   Copy ``c = 0 .. copies - 2`` of protected plane ``q`` of weight ``w`` is
   entry ``g = (c * size + w) * k + q`` of the stream.

The stream is packed ``b`` bits per cell in order: entry ``g`` is bit
``g % b`` of extra cell ``g // b`` (the last cell padded with zeros, whose
flips read nothing). Every cell, data or extra, lands on a level drawn from
the transition row of the level it stores (its stored value is the data, the
encoded check bits or the copies), and reads back by the level map. Then each
word decodes as in :func:`qtaml_tac.coded_injection.coded_flips` (copies by
majority vote; codewords by the real decoder or its compiled twin, only those that received a
flip; the failure policy applied).

Draw order, one uniform per cell from one ``numpy.random.Generator``: the
data cells, weight after weight (cells in order within a weight), then the
extra cells in stream order (:meth:`~qtaml_theory.channels.MultiLevelChannel.sample_masks`).
So a seed fixes the read-back bit for bit, across runs and routes.

A channel of one bit per cell whose rate depends on the stored value but not
on the bit's position (:class:`~qtaml_theory.channels.DirectionalChannel`:
charge loss in SLC) is the one-level-bit cell of :func:`cells_of`; codes over
it go through the same machinery, since check bits and copies store known values.
"""

from __future__ import annotations

import math

import numpy as np

from qtaml_theory.channels import MultiLevelChannel
from qtaml_theory.ecc.linear import MAX_PACKED_DATA_BITS
from qtaml_theory.protection import Repetition

from .coded_injection import decoded_flips, stored_words

__all__ = ["cells_of", "cell_coded_flips", "extra_bits"]


def cells_of(channel, n_bits: int) -> MultiLevelChannel | None:
    """The cells a code's bits live in under ``channel``, or ``None`` when the plane-rate route serves it.

    A :class:`~qtaml_theory.channels.MultiLevelChannel` is its own cells. A
    one-bit channel whose flip rate depends on the stored value, the same at
    every position (directional), becomes ``MultiLevelChannel(1, [[1 - r0,
    r0], [r1, 1 - r1]])``. Symmetric and per-bit channels (rates independent
    of the stored value) return ``None``: their planes flip independently,
    as :mod:`qtaml_tac.coded_injection` draws them.
    """
    if isinstance(channel, MultiLevelChannel):
        return channel
    if channel.bits_per_cell > 1:
        return None
    zeros, ones = (channel.rates_for_bits(np.full((1, n_bits), bit, dtype=np.int64))[0].tolist() for bit in (0, 1))
    if zeros == ones or len(set(zeros)) > 1 or len(set(ones)) > 1:
        return None
    r0, r1 = zeros[0], ones[0]
    return MultiLevelChannel(1, [[1 - r0, r0], [r1, 1 - r1]], "binary")


def extra_bits(codes: np.ndarray, n_bits: int, scheme, cache: dict | None = None) -> np.ndarray:
    """The stream of stored bits besides the data (module docstring's layout), uint8.

    Check bits are the write's (:func:`~qtaml_tac.coded_injection.stored_words`,
    kept in ``cache``); copies are the protected bits themselves.
    """
    codes = np.asarray(codes, dtype=np.int64)
    planes = range(n_bits - scheme.k, n_bits)
    if isinstance(scheme, Repetition):
        protected = ((codes[:, None] >> np.arange(planes.start, planes.stop)) & 1).astype(np.uint8)
        return np.tile(protected.ravel(), scheme.copies - 1)
    code = scheme.code
    if code.decoded_by_table and code.data_bits <= MAX_PACKED_DATA_BITS:
        checks = stored_words(codes, planes, code, cache)[1]
        return ((checks[:, None] >> np.arange(code.check_bits)) & 1).astype(np.uint8).ravel()
    words = math.ceil(codes.size / code.data_bits)
    rows = []
    for plane in planes:
        data = np.zeros(words * code.data_bits, dtype=np.uint8)
        data[:codes.size] = (codes >> plane) & 1
        rows.append(code.encode(data.reshape(words, code.data_bits))[:, code.data_bits:].ravel())
    return np.concatenate(rows)


def _stream_flips(stream, cells, rng):
    """Which entries of ``stream`` read back flipped, its cells packed ``b`` bits each and drawn from ``rng``."""
    width = cells.bits_per_cell
    padded = np.zeros(-(-stream.size // width) * width, dtype=np.int64)
    padded[:stream.size] = stream
    masks = cells.sample_masks(padded.reshape(-1, width), 1, rng)[0] if padded.size else padded
    return (((masks[:, None] >> np.arange(width)) & 1).ravel()[:stream.size]).astype(bool)


def cell_coded_flips(codes: np.ndarray, n_bits: int, scheme, cells: MultiLevelChannel, rng: np.random.Generator,
                     cache: dict | None = None):
    """The read-back of one tensor through ``scheme`` with every stored bit in ``cells`` (module docstring).

    Returns what :func:`qtaml_tac.coded_injection.coded_flips` returns: the
    sparse read-back XOR mask ``(positions, values)`` and the positions of
    the weights that read as zero. ``cells`` comes from :func:`cells_of`
    (``n_bits`` a multiple of its bits per cell); ``rng`` draws every cell's
    level, in the module's order; ``cache`` lives with the stored tensor and
    keeps its words' check bits, encoded once.
    """
    codes = np.asarray(codes, dtype=np.int64)
    cells.check_width(n_bits)
    bits = (codes[:, None] >> np.arange(n_bits, dtype=np.int64)) & 1
    data = cells.sample_masks(bits, 1, rng)[0]
    flipped = np.flatnonzero(_stream_flips(extra_bits(codes, n_bits, scheme, cache), cells, rng))
    if isinstance(scheme, Repetition):
        copy_weight, plane = np.divmod(flipped, scheme.k)
    else:
        per_plane = math.ceil(codes.size / scheme.code.data_bits) * scheme.code.check_bits
        plane, copy_weight = np.divmod(flipped, per_plane)
    extra = [copy_weight[plane == q] for q in range(scheme.k)]
    positions = np.flatnonzero(data)
    return decoded_flips(codes, n_bits, scheme, cells, positions, data[positions], None, cache, extra)
