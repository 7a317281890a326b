"""sensitivity_ecc on the 16-bit floats (issue 15): the deviation is measured in float64, finite, and it is the law's."""

import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import DeploymentConfig, StorageConfig, plan_deployment
from qtaml_tac._sensitivity import sensitivity_deviation
from qtaml_tac.calibrate import CalibrationConfig, output_deviation
from qtaml_tac.storage import quantize
from qtaml_theory import error_cumulants, get_encoding
from qtaml_theory._law_float import raw_moments


def test_a_bfloat16_layer_s_measured_deviation_is_finite_and_the_law_s():
    """One linear layer, bfloat16 at p = 1e-3: float32 measures inf; the float64 measure matches the law.

    The law: ``E ||dW x||**2`` averaged over the batch is ``sum_ij S_jj E[d_ij**2] + sum_i m_i' S m_i`` off the
    diagonal (``S = X'X / B``, ``m`` the means), exact from the per-weight raw moments. A trial's deviation
    is dominated by its diagonal terms, whose variance is ``sum_ij S_jj**2 Var(d_ij**2)``; 64 independent
    trials are held at 5 of their standard errors (false alarm about 6e-7 under the normal approximation;
    each trial holds about two flips of bit 14, so the mean of 64 is near normal). Power: the standard error
    is about 9% of the law (the trials' spread is the Poisson count of those flips), so a score off by a
    factor 2 (a missed or doubled term) lies about 11 standard errors away and fails with probability near 1;
    float32's inf fails outright.
    """
    torch.manual_seed(0)
    model = nn.Linear(64, 32, bias=False).to(torch.bfloat16)
    signs = torch.randint(0, 2, (32 + 16, 64)).to(torch.bfloat16) * 2 - 1
    with torch.no_grad():  # weights of one magnitude and inputs of +-1: every bit-14 flip weighs the same (0.75
        model.weight.copy_(signs[:32] * 0.75)  # reads 2.6e38, and no second flip goes much beyond: 3.4e38 at most)
    batch = signs[32:]
    storage = quantize(model, StorageConfig(encoding="bfloat16", n_bits=16, on_nonfinite="clamp"))
    assert output_deviation(model, batch, storage, 1e-3)["weight"] == float("inf")  # the reason
    codes = storage["weight"].format_codes().numpy().astype(np.int64).reshape(32, 64)
    m1, m2, _, m4 = raw_moments(error_cumulants(get_encoding("bfloat16", 16), codes, 1e-3, on_nonfinite="clamp"))
    x = batch.double().numpy()
    s = x.T @ x / x.shape[0]
    law = float((m2 * np.diag(s)).sum() + sum(m @ s @ m - (m**2 * np.diag(s)).sum() for m in m1))
    standard_error = np.sqrt(float(((m4 - m2**2) * np.diag(s) ** 2).sum()) / 64)
    before = [p.detach().clone() for p in model.parameters()]
    measured = sensitivity_deviation(model, batch, storage, 1e-3, CalibrationConfig(trials=64))["weight"]
    assert np.isfinite(measured)
    assert abs(measured - law) <= 5 * standard_error, (measured, law, standard_error)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))  # the caller's model is untouched


@pytest.mark.parametrize("encoding", ["bfloat16", "float16"])
def test_sensitivity_ecc_plans_on_the_16_bit_floats_with_finite_scores(encoding):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))
    storage = StorageConfig(encoding=encoding, n_bits=16)  # on_nonfinite="keep": measured as "zero"
    plan = plan_deployment(model, torch.randn(8, 32), DeploymentConfig(p=1e-3, budget_fraction=0.3, storage=storage),
                           method="sensitivity_ecc")
    scores = [layer.score for layer in plan.layers]
    assert all(np.isfinite(scores)) and min(scores) > 0 and plan.bits_spent <= plan.budget_bits
