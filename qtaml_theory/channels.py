"""Bit-flip channels: the only place a flip rate lives (paper Section 3, A.1).

A channel gives, for each bit of a stored code, the probability ``pi_i`` that
the bit reads back flipped, *given its stored value*. Flips are independent
across bits. Three channels are provided:

:class:`SymmetricChannel`
    The paper's channel: every bit flips with probability ``p``.
:class:`PerBitChannel`
    Bit position ``i`` flips with ``rates[i]`` (bit 0 least significant).
:class:`DirectionalChannel`
    A stored 0 reads back as 1 with ``p01`` and a stored 1 as 0 with ``p10``.
    Forward-only tunneling empties charged cells, so a real device is
    asymmetric (charge loss: ``p01 = 0``).
:class:`MultiLevelChannel`
    A cell holds ``b`` bits as one of ``2**b`` charge levels (MLC, TLC): the
    ``b`` bits of a cell fail together, by the cell's level transitions, and
    independently across cells (paper, conclusion: future work on
    multi-level cells).

Rates may be floats, ints, Fractions or SymPy Rationals; exact inputs keep
exact arithmetic downstream. Each channel also gives its rates symbolically
(:meth:`Channel.symbolic_rate`) so that the derivations of
:mod:`qtaml_theory.derive` treat the same three families.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .validation import as_rate, check_integer

#: The ways a cell's level reads back as bits: ``"gray"`` (level L reads ``L ^ (L >> 1)``) or ``"binary"`` (L reads L).
LEVEL_MAPS = ("gray", "binary")

#: Most bits one cell stores (TLC).
MAX_BITS_PER_CELL = 3

#: Rows of a float transition matrix must sum to 1 within this (exact rows exactly).
ROW_SUM_TOLERANCE = 1e-9

__all__ = ["Channel", "SymmetricChannel", "PerBitChannel", "DirectionalChannel", "ProtectedChannel",
           "MultiLevelChannel", "LEVEL_MAPS", "MAX_BITS_PER_CELL", "level_noise_transition", "as_channel",
           "mask_probabilities"]


class Channel:
    """Base class: per-bit flip probabilities given the stored bits.

    :attr:`bits_per_cell` is the number of bits that fail together: 1 for
    every channel whose bits flip independently; ``b`` for a
    :class:`MultiLevelChannel`, whose law is a product over cells.
    """

    bits_per_cell = 1

    def rates_for_bits(self, bits):
        """Flip probability of each bit given its stored value.

        Parameters
        ----------
        bits : ndarray of int, shape (..., n)
            Stored bits, bit 0 first.

        Returns
        -------
        ndarray, shape (..., n)
            ``float64``, or ``object`` holding Fractions when :attr:`is_exact`.
        """
        raise NotImplementedError

    @property
    def is_exact(self):
        """True when every rate is rational (held as a Fraction)."""
        return all(isinstance(r, Fraction) for r in self._rates())

    def check_width(self, n):
        """Raise ``ValueError`` if the channel cannot serve an n-bit code."""

    def symbolic_rate(self, bit, index):
        """``pi_i`` as a SymPy expression of the stored ``bit`` and position ``index``."""
        raise NotImplementedError

    def symbolic_values(self, n):
        """Map from the symbols of :meth:`symbolic_rate` to this channel's rates."""
        raise NotImplementedError

    def cell_mask_probabilities(self, bits):
        """Probability of each read-back XOR mask of every cell, given the stored bits.

        Parameters
        ----------
        bits : ndarray of int, shape (..., n)

        Returns
        -------
        ndarray, shape (..., n // bits_per_cell, 2**bits_per_cell)
            Cells fail independently; entry ``m`` of a cell is the
            probability that its bits read back XORed with ``m``. For a
            channel of independent bits each cell is one bit: ``(1 - pi_i, pi_i)``.
        """
        rates = self.rates_for_bits(bits)
        return np.stack([1 - rates, rates], axis=-1)

    def sample_masks(self, bits, size, rng):
        """``size`` draws of the read-back XOR mask of every code, shape ``(size,) + bits.shape[:-1]``.

        Each bit flips independently with its rate given its stored value,
        compared in float64 (no ``2**-24`` grid bias).
        """
        rates = self.rates_for_bits(bits).astype(np.float64)
        flips = np.random.default_rng(rng).random((size,) + rates.shape) < rates
        return flips.astype(np.int64) @ (np.int64(1) << np.arange(rates.shape[-1], dtype=np.int64))

    def _rates(self):
        raise NotImplementedError

    def _fill(self, shape, value):
        dtype = object if self.is_exact else np.float64
        return np.full(shape, value, dtype=dtype)

    def __eq__(self, other):
        return type(other) is type(self) and other._rates() == self._rates()

    def __hash__(self):
        return hash((type(self).__name__, self._rates()))


