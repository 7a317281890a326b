"""Issue 15: the closed forms of the float laws (non-finite reads, the sign's drift, exponent flips, scaled weights).

* a code is non-finite exactly when its non-finite positions all read 1, so
  P(non-finite) = prod_j q_j with q_j = b_j (1 - pi_j) + (1 - b_j) pi_j;
* the sign bit flips independently of the magnitude: its drift is -2 r w for every float format;
* an exponent flip of bit j multiplies a normal value by 2^((1 - 2 b_j) 2^j), so
  E[2^(k (e' - e))] = prod_j [(1 - pi_j) + pi_j 2^(k (1 - 2 b_j) 2^j)];
* a scaled weight's error e = e_x (s + e_s) + x e_s has E[e^m] from the parts' moments;
* for offset binary each bit carries 4 times the variance of the one below: protection by share is MSB first.

Run ``python proofs/float_formats.py`` to print the steps (the exit status is 1 when a step fails).
"""

import itertools

import sympy as sp

from qtaml_theory import _derive_float as fl
from qtaml_theory.derive import Delta, M, i, n, p, r, sigma, w
from qtaml_theory.proof import Derivation, run

WIDTH = 3  # an exponent field of three bits, every stored pattern symbolic


def mask_sum(term, rates):
    """``sum over masks m of prod_j pi_j^m_j (1 - pi_j)^(1 - m_j) * term(m)``."""
    total = 0
    for mask in itertools.product((0, 1), repeat=len(rates)):
        weight = sp.Mul(*(rate if m else 1 - rate for rate, m in zip(rates, mask)))
        total += weight * term(mask)
    return total


def derivation():
    d = Derivation("Issue 15", "closed forms of the float laws, checked against the sum over every flip mask")
    bits = sp.symbols(f"b0:{WIDTH}")
    rates = sp.symbols(f"pi0:{WIDTH}", nonnegative=True)
    k = fl.order

    def read(bit, m):  # the bit read back: b if not flipped, 1 - b if flipped
        return 1 - bit if m else bit

    q = [fl.read_one_probability().subs({fl.bit: b_, fl.pi: pi_}) for b_, pi_ in zip(bits, rates)]
    d.step("P(all positions read 1) = sum over masks of P(mask) prod_j read_j = prod_j q_j",
           mask_sum(lambda mask: sp.Mul(*(read(b_, m) for b_, m in zip(bits, mask))), rates), sp.Mul(*q))

    d.step("sign bit flipped with r, magnitude M unchanged: (1 - r) sigma M + r (-sigma M) - sigma M = -2 r w",
           ((1 - r) * sigma * M + r * (-sigma * M) - sigma * M).subs(M, w / sigma), -2 * r * w)
    d.step("agrees with _derive_float.sign_flip_drift() (A.8's mixture with no magnitude drift)",
           fl.sign_flip_drift(), -2 * r * w)

    factors = [fl.exponent_bit_factor().subs({fl.position: j, fl.bit: b_, fl.pi: pi_})
               for j, (b_, pi_) in enumerate(zip(bits, rates))]

    def exponent_shift(mask):
        return sum((read(b_, m) - b_) * 2**j for j, (b_, m) in enumerate(zip(bits, mask)))

    d.step("E[2^(k (e' - e))] over every mask of a 3-bit exponent = product of the per-bit factors",
           mask_sum(lambda mask: sp.Integer(2) ** (k * exponent_shift(mask)), rates), sp.Mul(*factors))
    d.step("k = 0: the factors are probabilities and multiply to one", sp.Mul(*factors).subs(k, 0), 1)

    e, bias, f, j, b_ = sp.symbols("e bias f j b", integer=True)
    normal = sp.Integer(2) ** (e - bias) * (1 + f)
    flipped = sp.Integer(2) ** (e + (1 - 2 * b_) * 2**j - bias) * (1 + f)
    d.step("flipping exponent bit j (stored b) of a normal value: v' - v = v (2^((1 - 2b) 2^j) - 1)",
           flipped - normal, fl.exponent_flip_error().subs({fl.value: normal, fl.position: j, fl.bit: b_}))
    d.step("bfloat16 weight 0.02 (exponent 121, bit 14 stores 0): its top exponent flip multiplies it by 2^128",
           (flipped / normal).subs({b_: 0, j: 7}), sp.Integer(2) ** 128)

    x, s = fl.element, fl.scale
    a, c, alpha, gamma = sp.symbols("a c alpha gamma", real=True)
    moments = fl.scaled_raw_moments()
    parts = {**{fl.ELEMENT_MOMENTS[m - 1]: alpha * a**m for m in range(1, 5)},
             **{fl.SCALE_MOMENTS[m - 1]: gamma * c**m for m in range(1, 5)}}
    for m in (1, 2, 4):
        joint = sum(px * ps * ((x + ex) * (s + es) - x * s) ** m
                    for ex, px in ((0, 1 - alpha), (a, alpha)) for es, ps in ((0, 1 - gamma), (c, gamma)))
        d.step(f"scaled weight, two-point parts: E[e^{m}] over the joint law = scaled_raw_moments()[{m - 1}]",
               joint, moments[m - 1].subs(parts))

    share = 3 * 4**i / (4**n - 1)
    d.step("offset binary: bit i carries Delta^2 p (1-p) 4^i of Var = Delta^2 p (1-p) (4^n - 1)/3",
           Delta**2 * p * (1 - p) * 4**i / (Delta**2 * p * (1 - p) * (4**n - 1) / 3), share)
    d.step("each bit carries 4 times the share of the bit below: the order by share is MSB first",
           share.subs(i, i + 1) / share, 4)
    return d


if __name__ == "__main__":
    run(derivation())
