"""Remark 3.5: a wide layer's output error becomes Gaussian while one weight's does not.

For y = sum_j x_j delta_j with independent errors, cumulants add:
kappa_m(y) = sum_j x_j^m kappa_m(delta_j). With W terms of equal size the excess
kurtosis of y is the per-weight excess kurtosis divided by W, and the skewness
falls like W^(-1/2); the per-weight values do not depend on W (Thm 3.4).

Run ``python proofs/remark_3_5_layer_gaussianity.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory.derive import k2, k3, k4
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Remark 3.5", "excess kurtosis of a width-W sum = per-weight value / W")
    width = sp.Symbol("W", positive=True, integer=True)
    x = sp.Symbol("x", positive=True)
    kurtosis = d.step("W equal terms x delta_j: kappa_4 = W x^4 k4, kappa_2 = W x^2 k2",
                      (width * x**4 * k4) / (width * x**2 * k2) ** 2, (k4 / k2**2) / width)
    skewness = d.step("skewness: W x^3 k3 / (W x^2 k2)^(3/2) = (k3 / k2^(3/2)) / sqrt(W)",
                      (width * x**3 * k3) / (width * x**2 * k2) ** sp.Rational(3, 2),
                      (k3 / k2 ** sp.Rational(3, 2)) / sp.sqrt(width))
    d.step("both vanish as W -> oo", sp.limit(kurtosis, width, sp.oo) + sp.limit(skewness, width, sp.oo), 0)
    return d


if __name__ == "__main__":
    run(derivation())
