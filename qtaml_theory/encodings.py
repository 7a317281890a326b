"""Encodings of an n-bit code as a quantized weight (paper Section 3, A.1, A.8).

A code is an integer ``q = sum_i b_i 2**i`` in ``0..2**n - 1``; bit 0 is the
least significant. An encoding maps the code to a value in units of the
quantization step Delta (the stored weight is ``w = Delta * decode(q)``).

Four encodings are provided:

``offset_binary``
    The paper's grid ``w = Delta (q - 2**(n-1))``.
``offset_binary_symmetric``
    ``w = Delta (q - (2**n - 1)/2)``: a grid symmetric about zero, whose drift
    has no ``-p Delta`` offset.
``twos_complement``
    Bit ``n-1`` carries weight ``-2**(n-1)``, the others ``2**i``.
``sign_magnitude``
    Bit ``n-1`` is the sign, bits ``0..n-2`` the magnitude.

The first three are *linear*: ``decode(q) = offset + sum_i b_i c_i`` with bit
weights ``c_i``, so a flip of bit ``i`` moves the value by ``s_i c_i`` with
``s_i = 1 - 2 b_i``. Sign-magnitude is not linear: a sign flip multiplies the
value by ``-1``.

Examples
--------
>>> from qtaml_theory import get_encoding
>>> enc = get_encoding("offset_binary", 4)
>>> enc.decode(0), enc.decode(15)
(-8, 7)
>>> enc.encode([-9.2, 0.4, 3.5], return_clipped=True)
(array([ 0,  8, 12]), 1)
"""

from __future__ import annotations

import numbers
from fractions import Fraction
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from ._deprecation import renamed_argument
from .validation import check_bits, check_codes, check_finite_values

if TYPE_CHECKING:  # imported when first needed, for the symbolic forms only
    import sympy

__all__ = [
    "Encoding",
    "LinearEncoding",
    "OffsetBinary",
    "OffsetBinarySymmetric",
    "TwosComplement",
    "SignMagnitude",
    "ENCODINGS",
    "get_encoding",
]


class Encoding:
    """An n-bit code-to-value map (values in units of Delta).

    Parameters
    ----------
    n_bits : int
        Number of bits, ``1 <= n_bits <= 32`` (the former keyword ``n=``
        still works, with a DeprecationWarning). Kept as :attr:`n`, also
        readable as :attr:`n_bits`.
    """

    name = ""
    is_linear = False

    @renamed_argument("n", "n_bits")
    def __init__(self, n_bits: numbers.Integral) -> None:
        self.n = check_bits(n_bits)

    def __repr__(self) -> str:
        return f"get_encoding({self.name!r}, {self.n})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.n == self.n

    def __hash__(self) -> int:
        return hash((self.name, self.n))

    @property
    def n_bits(self) -> int:
        """Number of bits of a code (the same as :attr:`n`)."""
        return self.n

    @property
    def n_codes(self) -> int:
        """Number of codes, ``2**n``."""
        return 1 << self.n

    def check_code(self, code: ArrayLike, name: str = "code") -> int | np.ndarray:
        """Validate ``code`` (int or integer array) against ``0..2**n - 1``."""
        return check_codes(code, self.n, name)

    def bits(self, code: ArrayLike) -> np.ndarray:
        """Bits ``b_i`` of ``code`` along a new last axis (bit 0 first)."""
        code = np.asarray(self.check_code(code))
        return (code[..., None] >> np.arange(self.n)) & 1

    def decode(self, code: ArrayLike) -> int | Fraction | np.ndarray:
        """Value of ``code`` in units of Delta.

        Parameters
        ----------
        code : int or array_like of int
            Codes in ``0..2**n - 1``.

        Returns
        -------
        int, Fraction or ndarray
            An exact ``int`` (``Fraction`` for half-integer grids) for a scalar
            code; a ``float64`` array for an array of codes.
        """
        code = self.check_code(code)
        if isinstance(code, int):
            return self._decode_exact(code)
        return self._decode_array(code)

    def encode(self, value: ArrayLike, *, return_clipped: bool = False) -> int | np.ndarray | tuple[int | np.ndarray, int]:
        """Nearest code to ``value`` (units of Delta), clipping to the range.

        Rounding is to the nearest grid point, ties to even (``numpy.rint``).
        Values beyond the representable range are clipped to the end codes.

        Parameters
        ----------
        value : float or array_like
            Finite values in units of Delta.
        return_clipped : bool, optional
            Also return how many values lay outside the range and were clipped.

        Returns
        -------
        code : int or ndarray of int64
        n_clipped : int
            Only if ``return_clipped``.
        """
        scalar = np.ndim(value) == 0
        values = check_finite_values(value, "value")
        codes, clipped = self._encode_array(values)
        codes = int(codes) if scalar else codes
        n_clipped = int(np.count_nonzero(clipped))
        return (codes, n_clipped) if return_clipped else codes

    @property
    def min_value(self) -> int | Fraction:
        """Smallest representable value, in units of Delta."""
        return min(self._decode_exact(c) for c in self._extreme_codes())

    @property
    def max_value(self) -> int | Fraction:
        """Largest representable value, in units of Delta."""
        return max(self._decode_exact(c) for c in self._extreme_codes())

    def _extreme_codes(self):
        top = self.n_codes - 1
        half = 1 << (self.n - 1)
        return (0, top, half - 1, half)


