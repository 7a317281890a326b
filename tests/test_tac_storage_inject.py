"""qtaml_tac storage and bit-exact injection: selection, quantization, per-bit rates, moments, restore."""

import math

import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import (
    BitRampFaults,
    CellVariationFaults,
    ChannelFaults,
    Chip,
    ClusteredFaults,
    LayerVariationFaults,
    StorageConfig,
    deployed,
    inject_,
    quantize,
    sample_masks,
    select_parameters,
)
from qtaml_tac.faults import FaultModel
from qtaml_tac.storage import excluded_parameters
from qtaml_tac.zoo.models import DeepCNN, ResCNN, SequenceTransformer, SmallCNN, WideCNN
from qtaml_theory import DirectionalChannel, PerBitChannel, SymmetricChannel, error_cumulants
from qtaml_theory.verify import FALSE_ALARM, z_threshold


class Zoo(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1, self.c2, self.c3 = nn.Conv1d(2, 3, 3), nn.Conv2d(2, 3, 3), nn.Conv3d(2, 3, 3)
        self.embed, self.linear = nn.Embedding(10, 4), nn.Linear(4, 4)
        self.attention = nn.MultiheadAttention(4, 2)
        self.norm = nn.LayerNorm(4)


def test_default_selection_covers_every_supported_layer_type():
    names = select_parameters(Zoo())
    assert names == ["c1.weight", "c2.weight", "c3.weight", "embed.weight", "linear.weight",
                     "attention.in_proj_weight", "attention.out_proj.weight"]


def test_biases_and_norms_are_opt_in_and_names_or_predicates_select():
    with_bias = select_parameters(Zoo(), StorageConfig(include_bias=True, include_norm=True))
    assert "linear.bias" in with_bias and "attention.in_proj_bias" in with_bias and "norm.weight" in with_bias
    assert select_parameters(Zoo(), StorageConfig(names=("norm.bias",))) == ["norm.bias"]
    only_conv = select_parameters(Zoo(), StorageConfig(filter_fn=lambda name, p: name.startswith("c")))
    assert only_conv == ["c1.weight", "c2.weight", "c3.weight"]


def _module_rule(model, include_bias, include_norm):
    """The selection rule before recurrent layers were stored: by layer type (the reference for the paper's models)."""
    weight_modules = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear, nn.Embedding)
    norms = (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm, nn.modules.instancenorm._InstanceNorm)
    chosen = set()
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        local = dict(module.named_parameters(recurse=False))
        if isinstance(module, weight_modules) and "weight" in local:
            chosen.add(prefix + "weight")
            if include_bias and local.get("bias") is not None:
                chosen.add(prefix + "bias")
        elif isinstance(module, nn.MultiheadAttention):
            chosen.update(prefix + key for key in ("in_proj_weight", "q_proj_weight", "k_proj_weight",
                                                   "v_proj_weight") if local.get(key) is not None)
            if include_bias and local.get("in_proj_bias") is not None:
                chosen.add(prefix + "in_proj_bias")
        elif isinstance(module, norms) and include_norm:
            chosen.update(prefix + key for key, value in local.items() if value is not None)
    return [name for name, _ in model.named_parameters() if name in chosen]


@pytest.mark.parametrize("constructor", [SmallCNN, WideCNN, DeepCNN, ResCNN, SequenceTransformer])
@pytest.mark.parametrize("include_bias", [False, True])
@pytest.mark.parametrize("include_norm", [False, True])
def test_paper_models_store_exactly_what_they_stored_before(constructor, include_bias, include_norm):
    """The weight-matrix rule selects, for the paper's five models, the same names as the old layer-type rule."""
    model = constructor()
    config = StorageConfig(include_bias=include_bias, include_norm=include_norm)
    assert select_parameters(model, config) == _module_rule(model, include_bias, include_norm)


def test_paper_model_selections_are_pinned():
    assert select_parameters(SmallCNN()) == ["conv1.weight", "conv2.weight", "fc1.weight", "fc2.weight"]
    assert select_parameters(SequenceTransformer()) == [
        "embed.weight", *(f"blocks.{b}.{key}" for b in (0, 1) for key in (
            "self_attn.in_proj_weight", "self_attn.out_proj.weight", "linear1.weight", "linear2.weight")),
        "head.weight"]


