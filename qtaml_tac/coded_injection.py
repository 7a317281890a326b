"""Bit-exact injection through real codes: copies voted, codewords encoded, flipped and decoded (issue: real codes).

The top ``k`` bit planes of a tensor are protected by a scheme of
:mod:`qtaml_theory.protection`. Everything stored lives in the faulty memory:

* every bit of every weight flips as in unprotected injection (one draw of the
  tensor's ordinary flip mask);
* :class:`~qtaml_theory.protection.Repetition`: the ``copies - 1`` extra copies
  of each protected bit flip too, and the bit reads by majority vote;
* :class:`~qtaml_theory.protection.SECDED` and :class:`~qtaml_theory.protection.BCH`:
  plane ``j`` is cut into words of ``data_bits`` (weights in storage order;
  the last word shortened), each with its check bits, which flip too. Only
  the words that received a flip (in data or check bits) are decoded, since a
  clean word decodes to itself: the check bits of those words are encoded from
  the stored data, flipped, and the real decoder
  (:meth:`qtaml_theory.ecc.SyndromeCode.decode`) reads the word back; on a
  detected failure the policy applies (``"keep"`` the data as read, ``"zero"``
  the word's weights read as zero).

Flips of cells at rate ``r`` are drawn by geometric gaps between flipped cells
(exact, and costing a time proportional to the flips, not to the cells).
"""

from __future__ import annotations

import math

import numpy as np

from qtaml_theory.ecc import DETECTED
from qtaml_theory.protection import BCH, SECDED, Repetition
from qtaml_theory.protection.base import plane_rates

__all__ = ["CODED_SCHEMES", "coded_flips"]

#: The schemes injected by :func:`coded_flips` (the others are a count of never-flipping top bits).
CODED_SCHEMES = (Repetition, SECDED, BCH)
#: Above this rate, cells are drawn one uniform each rather than by geometric gaps.
_DENSE_RATE = 0.2


def flipped_cells(rng: np.random.Generator, cells: int, rate: float) -> np.ndarray:
    """Sorted indices of the cells among ``cells`` that flip, each independently with probability ``rate``."""
    if rate <= 0 or cells == 0:
        return np.zeros(0, dtype=np.int64)
    if rate >= _DENSE_RATE:
        return np.flatnonzero(rng.random(cells) < rate)
    expected = cells * rate
    chunk = int(expected + 6 * math.sqrt(expected) + 16)
    found, start = [], -1
    while True:
        gaps = rng.geometric(rate, size=chunk)
        positions = start + np.cumsum(gaps)
        found.append(positions[positions < cells])
        if positions[-1] >= cells:
            return np.concatenate(found)
        start = int(positions[-1])


def _sparse(mask):
    """``(positions, values)`` of a :class:`~qtaml_tac.inject.FlipMask`, int64, sorted by position."""
    if mask.dense_mask is not None:
        dense = mask.dense_mask.numpy()
        positions = np.flatnonzero(dense)
        return positions.astype(np.int64), dense[positions].astype(np.int64)
    return mask.positions.numpy().astype(np.int64), mask.values.numpy().astype(np.int64)


def _merge(positions, values, extra_positions, extra_values):
    """XOR-merge two sparse masks (positions may repeat in ``extra``)."""
    every = np.concatenate([positions, extra_positions])
    merged, inverse = np.unique(every, return_inverse=True)
    result = np.zeros(merged.size, dtype=np.int64)
    np.bitwise_xor.at(result, inverse, np.concatenate([values, extra_values]))
    return merged, result


