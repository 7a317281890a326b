"""Thm A.11 (variance), Prop A.12 (MSB share) and Lemma 4.2 (protected bits)."""

from fractions import Fraction

import pytest
import sympy as sp

from qtaml_theory import PerBitChannel, WeightError, _closed_forms, derive, get_encoding
from qtaml_theory.derive import Delta, n, p

P = Fraction(3, 20)
DELTA = Fraction(1, 16)


def test_thm_a11_symbolic_variance_is_the_papers_statement():
    assert sp.simplify(derive.variance() - Delta**2 * p * (1 - p) * (4**n - 1) / 3) == 0


@pytest.mark.parametrize("name", ["offset_binary", "offset_binary_symmetric", "twos_complement"])
@pytest.mark.parametrize("bits", [1, 4, 8])
def test_thm_a11_variance_is_the_same_for_every_stored_value(name, bits):
    encoding = get_encoding(name, bits)
    variances = {WeightError(encoding, q, P, delta=DELTA).var("enumeration") for q in range(2**bits)}
    assert variances == {_closed_forms.variance_symmetric(bits, P, DELTA)}


def test_sign_magnitude_variance_depends_on_the_magnitude():
    """Not in the paper: a sign flip moves the value by 2|w|, so the variance grows with |w|."""
    encoding = get_encoding("sign_magnitude", 6)
    variances = [WeightError(encoding, q, P).var("enumeration") for q in range(32)]
    assert all(a < b for a, b in zip(variances, variances[1:]))


@pytest.mark.parametrize("bits", [1, 2, 5, 8, 12])
def test_prop_a12_msb_share_equals_the_enumerated_share(bits):
    encoding = get_encoding("offset_binary", bits)
    code = 2 ** (bits - 1) + 1 if bits > 1 else 0
    msb_only = PerBitChannel([0] * (bits - 1) + [P])
    share = WeightError(encoding, code, msb_only).var("enumeration") / WeightError(encoding, code, P).var("enumeration")
    assert share == Fraction(str(derive.msb_variance_share().subs(n, bits)))
    assert share == pytest.approx(_closed_forms.msb_variance_share(bits), rel=1e-15)


def test_prop_a12_msb_share_tends_to_three_quarters():
    share = derive.msb_variance_share()
    exact = [share.subs(n, bits) for bits in range(1, 33)]
    assert all(a > b > sp.Rational(3, 4) for a, b in zip(exact, exact[1:]))
    assert _closed_forms.msb_variance_share(32) == pytest.approx(0.75, rel=1e-15)
    assert sp.limit(derive.msb_variance_share(), n, sp.oo) == sp.Rational(3, 4)


@pytest.mark.parametrize("bits", [4, 8])
def test_lemma_4_2_protected_variance_equals_enumeration(bits):
    encoding = get_encoding("offset_binary", bits)
    for protected in range(bits + 1):
        channel = PerBitChannel([P] * (bits - protected) + [0] * protected)
        for code in (0, 2 ** (bits - 1), 2**bits - 1):
            law = WeightError(encoding, code, channel, delta=DELTA)
            assert law.var("enumeration") == _closed_forms.variance_protected(bits, protected, P, DELTA)


@pytest.mark.parametrize("bits", [1, 2, 6])
def test_sign_magnitude_variance_formula_equals_enumeration(bits):
    encoding = get_encoding("sign_magnitude", bits)
    expression = derive.sign_magnitude_variance().subs(n, bits)
    for code in range(2**bits):
        law = WeightError(encoding, code, P, delta=DELTA)
        sign = -1 if code >> (bits - 1) else 1
        expected = expression.subs({derive.w: sp.Rational(law.stored_value), p: sp.Rational(P),
                                    Delta: sp.Rational(DELTA), derive.sigma: sign})
        assert law.var("enumeration") == Fraction(str(expected))


def test_twos_complement_and_symmetric_grid_share_the_offset_binary_variance():
    for name in ("twos_complement", "offset_binary_symmetric"):
        assert sp.simplify(derive.variance(name) - derive.variance()) == 0
