"""Every run-time closed form of qtaml_theory._closed_forms (the law's, not physics') against its definition.

The reference is the enumeration over flip patterns of tests/test_law_reference.py
(exact Fractions, written from the definitions), or the definition of the
quantity itself (Bernoulli cumulants from the moments ``E[F**j] = pi``; the
Lyapunov ratio from its two-point terms). Rational inputs must give the exact
value; float inputs agree to ``REL`` at points that include the extremes
(rates 5e-324, 1e-300, 1e-12, 1/2, 1 - 1e-12). A 5% error in any of these
functions fails here (the text comparison of the generated file does not
count as a check).
"""

import math
from fractions import Fraction

import mpmath
import pytest
from test_law_reference import REL, assert_close, decode, flip_rates, mpf, reference_cumulants, reference_pmf

from qtaml_theory import DirectionalChannel, SymmetricChannel
from qtaml_theory import _closed_forms as cf
from qtaml_theory.compensation import mean_correction_factor

EXACT_RATES = (Fraction(0), Fraction(1, 3), Fraction(1, 2), Fraction(7, 8), Fraction(1))
FLOAT_RATES = (5e-324, 1e-300, 1e-12, 0.1, 0.5, 0.7, 1 - 1e-12)
#: For the forms that multiply p by Delta**m first: a subnormal product keeps only the subnormal grid's digits.
NORMAL_RATES = FLOAT_RATES[1:]


def bernoulli_reference(rate, order):
    """Cumulant ``order`` of F ~ Bernoulli(rate) from its raw moments ``E[F**j] = rate``."""
    rate = Fraction(rate)
    m1 = m2 = m3 = m4 = rate
    return {1: m1, 2: m2 - m1**2, 3: m3 - 3 * m2 * m1 + 2 * m1**3,
            4: m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4}[order]


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_bernoulli_cumulants(order):
    function = getattr(cf, f"bernoulli_cumulant_{order}")
    for rate in EXACT_RATES:
        assert function(rate) == bernoulli_reference(rate, order)
    for rate in FLOAT_RATES:
        assert_close(function(rate), bernoulli_reference(rate, order), scale=0)


def test_sign_mixture_cumulants_and_error_mean():
    """w_hat = sigma_hat * M_hat, enumerated: M_hat on {m0 + j} with given probabilities, sigma_hat flips with r."""
    magnitude_law = {Fraction(5): Fraction(1, 2), Fraction(6): Fraction(1, 3), Fraction(9): Fraction(1, 6)}
    stored = Fraction(6)
    mean_m = sum(v * q for v, q in magnitude_law.items())
    c = [sum((v - mean_m) ** j * q for v, q in magnitude_law.items()) for j in (2, 3, 4)]
    k2, k3, k4 = c[0], c[1], c[2] - 3 * c[0] ** 2
    for sigma in (1, -1):
        for r in (*EXACT_RATES, Fraction(1, 10**300)):
            law = {}
            for v, q in magnitude_law.items():
                for sign, weight in ((sigma, 1 - r), (-sigma, r)):
                    law[sign * v] = law.get(sign * v, 0) + q * weight
            mean = sum(v * q for v, q in law.items())
            central = [sum((v - mean) ** j * q for v, q in law.items()) for j in (2, 3, 4)]
            expected = (mean, central[0], central[1], central[2] - 3 * central[0] ** 2)
            assert cf.sign_mixture_cumulants(sigma, r, mean_m, k2, k3, k4) == expected
            assert cf.sign_mixture_error_mean(sigma, r, stored, mean_m - stored) == mean - sigma * stored
            got = cf.sign_mixture_error_mean(sigma, float(r), float(stored), float(mean_m - stored))
            assert_close(got, mean - sigma * stored)
            for value, want in zip(cf.sign_mixture_cumulants(sigma, float(r), float(mean_m), float(k2), float(k3),
                                                             float(k4)), expected):
                assert_close(value, want, scale=1e3)  # terms up to 16 M**4 r(1-r) ~ 1e4 cancel at r = 1/2


