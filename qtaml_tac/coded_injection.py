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
from qtaml_theory.ecc.linear import MAX_PACKED_DATA_BITS
from qtaml_theory.protection import BCH, SECDED, Repetition
from qtaml_theory.protection.base import plane_rates

from .kernel_dispatch import compiled_kernels

__all__ = ["CODED_SCHEMES", "coded_flips", "decoded_flips", "flipped_cells", "stored_words"]

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
    """``(positions, values)`` of a :class:`~qtaml_tac.inject.FlipMask`, int64, sorted by position (the compiled
    sparse draw's already are)."""
    if mask.dense_mask is not None:
        dense = mask.dense_mask.numpy()
        positions = np.flatnonzero(dense)
        return positions.astype(np.int64), dense[positions].astype(np.int64)
    positions = np.asarray(mask.positions.numpy(), dtype=np.int64)
    values = np.asarray(mask.values.numpy(), dtype=np.int64)
    if positions.size > 1 and np.any(positions[1:] < positions[:-1]):
        order = np.argsort(positions, kind="stable")
        positions, values = positions[order], values[order]
    return positions, values


def _merge(positions, values, extra_positions, extra_values):
    """XOR ``extra`` (positions may repeat, bits may not) into the sorted sparse mask ``(positions, values)``."""
    values = values.copy()
    if positions.size and extra_positions.size:
        index = np.minimum(np.searchsorted(positions, extra_positions), positions.size - 1)
        found = positions[index] == extra_positions
        np.bitwise_or.at(values, index[found], extra_values[found])
        extra_positions, extra_values = extra_positions[~found], extra_values[~found]
    if extra_positions.size == 0:
        return positions, values
    every = np.concatenate([positions, extra_positions])
    merged, inverse = np.unique(every, return_inverse=True)
    result = np.zeros(merged.size, dtype=np.int64)
    np.bitwise_or.at(result, inverse, np.concatenate([values, extra_values]))
    return merged, result


def coded_flips(codes: np.ndarray, n_bits: int, scheme, channel, raw_mask, rng: np.random.Generator,
                cache: dict | None = None):
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
    cache : dict, optional
        Kept with the stored tensor across trials: its words' check bits,
        encoded once (:func:`stored_words`).

    Returns
    -------
    positions, values : ndarray of int64
        The read-back XOR mask, sparse.
    zeroed : ndarray of int64
        Positions of the weights that read as zero.
    """
    return decoded_flips(codes, n_bits, scheme, channel, *_sparse(raw_mask), rng, cache)


def decoded_flips(codes: np.ndarray, n_bits: int, scheme, channel, positions: np.ndarray, values: np.ndarray,
                  rng: np.random.Generator | None, cache: dict | None = None, extra: list | None = None):
    """:func:`coded_flips` from the data's flips as a sorted sparse mask ``(positions, values)``.

    ``extra``, when given, lists per protected plane (lowest first) the
    flipped extra bits, already drawn (:mod:`qtaml_tac.cell_codes`): check
    bits as ``word * check_bits + bit``, copies as ``copy * size + weight``;
    then ``rng`` draws nothing and ``channel`` is not asked for plane rates.
    Without it, they are drawn here at the channel's plane rates.
    """
    top = n_bits - scheme.k
    protected_mask = ((1 << n_bits) - 1) ^ ((1 << top) - 1)
    if isinstance(scheme, Repetition):
        residual_positions, residual_values = _majority(codes, n_bits, scheme, channel, positions, values, rng, extra)
        zeroed = np.zeros(0, dtype=np.int64)
    else:
        code = scheme.code
        check_cells = extra
        if extra is None:
            words = math.ceil(codes.size / code.data_bits)
            rates = plane_rates(channel, n_bits)
            check_cells = [flipped_cells(rng, words * code.check_bits, float(rates[j])) for j in range(top, n_bits)]
        kernels = compiled_kernels()
        if not code.decoded_by_table:
            residual_positions, residual_values, zeroed = _algebraic_decoded(codes.size, n_bits, scheme, check_cells,
                                                                             positions, values)
        elif kernels is not None:
            from .code_kernels import block_residual
            from .flip_kernels import PARALLEL

            return block_residual(positions, values, n_bits, top, codes.size, code, check_cells,
                                  scheme.on_failure == "zero", DETECTED, kernels is PARALLEL)
        else:
            residual_positions, residual_values, zeroed = _block_decoded(codes, n_bits, scheme, check_cells,
                                                                         positions, values, cache)
    kept = values & ~protected_mask
    positions, values = _merge(positions, kept, residual_positions, residual_values)
    keep = values != 0
    positions, values = positions[keep], values[keep]
    return positions, values, zeroed


def _majority(codes, n_bits, scheme, channel, positions, values, rng, extra=None):
    """Protected bits that read wrong: more than half of their ``copies`` cells flipped (``extra``: copies drawn)."""
    size = codes.size
    top = n_bits - scheme.k
    events = []
    for j in range(top, n_bits):
        primary = positions[(values >> j) & 1 == 1]
        events.append(primary * n_bits + j)
        if extra is not None:
            events.append((extra[j - top] % size) * n_bits + j)
            continue
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


def stored_words(codes: np.ndarray, planes: range, code, cache: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The protected ``planes`` of ``codes`` as stored: data words packed in uint64 and their check bits.

    This is the write: the memory holds the check bits computed from the data
    when the weights were stored, plane after plane (word ``w`` of the ``i``-th
    plane is entry ``i * words + w``). ``cache`` (a dict that lives with the
    stored tensor) keeps them across trials.
    """
    key = ("coded_words", code.name, planes.start, planes.stop)
    if cache is not None and key in cache:
        return cache[key]
    size, data_bits = codes.size, code.data_bits
    words = math.ceil(size / data_bits)
    shifts = np.arange(data_bits, dtype=np.uint64)
    packed = np.empty(len(planes) * words, dtype=np.uint64)
    for index, plane in enumerate(planes):
        bits = np.zeros(words * data_bits, dtype=np.uint64)
        bits[:size] = (codes >> plane) & 1
        packed[index * words:(index + 1) * words] = np.bitwise_or.reduce(bits.reshape(words, data_bits) << shifts,
                                                                         axis=1)
    stored = (packed, code.encode_packed(packed))
    if cache is not None:
        cache[key] = stored
    return stored


