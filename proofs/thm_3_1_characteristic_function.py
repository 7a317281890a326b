"""Theorem 3.1: the characteristic function of the per-weight error is a product over bits.

``phi(t | w) = prod_i (1 - pi_i + pi_i exp(i t Delta s_i c_i))``, and hence
(log of a product) every cumulant is a sum over bits of a scaled Bernoulli
cumulant. Checked here for three explicit bits with symbolic bit values, for
the symmetric, per-bit and directional channels.

Run ``python proofs/thm_3_1_characteristic_function.py`` to print the steps (the exit status is 1 when a step fails).
"""

import itertools

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import CHANNELS, Delta, bernoulli_cumulant, pi, t, u
from qtaml_theory.encodings import get_encoding
from qtaml_theory.proof import Derivation, run

WIDTH = 3


def _cumulant(log_cf, order):
    return (-sp.I) ** order * sp.diff(log_cf, t, order).subs(t, 0)


def derivation():
    d = Derivation("Thm 3.1", "phi(t|w) = prod_i (1 - pi_i + pi_i e^{i t Delta s_i c_i})")
    a = sp.Symbol("a", real=True)
    d.step(
        "one bit term F a with F ~ Bernoulli(pi): E[e^{itFa}] = sum over F in {0, 1}",
        (1 - pi) * sp.exp(0) + pi * sp.exp(sp.I * t * a),
        derive.bit_error_cf(a, pi),
    )
    for order in range(1, 5):
        d.step(
            f"chain rule: cumulant {order} of F a is a^{order} kappa_{order}(pi)",
            _cumulant(sp.log(derive.bit_error_cf(a, pi)), order),
            a**order * bernoulli_cumulant(order),
        )
    d.step(
        "kappa_2(pi) = pi (1 - pi), from the log-CF log(1 - pi + pi e^{iu})",
        sp.simplify(-sp.diff(derive.bernoulli_log_cf(), u, 2).subs(u, 0)),
        pi * (1 - pi),
    )
    encoding = get_encoding("offset_binary", WIDTH)
    bits = sp.symbols(f"b0:{WIDTH}")
    for name, channel in CHANNELS.items():
        if name == "per_bit":
            channel = type(channel)([0] * WIDTH)
        amplitudes = [Delta * (1 - 2 * bit) * c for bit, c in zip(bits, encoding.bit_weights)]
        rates = [channel.symbolic_rate(bit, index) for index, bit in enumerate(bits)]
        expectation = 0
        for flips in itertools.product((0, 1), repeat=WIDTH):
            prob = sp.Mul(*[rate if f else 1 - rate for f, rate in zip(flips, rates)])
            expectation += prob * sp.exp(sp.I * t * sum(f * amp for f, amp in zip(flips, amplitudes)))
        product = derive.weight_error_cf(encoding, bits, channel)
        d.step(f"{name} channel: E[e^{{it delta}}] over all 2^{WIDTH} flip patterns = the product",
               expectation, product)
        for order in range(1, 5):
            d.step(
                f"{name} channel: cumulant {order} of the product = sum_i (Delta s_i c_i)^{order} kappa_{order}(pi_i)",
                _cumulant(sp.log(product), order),
                sum(amp**order * bernoulli_cumulant(order).subs(pi, rate) for amp, rate in zip(amplitudes, rates)),
            )
    return d


if __name__ == "__main__":
    run(derivation())
