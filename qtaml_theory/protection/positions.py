"""Ideal protection of named bit positions, for formats whose variance is not carried most-significant-bit first.

For a float, the bits that carry the most variance are not the top ones
(:func:`qtaml_theory.float_law.bit_variance_share`): in bfloat16 the
exponent's top bit carries nearly all of it while the sign bit, bit 15,
carries little. :class:`IdealBits` guards the positions it names, each at one
stored bit per weight like :class:`~qtaml_theory.protection.IdealMSB`
(Lemma 4.2's accounting); ``IdealBits.from_order(order, k)`` takes the first
``k`` positions of an order such as :func:`qtaml_theory.float_law.protection_order`.
For offset binary that order is ``(n-1, ..., 0)`` and ``IdealBits`` is ``IdealMSB``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from fractions import Fraction

from ..channels import Channel, as_channel
from ..validation import as_rate, check_integer
from .base import ProtectionScheme

__all__ = ["IdealBits", "GuardedBitsChannel"]


class GuardedBitsChannel(Channel):
    """A channel whose bits at ``positions`` never flip (the residual channel of :class:`IdealBits`).

    Parameters
    ----------
    base : Channel or number
        The channel of the other bits (one bit per cell).
    positions : tuple of int
        Guarded bit positions (0 least significant), each below the code width (checked when used).
    """

    def __init__(self, base, positions):
        self.base = as_channel(base)
        if self.base.bits_per_cell > 1:
            raise ValueError(f"base must store one bit per cell to guard single positions, got {self.base!r}")
        self.positions = tuple(positions)

    def __repr__(self):
        return f"GuardedBitsChannel({self.base!r}, {self.positions})"

    def _rates(self):
        return (*self.base._rates(), self.positions)

    @property
    def is_exact(self):
        return self.base.is_exact

    def check_width(self, n):
        self.base.check_width(n)
        if self.positions and max(self.positions) >= n:
            raise ValueError(f"positions must lie in 0..{n - 1} for {n}-bit codes, got {self.positions}")

    def rates_for_bits(self, bits):
        rates = self.base.rates_for_bits(bits)
        if self.positions:
            rates[..., list(self.positions)] = Fraction(0) if self.is_exact else 0.0
        return rates


@dataclass(frozen=True)
class IdealBits(ProtectionScheme):
    """The bits at ``positions`` never flip, at one stored bit per weight each (ideal selective ECC).

    Parameters
    ----------
    positions : tuple of int
        Distinct bit positions (0 least significant); the bound ``< n_bits``
        is checked when the scheme meets a code width.

    Examples
    --------
    >>> from qtaml_theory.protection import IdealBits
    >>> IdealBits((14, 13)).protected_bits(16), IdealBits((14, 13)).cost_bits_per_weight(16)
    ((13, 14), 2)
    """

    positions: tuple = ()

    def __post_init__(self):
        if isinstance(self.positions, (str, bytes)) or not hasattr(self.positions, "__iter__"):
            raise ValueError(f"positions must be a sequence of distinct integers >= 0, got {self.positions!r}")
        positions = tuple(check_integer(i, f"positions[{j}]", 0) for j, i in enumerate(self.positions))
        if len(set(positions)) != len(positions):
            raise ValueError(f"positions must be distinct, got {positions}")
        object.__setattr__(self, "positions", positions)

    @classmethod
    def from_order(cls, order, k: numbers.Integral) -> IdealBits:
        """The first ``k`` positions of ``order`` (e.g. :func:`qtaml_theory.float_law.protection_order`)."""
        order = tuple(order)
        k = check_integer(k, "k", 0, len(order))
        return cls(order[:k])

    def check_width(self, n_bits: int) -> int:
        n_bits = check_integer(n_bits, "n_bits", 1)
        if self.positions and max(self.positions) >= n_bits:
            raise ValueError(f"positions must lie in 0..{n_bits - 1} for {n_bits}-bit codes, got {self.positions}")
        return n_bits

    def uncorrectable_probability(self, p):
        return Fraction(0) if isinstance(as_rate(p, "p"), Fraction) else 0.0

    def _cost_bits_per_weight(self, n_bits):
        return len(self.positions)

    def _protected_bits(self, n_bits):
        return tuple(sorted(self.positions))

    def _residual_channel(self, channel, n_bits):
        return GuardedBitsChannel(channel, self.positions)
