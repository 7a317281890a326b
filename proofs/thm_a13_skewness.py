"""Theorem A.13: kappa_3 = Delta^3 p(1-p)(1-2p) S3 with S3 = sum_i s_i 8^i; skewness ~ p^(-1/2) as p -> 0.

Run ``python proofs/thm_a13_skewness.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import S3, Delta, b, bernoulli_cumulant, i, n, p, pi
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Thm A.13", "skewness = kappa_3 / Var^(3/2), of order p^(-1/2) as p -> 0")
    bit = sp.Symbol("beta")
    for value in (0, 1):
        d.step(f"s_i^3 = s_i for b_i = {value}", ((1 - 2 * bit) ** 3 - (1 - 2 * bit)).subs(bit, value), 0)
    d.step("kappa_3(p) = p (1 - p)(1 - 2p)", bernoulli_cumulant(3).subs(pi, p), p * (1 - p) * (1 - 2 * p))
    kappa3 = Delta**3 * bernoulli_cumulant(3).subs(pi, p) * sp.Sum((1 - 2 * b[i]) * 8**i, (i, 0, n - 1))
    kappa3 = d.step("third cumulant (Thm 3.1) with S3 = sum_i s_i 8^i",
                    kappa3.subs(sp.Sum((1 - 2 * b[i]) * 8**i, (i, 0, n - 1)), S3), derive.third_cumulant())
    skew = d.step("skewness = kappa_3 / Var^(3/2) (Thm A.11)",
                  kappa3 / derive.variance() ** sp.Rational(3, 2), derive.skewness())
    leading = 3 * sp.sqrt(3) * S3 / (4**n - 1) ** sp.Rational(3, 2)
    d.step("p -> 0: sqrt(p) * skewness tends to 3^(3/2) S3 / (4^n - 1)^(3/2)",
           sp.limit(sp.sqrt(p) * skew, p, 0, "+"), leading)
    d.step("S3 cannot vanish: the top term beats all others, 8^(n-1) - sum_{i<n-1} 8^i = (6 * 8^(n-1) + 1)/7 > 0",
           8 ** (n - 1) - sp.Sum(8**i, (i, 0, n - 2)).doit(), (6 * 8 ** (n - 1) + 1) / 7)
    return d


if __name__ == "__main__":
    run(derivation())
