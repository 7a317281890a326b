"""The float and microscaling encodings (issue 15): tables from ml_dtypes, rounding, widths, MX blocks."""

import ml_dtypes
import numpy as np
import pytest

from qtaml_theory import get_encoding
from qtaml_theory.float_formats import FLOAT_ENCODINGS, MX_FORMATS, mx_format

WIDTHS = {name: cls.width for name, cls in FLOAT_ENCODINGS.items()}


@pytest.mark.parametrize("name", sorted(FLOAT_ENCODINGS))
def test_wrong_width_is_refused_naming_n_bits(name):
    with pytest.raises(ValueError, match=f"n_bits must be {WIDTHS[name]}"):
        get_encoding(name, WIDTHS[name] + 1)


@pytest.mark.parametrize(("name", "code", "value"), [
    ("float16", 0x3C00, 1.0), ("float16", 0x7BFF, 65504.0), ("float16", 0x0001, 2.0**-24),
    ("bfloat16", 0x3F80, 1.0), ("bfloat16", 0xC000, -2.0),
    ("float8_e4m3fn", 0x7E, 448.0), ("float8_e4m3fn", 0x38, 1.0), ("float8_e4m3fn", 0x01, 2.0**-9),
    ("float8_e5m2", 0x7B, 57344.0), ("float8_e5m2", 0x3C, 1.0),
    ("float6_e2m3fn", 0x1F, 7.5), ("float6_e3m2fn", 0x1F, 28.0), ("float4_e2m1fn", 0x7, 6.0),
    ("float4_e2m1fn", 0xF, -6.0), ("e8m0", 127, 1.0), ("e8m0", 0, 2.0**-127), ("mxint8", 0x40, 1.0),
    ("mxint8", 0x80, -2.0), ("mxfp4", 0x1, 0.5), ("mxfp8_e4m3", 0x7E, 448.0),
])
def test_known_codes_decode_to_the_specified_values(name, code, value):
    encoding = get_encoding(name, WIDTHS[name])
    assert encoding.decode(code) == value
    assert encoding.table[code] == value


@pytest.mark.parametrize(("name", "nan_codes", "inf_codes"), [
    ("float8_e4m3fn", {0x7F, 0xFF}, set()), ("float8_e5m2", {0x7D, 0x7E, 0x7F, 0xFD, 0xFE, 0xFF}, {0x7C, 0xFC}),
    ("e8m0", {0xFF}, set()), ("float4_e2m1fn", set(), set()), ("mxint8", set(), set()),
])
def test_nonfinite_codes_are_the_formats(name, nan_codes, inf_codes):
    encoding = get_encoding(name, WIDTHS[name])
    assert set(np.flatnonzero(np.isnan(encoding.table))) == nan_codes
    assert set(np.flatnonzero(np.isinf(encoding.table))) == inf_codes
    assert set(np.flatnonzero(encoding.nonfinite)) == nan_codes | inf_codes


def test_sixteen_bit_nonfinite_codes_are_the_all_ones_exponents():
    for name, exponent_bits in (("float16", range(10, 15)), ("bfloat16", range(7, 15))):
        encoding = get_encoding(name, 16)
        assert encoding.nonfinite_bits == tuple(exponent_bits) == encoding.exponent_bits
        assert encoding.nonfinite.sum() == 2 * 2 ** (15 - len(exponent_bits))


@pytest.mark.parametrize("name", sorted(FLOAT_ENCODINGS))
def test_every_finite_code_round_trips(name):
    encoding = get_encoding(name, WIDTHS[name])
    codes = np.flatnonzero(~encoding.nonfinite)
    assert np.array_equal(encoding.encode(encoding.table[codes]), codes)


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float6_e2m3fn",
                                  "float6_e3m2fn", "float4_e2m1fn"])
