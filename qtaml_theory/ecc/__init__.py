"""Binary error-correcting codes and the exact law of what their decoders leave (issue: real codes).

:mod:`~qtaml_theory.ecc.field` builds GF(2^m) and BCH generator polynomials,
:mod:`~qtaml_theory.ecc.linear` the codes (shortened BCH, SEC-DED extended
Hamming) with their encoders and syndrome-table decoders,
:mod:`~qtaml_theory.ecc.algebraic` the algebraic decoder of BCH codes too
large for a table (Berlekamp-Massey, Chien search), and
:mod:`~qtaml_theory.ecc.residual` the exact law of the decoded data bits.
The protection schemes of :mod:`qtaml_theory.protection` are built on them.
"""

from .linear import CLEAN, CORRECTED, DETECTED, SyndromeCode, bch_code, secded_code
from .residual import MAX_EXACT_SYNDROME_BITS, DecodedBits, decoded_bits

__all__ = ["SyndromeCode", "bch_code", "secded_code", "decoded_bits", "DecodedBits", "CLEAN", "CORRECTED",
           "DETECTED", "MAX_EXACT_SYNDROME_BITS"]
