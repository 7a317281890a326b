"""Argument checks shared by the public constructors.

Every check raises :class:`ValueError` naming the argument and the allowed
range; none of them clips or rounds silently.
"""

from __future__ import annotations

import math
import numbers
from fractions import Fraction

import numpy as np

MAX_BITS = 32


def check_bits(n, name="n"):
    """Return ``n`` as an int in ``1..MAX_BITS`` or raise ``ValueError``."""
    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise ValueError(f"{name} must be an integer in 1..{MAX_BITS}, got {n!r}")
    n = int(n)
    if not 1 <= n <= MAX_BITS:
        raise ValueError(f"{name} must be an integer in 1..{MAX_BITS}, got {n}")
    return n


def as_rate(value, name="p"):
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


def as_scale(value, name="delta"):
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


def check_codes(code, n, name="code"):
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


def check_finite_values(values, name="value"):
    """Return ``values`` as a float64 array, refusing NaN and infinities."""
    array = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite (no NaN or infinity)")
    return array
