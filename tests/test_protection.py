"""Protection schemes (stage 3, Lemma 4.2): cost, guarded bits, residual channel, and the law they give."""

from fractions import Fraction

import numpy as np
import pytest
from conftest import ENCODING_NAMES, exact_channels

from qtaml_theory import IdealMSB, ProtectionScheme, Unprotected, WeightError, error_cumulants, get_encoding
from qtaml_theory.channels import ProtectedChannel, SymmetricChannel
from qtaml_theory.law import layer_output_cumulants, sample_errors

N_BITS = 4


def test_ideal_msb_guards_the_top_k_bits_at_k_bits_per_weight():
    assert IdealMSB(3).protected_bits(8) == (5, 6, 7)
    assert IdealMSB(3).cost_bits_per_weight(8) == 3
    assert IdealMSB(0).protected_bits(8) == () and IdealMSB(0).cost_bits_per_weight(8) == 0
    assert IdealMSB(8).protected_bits(8) == tuple(range(8))
    assert Unprotected().protected_bits(8) == () and Unprotected().cost_bits_per_weight(8) == 0
    assert isinstance(IdealMSB(1), ProtectionScheme) and isinstance(Unprotected(), ProtectionScheme)


def test_residual_channels_are_the_cells_channel_and_the_protected_channel():
    base = SymmetricChannel(Fraction(1, 10))
    assert Unprotected().residual_channel(base, 8) is base
    assert Unprotected().residual_channel(0.1, 8) == SymmetricChannel(0.1)
    assert IdealMSB(2).residual_channel(base, 8) == ProtectedChannel(base, 2)


@pytest.mark.parametrize("encoding_name", ENCODING_NAMES)
@pytest.mark.parametrize("channel_kind", ["symmetric", "per_bit", "directional"])
@pytest.mark.parametrize("k", range(N_BITS + 1))
def test_law_under_ideal_msb_equals_the_protected_channel_exactly(encoding_name, channel_kind, k):
    encoding = get_encoding(encoding_name, N_BITS)
    base = exact_channels(N_BITS)[channel_kind]
    codes = list(range(2**N_BITS))
    delta = Fraction(3, 8)
    for code in codes:
        by_scheme = error_cumulants(encoding, code, base, delta, protection=IdealMSB(k))
        by_channel = error_cumulants(encoding, code, ProtectedChannel(base, k), delta)
        assert by_scheme == by_channel and all(isinstance(x, Fraction) for x in by_scheme)
        law = WeightError(encoding, code, base, delta=delta, protection=IdealMSB(k))
        reference = WeightError(encoding, code, ProtectedChannel(base, k), delta=delta)
        assert law.cumulants() == reference.cumulants()
        assert law.cumulants("enumeration") == reference.cumulants("enumeration")
        assert law.pmf() == reference.pmf()
    assert WeightError(encoding, 5, base, protection=None).cumulants() == WeightError(encoding, 5, base).cumulants()
    assert error_cumulants(encoding, 5, base, protection=Unprotected()) == error_cumulants(encoding, 5, base)


def test_arrays_samples_and_layer_outputs_take_the_scheme_too():
    encoding = get_encoding("twos_complement", 8)
    codes = np.arange(256)
    base = SymmetricChannel(0.1)
    np.testing.assert_array_equal(error_cumulants(encoding, codes, base, 0.5, protection=IdealMSB(3)),
                                  error_cumulants(encoding, codes, ProtectedChannel(base, 3), 0.5))
    np.testing.assert_array_equal(sample_errors(encoding, codes, base, 4, rng=7, protection=IdealMSB(3)),
                                  sample_errors(encoding, codes, ProtectedChannel(base, 3), 4, rng=7))
    inputs = np.linspace(-1, 1, 256)
    np.testing.assert_array_equal(layer_output_cumulants(encoding, codes, base, inputs, protection=IdealMSB(3)),
                                  layer_output_cumulants(encoding, codes, ProtectedChannel(base, 3), inputs))


@pytest.mark.parametrize("case", [
    ("k a float", lambda: IdealMSB(2.0), r"k must be an integer >= 0 \(protected top bits\), got 2\.0"),
    ("k a bool", lambda: IdealMSB(True), r"k must be an integer >= 0"),
    ("k negative", lambda: IdealMSB(-1), r"k must be an integer >= 0"),
    ("k a string", lambda: IdealMSB("2"), r"k must be an integer >= 0"),
    ("k above the width", lambda: IdealMSB(9).cost_bits_per_weight(8), r"k must be an integer in 0\.\.8"),
    ("k above the law's width", lambda: error_cumulants(get_encoding("offset_binary", 4), 3, 0.1,
                                                         protection=IdealMSB(5)), r"k must be an integer in 0\.\.4"),
    ("n_bits zero", lambda: Unprotected().protected_bits(0), r"n_bits must be an integer >= 1, got 0"),
    ("an integer for a scheme", lambda: WeightError(get_encoding("offset_binary", 4), 3, 0.1, protection=2),
     r"protection must be None or a ProtectionScheme"),
], ids=lambda case: case[0])
def test_bad_schemes_are_refused_by_name(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()
