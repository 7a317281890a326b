"""Proposition 4.1: storing w / (1 - 2p) restores E[w_hat] = w - p Delta (offset binary).

Valid while w / (1 - 2p) is representable; the factor diverges as p -> 1/2,
where clipping binds first (B.6).

Run ``python proofs/prop_4_1_mean_correction.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, p, w
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Prop 4.1", "E[w_hat | w / (1 - 2p) stored] = w - p Delta")
    shrink = d.step("Cor 3.3: E[w_hat | w] = (1 - 2p) w - p Delta", w + derive.mean_drift("offset_binary"),
                    (1 - 2 * p) * w - p * Delta)
    factor = d.step("the factor that cancels the slope 1 - 2p", derive.mean_correction_factor(), 1 / (1 - 2 * p))
    d.step("store w~ = w / (1 - 2p): E[w_hat | w~] = (1 - 2p) w~ - p Delta = w - p Delta",
           shrink.subs(w, w * factor), w - p * Delta)
    d.step("agrees with derive.compensated_mean()", derive.compensated_mean(), w - p * Delta)
    d.step("the factor diverges as p -> 1/2 from below", sp.limit(factor, p, sp.Rational(1, 2), "-"), sp.oo)
    return d


if __name__ == "__main__":
    run(derivation())
