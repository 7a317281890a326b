"""Every quantity of WeightError by every route: formula, enumeration, Monte Carlo.

One generic walk (STYLE.md, habit 2): the closed form equals exact
enumeration - exactly with rational rates, for every code at n <= 8 and for
sampled codes up to n = 16 - and the Monte Carlo route agrees within a bound
from its standard error (qtaml_theory.verify) at a stated false-alarm rate.
"""

from fractions import Fraction

import numpy as np
import pytest
from conftest import ENCODING_NAMES, exact_channels, float_channels
from hypothesis import given
from hypothesis import strategies as st

from qtaml_theory import WeightError, error_cumulants, get_encoding
from qtaml_theory.channels import DirectionalChannel, PerBitChannel, SymmetricChannel
from qtaml_theory.verify import FALSE_ALARM, FLOAT_RTOL, z_threshold

CHANNEL_KINDS = ("symmetric", "per_bit", "directional")


@pytest.mark.parametrize("kind", CHANNEL_KINDS)
@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 6, 7, 8])
def test_formula_equals_enumeration_exactly_for_every_code(encoding_name, kind, n):
    encoding = get_encoding(encoding_name, n)
    channel = exact_channels(n)[kind]
    for code in range(2**n):
        law = WeightError(encoding, code, channel, delta=Fraction(3, 7))
        assert law.cumulants("formula") == law.cumulants("enumeration"), code


@pytest.mark.parametrize("kind", CHANNEL_KINDS)
@pytest.mark.parametrize("n", [12, 16])
def test_formula_equals_enumeration_exactly_for_sampled_wide_codes(encoding_name, kind, n):
    encoding = get_encoding(encoding_name, n)
    channel = exact_channels(n)[kind]
    rng = np.random.default_rng(n)
    for code in [0, 2**n - 1, *rng.integers(0, 2**n, size=2).tolist()]:
        law = WeightError(encoding, int(code), channel)
        assert law.cumulants("formula") == law.cumulants("enumeration"), code


@pytest.mark.parametrize("kind", CHANNEL_KINDS)
@pytest.mark.parametrize("n", [4, 8, 16])
def test_float_formula_matches_enumeration_to_rounding(encoding_name, kind, n):
    encoding = get_encoding(encoding_name, n)
    channel = float_channels(n)[kind]
    for code in (0, 2 ** (n - 1) + 3, 2**n - 1):
        law = WeightError(encoding, code, channel, delta=0.01)
        formula, enumerated = law.cumulants("formula"), law.cumulants("enumeration")
        scale = np.sqrt(enumerated[1])
        for order, (a, b) in enumerate(zip(formula, enumerated), start=1):
            assert abs(a - b) <= FLOAT_RTOL * max(abs(b), scale**order), (order, a, b)


