"""The law of one stored weight's read-back error (paper Section 3, A.3-A.8).

:class:`WeightError` is a frozen distribution in the style of
``scipy.stats``: the error ``delta = w_hat - w`` of one stored code under a
flip channel. Every quantity has named routes:

``"formula"``
    The closed form derived in :mod:`qtaml_theory.derive` (cumulants of the
    Theorem 3.1 characteristic function, summed over bits).
``"enumeration"``
    Exact, over all ``2**n`` flip patterns (the ground truth); exact Fractions
    when the rates and Delta are rational.
``"montecarlo"``
    Sample statistics of ``size`` draws with generator ``rng``.

:func:`error_cumulants` is the vectorized formula route over arrays of codes.
Every function takes the cells' ``channel`` (a flip probability or a
:class:`~qtaml_theory.channels.Channel`; formerly ``p``, still accepted as a keyword with a
DeprecationWarning) and a ``protection`` scheme
(:mod:`qtaml_theory.protection`, stage 3; ``None`` is unprotected): the law
is the law under the scheme's residual channel.
"""

from __future__ import annotations

import math
from fractions import Fraction
from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from ._deprecation import renamed_argument
from ._law_arithmetic import (
    channel_cf,
    check_size,
    enumerated_cumulants,
    enumerated_law,
    excess_kurtosis,
    moment_cumulants,
    sample_cumulants,
    skewness,
    sqrt_to_float,
    times_power,
    unit_cumulants,
)
from ._law_float import check_policy
from ._law_inputs import check_encoding as _check_encoding
from ._law_inputs import read_outcomes as _read_outcomes
from ._law_inputs import scale_for as _scale_for
from ._law_mixture import mixture_enumerated_law, mixture_unit_cumulants, single_channel
from ._law_sampling import sample_errors
from .channels import Channel, as_channel
from .encodings import Encoding
from .float_formats import TableEncoding
from .protection import ProtectionScheme, as_protection

#: A flip channel, or a number for the symmetric channel.
ChannelLike = Channel | Real
#: A seed or a NumPy generator.
RandomLike = int | np.random.Generator | None

__all__ = [
    "WeightError",
    "error_cumulants",
    "sample_errors",
    "layer_output_cumulants",
    "MAX_ENUMERATION_BITS",
    "ROUTES",
    "METHODS",
]

#: Largest code width for which the ``2**n`` flip patterns are enumerated.
MAX_ENUMERATION_BITS = 20

#: The routes every quantity of :class:`WeightError` can be computed by.
ROUTES = ("formula", "enumeration", "montecarlo")

#: Former name of :data:`ROUTES` (kept working).
METHODS = ROUTES



