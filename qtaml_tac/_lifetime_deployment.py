"""What stays fixed along a lifetime of :mod:`qtaml_tac.lifetime`: the deployment, its plan and its evaluation.

Private: the public names (:func:`~qtaml_tac.lifetime.cells_plan`,
:func:`~qtaml_tac.lifetime.average_flip_rate` and the planning constants) are
re-exported by :mod:`qtaml_tac.lifetime`.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from qtaml_theory.allocation import PROTECTION_ALLOCATION_METHODS, allocate_protection
from qtaml_theory.channels import Channel, MultiLevelChannel, SymmetricChannel
from qtaml_theory.compensation import mean_correction_factor
from qtaml_theory.physics import (
    retention_channel,
)
from qtaml_theory.protection import IdealMSB, Unprotected, scheme_to_dict
from qtaml_theory.validation import as_rate, check_finite_values, check_integer

from ._lifetime_proxy import predicted_deviation
from .calibrate import jacobian_gains
from .evaluate import evaluate
from .inject import ChannelFaults
from .method_registry import get_method
from .methods import DeploymentConfig, plan_deployment
from .plan import Plan
from .storage import StorageConfig, select_parameters

#: Largest surrogate flip rate a plan is made at (mean correction needs p < 1/2).
PLANNING_RATE_CAP = 0.45
#: Largest drift-compensation pre-scaling applied (past it clipping at the top code dominates; Prop 4.1, B.6).
MAX_DRIFT_FACTOR = 2.0
#: Compensation of a lifetime deployment: none, or the multi-level drift factor of the one-step model.
LIFETIME_COMPENSATIONS = ("none", "drift")
#: Calibration inputs drawn from a split for planning and the proxy's gains.
CALIBRATION_SIZE = 64


@dataclasses.dataclass(frozen=True)
class _Deployment:
    """What stays fixed along a lifetime: the model, its data, the device, the cells and the method."""

    model: torch.nn.Module
    batch: torch.Tensor
    inputs: torch.Tensor
    labels: torch.Tensor
    device: object
    bits_per_cell: int
    level_map: str
    method: str
    budget_fraction: float
    compensation: str
    n_bits: int
    trials: int
    seed: int
    temperature_k: float | None
    proxy: bool = True
    menu: object = "ideal_msb"

    @functools.cached_property
    def gains(self):
        """Step 1's gains, computed once when a plan or the proxy first needs them."""
        return jacobian_gains(self.model, self.batch, select_parameters(self.model, StorageConfig(n_bits=self.n_bits)))

    def channel(self, age_s, device=None):
        return retention_channel(device or self.device, age_s, self.bits_per_cell, self.level_map,
                                 temperature_k=self.temperature_k)

    def plan(self, channel, budget_fraction=None, device=None, age_s=None):
        drift = None
        if self.compensation == "drift":
            drift = retention_channel(device or self.device, age_s, self.bits_per_cell, self.level_map,
                                      temperature_k=self.temperature_k, one_step=True)
        budget = self.budget_fraction if budget_fraction is None else budget_fraction
        gains = self.gains if get_method(self.method).uses_jacobian_gains else None
        return cells_plan(self.model, self.batch, channel, self.method, budget, drift, self.n_bits, gains, self.menu)

    def point(self, age_s, plan=None, budget_fraction=None, device=None):
        """One Monte Carlo evaluation at data age ``age_s``: accuracy, interval, proxy."""
        channel = self.channel(age_s, device)
        plan = plan or self.plan(channel, budget_fraction, device, age_s)
        result = evaluate(self.model, plan, self.inputs, self.labels, faults=ChannelFaults(channel),
                          trials=self.trials, seed=self.seed)
        return {
            "age_s": float(age_s), "bits_per_cell": self.bits_per_cell, "level_map": self.level_map,
            "method": self.method, "compensation": self.compensation,
            "budget_fraction": float(self.budget_fraction if budget_fraction is None else budget_fraction),
            "thickness_m": float((device or self.device).thickness_m),
            "flip_rate": average_flip_rate(channel, self.n_bits), "accuracy_mean": result.score_mean,
            "accuracy_std": result.score_std, "ci95": list(result.ci95), "clean_accuracy": result.clean_score,
            "trials": self.trials, "overhead": plan.overhead,
            "predicted_deviation": predicted_deviation(self.model, plan, channel, self.gains) if self.proxy else None,
            **({} if self.menu == "ideal_msb" else {"menu": _menu_name(self.menu), "protection": [
                repr(layer.scheme()) if layer.protection or layer.bits else "Unprotected()" for layer in plan.layers]}),
        }