def _word_masks(flagged, word, bit):
    """XOR masks of the flagged words from flips at (``word``, ``bit``), ``word`` sorted (one reduce per word)."""
    masks = np.zeros(flagged.size, dtype=np.uint64 if bit.dtype == np.uint64 else np.int64)
    if word.size:
        starts = np.flatnonzero(np.r_[True, word[1:] != word[:-1]])
        masks[np.searchsorted(flagged, word[starts])] = np.bitwise_xor.reduceat(bit, starts)
    return masks


def _block_decoded(codes, n_bits, scheme, check_cells, positions, values, cache=None):
    """Decode the words that received a flip, over every protected plane at once; the data bits that read wrong.

    ``check_cells[q]``: the flipped check cells (``word * check_bits + bit``) of protected plane ``q``. The
    NumPy twin of :func:`qtaml_tac.code_kernels.block_residual`, which gives the same read-back.
    """
    code = scheme.code
    if code.data_bits > MAX_PACKED_DATA_BITS:
        return _block_decoded_unpacked(codes, n_bits, scheme, check_cells, positions, values)
    size, data_bits, check_bits = codes.size, code.data_bits, code.check_bits
    words = math.ceil(size / data_bits)
    planes = range(n_bits - scheme.k, n_bits)
    shifts = np.arange(planes.start, planes.stop, dtype=np.int64)[:, None]
    plane_index, row = np.nonzero((values[None, :] >> shifts) & 1)  # plane-major, then by position: sorted words
    word, bit = np.divmod(positions[row], data_bits)
    data_word = plane_index * words + word
    data_bit = np.left_shift(np.uint64(1), bit.astype(np.uint64))
    check_word, check_bit = [], []
    for index, cells in enumerate(check_cells):
        word, bit = np.divmod(cells, check_bits)
        check_word.append(index * words + word)
        check_bit.append(np.int64(1) << bit)
    check_word, check_bit = np.concatenate(check_word), np.concatenate(check_bit)
    hit = np.zeros(len(planes) * words, dtype=bool)
    hit[data_word] = True
    hit[check_word] = True
    flagged = np.flatnonzero(hit)
    data, checks = stored_words(codes, planes, code, cache)
    stored = data[flagged]
    decoded, status = code.decode_packed(stored ^ _word_masks(flagged, data_word, data_bit),
                                         checks[flagged] ^ _word_masks(flagged, check_word, check_bit))
    wrong = decoded ^ stored
    left = np.flatnonzero(wrong)  # at the rates that matter, most flagged words decode clean
    rows, columns = _set_bits(wrong[left])
    plane_index, word = np.divmod(flagged[left[rows]], words)
    wrong_positions = word * data_bits + columns
    real = wrong_positions < size  # a miscorrection into the last word's missing (shortened) bits reads nothing
    wrong_positions, plane_index = wrong_positions[real], plane_index[real]
    wrong_values = np.int64(1) << (planes.start + plane_index)
    zeroed = np.zeros(0, dtype=np.int64)
    if scheme.on_failure == "zero":
        failed = flagged[status == DETECTED] % words
        index = (failed[:, None] * data_bits + np.arange(data_bits)).ravel()
        zeroed = np.unique(index[index < size])
    return wrong_positions, wrong_values, zeroed