class LinearEncoding(Encoding):
    """An encoding with ``decode(q) = offset + sum_i b_i c_i``.

    Subclasses define :meth:`symbolic_weight` and :meth:`symbolic_offset`
    (SymPy expressions in the bit index ``i`` and width ``n``); the numeric
    :attr:`bit_weights` and :attr:`offset` are evaluated from them, so the
    derivations in :mod:`qtaml_theory.derive` and the run-time code share one
    definition.
    """

    is_linear = True

    @renamed_argument("n", "n_bits")
    def __init__(self, n_bits: numbers.Integral) -> None:
        super().__init__(n_bits)
        import sympy

        i, n_sym = sympy.symbols("i n", integer=True, nonnegative=True)
        weight = sympy.sympify(self.symbolic_weight(i, n_sym)).subs(n_sym, self.n)
        self.bit_weights = tuple(int(weight.subs(i, k)) for k in range(self.n))
        offset = sympy.Rational(sympy.sympify(self.symbolic_offset(n_sym)).subs(n_sym, self.n))
        self.offset = int(offset) if offset.q == 1 else Fraction(int(offset.p), int(offset.q))
        self._weights_array = np.array(self.bit_weights, dtype=np.float64)

    @staticmethod
    def symbolic_weight(i: sympy.Expr, n: sympy.Expr) -> sympy.Expr:
        """Bit weight ``c_i`` as a SymPy expression (``i`` in ``0..n-1``)."""
        raise NotImplementedError

    @staticmethod
    def symbolic_offset(n: sympy.Expr) -> sympy.Expr:
        """Value of code 0 as a SymPy expression in ``n``."""
        raise NotImplementedError

    def _decode_exact(self, code):
        total = self.offset + sum(c for k, c in enumerate(self.bit_weights) if code >> k & 1)
        return total

    def _decode_array(self, code):
        return float(self.offset) + self.bits(code) @ self._weights_array


class OffsetBinary(LinearEncoding):
    """The paper's offset binary: ``w = Delta (q - 2**(n-1))`` (Section 3)."""

    name = "offset_binary"

    @staticmethod
    def symbolic_weight(i: sympy.Expr, n: sympy.Expr) -> sympy.Expr:
        return 2**i

    @staticmethod
    def symbolic_offset(n: sympy.Expr) -> sympy.Expr:
        return -(2 ** (n - 1))

    def _encode_array(self, values):
        return _encode_shifted(values, self.n, 1 << (self.n - 1))


class OffsetBinarySymmetric(LinearEncoding):
    """Offset binary on a half-integer grid: ``w = Delta (q - (2**n - 1)/2)``.

    The grid is symmetric about zero (no zero level), which removes the
    ``-p Delta`` term of the offset-binary drift exactly (THEORY.md, A.1).
    """

    name = "offset_binary_symmetric"

    @staticmethod
    def symbolic_weight(i: sympy.Expr, n: sympy.Expr) -> sympy.Expr:
        return 2**i

    @staticmethod
    def symbolic_offset(n: sympy.Expr) -> sympy.Expr:
        import sympy

        return -(2**n - 1) * sympy.Rational(1, 2)

    def _encode_array(self, values):
        # q = rint(v + (2**n - 1)/2) = rint(v - 1/2) + 2**(n-1), exact in float64.
        top = self.n_codes - 1
        raw = np.rint(values - 0.5) + (1 << (self.n - 1))
        clipped = (raw < 0) | (raw > top)
        return np.clip(raw, 0, top).astype(np.int64), clipped


