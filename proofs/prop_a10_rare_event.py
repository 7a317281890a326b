"""Lemma A.8 and Proposition A.10: escape probability, the Poisson limit and the rare-event form.

1 - (1 - T)^A ~ A T; Binomial(N, lambda/N) -> Poisson(lambda); P(K >= K) ~ lambda^K / K!;
and log p is linear in the thickness with slope -2 K kappa.

Run ``python proofs/prop_a10_rare_event.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import physics_derivations as phys
from qtaml_theory.proof import Derivation, run

S = phys.SYMBOLS


def derivation():
    d = Derivation("Lemma A.8 / Prop A.10", "P_esc ~ nu tau T; p ~ lambda^K / K!; d log p / d d = -2 K kappa")
    T, A, N, K, j, lam, kappa = (S[name] for name in ("T", "A", "N", "K", "j", "lam", "kappa"))
    d.step("escape over A = nu tau independent attempts: 1 - (1 - T)^A", phys.escape_probability(), 1 - (1 - T) ** A)
    d.step("first order in T: A T", phys.rare_escape_probability(), A * T)
    d.step("the next term is -A(A - 1) T^2 / 2 (relative error of the rare form ~ A T / 2)",
           sp.series(phys.escape_probability(), T, 0, 3).removeO() - A * T, -A * (A - 1) * T**2 / 2)
    d.step("binomial pmf with P = lambda/N: C(N, j) N^-j -> 1/j!",
           sp.limit(sp.gammasimp(sp.binomial(N, j).rewrite(sp.gamma) * N ** (-j)), N, sp.oo), 1 / sp.factorial(j))
    d.step("... and (1 - lambda/N)^(N - j) -> e^-lambda", sp.limit((1 - lam / N) ** (N - j), N, sp.oo), sp.exp(-lam))
    d.step("so Binomial(N, lambda/N) -> Poisson(lambda)", phys.poisson_pmf(), lam**j * sp.exp(-lam) / sp.factorial(j))
    d.step("the Poisson tail sums to one over j >= 0 (a check of the pmf)",
           sp.summation(phys.poisson_pmf(), (j, 0, sp.oo)), 1)
    d.step("rare events: the first tail term with e^-lambda -> 1", phys.rare_flip_probability(), lam**K / sp.factorial(K))
    d.step("next tail term over the first: lambda / (K + 1) -> 0 as lambda -> 0",
           sp.simplify(phys.poisson_pmf().subs(j, K + 1) / phys.poisson_pmf().subs(j, K)), lam / (K + 1))
    d.step("with lambda = N A exp(-2 kappa d): d log p / d d = -2 K kappa", phys.rare_log_flip_slope(), -2 * K * kappa)
    return d


if __name__ == "__main__":
    run(derivation())
