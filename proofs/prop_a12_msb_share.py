"""Proposition A.12: the MSB carries 3 * 4^(n-1) / (4^n - 1) of the variance, tending to 3/4.

Run ``python proofs/prop_a12_msb_share.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, n, p
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Prop A.12", "MSB share of the variance 3 * 4^(n-1) / (4^n - 1) -> 3/4")
    msb = Delta**2 * p * (1 - p) * 4 ** (n - 1)
    share = d.step(
        "the MSB term Delta^2 p(1-p) 4^(n-1) over Var (Thm A.11)",
        msb / (Delta**2 * p * (1 - p) * (4**n - 1) / 3),
        3 * 4 ** (n - 1) / (4**n - 1),
    )
    d.step("agrees with qtaml_theory.derive.msb_variance_share()", derive.msb_variance_share(), share)
    d.step("limit n -> oo", sp.limit(share, n, sp.oo), sp.Rational(3, 4))
    d.step("n = 1: a single bit carries everything", share.subs(n, 1), 1)
    d.step("n = 8", share.subs(n, 8), sp.Rational(3 * 4**7, 4**8 - 1))
    return d


if __name__ == "__main__":
    run(derivation())
