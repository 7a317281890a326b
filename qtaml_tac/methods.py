"""TAC (Algorithm 1) and every baseline, through one interface (Sections 4.4, 4.6, 5.8).

``plan_deployment(model, batch, config, method=...)`` returns a
:class:`~qtaml_tac.plan.Plan` for any method in :data:`METHODS`; the
evaluation harness and the experiments never branch on a method's name.

=====================  ==============================================================
method                 protected bits                  compensation
=====================  ==============================================================
``uncompensated``      none                            none
``mean_only``          none                            ``w / (1 - 2p)`` everywhere (Prop 4.1)
``random_ecc``         allocation with random scores   none
``magnitude_ecc``      allocation with ``s_l = Delta_l**2``  none
``sensitivity_ecc``    allocation with measured per-layer output deviation  none
``uniform_msp``        the same k on every layer       none
``tac_alloc_only``     allocation with Jacobian scores none
``tac``                allocation with Jacobian scores Step 3 per layer
``weight_scaling``     none                            store ``c_l W``, ``c_l = t / max|W_l|``
``tac_exact_mean``     allocation with Jacobian scores the exact MMSE code table
``tac_always_mean``    allocation with Jacobian scores ``w / (1 - 2p)`` on every layer (Table 9's "always")
=====================  ==============================================================

All allocations go through :func:`qtaml_theory.allocation.allocate` at budget
``budget_fraction * n * N`` bits (``"exact"`` by default, the paper's
``"greedy"`` on request), with residual floors where given.

Weight scaling (Fuengfusin & Tamukoh, arXiv 2411.18993) multiplies each layer
by ``c_l = t / max|W_l|`` before storage and divides after read-out. In an
n-bit fixed-point store every method already uses a per-tensor scale, so this
baseline coincides with ``uncompensated`` for ``t = 1`` (the default here);
``t < 1`` leaves headroom unused. We keep it to show that equivalence measured.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import torch

from qtaml_theory import closed_forms as cf
from qtaml_theory.validation import as_rate
from qtaml_theory.allocation import allocate, saturation_ratio
from qtaml_theory.channels import Channel, as_channel
from qtaml_theory.compensation import mean_correction_factor

from .calibrate import (
    CalibrationConfig,
    jacobian_gains,
    mean_correction_decisions,
    output_deviation,
    reference_output,
    residual_floor_names,
)
from .plan import LayerPlan, Plan, channel_to_dict, check_bit_counts, check_integer, check_names, nominal_rate
from .storage import StorageConfig, excluded_parameters, quantize

__all__ = ["METHODS", "DeploymentConfig", "plan_deployment"]

METHODS = (
    "uncompensated", "mean_only", "random_ecc", "magnitude_ecc", "sensitivity_ecc", "uniform_msp",
    "tac_alloc_only", "tac", "weight_scaling", "tac_exact_mean", "tac_always_mean",
)
_NEEDS_MEAN_CORRECTION = ("mean_only", "tac", "tac_always_mean")


@dataclass(frozen=True)
class DeploymentConfig:
    """Everything a method needs to plan a deployment.

    Parameters
    ----------
    p : float, Fraction or Channel
        Deployment flip probability (or channel) of the unprotected bits: any
        real number in [0, 1] that :mod:`qtaml_theory` accepts (Python,
        NumPy, ``Fraction``, SymPy Rational).
    budget_fraction : float or Fraction
        ECC budget as a fraction of all stored bits, in [0, 1].
    storage : StorageConfig
        What is stored and how (n bits, encoding, selection).
    allocation : {"exact", "greedy"}
        The allocator of Step 2.
    floors : dict or "auto" or None
        ``{name: k}`` residual floors, ``k`` an integer in ``0..n_bits``
        (names are checked against the stored parameters when planning);
        ``"auto"`` finds skip-connected layers with ``torch.fx`` and gives
        them ``residual_floor`` bits.
    residual_floor : int
        Floor for auto-detected residual layers, in ``0..n_bits`` (default 1).
    calibration : CalibrationConfig
    weight_scaling_target : float
        ``t`` of the weight-scaling baseline, in (0, 1] (default 1.0).
    seed : int
        Seed of the random-ECC baseline (a non-negative integer).

    Raises
    ------
    ValueError
        Naming the field and its allowed range or type.
    """

    p: object = 0.1
    budget_fraction: float = 0.1
    storage: StorageConfig = field(default_factory=StorageConfig)
    allocation: str = "exact"
    floors: object = None
    residual_floor: int = 1
    calibration: CalibrationConfig = field(default_factory=CalibrationConfig)
    weight_scaling_target: float = 1.0
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.p, Channel):
            as_rate(self.p, "p")
        object.__setattr__(self, "budget_fraction", as_rate(self.budget_fraction, "budget_fraction"))
        if not isinstance(self.storage, StorageConfig):
            raise ValueError(f"storage must be a StorageConfig, got {type(self.storage).__name__}")
        if not isinstance(self.calibration, CalibrationConfig):
            raise ValueError(f"calibration must be a CalibrationConfig, got {type(self.calibration).__name__}")
        if self.allocation not in ("exact", "greedy"):
            raise ValueError(f"allocation must be 'exact' or 'greedy', got {self.allocation!r}")
        n_bits = self.storage.n_bits
        object.__setattr__(self, "residual_floor", check_integer(self.residual_floor, "residual_floor", 0, n_bits))
        if isinstance(self.floors, Mapping):
            floors = {name: check_integer(k, f"floors[{name!r}]", 0, n_bits) for name, k in self.floors.items()}
            object.__setattr__(self, "floors", floors)
        elif self.floors is not None and not (isinstance(self.floors, str) and self.floors == "auto"):
            raise ValueError(f"floors must be None, 'auto' or a {{name: bits}} mapping, got {self.floors!r}")
        target = as_rate(self.weight_scaling_target, "weight_scaling_target")
        if target == 0:
            raise ValueError(f"weight_scaling_target must lie in (0, 1], got {self.weight_scaling_target!r}")
        object.__setattr__(self, "weight_scaling_target", float(target))
        object.__setattr__(self, "seed", check_integer(self.seed, "seed", 0))

    @property
    def channel(self):
        return as_channel(self.p)


def _floors(model, names, config):
    if config.floors is None:
        return np.zeros(len(names), dtype=np.int64)
    if config.floors == "auto":
        inside = set(residual_floor_names(model, names))
        return np.array([config.residual_floor if name in inside else 0 for name in names], dtype=np.int64)
    floors = check_bit_counts(config.floors, "floors", names, config.storage.n_bits)
    return np.array([floors.get(name, 0) for name in names], dtype=np.int64)


def _checked_gains(gains, names):
    if not isinstance(gains, Mapping):
        raise ValueError(f"gains must be a {{name: gain}} mapping, got {type(gains).__name__}")
    check_names(gains, "gains", names)
    missing = [name for name in names if name not in gains]
    if missing:
        raise ValueError(f"gains must cover every stored parameter; missing {missing}")
    for name, gain in gains.items():
        if isinstance(gain, bool) or not isinstance(gain, numbers.Real) or not math.isfinite(gain) or gain < 0:
            raise ValueError(f"gains[{name!r}] must be a finite number >= 0, got {gain!r}")
    return {name: float(gain) for name, gain in gains.items()}


def _scores(method, model, batch, storage, config, gains):
    sizes = np.array([t.size for t in storage], dtype=np.float64)
    scales = np.array([t.scale for t in storage])
    if method in ("tac", "tac_alloc_only", "tac_exact_mean", "tac_always_mean"):
        return scales**2 * np.array([gains[name] for name in storage.names]) / sizes
    if method == "magnitude_ecc":
        return scales**2
    if method == "random_ecc":
        return np.random.default_rng(config.seed).uniform(0, 1, sizes.size)
    if method == "sensitivity_ecc":
        deviation = output_deviation(model, batch, storage, config.channel, config=config.calibration)
        unprotected = cf.protection_cost(float(config.storage.n_bits), 0.0)  # 4**n - 1 (Thm 4.4)
        return np.array([deviation[name] for name in storage.names]) / (sizes * unprotected)
    return None


@torch.no_grad()
def plan_deployment(model, batch, config, method="tac", gains=None):
    """Plan a deployment of ``model`` with ``method`` (Algorithm 1 for ``"tac"``).

    Calibration runs the model in eval mode (:func:`qtaml_tac.calibrate.forward`),
    whatever mode the caller left it in, so a plan does not depend on it; each
    module gets its own mode back.

    Parameters
    ----------
    model : nn.Module
        A trained model; its parameters, buffers and modes are left exactly as they were.
    batch : torch.Tensor
        Unlabeled calibration inputs (a few dozen samples).
    config : DeploymentConfig
    method : str
        One of :data:`METHODS`.
    gains : dict, optional
        Jacobian gains from :func:`qtaml_tac.jacobian_gains` for these
        parameters, to reuse Step 1 across budgets and rates (it depends on
        neither); computed when omitted.

    Returns
    -------
    Plan
        With ``excluded``: the parameters left out of storage and why
        (:func:`qtaml_tac.storage.excluded_parameters`).

    Raises
    ------
    ValueError
        Unknown method; ``p >= 1/2`` with mean correction; a budget below
        the floors (the shortfall in bits); floors or gains naming parameters
        that are not stored, or floors that are not integers in ``0..n_bits``;
        no eligible parameters; non-finite weights; an empty batch, a batch
        with NaN or infinity, a batch that does not fit the model, or a model
        whose output on it is not finite.
    """
    if not isinstance(config, DeploymentConfig):
        raise ValueError(f"config must be a DeploymentConfig, got {type(config).__name__}")
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method in _NEEDS_MEAN_CORRECTION:
        mean_correction_factor(config.channel)  # p >= 1/2 (or no affine drift) fails here, before any work
    storage = quantize(model, config.storage)
    reference_output(model, batch)  # a wrong, empty or non-finite batch fails here, before any work
    names = storage.names
    sizes = np.array([t.size for t in storage], dtype=np.int64)
    n = config.storage.n_bits
    floors = _floors(model, names, config)
    budget = math.floor(config.budget_fraction * n * int(sizes.sum()))  # whole bits
    if not method.startswith("tac"):
        gains = {}
    elif gains is None:
        gains = jacobian_gains(model, batch, names, config.calibration)
    else:
        gains = _checked_gains(gains, names)
    scores = _scores(method, model, batch, storage, config, gains)
    allocation_method = None
    if method == "uniform_msp":
        bits = np.array(allocate(sizes, np.ones(sizes.size), budget, n, floors, method="uniform").bits)
        allocation_method = "uniform"
    elif scores is not None:
        bits = np.array(allocate(sizes, scores, budget, n, floors, method=config.allocation).bits)
        allocation_method = config.allocation
    else:
        bits = floors.copy()
        if sizes @ floors > budget:
            allocate(sizes, np.ones(sizes.size), budget, n, floors)  # raises the shortfall error
    protection = dict(zip(names, bits.tolist()))
    compensation = {name: "none" for name in names}
    if method in ("mean_only", "tac_always_mean"):
        compensation = {name: "mean" for name in names}
    elif method == "tac_exact_mean":
        compensation = {name: "mmse" for name in names}
    elif method == "tac":
        decisions = mean_correction_decisions(model, batch, config.storage, config.channel, protection,
                                              config.calibration)
        compensation = {name: "mean" if decisions[name] else "none" for name in names}
    layers = []
    for index, tensor in enumerate(storage):
        factor = config.weight_scaling_target if method == "weight_scaling" else 1.0
        layers.append(LayerPlan(
            name=tensor.name, size=tensor.size, scale=tensor.scale, gain=gains.get(tensor.name),
            score=None if scores is None else float(scores[index]), bits=int(bits[index]),
            compensation=compensation[tensor.name], factor=factor,
        ))
    rho = None
    if method.startswith("tac") and np.all(scores > 0):
        rho = saturation_ratio(sizes, scores)
    return Plan(method=method, p=nominal_rate(config.channel), n_bits=n, encoding=config.storage.encoding,
                layers=layers, channel=channel_to_dict(config.channel),
                budget_bits=budget, bits_spent=int(sizes @ bits), predicted_rho=rho,
                allocation_method=allocation_method, excluded=excluded_parameters(model, config.storage))