def symmetric_cumulants(bits, rate, delta, protected=0, name="offset_binary", code=None):
    code = 2 ** (bits - 1) + 1 if code is None else code
    return reference_cumulants(name, bits, code, flip_rates("symmetric", bits, code, rate, protected), delta)


@pytest.mark.parametrize("bits", [1, 3, 8])
def test_variance_and_fourth_cumulant_symmetric(bits):
    for rate in EXACT_RATES:
        kappas = symmetric_cumulants(bits, rate, Fraction(3, 4))
        assert cf.variance_symmetric(bits, rate, Fraction(3, 4)) == kappas[1]
        assert cf.fourth_cumulant_symmetric(bits, rate, Fraction(3, 4)) == kappas[3]
    for rate in NORMAL_RATES:
        kappas = symmetric_cumulants(bits, rate, 0.75)
        assert_close(cf.variance_symmetric(bits, rate, 0.75), kappas[1])
        assert_close(cf.fourth_cumulant_symmetric(bits, rate, 0.75), kappas[3], scale=mpf(kappas[1]) ** 2)


@pytest.mark.parametrize("bits", [2, 6])
def test_variance_protected_protection_cost_and_output_factor(bits):
    """Lemma 4.2, Thm 4.4: cost = Var_k / (Delta**2 p(1-p)/3); its leading term is cost + 1 = 4**(n-k)."""
    for protected in range(bits + 1):
        for rate in (Fraction(1, 10), Fraction(1, 2)):
            variance = symmetric_cumulants(bits, rate, Fraction(1, 4), protected)[1]
            assert cf.variance_protected(bits, protected, rate, Fraction(1, 4)) == variance
            factor = bernoulli_reference(rate, 2) / 3
            assert cf.output_variance_factor(rate) == factor
            cost = variance / (Fraction(1, 16) * factor)
            assert_close(cf.protection_cost(bits, protected), cost, rel=1e-15)
            assert cf.protection_cost_leading(bits, protected) == cost + 1
        for rate in NORMAL_RATES:
            variance = symmetric_cumulants(bits, rate, 0.25, protected)[1]
            assert_close(cf.variance_protected(bits, protected, rate, 0.25), variance)
            assert_close(cf.output_variance_factor(rate), bernoulli_reference(rate, 2) / 3)


@pytest.mark.parametrize("bits", [1, 2, 5, 12])
def test_msb_variance_share(bits):
    """Prop A.12: the variance with only the MSB flipping over the full variance."""
    code = 0
    full = reference_cumulants("offset_binary", bits, code, [Fraction(1, 7)] * bits)[1]
    msb = reference_cumulants("offset_binary", bits, code, [Fraction(0)] * (bits - 1) + [Fraction(1, 7)])[1]
    assert_close(cf.msb_variance_share(bits), msb / full, rel=1e-15)


@pytest.mark.parametrize("bits", [1, 4, 8, 16])
def test_lyapunov_ratio(bits):
    """Thm 3.4: sum_i E|X_i - E X_i|**3 / (sum_i Var X_i)**(3/2), X_i = F_i 2**i, from the two-point terms."""
    for rate in (1e-300, 1e-12, 0.1, 0.5, 1 - 1e-12):
        p = Fraction(rate)
        third = sum((1 - p) * (p * 2**i) ** 3 + p * ((1 - p) * 2**i) ** 3 for i in range(bits))
        variance = sum(p * (1 - p) * 4**i for i in range(bits))
        assert_close(cf.lyapunov_ratio(bits, rate), mpf(third) / mpmath.sqrt(mpf(variance)) ** 3)


