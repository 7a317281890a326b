"""Appendix A.8: the mean drift of two's complement, symmetric offset binary and sign-magnitude.

* two's complement: sum_i c_i = -1, so E[delta | w] = -2 p w - p Delta (as offset binary);
* symmetric offset binary w = Delta (q - (2^n - 1)/2): E[delta | w] = -2 p w, no offset;
* sign-magnitude: E[w_hat | w] = (1 - 2p)^2 w + p (1 - 2p)(2^(n-1) - 1) Delta sgn(w),
  with sgn taken from the sign bit.

Run ``python proofs/a8_alternative_encodings.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, i, n, p, sigma, v, w
from qtaml_theory.encodings import OffsetBinarySymmetric, TwosComplement
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("A.8", "mean drift under two's complement, symmetric offset binary and sign-magnitude")
    weights = sp.Sum(2**i, (i, 0, n - 2)).doit() + TwosComplement.symbolic_weight(n - 1, n)
    total = d.step("two's complement: sum_i c_i = (2^(n-1) - 1) - 2^(n-1)", weights, -1)
    drift = d.step(
        "linear encoding: sum_i s_i c_i = sum_i c_i - 2 sum_i b_i c_i = sum_i c_i - 2 (v - v0); v0 = 0",
        p * Delta * (total - 2 * (v - TwosComplement.symbolic_offset(n))), -p * Delta - 2 * p * Delta * v)
    d.step("with v = w / Delta, and agrees with derive.mean_drift('twos_complement')",
           derive.mean_drift("twos_complement"), drift.subs(v, w / Delta))
    v0 = OffsetBinarySymmetric.symbolic_offset(n)
    d.step("symmetric offset binary: p Delta ((2^n - 1) - 2 (v - v0)) = -2 p w",
           (p * Delta * ((2**n - 1) - 2 * (v - v0))).subs(v, w / Delta), -2 * p * w)
    d.step("agrees with derive.mean_drift('offset_binary_symmetric')",
           derive.mean_drift("offset_binary_symmetric"), -2 * p * w)
    magnitude = sp.Symbol("m", nonnegative=True)
    magnitude_mean = d.step(
        "sign-magnitude: the magnitude m = |w| / Delta drifts like an (n-1)-bit offset-binary code",
        magnitude + p * ((2 ** (n - 1) - 1) - 2 * magnitude), (1 - 2 * p) * magnitude + p * (2 ** (n - 1) - 1))
    sign_mean = d.step("the sign sigma = +-1 flips with p, independently: E[sigma_hat] = sigma (1 - 2p)",
                       (1 - p) * sigma + p * (-sigma), sigma * (1 - 2 * p))
    product = d.step(
        "E[w_hat] = Delta E[sigma_hat] E[m_hat], with sigma m = w / Delta and sigma^2 = 1",
        sp.expand(Delta * sign_mean * magnitude_mean).subs(magnitude, sigma * w / Delta).subs(sigma**2, 1),
        (1 - 2 * p) ** 2 * w + p * (1 - 2 * p) * (2 ** (n - 1) - 1) * Delta * sigma,
    )
    d.step("agrees with derive.sign_magnitude_mean()", derive.sign_magnitude_mean(), product)
    return d


if __name__ == "__main__":
    run(derivation())
