"""Real error-correcting codes as protection schemes: repetition, SEC-DED and BCH (issue: real codes).

Each scheme guards the top ``k`` bit planes of a layer:

:class:`Repetition`
    Each protected bit stored ``copies`` times and read by majority vote. A
    bit's copies are its own codeword, so its residual is a channel: the bit
    reads wrong when more than half its copies flip,
    ``P(Binomial(copies, p) > copies // 2)`` (``3 p**2 - 2 p**3`` for three
    copies, derived in :func:`qtaml_theory.derive.majority_flip_probability`).
:class:`SECDED`, :class:`BCH`
    Block codes over bit planes: plane ``j`` of a layer (bit ``j`` of every
    weight, in storage order) is cut into words of ``data_bits`` data bits,
    each stored with its check bits (:mod:`qtaml_theory.ecc`). A weight at
    position ``i`` of its words has its protected bits at position ``i`` of
    ``k`` different codewords, which fail independently; its law is the
    uniform mixture over the ``data_bits`` positions (weights fill the words
    in order), each position with the exact residual law of
    :func:`qtaml_theory.ecc.decoded_bits`. A layer's last, partial word is
    shortened (its missing data bits are known zeros, neither stored nor
    flipped), so its weights fare slightly better than the law says.

Check bits live in the same faulty memory as the data, so a block code needs a
channel whose flip rate does not depend on the stored bit (symmetric or per
bit plane); repetition stores copies of the same value and takes any channel.

The failure policy (``on_failure``) says what the decoder returns for a word it
detects but cannot correct: ``"keep"`` (the default) returns the data as
read, as memory controllers do (they flag the word and deliver it);
``"zero"`` makes every weight of the word read as zero. Keep is the default
because a detected failure usually means two wrong bits among ``data_bits``,
and zeroing trades them for ``data_bits`` weights lost whole.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ..channels import Channel, PerBitChannel, as_channel
from ..ecc import bch_code, decoded_bits, secded_code
from ..ecc.field import PRIMITIVE_POLYNOMIALS, bch_check_bits
from ..ecc.linear import DETECTED, smallest_field
from ..validation import check_integer
from .base import ProtectionScheme, ReadOutcome, binomial_tail, plane_rates

__all__ = ["Repetition", "SECDED", "BCH", "FAILURE_POLICIES", "SECDED_DATA_BITS", "MAX_DATA_BITS"]

#: What a decoder may do with a word it detects but cannot correct.
FAILURE_POLICIES = ("keep", "zero")
#: The SEC-DED word sizes of real memories: (13,8), (22,16), (39,32), (72,64).
SECDED_DATA_BITS = (8, 16, 32, 64)
#: Largest number of data bits per codeword (a shortened code over GF(2^13)).
MAX_DATA_BITS = 8191 - 13 - 1


def _check_top_bits(k):
    return check_integer(k, "k", 1)


def _check_against_width(k, n_bits):
    n_bits = check_integer(n_bits, "n_bits", 1)
    if k > n_bits:
        raise ValueError(f"k must be an integer in 1..{n_bits} (protected top bits of an {n_bits}-bit code), "
                         f"got {k}")
    return n_bits


class _MajorityChannel(Channel):
    """``base`` with each of the top ``k`` bits read by a majority of ``copies`` copies."""

    def __init__(self, base, k, copies):
        self.base, self.k, self.copies = base, k, copies

    def __repr__(self):
        return f"Repetition({self.k}, copies={self.copies}) over {self.base!r}"

    def _rates(self):
        return (*self.base._rates(), self.k, self.copies)

    @property
    def is_exact(self):
        return self.base.is_exact

    def check_width(self, n):
        self.base.check_width(n)

    def rates_for_bits(self, bits):
        rates = self.base.rates_for_bits(bits)
        n = np.shape(bits)[-1]
        top = rates[..., n - self.k:]
        values = {rate: binomial_tail(rate, self.copies, self.copies // 2 + 1) for rate in set(top.ravel().tolist())}
        rates[..., n - self.k:] = np.vectorize(values.__getitem__, otypes=[rates.dtype])(top)
        return rates


@dataclass(frozen=True)
class Repetition(ProtectionScheme):
    """The top ``k`` bits stored ``copies`` times, read by majority vote.

    Parameters
    ----------
    k : int
        Protected top bits, ``1 <= k <= n_bits``.
    copies : int
        Odd, at least 3. Extra cost: ``k (copies - 1)`` bits per weight.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from qtaml_theory.protection import Repetition
    >>> Repetition(2).uncorrectable_probability(Fraction(1, 10))
    Fraction(7, 250)
    """

    k: int = 1
    copies: int = 3

    def __post_init__(self):
        object.__setattr__(self, "k", _check_top_bits(self.k))
        copies = check_integer(self.copies, "copies", 3)
        if copies % 2 == 0:
            raise ValueError(f"copies must be an odd integer >= 3 (a majority must exist), got {copies}")
        object.__setattr__(self, "copies", copies)

    def check_width(self, n_bits):
        return _check_against_width(self.k, n_bits)

    @property
    def codeword_bits(self):
        return self.copies

    @property
    def corrects(self):
        return self.copies // 2

    def _cost_bits_per_weight(self, n_bits):
        return self.k * (self.copies - 1)

    def _protected_bits(self, n_bits):
        return tuple(range(n_bits - self.k, n_bits))

    def _residual_channel(self, channel, n_bits):
        return _MajorityChannel(channel, self.k, self.copies)

    def _draw_flips(self, rng, bits, channel):
        n = bits.shape[-1]
        rates = channel.rates_for_bits(bits).astype(np.float64)
        flips = rng.random(bits.shape) < rates
        copies = rng.random((self.copies,) + bits.shape[:-1] + (self.k,)) < rates[..., n - self.k:]
        flips[..., n - self.k:] = copies.sum(axis=0) > self.copies // 2
        return flips, np.zeros(bits.shape[:-1], dtype=bool)


@dataclass(frozen=True)
class _BlockCode(ProtectionScheme):
    """Shared behaviour of the block codes over bit planes (module docstring); subclasses hold ``code``."""

    def _check_common(self):
        """Check and store ``k``, ``data_bits`` and ``on_failure`` (the fields every block code has)."""
        object.__setattr__(self, "k", _check_top_bits(self.k))
        if self.on_failure not in FAILURE_POLICIES:
            raise ValueError(f"on_failure must be one of {FAILURE_POLICIES}, got {self.on_failure!r}")
        object.__setattr__(self, "data_bits", check_integer(self.data_bits, "data_bits", 1, MAX_DATA_BITS))

    def check_width(self, n_bits):
        return _check_against_width(self.k, n_bits)

    @property
    def codeword_bits(self):
        return self.code.length

    @property
    def corrects(self):
        return self.code.corrects

    def _cost_bits_per_weight(self, n_bits):
        return Fraction(self.k * self.code.check_bits, self.data_bits)

    def storage_bits(self, size, n_bits):
        size = check_integer(size, "size", 0)
        self.check_width(n_bits)
        return self.k * math.ceil(size / self.data_bits) * self.code.check_bits

    def _protected_bits(self, n_bits):
        return tuple(range(n_bits - self.k, n_bits))

    def truncation_bound(self, channel, n_bits: int):
        """How far the computed law of a protected weight may be from the true one (0 where it is exact).

        Where a code's law is enumerated up to ``J`` errors per word
        (:class:`qtaml_theory.ecc.DecodedBits`), the computed law is the exact
        law of a decoder that reads the rarer patterns as clean. The two
        differ only when one of the weight's ``k`` words holds more than
        ``J`` errors and, under ``"keep"``, the weight's own bit is then
        wrong: a total-variation distance of at most the sum over the planes
        of :attr:`~qtaml_theory.ecc.DecodedBits.average_bound` (``"keep"``,
        the weight's position being uniform over the word) or of
        :attr:`~qtaml_theory.ecc.DecodedBits.bound` (``"zero"``). So every
        probability of the weight's law is within it, and every moment
        ``E[X**r]`` within it times the range of ``x**r`` over the errors a
        weight can take.
        """
        _, planes = self._decoded(as_channel(channel), self.check_width(n_bits))
        if self.on_failure == "keep":
            return sum(plane.average_bound for plane in planes)
        return sum(plane.bound for plane in planes)

    def _decoded(self, channel, n_bits):
        rates = plane_rates(channel, n_bits)
        return rates, [decoded_bits(self.code, rates[j]) for j in range(n_bits - self.k, n_bits)]

    def _residual_channel(self, channel, n_bits):
        rates, planes = self._decoded(channel, n_bits)
        averages = [sum(plane.flip) / self.data_bits for plane in planes]
        return PerBitChannel(rates[: n_bits - self.k] + averages)

    def _read_outcomes(self, channel, n_bits):
        rates, planes = self._decoded(channel, n_bits)
        low = rates[: n_bits - self.k]
        exact = channel.is_exact
        one = Fraction(1) if exact else 1.0
        if self.on_failure == "keep":
            accepted = one
            positions = [tuple(plane.flip[i] for plane in planes) for i in range(self.data_bits)]
        else:
            accepted = math.prod((one - plane.detected for plane in planes), start=one)
            positions = [tuple(plane.flip_and_accepted[i] / (one - plane.detected) for plane in planes)
                         for i in range(self.data_bits)] if accepted else []
        counts = {}
        for key in positions:
            counts[key] = counts.get(key, 0) + 1
        share = (lambda c: Fraction(c, self.data_bits)) if exact else (lambda c: c / self.data_bits)
        outcomes = [ReadOutcome(accepted * share(count), PerBitChannel(low + list(key)))
                    for key, count in counts.items()]
        if accepted != one:
            outcomes.append(ReadOutcome(one - accepted, None))
        return tuple(outcomes)

    def _draw_flips(self, rng, bits, channel):
        n = bits.shape[-1]
        rates = plane_rates(channel, n)
        flips = rng.random(bits.shape) < np.asarray(rates, dtype=np.float64)
        zeroed = np.zeros(bits.shape[:-1], dtype=bool)
        position = rng.integers(0, self.data_bits, size=bits.shape[:-1])
        for j in range(n - self.k, n):
            data = rng.integers(0, 2, size=bits.shape[:-1] + (self.data_bits,), dtype=np.uint8)
            np.put_along_axis(data, position[..., None], bits[..., j, None].astype(np.uint8), axis=-1)
            stored = self.code.encode(data)
            received = stored ^ (rng.random(stored.shape) < float(rates[j]))
            decoded, status = self.code.decode(received)
            wrong = decoded != data
            flips[..., j] = np.take_along_axis(wrong, position[..., None], axis=-1)[..., 0]
            if self.on_failure == "zero":
                zeroed |= status == DETECTED
        return flips, zeroed


@dataclass(frozen=True)
class SECDED(_BlockCode):
    """SEC-DED extended Hamming over the top ``k`` bit planes, in words of ``data_bits`` data bits.

    The shortened cyclic Hamming code plus an overall parity bit: (72,64),
    (39,32), (22,16), (13,8) for the word sizes of :data:`SECDED_DATA_BITS`
    (any size from 1 to :data:`MAX_DATA_BITS` works). It corrects one error per
    word and detects two.

    Parameters
    ----------
    k : int
        Protected top bit planes, ``1 <= k <= n_bits``.
    data_bits : int
    on_failure : {"keep", "zero"}
        See the module docstring; ``"keep"`` by default.

    Examples
    --------
    >>> from qtaml_theory.protection import SECDED
    >>> scheme = SECDED(8)
    >>> scheme.codeword_bits, scheme.cost_bits_per_weight(8)
    (72, Fraction(1, 1))
    >>> f"{scheme.uncorrectable_probability(1e-3):.3e}"
    '2.440e-03'
    """

    k: int = 1
    data_bits: int = 64
    on_failure: str = "keep"
    code: object = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self._check_common()
        object.__setattr__(self, "code", secded_code(self.data_bits))


_LARGEST_FIELD = max(PRIMITIVE_POLYNOMIALS)
_FIELD_ORDER = (1 << _LARGEST_FIELD) - 1


def _largest_t(data_bits):
    """Largest t of a BCH code over ``data_bits`` data bits in a field up to GF(2^13) (the largest field holds the most)."""
    low, high = 1, _FIELD_ORDER  # t = 1 holds every data_bits up to MAX_DATA_BITS; t = 2**13 - 1 none
    while high - low > 1:
        middle = (low + high) // 2
        fits = _FIELD_ORDER - bch_check_bits(_LARGEST_FIELD, middle) >= data_bits
        low, high = (middle, high) if fits else (low, middle)
    return low


@dataclass(frozen=True)
class BCH(_BlockCode):
    """A binary BCH code correcting ``t`` errors per word over the top ``k`` bit planes.

    The narrow-sense BCH code over the smallest GF(2^m) (``m <= 13``) that
    holds ``data_bits`` data bits, shortened to them: e.g. (78,64) for ``t =
    2``, (274,256) for ``t = 2`` over 256, and the NAND sector code (4291,4096)
    for ``t = 15`` over 4,096 (512 bytes; 195 check bits). Codes of at most
    :data:`qtaml_theory.ecc.linear.MAX_TABLE_SYNDROME_BITS` (22) check bits are
    decoded by their syndrome table, larger ones algebraically
    (:mod:`qtaml_theory.ecc.algebraic`: Berlekamp-Massey and a Chien search);
    both are the same bounded-distance decoder. The residual law is exact (a
    dynamic programme over all syndromes) up to
    :data:`qtaml_theory.ecc.MAX_EXACT_SYNDROME_BITS` (16) check bits; above,
    the error patterns are enumerated up to ``J`` errors per word and the rest
    bounded (:mod:`qtaml_theory.ecc.truncated`; ``J = t`` for an algebraic
    code: zero within the uncorrectable probability). :meth:`truncation_bound`
    and :meth:`qtaml_theory.WeightError.error_bounds` give the bound on a
    weight's law.

    Examples
    --------
    >>> from qtaml_theory.protection import BCH
    >>> nand = BCH(8, data_bits=4096, t=15)
    >>> nand.codeword_bits, nand.cost_bits_per_weight(8)
    (4291, Fraction(195, 512))
    >>> f"{nand.uncorrectable_probability(3.4e-4):.2e}"  # per sector; per data bit read: 1.2e-15
    '5.00e-12'

    Parameters
    ----------
    k : int
        Protected top bit planes, ``1 <= k <= n_bits``.
    data_bits : int
    t : int
        Errors corrected per word, from 1 to the largest that ``data_bits`` allows.
    on_failure : {"keep", "zero"}
    """

    k: int = 1
    data_bits: int = 64
    t: int = 2
    on_failure: str = "keep"
    code: object = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        self._check_common()
        t = self.t
        if isinstance(t, bool) or not isinstance(t, numbers.Integral) or not 1 <= t <= _FIELD_ORDER \
                or smallest_field(self.data_bits, int(t)) is None:  # refused, with the range
            check_integer(t, f"t (for {self.data_bits} data bits, over GF(2^3..2^13))", 1, _largest_t(self.data_bits))
        object.__setattr__(self, "t", int(t))
        object.__setattr__(self, "code", bch_code(self.data_bits, int(t)))
