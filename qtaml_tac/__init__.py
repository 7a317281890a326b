"""qtaml_tac: Tunneling-Aware Compensation (TAC) on any torch model (paper Section 4.4, Algorithm 1).

Bring a trained model and a small unlabeled batch; get a deployment plan,
bit-exact simulation of the tunneling-prone memory, and a fair comparison
against the baselines. Every formula comes from :mod:`qtaml_theory`.

>>> import torch
>>> from qtaml_tac import DeploymentConfig, plan_deployment, evaluate
>>> model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
>>> batch = torch.randn(32, 8)
>>> plan = plan_deployment(model, batch, DeploymentConfig(p=0.05, budget_fraction=0.25), method="tac")
>>> plan.bits_spent <= 0.25 * 8 * plan.total_weights
True
>>> sorted(plan.excluded)  # what is not stored in the faulty memory (see the reasons)
['0.bias', '2.bias']

Calibration and evaluation run the model in eval mode
(:func:`evaluation_mode`) and give every module its own mode back.
"""

from .calibrate import CalibrationConfig, jacobian_gains, residual_floor_names
from .evaluate import EvaluationResult, evaluate
from .faults import (
    BitRampFaults,
    CellVariationFaults,
    ChannelFaults,
    Chip,
    ClusteredFaults,
    LayerVariationFaults,
)
from .inject import deployed, inject_, sample_masks
from .method_registry import METHOD_REGISTRY, Method, get_method, register_method, unregister_method
from .methods import METHODS, DeploymentConfig, plan_deployment
from .modes import evaluation_mode
from .plan import LayerPlan, Plan, protection_for, storage_for
from .storage import Storage, StorageConfig, excluded_parameters, quantize, select_parameters

__all__ = [
    "StorageConfig", "Storage", "quantize", "select_parameters", "excluded_parameters", "evaluation_mode",
    "ChannelFaults", "BitRampFaults", "CellVariationFaults", "ClusteredFaults", "LayerVariationFaults", "Chip",
    "sample_masks", "inject_", "deployed",
    "CalibrationConfig", "jacobian_gains", "residual_floor_names",
    "DeploymentConfig", "METHODS", "plan_deployment",
    "Method", "METHOD_REGISTRY", "register_method", "unregister_method", "get_method",
    "Plan", "LayerPlan", "storage_for", "protection_for",
    "EvaluationResult", "evaluate",
]