def coded_flips(codes: np.ndarray, n_bits: int, scheme, channel, raw_mask, rng: np.random.Generator):
    """The read-back of one tensor through ``scheme``: sparse flips and the weights that read as zero.

    Parameters
    ----------
    codes : ndarray of int
        The stored codes (flattened).
    n_bits : int
    scheme : Repetition, SECDED or BCH
    channel : qtaml_theory.channels.Channel
        The cells' channel (rates may depend on the stored bit for
        repetition only).
    raw_mask : qtaml_tac.inject.FlipMask
        The flips of the weights' own cells (all ``n_bits`` planes exposed).
    rng : numpy.random.Generator
        Source of the extra cells' flips (copies, check bits) and of nothing else.

    Returns
    -------
    positions, values : ndarray of int64
        The read-back XOR mask, sparse.
    zeroed : ndarray of int64
        Positions of the weights that read as zero.
    """
    positions, values = _sparse(raw_mask)
    order = np.argsort(positions, kind="stable")
    positions, values = positions[order], values[order]
    top = n_bits - scheme.k
    protected_mask = ((1 << n_bits) - 1) ^ ((1 << top) - 1)
    if isinstance(scheme, Repetition):
        residual_positions, residual_values = _majority(codes, n_bits, scheme, channel, positions, values, rng)
        zeroed = np.zeros(0, dtype=np.int64)
    else:
        residual_positions, residual_values, zeroed = _block_decoded(codes, n_bits, scheme, channel, positions,
                                                                     values, rng)
    kept = values & ~protected_mask
    positions, values = _merge(positions, kept, residual_positions, residual_values)
    keep = values != 0
    positions, values = positions[keep], values[keep]
    return positions, values, zeroed


def _majority(codes, n_bits, scheme, channel, positions, values, rng):
    """Protected bits that read wrong: more than half of their ``copies`` cells flipped."""
    size = codes.size
    top = n_bits - scheme.k
    events = []
    for j in range(top, n_bits):
        primary = positions[(values >> j) & 1 == 1]
        events.append(primary * n_bits + j)
        stored = (codes >> j) & 1
        rate_zero, rate_one = (float(channel.rates_for_bits(np.full((1, n_bits), b))[0, j]) for b in (0, 1))
        highest = max(rate_zero, rate_one)
        for _ in range(scheme.copies - 1):
            cells = flipped_cells(rng, size, highest)
            if rate_zero != rate_one:
                wanted = np.where(stored[cells] == 1, rate_one, rate_zero) / highest
                cells = cells[rng.random(cells.size) < wanted]
            events.append(cells * n_bits + j)
    keys, counts = np.unique(np.concatenate(events), return_counts=True)
    wrong = keys[counts > scheme.copies // 2]
    weights, planes = np.divmod(wrong, n_bits)
    return weights, np.int64(1) << planes


def _block_decoded(codes, n_bits, scheme, channel, positions, values, rng):
    """Decode the words of each protected plane that received a flip; the data bits that read wrong."""
    code = scheme.code
    size, data_bits = codes.size, code.data_bits
    words = math.ceil(size / data_bits)
    rates = plane_rates(channel, n_bits)
    wrong_positions, wrong_values, zeroed = [], [], []
    offsets = np.arange(data_bits, dtype=np.int64)
    for j in range(n_bits - scheme.k, n_bits):
        data_flipped = positions[(values >> j) & 1 == 1]
        check_flipped = flipped_cells(rng, words * code.check_bits, float(rates[j]))
        flagged = np.union1d(data_flipped // data_bits, check_flipped // code.check_bits)
        if flagged.size == 0:
            continue
        index = flagged[:, None] * data_bits + offsets
        present = index < size
        safe = np.where(present, index, 0)
        stored = np.where(present, (codes[safe] >> j) & 1, 0).astype(np.uint8)
        received = code.encode(stored)
        received[:, :data_bits] ^= (present & _plane_flips(positions, values, safe, j)).astype(np.uint8)
        row = np.searchsorted(flagged, check_flipped // code.check_bits)
        received[row, data_bits + check_flipped % code.check_bits] ^= 1
        decoded, status = code.decode(received)
        wrong = (decoded != stored) & present
        rows, columns = np.nonzero(wrong)
        wrong_positions.append(index[rows, columns])
        wrong_values.append(np.full(rows.size, 1 << j, dtype=np.int64))
        if scheme.on_failure == "zero":
            failed = np.nonzero(status == DETECTED)[0]
            zeroed.append(index[failed][present[failed]])
    return _joined(wrong_positions), _joined(wrong_values), np.unique(_joined(zeroed))


def _plane_flips(positions, values, index, plane):
    """Whether bit ``plane`` of the weights at ``index`` flipped in the sparse mask ``(positions, values)``."""
    if positions.size == 0:
        return np.zeros(index.shape, dtype=bool)
    hit = np.minimum(np.searchsorted(positions, index), positions.size - 1)
    return (positions[hit] == index) & (((values[hit] >> plane) & 1) == 1)


def _joined(parts):
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
