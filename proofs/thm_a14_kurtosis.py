"""Theorem A.14: kappa_4 = Delta^4 p(1-p)(1 - 6p(1-p))(16^n - 1)/15; excess kurtosis ~ 1/p as p -> 0.

Run ``python proofs/thm_a14_kurtosis.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, bernoulli_cumulant, i, n, p, pi
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Thm A.14", "excess kurtosis -> (3/5)(1 - 6p(1-p)) / (p(1-p)) as n -> oo, ~ 1/p as p -> 0")
    d.step("kappa_4(p) = p(1-p)(1 - 6p(1-p))", bernoulli_cumulant(4).subs(pi, p), p * (1 - p) * (1 - 6 * p * (1 - p)))
    kappa4 = d.step(
        "fourth cumulant (Thm 3.1): s_i^4 = 1, so Delta^4 kappa_4(p) sum_i 16^i",
        Delta**4 * bernoulli_cumulant(4).subs(pi, p) * sp.Sum(16**i, (i, 0, n - 1)),
        Delta**4 * p * (1 - p) * (1 - 6 * p * (1 - p)) * (16**n - 1) / 15,
    )
    d.step("agrees with qtaml_theory.derive.fourth_cumulant()", derive.fourth_cumulant(), kappa4)
    kurtosis = d.step("excess kurtosis = kappa_4 / Var^2", kappa4 / derive.variance() ** 2, derive.excess_kurtosis())
    limit = d.step("limit n -> oo", sp.limit(kurtosis, n, sp.oo),
                   sp.Rational(3, 5) * (1 - 6 * p * (1 - p)) / (p * (1 - p)))
    d.step("p -> 0: p times the limit tends to 3/5, so the kurtosis is of order 1/p",
           sp.limit(p * limit, p, 0, "+"), sp.Rational(3, 5))
    return d


if __name__ == "__main__":
    run(derivation())
