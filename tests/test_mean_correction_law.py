"""Step 3 from the law (issue 18): Lemma 4.3's residual second moment against the simulated read-back.

The truth comes from another route: bit-exact noisy read-backs drawn by
:func:`qtaml_tac.sample_masks` and decoded by the storage. Tolerances are
4.5 standard errors of the Monte Carlo mean (false alarm about 7e-6 per
comparison, normal approximation; seeds fixed); with 100 read-backs of 16,384
weights the relative standard error is below 1%, so a 5% error in the
second moment is caught (power > 0.99).
"""

import pytest
import torch
from torch import nn

from qtaml_tac import CalibrationConfig, ChannelFaults, StorageConfig, quantize, sample_masks
from qtaml_tac.calibrate import forward, mean_correction_decisions
from qtaml_tac.mean_correction_law import _table, predicted_deviations, second_moment
from qtaml_theory.compensation import mean_correction_factor
from qtaml_theory.protection import IdealMSB

P = 0.1
TOLERANCE = 4.5


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 8)).eval()


@pytest.mark.parametrize("factor, k", [(1.0, 0), (1.0, 6), ("mean", 0), ("mean", 6)])
def test_second_moment_matches_the_simulated_read_back(factor, k):
    model = _model()
    factor = mean_correction_factor(P) if factor == "mean" else factor
    storage = quantize(model, StorageConfig(names=("0.weight",)), factors={"0.weight": factor})
    tensor = storage["0.weight"]
    law = second_moment(tensor, _table(storage.encoding, P, IdealMSB(k)))
    generator = torch.Generator().manual_seed(5)
    errors = []
    for _ in range(100):
        mask = sample_masks(storage, ChannelFaults(P), {"0.weight": k}, generator)["0.weight"]
        read = tensor.decode(torch.bitwise_xor(tensor.codes, mask.dense())).double()
        errors.append(float(((read - tensor.original.double()) ** 2).mean()))
    errors = torch.tensor(errors, dtype=torch.float64)
    error = float(errors.std() / len(errors) ** 0.5)
    assert error < 0.01 * law
    assert abs(float(errors.mean()) - law) < TOLERANCE * error, (float(errors.mean()), law, error)


def _float_deviation(model, batch, name, k, factor, trials=30):
    """Measured ``E||f(W_hat) - f(W)||**2`` against the float model, flips on ``name`` only."""
    clean = forward(model, batch)
    storage = quantize(model, StorageConfig(names=(name,)), factors={name: factor})
    generator = torch.Generator().manual_seed(2)
    total = 0.0
    with torch.no_grad():
        try:
            for _ in range(trials):
                storage.write_(sample_masks(storage, ChannelFaults(P), {name: k}, generator))
                total += float(((forward(model, batch) - clean) ** 2).sum())
        finally:
            storage.restore_()
    return total / trials


@pytest.mark.parametrize("k", [0, 7])
def test_law_decision_agrees_with_the_deviation_against_the_float_model(k):
    """Unprotected: the correction's finer read-back wins; 7 protected bits: its clipping loses (Lemma 4.3)."""
    model, batch = _model(), torch.randn(32, 64, generator=torch.Generator().manual_seed(1))
    protection = {"0.weight": k, "2.weight": 8}
    decisions = mean_correction_decisions(model, batch, StorageConfig(), P, protection, CalibrationConfig())
    factor = mean_correction_factor(P)
    simulated = _float_deviation(model, batch, "0.weight", k, factor) < _float_deviation(model, batch, "0.weight", k, 1)
    assert decisions == {"0.weight": simulated, "2.weight": False}
    assert decisions["0.weight"] == (k == 0)


def test_predicted_deviations_scale_with_the_gain():
    model = _model()
    unit = predicted_deviations(model, StorageConfig(), P, {})
    scaled = predicted_deviations(model, StorageConfig(), P, {}, gains={"0.weight": 2.0, "2.weight": 3.0})
    assert scaled["0.weight"] == pytest.approx(tuple(2 * v for v in unit["0.weight"]), rel=1e-12)
    assert scaled["2.weight"] == pytest.approx(tuple(3 * v for v in unit["2.weight"]), rel=1e-12)


def test_law_gives_the_same_decisions_with_the_plans_plain_storage():
    model, batch = _model(), torch.randn(4, 64)
    protection = {"0.weight": 0, "2.weight": 7}
    alone = mean_correction_decisions(model, batch, StorageConfig(), P, protection)
    reused = mean_correction_decisions(model, batch, StorageConfig(), P, protection, storage=quantize(model))
    assert alone == reused == {"0.weight": True, "2.weight": False}


def test_affine_read_back_route_equals_the_per_tensor_step():
    """The route for per-channel or per-group storage (read-back from the storage's decoding) on per-tensor storage."""
    from qtaml_tac.mean_correction_law import _affine_readback

    storage = quantize(_model(), StorageConfig(names=("0.weight",)), factors={"0.weight": mean_correction_factor(P)})
    tensor = storage["0.weight"]
    table = _table(storage.encoding, P, IdealMSB(2))
    slope, offset = _affine_readback(tensor)
    assert torch.allclose(slope, torch.full_like(slope, tensor.scale / tensor.factor), rtol=1e-6)
    assert torch.allclose(offset, torch.zeros_like(offset), atol=1e-6 * tensor.scale)
    per_tensor = second_moment(tensor, table)
    tensor.zero_points = torch.zeros(1, dtype=torch.float64)  # a zero point forces the general route
    general = second_moment(tensor, table)
    assert general == pytest.approx(per_tensor, rel=1e-5) and general != per_tensor