@renamed_argument("p", "channel")
def error_cumulants(encoding: Encoding, codes: ArrayLike, channel: ChannelLike, delta: Real = 1.0, *,
                    protection: ProtectionScheme | None = None, on_nonfinite: str = "keep",
                    max_flips: int | None = None, bit_order=None) -> tuple | np.ndarray:
    """Cumulants ``kappa_1..kappa_4`` of ``delta = w_hat - w`` for each code (formula route).

    Parameters
    ----------
    encoding : Encoding
        From :func:`qtaml_theory.get_encoding`.
    codes : int or array_like of int
        Stored codes.
    channel : float, Fraction, sympy.Rational or Channel
        The flip channel (a number means the symmetric channel).
    delta : float, optional
        Quantization step Delta.
    protection : ProtectionScheme, optional
        What guards the code's bits (:mod:`qtaml_theory.protection`);
        ``None`` (default) is unprotected. ``IdealMSB(k)`` gives exactly
        the numbers of ``channel = ProtectedChannel(channel, k)``.
    on_nonfinite : {"keep", "zero", "clamp"}, optional
        How a float format's non-finite read-back is read
        (:mod:`qtaml_theory.float_law`); no effect on the fixed-point encodings.
    max_flips : int, optional
        Float formats only: flips summed per code (default: all for
        ``n <= 8``, 3 beyond); :func:`qtaml_theory.float_law.float_law_table`
        gives the bound on what is left out.
    bit_order : sequence of int, optional
        Float formats only: the format's bit held by each stored position,
        top first (``StoredTensor.bit_order``), so that a scheme guards the
        format's bits ``bit_order[:k]``; ``None``: the format's own order.

    Returns
    -------
    tuple or ndarray
        For a scalar code, ``(kappa_1, kappa_2, kappa_3, kappa_4)`` (Fractions
        when the channel's rates are rational); otherwise an array of shape
        ``(4,) + codes.shape``.

    Notes
    -----
    For a linear encoding (Thm 3.1 generalized to per-bit rates ``pi_i``)

    .. math::

        \\kappa_m = \\Delta^m \\sum_{i=0}^{n-1} (s_i c_i)^m \\, \\kappa_m(\\pi_i),

    with ``kappa_m(pi)`` the Bernoulli cumulants derived in
    :func:`qtaml_theory.derive.bernoulli_cumulant`. For sign-magnitude the
    magnitude's cumulants follow the same way and the sign enters through the
    two-point mixture of :func:`qtaml_theory.derive.sign_mixture_cumulants`.
    """
    encoding = _check_encoding(encoding)
    if isinstance(encoding, TableEncoding):
        from .float_law import float_law_table

        law = float_law_table(encoding, codes, channel, delta, protection=protection, on_nonfinite=on_nonfinite,
                              max_flips=max_flips, bounds=False, bit_order=bit_order)
        return tuple(float(k) for k in law.cumulants) if law.cumulants.ndim == 1 else law.cumulants
    check_policy(on_nonfinite)
    if bit_order is not None:
        raise ValueError(f"bit_order must be None for the fixed-point encoding {encoding.name!r} (stored as it is), "
                         f"got {bit_order!r}")
    outcomes, exact = _read_outcomes(encoding, channel, protection)
    codes = encoding.check_code(codes)
    delta = _scale_for(delta, exact)
    channel = single_channel(outcomes)
    units = (unit_cumulants(encoding, codes, channel) if channel is not None
             else mixture_unit_cumulants(encoding, codes, outcomes, exact))
    kappas = [times_power(kap, delta, m) for m, kap in enumerate(units, start=1)]
    if isinstance(codes, int):
        values = (kap.item() if isinstance(kap, np.ndarray) else kap for kap in kappas)
        return tuple(value if exact else float(value) for value in values)
    return np.stack([np.asarray(kap, dtype=np.float64) for kap in kappas])


