"""Theorem 4.6 (and A.12): water-filling, rho* = Gm / A independent of the budget, and Jensen's bound.

Continuous relaxation of the allocation, leading order: minimize
sum_l N_l s_l 4^(n - k_l) subject to sum_l N_l k_l = beta N. Written out for
three layers with symbolic sizes and scores (the algebra is the same for any L).

Run ``python proofs/thm_4_6_saturation.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.proof import Derivation, run

LAYERS = 3


def derivation():
    d = Derivation("Thm 4.6 / A.12", "water-filling; TAC / Uniform-MSP = Gm / A <= 1, independent of beta")
    n, beta, lam = sp.symbols("n beta lambda", positive=True)
    sizes = sp.symbols(f"N1:{LAYERS + 1}", positive=True)
    scores = sp.symbols(f"s1:{LAYERS + 1}", positive=True)
    bits = sp.symbols(f"k1:{LAYERS + 1}", real=True)
    total = sum(sizes)
    leading = derive.protection_cost_leading()
    d.step("the leading-order cost per unit N s is 4^(n-k) (from derive.protection_cost_leading)",
           leading, 4 ** (derive.n - derive.k))
    lagrangian = sum(N * s * leading.subs({derive.n: n, derive.k: k}) for N, s, k in zip(sizes, scores, bits)) \
        + lam * (sum(N * k for N, k in zip(sizes, bits)) - beta * total)
    solutions = []
    for N, s, k in zip(sizes, scores, bits):
        stationarity = sp.diff(lagrangian, k)
        d.step(f"KKT stationarity in {k}: N (lambda - s ln4 4^(n-k)) = 0 (equal marginal reduction per bit)",
               stationarity, N * (lam - s * sp.log(4) * 4 ** (n - k)))
        (solution,) = sp.solve(sp.Eq(stationarity, 0), k)
        solutions.append(solution)
        d.step(f"solve for {k}", solution, n - sp.log(lam / (s * sp.log(4))) / sp.log(4))
    (multiplier,) = sp.solve(sp.Eq(sum(N * k for N, k in zip(sizes, solutions)), beta * total), lam)
    log_gm = sum(N * sp.log(s) for N, s in zip(sizes, scores)) / total
    gm = sp.exp(log_gm)
    for s, k in zip(scores, solutions):
        d.step("substitute the budget: k_l = beta + log_4(s_l / Gm)",
               sp.expand_log(k.subs(lam, multiplier), force=True),
               sp.expand_log(beta + (sp.log(s) - log_gm) / sp.log(4), force=True))
    optimum = [beta + (sp.log(s) - log_gm) / sp.log(4) for s in scores]
    for s, k in zip(scores, optimum):
        d.step("each layer contributes s_l 4^(n-k_l) = Gm 4^(n-beta) (compared as logs; both sides are positive)",
               sp.expand_log(sp.log(s * 4 ** (n - k)), force=True),
               sp.expand_log(sp.log(gm * 4 ** (n - beta)), force=True))
    tac = total * gm * 4 ** (n - beta)
    arithmetic = sum(N * s for N, s in zip(sizes, scores)) / total
    uniform = d.step("Uniform-MSP at k_l = beta: N A 4^(n-beta)",
                     sum(N * s * 4 ** (n - beta) for N, s in zip(sizes, scores)), total * arithmetic * 4 ** (n - beta))
    ratio = d.step("the ratio is Gm / A", sp.simplify(tac / uniform), sp.simplify(gm / arithmetic))
    d.step("it does not depend on the budget beta", sp.diff(ratio, beta), 0)
    x, w = sp.symbols("x w", positive=True)
    d.step("Jensen's premise: log is concave, (log x)'' = -1/x^2", sp.diff(sp.log(x), x, 2), -1 / x**2)
    gap = w + (1 - w) * x - x ** (1 - w)  # two layers, s2/s1 = x, size share w of layer 1: A/s1 - Gm/s1
    d.step("two layers: A - Gm (in units of s1) vanishes at equal scores x = 1", gap.subs(x, 1), 0)
    d.step("... with zero slope there", sp.diff(gap, x).subs(x, 1), 0)
    d.step("... and is convex in x (second derivative w(1-w) x^(-w-1) >= 0), so A >= Gm",
           sp.diff(gap, x, 2), w * (1 - w) * x ** (-w - 1))
    return d


if __name__ == "__main__":
    run(derivation())
