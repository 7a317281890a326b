"""Multi-level cells: :class:`~qtaml_theory.channels.MultiLevelChannel` and its transitions (issue 16).

Private: the public names (:class:`~qtaml_theory.channels.MultiLevelChannel`,
:func:`~qtaml_theory.channels.level_noise_transition`, :data:`~qtaml_theory.channels.LEVEL_MAPS`,
:data:`~qtaml_theory.channels.MAX_BITS_PER_CELL`) are re-exported by :mod:`qtaml_theory.channels`.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from numba import njit

from ._channel import Channel
from .validation import as_rate, check_integer

#: The ways a cell's level reads back as bits: ``"gray"`` (level L reads ``L ^ (L >> 1)``) or ``"binary"`` (L reads L).
LEVEL_MAPS = ("gray", "binary")

#: Most bits one cell stores (TLC).
MAX_BITS_PER_CELL = 3

#: Rows of a float transition matrix must sum to 1 within this (exact rows exactly).
ROW_SUM_TOLERANCE = 1e-9


def _check_level_map(level_map):
    if level_map not in LEVEL_MAPS:
        raise ValueError(f"level_map must be one of {LEVEL_MAPS}, got {level_map!r}")
    return level_map


def _read_values(bits_per_cell, level_map):
    """The b-bit value each level reads back as: ``L`` (binary) or ``L ^ (L >> 1)`` (Gray)."""
    levels = range(1 << bits_per_cell)
    return tuple(level ^ (level >> 1) if level_map == "gray" else level for level in levels)


class MultiLevelChannel(Channel):
    """Cells of ``bits_per_cell`` bits, each stored as one of ``2**b`` charge levels (MLC, TLC).

    Parameters
    ----------
    bits_per_cell : int
        ``b`` in ``1..MAX_BITS_PER_CELL`` (SLC, MLC, TLC).
    transition : array_like, shape (2**b, 2**b)
        Row-stochastic: ``transition[i][j]`` is the probability that a cell
        programmed at level ``i`` reads back at level ``j`` over the window.
        Entries may be floats, ints, Fractions or SymPy Rationals; exact
        entries keep exact arithmetic in the law.
    level_map : {"gray", "binary"}
        How a level reads back as bits: level ``L`` reads as the b-bit value
        ``L ^ (L >> 1)`` (Gray: one level step flips one bit) or ``L``
        (binary: a step can flip several).

    Notes
    -----
    Convention: cell ``j`` holds code bits ``j*b .. j*b + b - 1`` (bit 0 the
    code's least significant bit, so the cell's value is
    ``(code >> (j*b)) & (2**b - 1)``); level 0 holds the least charge. The
    bits of one cell fail together, cells independently, so the
    characteristic function of the error is a product over cells and its
    cumulants a sum over cells (:mod:`qtaml_theory.law`).
    :meth:`rates_for_bits` gives each bit's *marginal* flip probability;
    the law never multiplies them as if they were independent.

    References
    ----------
    Paper, conclusion (future work: multi-level cells and heterogeneous bit
    reliabilities); issue 16.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from qtaml_theory.channels import MultiLevelChannel
    >>> q = Fraction(1, 10)
    >>> mlc = MultiLevelChannel(2, [[1, 0, 0, 0], [q, 1 - q, 0, 0], [0, q, 1 - q, 0], [0, 0, q, 1 - q]])
    >>> mlc.rates_for_bits([[1, 0]]).tolist()  # value 1 = level 1 (Gray) falls to level 0
    [[Fraction(1, 10), Fraction(0, 1)]]
    """

    def __init__(self, bits_per_cell: int, transition, level_map: str = "gray"):
        self.bits_per_cell = check_integer(bits_per_cell, "bits_per_cell", 1, MAX_BITS_PER_CELL)
        self.level_map = _check_level_map(level_map)
        self.levels = 1 << self.bits_per_cell
        self.transition = _check_transition(transition, self.levels)
        self.read_values = _read_values(self.bits_per_cell, self.level_map)
        self.level_of_value = tuple(self.read_values.index(value) for value in range(self.levels))

    def __repr__(self):
        rows = [list(row) for row in self.transition]
        return f"MultiLevelChannel({self.bits_per_cell}, {rows!r}, level_map={self.level_map!r})"

    def _rates(self):
        return (self.bits_per_cell, self.level_map, *(rate for row in self.transition for rate in row))

    @property
    def is_exact(self):
        return all(isinstance(rate, Fraction) for row in self.transition for rate in row)

    def check_width(self, n):
        if n % self.bits_per_cell:
            raise ValueError(f"n_bits must be a multiple of bits_per_cell = {self.bits_per_cell} "
                             f"(whole cells), got {n}")

    @property
    def is_identity(self):
        """Whether no level ever moves (the transition is the identity: a cell read right after programming)."""
        return all(rate == (i == j) for i, row in enumerate(self.transition) for j, rate in enumerate(row))

    def one_step_loss_rates(self):
        """``(q_1, .., q_{2**b - 1})``: level ``L`` falls to ``L - 1`` with ``q_L`` (one-step charge loss).

        Raises
        ------
        ValueError
            If some level moves anywhere but one step down (the drift of
            :func:`qtaml_theory.derive.multilevel_cell_drift` is derived for
            the one-step model only).
        """
        for i, row in enumerate(self.transition):
            for j, rate in enumerate(row):
                if rate and j not in (i, i - 1):
                    raise ValueError(f"transition must be one-step charge loss (level i to i or i - 1 only), "
                                     f"got transition[{i}][{j}] = {rate}")
        return tuple(self.transition[level][level - 1] for level in range(1, self.levels))

    def cell_values(self, bits):
        """The stored b-bit value of every cell, shape ``(..., n // b)``, from bits of shape ``(..., n)``."""
        bits = np.asarray(bits, dtype=np.int64)
        self.check_width(bits.shape[-1])
        cells = bits.reshape(bits.shape[:-1] + (-1, self.bits_per_cell))
        return cells @ (np.int64(1) << np.arange(self.bits_per_cell, dtype=np.int64))

    def cell_mask_probabilities(self, bits):
        """See :meth:`Channel.cell_mask_probabilities`: entry ``m`` of a cell is ``transition[L][L']``.

        ``L`` is the stored level and ``L'`` the level that reads back as the
        stored value XOR ``m``; Fractions when :attr:`is_exact`, else float64.
        """
        values = self.cell_values(bits)
        dtype = object if self.is_exact else np.float64
        table = np.array(self.transition, dtype=dtype)
        level_of_value = np.array(self.level_of_value, dtype=np.int64)
        masks = np.arange(self.levels, dtype=np.int64)
        stored = level_of_value[values]
        landed = level_of_value[values[..., None] ^ masks]
        return table[stored[..., None], landed]

    def rates_for_bits(self, bits):
        """Marginal flip probability of each bit given the stored bits (bits of one cell are *not* independent)."""
        probabilities = self.cell_mask_probabilities(bits)
        masks = np.arange(self.levels, dtype=np.int64)
        flips = (masks[:, None] >> np.arange(self.bits_per_cell)) & 1
        marginal = probabilities @ flips.astype(probabilities.dtype)
        return marginal.reshape(np.shape(bits))

    def sample_masks(self, bits, size, rng):
        """``size`` draws of the read-back XOR mask of each stored code, shape ``(size,) + bits.shape[:-1]``.

        Cells are drawn independently; each cell lands on a level drawn from its transition row (one
        uniform per cell, compared with the row's cumulative sums in
        float64); the mask is the landed level's read value XOR the stored one.
        :meth:`sample_code_masks` draws the same masks from the codes.
        """
        bits = np.asarray(bits, dtype=np.int64)
        n = bits.shape[-1]
        codes = bits @ (np.int64(1) << np.arange(n, dtype=np.int64))
        return self.sample_code_masks(codes, n, size, rng)

    def sample_code_masks(self, codes, n_bits, size, rng):
        """:meth:`sample_masks` of ``n_bits``-bit integer ``codes`` (any shape): shape ``(size,) + codes.shape``.

        The uniforms are drawn as :meth:`sample_masks` draws them (cell
        ``j`` of code ``i`` in draw ``s`` is ``uniforms[s, i, j]`` of one
        ``default_rng(rng).random`` call), and compared, compiled, with the
        cumulative sums of the stored value's row (:meth:`_cumulative_by_value`).
        An identity transition seeded by an integer draws nothing: every mask is zero.
        """
        self.check_width(n_bits)
        codes = np.asarray(codes, dtype=np.int64)
        cells = n_bits // self.bits_per_cell
        if self.is_identity and not isinstance(rng, np.random.Generator):  # a caller's generator advances as before
            return np.zeros((size,) + codes.shape, dtype=np.int64)
        uniforms = np.random.default_rng(rng).random((size, codes.size, cells))
        masks = np.empty((size, codes.size), dtype=np.int64)
        _draw_cell_masks(codes.reshape(-1), uniforms, self._cumulative_by_value(), self.bits_per_cell, masks)
        return masks.reshape((size,) + codes.shape)

    def _cumulative_by_value(self):
        """Row ``v``: cumulative sums over masks ``m`` of the probability that stored value ``v`` reads ``v ^ m``."""
        table = np.array(self.transition, dtype=object if self.is_exact else np.float64).astype(np.float64)
        stored = np.array(self.level_of_value, dtype=np.int64)
        values = np.arange(self.levels, dtype=np.int64)
        landed = stored[values[:, None] ^ values]
        return np.cumsum(table[stored[:, None], landed], axis=-1)


@njit(cache=True)
def _draw_cell_masks(codes, uniforms, cumulative, bits_per_cell, out):
    """``out[s, i]``: the XOR mask of code ``i`` when cell ``j`` lands by the uniform ``uniforms[s, i, j]``."""
    levels = cumulative.shape[0]
    for s in range(uniforms.shape[0]):
        for i in range(uniforms.shape[1]):
            mask = 0
            for j in range(uniforms.shape[2]):
                shift = j * bits_per_cell
                value = (codes[i] >> shift) & (levels - 1)
                landed = 0
                for m in range(levels):
                    if uniforms[s, i, j] >= cumulative[value, m]:
                        landed += 1
                mask |= min(landed, levels - 1) << shift
            out[s, i] = mask


def _check_transition(transition, levels):
    """A ``levels x levels`` row-stochastic matrix as a tuple of rows of rates (Fractions stay exact)."""
    rows = np.asarray(transition, dtype=object)
    if rows.shape != (levels, levels):
        raise ValueError(f"transition must be a {levels} x {levels} row-stochastic matrix (2**bits_per_cell levels), "
                         f"got shape {rows.shape}")
    checked = tuple(tuple(as_rate(rows[i, j], f"transition[{i}][{j}]") for j in range(levels)) for i in range(levels))
    for i, row in enumerate(checked):
        total = sum(row)
        exact = all(isinstance(rate, Fraction) for rate in row)
        if (total != 1) if exact else abs(float(total) - 1) > ROW_SUM_TOLERANCE:
            raise ValueError(f"transition rows must sum to 1 (row-stochastic), got row {i} summing to {total}")
    return checked


def level_noise_transition(bits_per_cell: int, p) -> list[list]:
    """The symmetric level-noise transition: a level moves one step, up or down (issue 16).

    Parameters
    ----------
    bits_per_cell : int
        ``b`` in ``1..MAX_BITS_PER_CELL``.
    p : float, Fraction or sympy.Rational
        Probability that a level moves; it moves to each neighbour with
        ``p / 2``, and an edge level (0 or ``2**b - 1``) to its only
        neighbour with ``p``. With ``b = 1`` this is the symmetric channel.

    Returns
    -------
    list of list
        The ``2**b x 2**b`` transition (Fractions for exact ``p``).
    """
    levels = 1 << check_integer(bits_per_cell, "bits_per_cell", 1, MAX_BITS_PER_CELL)
    p = as_rate(p, "p")
    zero = p * 0
    rows = [[zero] * levels for _ in range(levels)]
    for level in range(levels):
        neighbours = [j for j in (level - 1, level + 1) if 0 <= j < levels]
        rows[level][level] = 1 - p
        for j in neighbours:
            rows[level][j] = p / len(neighbours)
    return rows

