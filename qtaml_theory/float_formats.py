"""Floating-point and microscaling formats as encodings: codes to values through ``ml_dtypes`` (issue 15).

A :class:`TableEncoding` stores a weight as the raw bits of a format with no
scale of its own: code ``c`` (an ``n``-bit unsigned integer, bit 0 least
significant) decodes to ``table[c]``, the ``ml_dtypes`` (or NumPy, for
``float16``) value of those bits cast to float64. No bit table is written by
hand. The names (for :func:`qtaml_theory.get_encoding`):

==================  =====  =========================================================
name                n      format
==================  =====  =========================================================
``float16``         16     IEEE 754 binary16 (``numpy.float16``)
``bfloat16``        16     bfloat16 (``ml_dtypes.bfloat16``)
``float8_e4m3fn``   8      OCP FP8 E4M3: no infinities, NaN at ``S.1111.111``
``float8_e5m2``     8      OCP FP8 E5M2: IEEE-like, infinities and NaNs
``float6_e2m3fn``   6      OCP FP6 E2M3 (finite only)
``float6_e3m2fn``   6      OCP FP6 E3M2 (finite only)
``float4_e2m1fn``   4      OCP FP4 E2M1 (finite only)
``e8m0``            8      OCP E8M0 shared scale ``2**(c - 127)``, NaN at 255
                           (``ml_dtypes.float8_e8m0fnu``; also by that name)
``mxfp8_e4m3``      8      MX element, E4M3 (:func:`mx_format` gives the block)
``mxfp8_e5m2``      8      MX element, E5M2
``mxfp6_e2m3``      6      MX element, E2M3
``mxfp6_e3m2``      6      MX element, E3M2
``mxfp4``           4      MX element, E2M1
``mxint8``          8      MX element: two's complement ``int8`` times ``2**-6``
==================  =====  =========================================================

A code's value is ``Delta * table[c]`` (``Delta = 1``: the format's own
values; a scale for MX and grouped storage).

Rounding. :meth:`TableEncoding.encode` rounds to the nearest finite value,
ties to the even code, by an exact comparison with the midpoint of the two
neighbouring values (exact in float64 for every format here). It does not
call ``ml_dtypes``' casts because they round a float64 twice, through
float32: ``1 + 2**-8 + 2**-30`` casts to bfloat16 ``1.0`` while the nearest
bfloat16 is ``1 + 2**-7``. Wherever the cast is correctly rounded (any value
exactly representable in float32, and not an E8M0 tie) the two agree, which
the tests check. A zero result keeps the sign of the value (IEEE 754).

References
----------
OCP 8-bit Floating Point Specification (OFP8) rev. 1.0 (2023); OCP
Microscaling Formats (MX) Specification v1.0 (2023), Sections 5 and 6.3;
IEEE 754-2019 (binary16).
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .encodings import Encoding
from .validation import check_finite_values

__all__ = ["TableEncoding", "FLOAT_ENCODINGS", "MX_FORMATS", "MXFormat", "mx_format", "NONFINITE_POLICIES"]

#: How a read-back value that is not finite (NaN or infinity) is read: kept, read as 0, or clamped.
NONFINITE_POLICIES = ("keep", "zero", "clamp")


class TableEncoding(Encoding):
    """A fixed-width format whose code ``c`` decodes to ``table[c]`` (the format's raw bits).

    Subclasses (one per name, :data:`FLOAT_ENCODINGS`) set the class
    attributes; ``n_bits`` must equal the format's width.

    Attributes
    ----------
    table : ndarray of float64, shape (2**n,)
        Value of every code (NaN and infinities where the format has them).
    nonfinite : ndarray of bool, shape (2**n,)
        Which codes are not finite.
    is_float : bool
        True for floating-point formats (and E8M0); False for ``mxint8``.
    sign_bit : int or None
        Bit ``n - 1`` when it is a sign bit (``decode(c ^ 2**(n-1)) = -decode(c)``), else None.
    exponent_bits, mantissa_bits : tuple of int
        Bit positions of the exponent and mantissa fields (empty for ``mxint8``).
    nonfinite_bits : tuple of int
        The positions that are all 1 exactly in the non-finite codes (empty
        when the format has none): IEEE formats the exponent field, the
        ``fn`` formats exponent and mantissa, E8M0 every bit.
    """

    is_linear = False
    is_float = True
    width = 0
    exponent_width = 0
    mantissa_width = 0
    signed = True
    value_scale_log2 = 0

    def __init__(self, n_bits: numbers.Integral) -> None:
        if isinstance(n_bits, bool) or not isinstance(n_bits, numbers.Integral) or int(n_bits) != self.width:
            raise ValueError(f"n_bits must be {self.width} for the format {self.name!r}, got {n_bits!r}")
        super().__init__(int(n_bits))
        table = self._raw_table()
        table.setflags(write=False)
        self._table = table
        self.nonfinite = ~np.isfinite(table)
        self.nonfinite.setflags(write=False)
        self.sign_bit = self.n - 1 if self.signed and self.is_float else None
        self.mantissa_bits = tuple(range(self.mantissa_width))
        self.exponent_bits = tuple(range(self.mantissa_width, self.mantissa_width + self.exponent_width))
        self.nonfinite_bits = self._find_nonfinite_bits()
        finite = table[~self.nonfinite]
        self._grid, first = np.unique(finite, return_index=True)
        self._grid_codes = np.flatnonzero(~self.nonfinite)[first]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TableEncoding) and other.name == self.name

    def __hash__(self) -> int:
        return hash((self.name, self.n))

    @property
    def table(self) -> np.ndarray:
        """Value of every code, float64, read-only (``table[code] * scale`` is a stored weight)."""
        return self._table

    @property
    def max_finite(self) -> float:
        """Largest finite value."""
        return float(self._grid[-1])

    @property
    def min_finite(self) -> float:
        """Smallest finite value (the most negative one; ``2**-127`` for E8M0)."""
        return float(self._grid[0])

    @property
    def min_value(self) -> float:
        return self.min_finite

    @property
    def max_value(self) -> float:
        return self.max_finite

    def _raw_table(self):
        raw = np.arange(self.n_codes, dtype=np.uint16 if self.n > 8 else np.uint8)
        with np.errstate(invalid="ignore"):  # NaN codes cast to NaN
            return np.ldexp(raw.view(_dtype(self.dtype_name)).astype(np.float64), self.value_scale_log2)

    def _find_nonfinite_bits(self):
        if not self.nonfinite.any():
            return ()
        codes = np.flatnonzero(self.nonfinite)
        always = np.bitwise_and.reduce(codes)
        positions = tuple(i for i in range(self.n) if always >> i & 1)
        mask = sum(1 << i for i in positions)
        every = np.arange(self.n_codes)
        if not np.array_equal((every & mask) == mask, self.nonfinite):
            raise ValueError(f"the non-finite codes of {self.name!r} are not those with bits {positions} set")
        return positions

    def _decode_exact(self, code):
        return float(self._table[code])

    def _decode_array(self, code):
        return self._table[code]

    def _encode_array(self, values):
        """Nearest finite value, ties to the even code; values outside the finite range are clipped (module notes)."""
        clipped = (values > self.max_finite) | (values < self.min_finite)
        grid = self._grid
        inside = np.clip(values, grid[0], grid[-1])
        upper = np.clip(np.searchsorted(grid, inside), 1, grid.size - 1)
        lower = upper - 1
        midpoint = (grid[lower] + grid[upper]) / 2  # exact: neighbours differ in at most one more bit
        low_code, high_code = self._grid_codes[lower], self._grid_codes[upper]
        tie_low = (inside == midpoint) & (low_code % 2 == 0)
        codes = np.where((inside < midpoint) | tie_low, low_code, high_code).astype(np.int64)
        if self.sign_bit is not None:
            negative_zero = (self._table[codes] == 0) & np.signbit(values)
            codes = np.where(negative_zero, codes | (1 << self.sign_bit), codes)
        return codes, clipped


def _dtype(name):
    if name == "float16":
        return np.float16
    if name == "int8":
        return np.int8
    import ml_dtypes

    return getattr(ml_dtypes, name)


def _format(name, dtype_name, width, exponent_width, mantissa_width, *, signed=True, is_float=True,
            value_scale_log2=0, doc=""):
    attributes = {"name": name, "dtype_name": dtype_name, "width": width, "exponent_width": exponent_width,
                  "mantissa_width": mantissa_width, "signed": signed, "is_float": is_float,
                  "value_scale_log2": value_scale_log2, "__doc__": doc, "__module__": __name__}
    class_name = "".join(part.capitalize() for part in name.split("_")) + "Encoding"
    return type(class_name, (TableEncoding,), attributes)


_SPECS = (
    ("float16", "float16", 16, 5, 10, {}),
    ("bfloat16", "bfloat16", 16, 8, 7, {}),
    ("float8_e4m3fn", "float8_e4m3fn", 8, 4, 3, {}),
    ("float8_e5m2", "float8_e5m2", 8, 5, 2, {}),
    ("float6_e2m3fn", "float6_e2m3fn", 6, 2, 3, {}),
    ("float6_e3m2fn", "float6_e3m2fn", 6, 3, 2, {}),
    ("float4_e2m1fn", "float4_e2m1fn", 4, 2, 1, {}),
    ("e8m0", "float8_e8m0fnu", 8, 8, 0, {"signed": False}),
    ("float8_e8m0fnu", "float8_e8m0fnu", 8, 8, 0, {"signed": False}),
    ("mxfp8_e4m3", "float8_e4m3fn", 8, 4, 3, {}),
    ("mxfp8_e5m2", "float8_e5m2", 8, 5, 2, {}),
    ("mxfp6_e2m3", "float6_e2m3fn", 6, 2, 3, {}),
    ("mxfp6_e3m2", "float6_e3m2fn", 6, 3, 2, {}),
    ("mxfp4", "float4_e2m1fn", 4, 2, 1, {}),
    ("mxint8", "int8", 8, 0, 0, {"is_float": False, "value_scale_log2": -6}),
)

#: The table encodings by name: name -> class (:func:`qtaml_theory.get_encoding` accepts these names too).
FLOAT_ENCODINGS = {
    name: _format(name, dtype, width, e, m, doc=f"The {name!r} format ({width} bits; see the module docstring).", **kw)
    for name, dtype, width, e, m, kw in _SPECS
}


@dataclass(frozen=True)
class MXFormat:
    """An OCP MX format: blocks of ``block_size`` elements sharing one E8M0 scale.

    Attributes
    ----------
    name : str
    element : TableEncoding
        The element encoding (``get_encoding(name, element_bits)``).
    scale : TableEncoding
        The shared scale's encoding, E8M0.
    emax_elem : int
        Exponent of the element format's largest normal (OCP MX v1.0 Table 1:
        E4M3 8, E5M2 15, E2M3 2, E3M2 4, E2M1 2, INT8 0).
    block_size : int
        32 (OCP MX v1.0, Section 5).

    Notes
    -----
    OCP MX v1.0 (Section 6.3) converts a block ``V`` of 32 values as:

    1. ``shared_exp = floor(log2(max_i |V_i|)) - emax_elem``, limited here to
       E8M0's exponents ``-127..127`` (a block of zeros takes ``-127``);
    2. ``X = 2**shared_exp``, stored as the E8M0 code ``shared_exp + 127``;
    3. ``P_i = quantize(V_i / X)`` in the element format, round to nearest
       even, values beyond the element's largest normal clamped to it.

    A weight reads back as ``element.table[P_i] * X``. A NaN scale (code
    255) makes its whole block NaN.
    """

    name: str
    element: TableEncoding
    scale: TableEncoding
    emax_elem: int
    block_size: int = 32

    def shared_exponent(self, amax: ArrayLike) -> np.ndarray:
        """``floor(log2(amax)) - emax_elem`` limited to ``-127..127`` (step 1 of the Notes), as int64."""
        amax = check_finite_values(amax, "amax")
        if np.any(amax < 0):
            raise ValueError("amax must be >= 0 (the largest magnitude of a block)")
        with np.errstate(divide="ignore"):
            exponent = np.floor(np.log2(np.where(amax > 0, amax, 2.0**-200))) - self.emax_elem
        return np.clip(exponent, -127, 127).astype(np.int64)

    def quantize(self, values: ArrayLike, *, return_clipped: bool = False):
        """Element codes and E8M0 scale codes of ``values`` in blocks along the last axis (Notes).

        Parameters
        ----------
        values : array_like, shape (..., m * block_size)
            Finite values; the last axis must be a multiple of ``block_size``.
        return_clipped : bool, optional
            Also return how many elements were clamped to the element's range.

        Returns
        -------
        codes : ndarray of int64, shape of ``values``
        scale_codes : ndarray of int64, shape (..., m)
        n_clipped : int
            Only if ``return_clipped``.
        """
        values = check_finite_values(values, "values")
        if values.ndim == 0 or values.shape[-1] % self.block_size:
            raise ValueError(f"values must have a last axis that is a multiple of block_size={self.block_size}, "
                             f"got shape {values.shape}")
        blocks = values.reshape(values.shape[:-1] + (-1, self.block_size))
        exponent = self.shared_exponent(np.max(np.abs(blocks), axis=-1))
        codes, n_clipped = self.element.encode(np.ldexp(blocks, -exponent[..., None]), return_clipped=True)
        codes = codes.reshape(values.shape)
        scale_codes = exponent + 127
        return (codes, scale_codes, n_clipped) if return_clipped else (codes, scale_codes)

    def dequantize(self, codes: ArrayLike, scale_codes: ArrayLike) -> np.ndarray:
        """``element.table[codes] * scale.table[scale_codes]`` block by block (float64)."""
        codes = np.asarray(self.element.check_code(codes))
        scale_codes = np.asarray(self.scale.check_code(scale_codes))
        blocks = self.element.table[codes].reshape(codes.shape[:-1] + (-1, self.block_size))
        return (blocks * self.scale.table[scale_codes][..., None]).reshape(codes.shape)


#: The MX formats by name: name -> (element bits, emax_elem) (OCP MX v1.0 Table 1).
MX_FORMATS = {
    "mxfp8_e4m3": (8, 8),
    "mxfp8_e5m2": (8, 15),
    "mxfp6_e2m3": (6, 2),
    "mxfp6_e3m2": (6, 4),
    "mxfp4": (4, 2),
    "mxint8": (8, 0),
}


def mx_format(name: str) -> MXFormat:
    """The OCP MX format ``name`` (one of :data:`MX_FORMATS`): element, E8M0 scale, block size 32.

    Examples
    --------
    >>> from qtaml_theory.float_formats import mx_format
    >>> fmt = mx_format("mxfp4")
    >>> fmt.block_size, fmt.emax_elem, fmt.element.max_finite, fmt.scale.name
    (32, 2, 6.0, 'e8m0')
    """
    if not isinstance(name, str) or name not in MX_FORMATS:
        raise ValueError(f"name must be one of {sorted(MX_FORMATS)}, got {name!r}")
    bits, emax = MX_FORMATS[name]
    return MXFormat(name, FLOAT_ENCODINGS[name](bits), FLOAT_ENCODINGS["e8m0"](8), emax)

