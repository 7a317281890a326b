"""The base class of every bit-flip channel (:class:`qtaml_theory.channels.Channel`, re-exported there).

Private: a module of its own so that :mod:`qtaml_theory._multilevel` derives from it without a cycle.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np


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

