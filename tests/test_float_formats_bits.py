"""Which bits carry a format's variance, and protection by named positions (issue 15)."""

from fractions import Fraction

import numpy as np
import pytest

from qtaml_theory import WeightError, derive, error_cumulants, get_encoding
from qtaml_theory.channels import PerBitChannel
from qtaml_theory.float_law import bit_variance_share, protection_order
from qtaml_theory.protection import IdealBits, IdealMSB, scheme_from_dict, scheme_to_dict


@pytest.mark.parametrize("n_bits", [3, 8])
def test_offset_binary_order_is_msb_first_and_the_msb_share_is_prop_a12(n_bits):
    encoding = get_encoding("offset_binary", n_bits)
    codes = np.arange(encoding.n_codes)
    share = bit_variance_share(encoding, codes, 1e-3)
    assert protection_order(encoding, codes, 1e-3) == tuple(range(n_bits - 1, -1, -1))
    assert share[-1] == pytest.approx(float(derive.msb_variance_share().subs(derive.n, n_bits)), rel=1e-12)
    assert np.allclose(share, 4.0 ** np.arange(n_bits) / np.sum(4.0 ** np.arange(n_bits)), rtol=1e-12)


def test_ideal_bits_in_the_law_order_is_ideal_msb_for_offset_binary():
    """Exactly (rational rates): IdealBits of the first k positions of the order is IdealMSB(k)."""
    encoding = get_encoding("offset_binary", 6)
    codes = np.arange(encoding.n_codes)
    order = protection_order(encoding, codes, 0.01)
    for k in range(7):
        scheme = IdealBits.from_order(order, k)
        assert scheme.protected_bits(6) == IdealMSB(k).protected_bits(6)
        for code in (0, 17, 63):
            p = Fraction(1, 50)
            assert error_cumulants(encoding, code, p, protection=scheme) == error_cumulants(
                encoding, code, p, protection=IdealMSB(k))


def test_bfloat16_variance_is_carried_by_the_top_exponent_bit_not_the_sign():
    """Weights of scale 0.02 at p = 1e-3: bit 14 (exponent MSB) carries all but ~1e-70 of the variance."""
    bf16 = get_encoding("bfloat16", 16)
    codes = bf16.encode(np.random.default_rng(0).normal(0, 0.02, 4000))
    share = bit_variance_share(bf16, codes, 1e-3)
    order = protection_order(bf16, codes, 1e-3)
    assert order[0] == 14 and share[14] > 1 - 1e-12 and share[15] < 1e-60
    guarded = error_cumulants(bf16, codes[:50], 1e-3, protection=IdealBits.from_order(order, 1))
    top = error_cumulants(bf16, codes[:50], 1e-3, protection=IdealMSB(1))  # guards the sign bit: useless
    assert np.all(guarded[1] < 1e-20 * top[1])


def test_shares_are_the_single_bit_variances():
    """V_i = pi (1 - pi) d_i**2 summed over codes: one bit at a time, by the law's enumeration."""
    e4m3 = get_encoding("float8_e4m3fn", 8)
    codes = e4m3.encode([0.3, -2.0, 100.0])
    share = bit_variance_share(e4m3, codes, 0.01, on_nonfinite="zero")
    single = []
    for i in range(8):
        rates = [0.0] * 8
        rates[i] = 0.01
        single.append(sum(WeightError(e4m3, int(c), PerBitChannel(rates), on_nonfinite="zero").var("enumeration")
                          for c in codes))
    assert np.allclose(share, np.array(single) / sum(single), rtol=1e-10)


def test_ideal_bits_bad_input_and_json():
    with pytest.raises(ValueError, match="positions must be distinct"):
        IdealBits((3, 3))
    with pytest.raises(ValueError, match=r"positions\[1\] must be an integer >= 0"):
        IdealBits((3, -1))
    with pytest.raises(ValueError, match="positions must lie in 0..7"):
        IdealBits((8,)).cost_bits_per_weight(8)
    with pytest.raises(ValueError, match="k must be an integer in 0..3"):
        IdealBits.from_order((2, 1, 0), 4)
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        bit_variance_share(get_encoding("bfloat16", 16), 3, 0.1, on_nonfinite="drop")
    scheme = IdealBits((14, 10))
    assert scheme_from_dict(scheme_to_dict(scheme)) == scheme
    assert scheme.storage_bits(10, 16) == 20