class TwosComplement(LinearEncoding):
    """Two's complement: ``c_{n-1} = -2**(n-1)``, ``c_i = 2**i`` otherwise (A.8)."""

    name = "twos_complement"

    @staticmethod
    def symbolic_weight(i: sympy.Expr, n: sympy.Expr) -> sympy.Expr:
        import sympy

        return sympy.Piecewise((-(2 ** (n - 1)), sympy.Eq(i, n - 1)), (2**i, True))

    @staticmethod
    def symbolic_offset(n: sympy.Expr) -> sympy.Expr:
        return 0

    def _encode_array(self, values):
        shifted, clipped = _encode_shifted(values, self.n, 1 << (self.n - 1))
        # shifted = signed + 2**(n-1); the two's-complement code is signed mod 2**n.
        return (shifted - (1 << (self.n - 1))) % self.n_codes, clipped


class SignMagnitude(Encoding):
    """Sign-magnitude: bit ``n-1`` is the sign, bits ``0..n-2`` the magnitude (A.8).

    ``decode(q) = (-1)**b_{n-1} * sum_{i<n-1} b_i 2**i``. Both zero codes decode
    to 0; :meth:`encode` stores zero with a clear sign bit. ``bit_weights``
    holds the magnitude weights ``2**i`` (length ``n - 1``); the sign bit is
    :attr:`sign_bit`.
    """

    name = "sign_magnitude"

    @renamed_argument("n", "n_bits")
    def __init__(self, n_bits: numbers.Integral) -> None:
        super().__init__(n_bits)
        self.sign_bit = self.n - 1
        self.bit_weights = tuple(1 << k for k in range(self.n - 1))

    def _decode_exact(self, code):
        magnitude = code & ((1 << self.sign_bit) - 1)
        return -magnitude if code >> self.sign_bit & 1 else magnitude

    def _decode_array(self, code):
        magnitude = (code & ((1 << self.sign_bit) - 1)).astype(np.float64)
        return np.where(code >> self.sign_bit & 1, -magnitude, magnitude)

    def _encode_array(self, values):
        top = (1 << self.sign_bit) - 1
        magnitude = np.rint(np.abs(values))
        clipped = magnitude > top
        magnitude = np.minimum(magnitude, top).astype(np.int64)
        negative = (values < 0) & (magnitude > 0)
        return magnitude | (negative.astype(np.int64) << self.sign_bit), clipped


def _encode_shifted(values, n, shift):
    """Codes ``rint(v) + shift`` clipped to ``0..2**n - 1``, and the clip mask."""
    top = (1 << n) - 1
    raw = np.rint(values) + shift
    clipped = (raw < 0) | (raw > top)
    return np.clip(raw, 0, top).astype(np.int64), clipped


#: The encodings by name (:func:`get_encoding`'s ``name``): name -> class.
ENCODINGS = {
    cls.name: cls for cls in (OffsetBinary, OffsetBinarySymmetric, TwosComplement, SignMagnitude)
}


@renamed_argument("n", "n_bits")
def get_encoding(name: str, n_bits: numbers.Integral) -> Encoding:
    """The encoding called ``name`` at ``n_bits`` bits.

    Parameters
    ----------
    name : str
        One of ``"offset_binary"``, ``"offset_binary_symmetric"``,
        ``"twos_complement"``, ``"sign_magnitude"``, or a floating-point or
        microscaling format of :data:`qtaml_theory.float_formats.FLOAT_ENCODINGS`
        (``"float16"``, ``"bfloat16"``, ``"float8_e4m3fn"``, ...), whose
        width is fixed.
    n_bits : int
        Number of bits, ``1 <= n_bits <= 32`` (exactly the format's width
        for a float format). The former keyword ``n=`` still works, with a
        DeprecationWarning.

    Returns
    -------
    Encoding
    """
    from .float_formats import FLOAT_ENCODINGS

    if isinstance(name, str) and name in FLOAT_ENCODINGS:
        return FLOAT_ENCODINGS[name](n_bits)
    if not isinstance(name, str) or name not in ENCODINGS:
        raise ValueError(f"name must be one of {sorted(ENCODINGS) + sorted(FLOAT_ENCODINGS)}, got {name!r}")
    if isinstance(n_bits, numbers.Integral) and not isinstance(n_bits, bool):
        n_bits = int(n_bits)
    return ENCODINGS[name](n_bits)
