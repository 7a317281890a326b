"""SymPy derivations of what real codes leave (issue: real error-correcting codes).

Every stored bit of a codeword flips independently with probability ``p``.
The closed forms here are the ones that exist; the exact residual law of the
general block codes is computed by :mod:`qtaml_theory.ecc.residual`, and the
tests hold it against these forms exactly (Fractions) where they apply:

* repetition with majority vote over ``c`` copies: a bit reads wrong when
  more than half its copies flip, ``sum_{j > c/2} C(c, j) p**j (1-p)**(c-j)``
  (``3 p**2 - 2 p**3`` for ``c = 3``), below ``p`` for every ``0 < p < 1/2``;
* a single parity bit over ``L`` stored bits with zeroing: a word is refused
  when an odd number of its bits flip, ``(1 - (1 - 2p)**L) / 2``, and a data
  bit reads wrong and is accepted with probability ``p (1 - (1 - 2p)**(L-1)) / 2``;
* the single-error-correcting part of SEC-DED over ``L`` bits: a word decodes
  correctly when at most one bit flips, ``(1-p)**L + L p (1-p)**(L-1)``, so it
  fails with probability ``C(L, 2) p**2 + O(p**3)`` (2556 p**2 for (72,64));
  a data bit reads wrong with probability ``(L - 1) p**2 + O(p**3)`` when
  failures keep the data as read (a double error is detected and passed on),
  and ``O(p**3)`` when they zero it (only miscorrected triples are left).

Proofs: ``proofs/real_codes.py``.
"""

from __future__ import annotations

import sympy as sp

__all__ = [
    "p",
    "majority_flip_probability",
    "parity_detection_probability",
    "parity_accepted_flip_probability",
    "single_error_decoding_probability",
    "secded_residual_leading",
]

#: The flip probability of every stored bit of a codeword.
p = sp.Symbol("p", nonnegative=True)


def majority_flip_probability(copies: int) -> sp.Expr:
    """``P(more than copies // 2 of copies flip)``: the residual rate of a bit under majority vote, expanded."""
    return sp.expand(sum(sp.binomial(copies, j) * p**j * (1 - p) ** (copies - j)
                         for j in range(copies // 2 + 1, copies + 1)))


def parity_detection_probability(length: sp.Expr) -> sp.Expr:
    """``P(an odd number of length bits flip)`` = ``(1 - (1 - 2p)**length) / 2`` (generating function at -1)."""
    return (1 - (1 - 2 * p) ** length) / 2


def parity_accepted_flip_probability(length: sp.Expr) -> sp.Expr:
    """``P(a given bit flips and the word's parity still checks)``: the bit and an odd number of the others."""
    return p * parity_detection_probability(length - 1)


def single_error_decoding_probability(length: sp.Expr) -> sp.Expr:
    """``P(at most one of length bits flips)``: a single-error-correcting decoder reads the word right."""
    return (1 - p) ** length + length * p * (1 - p) ** (length - 1)


def secded_residual_leading(length: sp.Expr) -> sp.Expr:
    """Leading term of a data bit's residual rate under SEC-DED keeping failed words: ``(length - 1) p**2``."""
    return (length - 1) * p**2
