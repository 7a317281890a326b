"""Theorem 3.4: the Lyapunov ratio of the per-weight sum does not vanish as n grows.

``L_n = sum_i E|X_i - E X_i|^3 / (sum_i Var X_i)^(3/2)`` with ``X_i = F_i s_i 2^i Delta``
tends to ``(3 sqrt(3) / 7)(p^2 + (1-p)^2) / sqrt(p(1-p))``: more bits do not make
one weight's error Gaussian.

Run ``python proofs/thm_3_4_lyapunov.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, i, n, p
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Thm 3.4", "Lyapunov ratio -> (3 sqrt 3 / 7)(p^2 + (1-p)^2)/sqrt(p(1-p)) != 0")
    third_abs = (1 - p) * sp.Abs(0 - p) ** 3 + p * sp.Abs(1 - p) ** 3
    third_abs = d.step("E|F - p|^3 over F in {0, 1}, for 0 < p < 1",
                       third_abs.subs({sp.Abs(-p): p, sp.Abs(1 - p): 1 - p}),
                       p * (1 - p) * (p**2 + (1 - p) ** 2))
    numerator = d.step("sum_i E|X_i - E X_i|^3 = Delta^3 E|F - p|^3 sum_i 8^i",
                       Delta**3 * third_abs * sp.Sum(8**i, (i, 0, n - 1)),
                       Delta**3 * third_abs * (8**n - 1) / 7)
    ratio = d.step("divide by Var^(3/2) (Thm A.11)", numerator / derive.variance() ** sp.Rational(3, 2),
                   derive.lyapunov_ratio())
    limit = d.step("limit n -> oo", sp.limit(ratio, n, sp.oo),
                   3 * sp.sqrt(3) / 7 * (p**2 + (1 - p) ** 2) / sp.sqrt(p * (1 - p)))
    d.step("p -> 0: sqrt(p) times the limit tends to 3 sqrt(3) / 7 > 0",
           sp.limit(sp.sqrt(p) * limit, p, 0, "+"), 3 * sp.sqrt(3) / 7)
    d.step("p = 1/2 (the smallest value of p^2 + (1-p)^2 over sqrt(p(1-p))): the limit is 3 sqrt(3)/7",
           limit.subs(p, sp.Rational(1, 2)), 3 * sp.sqrt(3) / 7)
    return d


if __name__ == "__main__":
    run(derivation())