class SymmetricChannel(Channel):
    """Every bit flips independently with probability ``p`` (the paper's channel).

    Parameters
    ----------
    p : float, int, Fraction or sympy.Rational
        Flip probability in ``[0, 1]``.
    """

    def __init__(self, p):
        self.p = as_rate(p, "p")

    def __repr__(self):
        return f"SymmetricChannel({self.p!r})"

    def _rates(self):
        return (self.p,)

    def rates_for_bits(self, bits):
        return self._fill(np.shape(bits), self.p)

    def symbolic_rate(self, bit, index):
        import sympy

        return sympy.Symbol("p", nonnegative=True)

    def symbolic_values(self, n):
        import sympy

        return {sympy.Symbol("p", nonnegative=True): self.p}


class PerBitChannel(Channel):
    """Bit position ``i`` flips with probability ``rates[i]``.

    Parameters
    ----------
    rates : sequence of float, int, Fraction or sympy.Rational
        ``rates[i]`` is the flip probability of bit ``i`` (bit 0 least
        significant); its length must equal the code width ``n``.
    """

    def __init__(self, rates):
        if isinstance(rates, (str, bytes)) or not hasattr(rates, "__len__") or len(rates) == 0:
            raise ValueError(f"rates must be a non-empty sequence of probabilities, got {rates!r}")
        self.rates = tuple(as_rate(r, f"rates[{i}]") for i, r in enumerate(rates))

    def __repr__(self):
        return f"PerBitChannel({list(self.rates)!r})"

    def _rates(self):
        return self.rates

    def check_width(self, n):
        if len(self.rates) != n:
            raise ValueError(f"rates must have one entry per bit (length {n}), got length {len(self.rates)}")

    def rates_for_bits(self, bits):
        self.check_width(np.shape(bits)[-1])
        dtype = object if self.is_exact else np.float64
        return np.broadcast_to(np.array(self.rates, dtype=dtype), np.shape(bits)).copy()

    def symbolic_rate(self, bit, index):
        import sympy

        return sympy.IndexedBase("p", nonnegative=True)[index]

    def symbolic_values(self, n):
        import sympy

        base = sympy.IndexedBase("p", nonnegative=True)
        return {base[i]: r for i, r in enumerate(self.rates)}


class DirectionalChannel(Channel):
    """A stored 0 reads back as 1 with ``p01``; a stored 1 reads back as 0 with ``p10``.

    Parameters
    ----------
    p01 : float, int, Fraction or sympy.Rational
        Probability that a stored 0 reads back as 1 (charge gain).
    p10 : float, int, Fraction or sympy.Rational
        Probability that a stored 1 reads back as 0 (charge loss).

    Notes
    -----
    ``pi_i = p01 (1 - b_i) + p10 b_i``. With ``p01 = p10 = p`` this is the
    symmetric channel. Forward-only tunneling (A.1) gives ``p01 = 0``.
    """

    def __init__(self, p01, p10):
        self.p01 = as_rate(p01, "p01")
        self.p10 = as_rate(p10, "p10")

    def __repr__(self):
        return f"DirectionalChannel({self.p01!r}, {self.p10!r})"

    def _rates(self):
        return (self.p01, self.p10)

    def rates_for_bits(self, bits):
        bits = np.asarray(bits)
        rates = self._fill(bits.shape, self.p01)
        rates[bits == 1] = self.p10
        return rates

    def symbolic_rate(self, bit, index):
        import sympy

        p01, p10 = sympy.symbols("p01 p10", nonnegative=True)
        return p01 * (1 - bit) + p10 * bit

    def symbolic_values(self, n):
        import sympy

        p01, p10 = sympy.symbols("p01 p10", nonnegative=True)
        return {p01: self.p01, p10: self.p10}


