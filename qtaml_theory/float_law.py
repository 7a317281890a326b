"""The law of a float's read-back error, and which bits carry it (issue 15; paper Section 3, A.8).

A float format (:mod:`qtaml_theory.float_formats`) is not linear in its
bits: an exponent flip multiplies the value by ``2**(+-2**j)``, and a read
can be NaN or infinite. :class:`FloatWeightError` is the law of one stored
code (``WeightError(encoding, ...)`` returns one for a float format);
:func:`float_law_table` gives it for many codes at once, with the bound on
what a truncated sum leaves out; :func:`exponent_flip_moments` is the
closed-form law of a value whose exponent bits alone are faulty; and
:func:`bit_variance_share` and :func:`protection_order` say which bit
positions carry the variance, which is what protection should guard.

Read policies (``on_nonfinite``) for a read-back that is NaN or infinite:

``"keep"``
    It stays non-finite. :meth:`FloatWeightError.nonfinite_probability`
    gives its probability; the moments are those of the error *given a
    finite read-back*.
``"zero"``
    It reads as 0 (the error is ``-w``).
``"clamp"``
    It reads as the largest finite value with the read sign bit: ``+-inf``
    by its sign, and a NaN by the sign bit of its code too (OCP formats
    have NaNs of both signs). E8M0 has no sign bit: its NaN clamps to
    ``2**127``.

The routes are those of :class:`qtaml_theory.law.WeightError`: ``"formula"``
enumerates the magnitude bits (all masks up to ``n = 8``; masks of at most
``max_flips`` deviations from the most likely read for 16-bit formats,
3 by default) and brings in the sign bit by the exact mixture of A.8;
``"enumeration"`` sums all ``2**n`` masks of the whole code; ``"montecarlo"``
draws flips. The float laws work in float64 (rational rates are converted).
The formula route warns (``RuntimeWarning``) when its bound on the masks left
out exceeds :data:`LOOSE_BOUND` of the mean or the variance: near zero, a
bfloat16 weight's mean comes from masks of many exponent flips.

A stored NaN or infinity is not a weight: :class:`FloatWeightError` refuses
it (``ValueError``), and the tables give NaN for it under every policy.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from . import _closed_forms as cf
from ._deprecation import renamed_argument
from ._derive_float import numeric
from ._float_protection import (
    check_bit_order,
    float_outcomes,
    guarded_positions,
    is_simulated,
    mixture_law,
    mixture_nonfinite,
    outcome_mask_probabilities,
    simulated_masks,
)
from ._law_arithmetic import check_size, moment_cumulants, sample_cumulants
from ._law_float import check_policy, cumulant_bounds, float_rates, policy_table, sample_unit_errors
from ._law_mixture import single_channel
from .channels import as_channel
from .encodings import Encoding
from .float_formats import TableEncoding
from .law import ROUTES, WeightError
from .protection import as_protection
from .validation import as_scale

__all__ = ["FloatWeightError", "FloatLawTable", "float_law_table", "exponent_flip_moments", "bit_variance_share",
           "protection_order", "policy_table", "LOOSE_BOUND"]

#: Widest code whose ``2**n`` masks the enumeration route sums for one code.
MAX_FLOAT_ENUMERATION_BITS = 16
#: The formula route warns when its truncation bound exceeds this share of the mean or the variance.
LOOSE_BOUND = 0.01


def _check_table_encoding(encoding):
    if not isinstance(encoding, TableEncoding):
        raise ValueError(f"encoding must be a float or MX format from get_encoding (float16, bfloat16, "
                         f"float8_e4m3fn, ...), got {encoding!r}")
    return encoding


def _check_max_flips(max_flips):
    if max_flips is not None and (isinstance(max_flips, bool) or not isinstance(max_flips, (int, np.integer))
                                  or max_flips < 0):
        raise ValueError(f"max_flips must be None or an integer >= 0, got {max_flips!r}")
    return max_flips


@dataclass(frozen=True)
class FloatLawTable:
    """The law of many codes' read-back errors (:func:`float_law_table`).

    Attributes
    ----------
    cumulants : ndarray, shape (4,) + codes.shape
        ``kappa_1..kappa_4`` of the error (given a finite read under "keep").
    nonfinite_probability : ndarray, shape codes.shape
        ``P(read-back not finite)`` (closed form; zero for finite-only formats).
    max_flips : int
        Deviations from the most likely read summed per code.
    tail_mass : ndarray, shape codes.shape
        Probability of the masks left out (0 when every mask was summed).
    cumulant_bounds : ndarray, shape (4,) + codes.shape, or None
        ``|kappa_m(true) - cumulants[m]| <= cumulant_bounds[m]``, None when
        not asked for (:mod:`qtaml_theory._law_float`: the smaller of
        ``R B**m`` and the exact left-out absolute moments per raw moment,
        carried through the cumulant polynomials; float64 rounding of the
        summed part not included).
    """

    cumulants: np.ndarray
    nonfinite_probability: np.ndarray
    max_flips: int
    tail_mass: np.ndarray
    cumulant_bounds: np.ndarray


def float_law_table(encoding: TableEncoding, codes: ArrayLike, channel, delta: Real = 1.0, *, protection=None,
                    on_nonfinite: str = "keep", max_flips: int | None = None, bounds: bool = True,
                    bit_order=None) -> FloatLawTable:
    """The law of the read-back error ``Delta (read - table[c])`` of every code in ``codes``, vectorised.

    Parameters
    ----------
    encoding : TableEncoding
        A float or MX format (:func:`qtaml_theory.get_encoding`).
    codes : int or array_like of int
    channel : float or Channel
    delta : float, optional
        The scale the values are multiplied by.
    protection : ProtectionScheme, optional
        Any scheme: ``IdealMSB``, :class:`~qtaml_theory.protection.IdealBits`,
        repetition, or a block code (SEC-DED, BCH), whose law is a mixture
        over its read outcomes (:mod:`qtaml_theory._float_protection`).
    on_nonfinite : {"keep", "zero", "clamp"}, optional
    max_flips : int, optional
        Deviations summed per code; default every mask for ``n <= 8``, 3 beyond.
    bounds : bool, optional
        Compute ``cumulant_bounds`` (default); False leaves it None and
        saves the absolute moments the bound needs (about half the time).
    bit_order : sequence of int, optional
        The format's bit held by each stored position, top first
        (``StoredTensor.bit_order``: :mod:`qtaml_tac` stores a float's bits in
        :func:`protection_order`), so that a scheme's top ``k`` stored
        positions are the format's bits ``bit_order[:k]``. ``None``: the
        format's own order (bit ``n - 1`` on top).

    Returns
    -------
    FloatLawTable
    """
    if not isinstance(bounds, bool):
        raise ValueError(f"bounds must be True or False, got {bounds!r}")
    encoding = _check_table_encoding(encoding)
    policy = check_policy(on_nonfinite)
    _check_max_flips(max_flips)
    bit_order = check_bit_order(bit_order, encoding.n)
    outcomes = float_outcomes(encoding, channel, protection, bit_order)
    codes = np.asarray(encoding.check_code(codes))
    delta = float(as_scale(delta, "delta"))
    flat, inverse = np.unique(codes.reshape(-1), return_inverse=True)  # a layer repeats its codes
    law = mixture_law(encoding, flat, outcomes, policy, max_flips, bounds=bounds,
                      guarded=guarded_positions(protection, encoding.n, bit_order))
    scale = delta ** np.arange(1, 5)[:, None]

    def spread(values, lead=()):
        return values[..., inverse].reshape(lead + codes.shape)

    if bounds:
        bounds = cumulant_bounds(law["cumulants"], law["missed_mass"], law["missed"], law["mass"])
        bounds = spread(bounds * scale, (4,))
    return FloatLawTable(
        cumulants=spread(law["cumulants"] * scale, (4,)),
        nonfinite_probability=spread(np.asarray(mixture_nonfinite(encoding, encoding.bits(flat), outcomes))),
        max_flips=law["max_flips"],
        tail_mass=spread(law["tail"]),
        cumulant_bounds=bounds if law["missed"] is not None else None,
    )


class FloatWeightError(WeightError):
    """Law of the read-back error of one code of a float or MX format (see the module docstring).

    Parameters
    ----------
    encoding : TableEncoding
    code : int
    channel : float or Channel
    delta : float, optional
        Scale of the values (1: the format's own values).
    protection : ProtectionScheme, optional
        Any scheme (:func:`float_law_table`); a block code's law is the
        mixture over its read outcomes, and ``on_failure="zero"`` reads the
        weight as 0 when its word's failure is detected.
    on_nonfinite : {"keep", "zero", "clamp"}, optional
    max_flips : int, optional
        For the formula route (default: every mask for ``n <= 8``, 3 beyond).
    bit_order : sequence of int, optional
        The format's bit held by each stored position, top first
        (:func:`float_law_table`); ``None``: the format's own order.

    Examples
    --------
    >>> from qtaml_theory import WeightError, get_encoding
    >>> e4m3 = get_encoding("float8_e4m3fn", 8)
    >>> law = WeightError(e4m3, int(e4m3.encode(1.0)), 1e-3)
    >>> f"{law.nonfinite_probability():.4e}"  # bits 0-6 all read 1: p**4 (1 - p)**3
    '9.9700e-13'
    """

    @renamed_argument("p", "channel")
    def __init__(self, encoding: Encoding, code: int, channel, delta: Real = 1.0, *, protection=None,
                 on_nonfinite: str = "keep", max_flips: int | None = None, bit_order=None) -> None:
        self.on_nonfinite = check_policy(on_nonfinite)
        self.encoding = _check_table_encoding(encoding)
        self.protection = as_protection(protection)
        self.cells = as_channel(channel)
        self.bit_order = check_bit_order(bit_order, self.encoding.n)
        #: The scheme's read outcomes, their channels over the format's bits (:mod:`qtaml_theory._float_protection`).
        self.outcomes = float_outcomes(self.encoding, self.cells, self.protection, self.bit_order)
        #: The residual channel when the law is one (``None`` for a mixture: see :attr:`outcomes`).
        self.channel = single_channel(self.outcomes)
        self.exact = False
        code = self.encoding.check_code(code)
        if not isinstance(code, int):
            raise ValueError("code must be a single integer; use float_law_table or error_cumulants for arrays")
        if self.encoding.nonfinite[code]:
            raise ValueError(f"code must store a finite value of {self.encoding!r}, got {code} "
                             f"({self.encoding.table[code]}): a stored NaN or infinity is not a weight")
        self.code = code
        self.max_flips = _check_max_flips(max_flips)
        self.delta = float(as_scale(delta, "delta"))
        bits = self.encoding.bits(code)
        self.rates = None if self.channel is None else tuple(float_rates(self.channel, bits).tolist())
        self.stored_value = float(self.encoding.table[code]) * self.delta

    def __repr__(self) -> str:
        order = "" if self.bit_order is None else f", bit_order={self.bit_order}"
        return (f"WeightError({self.encoding!r}, {self.code}, {self.cells!r}, delta={self.delta!r}, "
                f"protection={self.protection!r}, on_nonfinite={self.on_nonfinite!r}{order})")

    def _unit_cumulants(self, method, size=None, rng=None):
        if method == "formula":
            law = mixture_law(self.encoding, np.array([self.code]), self.outcomes, self.on_nonfinite, self.max_flips,
                              guarded=guarded_positions(self.protection, self.encoding.n, self.bit_order))
            cumulants = tuple(float(k[0]) for k in law["cumulants"])
            self._warn_if_loose(cumulants, cumulant_bounds(law["cumulants"], law["missed_mass"], law["missed"],
                                                           law["mass"]), law["max_flips"])
            return cumulants
        if method == "enumeration":
            values, weights = self._enumerated()
            return moment_cumulants(values, weights, False)
        if method == "montecarlo":
            return sample_cumulants(self._finite(self._unit_sample(check_size(size), rng)))
        raise ValueError(f"method must be one of {ROUTES}, got {method!r}")

    def _warn_if_loose(self, cumulants, bounds, max_flips):
        """A ``RuntimeWarning`` when the bound on the masks left out exceeds :data:`LOOSE_BOUND` of the mean or
        the variance (the truncated sum may be far off, as for bfloat16 zero, whose mean comes from masks of many
        exponent flips)."""
        mean_bound, var_bound = (float(np.ravel(bound)[0]) for bound in bounds[:2])
        if mean_bound > LOOSE_BOUND * abs(cumulants[0]) or var_bound > LOOSE_BOUND * abs(cumulants[1]):
            warnings.warn(f"{self!r}: the sum over at most {max_flips} flips leaves out "
                          f"masks worth up to {mean_bound:.3g} on the mean ({cumulants[0]:.3g}) and {var_bound:.3g} on "
                          "the variance; raise max_flips or use method='enumeration' (truncation() gives the bounds)",
                          RuntimeWarning, stacklevel=4)

    def truncation(self) -> FloatLawTable:
        """The formula route's law with its bound on the masks left out (:class:`FloatLawTable`, scalar fields)."""
        return float_law_table(self.encoding, self.code, self.cells, self.delta, protection=self.protection,
                               on_nonfinite=self.on_nonfinite, max_flips=self.max_flips, bit_order=self.bit_order)

    def nonfinite_probability(self, method: str = "formula", *, size: int | None = None, rng=None) -> float:
        """``P(read-back is NaN or infinite)`` (before any policy), by ``method``.

        ``"formula"``: the product over the positions that are all 1 in the
        non-finite codes of ``P(bit reads 1)`` (:mod:`qtaml_theory._derive_float`),
        averaged over the scheme's read outcomes (a zeroed weight is finite).
        """
        if method == "formula":
            return float(mixture_nonfinite(self.encoding, self.encoding.bits(self.code), self.outcomes))
        if method == "enumeration":
            probabilities, masks = self._mask_law()
            return float(probabilities[self.encoding.nonfinite[self.code ^ masks]].sum())
        if method == "montecarlo":
            return float(np.mean(~np.isfinite(self._draws(check_size(size), rng, "keep"))))
        raise ValueError(f"method must be one of {ROUTES}, got {method!r}")

    def _mask_law(self):
        """``P(mask)`` of all ``2**n`` masks (summed over the read outcomes that are not zeroed), and the masks."""
        n = self.encoding.n
        if n > MAX_FLOAT_ENUMERATION_BITS:
            raise ValueError(f"enumeration needs n <= {MAX_FLOAT_ENUMERATION_BITS}, got n = {n}")
        return outcome_mask_probabilities(self.encoding, self.code, self.outcomes), np.arange(1 << n)

    def _enumerated(self):
        """Errors (units of the format) and probabilities over all masks, given a finite read under "keep"."""
        probabilities, masks = self._mask_law()
        zeroed = sum(float(o.probability) for o in self.outcomes if o.channel is None)
        reads = self.code ^ masks
        with np.errstate(invalid="ignore"):
            errors = policy_table(self.encoding, self.on_nonfinite)[reads] - self.encoding.table[self.code]
        finite = ~self.encoding.nonfinite[reads] if self.on_nonfinite == "keep" else np.ones(reads.size, dtype=bool)
        # a weight read as zero (a detected failure under on_failure="zero") is one more, finite, outcome
        errors = np.append(errors[finite], -self.encoding.table[self.code])
        probabilities = np.append(probabilities[finite], zeroed)
        return errors, probabilities / probabilities.sum()

    def pmf(self) -> dict:
        """``{error: probability}`` over all ``2**n`` masks (given a finite read under "keep"), sorted."""
        errors, probabilities = self._enumerated()
        unique, inverse = np.unique(errors, return_inverse=True)
        totals = np.bincount(inverse, weights=probabilities, minlength=unique.size)
        return {float(e) * self.delta: float(q) for e, q in zip(unique, totals) if q > 0}

    def cf(self, t: ArrayLike, method: str = "formula", *, size: int | None = None, rng=None) -> np.ndarray:
        """``E[exp(i t delta)]`` (given a finite read under "keep"): by enumeration, or from draws."""
        t = np.asarray(t, dtype=np.float64)
        if method in ("formula", "enumeration"):
            pmf = self.pmf()
            return np.exp(1j * t[..., None] * np.array(list(pmf))) @ np.array(list(pmf.values()))
        if method == "montecarlo":
            draws = self._finite(self.sample(check_size(size), rng))
            return np.exp(1j * t[..., None] * draws).mean(axis=-1)
        raise ValueError(f"method must be one of {ROUTES}, got {method!r}")

    @staticmethod
    def _finite(draws):
        return draws[np.isfinite(draws)]

    def _unit_sample(self, size, rng=None):
        """Draws of the error in units of the format; NaN and infinities stay under "keep"."""
        return self._draws(size, rng, self.on_nonfinite)

    def _draws(self, size, rng, policy):
        """``size`` errors (units of the format) under ``policy``: a scheme with codewords is simulated
        (copies voted, words encoded, flipped and decoded in the stored bit order), the others drawn from
        their residual channel."""
        codes = np.array([self.code])
        if not is_simulated(self.protection):
            return sample_unit_errors(self.encoding, codes, self.channel, size, rng, policy)[:, 0]
        masks, zeroed = simulated_masks(self.encoding, codes, self.cells, self.protection, self.bit_order, size,
                                        np.random.default_rng(rng))
        with np.errstate(invalid="ignore"):
            errors = policy_table(self.encoding, policy)[self.code ^ masks] - self.encoding.table[self.code]
        return np.where(zeroed, -self.encoding.table[self.code], errors)[:, 0]


def exponent_flip_moments(encoding: TableEncoding, codes: ArrayLike, channel, *,
                          on_nonfinite: str = "keep") -> np.ndarray:
    """``E[v'**k]`` (``k = 0..4``) of a float whose exponent bits alone flip: the closed form.

    With the exponent field ``e`` and the value in normal form
    ``u = +-2**(e - bias) (1 + f)`` (for a subnormal, the value the normal
    formula gives at ``e = 0``), a read exponent ``e'`` gives ``u 2**(e' - e)``,
    so ``E[(u 2**(e'-e))**k] = u**k prod_j [(1 - pi_j) + pi_j 2**(k (1 - 2 b_j) 2**j)]``
    (:func:`qtaml_theory._derive_float.exponent_bit_factor`). The two special
    exponents, all zeros (subnormals) and all ones (infinities and NaNs, or
    E4M3's NaN), are corrected: ``P(e' = e*) (a**k - (u 2**(e* - e))**k)``
    with ``a`` the value the code then reads as under ``on_nonfinite``
    (under "keep" a non-finite ``a`` counts 0, so ``k = 0`` gives the
    probability of a finite read).

    Parameters
    ----------
    encoding : TableEncoding
        A float format (with an exponent field).
    codes : int or array_like of int
    channel : float or Channel
        Its rates on the exponent bits are used; the other bits are safe.
    on_nonfinite : {"keep", "zero", "clamp"}, optional

    Returns
    -------
    ndarray, shape (5,) + codes.shape
    """
    encoding = _check_table_encoding(encoding)
    policy = check_policy(on_nonfinite)
    if not encoding.exponent_bits:
        raise ValueError(f"encoding must have an exponent field, got {encoding!r}")
    codes = np.asarray(encoding.check_code(codes))
    bits = encoding.bits(codes)
    positions = list(encoding.exponent_bits)
    rates = float_rates(as_channel(channel), bits)[..., positions]
    stored = bits[..., positions]
    low = positions[0]
    field = (1 << len(positions)) - 1
    exponent = codes >> low & field
    without = codes & ~(field << low)
    normal_form = encoding.table[without | 1 << low] * np.exp2(exponent - 1.0)
    factor = numeric("exponent_bit_factor")
    read_one = numeric("read_one_probability")(stored, rates)
    table = policy_table(encoding, policy)
    moments = []
    for k in range(5):
        j = np.arange(len(positions), dtype=np.float64)
        total = normal_form**k * np.prod(factor(float(k), j, stored.astype(np.float64), rates), axis=-1)
        for special, chance in ((0, np.prod(1 - read_one, axis=-1)), (field, np.prod(read_one, axis=-1))):
            actual = table[without | special << low]
            counted = np.isfinite(actual)
            with np.errstate(invalid="ignore"):
                actual_power = np.where(counted, np.where(counted, actual, 0.0) ** k, 0.0)
            total = total + chance * (actual_power - (normal_form * np.exp2(special - exponent)) ** k)
        moments.append(total)
    return np.stack(moments)


def _read_values(encoding, codes, policy):
    if isinstance(encoding, TableEncoding):
        table = policy_table(encoding, policy)
        return np.where(encoding.nonfinite[codes], np.nan, table[codes]) if policy == "keep" else table[codes]
    return np.asarray(encoding.decode(codes), dtype=np.float64)


def bit_variance_share(encoding: Encoding, codes: ArrayLike, channel, *, on_nonfinite: str = "clamp") -> np.ndarray:
    """The share of each bit position in the variance of the codes' read-back errors, bit 0 first.

    Position ``i`` carries ``V_i = sum_codes pi_i (1 - pi_i) d_i**2``, the
    variance of the error when bit ``i`` alone is faulty, with ``d_i`` the
    error of flipping it (``decode(c ^ 2**i) - decode(c)``, read under
    ``on_nonfinite``; "keep" leaves out flips to a non-finite value, which
    :meth:`FloatWeightError.nonfinite_probability` counts instead). The
    shares are ``V_i / sum_j V_j`` (zeros when no bit can flip). For a
    linear encoding the ``V_i`` are exactly Theorem A.11's terms, so for
    offset binary bit ``n - 1`` carries Prop. A.12's ``3 4**(n-1) / (4**n - 1)``.

    Parameters
    ----------
    encoding : Encoding
        Any encoding (fixed point or float).
    codes : int or array_like of int
        The stored codes (a layer's, for its share).
    channel : float or Channel
    on_nonfinite : {"keep", "zero", "clamp"}, optional
        Default "clamp": a flip to a non-finite value weighs as a flip to the
        largest finite value.

    Returns
    -------
    ndarray of float64, shape (n,)
    """
    if not isinstance(encoding, Encoding):
        raise ValueError(f"encoding must be an object from qtaml_theory.get_encoding(name, n), got {encoding!r}")
    policy = check_policy(on_nonfinite)
    codes = np.asarray(encoding.check_code(codes)).reshape(-1)
    bits = encoding.bits(codes)
    rates = float_rates(as_channel(channel), bits)
    stored = _read_values(encoding, codes, policy)
    terms = np.empty(encoding.n)
    for i in range(encoding.n):
        step = _read_values(encoding, codes ^ (1 << i), policy) - stored
        step = np.where(np.isfinite(step), step, 0.0)
        terms[i] = np.sum(cf.bernoulli_cumulant_2(rates[:, i]) * step**2)
    total = terms.sum()
    return terms / total if total > 0 else np.zeros(encoding.n)


def protection_order(encoding: Encoding, codes: ArrayLike, channel, *, on_nonfinite: str = "clamp") -> tuple:
    """Bit positions by decreasing :func:`bit_variance_share` (ties: the higher position first).

    ``IdealBits(order[:k])`` (:class:`qtaml_theory.protection.IdealBits`)
    guards the ``k`` positions that carry the most variance; for offset
    binary the order is ``(n-1, ..., 0)`` and the scheme is ``IdealMSB(k)``.
    """
    share = bit_variance_share(encoding, codes, channel, on_nonfinite=on_nonfinite)
    return tuple(int(i) for i in sorted(range(share.size), key=lambda i: (-share[i], -i)))
