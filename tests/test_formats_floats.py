"""Float and OCP MX storage (issue 15): raw bits with no scale, E8M0 blocks of 32, and what is refused."""

import ml_dtypes
import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import StorageConfig, quantize
from qtaml_theory.float_formats import mx_format


def _linear(dtype=torch.float32):
    torch.manual_seed(1)
    return nn.Linear(64, 16, bias=False).to(dtype)


@pytest.mark.parametrize("encoding, dtype", [("float16", torch.float16), ("bfloat16", torch.bfloat16)])
def test_a_model_in_its_own_format_reads_back_bit_for_bit(encoding, dtype):
    model = _linear(dtype)
    tensor = quantize(model, StorageConfig(encoding=encoding, n_bits=16))["weight"]
    assert torch.equal(tensor.decode(), model.weight.detach())
    raw = model.weight.detach().view(torch.int16).to(torch.int32) & 0xFFFF  # the stored codes are the raw bits
    assert torch.equal(tensor.format_codes(), raw.flatten())


@pytest.mark.parametrize("encoding, n_bits, dtype", [("bfloat16", 16, ml_dtypes.bfloat16),
                                                     ("float8_e4m3fn", 8, ml_dtypes.float8_e4m3fn),
                                                     ("float8_e5m2", 8, ml_dtypes.float8_e5m2)])
def test_float32_weights_round_to_nearest_as_the_cast_does(encoding, n_bits, dtype):
    model = _linear()
    decoded = quantize(model, StorageConfig(encoding=encoding, n_bits=n_bits))["weight"].decode()
    expected = model.weight.detach().numpy().astype(dtype).astype(np.float32)
    np.testing.assert_array_equal(decoded.numpy(), expected)


@pytest.mark.parametrize("name", ["mxfp4", "mxfp8_e4m3", "mxint8"])
def test_mx_storage_is_the_ocp_conversion_block_by_block(name):
    model = _linear()
    fmt = mx_format(name)
    storage = quantize(model, StorageConfig(encoding=name, n_bits=fmt.element.n_bits, scales_in_faulty_memory=True))
    tensor = storage["weight"]
    codes, scale_codes = fmt.quantize(model.weight.detach().double().numpy())
    assert tensor.block == 32
    np.testing.assert_array_equal(tensor.format_codes().numpy(), codes.ravel())
    np.testing.assert_array_equal(tensor.scale_codes.numpy(), scale_codes.ravel())
    np.testing.assert_array_equal(tensor.decode().numpy(),
                                  fmt.dequantize(codes, scale_codes).astype(np.float32))
    assert storage.stored_bits == 1024 * fmt.element.n_bits + 32 * 8  # one E8M0 scale per 32 weights


@pytest.mark.parametrize("kwargs, argument", [
    ({"encoding": "bfloat16", "n_bits": 8}, r"n_bits must be 16 for the format 'bfloat16'"),
    ({"encoding": "mxfp4", "n_bits": 8}, r"n_bits must be 4 for the format 'mxfp4'"),
    ({"encoding": "e8m0", "n_bits": 8}, r"encoding must be one of"),
    ({"encoding": "float17", "n_bits": 8}, r"encoding must be one of"),
    ({"encoding": "float16", "n_bits": 16, "granularity": "channel"}, r"granularity must be 'tensor'"),
    ({"encoding": "mxfp4", "n_bits": 4, "granularity": ("group", 16)}, r"granularity must be 'tensor'.*32"),
    ({"encoding": "mxint8", "n_bits": 8, "symmetric": False}, r"symmetric must be True"),
])
def test_formats_refuse_what_they_cannot_hold(kwargs, argument):
    with pytest.raises(ValueError, match=argument):
        StorageConfig(**kwargs)


@pytest.mark.parametrize("encoding, dtype", [("float16", torch.bfloat16), ("bfloat16", torch.float16)])
def test_a_model_whose_dtype_does_not_match_the_format_is_refused(encoding, dtype):
    with pytest.raises(ValueError, match=rf"encoding '{encoding}' does not match the dtype .*'weight'.*use one of"):
        quantize(_linear(dtype), StorageConfig(encoding=encoding, n_bits=16))


def test_a_bfloat16_model_stores_float8_whose_values_it_holds():
    quantize(_linear(torch.bfloat16), StorageConfig(encoding="float8_e4m3fn", n_bits=8))


def test_mx_rows_must_be_whole_blocks():
    with pytest.raises(ValueError, match=r"granularity=\('group', 32\).*row length 48"):
        quantize(nn.Linear(48, 4), StorageConfig(encoding="mxfp4", n_bits=4))


def test_a_floats_top_stored_bit_is_its_exponents_top_bit_by_the_law():
    """Protecting one stored bit of bfloat16 guards the exponent's top bit (bit 14, the law's first), so no
    weight of magnitude below 1 can read back above 2, even at p = 1/2; unprotected, some read back huge."""
    from qtaml_tac.inject import inject_

    model = _linear()
    storage = quantize(model, StorageConfig(encoding="bfloat16", n_bits=16))
    assert storage["weight"].bit_order[0] == 14
    inject_(storage, 0.5, protection={"weight": 1}, generator=torch.Generator().manual_seed(0))
    guarded = model.weight.detach().abs()
    inject_(storage, 0.5, generator=torch.Generator().manual_seed(0))
    unguarded = model.weight.detach().abs()
    storage.restore_()
    assert float(guarded[guarded.isfinite()].max()) < 2 and float(unguarded[unguarded.isfinite()].max()) > 1e30


@pytest.mark.parametrize("config", [StorageConfig(encoding="bfloat16", n_bits=16),
                                    StorageConfig(encoding="mxfp8_e4m3", n_bits=8, scales_in_faulty_memory=True),
                                    StorageConfig(n_bits=4, granularity=("group", 16), scales_in_faulty_memory=True)],
                         ids=lambda c: c.encoding)
def test_read_policies_for_non_finite_reads(config):
    """At p = 1/2 some codes or scales read back as NaN or infinity (of 1,024 E8M0 scales, about 4 are NaN):
    kept, read as 0, or clamped to the largest finite value (bfloat16's 3.39e38; E8M0's 2**127; float16's 65504)."""
    from dataclasses import replace

    from qtaml_tac.inject import inject_

    torch.manual_seed(1)
    model = nn.Linear(256, 128, bias=False).double()  # float64 holds E8M0's 2**127 times 448 (float32 would not)
    held = {}
    for policy in ("keep", "zero", "clamp"):
        storage = quantize(model, replace(config, on_nonfinite=policy))
        inject_(storage, 0.5, generator=torch.Generator().manual_seed(2))
        held[policy] = model.weight.detach().clone()
        storage.restore_()
    assert not torch.isfinite(held["keep"]).all()
    assert torch.isfinite(held["zero"]).all() and torch.isfinite(held["clamp"]).all()
    finite = torch.isfinite(held["keep"])
    assert torch.equal(held["zero"][finite], held["keep"][finite])
    assert torch.all(held["zero"][~finite] == 0) and not torch.equal(held["clamp"], held["zero"])
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        replace(config, on_nonfinite="nan")
