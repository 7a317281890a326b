"""Arithmetic in GF(2^m) and the generator polynomials of binary BCH codes.

Polynomials over GF(2) are Python integers, bit ``i`` the coefficient of
``x**i``. The field GF(2^m) is built on the primitive polynomial
:data:`PRIMITIVE_POLYNOMIALS` ``[m]`` (Lin and Costello, *Error Control
Coding*, 2nd ed., Table 2.7: the first primitive polynomial listed for each
degree); ``alpha`` is the class of ``x``.
"""

from __future__ import annotations

from functools import cache

__all__ = ["PRIMITIVE_POLYNOMIALS", "Field", "bch_check_bits", "bch_generator", "polynomial_remainder"]

#: Primitive polynomial of each degree m (bit i = coefficient of x**i).
PRIMITIVE_POLYNOMIALS = {
    3: 0b1011,                   # x^3 + x + 1
    4: 0b10011,                  # x^4 + x + 1
    5: 0b100101,                 # x^5 + x^2 + 1
    6: 0b1000011,                # x^6 + x + 1
    7: 0b10001001,               # x^7 + x^3 + 1
    8: 0b100011101,              # x^8 + x^4 + x^3 + x^2 + 1
    9: 0b1000010001,             # x^9 + x^4 + 1
    10: 0b10000001001,           # x^10 + x^3 + 1
    11: 0b100000000101,          # x^11 + x^2 + 1
    12: 0b1000001010011,         # x^12 + x^6 + x^4 + x + 1
    13: 0b10000000011011,        # x^13 + x^4 + x^3 + x + 1
}


class Field:
    """GF(2^m) by exponent and logarithm tables of its primitive element ``alpha``.

    Parameters
    ----------
    m : int
        Degree of the extension, a key of :data:`PRIMITIVE_POLYNOMIALS`.
    """

    def __init__(self, m: int):
        self.m = m
        self.order = (1 << m) - 1
        self.polynomial = PRIMITIVE_POLYNOMIALS[m]
        exp = [0] * (2 * self.order)
        value = 1
        for i in range(self.order):
            exp[i] = exp[i + self.order] = value
            value <<= 1
            if value >> m:
                value ^= self.polynomial
        self.exp = exp
        self.logs = {value: i for i, value in enumerate(exp[: self.order])}

    def power(self, i: int) -> int:
        """``alpha**i`` as an m-bit integer."""
        return self.exp[i % self.order]

    def minimal_polynomial(self, i: int) -> int:
        """The minimal polynomial over GF(2) of ``alpha**i``: the product of ``x - beta`` over its conjugates."""
        conjugates, j = [], i % self.order
        while j not in conjugates:
            conjugates.append(j)
            j = 2 * j % self.order
        coefficients = [1]  # over GF(2^m), lowest degree first
        for j in conjugates:
            root = self.power(j)
            shifted = [0] + coefficients
            for d, c in enumerate(coefficients):
                shifted[d] ^= self._multiply(c, root)
            coefficients = shifted
        if any(c > 1 for c in coefficients):
            raise ArithmeticError(f"the minimal polynomial of alpha^{i} is not binary")
        return sum(c << d for d, c in enumerate(coefficients))

    def _multiply(self, a, b):
        if a == 0 or b == 0:
            return 0
        return self.exp[self.logs[a] + self.logs[b]]


def _multiply_binary(a: int, b: int) -> int:
    product = 0
    while b:
        if b & 1:
            product ^= a
        a <<= 1
        b >>= 1
    return product


def polynomial_remainder(dividend: int, divisor: int) -> int:
    """``dividend mod divisor`` over GF(2)."""
    degree = divisor.bit_length() - 1
    while dividend.bit_length() - 1 >= degree:
        dividend ^= divisor << (dividend.bit_length() - 1 - degree)
    return dividend


@cache
def bch_check_bits(m: int, t: int) -> int:
    """Degree of :func:`bch_generator` ``(m, t)``, its check bits, without building it.

    The generator's roots are the conjugates of ``alpha**1 .. alpha**(2t)``:
    the union of their cyclotomic cosets ``{i 2**j mod (2**m - 1)}``, one root
    each (Lin and Costello, Section 6.1).
    """
    order, roots = (1 << m) - 1, set()
    for i in range(1, 2 * t + 1):
        j = i % order
        while j not in roots:
            roots.add(j)
            j = 2 * j % order
    return len(roots)


@cache
def bch_generator(m: int, t: int) -> int:
    """Generator of the narrow-sense binary BCH code of length ``2**m - 1`` correcting ``t`` errors.

    The least common multiple of the minimal polynomials of ``alpha**1 ..
    alpha**(2t)`` (each distinct minimal polynomial once). For ``t = 1`` it
    is the primitive polynomial: the cyclic Hamming code.
    """
    field = Field(m)
    factors = []
    for i in range(1, 2 * t + 1):
        factor = field.minimal_polynomial(i)
        if factor not in factors:
            factors.append(factor)
    generator = 1
    for factor in factors:
        generator = _multiply_binary(generator, factor)
    return generator
