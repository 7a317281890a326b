"""Beyond the paper: the directional (charge-loss) channel, p01 != p10.

pi_i = p01 (1 - b_i) + p10 b_i. For a linear encoding the drift stays affine in w,
with slope -(p01 + p10): E[delta | w] = Delta p01 sum_i c_i - (p01 + p10)(w - Delta v0).
The variance is no longer state-independent: it depends on sum_i b_i c_i^2 through
p10 (1 - p10) - p01 (1 - p01), which vanishes only when p01 = p10 or p01 + p10 = 1.

Run ``python proofs/directional_channel.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, b, i, n, p, p01, p10, w
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Directional channel", "affine drift with slope -(p01 + p10); state-dependent variance")
    bit = sp.Symbol("beta")
    rate = p01 * (1 - bit) + p10 * bit
    for value in (0, 1):
        d.step(f"pi_i s_i = p01 - (p01 + p10) b_i for b_i = {value}",
               (rate * (1 - 2 * bit)).subs(bit, value), (p01 - (p01 + p10) * bit).subs(bit, value))
    drift = d.step(
        "offset binary: Delta sum_i (p01 - (p01 + p10) b_i) 2^i = Delta (p01 (2^n - 1) - (p01 + p10) q)",
        Delta * sp.Sum((p01 - (p01 + p10) * b[i]) * 2**i, (i, 0, n - 1)),
        Delta * (p01 * (2**n - 1) - (p01 + p10) * sp.Sum(b[i] * 2**i, (i, 0, n - 1))),
    )
    q = sp.Symbol("q")
    drift = d.step("q = w / Delta + 2^(n-1)",
                   drift.subs(sp.Sum(b[i] * 2**i, (i, 0, n - 1)), q).subs(q, w / Delta + 2 ** (n - 1)),
                   -(p01 + p10) * w + Delta * (p01 * (2 ** (n - 1) - 1) - p10 * 2 ** (n - 1)))
    d.step("agrees with derive.mean_drift('offset_binary', 'directional')",
           derive.mean_drift("offset_binary", "directional"), drift)
    d.step("slope in w is -(p01 + p10)", sp.diff(drift, w), -(p01 + p10))
    d.step("p01 = p10 = p gives Thm 3.2", drift.subs({p01: p, p10: p}), -2 * p * w - p * Delta)
    for value in (0, 1):
        d.step(f"pi_i (1 - pi_i) = p01(1-p01) + (p10(1-p10) - p01(1-p01)) b_i for b_i = {value}",
               (rate * (1 - rate)).subs(bit, value),
               (p01 * (1 - p01) + (p10 * (1 - p10) - p01 * (1 - p01)) * bit).subs(bit, value))
    variance = derive.variance("offset_binary", "directional")
    coefficient = sp.factor(p10 * (1 - p10) - p01 * (1 - p01))
    d.step("the variance's dependence on the bit pattern has coefficient (p10 - p01)(1 - p01 - p10)",
           coefficient, (p10 - p01) * (1 - p01 - p10))
    d.step("derive.variance('offset_binary', 'directional') = state-free part + that coefficient * sum_i 4^i b_i",
           variance,
           Delta**2 * (p01 * (1 - p01) * (4**n - 1) / 3 + coefficient * sp.Sum(4**i * b[i], (i, 0, n - 1))))
    return d


if __name__ == "__main__":
    run(derivation())