class ProtectedChannel(Channel):
    """A channel whose top ``protected`` bits never flip (selective ECC, Lemma 4.2).

    The residual channel of :class:`qtaml_theory.protection.IdealMSB`: pass
    ``protection=IdealMSB(k)`` to the law rather than building it by hand.

    Parameters
    ----------
    base : Channel or number
        The channel of the unprotected bits.
    protected : int
        Number of most significant bits protected, ``0 <= protected``; it must
        not exceed the code width (checked when used).
    """

    def __init__(self, base, protected):
        self.base = as_channel(base)
        if isinstance(protected, bool) or not isinstance(protected, int) or protected < 0:
            raise ValueError(f"protected must be a non-negative integer number of bits, got {protected!r}")
        self.protected = protected

    def __repr__(self):
        return f"ProtectedChannel({self.base!r}, {self.protected})"

    def _rates(self):
        return (*self.base._rates(), self.protected)

    @property
    def is_exact(self):
        return self.base.is_exact

    def check_width(self, n):
        self.base.check_width(n)
        if self.protected > n:
            raise ValueError(f"protected must be at most the code width {n}, got {self.protected}")

    def rates_for_bits(self, bits):
        rates = self.base.rates_for_bits(bits)
        n = np.shape(bits)[-1]
        if self.protected:
            rates[..., n - self.protected:] = Fraction(0) if self.is_exact else 0.0
        return rates

    @property
    def bits_per_cell(self):
        """The base channel's: protecting bits of a multi-level cell leaves the cell's other bits coupled."""
        return self.base.bits_per_cell

    def _guarded(self, n):
        """XOR mask of the protected (top) bits of an n-bit code."""
        return ((1 << self.protected) - 1) << (n - self.protected)

    def cell_mask_probabilities(self, bits):
        """The base's cell masks with the protected bits cleared (those bits always read back right)."""
        if self.base.bits_per_cell == 1:
            return super().cell_mask_probabilities(bits)
        probabilities = self.base.cell_mask_probabilities(bits)
        width = self.bits_per_cell
        cells = probabilities.shape[-2]
        guarded = self._guarded(np.shape(bits)[-1])
        folded = np.zeros_like(probabilities)
        for cell in range(cells):
            kept = ~(guarded >> (cell * width)) & ((1 << width) - 1)
            for mask in range(1 << width):
                folded[..., cell, mask & kept] += probabilities[..., cell, mask]
        return folded

    def sample_masks(self, bits, size, rng):
        """The base's masks with the protected bits cleared."""
        return self.base.sample_masks(bits, size, rng) & ~self._guarded(np.shape(bits)[-1])


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
        """
        probabilities = self.cell_mask_probabilities(bits).astype(np.float64)
        cumulative = np.cumsum(probabilities, axis=-1)
        uniforms = np.random.default_rng(rng).random((size,) + probabilities.shape[:-1])
        cell_masks = np.minimum((uniforms[..., None] >= cumulative).sum(axis=-1), self.levels - 1)
        shifts = np.arange(cell_masks.shape[-1], dtype=np.int64) * self.bits_per_cell
        return (cell_masks.astype(np.int64) << shifts).sum(axis=-1)


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


def as_channel(p):
    """Coerce ``p`` to a :class:`Channel`.

    A channel is returned unchanged; a number (float, int, Fraction or SymPy
    Rational) becomes ``SymmetricChannel(p)``.
    """
    if isinstance(p, Channel):
        return p
    return SymmetricChannel(p)


def mask_probabilities(rates):
    """Probability of every flip mask when bit ``i`` flips independently with ``rates[i]`` (Section 3).

    Parameters
    ----------
    rates : sequence of float
        Flip probability of each bit (bit 0 least significant), given the
        stored bits.

    Returns
    -------
    numpy.ndarray
        float64, ``2**len(rates)`` entries: entry ``m`` is
        :math:`\\prod_i \\pi_i^{m_i} (1-\\pi_i)^{1-m_i}`, built bit by bit.

    Examples
    --------
    >>> from qtaml_theory.channels import mask_probabilities
    >>> mask_probabilities([0.1, 0.5]).tolist()
    [0.45, 0.05, 0.45, 0.05]
    """
    probabilities = np.ones(1)
    for rate in rates:
        rate = float(rate)
        probabilities = np.concatenate([probabilities * (1 - rate), probabilities * rate])
    return probabilities
