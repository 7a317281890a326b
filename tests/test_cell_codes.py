"""Real codes over multi-level cells (qtaml_tac.cell_codes) against a direct reference, bit for bit.

The reference is written from the layout of the module's docstring alone:
codewords from the ecc encoders (SyndromeCode.encode on bit arrays), every
cell (data, then check bits or copies, b per cell in order) landing on the
level drawn from its transition row by one uniform of the same seeded
generator, the codewords decoded by SyndromeCode.decode, copies voted, the
failure policy applied. The read-back codes must be identical arrays.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import ChannelFaults, coded_injection, quantize, sample_masks
from qtaml_tac.cell_codes import cell_coded_flips, cells_of
from qtaml_theory import WeightError, get_encoding
from qtaml_theory.channels import DirectionalChannel, MultiLevelChannel, SymmetricChannel
from qtaml_theory.ecc import DETECTED
from qtaml_theory.protection import BCH, SECDED, Repetition, independent_planes

N_BITS = 6
DENSE = [[0.80, 0.10, 0.06, 0.04], [0.15, 0.75, 0.06, 0.04], [0.03, 0.12, 0.80, 0.05], [0.02, 0.03, 0.10, 0.85]]


def _landed_masks(values, cells, rng):
    """Each cell's read-back XOR mask: the first mask ``m`` whose cumulative probability exceeds its uniform."""
    uniforms = rng.random(values.size)
    out = np.zeros(values.size, dtype=np.int64)
    for index, (value, u) in enumerate(zip(values.tolist(), uniforms.tolist())):
        level = cells.level_of_value[value]
        total = 0.0
        for mask in range(cells.levels):
            total += float(cells.transition[level][cells.level_of_value[value ^ mask]])
            if u < total:
                break
        out[index] = mask
    return out