def _set_bits(words):
    """``(row, bit)`` of every set bit of the uint64 ``words``, lowest bits first (a pass per bit still set)."""
    rows, bits = [], []
    remaining = np.arange(words.size)
    words = words.copy()
    while remaining.size:
        lowest = words & (~words + np.uint64(1))
        rows.append(remaining)
        bits.append(np.log2(lowest.astype(np.float64)).astype(np.int64))  # exact: a power of two
        words ^= lowest
        alive = words != 0
        remaining, words = remaining[alive], words[alive]
    if not rows:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    return np.concatenate(rows), np.concatenate(bits)


def _block_decoded_unpacked(codes, n_bits, scheme, check_cells, positions, values):
    """:func:`_block_decoded` for words of more than 64 data bits, plane by plane, as bit arrays."""
    code = scheme.code
    size, data_bits = codes.size, code.data_bits
    wrong_positions, wrong_values, zeroed = [], [], []
    offsets = np.arange(data_bits, dtype=np.int64)
    for j, check_flipped in zip(range(n_bits - scheme.k, n_bits), check_cells):
        data_flipped = positions[(values >> j) & 1 == 1]
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


def _algebraic_decoded(size, n_bits, scheme, check_cells, positions, values):
    """The data bits that read wrong, for a code decoded algebraically (:class:`qtaml_theory.ecc.algebraic.AlgebraicBCH`).

    Only the (plane, word) pairs that received a flip are decoded, from their
    flips alone (the decoder sees the error pattern's syndromes, never the
    data): each is listed with the codeword positions of its flips (data bits,
    then check bits), decoded by the compiled Berlekamp-Massey and Chien
    search, and its data bits read wrong where a flip and the decoder's
    correction do not cancel (positions past the tensor read nothing).
    """
    code = scheme.code
    data_bits, check_bits = code.data_bits, code.check_bits
    words = math.ceil(size / data_bits)
    top = n_bits - scheme.k
    shifts = np.arange(top, n_bits, dtype=np.int64)[:, None]
    plane_index, row = np.nonzero((values[None, :] >> shifts) & 1)
    word, bit = np.divmod(positions[row], data_bits)
    keys, places = [plane_index * words + word], [bit]
    for index, cells in enumerate(check_cells):
        word, bit = np.divmod(cells, check_bits)
        keys.append(index * words + word)
        places.append(data_bits + bit)
    keys, places = np.concatenate(keys), np.concatenate(places)
    order = np.lexsort((places, keys))
    keys, places = keys[order], places[order]
    flagged, counts = np.unique(keys, return_counts=True)
    status, fixes = code.decode_errors(np.concatenate([[0], np.cumsum(counts)]), places)
    row, column = np.nonzero((fixes >= 0) & (fixes < data_bits))
    events = np.concatenate([keys[places < data_bits] * data_bits + places[places < data_bits],
                             flagged[row] * data_bits + fixes[row, column]])
    cells, parity = np.unique(events, return_counts=True)
    key, bit = np.divmod(cells[parity % 2 == 1], data_bits)
    plane_index, word = np.divmod(key, words)
    wrong = word * data_bits + bit
    real = wrong < size
    zeroed = np.zeros(0, dtype=np.int64)
    if scheme.on_failure == "zero":
        failed = flagged[status == DETECTED] % words
        index = (failed[:, None] * data_bits + np.arange(data_bits)).ravel()
        zeroed = np.unique(index[index < size])
    return wrong[real], np.int64(1) << (top + plane_index[real]), zeroed


def _plane_flips(positions, values, index, plane):
    """Whether bit ``plane`` of the weights at ``index`` flipped in the sparse mask ``(positions, values)``."""
    if positions.size == 0:
        return np.zeros(index.shape, dtype=bool)
    hit = np.minimum(np.searchsorted(positions, index), positions.size - 1)
    return (positions[hit] == index) & (((values[hit] >> plane) & 1) == 1)


def _joined(parts):
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
