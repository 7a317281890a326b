"""SymPy derivations of the float laws' closed forms (issue 15; :mod:`qtaml_theory.float_law`).

A float's read-back is not linear in its bits, but three parts of its law
have closed forms, derived here and evaluated at run time through
:func:`sympy.lambdify` (:func:`numeric`):

* a bit reads back as 1 with ``q = b (1 - pi) + (1 - b) pi``; a code is not
  finite exactly when its non-finite positions all read 1, so the
  probability of a non-finite read-back is the product of their ``q``;
* the sign bit is independent of the magnitude bits, so the sign's share of
  the drift is ``-2 r w`` for every float format
  (:func:`sign_flip_drift`, from the sign-magnitude mixture of A.8);
* an exponent bit ``j`` holding ``b`` multiplies a normal value by
  ``2**((1 - 2b) 2**j)`` when it flips, so under flips of the exponent bits
  alone the read-back's ``k``-th moment about zero is the stored value's
  times a product over the exponent bits
  (:func:`exponent_bit_factor`), corrected at the two special exponents.
"""

from __future__ import annotations

import functools

import sympy as sp

from ._derive_sign_magnitude import sign_mixture_error_mean
from ._derive_symbols import drift, m0, pi, sigma, w

__all__ = ["bit", "order", "position", "read_one_probability", "sign_flip_drift", "exponent_bit_factor",
           "exponent_flip_error", "scaled_raw_moments", "numeric", "ELEMENT_MOMENTS", "SCALE_MOMENTS"]

#: The stored bit (0 or 1), the moment's order and the exponent bit's position within the exponent field.
bit = sp.Symbol("b", integer=True, nonnegative=True)
order = sp.Symbol("k", integer=True, nonnegative=True)
position = sp.Symbol("j", integer=True, nonnegative=True)
value = sp.Symbol("v", real=True)
#: The stored element ``x`` and scale ``s`` of a scaled weight ``w = x s``, and the raw moments
#: ``E[e_x**m]``, ``E[e_s**m]`` (``m = 1..4``) of their read-back errors.
element, scale = sp.symbols("x s", real=True)
ELEMENT_MOMENTS = sp.symbols("ex1:5", real=True)
SCALE_MOMENTS = sp.symbols("es1:5", real=True)


def read_one_probability() -> sp.Expr:
    """``P(bit reads 1) = b (1 - pi) + (1 - b) pi`` for a bit storing ``b`` that flips with ``pi``."""
    return bit * (1 - pi) + (1 - bit) * pi


def sign_flip_drift() -> sp.Expr:
    """The drift of a float whose magnitude reads back unchanged: ``-2 r w`` (A.8's mixture with no magnitude drift)."""
    return sp.expand(sign_mixture_error_mean().subs(drift, 0).subs(m0, w / sigma))


def exponent_bit_factor() -> sp.Expr:
    """``E[2**(k (e' - e))]`` contributed by exponent bit ``j`` storing ``b``: ``(1 - pi) + pi 2**(k (1 - 2b) 2**j)``.

    The exponent field is ``e = sum_j b_j 2**j``; a flip of bit ``j`` moves it
    by ``(1 - 2 b_j) 2**j``, and the bits flip independently, so
    ``E[2**(k (e' - e))]`` is the product of these factors over the bits.
    """
    return (1 - pi) + pi * sp.Integer(2) ** (order * (1 - 2 * bit) * 2**position)


def exponent_flip_error() -> sp.Expr:
    """Error of a normal value ``v`` when exponent bit ``j`` storing ``b`` flips (the result normal): ``v (2**((1-2b) 2**j) - 1)``."""
    return value * (sp.Integer(2) ** ((1 - 2 * bit) * 2**position) - 1)


def scaled_raw_moments() -> tuple[sp.Expr, ...]:
    """``E[e**m]`` (``m = 1..4``) of a scaled weight's error ``e = x' s' - x s`` from the parts' raw moments.

    With ``e_x = x' - x`` and ``e_s = s' - s`` independent (the element and
    its scale are stored in different cells), ``e = e_x (s + e_s) + x e_s``;
    each monomial ``e_x**a e_s**b`` of ``e**m`` has the expectation
    ``E[e_x**a] E[e_s**b]``. No moment of the stored value is subtracted, so
    nothing cancels when flips are rare.
    """
    ex, es = sp.symbols("e_x e_s", real=True)
    error = ex * (scale + es) + element * es
    moments = []
    for m in range(1, 5):
        poly = sp.Poly(sp.expand(error**m), ex, es)
        moments.append(sum(coeff * (ELEMENT_MOMENTS[a - 1] if a else 1) * (SCALE_MOMENTS[b - 1] if b else 1)
                           for (a, b), coeff in poly.terms()))
    return tuple(moments)


@functools.cache
def numeric(name: str):
    """The closed form ``name`` of this module as a NumPy function of its free symbols, in a fixed order.

    ``"read_one_probability"``: ``f(b, pi)``; ``"exponent_bit_factor"``: ``f(k, j, b, pi)``;
    ``"scaled_raw_moments"``: ``f(x, s, ex1..ex4, es1..es4)`` returning the four moments.
    """
    forms = {"read_one_probability": (read_one_probability, (bit, pi)),
             "exponent_bit_factor": (exponent_bit_factor, (order, position, bit, pi)),
             "scaled_raw_moments": (scaled_raw_moments, (element, scale, *ELEMENT_MOMENTS, *SCALE_MOMENTS))}
    derivation, symbols = forms[name]
    return sp.lambdify(symbols, derivation(), "numpy")