def _pack(stream, b):
    padded = np.zeros(-(-stream.size // b) * b, dtype=np.int64)
    padded[:stream.size] = stream
    return padded.reshape(-1, b) @ (1 << np.arange(b))


def _unpack(masks, b, size):
    return ((masks[:, None] >> np.arange(b)) & 1).ravel()[:size]


def reference_read_back(codes, n_bits, scheme, cells, seed):
    """Read-back codes (and which weights read as zero) written from the layout, with the codes' own encoder."""
    rng = np.random.default_rng(seed)
    b, size, k = cells.bits_per_cell, codes.size, scheme.k
    data_values = ((codes[:, None] >> (np.arange(n_bits // b) * b)) & ((1 << b) - 1)).ravel()
    data_masks = _landed_masks(data_values, cells, rng).reshape(size, -1)
    read = codes ^ (data_masks << (np.arange(n_bits // b) * b)).sum(axis=1)
    zeroed = np.zeros(size, dtype=bool)
    planes = range(n_bits - k, n_bits)
    if isinstance(scheme, Repetition):
        copies = np.stack([(codes >> j) & 1 for j in planes], axis=1)  # (size, k)
        stream = np.tile(copies.ravel(), scheme.copies - 1)
        flips = _unpack(_landed_masks(_pack(stream, b), cells, rng), b, stream.size)
        copies_read = (stream ^ flips).reshape(scheme.copies - 1, size, k)
        for q, j in enumerate(planes):
            votes = ((read >> j) & 1) + copies_read[:, :, q].sum(axis=0)
            majority = (votes > scheme.copies // 2).astype(np.int64)
            read = (read & ~(1 << j)) | (majority << j)
        return read, zeroed
    code = scheme.code
    words = math.ceil(size / code.data_bits)
    data = np.zeros((k, words * code.data_bits), dtype=np.uint8)
    for q, j in enumerate(planes):
        data[q, :size] = (codes >> j) & 1
    codewords = code.encode(data.reshape(k, words, code.data_bits))
    stream = codewords[..., code.data_bits:].ravel()
    flips = _unpack(_landed_masks(_pack(stream, b), cells, rng), b, stream.size)
    received = codewords.copy()
    received[..., code.data_bits:] ^= flips.reshape(k, words, code.check_bits).astype(np.uint8)
    for q, j in enumerate(planes):
        padded = np.zeros(words * code.data_bits, dtype=np.uint8)
        padded[:size] = (read >> j) & 1
        received[q, :, :code.data_bits] = padded.reshape(words, code.data_bits)
    decoded, status = code.decode(received)
    for q, j in enumerate(planes):
        bit = decoded[q].ravel()[:size].astype(np.int64)
        read = (read & ~(1 << j)) | (bit << j)
        if scheme.on_failure == "zero":
            zeroed |= np.repeat(status[q] == DETECTED, code.data_bits)[:size]
    return read, zeroed


SCHEMES = [Repetition(2), Repetition(3, copies=5), SECDED(4, data_bits=8), SECDED(2, data_bits=16, on_failure="zero"),
           BCH(4, 16, 2), BCH(2, 64, 2, on_failure="zero")]
CELLS = [MultiLevelChannel(2, DENSE, "gray"), MultiLevelChannel(2, DENSE, "binary"),
         MultiLevelChannel(3, np.eye(8) * 0.7 + 0.3 / 8, "gray"), DirectionalChannel(0.02, 0.2)]


@pytest.mark.parametrize("route", ["numpy", "compiled"])
@pytest.mark.parametrize("scheme", SCHEMES, ids=repr)
@pytest.mark.parametrize("channel", CELLS, ids=lambda c: repr(c)[:40])
def test_cell_codes_equal_the_direct_reference_bit_for_bit(monkeypatch, route, scheme, channel):
    if route == "numpy":
        monkeypatch.setattr(coded_injection, "compiled_kernels", lambda: None)
    n_bits = N_BITS
    if scheme.k * 1 > n_bits or n_bits % channel.bits_per_cell:
        pytest.skip("the scheme or cells do not fit the width")
    codes = np.random.default_rng(1).integers(0, 1 << n_bits, 203)
    cells = cells_of(channel, n_bits)
    positions, values, zeroed = cell_coded_flips(codes, n_bits, scheme, cells, np.random.default_rng(7), cache={})
    mask = np.zeros(codes.size, dtype=np.int64)
    mask[positions] = values
    read = codes ^ mask
    expected, expected_zeroed = reference_read_back(codes, n_bits, scheme, cells, 7)
    is_zeroed = np.zeros(codes.size, dtype=bool)
    is_zeroed[zeroed] = True
    np.testing.assert_array_equal(is_zeroed, expected_zeroed)
    np.testing.assert_array_equal(read[~is_zeroed], expected[~is_zeroed])
    assert (read != codes).any()  # the channel is noisy enough that the comparison means something


def test_cells_of_keeps_independent_planes_on_the_plane_route():
    assert cells_of(SymmetricChannel(0.1), 8) is None
    slc = cells_of(DirectionalChannel(0.01, 0.3), 8)
    assert slc.transition == ((0.99, 0.01), (0.3, 0.7))


@pytest.fixture(scope="module")
def storage():
    torch.manual_seed(0)
    return quantize(nn.Sequential(nn.Linear(40, 30), nn.Linear(30, 5)))


def test_injection_through_cells_reproduces_with_its_seed(storage):
    faults = ChannelFaults(MultiLevelChannel(2, DENSE, "gray"))
    protection = {name: SECDED(4, data_bits=8) for name in storage.names}  # 8-bit codes: 4 MLC cells a weight
    draws = [sample_masks(storage, faults, protection, torch.Generator().manual_seed(3)) for _ in range(2)]
    other = sample_masks(storage, faults, protection, torch.Generator().manual_seed(4))
    for name in storage.names:
        assert torch.equal(draws[0][name].dense(), draws[1][name].dense())
    assert any(not torch.equal(draws[0][n].dense(), other[n].dense()) for n in storage.names)


def test_weight_error_with_a_code_at_cells_asks_for_the_named_approximation():
    cells = MultiLevelChannel(2, DENSE, "gray")
    encoding = get_encoding("offset_binary", N_BITS)
    with pytest.raises(ValueError, match="independent_planes"):
        WeightError(encoding, 10, cells, protection=SECDED(2, data_bits=8))
    approximate = WeightError(encoding, 10, independent_planes(cells, N_BITS), protection=SECDED(2, data_bits=8))
    assert approximate.var() > 0
    with pytest.raises(ValueError, match="n_bits must be a multiple of bits_per_cell"):
        independent_planes(cells, 7)


def test_independent_planes_average_the_cells_marginal_rates():
    # Gray MLC, one-step loss only from level 1 (value 1) to level 0: the low bit of value 1 flips with q;
    # averaged over the four equally likely values the low plane flips at q / 4, the high plane never.
    q = 0.2
    cells = MultiLevelChannel(2, [[1, 0, 0, 0], [q, 1 - q, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], "gray")
    rates = independent_planes(cells, 4).rates
    assert rates == pytest.approx([q / 4, 0, q / 4, 0])


def test_lifetime_curve_with_real_codes_records_its_menu_and_reproduces(digit_task):
    from qtaml_tac.lifetime import lifetime_curve, retention_device
    from qtaml_theory.physics import SECONDS_PER_YEAR

    model, split = digit_task
    options = {"method": "tac", "protection": 0.1, "trials": 2, "bits_per_cell": 2, "level_map": "gray",
               "menu": "codes"}
    times = (12 * SECONDS_PER_YEAR,)
    first = lifetime_curve(model, split, retention_device("sio2"), times, **options)
    again = lifetime_curve(model, split, retention_device("sio2"), times, **options)
    assert first == again
    row = first[0]
    assert row["menu"] == "codes" and len(row["protection"]) == 4
    assert any(scheme.startswith(("Repetition", "SECDED", "BCH")) for scheme in row["protection"])
    assert 0 < row["overhead"] <= 0.1
    paper = lifetime_curve(model, split, retention_device("sio2"), times, **{**options, "menu": "ideal_msb"})[0]
    assert "menu" not in paper and "protection" not in paper
    with pytest.raises(ValueError, match="protection"):
        lifetime_curve(model, split, retention_device("sio2"), times, **{**options, "menu": "hamming"})
