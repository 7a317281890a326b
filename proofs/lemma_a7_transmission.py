"""Lemma A.7: WKB transmission exp(-2 kappa d) and the exact rectangular-barrier transmission.

From the Schrodinger equation to kappa, the WKB exponent, the exact transmission by
wave-function matching, and the prefactor that WKB leaves out.

Run ``python proofs/lemma_a7_transmission.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import physics_derivations as phys
from qtaml_theory.proof import Derivation, run

S = phys.SYMBOLS


def derivation():
    d = Derivation("Lemma A.7", "T_WKB = exp(-2 kappa d); T_exact = 1/(1 + V0^2 sinh^2(kappa d)/(4E(V0-E)))")
    x, m, hbar, V0, E, kappa, k, width = (S[name] for name in ("x", "m", "hbar", "V0", "E", "kappa", "k", "d"))
    psi = sp.exp(kappa * x)
    d.step("inside the barrier psi = e^{kappa x} solves -hbar^2/2m psi'' + (V0 - E) psi = 0 iff "
           "kappa^2 = 2m(V0 - E)/hbar^2",
           sp.simplify((-hbar**2 / (2 * m) * sp.diff(psi, x, 2) + (V0 - E) * psi) / psi)
           .subs(kappa, phys.decay_constant()), 0)
    d.step("the decaying solution's constant", phys.decay_constant(), sp.sqrt(2 * m * (V0 - E)) / hbar)
    d.step("WKB: exp(-2 int_0^d kappa dx) = exp(-2 kappa d)",
           phys.wkb_transmission(), sp.exp(-2 * width * sp.sqrt(2 * m * (V0 - E)) / hbar))
    exact = phys.rectangular_barrier_transmission()
    d.step("matching psi and psi' at 0 and d gives |t|^2 = 1 / (1 + (k^2 + kappa^2)^2 sinh^2(kappa d) / (4 k^2 kappa^2))",
           (exact - 1 / (1 + (k**2 + kappa**2) ** 2 * sp.sinh(kappa * width) ** 2 / (4 * k**2 * kappa**2)))
           .rewrite(sp.exp), 0)
    wave = sp.sqrt(2 * m * E) / hbar
    d.step("with hbar^2 k^2 = 2mE and hbar^2 kappa^2 = 2m(V0 - E): the prefactor is V0^2 / (4E(V0 - E))",
           ((k**2 + kappa**2) ** 2 / (4 * k**2 * kappa**2)).subs({k: wave, kappa: phys.decay_constant()}),
           V0**2 / (4 * E * (V0 - E)))
    d.step("agrees with physics_derivations.transmission_prefactor()", phys.transmission_prefactor(),
           V0**2 / (4 * E * (V0 - E)))
    d.step("thick barrier: T_exact / T_WKB -> 16 E (V0 - E) / V0^2", phys.wkb_prefactor(), 16 * E * (V0 - E) / V0**2)
    d.step("the prefactor is at most 4, reached at E = V0/2", sp.maximum(16 * E * (V0 - E) / V0**2, E), 4)
    return d


if __name__ == "__main__":
    run(derivation())
