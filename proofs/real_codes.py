"""Real codes: majority vote, parity with zeroing, and the single-error-correcting part of SEC-DED.

Each closed form of :mod:`qtaml_theory.code_derivations` is derived from the
binomial law of the flips of a codeword's stored bits; the exact residual law
of :mod:`qtaml_theory.ecc.residual` is then held against these forms exactly in
``tests/test_codes.py``. Run ``python proofs/real_codes.py`` to print the steps
(the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import code_derivations as codes
from qtaml_theory.code_derivations import p
from qtaml_theory.proof import Derivation, run

L = sp.Symbol("L", integer=True, positive=True)


def _binomial_sum(length, picks):
    return sum(sp.binomial(length, j) * p**j * (1 - p) ** (length - j) for j in picks)


def derivation():
    d = Derivation("Real codes", "majority vote, parity with zeroing, SEC-DED's single-error correction")
    three = d.step("three copies: a bit reads wrong when 2 or 3 copies flip", _binomial_sum(3, (2, 3)),
                   3 * p**2 - 2 * p**3)
    d.step("agrees with code_derivations.majority_flip_probability(3)", codes.majority_flip_probability(3), three)
    d.step("five copies: 3, 4 or 5 flips", codes.majority_flip_probability(5), 10 * p**3 - 15 * p**4 + 6 * p**5)
    d.step("the vote helps exactly below p = 1/2: p - (3p^2 - 2p^3) = p (1 - p) (1 - 2p)",
           p - three, p * (1 - p) * (1 - 2 * p))
    d.step("generating function: ((1-p) + p)^L - ((1-p) - p)^L keeps twice the odd terms",
           sp.expand(((1 - p) + p) ** L - ((1 - p) - p) ** L), sp.expand(1 - (1 - 2 * p) ** L))
    for length in (9, 13, 72):
        d.step(f"parity over {length} bits: P(odd flips) = (1 - (1-2p)^{length}) / 2",
               sp.expand(_binomial_sum(length, range(1, length + 1, 2))),
               sp.expand(codes.parity_detection_probability(length)))
    d.step("a data bit reads wrong and the parity checks: it flips and an odd number of the L-1 others",
           codes.parity_accepted_flip_probability(L), p * (1 - (1 - 2 * p) ** (L - 1)) / 2)
    correct = codes.single_error_decoding_probability(L)
    d.step("SEC decodes right on 0 or 1 flips", correct, (1 - p) ** L + L * p * (1 - p) ** (L - 1))
    for length in (13, 72):
        fails = sp.expand(1 - codes.single_error_decoding_probability(length))
        d.step(f"({length}) word: fails with C({length},2) p^2 + O(p^3)", fails.coeff(p, 2), sp.binomial(length, 2))
        d.step(f"({length}) word: no constant or linear failure term", fails.coeff(p, 0) + fails.coeff(p, 1), 0)
    d.step("(72,64) SEC-DED fails with 2556 p^2 to leading order", sp.binomial(72, 2), 2556)
    d.step("a data bit's residual under SEC-DED keeping failed words: it and one of the L-1 others flip",
           sp.expand(p * (L - 1) * p), codes.secded_residual_leading(L))
    return d


if __name__ == "__main__":
    run(derivation())