class WeightError:
    """Law of the read-back error ``delta = w_hat - w`` of one stored code.

    Parameters
    ----------
    encoding : Encoding
        From :func:`qtaml_theory.get_encoding`.
    code : int
        The stored code, ``0 <= code < 2**n``.
    channel : float, Fraction, sympy.Rational or Channel
        The flip channel: a number is the paper's symmetric channel; or a
        :class:`~qtaml_theory.channels.SymmetricChannel`,
        :class:`~qtaml_theory.channels.PerBitChannel` or
        :class:`~qtaml_theory.channels.DirectionalChannel`.
    delta : float, Fraction or sympy.Rational, optional
        Quantization step Delta (the stored weight is ``Delta * decode(code)``).
        With rational rates a float Delta is taken at its exact binary value.
    protection : ProtectionScheme, optional
        What guards the code's bits (:mod:`qtaml_theory.protection`);
        ``None`` (default) is unprotected. :attr:`channel` is the scheme's
        residual channel: ``IdealMSB(k)`` gives exactly the law under
        ``ProtectedChannel(channel, k)`` (Lemma 4.2).
    on_nonfinite : {"keep", "zero", "clamp"}, optional
        How a non-finite read-back of a float format is read; a float
        format's law is a :class:`qtaml_theory.float_law.FloatWeightError`
        (issue 15), which adds ``nonfinite_probability()``.

    Notes
    -----
    The characteristic function is (Thm 3.1, with per-bit rates ``pi_i``)

    .. math::

        \\varphi(t \\mid w) = \\prod_i \\left(1 - \\pi_i + \\pi_i e^{i t \\Delta s_i c_i}\\right).

    Under the symmetric channel and offset binary, ``E[delta | w] = -2 p w -
    p Delta`` (Thm 3.2) and ``Var[delta | w] = Delta**2 p (1-p) (4**n - 1)/3``
    (Thm A.11).

    References
    ----------
    Paper Section 3 (Thm 3.1-3.4), Appendix A.3-A.8.

    Examples
    --------
    >>> from fractions import Fraction
    >>> from qtaml_theory import WeightError, get_encoding
    >>> law = WeightError(get_encoding("offset_binary", 4), 12, Fraction(1, 10))
    >>> law.mean()
    Fraction(-9, 10)
    >>> law.mean(method="enumeration")
    Fraction(-9, 10)
    """

    def __new__(cls, encoding: Encoding = None, *args, **kwargs):
        """A table encoding's law is a :class:`qtaml_theory.float_law.FloatWeightError`."""
        if cls is WeightError and isinstance(encoding, TableEncoding):
            from .float_law import FloatWeightError

            cls = FloatWeightError
        return super().__new__(cls)

    @renamed_argument("p", "channel")
    def __init__(self, encoding: Encoding, code: int, channel: ChannelLike, delta: Real = 1.0, *,
                 protection: ProtectionScheme | None = None, on_nonfinite: str = "keep") -> None:
        #: How a non-finite read-back is read (floats only; every policy reads the same for fixed point).
        self.on_nonfinite = check_policy(on_nonfinite)
        self.encoding = _check_encoding(encoding)
        self.protection = as_protection(protection)
        self.outcomes, self.exact = _read_outcomes(self.encoding, channel, self.protection)
        self.cells = as_channel(channel)
        #: The residual channel when the law is one (``None`` for a mixture: see :attr:`outcomes`).
        self.channel = single_channel(self.outcomes)
        code = self.encoding.check_code(code)
        if not isinstance(code, int):
            raise ValueError("code must be a single integer; use error_cumulants for arrays of codes")
        self.code = code
        self.delta = _scale_for(delta, self.exact)
        bits = self.encoding.bits(code)
        self.rates = None if self.channel is None else tuple(self.channel.rates_for_bits(bits).tolist())
        self.stored_value = self.encoding.decode(code) * self.delta

    def __repr__(self) -> str:
        protection = "" if self.protection == as_protection(None) else f", protection={self.protection!r}"
        return f"WeightError({self.encoding!r}, {self.code}, {self.cells!r}, delta={self.delta!r}{protection})"

    def error_bounds(self) -> dict:
        """How far each value of the law may be from the true one (all zero where the law is exact).

        A block code whose law is enumerated up to ``J`` errors per word
        (:mod:`qtaml_theory.ecc.truncated`; ``J = t`` for the codes decoded
        algebraically) gives the exact law of a decoder that reads the rarer
        patterns as clean. The two laws are within a total-variation distance
        ``d`` (:meth:`~qtaml_theory.protection.ProtectionScheme.truncation_bound`),
        so for the errors ``x`` in ``[a, b]`` (every read-back value, and zero,
        minus the stored one) each expectation ``E[f(X)]`` is within ``d (sup f
        - inf f)``.

        Returns
        -------
        dict
            ``"probability"``: ``d``, the bound on every probability
            (:meth:`pmf` and any event); ``"mean"``: ``d (b - a) Delta``, on
            :meth:`mean`; ``"var"``: ``d (R_2 + 2 max(|a|, |b|) (b - a))
            Delta**2``, on :meth:`var`, with ``R_2`` the range of ``x**2``
            over ``[a, b]`` (``Var = E[X**2] - E[X]**2``). Fractions for
            rational rates. Skewness and kurtosis, ratios of cumulants, carry
            no bound of their own.

        Examples
        --------
        >>> from qtaml_theory import WeightError, get_encoding
        >>> from qtaml_theory.protection import BCH
        >>> law = WeightError(get_encoding("offset_binary", 8), 200, 1e-4, protection=BCH(8, 4096, 15))
        >>> law.var(), f"{law.error_bounds()['var']:.1e}"
        (0.0, '3.5e-16')
        """
        distance = self.protection.truncation_bound(self.cells, self.encoding.n)
        stored = self.encoding.decode(self.code)
        low = min(self.encoding.min_value, 0) - stored
        high = max(self.encoding.max_value, 0) - stored
        squares = max(low**2, high**2) - (0 if low <= 0 <= high else min(low**2, high**2))
        delta = self.delta if self.exact else float(self.delta)
        return {"probability": distance, "mean": distance * (high - low) * delta,
                "var": distance * (squares + 2 * max(-low, high) * (high - low)) * delta**2}

    # -- routes ---------------------------------------------------------------

    def cumulants(self, method: str = "formula", *, size: int | None = None, rng: RandomLike = None) -> tuple:
        """``(kappa_1, kappa_2, kappa_3, kappa_4)`` of ``delta`` by ``method``.

        Parameters
        ----------
        method : {"formula", "enumeration", "montecarlo"}
        size : int, optional
            Number of draws, for ``"montecarlo"`` only.
        rng : int or numpy.random.Generator, optional
            Seed or generator, for ``"montecarlo"`` only.

        Notes
        -----
        Each route works in units of Delta and multiplies ``kappa_m`` by
        ``Delta**m`` last, so a result overflows only where its true value
        does.
        """
        units = self._unit_cumulants(method, size, rng)
        return tuple(times_power(kappa, self.delta, m) for m, kappa in enumerate(units, start=1))

    def _unit_cumulants(self, method, size=None, rng=None):
        """Cumulants of ``delta / Delta`` by ``method`` (Fractions on the exact routes)."""
        if method == "formula":
            units = (unit_cumulants(self.encoding, self.code, self.channel) if self.channel is not None
                     else mixture_unit_cumulants(self.encoding, self.code, self.outcomes, self.exact))
            return tuple(value if self.exact else float(value) for value in units)
        if method == "enumeration":
            return self._enumerated_cumulants()
        if method == "montecarlo":
            return sample_cumulants(self._unit_sample(check_size(size), rng))
        raise ValueError(f"method must be one of {ROUTES}, got {method!r}")

    def mean(self, method: str = "formula", **kwargs) -> Real:
        """``E[delta | w]`` (Thm 3.2 for the symmetric channel)."""
        return self.cumulants(method, **kwargs)[0]

    def var(self, method: str = "formula", **kwargs) -> Real:
        """``Var[delta | w]`` (Thm A.11 for the symmetric channel)."""
        return self.cumulants(method, **kwargs)[1]

    def std(self, method: str = "formula", **kwargs) -> float:
        """Standard deviation of ``delta``: ``Delta sqrt(kappa_2 / Delta**2)``, finite wherever it is true.

        A float; with rational rates the square root of the exact variance,
        to within one unit in the last place.
        """
        k2 = self._unit_cumulants(method, **kwargs)[1]
        if self.exact:
            return sqrt_to_float(k2 * self.delta**2)
        return self.delta * math.sqrt(k2)

    def skewness(self, method: str = "formula", **kwargs) -> float:
        """``kappa_3 / kappa_2**(3/2)`` (Thm A.13); NaN when the variance is zero.

        Computed from the cumulants in units of Delta (it does not depend on
        Delta) as ``(kappa_3 / kappa_2) / sqrt(kappa_2)``, so it is finite for
        every rate down to the smallest positive float (and, with rational
        rates, below it).
        """
        _, k2, k3, _ = self._unit_cumulants(method, **kwargs)
        return skewness(k2, k3)

    def excess_kurtosis(self, method: str = "formula", **kwargs) -> Real:
        """``kappa_4 / kappa_2**2`` (Thm A.14); exact for rational rates, NaN if ``kappa_2 = 0``."""
        _, k2, _, k4 = self._unit_cumulants(method, **kwargs)
        return excess_kurtosis(k2, k4)

    def stats(self, method: str = "formula", **kwargs) -> tuple:
        """``(mean, var, skewness, excess_kurtosis)`` from one evaluation of the cumulants."""
        units = self._unit_cumulants(method, **kwargs)
        k1, k2 = (times_power(kappa, self.delta, m) for m, kappa in ((1, units[0]), (2, units[1])))
        return k1, k2, skewness(units[1], units[2]), excess_kurtosis(units[1], units[3])

    def pmf(self) -> dict:
        """Exact law of ``delta`` by enumerating all ``2**n`` flip patterns.

        Returns
        -------
        dict
            ``{value: probability}`` over the distinct values of ``delta``,
            sorted by value; Fractions when the rates are rational.
        """
        if self.channel is None:
            return {value * self.delta: weight for value, weight in self._mixture_law().items()}
        steps, weights, total = self._enumerate()
        if self.exact:
            return {Fraction(s) * self.delta: Fraction(c, total) for s, c in zip(steps.tolist(), weights)}
        return {s * self.delta: c for s, c in zip(steps.tolist(), weights.tolist())}

    def _enumerate(self):
        """Distinct errors in units of Delta and their weights, over all flip masks (see :func:`enumerated_law`)."""
        self._check_enumerable()
        factors = self.channel.cell_mask_probabilities(self.encoding.bits(self.code))
        return enumerated_law(self.encoding, self.code, factors, self.exact)

    def _check_enumerable(self):
        n = self.encoding.n
        if n > MAX_ENUMERATION_BITS:
            raise ValueError(f"enumeration needs n <= {MAX_ENUMERATION_BITS}, got n = {n}")

    def _mixture_law(self):
        """``{error / Delta: probability}`` of a mixture law, every outcome over all its flip masks."""
        self._check_enumerable()
        return mixture_enumerated_law(self.encoding, self.code, self.outcomes, self.exact)

    def _enumerated_cumulants(self):
        """Cumulants of ``delta / Delta`` from the enumerated law (see :func:`enumerated_cumulants`)."""
        if self.channel is None:
            law = self._mixture_law()
            values = list(law)
            weights = [law[v] for v in values]
            if not self.exact:
                values, weights = np.array(values, dtype=np.float64), np.array(weights, dtype=np.float64)
            return moment_cumulants(values, weights, self.exact)
        return enumerated_cumulants(*self._enumerate(), self.exact)

    def cf(self, t: ArrayLike, method: str = "formula", *, size: int | None = None,
           rng: RandomLike = None) -> np.ndarray:
        """Characteristic function ``E[exp(i t delta)]`` (Thm 3.1).

        Parameters
        ----------
        t : float or array_like
            Arguments (in units of 1/weight).
        method : {"formula", "enumeration", "montecarlo"}
        """
        t = np.asarray(t, dtype=np.float64)
        if method == "formula":
            return self._cf_formula(t)
        if method == "enumeration":
            pmf = self.pmf()
            values = np.array([float(x) for x in pmf], dtype=np.float64)
            probs = np.array([float(x) for x in pmf.values()], dtype=np.float64)
            return np.exp(1j * t[..., None] * values) @ probs
        if method == "montecarlo":
            draws = self.sample(check_size(size), rng)
            return np.exp(1j * t[..., None] * draws).mean(axis=-1)
        raise ValueError(f"method must be one of {ROUTES}, got {method!r}")

    def _cf_formula(self, t):
        if self.channel is not None:
            return channel_cf(t, self.encoding, self.code, self.channel, self.rates, float(self.delta))
        bits = self.encoding.bits(self.code)
        total = np.zeros(t.shape, dtype=np.complex128)
        for outcome in self.outcomes:
            if outcome.channel is None:
                total += float(outcome.probability) * np.exp(-1j * t * float(self.stored_value))
            else:
                rates = tuple(outcome.channel.rates_for_bits(bits).tolist())
                total += float(outcome.probability) * channel_cf(t, self.encoding, self.code, outcome.channel, rates,
                                                                  float(self.delta))
        return total

    def sample(self, size: int, rng: RandomLike = None) -> np.ndarray:
        """Draw ``size`` independent errors ``delta`` (float64); see :func:`sample_errors`."""
        return self._unit_sample(size, rng) * float(self.delta)

    def _unit_sample(self, size, rng=None):
        """Draws of ``delta / Delta``: integers, exact in float64 (the Monte Carlo route's input)."""
        return sample_errors(self.encoding, self.code, self.cells, size, rng, protection=self.protection)


