"""The protection stage's interface, and the paper's two schemes (paper Section 4.2).

A scheme says which bit positions it guards, how many extra bits it stores
per weight, the probability that one of its codewords holds more errors than
it corrects, and the exact law of what it leaves: the *read outcomes* of a
protected weight (:meth:`ProtectionScheme.read_outcomes`), each a
probability and either the channel the code's bits then read back through or
``None`` (the weight reads as zero). The law (:mod:`qtaml_theory.law`) is the
mixture of these outcomes; a scheme with one outcome of probability one is
exactly a residual channel.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..channels import Channel, ProtectedChannel, as_channel
from ..validation import as_rate, check_integer

__all__ = ["ProtectionScheme", "Unprotected", "IdealMSB", "ReadOutcome", "as_protection", "binomial_tail",
           "draw_flips", "plane_rates"]


@dataclass(frozen=True)
class ReadOutcome:
    """One outcome of reading a protected weight back.

    Attributes
    ----------
    probability : float or Fraction
        Its probability.
    channel : Channel or None
        The channel every bit of the stored code then reads through; ``None``:
        the weight reads as zero (a detected failure under ``on_failure="zero"``).
    """

    probability: object
    channel: Channel | None


def binomial_tail(p, trials: int, threshold: int):
    """``P(Binomial(trials, p) >= threshold)``: exact for rational ``p``, correct to double precision for floats.

    Floats go through :func:`qtaml_theory.physics.flip_probability` (the
    same tail, summed with a rigorous remainder bound, down to the smallest
    double).
    """
    if threshold <= 0:
        return Fraction(1) if isinstance(p, Fraction) else 1.0
    if threshold > trials:
        return Fraction(0) if isinstance(p, Fraction) else 0.0
    if isinstance(p, Fraction):
        return sum(math.comb(trials, j) * p**j * (1 - p) ** (trials - j) for j in range(threshold, trials + 1))
    from ..physics import flip_probability

    return float(flip_probability(float(p), trials, threshold))


@dataclass(frozen=True)
class ProtectionScheme:
    """Base class of the protection schemes (stage 3 of a stored weight).

    Subclasses are frozen dataclasses, checked in ``__post_init__`` with
    ``ValueError`` naming the field. The public methods check the code width
    (:meth:`check_width`, which a subclass may tighten) and call the private
    hooks ``_cost_bits_per_weight``, ``_protected_bits``, ``_residual_channel``
    and, for schemes that are not a residual channel, ``_read_outcomes``.
    """

    def check_width(self, n_bits: int) -> int:
        """``n_bits`` checked against the scheme (``ValueError`` naming the field that does not fit)."""
        return check_integer(n_bits, "n_bits", 1)

    @property
    def codeword_bits(self) -> int:
        """Stored bits of one codeword (data and check bits); 1 for a scheme without codewords."""
        return 1

    @property
    def corrects(self) -> int:
        """Errors per codeword the decoder corrects."""
        return 0

    def cost_bits_per_weight(self, n_bits: int):
        """Extra stored bits per weight of an ``n_bits`` code (the ECC overhead, Section 4.2)."""
        return self._cost_bits_per_weight(self.check_width(n_bits))

    def storage_bits(self, size: int, n_bits: int) -> int:
        """Extra stored bits for a layer of ``size`` weights (whole codewords; what a budget pays)."""
        size = check_integer(size, "size", 0)
        return int(size * self.cost_bits_per_weight(n_bits))

    def protected_bits(self, n_bits: int) -> tuple[int, ...]:
        """Bit positions (0 least significant) that the scheme guards in an ``n_bits`` code."""
        return self._protected_bits(self.check_width(n_bits))

    def uncorrectable_probability(self, p):
        """Probability that one codeword holds more errors than the decoder corrects.

        ``P(Binomial(codeword_bits, p) > corrects)``: exact for rational
        ``p``, correct to double precision for floats down to 1e-300 and
        below (:func:`binomial_tail`).
        """
        return binomial_tail(as_rate(p, "p"), self.codeword_bits, self.corrects + 1)

    def truncation_bound(self, channel, n_bits: int):
        """How far the computed law of a protected weight may be from the true one: 0, the law is exact.

        Block codes whose law is enumerated up to ``J`` errors per word
        override it (:meth:`qtaml_theory.protection.BCH.truncation_bound`).
        """
        n_bits = self.check_width(n_bits)
        as_channel(channel).check_width(n_bits)
        return Fraction(0) if as_channel(channel).is_exact else 0.0

    def residual_channel(self, channel, n_bits: int) -> Channel:
        """The channel the code's bits see after protection (per bit, the marginal rate).

        For a scheme whose law is a channel (:class:`Unprotected`,
        :class:`IdealMSB`, repetition) this is its whole law; for a block
        code it gives each bit its flip rate averaged over the positions of a
        word (the bit error rate after decoding), while
        :meth:`read_outcomes` keeps the law exact.

        Parameters
        ----------
        channel : Channel or number
            The cells' channel (a number is the symmetric channel).
        n_bits : int
            Bits per stored code.

        Raises
        ------
        ValueError
            ``n_bits`` that the scheme or the channel cannot serve.
        """
        n_bits = self.check_width(n_bits)
        channel = as_channel(channel)
        channel.check_width(n_bits)
        return self._residual_channel(channel, n_bits)

    def read_outcomes(self, channel, n_bits: int) -> tuple[ReadOutcome, ...]:
        """The exact law of a protected weight's read-back, as outcomes whose probabilities sum to one."""
        n_bits = self.check_width(n_bits)
        channel = as_channel(channel)
        channel.check_width(n_bits)
        return self._read_outcomes(channel, n_bits)

    def _read_outcomes(self, channel, n_bits):
        one = Fraction(1) if channel.is_exact else 1.0
        return (ReadOutcome(one, self._residual_channel(channel, n_bits)),)

    def _draw_flips(self, rng, bits, channel):
        rates = self.residual_channel(channel, bits.shape[-1]).rates_for_bits(bits).astype(np.float64)
        return rng.random(bits.shape) < rates, np.zeros(bits.shape[:-1], dtype=bool)

    def _cost_bits_per_weight(self, n_bits):
        raise NotImplementedError

    def _protected_bits(self, n_bits):
        raise NotImplementedError

    def _residual_channel(self, channel, n_bits):
        raise NotImplementedError