def cells_plan(model: nn.Module, batch: torch.Tensor, channel: Channel, method: str, budget_fraction: float,
               drift_channel: MultiLevelChannel | None = None, n_bits: int = 8, gains: dict | None = None,
               menu="ideal_msb", *, storage: StorageConfig | None = None, calibration=None) -> Plan:
    """A plan for cells under ``channel``: made at the symmetric surrogate, pre-scaled for the cells' drift.

    The surrogate is the cells' average marginal flip rate, the same for
    every bit: TAC's mean correction needs a channel with an affine drift,
    which a per-plane channel lacks. Where the method allocates protection
    by a knapsack over its scores, the allocation is then made again at the
    cells themselves (:func:`qtaml_theory.allocation.allocate_protection`
    at ``channel``): the uncoded schemes at the cells' exact law, each real
    code at its planes' own average rates
    (:func:`qtaml_theory.protection.independent_planes`, an APPROXIMATION of
    a code's law over cells, whose error is measured in ``docs/lifetime.rst``,
    "Codes over cells").

    Parameters
    ----------
    model : nn.Module
    batch : torch.Tensor
        Calibration inputs.
    channel : Channel
        The cells' channel (its average marginal rate, capped at
        :data:`PLANNING_RATE_CAP`, is the surrogate's ``p``).
    method : str
    budget_fraction : float
    drift_channel : MultiLevelChannel, optional
        A one-step charge-loss channel: every layer is pre-scaled by its
        drift-compensation factor (capped at :data:`MAX_DRIFT_FACTOR`);
        ``None``: no drift compensation.
    n_bits : int
    gains : dict, optional
        Step 1's gains, reused.
    menu : str or sequence of ProtectionScheme
        The protection menu (:attr:`qtaml_tac.DeploymentConfig.protection`):
        ``"ideal_msb"``, ``"codes"`` or a list of schemes.
    storage : StorageConfig, optional
        What is stored and how (default: ``StorageConfig(n_bits=n_bits)``;
        given, its ``n_bits`` is used).
    calibration : CalibrationConfig, optional
        Step 1's settings (default: the config's).

    Returns
    -------
    Plan
    """
    storage = StorageConfig(n_bits=n_bits) if storage is None else storage
    config = DeploymentConfig(p=SymmetricChannel(min(average_flip_rate(channel, storage.n_bits), PLANNING_RATE_CAP)),
                              budget_fraction=budget_fraction, storage=storage, protection=menu,
                              **({} if calibration is None else {"calibration": calibration}))
    plan = _allocated_at_cells(plan_deployment(model, batch, config, method, gains=gains), channel, config)
    if drift_channel is None:
        return plan
    try:
        factor = min(float(mean_correction_factor(drift_channel)), MAX_DRIFT_FACTOR)
    except ValueError:
        factor = MAX_DRIFT_FACTOR  # the drift slope reached -1: the cap binds
    layers = [dataclasses.replace(layer, correction=layer.correction * factor) for layer in plan.layers]
    return dataclasses.replace(plan, layers=layers)


