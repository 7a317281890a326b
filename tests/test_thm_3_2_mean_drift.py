"""Thm 3.2, Cor 3.3, A.8 and Prop 4.1: the mean drift, per encoding and channel."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from qtaml_theory import DirectionalChannel, PerBitChannel, WeightError, _closed_forms, derive, get_encoding
from qtaml_theory.derive import Delta, n, p, p01, p10, sigma, w

P = Fraction(1, 10)
DELTA = Fraction(1, 8)


def test_thm_3_2_symbolic_drift_is_the_papers_statement():
    assert sp.simplify(derive.mean_drift("offset_binary") - (-2 * p * w - p * Delta)) == 0


def test_a8_symbolic_drifts_of_the_other_encodings():
    assert sp.simplify(derive.mean_drift("twos_complement") - (-2 * p * w - p * Delta)) == 0
    assert sp.simplify(derive.mean_drift("offset_binary_symmetric") + 2 * p * w) == 0
    stated = (1 - 2 * p) ** 2 * w + p * (1 - 2 * p) * (2 ** (n - 1) - 1) * Delta * sigma
    assert sp.simplify(derive.sign_magnitude_mean() - stated) == 0


@pytest.mark.parametrize("name", ["offset_binary", "offset_binary_symmetric", "twos_complement"])
@pytest.mark.parametrize("bits", [1, 3, 8])
def test_thm_3_2_closed_form_equals_enumeration_for_every_code(name, bits):
    drift = getattr(_closed_forms, f"mean_drift_{name}")
    encoding = get_encoding(name, bits)
    for code in range(2**bits):
        law = WeightError(encoding, code, P, delta=DELTA)
        assert drift(law.stored_value, P, DELTA) == law.mean("enumeration") == law.mean()


@pytest.mark.parametrize("bits", [2, 5, 8])
def test_a8_sign_magnitude_drift_equals_enumeration_with_the_sign_bit_as_sgn(bits):
    encoding = get_encoding("sign_magnitude", bits)
    expression = derive.sign_magnitude_mean().subs(n, bits)
    for code in range(2**bits):
        law = WeightError(encoding, code, P, delta=DELTA)
        sign = -1 if code >> (bits - 1) else 1  # sgn from the sign bit, also for -0
        expected = expression.subs({w: sp.Rational(law.stored_value), p: sp.Rational(P), Delta: sp.Rational(DELTA),
                                    sigma: sign})
        assert law.mean("enumeration") + law.stored_value == Fraction(str(expected))


def test_cor_3_3_expected_readback_shrinks_by_one_minus_2p():
    encoding = get_encoding("offset_binary", 8)
    values = [WeightError(encoding, q, P, delta=DELTA) for q in range(256)]
    readback = [law.stored_value + law.mean("enumeration") for law in values]
    assert all(r == (1 - 2 * P) * law.stored_value - P * DELTA for r, law in zip(readback, values))


def test_directional_drift_is_affine_with_slope_minus_p01_plus_p10():
    """Extension: charge-loss channels keep an affine drift (proofs/directional_channel.py)."""
    channel = DirectionalChannel(Fraction(1, 50), Fraction(1, 5))
    for name in ("offset_binary", "twos_complement", "offset_binary_symmetric"):
        encoding = get_encoding(name, 6)
        laws = sorted((WeightError(encoding, q, channel) for q in range(64)), key=lambda law: law.stored_value)
        slopes = {(b.mean("enumeration") - a.mean("enumeration")) / (b.stored_value - a.stored_value)
                  for a, b in zip(laws, laws[1:])}
        assert slopes == {-(channel.p01 + channel.p10)}
    symbolic = derive.mean_drift("offset_binary", "directional")
    assert sp.simplify(sp.diff(symbolic, w) + p01 + p10) == 0


def test_directional_variance_depends_on_the_stored_pattern():
    encoding = get_encoding("offset_binary", 6)
    asymmetric = DirectionalChannel(Fraction(1, 50), Fraction(1, 5))
    variances = {WeightError(encoding, q, asymmetric).var("enumeration") for q in range(64)}
    assert len(variances) > 1
    mirrored = DirectionalChannel(Fraction(1, 5), Fraction(4, 5))  # p01 + p10 = 1: state-free again
    assert len({WeightError(encoding, q, mirrored).var("enumeration") for q in range(64)}) == 1


def test_per_bit_channel_variance_is_state_free_but_drift_is_not_affine():
    encoding = get_encoding("offset_binary", 5)
    channel = PerBitChannel([Fraction(1, 2 + i) for i in range(5)])
    laws = [WeightError(encoding, q, channel) for q in range(32)]
    assert len({law.var("enumeration") for law in laws}) == 1
    increments = {b.mean("enumeration") - a.mean("enumeration") for a, b in zip(laws, laws[1:])}
    assert len(increments) > 1


def test_prop_4_1_storing_w_over_1_minus_2p_restores_the_mean():
    """With p = 1/4 the factor is 2, so even codes' halves are representable exactly."""
    quarter = Fraction(1, 4)
    factor = _closed_forms.mean_correction_factor(quarter)
    assert factor == 2
    encoding = get_encoding("offset_binary", 8)
    for value in range(-60, 61, 7):
        stored_code = encoding.encode(float(value * factor))
        law = WeightError(encoding, stored_code, quarter, delta=DELTA)
        target = value * DELTA
        assert law.stored_value + law.mean("enumeration") == target - quarter * DELTA


def test_prop_4_1_factor_diverges_toward_one_half():
    factors = [_closed_forms.mean_correction_factor(x) for x in (0.4, 0.49, 0.499)]
    assert np.all(np.diff(factors) > 0) and factors[-1] == pytest.approx(500)
