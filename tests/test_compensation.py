"""Compensation (Prop 4.1 and beyond): the protected drift, and the MMSE code table."""

from fractions import Fraction

import numpy as np
import pytest

from qtaml_theory import DirectionalChannel, SymmetricChannel, WeightError, _closed_forms, get_encoding
from qtaml_theory.channels import ProtectedChannel
from qtaml_theory.compensation import mean_correction_factor, mmse_codes, readback_table


@pytest.mark.parametrize("protected", [0, 1, 3, 5])
def test_protected_drift_equals_enumeration_for_every_code(protected):
    """With the top k bits protected the drift is p Delta (2^(n-k) - 1 - 2r), r the low bits: not -2 p w."""
    bits, rate, delta = 6, Fraction(1, 10), Fraction(1, 4)
    encoding = get_encoding("offset_binary", bits)
    channel = ProtectedChannel(SymmetricChannel(rate), protected)
    for code in range(2**bits):
        low = code % 2 ** (bits - protected)
        law = WeightError(encoding, code, channel, delta=delta)
        assert law.mean("enumeration") == _closed_forms.protected_mean_drift(bits, protected, low, rate, delta)


def test_protected_channel_never_flips_the_top_bits():
    law = WeightError(get_encoding("twos_complement", 6), 45, ProtectedChannel(0.3, 2))
    assert all(abs(value) < 2**4 for value in law.pmf())


@pytest.mark.parametrize("channel", [SymmetricChannel(0.1), ProtectedChannel(SymmetricChannel(0.1), 3),
                                     DirectionalChannel(0.0, 0.1), ProtectedChannel(DirectionalChannel(0.02, 0.2), 2)],
                         ids=repr)
def test_mmse_codes_are_the_exact_minimizers(channel):
    encoding = get_encoding("offset_binary", 8)
    table = readback_table(encoding, channel)
    values = np.random.default_rng(4).uniform(-140, 140, 5000)
    chosen = mmse_codes(values, table)
    brute = table.variance[None, :] + (table.mean[None, :] - values[:, None]) ** 2
    np.testing.assert_allclose(table.mse(values, chosen), brute.min(axis=1), rtol=1e-12, atol=1e-9)


def test_mmse_beats_both_options_of_step_3_and_mean_correction_hurts_protected_layers():
    encoding = get_encoding("offset_binary", 8)
    values = np.random.default_rng(5).uniform(-127, 127, 20000)
    factor = mean_correction_factor(0.1)
    protected = readback_table(encoding, ProtectedChannel(SymmetricChannel(0.1), 3))
    plain = protected.mse(values, encoding.encode(values)).mean()
    corrected = protected.mse(values, encoding.encode(values * factor)).mean()
    best = protected.mse(values, mmse_codes(values, protected)).mean()
    assert best <= min(plain, corrected)
    assert corrected > 5 * plain  # w/(1-2p) is the wrong correction once the top bits cannot flip
    unprotected = readback_table(encoding, SymmetricChannel(0.1))
    assert unprotected.mse(values, encoding.encode(values * factor)).mean() < unprotected.mse(
        values, encoding.encode(values)).mean()


def test_mean_correction_factor_refuses_p_at_or_above_one_half():
    assert mean_correction_factor(0.25) == 2
    with pytest.raises(ValueError, match=r"p must lie in \[0, 0.5\)"):
        mean_correction_factor(0.5)
    with pytest.raises(ValueError, match=r"protected must be at most the code width 4"):
        readback_table(get_encoding("offset_binary", 4), ProtectedChannel(0.1, 5))


@pytest.mark.parametrize("p", (0.1, 0.01))
def test_stored_mean_correction_undoes_the_shrinkage_and_a_read_out_factor_does_not(p):
    """Prop 4.1 through storage: ``corrections`` stores ``W / (1 - 2p)`` and reads it as stored, so the expected
    read-back of every unclipped weight is ``w - p Delta`` (slope 1); a ``factors`` pre-scaling is divided out at
    the read, so its slope stays ``1 - 2p`` (weight scaling: a finer step, the same drift). Exact expectations
    from the closed-form drift of each stored code, no Monte Carlo."""
    import torch
    from torch import nn

    from qtaml_tac import StorageConfig, plan_deployment, quantize, storage_for
    from qtaml_tac.methods import DeploymentConfig
    from qtaml_theory import error_cumulants

    torch.manual_seed(0)
    layer = nn.Linear(48, 40, bias=False)
    weights = layer.weight.detach().double().flatten().numpy()
    m = float(mean_correction_factor(p))

    def expected_slope(storage):
        tensor = storage["weight"]
        codes = tensor.codes.flatten().numpy()
        step = tensor.scale / tensor.factor
        expected = (tensor.table.numpy()[codes] + error_cumulants(storage.encoding, codes, p)[0]) * step
        unclipped = np.abs(weights) * m < tensor.scale * float(storage.encoding.max_value)
        return np.polyfit(weights[unclipped], expected[unclipped], 1)[0]

    assert expected_slope(quantize(layer, corrections={"weight": m})) == pytest.approx(1.0, abs=0.01)
    assert expected_slope(quantize(layer, factors={"weight": m})) == pytest.approx(1 - 2 * p, abs=0.01)
    # The plan's "mean" compensation stores the correction (and a plan carries a drift pre-compensation the same way).
    plan = plan_deployment(nn.Sequential(layer), torch.randn(8, 48),
                           DeploymentConfig(p=p, budget_fraction=0.0, storage=StorageConfig()), "mean_only")
    assert all(entry.compensation == "mean" for entry in plan.layers)
    stored = storage_for(nn.Sequential(layer), plan)
    assert stored["0.weight"].factor == 1.0
