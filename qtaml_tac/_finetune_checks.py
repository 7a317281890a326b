"""The argument checks of :func:`qtaml_tac.finetune.finetune` and :func:`~qtaml_tac.finetune.perturbed_weights`."""

from __future__ import annotations

import math
import numbers

import numpy as np

from qtaml_theory.compensation import mean_correction_factor

from ._finetune_noise import NOISES
from .method_registry import get_method
from .plan import Plan, channel_from_dict, channel_to_dict, storage_for

# -- argument checks ---------------------------------------------------------------------------------------

def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return float(value)


def _flag(value, name):
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def _noise_kind(noise):
    if not isinstance(noise, str) or noise not in NOISES:
        raise ValueError(f"noise must be one of {list(NOISES)}, got {noise!r}")
    return NOISES[noise]


def _checked_plan(plan, model, config):
    """``plan`` checked against the model and the configuration (``None`` passes)."""
    if plan is None:
        return None
    if not isinstance(plan, Plan):
        raise ValueError(f"plan must be a qtaml_tac.Plan or None, got {type(plan).__name__}")
    _check_drift_correction(plan, config)
    try:
        storage_for(model, plan)  # the schema, and a plan made for another model
    except ValueError as error:
        raise ValueError(f"plan does not fit the model: {error}") from error
    if channel_from_dict(plan.channel) != config.channel:
        raise ValueError(f"plan was made for the channel {plan.channel}, but config.p is "
                         f"{channel_to_dict(config.channel)}: plan and config must describe one deployment")
    if (plan.n_bits, plan.encoding) != (config.storage.n_bits, config.storage.encoding):
        raise ValueError(f"plan stores {plan.n_bits}-bit {plan.encoding} codes, but config.storage is "
                         f"{config.storage.n_bits}-bit {config.storage.encoding}")
    budget = math.floor(config.budget_fraction * plan.n_bits * plan.total_weights)  # as plan_deployment sets it
    if budget != plan.budget_bits:
        raise ValueError(f"plan was made for a budget of {plan.budget_bits} bits, but config.budget_fraction "
                         f"{config.budget_fraction} gives {budget}: re-planning would change the budget")
    return plan


def _check_drift_correction(plan, config):
    """Refuse ``p`` outside [0, 1/2) when the plan (or re-planning with its method) corrects the drift."""
    if any(layer.compensation == "mean" for layer in plan.layers) or get_method(plan.method).needs_mean_correction:
        try:
            mean_correction_factor(config.channel)
        except ValueError as error:
            raise ValueError(f"config.p: the plan corrects the mean drift, which needs p in [0, 1/2): {error}") \
                from error

