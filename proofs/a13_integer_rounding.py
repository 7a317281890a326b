"""Appendix A.13: the symmetric integer-rounding bound, max_f f 4^(f-1) + (1-f) 4^f = 3 * 4^(1/3) / (e ln 4).

Run ``python proofs/a13_integer_rounding.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("A.13", "integer / continuous <= 3 * 4^(1/3) / (e ln 4) ~ 1.2637 when all fractional parts agree")
    f, m = sp.symbols("f m", positive=True)
    cost = derive.protection_cost_leading()
    down = d.step("rounding k* = m + f down to m multiplies the layer's variance by 4^f",
                  sp.simplify(cost.subs(derive.k, m) / cost.subs(derive.k, m + f)), 4**f)
    up = d.step("rounding up to m + 1 multiplies it by 4^(f-1)",
                sp.simplify(cost.subs(derive.k, m + 1) / cost.subs(derive.k, m + f)), 4 ** (f - 1))
    ratio = d.step("the budget rounds a share f of the layers up: ratio g(f) = f 4^(f-1) + (1-f) 4^f",
                   f * up + (1 - f) * down, 4**f * (1 - 3 * f / 4))
    (critical,) = sp.solve(sp.Eq(sp.diff(ratio, f), 0), f)
    d.step("g'(f) = 0 at f* = 4/3 - 1/ln 4", critical, sp.Rational(4, 3) - 1 / sp.log(4))
    d.step("f* lies in (0, 1)", sp.And(critical > 0, critical < 1), sp.true)
    d.step("g''(f*) < 0: a maximum", sp.diff(ratio, f, 2).subs(f, critical) < 0, sp.true)
    peak = d.step("g(f*) = 3 * 4^(1/3) / (e ln 4)", sp.simplify(ratio.subs(f, critical)),
                  3 * 4 ** sp.Rational(1, 3) / (sp.E * sp.log(4)))
    d.step("agrees with derive.integer_rounding_bound()", derive.integer_rounding_bound(), peak)
    d.step("numerically 1.2637 (rounded to 4 decimals)", sp.floor(peak * 10**4 + sp.Rational(1, 2)), 12637)
    d.step("the ends give 1 (no rounding), far below the trivial bound 4",
           sp.Tuple(ratio.subs(f, 0), ratio.subs(f, 1)), sp.Tuple(1, 1))
    return d


if __name__ == "__main__":
    run(derivation())