class Recurrent(nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
        self.gru, self.rnn = nn.GRU(3, 4), nn.RNN(3, 4)
        self.scale = nn.Parameter(torch.ones(4))


def test_recurrent_weights_are_stored_by_default_and_exclusions_say_why():
    model = Recurrent()
    names = select_parameters(model)
    recurrent = [name for name, _ in model.named_parameters() if "weight_" in name]
    assert names == recurrent
    assert {"lstm.weight_hh_l1_reverse", "lstm.weight_hr_l0", "gru.weight_ih_l0", "rnn.weight_hh_l0"} <= set(names)
    excluded = excluded_parameters(model)
    assert set(excluded) == {name for name, _ in model.named_parameters()} - set(names)
    assert "include_bias=True" in excluded["lstm.bias_ih_l0"] and excluded["lstm.bias_ih_l0"].startswith("bias (1-D)")
    assert "not a weight matrix" in excluded["scale"]
    with_bias = select_parameters(model, StorageConfig(include_bias=True))
    assert "gru.bias_hh_l0" in with_bias and "scale" not in with_bias
    assert excluded_parameters(Zoo())["norm.weight"].startswith("parameter of normalization layer LayerNorm")
    only = StorageConfig(names="rnn.weight_ih_l0", filter_fn=lambda name, p: True)
    assert excluded_parameters(model, only)["gru.weight_ih_l0"] == "not in StorageConfig(names=...)"
    none = StorageConfig(filter_fn=lambda name, p: not name.startswith("lstm"))
    assert excluded_parameters(model, none)["lstm.weight_ih_l0"] == "refused by StorageConfig(filter_fn=...)"


def test_quantization_error_is_at_most_half_a_step_and_model_is_untouched():
    model = nn.Linear(64, 32)
    before = model.weight.detach().clone()
    storage = quantize(model)
    tensor = storage["weight"]
    assert torch.equal(model.weight, before)
    assert float((tensor.decode() - before).abs().max()) <= tensor.scale / 2 * (1 + 1e-6)
    assert tensor.clipped == 0
    assert int(tensor.codes.max()) == 255 or int(tensor.codes.min()) == 1  # max|W| maps to +-127 Delta


@pytest.mark.parametrize("encoding", ["offset_binary", "offset_binary_symmetric", "twos_complement", "sign_magnitude"])
def test_every_encoding_stores_and_reads_back(encoding):
    model = nn.Linear(16, 8)
    storage = quantize(model, StorageConfig(n_bits=6, encoding=encoding))
    tensor = storage["weight"]
    assert float((tensor.decode() - model.weight.detach()).abs().max()) <= tensor.scale * 0.5 + 1e-7


P = 0.1
N_WEIGHTS = 200_000


@pytest.fixture(scope="module")
def big_storage():
    torch.manual_seed(0)
    model = nn.Linear(400, 500, bias=False)
    return model, quantize(model)


def test_per_bit_flip_rates_and_pairwise_independence(big_storage):
    """Per-bit rates and pair rates within their binomial standard errors (false alarm <= 1e-6 overall)."""
    _, storage = big_storage
    mask = sample_masks(storage, P, generator=torch.Generator().manual_seed(1))["weight"].dense()
    bits = ((mask[:, None] >> torch.arange(8)) & 1).double()
    threshold = z_threshold(FALSE_ALARM, 8 + 28)
    for i in range(8):
        rate = float(bits[:, i].mean())
        assert abs(rate - P) / math.sqrt(P * (1 - P) / N_WEIGHTS) <= threshold
    for i in range(8):
        for j in range(i + 1, 8):
            joint = float((bits[:, i] * bits[:, j]).mean())
            assert abs(joint - P * P) / math.sqrt(P * P * (1 - P * P) / N_WEIGHTS) <= threshold


def test_readback_moments_on_a_real_tensor_match_section_3(big_storage):
    """Mean and variance of w_hat - w per stored code, against qtaml_theory's formula route."""
    model, storage = big_storage
    tensor = storage["weight"]
    generator = torch.Generator().manual_seed(2)
    draws = 20
    errors = torch.stack([(tensor.decode(tensor.codes ^ sample_masks(storage, P, generator=generator)["weight"].dense())
                           - tensor.decode()).flatten().double() / tensor.scale for _ in range(draws)])
    codes = tensor.codes.numpy()
    kappa = error_cumulants(storage.encoding, np.arange(256), P)
    counts = np.bincount(codes, minlength=256) * draws
    sums = np.bincount(np.tile(codes, draws), weights=errors.flatten().numpy(), minlength=256)
    populated = counts > 2000
    z = (sums[populated] / counts[populated] - kappa[0][populated]) / np.sqrt(kappa[1][populated] / counts[populated])
    assert np.all(np.abs(z) <= z_threshold(FALSE_ALARM, int(populated.sum())))
    overall = errors.flatten().numpy()
    weights = np.bincount(codes, minlength=256)
    # Law of total variance: the state-free variance (Thm A.11) plus the spread of the affine drift (Thm 3.2).
    drift_mean = np.average(kappa[0], weights=weights)
    expected_var = np.average(kappa[1], weights=weights) + np.average((kappa[0] - drift_mean) ** 2, weights=weights)
    assert overall.var() == pytest.approx(expected_var, rel=0.01)


def test_directional_channel_flips_only_stored_ones(big_storage):
    _, storage = big_storage
    codes = storage["weight"].codes
    mask = sample_masks(storage, DirectionalChannel(0.0, 0.2), generator=torch.Generator().manual_seed(3))["weight"].dense()
    assert int((mask & ~codes).count_nonzero()) == 0  # no 0 -> 1 flips
    ones = int(((codes[:, None] >> torch.arange(8)) & 1).sum())
    flipped = int(((mask[:, None] >> torch.arange(8)) & 1).sum())
    assert abs(flipped / ones - 0.2) <= z_threshold(FALSE_ALARM) * math.sqrt(0.2 * 0.8 / ones)


def test_protected_bits_never_flip_and_per_bit_rates_follow_the_channel(big_storage):
    _, storage = big_storage
    rates = [0.0, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.4]
    mask = sample_masks(storage, PerBitChannel(rates), {"weight": 2}, torch.Generator().manual_seed(4))["weight"].dense()
    bits = ((mask[:, None] >> torch.arange(8)) & 1).double().mean(0)
    assert bits[6] == 0 and bits[7] == 0 and bits[0] == 0
    for i in range(1, 6):
        assert abs(float(bits[i]) - rates[i]) <= z_threshold(FALSE_ALARM, 5) * math.sqrt(
            rates[i] * (1 - rates[i]) / N_WEIGHTS)


def test_a_chip_nests_faults_across_rates(big_storage):
    _, storage = big_storage
    chip = Chip(seed=5)
    low = sample_masks(storage, 0.01, chip=chip)["weight"].dense()
    high = sample_masks(storage, 0.05, chip=chip)["weight"].dense()
    assert int((low & ~high).count_nonzero()) == 0 and int(high.count_nonzero()) > int(low.count_nonzero())
    assert torch.equal(low, sample_masks(storage, 0.01, chip=chip)["weight"].dense())


@pytest.mark.parametrize("faults", [BitRampFaults(0.05, 0.8), CellVariationFaults(0.05, 1.0),
                                    ClusteredFaults(0.05, block=32), LayerVariationFaults(0.05, 1.0)], ids=repr)
def test_non_uniform_variants_keep_the_average_rate(big_storage, faults):
    _, storage = big_storage
    assert faults.mean_rate(storage) == pytest.approx(0.05, rel=0.02)
    mask = sample_masks(storage, faults, generator=torch.Generator().manual_seed(6))["weight"].dense()
    measured = float(((mask[:, None] >> torch.arange(8)) & 1).double().mean())
    assert measured == pytest.approx(faults.mean_rate(storage), rel=0.02)


def test_deployed_restores_the_float_weights_exactly_even_on_error():
    model = nn.Linear(32, 16)
    before = model.weight.detach().clone()
    storage = quantize(model)
    with pytest.raises(RuntimeError, match="inside"):
        with deployed(storage, 0.2, generator=torch.Generator().manual_seed(0)):
            assert not torch.equal(model.weight, before)
            raise RuntimeError("inside")
    assert torch.equal(model.weight, before)


def test_seeded_injection_reproduces():
    model = nn.Linear(32, 16)
    storage = quantize(model)
    first = sample_masks(storage, 0.05, generator=torch.Generator().manual_seed(9))["weight"].dense()
    second = sample_masks(storage, 0.05, generator=torch.Generator().manual_seed(9))["weight"].dense()
    assert torch.equal(first, second)


def test_storage_bad_input():
    with pytest.raises(ValueError, match=r"n_bits must be an integer in 1\.\.16"):
        StorageConfig(n_bits=17)
    with pytest.raises(ValueError, match="encoding must be one of"):
        StorageConfig(encoding="gray")
    with pytest.raises(ValueError, match="no positive level at n_bits=1"):
        StorageConfig(n_bits=1)
    StorageConfig(n_bits=1, encoding="offset_binary_symmetric")
    with pytest.raises(ValueError, match="no eligible parameters"):
        quantize(nn.Sequential(nn.ReLU()))
    with pytest.raises(ValueError, match="names not found"):
        select_parameters(nn.Linear(2, 2), StorageConfig(names=("nope",)))
    model = nn.Linear(4, 4)
    with torch.no_grad():
        model.weight[0, 0] = math.nan
    with pytest.raises(ValueError, match="non-finite weights"):
        quantize(model)
    with pytest.raises(ValueError, match=r"protection\[.weight.\] must be an integer in 0\.\.8"):
        sample_masks(quantize(nn.Linear(4, 4)), 0.1, {"weight": 9})
    with pytest.raises(ValueError, match=r"p must be a probability in \[0, 1\]"):
        BitRampFaults(1.5)


def test_sparse_patching_equals_a_full_rewrite():
    """Low rates patch only the flipped weights; the result equals decoding codes XOR mask everywhere."""
    model = nn.Linear(300, 200)
    storage = quantize(model)
    tensor = storage["weight"]
    generator = torch.Generator().manual_seed(11)
    for rate in (1e-3, 0.01, 1e-3):
        masks = sample_masks(storage, rate, generator=generator)
        assert masks["weight"].dense_mask is None  # sparse
        storage.write_(masks)
        assert torch.equal(model.weight.detach(), tensor.decode(tensor.codes ^ masks["weight"].dense()))
    storage.write_()
    assert torch.equal(model.weight.detach(), tensor.decode())
    storage.restore_()


def test_stored_tensors_hold_the_format_only():
    """Stage 1 only: codes, scale, decode table and the float original; injection state lives on the inject side."""
    from dataclasses import fields

    from qtaml_tac.storage import StoredTensor

    assert [f.name for f in fields(StoredTensor)] == ["name", "parameter", "codes", "scale", "factor", "table",
                                                      "original", "clipped", "scales", "block", "zero_points",
                                                      "scale_format", "scale_codes", "zero_point_codes", "bit_order",
                                                      "on_nonfinite", "lookup"]
    tensor = quantize(nn.Linear(4, 4))["weight"]
    assert not any(hasattr(tensor, name) for name in ("dirty", "workspace", "patch_base_", "written_"))


@pytest.mark.parametrize("compiled", ["1", "0"])
def test_injections_stay_exact_around_writes_they_did_not_make(compiled, monkeypatch):
    """Sparse injections after a clean write, a restore, a masked write or a user's edit still read back exactly."""
    monkeypatch.setenv("QTAML_COMPILED", compiled)
    model = nn.Linear(300, 200)
    storage = quantize(model)
    tensor = storage["weight"]
    generator = torch.Generator().manual_seed(14)
    edits = [lambda: None, storage.write_, storage.restore_, lambda: model.weight.fill_(3.0),
             lambda: storage.write_(sample_masks(storage, 0.3, generator=generator)), lambda: None]
    for edit in edits:
        with torch.no_grad():
            edit()
        masks = inject_(storage, 1e-3, generator=generator)
        assert masks["weight"].dense_mask is None  # sparse: only the flipped weights are patched
        assert torch.equal(model.weight.detach(), tensor.decode(tensor.codes ^ masks["weight"].dense()))


def test_every_fault_model_binds_to_a_storage_and_the_draw_uses_the_bound_model():
    storage = quantize(nn.Sequential(nn.Linear(30, 20), nn.Linear(20, 10)))
    for faults in (ChannelFaults(0.1), BitRampFaults(0.1), CellVariationFaults(0.1), ClusteredFaults(0.1)):
        assert faults.bind(storage) is faults
    bound = LayerVariationFaults(0.1, seed=3).bind(storage)
    assert bound == ChannelFaults(0.0, {name: SymmetricChannel(rate)
                                        for name, rate in LayerVariationFaults(0.1, seed=3).layer_rates(storage).items()})
    with pytest.raises(ValueError, match="per_layer"):
        ChannelFaults(0.1, {"nope": 0.2}).bind(storage)

    class Silent(FaultModel):
        """A model of one's own: binds to no flips at all."""

        def bind(self, storage):
            return ChannelFaults(0.0)

    masks = sample_masks(storage, Silent(), generator=torch.Generator().manual_seed(0))
    assert all(int(mask.dense().count_nonzero()) == 0 for mask in masks.values())
