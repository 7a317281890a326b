"""The law of a weight whose scale is stored in the same faulty memory (issue 15).

Grouped and channel-wise storage keep ``w = x s``: an element ``x`` (a code
of any encoding, decoded in its own units: the integer grid of fixed point,
the values of an MX element) times its scale ``s`` (a float16 code, or an
E8M0 code for MX). With ``scales_in_faulty_memory`` both are read back
through the channel, independently (different cells), so the read-back is
``x' s'`` with ``x'`` and ``s'`` drawn from their own laws
(:class:`qtaml_theory.law.WeightError`, :class:`qtaml_theory.float_law.FloatWeightError`).

The moments are exact from the parts' moments: with ``e_x = x' - x`` and
``e_s = s' - s``, ``e = x' s' - x s = e_x (s + e_s) + x e_s``, and
``E[e_x**a e_s**b] = E[e_x**a] E[e_s**b]``
(:func:`qtaml_theory._derive_float.scaled_raw_moments`, expanded in SymPy).

Non-finite reads (``on_nonfinite``) follow the policy of each stored number
as it is read: "keep" gives the law given that *both* reads are finite
(independent events, so the conditioned parts stay independent), and
``P(not finite) = 1 - (1 - P_x)(1 - P_s)``; "zero" reads a non-finite part
as 0, which makes the weight 0; "clamp" clamps each part to its own format's
largest finite value with its read sign (an E8M0 NaN scale to ``2**127``).
One flip of a shared scale moves every weight of its block or channel
together: this law is per weight; the weights of one block are not
independent.

Zero points. Asymmetric storage keeps ``w = (x - z) s`` with a zero point
``z`` per block, stored in the scale's format in the same memory. The three
parts are read independently, so with ``u = x - z`` and ``e_u = e_x - e_z``
the same expansion holds with ``u`` for ``x``, and
``kappa_m(e_u) = kappa_m(e_x) + (-1)**m kappa_m(e_z)`` (cumulants of
independent parts add; ``-e_z`` flips the odd ones). ``P(not finite) =
1 - (1 - P_x)(1 - P_z)(1 - P_s)``; a non-finite zero point is read by the
policy like a scale ("zero" reads it as 0, which leaves the weight ``x s'``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._derive_float import numeric
from ._law_arithmetic import check_size, excess_kurtosis, sample_cumulants, skewness
from ._law_float import check_policy, cumulants_from_raw, raw_moments
from .encodings import Encoding
from .float_formats import TableEncoding
from .law import ROUTES, WeightError, error_cumulants

__all__ = ["ScaledWeightError", "scaled_weight_error", "scaled_error_cumulants", "combine_cumulants", "level_cumulants",
           "MAX_JOINT_ENUMERATION_BITS"]

#: Widest element plus scale (in bits) whose joint law the enumeration route sums.
MAX_JOINT_ENUMERATION_BITS = 20


class ScaledWeightError:
    """Law of ``e = x' s' - x s`` for an element code and a scale code read through the same channel.

    Build it with :func:`scaled_weight_error`. ``element`` and ``scale`` are
    the parts' laws (scale 1 each); every quantity has the routes
    ``"formula"`` (the exact combination of the parts' cumulants),
    ``"enumeration"`` (the joint law of both parts' masks) and ``"montecarlo"``.
    """

    def __init__(self, element: WeightError, scale: WeightError, zero_point: WeightError | None = None) -> None:
        self.element = element
        self.scale = scale
        #: The zero point's law (asymmetric storage), or None.
        self.zero_point = zero_point
        self.on_nonfinite = scale.on_nonfinite
        self.stored_value = self._level(float(element.stored_value)) * float(scale.stored_value)

    def __repr__(self) -> str:
        zero = "" if self.zero_point is None else f", {self.zero_point!r}"
        return f"ScaledWeightError({self.element!r}, {self.scale!r}{zero})"

    def _level(self, x):
        """``x - z``: the element less the stored zero point (``x`` without one)."""
        return x if self.zero_point is None else x - float(self.zero_point.stored_value)

    def _parts(self):
        return (self.element, self.scale) if self.zero_point is None else (self.element, self.scale, self.zero_point)

    def cumulants(self, method: str = "formula", *, size: int | None = None, rng=None) -> tuple:
        """``(kappa_1, kappa_2, kappa_3, kappa_4)`` of ``e`` (given finite reads under "keep")."""
        if method == "formula":
            element, scale = (np.array([float(k) for k in law.cumulants()]) for law in (self.element, self.scale))
            if self.zero_point is not None:
                element = level_cumulants(element, np.array([float(k) for k in self.zero_point.cumulants()]))
            combined = combine_cumulants(self._level(float(self.element.stored_value)),
                                         float(self.scale.stored_value), element, scale)
            return tuple(float(k) for k in combined)
        if method == "enumeration":
            errors, probabilities = self._joint_law()
            mean = float(errors @ probabilities)
            central = [float(((errors - mean) ** m) @ probabilities) for m in (2, 3, 4)]
            return (mean, central[0], central[1], central[2] - 3 * central[0] ** 2)
        if method == "montecarlo":
            draws = self.sample(check_size(size), rng)
            return sample_cumulants(draws[np.isfinite(draws)])
        raise ValueError(f"method must be one of {ROUTES}, got {method!r}")

    def mean(self, method: str = "formula", **kwargs) -> float:
        return self.cumulants(method, **kwargs)[0]

    def var(self, method: str = "formula", **kwargs) -> float:
        return self.cumulants(method, **kwargs)[1]

    def std(self, method: str = "formula", **kwargs) -> float:
        return float(np.sqrt(self.var(method, **kwargs)))

    def stats(self, method: str = "formula", **kwargs) -> tuple:
        """``(mean, var, skewness, excess_kurtosis)``."""
        k1, k2, k3, k4 = self.cumulants(method, **kwargs)
        return k1, k2, skewness(k2, k3), excess_kurtosis(k2, k4)

    def nonfinite_probability(self, method: str = "formula", **kwargs) -> float:
        """``P(a part reads non-finite) = 1 - prod (1 - P_part)`` over element, scale and zero point (before the
        policy)."""
        if method == "montecarlo":
            size, rng = check_size(kwargs.get("size")), np.random.default_rng(kwargs.get("rng"))
            reads = self._raw_reads(size, rng)
            return float(np.mean(np.any([~np.isfinite(read) for read in reads], axis=0)))
        total = 0.0
        for law in self._parts():  # 1 - prod (1 - P), without cancellation when the P are small
            part = _nonfinite(law, method, **kwargs)
            total = total + part - total * part
        return total

    def _raw_reads(self, size, rng):
        """``size`` draws of the parts' read-back values, non-finite kept."""
        return tuple(float(law.stored_value) + _kept(law).sample(size, rng) for law in self._parts())

    def sample(self, size: int, rng=None) -> np.ndarray:
        """``size`` draws of ``e`` (each part read under the policy; NaN and infinities stay under "keep")."""
        rng = np.random.default_rng(rng)
        x, s, *zero = (float(law.stored_value) + law.sample(size, rng) for law in self._parts())
        with np.errstate(invalid="ignore"):
            return (x - zero[0] if zero else x) * s - self.stored_value

    def _joint_law(self):
        width = sum(law.encoding.n for law in self._parts())
        if width > MAX_JOINT_ENUMERATION_BITS:
            raise ValueError(f"method='enumeration' needs element and scale bits <= {MAX_JOINT_ENUMERATION_BITS} "
                             f"(a zero point's included), got {width}")
        (ex, px), (es, ps), *zero = [(np.array([float(v) for v in law]), np.array([float(q) for q in law.values()]))
                                     for law in (law.pmf() for law in self._parts())]
        u = float(self.element.stored_value) + ex
        if zero:  # the level x' - z' over both parts' errors
            ez, pz = zero[0]
            u = (u[:, None] - (float(self.zero_point.stored_value) + ez)[None, :]).ravel()
            px = np.outer(px, pz).ravel()
        errors = u[:, None] * (float(self.scale.stored_value) + es)[None, :] - self.stored_value
        return errors.ravel(), np.outer(px, ps).ravel()


def combine_cumulants(element: ArrayLike, scale: ArrayLike, element_cumulants: ArrayLike,
                      scale_cumulants: ArrayLike) -> np.ndarray:
    """Cumulants of ``e = x' s' - x s`` from the stored ``x``, ``s`` and the parts' error cumulants (module notes).

    Parameters
    ----------
    element, scale : array_like
        Stored element values ``x`` and scale values ``s`` (broadcast together).
    element_cumulants, scale_cumulants : array_like, shape (4, ...)
        ``kappa_1..kappa_4`` of ``e_x`` and of ``e_s``.

    Returns
    -------
    ndarray, shape (4,) + the broadcast shape
    """
    parts = [raw_moments(np.asarray(k, dtype=np.float64)) for k in (element_cumulants, scale_cumulants)]
    raw = numeric("scaled_raw_moments")(np.asarray(element, dtype=np.float64), np.asarray(scale, dtype=np.float64),
                                        *parts[0], *parts[1])
    return np.stack(np.broadcast_arrays(*cumulants_from_raw(list(raw))))


def level_cumulants(element_cumulants: ArrayLike, zero_point_cumulants: ArrayLike) -> np.ndarray:
    """Cumulants of ``e_x - e_z`` for independent parts: ``kappa_m(e_x) + (-1)**m kappa_m(e_z)`` (module notes)."""
    signs = np.array([-1.0, 1.0, -1.0, 1.0]).reshape((4,) + (1,) * (np.ndim(zero_point_cumulants) - 1))
    return np.asarray(element_cumulants, dtype=np.float64) + signs * np.asarray(zero_point_cumulants, dtype=np.float64)


def _stored_number_cumulants(scale_encoding, codes, channel, protection, policy, max_flips):
    """The cumulants of every code's read-back error, each distinct code's law computed once (all masks)."""
    distinct, inverse = np.unique(codes, return_inverse=True)
    cumulants = error_cumulants(scale_encoding, distinct, channel, protection=protection, on_nonfinite=policy,
                                max_flips=_scale_flips(scale_encoding, max_flips))
    return cumulants[:, inverse.reshape(codes.shape)]


def scaled_error_cumulants(encoding: Encoding, codes: ArrayLike, scale_encoding: TableEncoding,
                           scale_codes: ArrayLike, channel, *, protection=None, scale_protection=None,
                           on_nonfinite: str = "keep", max_flips: int | None = None,
                           zero_point_codes: ArrayLike | None = None, bit_order=None) -> np.ndarray:
    """``kappa_1..kappa_4`` of ``(x' - z') s' - (x - z) s`` for arrays of codes, vectorised.

    The arguments are those of :func:`scaled_weight_error`, with ``codes``,
    ``scale_codes`` and ``zero_point_codes`` (asymmetric storage; ``None``:
    no zero point) arrays that broadcast together (a scale per channel or per
    group, repeated over its weights by the caller). Each distinct scale and
    zero-point code's law is computed once, over every mask by default.

    Returns
    -------
    ndarray, shape (4,) + the broadcast shape
    """
    policy = check_policy(on_nonfinite)
    _check_scale_encoding(scale_encoding)
    codes = np.asarray(encoding.check_code(codes))
    scale_codes = np.asarray(scale_encoding.check_code(scale_codes, "scale_codes"))
    flips = {"max_flips": max_flips, "bit_order": bit_order} if isinstance(encoding, TableEncoding) else {}
    element = np.asarray(error_cumulants(encoding, codes, channel, protection=protection, on_nonfinite=policy,
                                         **flips), dtype=np.float64).reshape((4,) + codes.shape)
    scale = _stored_number_cumulants(scale_encoding, scale_codes, channel, scale_protection, policy, max_flips)
    values = np.asarray(encoding.decode(codes), dtype=np.float64)
    if zero_point_codes is not None:
        zero_point_codes = np.asarray(scale_encoding.check_code(zero_point_codes, "zero_point_codes"))
        element = level_cumulants(element, _stored_number_cumulants(scale_encoding, zero_point_codes, channel,
                                                                    scale_protection, policy, max_flips))
        values = values - scale_encoding.table[zero_point_codes]
    return combine_cumulants(values, scale_encoding.table[scale_codes], element, scale)


def _scale_flips(scale_encoding, max_flips):
    """Flips summed for a scale's law: all of its bits by default (65,536 masks for float16, milliseconds); a
    truncated sum is 0.3% off on the variance for small float16 scales, which typical int4 group scales are."""
    return scale_encoding.n if max_flips is None else max_flips


def _check_scale_encoding(scale_encoding):
    if not isinstance(scale_encoding, TableEncoding):
        raise ValueError(f"scale_encoding must be a float format such as get_encoding('float16', 16) or "
                         f"get_encoding('e8m0', 8), got {scale_encoding!r}")


def _nonfinite(law, method, **kwargs):
    if isinstance(law.encoding, TableEncoding):
        return law.nonfinite_probability(method, **kwargs)
    return 0.0


def _kept(law):
    """The same law read under "keep" (non-finite reads stay), for the non-finite probability."""
    if law.on_nonfinite == "keep" or not isinstance(law.encoding, TableEncoding):
        return law
    return WeightError(law.encoding, law.code, law.cells, protection=law.protection, bit_order=law.bit_order)


def scaled_weight_error(encoding: Encoding, code: int, scale_encoding: TableEncoding, scale_code: int, channel, *,
                        protection=None, scale_protection=None, on_nonfinite: str = "keep",
                        max_flips: int | None = None, zero_point_code: int | None = None,
                        bit_order=None) -> ScaledWeightError:
    """The law of a weight ``(x - z) s`` whose element, scale (and zero point) are all read through ``channel``.

    Parameters
    ----------
    encoding : Encoding
        The element's encoding (fixed point, a float, or an MX element).
    code : int
        The element's code; ``x = encoding.decode(code)``.
    scale_encoding : TableEncoding
        The scale's format: ``get_encoding("float16", 16)``, or
        ``get_encoding("e8m0", 8)`` for MX.
    scale_code : int
        The scale's code; ``s = scale_encoding.table[scale_code]``.
    channel : float or Channel
        The cells' channel, for both.
    protection, scale_protection : ProtectionScheme, optional
        What guards the element's and the scale's (and zero point's) bits (``None``: unprotected).
    on_nonfinite : {"keep", "zero", "clamp"}, optional
        The read policy (module docstring).
    zero_point_code : int, optional
        The zero point's code in ``scale_encoding`` (asymmetric storage:
        ``w = (x - z) s``, ``z = scale_encoding.table[zero_point_code]``);
        ``None``: no zero point.
    bit_order : sequence of int, optional
        A float element's stored bit order
        (:func:`qtaml_theory.float_law.float_law_table`).
    max_flips : int, optional
        Flips summed by a 16-bit part's formula route
        (:class:`~qtaml_theory.float_law.FloatWeightError`, whose
        :meth:`~qtaml_theory.float_law.FloatWeightError.truncation` gives the
        bound). Default: every mask of the scale (exact), 3 for a 16-bit element.

    Returns
    -------
    ScaledWeightError

    Examples
    --------
    >>> from qtaml_theory import get_encoding
    >>> from qtaml_theory.scaled_law import scaled_weight_error
    >>> e8m0 = get_encoding("e8m0", 8)
    >>> law = scaled_weight_error(get_encoding("mxfp4", 4), 3, e8m0, 124, 1e-3)
    >>> law.stored_value, law.nonfinite_probability() > 0
    (0.1875, True)
    """
    policy = check_policy(on_nonfinite)
    _check_scale_encoding(scale_encoding)
    flips = {"max_flips": max_flips, "bit_order": bit_order}
    element = WeightError(encoding, code, channel, protection=protection, on_nonfinite=policy,
                          **(flips if isinstance(encoding, TableEncoding) else {}))
    scale, zero_point = (None if number is None else
                         WeightError(scale_encoding, number, channel, protection=scale_protection, on_nonfinite=policy,
                                     max_flips=_scale_flips(scale_encoding, max_flips))
                         for number in (scale_code, zero_point_code))
    return ScaledWeightError(element, scale, zero_point)

