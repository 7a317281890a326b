"""Thm A.13 (skewness) and Thm A.14 (excess kurtosis), with their orders as p -> 0."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from qtaml_theory import WeightError, _closed_forms, derive, get_encoding
from qtaml_theory.derive import S3, Delta, n, p

P = Fraction(1, 8)
DELTA = Fraction(1, 4)


def s3(code, bits):
    return sum((1 - 2 * ((code >> i) & 1)) * 8**i for i in range(bits))


@pytest.mark.parametrize("bits", [1, 3, 8])
def test_thm_a13_third_cumulant_follows_the_bit_pattern(bits):
    encoding = get_encoding("offset_binary", bits)
    statement = derive.third_cumulant()
    for code in range(2**bits):
        law = WeightError(encoding, code, P, delta=DELTA)
        expected = statement.subs({p: sp.Rational(P), Delta: sp.Rational(DELTA), S3: s3(code, bits)})
        assert law.cumulants("enumeration")[2] == Fraction(str(expected))


@pytest.mark.parametrize("bits", [1, 3, 8])
def test_thm_a14_fourth_cumulant_is_state_free_and_matches(bits):
    encoding = get_encoding("twos_complement", bits)
    fourth = {WeightError(encoding, q, P, delta=DELTA).cumulants("enumeration")[3] for q in range(2**bits)}
    assert fourth == {_closed_forms.fourth_cumulant_symmetric(bits, P, DELTA)}


def test_thm_a13_skewness_is_of_order_p_to_the_minus_half():
    bits, code = 8, 200
    limit = derive.skewness().subs({n: bits, S3: s3(code, bits)})
    leading = float(sp.limit(sp.sqrt(p) * limit, p, 0, "+"))
    for rate in (1e-4, 1e-6, 1e-8):
        skew = WeightError(get_encoding("offset_binary", bits), code, rate).skewness()
        assert np.sqrt(rate) * skew == pytest.approx(leading, rel=5 * np.sqrt(rate) + 1e-9)


def test_thm_a14_excess_kurtosis_limit_in_n_and_order_in_p():
    kurtosis_limit = sp.limit(derive.excess_kurtosis(), n, sp.oo)
    assert sp.simplify(kurtosis_limit - sp.Rational(3, 5) * (1 - 6 * p * (1 - p)) / (p * (1 - p))) == 0
    for rate in (0.3, 0.05, 1e-3):
        law = WeightError(get_encoding("offset_binary", 32), 12345, rate)
        assert law.excess_kurtosis() == pytest.approx(float(kurtosis_limit.subs(p, rate)), rel=1e-9)
    assert float(sp.limit(p * kurtosis_limit, p, 0, "+")) == pytest.approx(0.6)


def test_excess_kurtosis_is_exact_with_rational_rates():
    law = WeightError(get_encoding("offset_binary", 5), 9, Fraction(1, 6))
    assert isinstance(law.excess_kurtosis(), Fraction)
    assert law.excess_kurtosis() == law.excess_kurtosis("enumeration")