@dataclass(frozen=True)
class Unprotected(ProtectionScheme):
    """No protection: every bit sees the cells' channel, at no cost (a codeword is one bit, nothing corrected)."""

    def _cost_bits_per_weight(self, n_bits):
        return 0

    def _protected_bits(self, n_bits):
        return ()

    def _residual_channel(self, channel, n_bits):
        return channel


@dataclass(frozen=True)
class IdealMSB(ProtectionScheme):
    """The paper's selective ECC: the top ``k`` bits never flip (Lemma 4.2).

    Parameters
    ----------
    k : int
        Protected most significant bits, ``0 <= k <= n_bits`` (the upper
        bound is checked when the scheme meets a code width). Each costs one
        stored bit per weight, the paper's ECC budget accounting; its
        uncorrectable probability is zero by assumption.

    Raises
    ------
    ValueError
        ``k`` that is not a non-negative integer (bools, floats and strings
        are refused; a count is never rounded), or above ``n_bits`` when used.

    Examples
    --------
    >>> from qtaml_theory.protection import IdealMSB
    >>> IdealMSB(2).protected_bits(8), IdealMSB(2).cost_bits_per_weight(8)
    ((6, 7), 2)
    """

    k: int = 0

    def __post_init__(self):
        if isinstance(self.k, bool) or not isinstance(self.k, numbers.Integral) or self.k < 0:
            raise ValueError(f"k must be an integer >= 0 (protected top bits), got {self.k!r}")
        object.__setattr__(self, "k", int(self.k))

    def check_width(self, n_bits: int) -> int:
        n_bits = check_integer(n_bits, "n_bits", 1)
        if self.k > n_bits:
            raise ValueError(f"k must be an integer in 0..{n_bits} (protected top bits of an {n_bits}-bit code), "
                             f"got {self.k}")
        return n_bits

    def uncorrectable_probability(self, p):
        p = as_rate(p, "p")
        return Fraction(0) if isinstance(p, Fraction) else 0.0

    def _cost_bits_per_weight(self, n_bits):
        return self.k

    def _protected_bits(self, n_bits):
        return tuple(range(n_bits - self.k, n_bits))

    def _residual_channel(self, channel, n_bits):
        return ProtectedChannel(channel, self.k)


def as_protection(protection) -> ProtectionScheme:
    """``protection`` as a scheme: ``None`` is :class:`Unprotected`; anything but a scheme is a ``ValueError``."""
    if protection is None:
        return Unprotected()
    if not isinstance(protection, ProtectionScheme):
        raise ValueError(f"protection must be None or a ProtectionScheme (Unprotected(), IdealMSB(k), "
                         f"Repetition(k), SECDED(k), BCH(k, data_bits, t)), got {protection!r}")
    return protection


def plane_rates(channel: Channel, n_bits: int) -> list:
    """Each bit plane's flip rate, for a channel whose rates do not depend on the stored bit.

    Block codes and repetition store check bits and copies whose values differ
    from the data's, so they need such a channel (symmetric or per bit).
    """
    if channel.bits_per_cell > 1:
        raise ValueError(f"channel must store one bit per cell for a code's exact law (over multi-level cells the bits "
                         f"of a cell fail together and check cells store data-dependent values): its law given the stored "
                         f"data is qtaml_theory.protection.cell_code_law(encoding, codes, channel, scheme); for "
                         f"planning, the named approximation is "
                         f"qtaml_theory.protection.independent_planes(channel, n_bits), got {channel!r}")
    zeros = channel.rates_for_bits(np.zeros((1, n_bits), dtype=np.int64))[0]
    ones = channel.rates_for_bits(np.ones((1, n_bits), dtype=np.int64))[0]
    if any(a != b for a, b in zip(zeros.tolist(), ones.tolist())):
        raise ValueError(f"channel must flip a bit at a rate that does not depend on the stored value "
                         f"(symmetric or per bit) for a code's exact law: check bits store other values than the "
                         f"data; for planning, pass the named approximation "
                         f"qtaml_theory.protection.independent_planes(channel, n_bits) instead, got {channel!r}")
    return zeros.tolist()


def draw_flips(scheme: ProtectionScheme, rng: np.random.Generator, bits: np.ndarray, channel: Channel):
    """One read-back of stored ``bits`` (shape ``(..., n)``) through ``channel`` and ``scheme``, simulated.

    Returns the flips of the read-back code (bool, like ``bits``) and which
    weights read as zero (bool, ``bits.shape[:-1]``). Schemes with codewords
    simulate them (copies voted, codewords encoded, flipped and decoded);
    the others draw each bit from their residual channel.
    """
    return scheme._draw_flips(rng, np.asarray(bits), channel)