@renamed_argument("p", "channel")
def layer_output_cumulants(encoding: Encoding, codes: ArrayLike, channel: ChannelLike, inputs: ArrayLike,
                           delta: Real = 1.0, *, protection: ProtectionScheme | None = None) -> np.ndarray:
    """Cumulants of a layer output's perturbation ``sum_j x_j delta_j`` (Remark 3.5).

    The weights' errors are independent, so ``kappa_m = sum_j x_j**m
    kappa_m(delta_j)``: the excess kurtosis of the output falls like
    ``1/width`` for comparable terms, while each weight's stays fixed.

    Parameters
    ----------
    encoding : Encoding
    codes : array_like of int, shape (width,)
    channel : float, Fraction, sympy.Rational or Channel
    inputs : array_like, shape (width,)
        The layer inputs ``x_j``.
    delta : float, optional
    protection : ProtectionScheme, optional
        See :func:`error_cumulants` (``None``: unprotected).

    Returns
    -------
    ndarray, shape (4,)
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    per_weight = error_cumulants(encoding, np.asarray(codes), channel, delta, protection=protection)
    if per_weight.shape[1:] != inputs.shape:
        raise ValueError(f"inputs must have the shape of codes {per_weight.shape[1:]}, got {inputs.shape}")
    return np.array([np.sum(inputs**m * per_weight[m - 1]) for m in (1, 2, 3, 4)])


