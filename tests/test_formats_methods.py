"""Every method plans and evaluates on every format (issue 15); a plan carries its scale layout."""

import pytest
import torch
from torch import nn

from qtaml_tac import METHODS, DeploymentConfig, Plan, StorageConfig, evaluate, plan_deployment, storage_for

FORMATS = [StorageConfig(n_bits=4, granularity=("group", 32), symmetric=False, scales_in_faulty_memory=True),
           StorageConfig(encoding="bfloat16", n_bits=16), StorageConfig(encoding="mxfp4", n_bits=4,
                                                                         scales_in_faulty_memory=True)]


def _model():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 8))


def _plans_on(storage, methods):
    model, batch = _model(), torch.randn(8, 32)
    for method in methods:
        plan = plan_deployment(model, batch, DeploymentConfig(p=1e-3, budget_fraction=0.3, storage=storage),
                               method=method)
        assert plan.bits_spent <= plan.budget_bits


@pytest.mark.parametrize("storage", FORMATS, ids=lambda c: c.encoding)
def test_tac_and_a_uniform_code_plan_on_every_format(storage):
    _plans_on(storage, ("tac", "uniform_secded"))


@pytest.mark.slow
@pytest.mark.parametrize("storage", FORMATS, ids=lambda c: c.encoding)
def test_every_method_plans_on_every_format(storage):
    _plans_on(storage, METHODS)


def test_a_plan_carries_its_scale_layout_to_evaluation():
    model, inputs = _model(), torch.randn(32, 32)
    labels = model(inputs).argmax(1)
    plan = plan_deployment(model, inputs[:8], DeploymentConfig(p=1e-3, budget_fraction=0.3, storage=FORMATS[0]))
    again = Plan.from_json(plan.to_json())
    assert again.storage_options == {"granularity": ("group", 32), "symmetric": False,
                                     "scales_in_faulty_memory": True}
    stored = storage_for(model, again)
    assert stored["0.weight"].block == 32 and stored["0.weight"].scale_format == "float16"
    assert evaluate(model, again, inputs, labels, trials=2).clean_score > 0.5
    paper = plan_deployment(model, inputs[:8], DeploymentConfig(p=1e-3, budget_fraction=0.3))
    assert "storage_options" not in paper.to_dict()  # the paper's plans serialize as before


@pytest.mark.parametrize("encoding, n_bits", [("float8_e4m3fn", 8), ("mxfp4", 4)])
def test_a_code_menu_on_a_float_format_is_allocated_by_the_formats_own_law(encoding, n_bits):
    """TAC over real codes weighs each scheme by the float format's residual variance, as the uniform methods do;
    at these points the fixed-point variance (the allocation's default encoding) chooses other schemes."""
    from qtaml_theory.allocation import allocate_protection

    p, budget_fraction = {"float8_e4m3fn": (1e-2, 0.3), "mxfp4": (1e-3, 0.1)}[encoding]
    plan = plan_deployment(_model(), torch.randn(8, 32), DeploymentConfig(
        p=p, budget_fraction=budget_fraction, storage=StorageConfig(encoding=encoding, n_bits=n_bits),
        protection="codes"))
    sizes, scores = [layer.size for layer in plan.layers], [layer.score for layer in plan.layers]
    chosen = [layer.scheme() for layer in plan.layers]
    assert chosen == list(allocate_protection(sizes, scores, "codes", plan.budget_bits, n_bits, p,
                                              encoding=encoding).protection)
    assert chosen != list(allocate_protection(sizes, scores, "codes", plan.budget_bits, n_bits, p).protection)