def test_vectorized_route_equals_the_scalar_route(encoding_name):
    encoding = get_encoding(encoding_name, 8)
    codes = np.arange(256).reshape(16, 16)
    for channel in float_channels(8).values():
        table = error_cumulants(encoding, codes, channel, delta=0.5)
        assert table.shape == (4, 16, 16)
        for code in (0, 37, 128, 255):
            expected = WeightError(encoding, code, channel, delta=0.5).cumulants()
            np.testing.assert_allclose(table[:, code // 16, code % 16], expected, rtol=1e-14, atol=1e-14)


def test_pmf_sums_to_one_and_has_the_enumerated_mean():
    law = WeightError(get_encoding("offset_binary", 6), 41, Fraction(1, 5), delta=Fraction(1, 4))
    pmf = law.pmf()
    assert sum(pmf.values()) == 1
    assert sum(v * q for v, q in pmf.items()) == law.mean()
    assert all(isinstance(v, Fraction) for v in pmf.values())


@pytest.mark.parametrize("encoding_name", ENCODING_NAMES)
def test_characteristic_function_formula_equals_enumeration(encoding_name):
    t = np.linspace(-7.0, 7.0, 41)
    for channel in float_channels(6).values():
        for code in (0, 21, 63):
            law = WeightError(get_encoding(encoding_name, 6), code, channel, delta=0.3)
            np.testing.assert_allclose(law.cf(t), law.cf(t, "enumeration"), rtol=0, atol=1e-13)


# Monte Carlo: every statistic against an independent reference, with its power, in test_law_reference.py.
MC_SIZE = 100_000


def test_montecarlo_characteristic_function_within_standard_error():
    law = WeightError(get_encoding("twos_complement", 8), 77, 0.1, delta=0.02)
    t = np.linspace(-20, 20, 9)
    # |Re| and |Im| of exp(i t delta) are bounded by 1, so each has standard error <= 1/sqrt(N).
    bound = z_threshold(FALSE_ALARM, 2 * t.size) / np.sqrt(MC_SIZE)
    difference = law.cf(t, "montecarlo", size=MC_SIZE, rng=3) - law.cf(t)
    assert np.all(np.abs(difference.real) <= bound) and np.all(np.abs(difference.imag) <= bound)


def test_montecarlo_is_reproducible_with_a_seed():
    law = WeightError(get_encoding("sign_magnitude", 8), 130, 0.1)
    np.testing.assert_array_equal(law.sample(1000, rng=5), law.sample(1000, rng=5))


rates = st.fractions(min_value=0, max_value=1, max_denominator=12)


@st.composite
def exact_laws(draw):
    name = draw(st.sampled_from(ENCODING_NAMES))
    n = draw(st.integers(1, 9))
    kind = draw(st.sampled_from(CHANNEL_KINDS))
    if kind == "symmetric":
        channel = SymmetricChannel(draw(rates))
    elif kind == "per_bit":
        channel = PerBitChannel(draw(st.lists(rates, min_size=n, max_size=n)))
    else:
        channel = DirectionalChannel(draw(rates), draw(rates))
    code = draw(st.integers(0, 2**n - 1))
    delta = draw(st.fractions(min_value=Fraction(1, 50), max_value=4, max_denominator=50))
    return WeightError(get_encoding(name, n), code, channel, delta=delta)


@given(exact_laws())
def test_property_formula_equals_enumeration_for_random_laws(law):
    assert law.cumulants("formula") == law.cumulants("enumeration")
    pmf = law.pmf()
    assert sum(pmf.values()) == 1


@given(exact_laws())
def test_property_variance_nonnegative_and_zero_only_without_flips(law):
    variance = law.var()
    assert variance >= 0
    assert (variance == 0) == (len(law.pmf()) == 1)


def test_the_former_argument_name_p_still_works_with_a_deprecation_warning():
    from qtaml_theory.law import error_cumulants, layer_output_cumulants, sample_errors

    encoding = get_encoding("offset_binary", 4)
    with pytest.warns(DeprecationWarning, match=r"p= is now called channel="):
        former = WeightError(encoding, 3, p=Fraction(1, 10))
    assert former.cumulants() == WeightError(encoding, 3, channel=Fraction(1, 10)).cumulants()
    for call, arguments in ((error_cumulants, (encoding, [3, 5])), (layer_output_cumulants, (encoding, [3, 5]))):
        extra = {"inputs": [1.0, 2.0]} if call is layer_output_cumulants else {}
        with pytest.warns(DeprecationWarning, match=r"p= is now called channel="):
            old = call(*arguments, p=0.1, **extra)
        np.testing.assert_array_equal(old, call(*arguments, channel=0.1, **extra))
    with pytest.warns(DeprecationWarning):
        old = sample_errors(encoding, [3], p=0.1, size=5, rng=0)
    np.testing.assert_array_equal(old, sample_errors(encoding, [3], 0.1, 5, rng=0))
    with pytest.raises(ValueError, match="pass channel= only"):
        WeightError(encoding, 3, p=0.1, channel=0.1)


def test_sample_errors_takes_delta_by_keyword_and_its_former_place_with_a_warning():
    """delta is keyword-only in sample_errors (4th in error_cumulants, so no position can mean the same in both)."""
    import warnings

    from qtaml_theory import get_encoding
    from qtaml_theory.law import sample_errors

    encoding = get_encoding("offset_binary", 4)
    new = sample_errors(encoding, [3], 0.1, 5, 0, delta=0.5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        old = sample_errors(encoding, [3], 0.1, 5, 0, 0.5)
    assert caught and caught[0].category is DeprecationWarning and "delta=" in str(caught[0].message)
    np.testing.assert_array_equal(old, new)
    assert np.all(new == 0.5 * sample_errors(encoding, [3], 0.1, 5, 0))