def test_encode_agrees_with_the_ml_dtypes_cast_on_float32_values(name):
    encoding = get_encoding(name, WIDTHS[name])
    dtype = np.float16 if name == "float16" else getattr(ml_dtypes, name)
    rng = np.random.default_rng(7)
    values = (rng.standard_normal(20_000) * np.exp2(rng.integers(-12, 12, 20_000))).astype(np.float32)
    values = np.clip(values, encoding.min_finite, encoding.max_finite).astype(np.float32)
    # midpoints of neighbouring values: ties, which must go to the even code
    finite = np.unique(encoding.table[~encoding.nonfinite])
    midpoints = ((finite[1:] + finite[:-1]) / 2).astype(np.float32)
    values = np.concatenate([values, midpoints]).astype(np.float64)
    cast = values.astype(np.float32).astype(dtype).view(np.uint16 if encoding.n == 16 else np.uint8)
    assert np.array_equal(encoding.encode(values), cast.astype(np.int64))


def test_encode_rounds_float64_once_not_through_float32():
    bf16 = get_encoding("bfloat16", 16)
    value = 1 + 2.0**-8 + 2.0**-30  # just above the midpoint of 1 and 1 + 2**-7
    assert bf16.decode(bf16.encode(value)) == 1 + 2.0**-7
    # a cast through float32 first lands on the midpoint, then ties to even: the double rounding we avoid
    # (ml_dtypes before 0.7 cast float64 this way; 0.7 rounds once, as encode does)
    assert float(np.float64(value).astype(np.float32).astype(ml_dtypes.bfloat16)) == 1.0


def test_ties_go_to_the_even_code_and_zero_keeps_its_sign():
    e2m1 = get_encoding("float4_e2m1fn", 4)
    assert e2m1.encode([2.5, 3.5, 5.0, -0.25, -1e-9]).tolist() == [0x4, 0x6, 0x6, 0x8, 0x8]
    e8m0 = get_encoding("e8m0", 8)  # ties between powers of two go to the even code too (ml_dtypes rounds 3 up)
    assert e8m0.encode([3.0, 6.0, 1.5]).tolist() == [128, 130, 128]


def test_values_beyond_the_finite_range_are_clipped_and_counted():
    e4m3 = get_encoding("float8_e4m3fn", 8)
    codes, n_clipped = e4m3.encode([1e6, -500.0, 448.0, 3.0], return_clipped=True)
    assert n_clipped == 2
    assert e4m3.table[codes].tolist() == [448.0, -448.0, 448.0, 3.0]
    e8m0 = get_encoding("e8m0", 8)
    assert e8m0.encode([0.0, 1.0], return_clipped=True)[1] == 1
    with pytest.raises(ValueError, match="value must be finite"):
        e4m3.encode([np.nan])


@pytest.mark.parametrize("name", sorted(MX_FORMATS))
def test_mx_shared_exponent_follows_the_ocp_rule(name):
    fmt = mx_format(name)
    assert fmt.block_size == 32 and fmt.scale.name == "e8m0"
    # emax_elem is the exponent of the element format's largest normal
    assert int(np.floor(np.log2(fmt.element.max_finite))) == fmt.emax_elem
    rng = np.random.default_rng(3)
    values = rng.standard_normal((4, 64)) * np.exp2(rng.integers(-20, 20, (4, 1)))
    codes, scale_codes = fmt.quantize(values)
    amax = np.abs(values.reshape(4, 2, 32)).max(axis=-1)
    assert np.array_equal(scale_codes - 127, np.floor(np.log2(amax)).astype(int) - fmt.emax_elem)
    restored = fmt.dequantize(codes, scale_codes)
    scale = np.repeat(fmt.scale.table[scale_codes], 32, axis=-1)
    assert np.all(np.abs(restored - values) <= scale * 2.0 ** (fmt.emax_elem + 1) / 4)  # rounding or clamping


def test_mx_bad_input():
    with pytest.raises(ValueError, match="name must be one of"):
        mx_format("mxfp3")
    with pytest.raises(ValueError, match="multiple of block_size=32"):
        mx_format("mxfp4").quantize(np.ones(33))