@pytest.mark.parametrize("protected", [0, 1, 3, 6])
def test_protected_mean_drift(protected):
    bits = 6
    for code in range(2**bits):
        low = code % 2 ** (bits - protected)
        for rate in (Fraction(1, 10), Fraction(1, 2), Fraction(1)):
            mean = reference_cumulants("offset_binary", bits, code, flip_rates("symmetric", bits, code, rate, protected),
                                       Fraction(1, 4))[0]
            assert cf.protected_mean_drift(bits, protected, low, rate, Fraction(1, 4)) == mean
        for rate in (1e-300, 1 - 1e-12):
            mean = reference_cumulants("offset_binary", bits, code, flip_rates("symmetric", bits, code, rate, protected),
                                       0.25)[0]
            assert_close(cf.protected_mean_drift(bits, protected, low, rate, 0.25), mean)


@pytest.mark.parametrize("name", ["offset_binary", "offset_binary_symmetric", "twos_complement"])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_mean_drifts(name, bits):
    drift = getattr(cf, f"mean_drift_{name}")
    for code in range(2**bits):
        for rate in (Fraction(1, 10), Fraction(1, 2), Fraction(1)):
            w = decode(name, bits, code) * Fraction(3, 8)
            mean = reference_cumulants(name, bits, code, flip_rates("symmetric", bits, code, rate), Fraction(3, 8))[0]
            assert drift(w, rate, Fraction(3, 8)) == mean
    for rate in (5e-324, 1e-300, 1 - 1e-12):
        for code in (0, 2**bits - 1):
            w = decode(name, bits, code) * Fraction(0.375)
            mean = reference_cumulants(name, bits, code, flip_rates("symmetric", bits, code, rate), 0.375)[0]
            assert_close(drift(float(w), rate, 0.375), mean)


def readback_slope(channel_rates, bits=5):
    """Slope in w of E[w_hat | w] over all codes of offset binary, by enumeration (it is affine, checked)."""
    means = []
    for code in range(2**bits):
        pmf = reference_pmf("offset_binary", bits, code, channel_rates(code))
        means.append(decode("offset_binary", bits, code) + sum(v * q for v, q in pmf.items()))
    slopes = {b - a for a, b in zip(means, means[1:])}
    assert len(slopes) == 1
    return slopes.pop()


DIRECTIONAL = [(Fraction(0), Fraction(1, 5)), (Fraction(1, 50), Fraction(1, 5)), (Fraction(1, 10**300), Fraction(1, 3)),
               (Fraction(1, 4), Fraction(1, 2))]


@pytest.mark.parametrize("p01, p10", DIRECTIONAL)
def test_directional_drift_slope_and_mean_correction(p01, p10):
    """Slope of E[delta | w] = slope of E[w_hat | w] - 1; the correction factor undoes the read-back slope."""
    bits = 5

    def rates(code):
        return [p10 if (code >> i) & 1 else p01 for i in range(bits)]

    slope = readback_slope(rates, bits)
    assert cf.drift_slope_directional(p01, p10) == slope - 1
    assert_close(cf.drift_slope_directional(float(p01), float(p10)), slope - 1)
    assert mean_correction_factor(DirectionalChannel(p01, p10)) == 1 / slope
    assert_close(mean_correction_factor(DirectionalChannel(float(p01), float(p10))), 1 / slope)


@pytest.mark.parametrize("rate", [Fraction(0), Fraction(1, 10**300), Fraction(1, 10), Fraction(1, 4), Fraction(49, 100)])
def test_mean_correction_factor_symmetric(rate):
    bits = 5
    slope = readback_slope(lambda code: [rate] * bits, bits)
    assert cf.mean_correction_factor(rate) == 1 / slope
    assert mean_correction_factor(SymmetricChannel(rate)) == 1 / slope
    assert_close(cf.mean_correction_factor(float(rate)), 1 / slope)
    assert_close(mean_correction_factor(float(rate)), 1 / slope)
    assert math.isfinite(mean_correction_factor(float(rate)))


def test_float_closed_forms_keep_their_digits_near_one():
    """Issue 12: kappa_3 lost 4 digits at p = 1 - 1e-12 when the polynomials were expanded."""
    rate = 1 - 1e-12
    for order in (2, 3, 4):
        function = getattr(cf, f"bernoulli_cumulant_{order}")
        assert abs(mpf(function(rate)) / mpf(bernoulli_reference(rate, order)) - 1) <= REL
