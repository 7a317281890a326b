"""Encodings (Section 3, A.8) and flip channels (A.1): codes, values, rates."""

from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from qtaml_theory import DirectionalChannel, PerBitChannel, SymmetricChannel, get_encoding
from qtaml_theory.channels import as_channel, mask_probabilities


def reference_value(name, n, q):
    """The encodings' definitions, written out independently of the package."""
    half = 2 ** (n - 1)
    if name == "offset_binary":
        return q - half
    if name == "offset_binary_symmetric":
        return Fraction(2 * q - (2**n - 1), 2)
    if name == "twos_complement":
        return q - 2**n if q >= half else q
    magnitude = q % half
    return -magnitude if q >= half else magnitude


@pytest.mark.parametrize("n", [1, 2, 3, 8])
def test_decode_matches_the_definitions_for_every_code(encoding_name, n):
    encoding = get_encoding(encoding_name, n)
    codes = np.arange(2**n)
    expected = [reference_value(encoding_name, n, q) for q in range(2**n)]
    assert [encoding.decode(q) for q in range(2**n)] == expected
    np.testing.assert_array_equal(encoding.decode(codes), np.array(expected, dtype=float))


@pytest.mark.parametrize("n", [1, 4, 8, 16, 32])
def test_encode_inverts_decode(encoding_name, n):
    encoding = get_encoding(encoding_name, n)
    rng = np.random.default_rng(n)
    codes = rng.integers(0, 2**n, size=200, dtype=np.int64)
    values = encoding.decode(codes)
    recoded = encoding.encode(values)
    np.testing.assert_array_equal(encoding.decode(recoded), values)
    if encoding_name != "sign_magnitude":  # sign-magnitude has two zero codes
        np.testing.assert_array_equal(recoded, codes)


def test_encode_rounds_to_nearest_and_counts_clipped_values(encoding_name):
    encoding = get_encoding(encoding_name, 4)
    low, high = float(encoding.min_value), float(encoding.max_value)
    values = np.array([low - 3.0, low, 0.26, high, high + 0.7, high + 100.0])
    codes, clipped = encoding.encode(values, return_clipped=True)
    assert clipped == 3
    decoded = encoding.decode(codes)
    assert decoded[0] == low and decoded[-1] == high and decoded[-2] == high
    grid = encoding.decode(np.arange(16))
    assert decoded[2] == grid[np.argmin(np.abs(grid - 0.26))]


def test_scalar_encode_returns_an_int():
    encoding = get_encoding("offset_binary", 8)
    assert encoding.encode(3.4) == 131
    assert encoding.encode(3.4, return_clipped=True) == (131, 0)


@pytest.mark.parametrize("n", [1, 2, 5, 32])
def test_linear_bit_weights_reproduce_decode(n):
    for name in ("offset_binary", "offset_binary_symmetric", "twos_complement"):
        encoding = get_encoding(name, n)
        for q in (0, 1, 2**n - 1, 2 ** (n - 1)):
            bits = [(q >> i) & 1 for i in range(n)]
            assert encoding.offset + sum(b * c for b, c in zip(bits, encoding.bit_weights)) == encoding.decode(q)


def test_twos_complement_weights_sum_to_minus_one():
    for n in range(1, 33):
        assert sum(get_encoding("twos_complement", n).bit_weights) == -1


def test_sign_magnitude_weights_are_the_magnitude_bits():
    encoding = get_encoding("sign_magnitude", 5)
    assert encoding.bit_weights == (1, 2, 4, 8) and encoding.sign_bit == 4
    assert encoding.encode(-0.2) == 0  # zero is stored with a clear sign bit


def test_directional_channel_rates_depend_on_the_stored_bit():
    channel = DirectionalChannel(Fraction(1, 10), Fraction(1, 4))
    rates = channel.rates_for_bits(np.array([0, 1, 1, 0]))
    assert list(rates) == [Fraction(1, 10), Fraction(1, 4), Fraction(1, 4), Fraction(1, 10)]
    assert channel.is_exact


def test_per_bit_channel_indexes_bit_zero_as_least_significant():
    channel = PerBitChannel([0.1, 0.2, 0.3])
    np.testing.assert_array_equal(channel.rates_for_bits(np.array([[1, 0, 1]])), [[0.1, 0.2, 0.3]])
    assert not channel.is_exact


def test_rates_accept_floats_fractions_and_sympy_rationals():
    assert SymmetricChannel(sp.Rational(1, 8)).p == Fraction(1, 8)
    assert SymmetricChannel(Fraction(1, 8)) == as_channel(sp.Rational(1, 8))
    assert isinstance(SymmetricChannel(0.125).p, float)
    assert as_channel(0.25) == SymmetricChannel(0.25)


def test_symbolic_rates_specialize_to_the_channel_values():
    bit = sp.Symbol("b")
    channel = DirectionalChannel(Fraction(1, 10), Fraction(1, 4))
    rate = channel.symbolic_rate(bit, 0).subs(channel.symbolic_values(1))
    assert rate.subs(bit, 0) == sp.Rational(1, 10) and rate.subs(bit, 1) == sp.Rational(1, 4)


def test_mask_probabilities_are_the_product_law_in_mask_order():
    """Entry m is prod pi_i^m_i (1 - pi_i)^(1 - m_i), bit 0 least significant; they sum to 1."""
    rates = [0.1, 0.25, 0.5, 0.03]
    probabilities = mask_probabilities(rates)
    for mask in range(16):
        expected = np.prod([r if mask >> i & 1 else 1 - r for i, r in enumerate(rates)])
        assert probabilities[mask] == pytest.approx(expected, rel=1e-15)
    assert probabilities.sum() == pytest.approx(1.0, rel=1e-15)
