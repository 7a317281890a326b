"""Theorem 3.2 and Corollary 3.3: the mean drift is affine, E[delta | w] = -2 p w - p Delta.

Offset binary, symmetric channel, general n: from the first cumulant of
Theorem 3.1, through the geometric series, to the affine form and the
shrinkage ``E[w_hat | w] = (1 - 2p) w - p Delta``.

Run ``python proofs/thm_3_2_mean_drift.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, b, bernoulli_cumulant, i, n, p, pi, w
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Thm 3.2 / Cor 3.3", "E[delta | w] = -2 p w - p Delta; E[w_hat | w] = (1 - 2p) w - p Delta")
    q = sp.Symbol("q", integer=True, nonnegative=True)
    code_sum = sp.Sum(b[i] * 2**i, (i, 0, n - 1))
    kappa1 = d.step(
        "first cumulant (Thm 3.1): Delta sum_i s_i c_i kappa_1(pi_i), with kappa_1(p) = p, c_i = 2^i",
        Delta * sp.Sum((1 - 2 * b[i]) * 2**i * bernoulli_cumulant(1).subs(pi, p), (i, 0, n - 1)),
        p * Delta * (sp.Sum(2**i, (i, 0, n - 1)) - 2 * code_sum),
    )
    kappa1 = d.step("geometric series: sum_{i<n} 2^i = 2^n - 1",
                    kappa1, p * Delta * (2**n - 1 - 2 * code_sum))
    kappa1 = d.step("the code is q = sum_i b_i 2^i", kappa1.subs(code_sum, q), p * Delta * (2**n - 1 - 2 * q))
    kappa1 = d.step("offset binary: q = w / Delta + 2^(n-1)",
                    kappa1.subs(q, w / Delta + 2 ** (n - 1)), -2 * p * w - p * Delta)
    d.step("agrees with qtaml_theory.derive.mean_drift('offset_binary')", derive.mean_drift("offset_binary"), kappa1)
    d.step("Cor 3.3: E[w_hat | w] = w + E[delta | w] = (1 - 2p) w - p Delta", w + kappa1, (1 - 2 * p) * w - p * Delta)
    return d


if __name__ == "__main__":
    run(derivation())