def _allocated_at_cells(plan, channel, config):
    """``plan`` with its allocation made again at the cells themselves (per-plane rates, not the surrogate's one).

    Only for a plan whose method allocates by a knapsack (:data:`PROTECTION_ALLOCATION_METHODS`) over
    its scores: :func:`qtaml_theory.allocation.allocate_protection` at ``channel`` (a multi-level channel's
    uncoded schemes at its exact law, codes at each plane's own average rate). The compensation stays
    the surrogate's (Step 3's decision was made for the surrogate's protection).
    """
    scores = [layer.score for layer in plan.layers]
    if plan.allocation_method not in PROTECTION_ALLOCATION_METHODS or None in scores or channel.bits_per_cell == 1:
        return plan
    sizes = [layer.size for layer in plan.layers]
    budget = math.floor(config.budget_fraction * plan.n_bits * sum(sizes))
    chosen = allocate_protection(sizes, scores, config.menu, budget, plan.n_bits, channel,
                                 method=plan.allocation_method, encoding=config.storage.encoding).protection
    layers = [dataclasses.replace(layer, bits=getattr(scheme, "k", 0),
                                  protection=None if isinstance(scheme, (IdealMSB, Unprotected))
                                  else scheme_to_dict(scheme)) for layer, scheme in zip(plan.layers, chosen)]
    spent = sum(layer.storage_bits(plan.n_bits) for layer in layers)
    return dataclasses.replace(plan, layers=layers, bits_spent=spent, budget_bits=max(budget, spent),
                               notes={**plan.notes, "cells": "protection allocated at the cells' own law"})


def average_flip_rate(channel: Channel, n_bits: int) -> float:
    """The cells' marginal flip rate averaged over every bit of every ``n_bits`` code (a planning surrogate)."""
    codes = np.arange(1 << n_bits, dtype=np.int64)
    bits = (codes[:, None] >> np.arange(n_bits, dtype=np.int64)) & 1
    return float(np.mean(np.asarray(channel.rates_for_bits(bits), dtype=np.float64)))


def _task(data):
    """``(calibration batch, inputs, labels)`` from a split (``x_test``, ``y_test``, ``calibration_batch``) or a 3-tuple."""
    if hasattr(data, "calibration_batch"):
        return data.calibration_batch(CALIBRATION_SIZE), data.x_test, data.y_test
    if isinstance(data, Sequence) and len(data) == 3:
        return tuple(data)
    raise ValueError("data must be a split with x_test, y_test and calibration_batch(size), or a tuple "
                     f"(calibration_batch, inputs, labels), got {type(data).__name__}")


def _choice(value, name, allowed):
    if value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
    return value


def _deployment(model, data, device, method, protection, trials, bits_per_cell, level_map, compensation,
                n_bits, seed, temperature_k, proxy=True, menu="ideal_msb"):
    bits_per_cell = check_integer(bits_per_cell, "bits_per_cell", 1, 3)
    n_bits = check_integer(n_bits, "n_bits", 1, 16)
    if n_bits % bits_per_cell:
        raise ValueError(f"n_bits must be a multiple of bits_per_cell = {bits_per_cell} (whole cells), got {n_bits}")
    _choice(level_map, "level_map", ("gray", "binary"))
    _choice(compensation, "compensation", LIFETIME_COMPENSATIONS)
    batch, inputs, labels = _task(data)
    get_method(method)  # an unknown method fails here, before any work
    return _Deployment(model, batch, inputs, labels, device, bits_per_cell, level_map, method,
                       float(as_rate(protection, "protection")), compensation, n_bits,
                       check_integer(trials, "trials", 2), check_integer(seed, "seed", 0), temperature_k, proxy,
                       DeploymentConfig(storage=StorageConfig(n_bits=n_bits), protection=menu).protection)


def _menu_name(menu):
    """A record's name for a menu: its name, or the schemes' reprs."""
    return menu if isinstance(menu, str) else [repr(scheme) for scheme in menu]


def _check_target(target):
    target = float(check_finite_values(target, "target"))
    if not 0 < target <= 1:
        raise ValueError(f"target must lie in (0, 1] (a fraction of clean accuracy), got {target!r}")
    return target


