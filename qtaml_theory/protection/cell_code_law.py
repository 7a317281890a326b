"""The law of a real code over multi-level cells, given the stored data (issues 14 and 16).

Over a :class:`~qtaml_theory.channels.MultiLevelChannel` the bits of a cell
fail together and a cell's transition row depends on its level, which holds
bits of several weights, check bits or copies: the residual error of a coded
weight depends on the *data*, not on the weight's own code alone. So the law
is not a :class:`~qtaml_theory.law.WeightError` (a function of one code): it
is computed here for a given set of stored codes, laid out in cells exactly
as :mod:`qtaml_tac.cell_codes` stores them (data cells weight by weight;
check bits ``g = (q * words + w) * check_bits + i`` and copies
``g = (c * size + w) * k + q`` packed ``b`` per extra cell), by
:func:`cell_code_law`; :func:`uniform_cell_code_law` states a data
distribution instead (uniform codes, drawn from a seed). This is the named
function :func:`qtaml_theory.protection.base.plane_rates` points to, beside
the planning approximation :func:`~qtaml_theory.protection.independent_planes`.

Method. A weight's error is ``X = X_free + X_coupled``: ``X_free`` from its
data cells that hold only unprotected planes (independent of everything
else; exact, the cells' finite laws summed as in :mod:`qtaml_theory._cell_law`)
and ``X_coupled`` from its *block*: the cells any of its codewords touch (its
coupled data cells, the other weights' cells of its words, and the check or
copy cells). Cells fail independently, so a pattern of moved cells has
probability ``prod(stay) * prod(T[L][L'] / T[L][L])`` over the moved ones;
the patterns of at most ``J`` moved cells (``errors``) are enumerated and
decoded by the memory's decoder (the code's syndrome table; copies by
majority vote, written as a syndrome table), the failure policy applied. The
rest is read as clean: the values are the exact law of that reader, within
total-variation distance ``bound`` of the true one, where ``bound`` is the
elementary symmetric polynomial ``e_{J+1}`` of the block's move probabilities
(``>= P(more than J of the block's cells move)``, a sum of non-negative
terms, no cancellation). So each raw moment ``E[X**r]`` is within ``bound``
times ``max |x|**r`` of the true one.

Linear encodings only (two's complement, offset binary): the error is a sum
of bit amplitudes ``s_i c_i`` (Theorem 3.1). Values in float64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._cell_law import cell_outcomes, finite_cumulants
from ..channels import MultiLevelChannel
from ..ecc.linear import CORRECTED, DETECTED
from ..validation import check_integer
from . import _cell_code_kernel as kernel
from .base import IdealMSB, Unprotected
from .codes import Repetition, _BlockCode

__all__ = ["CellCodeLaw", "cell_code_law", "uniform_cell_code_law", "PATTERN_LIMIT", "MAX_MOVED_CELLS"]

#: Largest ``J`` accepted (the patterns grow like ``(cells * levels)**J``).
MAX_MOVED_CELLS = 8
#: The most patterns (over all blocks) that the default ``J`` lets the enumeration visit.
PATTERN_LIMIT = 20_000_000


@dataclass(frozen=True)
class CellCodeLaw:
    """The residual law of every stored weight of a layer under a code over cells.

    Attributes
    ----------
    cumulants : ndarray, shape (4, N)
        ``kappa_1..kappa_4`` of ``delta = w_hat - w`` for each of the layer's ``N`` weights (units of ``delta**r``).
    bound : ndarray, shape (N,)
        Total-variation distance to the true law: 0 where the law is exact
        (no coupled cells, or every pattern enumerated).
    moved_cells : int
        ``J``, the most cells of a block enumerated as moving.
    """

    cumulants: np.ndarray
    bound: np.ndarray
    moved_cells: int

    @property
    def mean(self) -> np.ndarray:
        """``E[delta]`` of each weight."""
        return self.cumulants[0]

    @property
    def var(self) -> np.ndarray:
        """``Var[delta]`` of each weight."""
        return self.cumulants[1]


def _repetition_table(copies):
    """Majority vote as a syndrome code: data position 0, copies 1..copies-1; syndrome bit j = copy j XOR data."""
    columns = np.array([(1 << (copies - 1)) - 1] + [1 << j for j in range(copies - 1)], dtype=np.int64)
    syndromes = np.arange(1 << (copies - 1))
    popcount = np.array([bin(s).count("1") for s in syndromes.tolist()])
    corrections = np.where(popcount > (copies - 1) // 2, 0, -1).astype(np.int64)[:, None]
    status = np.where(corrections[:, 0] == 0, CORRECTED, 0).astype(np.int8)
    return columns, status, corrections, 1


def _layout(codes, n_bits, scheme, width):
    """Rows ``(block, cell, r, kind, a, b)`` of every coupled slot, the extra stream and each block's weights."""
    size = codes.size
    cells_per_weight = n_bits // width
    top = n_bits - scheme.k
    coupled = np.arange(top // width, cells_per_weight)
    if isinstance(scheme, Repetition):
        protected = ((codes[:, None] >> np.arange(top, n_bits)) & 1).astype(np.int64)
        stream = np.tile(protected.ravel(), scheme.copies - 1)
        g = np.arange(stream.size)
        copy, rest = np.divmod(g, size * scheme.k)
        extra_block, extra_word = np.divmod(rest, scheme.k)
        extra_position = copy + 1
        block_of = np.arange(size)
        weight_start, block_weights = np.arange(size), np.ones(size, dtype=np.int64)
        local = np.zeros(size, dtype=np.int64)
    else:
        code = scheme.code
        data_bits, check_bits = code.data_bits, code.check_bits
        words = math.ceil(size / data_bits)
        data = np.zeros((scheme.k, words * data_bits), dtype=np.uint8)
        data[:, :size] = ((codes[None, :] >> np.arange(top, n_bits)[:, None]) & 1)
        checks = code.encode(data.reshape(scheme.k * words, data_bits))[:, data_bits:]
        stream = checks.astype(np.int64).ravel()
        g = np.arange(stream.size)
        word, i = np.divmod(g, check_bits)
        extra_word, extra_block = np.divmod(word, words)
        extra_position = data_bits + i
        block_of, local = np.divmod(np.arange(size), data_bits)
        weight_start = np.arange(words) * data_bits
        block_weights = np.minimum(data_bits, size - weight_start)
    u, c, r = (axis.ravel() for axis in np.meshgrid(np.arange(size), coupled, np.arange(width), indexing="ij"))
    plane = c * width + r
    protected_slot = plane >= top
    data_rows = np.stack([block_of[u], u * cells_per_weight + c, r,
                          np.where(protected_slot, kernel.WORD, kernel.DIRECT),
                          np.where(protected_slot, plane - top, local[u]),
                          np.where(protected_slot, local[u], plane)])
    extra_rows = np.stack([extra_block, size * cells_per_weight + g // width, g % width,
                           np.full(g.size, kernel.WORD), extra_word, extra_position])
    return np.concatenate([data_rows, extra_rows], axis=1), stream, weight_start, block_weights


def _code_tables(scheme):
    if isinstance(scheme, Repetition):
        return _repetition_table(scheme.copies)
    code = scheme.code
    return code.columns, code.status, code.corrections.astype(np.int64), code.data_bits


def _free_raw_moments(encoding, codes, cells, top):
    """Raw moments ``E[X_free**r]``, ``r = 0..4``, of each weight's cells that hold only unprotected planes."""
    width = cells.bits_per_cell
    free = top // width
    raw = np.zeros((5, codes.size))
    raw[0] = 1.0
    if free == 0:
        return raw
    bits = encoding.bits(codes)
    probabilities = cells.cell_mask_probabilities(bits).astype(np.float64)[:, :free]
    amplitudes = ((1 - 2 * bits) * np.array(encoding.bit_weights, dtype=np.float64))[:, :free * width]
    values = cell_outcomes(amplitudes, probabilities, width)
    k1, k2, k3, k4 = (np.sum(k, axis=-1) for k in finite_cumulants(values, probabilities))
    raw[1] = k1
    raw[2] = k2 + k1**2
    raw[3] = k3 + 3 * k2 * k1 + k1**3
    raw[4] = k4 + 4 * k3 * k1 + 3 * k2**2 + 6 * k2 * k1**2 + k1**4
    return raw


def _cumulants_from_raw(m1, m2, m3, m4):
    return np.stack([m1, m2 - m1**2, m3 - 3 * m2 * m1 + 2 * m1**3,
                     m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4])


def _elementary_symmetric(values, order, starts):
    """``e_0..e_order`` of the entries of each group (CSR ``starts``), shape ``(groups, order + 1)``.

    By the recursion over the entries (sums of non-negative products: no cancellation).
    """
    groups = starts.size - 1
    result = np.zeros((groups, order + 1))
    result[:, 0] = 1.0
    group = np.repeat(np.arange(groups), np.diff(starts))
    for index in range(int(np.diff(starts).max()) if groups else 0):
        rank = np.arange(values.size) - starts[group]
        members = rank == index
        owners = group[members]
        result[owners, 1:] = result[owners, 1:] + values[members][:, None] * result[owners, :-1]
    return result


def _default_limit(events_per_entry, block_entries):
    """The largest ``J <= MAX_MOVED_CELLS`` whose patterns over all blocks number at most :data:`PATTERN_LIMIT`."""
    counts = _elementary_symmetric(events_per_entry.astype(np.float64), MAX_MOVED_CELLS, block_entries).sum(axis=0)
    total = np.cumsum(counts)
    return int(max(np.searchsorted(total, PATTERN_LIMIT, side="right") - 1, 1))


def cell_code_law(encoding, codes, channel: MultiLevelChannel, scheme, delta: float = 1.0, *,
                  moved_cells: int | None = None) -> CellCodeLaw:
    """The residual law of each weight of a layer stored in cells under a real code, given the stored data.

    Parameters
    ----------
    encoding : Encoding
        A linear encoding (:func:`qtaml_theory.get_encoding`).
    codes : array_like of int
        The layer's stored codes, in storage order (the words are cut in this order).
    channel : MultiLevelChannel
        The cells (data, check bits and copies all live in them).
    scheme : Repetition, SECDED, BCH, IdealMSB or Unprotected
        For the last two the law is the uncoded one (exact, ``bound = 0``).
    delta : float
        Quantization step.
    moved_cells : int, optional
        ``J``: patterns of at most this many moved cells per block are
        enumerated, ``0..MAX_MOVED_CELLS``; the rest is bounded (module
        docstring). By default the largest ``J`` (at least 1) whose patterns
        number at most :data:`PATTERN_LIMIT` over the layer.

    Returns
    -------
    CellCodeLaw

    Raises
    ------
    ValueError
        A channel that is not a :class:`MultiLevelChannel`, a non-linear
        encoding, a scheme that does not fit the code width, ``moved_cells``
        out of range, or a transition whose diagonal has a zero (a level
        that never stays: the enumeration by moved cells needs ``T[L][L] > 0``).

    References
    ----------
    Issue 16 (codes over multi-level cells); issue 14 (the codes and the
    failure policy); the layout of :mod:`qtaml_tac.cell_codes`.
    """
    from ..law import error_cumulants

    if not isinstance(channel, MultiLevelChannel):
        raise ValueError(f"channel must be a MultiLevelChannel (cells whose bits fail together), got {channel!r}")
    if not getattr(encoding, "is_linear", False):
        raise ValueError(f"encoding must be linear (two's complement or offset binary) for the law of a code over "
                         f"cells, got {encoding!r}")
    limit = None if moved_cells is None else check_integer(moved_cells, "moved_cells", 0, MAX_MOVED_CELLS)
    n_bits = encoding.n_bits
    codes = np.atleast_1d(np.asarray(encoding.check_code(codes), dtype=np.int64)).ravel()
    channel.check_width(n_bits)
    if isinstance(scheme, (Unprotected, IdealMSB)):
        kappas = error_cumulants(encoding, codes, channel, delta, protection=scheme)
        return CellCodeLaw(np.asarray(kappas, dtype=np.float64).reshape(4, -1), np.zeros(codes.size), limit or 0)
    if not isinstance(scheme, (Repetition, _BlockCode)):
        raise ValueError(f"scheme must be Unprotected, IdealMSB, Repetition, SECDED or BCH, got {scheme!r}")
    scheme.check_width(n_bits)
    transition = np.array(channel.transition, dtype=np.float64)
    stay = np.diag(transition).copy()
    if np.any(stay <= 0):
        raise ValueError(f"transition must keep every level with probability > 0 (T[L][L] > 0) for the enumeration "
                         f"by moved cells, got diagonal {stay.tolist()}")
    width = channel.bits_per_cell
    top = n_bits - scheme.k
    rows, stream, weight_start, block_weights = _layout(codes, n_bits, scheme, width)
    order = np.lexsort((rows[2], rows[1], rows[0]))
    rows = rows[:, order]
    pairs, entry_of_row = np.unique(rows[:2], axis=1, return_inverse=True)
    entry_of_row = entry_of_row.ravel()
    entries = pairs.shape[1]
    slot_type = np.zeros((entries, width), dtype=np.int64)
    slot_a = np.zeros((entries, width), dtype=np.int64)
    slot_b = np.zeros((entries, width), dtype=np.int64)
    slot_type[entry_of_row, rows[2]] = rows[3]
    slot_a[entry_of_row, rows[2]] = rows[4]
    slot_b[entry_of_row, rows[2]] = rows[5]
    # The stored value of each entry's cell: data cells from the codes, extra cells from the stream.
    data_cells = codes.size * (n_bits // width)
    cell = pairs[1]
    padded = np.zeros(-(-stream.size // width) * width, dtype=np.int64)
    padded[:stream.size] = stream
    extra_values = padded.reshape(-1, width) @ (1 << np.arange(width))
    is_data = cell < data_cells
    weight, within = np.divmod(np.where(is_data, cell, 0), n_bits // width)
    values = np.where(is_data, (codes[weight] >> (within * width)) & ((1 << width) - 1),
                      extra_values[np.where(is_data, 0, cell - data_cells)])
    level = np.array(channel.level_of_value)[values]
    read = np.array(channel.read_values)
    # Events: every (entry, landed level) with a positive probability, in entry order.
    landed = np.arange(channel.levels)
    moves = (transition[level] > 0) & (landed[None, :] != level[:, None])
    entry_of, target = np.nonzero(moves)
    ratios = transition[level[entry_of], target] / stay[level[entry_of]]
    masks = read[target] ^ read[level[entry_of]]
    entry_events = np.searchsorted(entry_of, np.arange(entries + 1))
    blocks = weight_start.size
    block_entries = np.searchsorted(pairs[0], np.arange(blocks + 1))
    log_stay = np.log(stay[level])
    block_stay = np.exp(np.add.reduceat(log_stay, block_entries[:-1])) if entries else np.ones(blocks)
    block_stay[block_entries[:-1] == block_entries[1:]] = 1.0
    if limit is None:
        limit = _default_limit(np.diff(entry_events), block_entries)
    columns, status, corrections, data_bits = _code_tables(scheme)
    moments = np.zeros((codes.size, 4))
    zeroed = np.zeros(codes.size)
    amplitudes = (1 - 2 * encoding.bits(codes)) * np.array(encoding.bit_weights, dtype=np.float64)
    kernel.accumulate(block_entries, entry_events, entry_of.astype(np.int64), ratios, masks.astype(np.int64),
                      block_stay, slot_type, slot_a, slot_b, width, columns.astype(np.int64), status.astype(np.int64),
                      corrections, data_bits, DETECTED, getattr(scheme, "on_failure", "keep") == "zero", top,
                      weight_start.astype(np.int64), block_weights.astype(np.int64), amplitudes, limit, moments, zeroed)
    moving = 1.0 - stay[level]
    tail = _elementary_symmetric(moving, limit + 1, block_entries)[:, -1]
    block_of_weight = np.repeat(np.arange(blocks), block_weights)
    # Combine with the free cells: E[X**r] = P(zeroed) (-v)**r + sum_a C(r, a) F_a M_{r-a}, M_0 = 1 - P(zeroed).
    free = _free_raw_moments(encoding, codes, channel, top)
    coupled = np.vstack([1.0 - zeroed, moments.T])
    lost = -np.asarray(encoding.decode(codes), dtype=np.float64)
    raw = [zeroed * lost**r + sum(math.comb(r, a) * free[a] * coupled[r - a] for a in range(r + 1))
           for r in range(1, 5)]
    cumulants = _cumulants_from_raw(*raw) * float(delta) ** np.arange(1, 5)[:, None]
    return CellCodeLaw(cumulants, tail[block_of_weight], limit)


def uniform_cell_code_law(encoding, channel: MultiLevelChannel, scheme, size: int, delta: float = 1.0, *,
                          seed: int = 0, moved_cells: int | None = None) -> CellCodeLaw:
    """:func:`cell_code_law` for a stated data distribution: ``size`` codes drawn uniformly (seeded).

    The data assumption of planning without the layer at hand: every code
    equally likely, independently. The law is exact given the draw; its mean
    over the weights estimates the average over the distribution (a Monte
    Carlo over the data only, whose spread the caller can read off the
    per-weight values).
    """
    size = check_integer(size, "size", 1)
    codes = np.random.default_rng(check_integer(seed, "seed", 0)).integers(0, 1 << encoding.n_bits, size)
    return cell_code_law(encoding, codes, channel, scheme, delta, moved_cells=moved_cells)
