"""Argument checks shared by :mod:`qtaml_theory` and :mod:`qtaml_tac`: one check per kind.

Every check raises :class:`ValueError` naming the argument and the allowed
range; none of them clips or rounds silently.

Scalars that keep exact arithmetic (ints, Fractions and SymPy Rationals stay
exact, floats stay floats):

- :func:`check_bits`: a bit width in ``1..MAX_BITS``;
- :func:`as_rate`: a flip probability in ``[0, 1]`` (Section 3);
- :func:`as_scale`: a positive quantization step ``Delta``.

Arrays, returned as float64 (the device physics of Appendix A.1-A.2) or int64:

- :func:`check_finite_values`: no NaN or infinity;
- :func:`check_positive_values`: finite and ``> 0``, with the unit in the message;
- :func:`check_probability_values`: finite and in ``[0, 1]``;
- :func:`check_codes`: integer codes in ``0..2**n - 1``.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "MAX_BITS",
    "check_integer",
    "check_bits",
    "as_rate",
    "as_scale",
    "check_codes",
    "check_finite_values",
    "check_positive_values",
    "check_probability_values",
]

#: Widest code accepted, in bits (the widest weight format of the paper, 32-bit fixed point).
MAX_BITS = 32


def check_integer(value: numbers.Integral, name: str, low: int, high: int | None = None) -> int:
    """``value`` as an int in ``low..high`` (``high=None``: no upper bound), else ``ValueError`` naming ``name``.

    Python and NumPy integers pass; bools, floats (even integral ones) and
    strings do not: a count is never rounded.
    """
    allowed = f"an integer in {low}..{high}" if high is not None else f"an integer >= {low}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def check_bits(n: numbers.Integral, name: str = "n") -> int:
    """Return ``n`` as an int in ``1..MAX_BITS`` or raise ``ValueError``."""
    return check_integer(n, name, 1, MAX_BITS)


def as_rate(value: numbers.Real, name: str = "p") -> Fraction | float:
    """Return a flip probability as a Fraction (exact input) or float.

    Python ints, Fractions and SymPy Rationals become Fractions, so that exact
    input keeps exact arithmetic; floats stay floats. The value must be finite
    and lie in ``[0, 1]``.
    """
    exact = _as_exact_number(value)
    if exact is not None:
        rate = exact
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        rate = float(value)
        if not math.isfinite(rate):
            raise ValueError(f"{name} must be a finite probability in [0, 1], got {value!r}")
    else:
        raise ValueError(f"{name} must be a real number in [0, 1], got {value!r}")
    if not 0 <= rate <= 1:
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return rate


def as_scale(value: numbers.Real, name: str = "delta") -> Fraction | float:
    """Return a quantization step as a positive finite Fraction or float."""
    exact = _as_exact_number(value)
    if exact is not None:
        scale = exact
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        scale = float(value)
        if not math.isfinite(scale):
            raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    else:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    if not scale > 0:
        raise ValueError(f"{name} must be a finite positive number, got {value!r}")
    return scale


def _as_exact_number(value):
    """Fraction for ints, Fractions and SymPy Rationals; ``None`` otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (numbers.Integral, Fraction)):
        return Fraction(value)
    module = type(value).__module__
    if module.startswith("sympy"):
        import sympy

        if isinstance(value, sympy.Rational):
            return Fraction(int(value.p), int(value.q))
        if isinstance(value, sympy.Float):
            return None if not value.is_finite else float(value)
        raise ValueError(f"expected a number, got the symbolic expression {value!r}")
    return None


def check_codes(code: ArrayLike, n: int, name: str = "code") -> int | np.ndarray:
    """Validate integer codes in ``0..2**n - 1``.

    Returns a Python int for a scalar input and an ``int64`` array otherwise.
    Floats are refused even when integral: a code is an integer bit pattern.
    """
    top = (1 << n) - 1
    if isinstance(code, bool):
        raise ValueError(f"{name} must be an integer in 0..{top}, got {code!r}")
    if isinstance(code, numbers.Integral):
        code = int(code)
        if not 0 <= code <= top:
            raise ValueError(f"{name} must be an integer in 0..{top}, got {code}")
        return code
    array = np.asarray(code)
    if array.dtype == object or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integers in 0..{top}, got dtype {array.dtype}")
    if array.size and (array.min() < 0 or array.max() > top):
        raise ValueError(
            f"{name} must hold integers in 0..{top}, got values in "
            f"{array.min()}..{array.max()}"
        )
    return array.astype(np.int64)


def check_finite_values(values: ArrayLike, name: str = "value") -> np.ndarray:
    """Return ``values`` as a float64 array, refusing NaN and infinities."""
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return array


def check_positive_values(values: ArrayLike, name: str, unit: str = "") -> np.ndarray:
    """Return ``values`` as a finite float64 array, every entry ``> 0``.

    ``unit`` (such as ``" eV"``) follows the bound in the message:
    ``"barrier_ev must be > 0 eV, got ..."``.
    """
    array = check_finite_values(values, name)
    if np.any(array <= 0):
        raise ValueError(f"{name} must be > 0{unit}, got {values!r}")
    return array


def check_probability_values(values: ArrayLike, name: str) -> np.ndarray:
    """Return ``values`` as a finite float64 array, every entry in ``[0, 1]``.

    The array counterpart of :func:`as_rate` (which keeps one exact scalar).
    """
    array = check_finite_values(values, name)
    if np.any((array < 0) | (array > 1)):
        raise ValueError(f"{name} must lie in [0, 1], got {values!r}")
    return array
