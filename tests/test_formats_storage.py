"""Scale granularity, zero points and scales in faulty memory (issue 15): storage and bit-exact injection.

The read-back after injection is held against a direct NumPy reference,
``(table[code ^ mask] - z[i // block]) * (scale[i // block] / factor)`` rounded
once to float32, with faulty scales decoded by NumPy's own float16.
"""

import ml_dtypes
import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import StorageConfig, quantize, sample_masks
from qtaml_tac.inject import inject_
from qtaml_theory.channels import PerBitChannel


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 32), nn.ReLU(), nn.Conv1d(4, 6, 8))


def test_channel_scales_are_each_rows_max_over_max_level():
    model = _model()
    storage = quantize(model, StorageConfig(granularity="channel"))
    weight = model[0].weight.detach().double()
    tensor = storage["0.weight"]
    assert tensor.block == 64 and tensor.scales.numel() == 32
    assert torch.equal(tensor.scales, weight.abs().amax(1) / 127)
    assert tensor.scale == pytest.approx(float((tensor.scales**2).mean().sqrt()), rel=1e-15)


@pytest.mark.parametrize("group", [8, 16, 32])
def test_groups_run_along_the_input_dimension_as_torchao_lays_them_out(group):
    model = _model()
    storage = quantize(model, StorageConfig(n_bits=4, granularity=("group", group)))
    weight = model[0].weight.detach().double()
    expected = weight.reshape(32, 64 // group, group).abs().amax(2).flatten() / 7
    assert torch.equal(storage["0.weight"].scales, expected)
    conv = model[2].weight.detach().double().reshape(6, -1)  # [out, in * k] = [6, 32]
    assert torch.equal(storage["2.weight"].scales, conv.reshape(6, 32 // group, group).abs().amax(2).flatten() / 7)
    error = (storage["0.weight"].decode().double() - weight).abs().reshape(32, -1, group)
    assert torch.all(error <= expected.reshape(32, -1, 1) / 2 * (1 + 1e-6))


def test_a_group_that_does_not_divide_a_row_is_refused():
    with pytest.raises(ValueError, match=r"granularity=\('group', 48\).*row length 64.*'0.weight'"):
        quantize(_model(), StorageConfig(granularity=("group", 48)))


@pytest.mark.parametrize("granularity", ["row", ("group", 0), ("group", 2.0), ("groups", 4), ("group",), 3])
def test_bad_granularity_names_the_argument(granularity):
    with pytest.raises(ValueError, match="granularity"):
        StorageConfig(granularity=granularity)


@pytest.mark.parametrize("flag", ["symmetric", "scales_in_faulty_memory"])
def test_flags_must_be_booleans(flag):
    with pytest.raises(ValueError, match=flag):
        StorageConfig(**{flag: "yes"})


def test_asymmetric_scales_hold_zero_exactly_and_span_each_group():
    model = nn.Linear(32, 4, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.linspace(-0.2, 1.0, 128).reshape(4, 32))
        model.weight[:, 0] = 0.0
    storage = quantize(model, StorageConfig(n_bits=4, granularity=("group", 16), symmetric=False))
    tensor = storage["weight"]
    decoded = tensor.decode().double()
    assert torch.all(decoded[:, 0] == 0)
    weight = model.weight.detach().double().reshape(-1, 16)
    span = weight.amax(1).clamp(min=0) - weight.amin(1).clamp(max=0)
    assert torch.allclose(tensor.scales, span / 15, rtol=1e-15)
    assert tensor.clipped == 0
    assert torch.all((decoded.reshape(-1, 16) - weight).abs() <= tensor.scales[:, None] / 2 * (1 + 1e-6))


def test_default_storage_is_todays_per_tensor_storage():
    model = _model()
    tensor = quantize(model)["0.weight"]
    weight = model[0].weight.detach()
    scale = float(weight.abs().max()) / 127
    assert tensor.scale == scale and tensor.lookup is not None and tensor.scale_format is None
    assert torch.equal(tensor.decode(), (tensor.table * scale).to(torch.float32)[tensor.codes].reshape(32, 64))


def test_faulty_scales_are_float16_rounded_up_and_count_in_stored_bits():
    model = _model()
    safe_storage = quantize(model, StorageConfig(n_bits=4, granularity=("group", 16), symmetric=False))
    faulty_storage = quantize(model, StorageConfig(n_bits=4, granularity=("group", 16), symmetric=False,
                                                   scales_in_faulty_memory=True))
    safe, faulty = safe_storage["0.weight"], faulty_storage["0.weight"]
    held = faulty.scale_codes.numpy().astype(np.uint16).view(np.float16).astype(np.float64)
    assert np.array_equal(held, faulty.scales.numpy())
    assert np.all(held >= safe.scales.numpy()) and np.all(held <= safe.scales.numpy() * (1 + 2**-10))
    # a 16-bit scale and zero point per group of 16: 0.weight (2048 weights) and 2.weight (192 weights)
    assert faulty_storage.stored_bits == safe_storage.stored_bits == (2048 + 192) * 4 + (128 + 12) * 32


def _reference(tensor, mask):
    """NumPy read-back of one tensor under ``mask`` (a FlipMask), independent of the torch decode."""
    codes = tensor.codes.numpy().astype(np.int64) ^ mask.dense().numpy()
    blocks = np.arange(codes.size) // tensor.block
    scales, zeros = tensor.scales.numpy(), None if tensor.zero_points is None else tensor.zero_points.numpy()
    if mask.scale_mask is not None:
        raw, dtype = {"float16": (np.uint16, np.float16), "e8m0": (np.uint8, ml_dtypes.float8_e8m0fnu)}[
            tensor.scale_format]
        scales = (tensor.scale_codes.numpy() ^ mask.scale_mask.numpy()).astype(raw).view(dtype)
        scales = scales.astype(np.float64)
        if zeros is not None:
            zeros = (tensor.zero_point_codes.numpy() ^ mask.zero_point_mask.numpy()).astype(raw)
            zeros = zeros.view(dtype).astype(np.float64)
    levels = tensor.table.numpy()[codes]
    with np.errstate(invalid="ignore", over="ignore"):  # flips may read back as NaN or infinity
        if zeros is not None:
            levels = levels - zeros[blocks]
        return (levels * (scales / tensor.factor)[blocks]).astype(np.float32)


CONFIGS = [StorageConfig(granularity="channel"), StorageConfig(n_bits=4, granularity=("group", 8)),
           StorageConfig(n_bits=4, granularity=("group", 16), symmetric=False),
           StorageConfig(n_bits=4, granularity=("group", 16), symmetric=False, scales_in_faulty_memory=True),
           StorageConfig(n_bits=8, scales_in_faulty_memory=True),
           StorageConfig(n_bits=3, encoding="twos_complement", granularity=("group", 4), scales_in_faulty_memory=True),
           StorageConfig(encoding="bfloat16", n_bits=16), StorageConfig(encoding="float8_e4m3fn"),
           StorageConfig(encoding="float4_e2m1fn", n_bits=4),
           StorageConfig(encoding="mxfp4", n_bits=4, scales_in_faulty_memory=True),
           StorageConfig(encoding="mxint8", n_bits=8, scales_in_faulty_memory=True),
           StorageConfig(encoding="mxfp8_e4m3", n_bits=8)]


@pytest.mark.parametrize("compiled", ["1", "0"])
@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.encoding}-{c.n_bits}-{c.granularity}-"
                         f"{c.symmetric}-{c.scales_in_faulty_memory}")
def test_injection_matches_a_numpy_reference_bit_for_bit(config, compiled, monkeypatch):
    monkeypatch.setenv("QTAML_COMPILED", compiled)
    model = _model()
    storage = quantize(model, config)
    parameters = dict(model.named_parameters())
    for p in (1e-3, 0.3, 1e-2, 0.0):  # sparse, dense, sparse after dense, none
        masks = sample_masks(storage, p, generator=torch.Generator().manual_seed(5))
        inject_(storage, p, generator=torch.Generator().manual_seed(5))
        for tensor in storage:
            got = parameters[tensor.name].detach().numpy().ravel()
            np.testing.assert_array_equal(got, _reference(tensor, masks[tensor.name]))
        if config.scales_in_faulty_memory and p > 0:  # the scales' flips were drawn (and checked above)
            assert sum(int(mask.scale_mask.count_nonzero()) for mask in masks.values()) > 0 or p < 0.1
    storage.restore_()


@pytest.mark.parametrize("config", [StorageConfig(n_bits=4, granularity=("group", 16), symmetric=False,
                                                   scales_in_faulty_memory=True),
                                     StorageConfig(encoding="mxfp8_e4m3", n_bits=8, scales_in_faulty_memory=True)],
                         ids=["int4-group-asym", "mxfp8"])
def test_flipped_scales_patch_their_blocks_as_a_full_rewrite_would(config, monkeypatch):
    """A draw whose scales flip patches their blocks (kernel_dispatch.PATCHED_SHARE); the read-back is the one of
    rewriting the whole tensor, bit for bit, through a sequence of draws that each put back the previous one."""
    import qtaml_tac.kernel_dispatch as dispatch

    readbacks = []
    for share in (0.0, 1.0):  # always rewrite, always patch
        monkeypatch.setattr(dispatch, "PATCHED_SHARE", share)
        torch.manual_seed(0)
        model = nn.Linear(256, 64, bias=False)
        storage = quantize(model, config)
        generator = torch.Generator().manual_seed(3)
        draws = []
        for p in (1e-3, 1e-2, 1e-3, 0.0):
            masks = inject_(storage, p, generator=generator)
            assert masks["weight"].dense_mask is None  # sparse weight flips
            draws.append((model.weight.detach().clone().view(torch.int32), int(masks["weight"].scale_mask.count_nonzero())))
        readbacks.append(draws)
    assert all(torch.equal(a, b) and n == m for (a, n), (b, m) in zip(*readbacks))
    assert readbacks[0][0][1] > 0  # a scale flipped in the first draw


def test_faulty_scales_need_a_channel_with_rates_at_their_width():
    storage = quantize(_model(), StorageConfig(n_bits=4, granularity="channel", scales_in_faulty_memory=True))
    with pytest.raises(ValueError, match="scales_in_faulty_memory"):
        inject_(storage, PerBitChannel([0.01] * 4))


def test_uneven_rows_can_fall_back_to_a_scale_per_channel():
    model = _model()
    storage = quantize(model, StorageConfig(n_bits=4, granularity=("group", 48), uneven_rows="channel"))
    assert storage["0.weight"].block == 64 and storage["2.weight"].block == 32  # rows of 64 and 32: per channel
    with pytest.raises(ValueError, match="uneven_rows must be one of"):
        StorageConfig(uneven_rows="pad")


@pytest.mark.parametrize("p", [1e-3, 0.05])  # the sparse and the dense draw of the scale bits
def test_scale_and_zero_point_bits_flip_at_the_channel_rate(p):
    """Flipped scale and zero-point bits over many draws: |count - mean| <= 4.5 binomial standard deviations
    (two-sided false alarm 6.8e-6). A rate 5% off moves the count by at least 6 standard deviations at these
    sizes, so it is caught with probability above 0.9; every one of the 16 positions must flip."""
    torch.manual_seed(0)
    storage = quantize(nn.Linear(256, 64, bias=False),
                       StorageConfig(n_bits=4, granularity=("group", 16), symmetric=False, scales_in_faulty_memory=True))
    draws = 500 if p < 0.01 else 12
    generator = torch.Generator().manual_seed(11)
    by_position = np.zeros(16)
    for _ in range(draws):
        mask = sample_masks(storage, p, generator=generator)["weight"]
        for flips in (mask.scale_mask, mask.zero_point_mask):
            by_position += ((flips.numpy()[:, None] >> np.arange(16)) & 1).sum(axis=0)
    bits = draws * 2 * 1024 * 16
    assert abs(by_position.sum() - bits * p) <= 4.5 * np.sqrt(bits * p * (1 - p))
    assert np.all(by_position > 0)
