"""The law of a float (or MX element) guarded by a protection scheme, real codes included (issue 15).

A scheme's read outcomes (:meth:`qtaml_theory.protection.ProtectionScheme.read_outcomes`)
are what the codes' law machinery already computes for fixed point: for a
linear block code with syndrome decoding the residual error pattern over a
codeword does not depend on the data, so a protected weight reads back
through one of a few channels (its position in the word; each protected
plane's word fails independently of the others), or as zero (a detected
failure under ``on_failure="zero"``). None of that uses the encoding, so it
holds for a float as it is: the float's law is the mixture, over the
outcomes, of its law under each outcome's channel
(:func:`qtaml_theory._law_float.unit_law`: every mask for ``n <= 8``,
the masks of at most ``max_flips`` deviations with a bound on the rest for
16 bits).

Bit order. A scheme guards the top ``k`` positions of the *stored* word.
:mod:`qtaml_tac` stores a float's bits in the law's protection order
(``StoredTensor.bit_order``: stored position ``n - 1 - j`` holds the format's
bit ``bit_order[j]``), so its top ``k`` stored bits are the format's bits
``bit_order[:k]``. :class:`StoredOrderChannel` carries an outcome's channel,
which speaks of stored positions, over to the format's bits; ``bit_order=None``
stores the format's bits as they are (bit ``n - 1`` on top).

Mixing. Each outcome ``c`` (probability ``P_c``) contributes its summed law
with the mass ``S_c`` it summed (the finite reads under "keep"); the mixture
weighs the parts by ``P_c S_c`` and combines their central moments about the
mixture's mean (:func:`qtaml_theory._law_mixture.mix_central`). What a part
left out adds to the mixture's left-out mass and moments with weight
``P_c``, so :func:`qtaml_theory._law_float.cumulant_bounds` bounds the
mixture exactly as it bounds one channel.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._law_float import DEFAULT_MAX_FLIPS, FULL_ENUMERATION_BITS, float_rates, nonfinite_probability, unit_law
from ._law_inputs import read_outcomes
from ._law_mixture import mix_central
from .channels import Channel, mask_probabilities
from .protection import ProtectionScheme, ReadOutcome, as_protection, draw_flips

__all__ = ["StoredOrderChannel", "check_bit_order", "float_outcomes", "mixture_law", "mixture_nonfinite", "guarded_positions",
           "outcome_mask_probabilities", "is_simulated", "simulated_masks"]


def check_bit_order(bit_order, n):
    """``bit_order`` as a tuple: a permutation of ``0..n-1`` (the format's bit at each stored position, top first)."""
    if bit_order is None:
        return None
    entries = () if isinstance(bit_order, (str, bytes)) or not hasattr(bit_order, "__iter__") else tuple(bit_order)
    order = tuple(int(i) for i in entries if isinstance(i, numbers.Integral) and not isinstance(i, bool))
    if len(order) != len(entries) or sorted(order) != list(range(n)):
        raise ValueError(f"bit_order must be None or a permutation of 0..{n - 1} (the format's bit held by each "
                         f"stored position, top first, as StoredTensor.bit_order), got {bit_order!r}")
    return order


def _to_stored(bits, order):
    """Stored bits (bit 0 first) of format ``bits``: stored position ``n - 1 - j`` holds format bit ``order[j]``."""
    n = len(order)
    return bits[..., [order[n - 1 - s] for s in range(n)]]


def _to_format(stored, order):
    """The inverse of :func:`_to_stored`."""
    n = len(order)
    out = np.empty_like(stored)
    for j, position in enumerate(order):
        out[..., position] = stored[..., n - 1 - j]
    return out


class StoredOrderChannel(Channel):
    """``base``, a channel over stored positions, seen from the format's bits stored in ``order`` (module notes).

    Parameters
    ----------
    base : Channel
        One bit per cell; position ``s`` of the stored word.
    order : tuple of int
        Stored position ``n - 1 - j`` holds the format's bit ``order[j]``.
    """

    def __init__(self, base, order):
        if base.bits_per_cell > 1:
            raise ValueError(f"channel must store one bit per cell for a float format, got {base!r}")
        self.base, self.order = base, tuple(order)

    def __repr__(self):
        return f"StoredOrderChannel({self.base!r}, {self.order})"

    def _rates(self):
        return (*self.base._rates(), self.order)

    @property
    def is_exact(self):
        return self.base.is_exact

    def check_width(self, n):
        self.base.check_width(n)
        if n != len(self.order):
            raise ValueError(f"bit_order must have one position per bit of the {n}-bit code, got {self.order}")

    def rates_for_bits(self, bits):
        bits = np.asarray(bits)
        return _to_format(self.base.rates_for_bits(_to_stored(bits, self.order)), self.order)


def float_outcomes(encoding, channel, protection, bit_order):
    """The read outcomes of a float code under ``protection``, their channels over the format's bits."""
    outcomes, _ = read_outcomes(encoding, channel, as_protection(protection))
    if bit_order is None:
        return outcomes
    return tuple(ReadOutcome(o.probability, None if o.channel is None else StoredOrderChannel(o.channel, bit_order))
                 for o in outcomes)


def _zero_part(encoding, codes):
    """A weight read as zero: error ``-w``, nothing left out (a stored non-finite code: NaN)."""
    error = np.where(encoding.nonfinite[codes], np.nan, -encoding.table[codes])
    zeros = np.zeros(codes.shape)
    return {"cumulants": np.stack([error, zeros, zeros, zeros]), "mass": np.ones(codes.shape), "tail": zeros,
            "max_flips": 0, "missed_mass": zeros, "missed": np.zeros((4,) + codes.shape)}


def guarded_positions(scheme, n, bit_order):
    """The format's bit positions that ``scheme`` guards: its stored positions through ``bit_order``."""
    stored = as_protection(scheme).protected_bits(n)
    return tuple(sorted(stored if bit_order is None else (bit_order[n - 1 - s] for s in stored)))


def _by_guarded_mask(rates, guarded):
    """The same mixture as ``rates`` (a list of ``(probability, rates)``), over the ``2**k`` read masks of the
    ``k`` guarded positions instead: the outcomes differ only there, and each outcome's guarded bits flip
    independently, so ``P(s) = sum_c P_c prod_j (rho_cj if s_j else 1 - rho_cj)``, and given ``s`` the guarded
    bits read as ``s`` (rate 1 or 0) while the others keep their common rates."""
    common = rates[0][1]
    parts = []
    for mask in range(1 << len(guarded)):
        flipped = [(mask >> j) & 1 for j in range(len(guarded))]
        probability = sum(p * np.prod([r[:, g] if f else 1 - r[:, g] for g, f in zip(guarded, flipped)], axis=0)
                          for p, r in rates)
        forced = common.copy()
        forced[:, list(guarded)] = np.array(flipped, dtype=np.float64)
        parts.append((probability, forced, sum(flipped)))
    return parts


def mixture_law(encoding, codes, outcomes, policy, max_flips=None, split_sign=True, bounds=True, guarded=()):
    """:func:`qtaml_theory._law_float.unit_law` for a mixture of read ``outcomes`` (module notes); same keys.

    ``guarded``: the positions where the outcomes' channels differ (:func:`guarded_positions`); when their
    ``2**k`` read masks are fewer than the outcomes (a block code's ``data_bits`` positions), the law is summed
    over those masks instead (:func:`_by_guarded_mask`), the same mixture in fewer passes. The truncation is
    the same in both: masks of at most ``max_flips`` deviations in all, so a read with ``s`` guarded bits
    flipped sums the others' masks of at most ``max_flips - s`` (each part's bound covers the rest).
    """
    bits = encoding.bits(codes)
    rates = [(float(o.probability), float_rates(o.channel, bits), 0) for o in outcomes if o.channel is not None]
    zeroed = sum(float(o.probability) for o in outcomes if o.channel is None)
    if len(rates) > 1 << len(guarded):
        rates = _by_guarded_mask([(p, r) for p, r, _ in rates], guarded)
    if max_flips is None:
        max_flips = encoding.n if encoding.n <= FULL_ENUMERATION_BITS else DEFAULT_MAX_FLIPS
    # masks of at most max_flips deviations in all: a read of s flipped guarded bits leaves max_flips - s
    parts = [(p, unit_law(encoding, codes, r, policy, max(max_flips - deviated, 0), split_sign, bounds))
             for p, r, deviated in rates]
    if zeroed:
        parts.append((zeroed, _zero_part(encoding, codes)))
    if len(parts) == 1:
        return parts[0][1]
    weights = [p * law["mass"] for p, law in parts]
    total = sum(weights)
    with np.errstate(invalid="ignore", divide="ignore"):
        central = [(w / total, k[0], k[1], k[2], k[3] + 3 * k[1] ** 2)
                   for w, k in zip(weights, (law["cumulants"] for _, law in parts))]
    combined = {"cumulants": np.stack(mix_central(central)), "mass": total,
                "tail": sum(p * law["tail"] for p, law in parts), "max_flips": min(max_flips, encoding.n),
                "missed_mass": sum(p * law["missed_mass"] for p, law in parts), "missed": None}
    if all(law["missed"] is not None for _, law in parts):
        combined["missed"] = sum(p * law["missed"] for p, law in parts)
    return combined


def mixture_nonfinite(encoding, bits, outcomes):
    """``P(read-back not finite) = sum_c P_c prod q_j`` over the outcomes (a zeroed weight reads 0, finite)."""
    return sum(float(o.probability) * nonfinite_probability(encoding, bits, float_rates(o.channel, bits))
               for o in outcomes if o.channel is not None)


def outcome_mask_probabilities(encoding, code, outcomes):
    """``P(mask and not zeroed)`` for every mask of the code (all ``2**n``): ``sum_c P_c P_c(mask)``."""
    bits = encoding.bits(code)
    return sum((float(o.probability) * mask_probabilities(float_rates(o.channel, bits)) for o in outcomes
                if o.channel is not None), np.zeros(1 << encoding.n))


def is_simulated(protection):
    """Whether ``protection`` has codewords that the Monte Carlo route simulates (repetition and block codes)."""
    scheme = as_protection(protection)
    return type(scheme)._draw_flips is not ProtectionScheme._draw_flips


def simulated_masks(encoding, codes, cells, protection, bit_order, size, rng):
    """``size`` read-backs of ``codes`` through the scheme's real codewords, in the stored bit order.

    Returns the XOR masks over the format's bits, shape ``(size,) + codes.shape``,
    and which draws read as zero (:func:`qtaml_theory.protection.draw_flips`).
    """
    bits = encoding.bits(codes)
    stored = bits if bit_order is None else _to_stored(bits, bit_order)
    flips, zeroed = draw_flips(as_protection(protection), rng, np.broadcast_to(stored, (size,) + stored.shape), cells)
    if bit_order is not None:
        flips = _to_format(flips, bit_order)
    return flips.astype(np.int64) @ (np.int64(1) << np.arange(encoding.n, dtype=np.int64)), zeroed
