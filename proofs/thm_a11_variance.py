"""Theorem A.11: Var[delta | w] = Delta^2 p (1 - p) (4^n - 1) / 3, the same for every stored value.

Run ``python proofs/thm_a11_variance.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, bernoulli_cumulant, i, n, p, pi
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Thm A.11", "Var[delta | w] = Delta^2 p (1 - p) (4^n - 1) / 3")
    bit, sign = sp.symbols("beta s_i")
    for value in (0, 1):
        d.step(f"s_i^2 = (1 - 2 b_i)^2 = 1 for b_i = {value}", ((1 - 2 * bit) ** 2).subs(bit, value), 1)
    kappa2 = d.step(
        "second cumulant (Thm 3.1): Delta^2 sum_i (s_i 2^i)^2 kappa_2(p), and s_i^2 = 1",
        Delta**2 * sp.Sum(sp.expand((sign * 2**i) ** 2).subs(sign**2, 1) * bernoulli_cumulant(2).subs(pi, p),
                          (i, 0, n - 1)),
        Delta**2 * p * (1 - p) * sp.Sum(4**i, (i, 0, n - 1)),
    )
    kappa2 = d.step("geometric series: sum_{i<n} 4^i = (4^n - 1)/3", kappa2, Delta**2 * p * (1 - p) * (4**n - 1) / 3)
    d.step("agrees with qtaml_theory.derive.variance() (no dependence on w)", derive.variance(), kappa2)
    d.step("the variance does not depend on the stored value w", sp.diff(derive.variance(), derive.w), 0)
    return d


if __name__ == "__main__":
    run(derivation())
