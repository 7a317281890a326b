"""Lemma 4.2: with the top k bits protected, Var = Delta^2 p (1 - p) (4^(n-k) - 1) / 3.

Run ``python proofs/lemma_4_2_protected_variance.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, i, k, n, p
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Lemma 4.2", "per-weight variance with the top k bits protected")
    exposed = d.step("only bits 0..n-k-1 flip: Delta^2 p(1-p) sum_{i<n-k} 4^i",
                     Delta**2 * p * (1 - p) * sp.Sum(4**i, (i, 0, n - k - 1)),
                     Delta**2 * p * (1 - p) * (4 ** (n - k) - 1) / 3)
    d.step("agrees with derive.variance_protected()", derive.variance_protected(), exposed)
    d.step("k = 0 is Thm A.11", exposed.subs(k, 0), derive.variance())
    d.step("k = n: nothing flips", exposed.subs(k, n), 0)
    d.step("each protected bit divides the leading term by 4",
           sp.expand(Delta**2 * p * (1 - p) * 4 ** (n - k) / 3 / (Delta**2 * p * (1 - p) * 4 ** (n - k - 1) / 3)), 4)
    return d


if __name__ == "__main__":
    run(derivation())
