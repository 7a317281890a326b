"""Protection schemes: what guards which bits of a stored weight, at what cost (stage 3; paper Section 4.2).

A stored n-bit code reaches the cells through a protection scheme. The
scheme says which bit positions it guards (:meth:`ProtectionScheme.protected_bits`),
how many extra bits it stores per weight (:meth:`ProtectionScheme.cost_bits_per_weight`)
and which channel the code's bits see after protection
(:meth:`ProtectionScheme.residual_channel`): the law of the read-back error
(:mod:`qtaml_theory.law`) is the law under that residual channel.

:class:`Unprotected`
    Nothing is guarded: the residual channel is the cells' channel.
:class:`IdealMSB`
    The paper's selective ECC (Lemma 4.2): the top ``k`` bits never flip, at
    a cost of ``k`` stored bits per weight; its residual channel is
    :class:`~qtaml_theory.channels.ProtectedChannel`.

Real codes (repetition, SEC-DED, BCH) plug in as further subclasses. Their
hooks, documented on :class:`ProtectionScheme` and not yet implemented, are
``codeword_bits(n_bits)`` (data plus check bits of one codeword),
``uncorrectable_probability(p)`` (the probability that a codeword's errors
exceed what the decoder corrects) and a failure policy (what the decoder
returns then); :meth:`~ProtectionScheme.residual_channel` stays the one
place the law and the injector read the protected channel from.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

from .channels import Channel, ProtectedChannel, as_channel

__all__ = ["ProtectionScheme", "Unprotected", "IdealMSB", "as_protection"]


def _check_width(n_bits: int) -> int:
    if isinstance(n_bits, bool) or not isinstance(n_bits, numbers.Integral) or n_bits < 1:
        raise ValueError(f"n_bits must be an integer >= 1, got {n_bits!r}")
    return int(n_bits)


@dataclass(frozen=True)
class ProtectionScheme:
    """Base class of the protection schemes (stage 3 of a stored weight).

    Subclasses are frozen dataclasses, checked in ``__post_init__`` with
    ``ValueError`` naming the field. The public methods check the code
    width (:meth:`check_width`, which a subclass may tighten) and call the
    private hooks ``_cost_bits_per_weight``, ``_protected_bits`` and
    ``_residual_channel``, which every subclass fills.

    Notes
    -----
    Hooks reserved for real codes (the next step; not implemented here):

    ``codeword_bits(n_bits)``
        Stored bits of one codeword (data and check bits); the cost per
        weight follows from it.
    ``uncorrectable_probability(p)``
        Probability that a codeword's flips exceed what the decoder
        corrects; zero for :class:`IdealMSB` by assumption.
    failure policy
        What the decoder returns on an uncorrectable pattern (pass the
        corrupted data through, zero the weight, ...); it shapes the
        residual channel, which therefore stays the single source of the
        protected law for both :mod:`qtaml_theory.law` and the injector.
    """

    def check_width(self, n_bits: int) -> int:
        """``n_bits`` checked against the scheme (``ValueError`` naming the field that does not fit)."""
        return _check_width(n_bits)

    def cost_bits_per_weight(self, n_bits: int) -> int:
        """Extra stored bits per weight of an ``n_bits`` code (the ECC overhead, Section 4.2)."""
        return self._cost_bits_per_weight(self.check_width(n_bits))

    def protected_bits(self, n_bits: int) -> tuple[int, ...]:
        """Bit positions (0 least significant) that the scheme guards in an ``n_bits`` code."""
        return self._protected_bits(self.check_width(n_bits))

    def residual_channel(self, channel, n_bits: int) -> Channel:
        """The channel the code's bits see after protection.

        Parameters
        ----------
        channel : Channel or number
            The cells' channel (a number is the symmetric channel).
        n_bits : int
            Bits per stored code.

        Returns
        -------
        Channel
            The channel every bit of the stored code reads back through.

        Raises
        ------
        ValueError
            ``n_bits`` that the scheme or the channel cannot serve.
        """
        n_bits = self.check_width(n_bits)
        channel = as_channel(channel)
        channel.check_width(n_bits)
        return self._residual_channel(channel, n_bits)

    def _cost_bits_per_weight(self, n_bits):
        raise NotImplementedError

    def _protected_bits(self, n_bits):
        raise NotImplementedError

    def _residual_channel(self, channel, n_bits):
        raise NotImplementedError


@dataclass(frozen=True)
class Unprotected(ProtectionScheme):
    """No protection: every bit sees the cells' channel, at no cost."""

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
        stored bit per weight, the paper's ECC budget accounting.

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
        n_bits = _check_width(n_bits)
        if self.k > n_bits:
            raise ValueError(f"k must be an integer in 0..{n_bits} (protected top bits of an {n_bits}-bit code), "
                             f"got {self.k}")
        return n_bits

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
        raise ValueError(f"protection must be None or a ProtectionScheme (Unprotected(), IdealMSB(k)), "
                         f"got {protection!r}")
    return protection
