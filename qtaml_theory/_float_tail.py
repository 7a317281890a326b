"""Exact absolute moments of a float's read-back over every flip mask, for the truncation bound (issue 15).

A float's magnitude is a function of two fields that flip independently:
the exponent ``e'`` and the mantissa ``m'``. On every exponent row but the
special ones (subnormals, and infinities/NaNs) the value factors as
``T[e', m'] = T[e', 0] * T[1, m'] / T[1, 0]``, so

``E[|v'|**j] = sum_{e' regular} P(e') T[e', 0]**j * E[(T[1, m'] / T[1, 0])**j]
+ sum_{e' special} P(e') E[|T[e', m']|**j]``,

``O(2**e + 2**m)`` per code instead of ``2**(e + m)``. Every term is
non-negative, so the sum has no cancellation; the part of it that the
truncated law did not sum is what its bound needs
(:func:`qtaml_theory._law_float.unit_law`).
"""

from __future__ import annotations

import numpy as np

from ._derive_float import numeric

__all__ = ["separable_rows", "absolute_moments"]

#: Codes per chunk (each holds a row of ``2**m`` mantissa probabilities).
_ROWS = 2048


def separable_rows(grid, counted):
    """Which exponent rows of ``grid[e', m']`` factor as ``grid[e', 0] * ratio[m']`` (and are all counted)."""
    ratio = grid[1] / grid[1, 0]
    return ratio, np.all(grid == grid[:, :1] * ratio, axis=1) & np.all(counted == 1, axis=1)


def field_probabilities(read_one):
    """``P(field reads x)`` for every value ``x`` of a field whose bit ``j`` reads 1 with ``read_one[..., j]``."""
    probabilities = np.ones(read_one.shape[:-1] + (1,))
    for j in range(read_one.shape[-1]):
        one = read_one[..., j:j + 1]
        probabilities = np.concatenate([probabilities * (1 - one), probabilities * one], axis=-1)
    return probabilities


def absolute_moments(values, counted, body_codes, rates, mantissa_width):
    """``E[|v'|**j * counted]`` for ``j = 0..4`` over every mask (shape (5, C)), or None if the rows do not factor.

    ``values`` and ``counted`` are the body's value table (code ``e' << m | m'``)
    and which reads count; ``rates`` the body bits' flip rates per code.
    """
    width = rates.shape[-1]
    if mantissa_width >= width:
        return None
    shape = (1 << (width - mantissa_width), 1 << mantissa_width)
    grid, counted = np.abs(values).reshape(shape), counted.reshape(shape)
    if not grid[1, 0] > 0:
        return None
    ratio, regular = separable_rows(grid, counted)
    special = np.flatnonzero(~regular)
    bits = (body_codes[:, None] >> np.arange(width)) & 1
    read_one = numeric("read_one_probability")(bits, rates)
    out = np.empty((5, body_codes.size))
    for start in range(0, body_codes.size, _ROWS):
        part = slice(start, start + _ROWS)
        mantissa = field_probabilities(read_one[part, :mantissa_width])
        exponent = field_probabilities(read_one[part, mantissa_width:])
        for j in range(5):
            total = (np.einsum("ij,j->i", exponent, np.where(regular, grid[:, 0] ** j, 0.0))
                     * np.einsum("ij,j->i", mantissa, ratio**j))
            for row in special:
                total = total + exponent[:, row] * np.einsum("ij,j->i", mantissa, grid[row] ** j * counted[row])
            out[j, part] = total
    return out
