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

from . import _multilevel
from ._channel import Channel
from ._multilevel import ROW_SUM_TOLERANCE as ROW_SUM_TOLERANCE
from ._multilevel import MultiLevelChannel, level_noise_transition
from ._multilevel import _check_level_map as _check_level_map
from ._multilevel import _check_transition as _check_transition
from ._multilevel import _read_values as _read_values
from .validation import as_rate

#: The ways a cell's level reads back as bits: ``"gray"`` (level L reads ``L ^ (L >> 1)``) or ``"binary"`` (L reads L).
LEVEL_MAPS = _multilevel.LEVEL_MAPS

#: Most bits one cell stores (TLC).
MAX_BITS_PER_CELL = _multilevel.MAX_BITS_PER_CELL

__all__ = ["Channel", "SymmetricChannel", "PerBitChannel", "DirectionalChannel", "ProtectedChannel",
           "MultiLevelChannel", "LEVEL_MAPS", "MAX_BITS_PER_CELL", "level_noise_transition", "as_channel",
           "mask_probabilities"]


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

    def sample_code_masks(self, codes, n_bits, size, rng):
        """The base's masks of ``n_bits``-bit integer ``codes`` with the protected bits cleared."""
        return self.base.sample_code_masks(codes, n_bits, size, rng) & ~self._guarded(n_bits)


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
