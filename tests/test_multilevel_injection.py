"""Bit-exact injection of multi-level cells in qtaml_tac, held against the law (issue 16).

Per stored code, the mean read-back error of the injected masks must match qtaml_theory's formula route (sum
of the cells' exact cumulants) within the standard error at the suite's false-alarm rate; the same draws must
reject the law of the other level map (a planted swap), and protected top bits never change.
"""

import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import ChannelFaults, Chip, quantize, sample_masks
from qtaml_theory import error_cumulants
from qtaml_theory.channels import MultiLevelChannel
from qtaml_theory.verify import FALSE_ALARM, z_threshold

#: A dense 4-level transition (every move possible), far from symmetric, so Gray and binary laws differ.
TRANSITION = np.array([[0.90, 0.06, 0.03, 0.01],
                       [0.10, 0.80, 0.07, 0.03],
                       [0.02, 0.15, 0.78, 0.05],
                       [0.01, 0.04, 0.20, 0.75]])
DRAWS = 8


@pytest.fixture(scope="module")
def storage():
    torch.manual_seed(0)
    return quantize(nn.Linear(200, 250, bias=False))


def per_code_z(storage, draws_of, channel):
    tensor = storage["weight"]
    codes = tensor.codes.numpy()
    errors = np.concatenate([(tensor.decode(tensor.codes ^ mask) - tensor.decode()).flatten().double().numpy()
                             / tensor.scale for mask in draws_of])
    kappa = error_cumulants(storage.encoding, np.arange(256), channel)
    counts = np.bincount(codes, minlength=256) * len(draws_of)
    sums = np.bincount(np.tile(codes, len(draws_of)), weights=errors, minlength=256)
    populated = counts > 400
    z = (sums[populated] / counts[populated] - kappa[0][populated]) / np.sqrt(kappa[1][populated] / counts[populated])
    return z, int(populated.sum())


@pytest.mark.parametrize("level_map", ("gray", "binary"))
def test_injected_cells_match_the_law_and_reject_the_other_level_map(storage, level_map):
    channel = MultiLevelChannel(2, TRANSITION, level_map)
    generator = torch.Generator().manual_seed(5)
    masks = [sample_masks(storage, ChannelFaults(channel), generator=generator)["weight"].dense() for _ in range(DRAWS)]
    z, tests = per_code_z(storage, masks, channel)
    assert np.all(np.abs(z) <= z_threshold(FALSE_ALARM, tests))
    other = MultiLevelChannel(2, TRANSITION, "binary" if level_map == "gray" else "gray")
    z_other, _ = per_code_z(storage, masks, other)
    assert np.any(np.abs(z_other) > z_threshold(FALSE_ALARM, tests))


def test_protected_top_bits_of_cells_never_change(storage):
    channel = MultiLevelChannel(2, TRANSITION, "gray")
    mask = sample_masks(storage, channel, protection={"weight": 3}, generator=torch.Generator().manual_seed(6))
    dense = mask["weight"].dense()
    assert int((dense >> 5).count_nonzero()) == 0
    assert int((dense & 0b11111).count_nonzero()) > 0


def test_seeded_cell_injection_reproduces_and_a_chip_is_refused(storage):
    channel = MultiLevelChannel(2, TRANSITION, "binary")
    first, second = (sample_masks(storage, channel, generator=torch.Generator().manual_seed(7))["weight"].dense()
                     for _ in range(2))
    assert torch.equal(first, second)
    with pytest.raises(ValueError, match="chip"):
        sample_masks(storage, channel, chip=Chip(0))


@pytest.mark.parametrize("exact", (False, True))
def test_a_plan_for_cells_stores_their_channel_and_evaluates_under_it(exact):
    from fractions import Fraction

    from qtaml_tac import DeploymentConfig, Plan, evaluate, plan_deployment
    from qtaml_tac.plan import channel_from_dict, nominal_rate

    rate = (lambda value: Fraction(value).limit_denominator(1000)) if exact else float
    transition = [[rate(value) for value in row] for row in TRANSITION]
    transition = [row[:-1] + [1 - sum(row[:-1])] for row in transition]
    channel = MultiLevelChannel(2, transition, level_map="binary")
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 16), nn.ReLU(), nn.Linear(16, 3))
    batch = torch.randn(32, 12)
    plan = plan_deployment(model, batch, DeploymentConfig(p=channel, budget_fraction=0.1), "uniform_msp")
    loaded = Plan.from_json(plan.to_json())
    assert loaded == plan and channel_from_dict(loaded.channel) == channel
    # The nominal rate averages each bit's marginal rate over equally likely cell values, by hand here.
    values = np.arange(4)
    bits = (values[:, None] >> np.arange(2)) & 1
    assert loaded.p == pytest.approx(np.mean(channel.rates_for_bits(bits).astype(float)), rel=1e-12)
    assert nominal_rate(MultiLevelChannel(1, [[1, 0], [0.25, 0.75]])) == pytest.approx(0.125)
    result = evaluate(model, loaded, batch, model(batch).argmax(1), trials=2, seed=0)
    assert 0 <= result.score_mean <= 1 and result.clean_score == 1
