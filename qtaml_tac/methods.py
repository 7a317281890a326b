"""TAC (Algorithm 1) and every baseline, through one interface (Sections 4.4, 4.6, 5.8).

``plan_deployment(model, batch, config, method=...)`` returns a
:class:`~qtaml_tac.plan.Plan` for any registered method: it looks the
:class:`~qtaml_tac.method_registry.Method` record up in
:data:`~qtaml_tac.method_registry.METHOD_REGISTRY` (the table of the
paper's eleven methods is there) and follows its score, allocator,
compensation and weight-scaling fields. Nothing here, in the evaluation
harness or in the experiments branches on a method's name; a user adds a
method with :func:`~qtaml_tac.method_registry.register_method`.

All allocations spend a budget of ``budget_fraction * n * N`` bits
(``"exact"`` by default, the paper's ``"greedy"`` on request). Over the
paper's menu (``protection="ideal_msb"``, top bits that never flip) they go
through :func:`qtaml_theory.allocation.allocate`, with residual floors where
given; over a menu of real codes (``protection="codes"`` or a list of
schemes) through :func:`qtaml_theory.allocation.allocate_protection`, which
pays each code's real check bits and weighs its exact residual law. The
``uniform_<scheme>`` baselines put one code on every layer, whatever it costs.

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
from qtaml_theory.allocation import allocate, allocate_protection, residual_variance, saturation_ratio
from qtaml_theory.channels import Channel, as_channel
from qtaml_theory.compensation import mean_correction_factor
from qtaml_theory.protection import IdealMSB, Unprotected, protection_menu, scheme_from_dict, scheme_to_dict
from qtaml_theory.validation import as_rate, check_integer

from ._sensitivity import sensitivity_deviation
from .calibrate import (
    CalibrationConfig,
    jacobian_gains,
    mean_correction_decisions,
    reference_output,
    residual_floor_names,
)
from .method_registry import METHOD_REGISTRY, METHODS, Method, get_method, register_method, unregister_method
from .plan import LayerPlan, Plan, channel_to_dict, check_bit_counts, check_names, nominal_rate, storage_options
from .scale_variance import scale_flip_variance
from .storage import StorageConfig, excluded_parameters, quantize

__all__ = ["METHODS", "DeploymentConfig", "plan_deployment", "Method", "METHOD_REGISTRY", "register_method",
           "unregister_method", "get_method"]


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
    protection : str or sequence of ProtectionScheme
        The menu every allocating method picks each layer's protection from:
        ``"ideal_msb"`` (the default and the paper's: top bits that never
        flip, one stored bit each), ``"codes"`` (real codes:
        :func:`qtaml_theory.protection.protection_menu` documents it), or a
        list of schemes. Residual floors apply to ``"ideal_msb"`` only.

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
    protection: object = "ideal_msb"

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
        menu = protection_menu(self.protection, n_bits)
        if not isinstance(self.protection, str):
            object.__setattr__(self, "protection", menu)
        if self.protection != "ideal_msb" and self.floors is not None:
            raise ValueError(f"floors apply to protection='ideal_msb' only (top bits that never flip), got "
                             f"floors={self.floors!r} with protection={self.protection!r}")

    @property
    def channel(self):
        return as_channel(self.p)

    @property
    def menu(self) -> tuple:
        """The schemes of :attr:`protection` for the stored bit width."""
        return protection_menu(self.protection, self.storage.n_bits)


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


def _jacobian_scores(model, batch, storage, config, gains):
    """Step 1's ``s_l = Delta_l**2 G_l / N_l``."""
    sizes = np.array([t.size for t in storage], dtype=np.float64)
    scales = np.array([t.scale for t in storage])
    return scales**2 * np.array([gains[name] for name in storage.names]) / sizes


def _magnitude_scores(model, batch, storage, config, gains):
    """``s_l = Delta_l**2``."""
    return np.array([t.scale for t in storage]) ** 2


def _random_scores(model, batch, storage, config, gains):
    """Uniform random scores from the config's seed."""
    return np.random.default_rng(config.seed).uniform(0, 1, len(storage.names))


def _sensitivity_scores(model, batch, storage, config, gains):
    """Measured output deviation per weight, over the unprotected cost ``4**n - 1`` (Thm 4.4); float and MX
    formats measured in float64 (:mod:`qtaml_tac._sensitivity`), where bfloat16's exponent flips stay finite."""
    sizes = np.array([t.size for t in storage], dtype=np.float64)
    deviation = sensitivity_deviation(model, batch, storage, config.channel, config=config.calibration)
    unprotected = cf.protection_cost(float(config.storage.n_bits), 0.0)  # 4**n - 1 (Thm 4.4)
    return np.array([deviation[name] for name in storage.names]) / (sizes * unprotected)


_SCORERS = {"jacobian": _jacobian_scores, "magnitude": _magnitude_scores, "random": _random_scores,
            "sensitivity": _sensitivity_scores}


def _user_scores(method, model, batch, storage, config):
    """A callable score's output, checked: one finite number >= 0 per stored tensor."""
    scores = np.asarray(method.score(model, batch, storage, config), dtype=np.float64)
    if scores.shape != (len(storage.names),) or not np.all(np.isfinite(scores)) or np.any(scores < 0):
        raise ValueError(f"the score of method {method.name!r} must return {len(storage.names)} finite numbers "
                         f">= 0 (one per stored tensor), got {scores!r}")
    return scores


def _scores(method, model, batch, storage, config, gains):
    """The method's per-layer scores, or ``None`` for score ``"none"``."""
    if callable(method.score):
        return _user_scores(method, model, batch, storage, config)
    scorer = _SCORERS.get(method.score)
    return None if scorer is None else scorer(model, batch, storage, config, gains)


def _allocated(method, sizes, scores, budget, n, floors, config, storage):
    """Each layer's protection scheme and the allocator's name (``None``: no allocation)."""
    if method.protection is not None:
        return [scheme_from_dict({**method.protection, "k": n})] * sizes.size, None
    if config.protection == "ideal_msb":
        return [IdealMSB(int(k)) for k in _allocated_bits(method, sizes, scores, budget, n, floors, config)], \
            (config.allocation if method.allocator == "configured" else method.allocator)
    menu = config.menu
    if method.allocator is None:
        cheapest = min(menu, key=lambda scheme: sum(scheme.storage_bits(int(size), n) for size in sizes))
        return [cheapest] * sizes.size, None
    if method.allocator == "uniform":
        return [_best_uniform(menu, sizes, budget, n, config)] * sizes.size, "uniform"
    weights = np.ones(sizes.size) if scores is None else scores
    result = allocate_protection(sizes, weights, menu, budget, n, config.channel, method=config.allocation,
                                 encoding=config.storage.encoding, scale_variance=_scale_terms(storage, config))
    return list(result.protection), config.allocation


def _scale_terms(storage, config):
    """Each layer's scale and zero-point term (:mod:`qtaml_tac.scale_variance`), or None when every scale is safe:
    a constant of each layer's loss, in the allocation's objective and predicted variances, not in its choice."""
    if not config.storage.scales_in_faulty_memory:
        return None
    return [scale_flip_variance(storage, name, config.channel) for name in storage.names]


def _best_uniform(menu, sizes, budget, n, config):
    """The scheme of least residual variance whose cost on every layer fits the budget (ties: the cheaper)."""
    encoding = config.storage.encoding
    affordable = [s for s in menu if sum(s.storage_bits(int(size), n) for size in sizes) <= budget]
    if not affordable:
        allocate_protection(sizes, np.ones(sizes.size), menu, budget, n, config.channel)  # raises the budget error
    return min(affordable, key=lambda s: (residual_variance(s, config.channel, n, encoding),
                                          sum(s.storage_bits(int(size), n) for size in sizes)))


def _allocated_bits(method, sizes, scores, budget, n, floors, config):
    """The paper's menu: protected bits per layer (the floors when the method does not allocate)."""
    if method.allocator is None:
        if sizes @ floors > budget:
            allocate(sizes, np.ones(sizes.size), budget, n, floors)  # raises the shortfall error
        return floors.copy()
    name = config.allocation if method.allocator == "configured" else method.allocator
    weights = np.ones(sizes.size) if scores is None else scores
    return np.array(allocate(sizes, weights, budget, n, floors, method=name).bits)


def _injected(scheme):
    """A scheme as injection takes it: the count of never-flipping top bits for the paper's, else the scheme."""
    if isinstance(scheme, IdealMSB):
        return scheme.k
    return 0 if isinstance(scheme, Unprotected) else scheme


def _compensation(method, model, batch, config, storage, protection):
    """Per-layer compensation: the method's own, or Step 3's decision for ``"decide"`` (reusing the plain storage)."""
    names = storage.names
    if method.compensation != "decide":
        return {name: method.compensation for name in names}
    decisions = mean_correction_decisions(model, batch, config.storage, config.channel, protection,
                                          config.calibration, storage)
    return {name: "mean" if decisions[name] else "none" for name in names}


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
        A registered method's name (:data:`~qtaml_tac.method_registry.METHODS`).
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
        A method that is not registered; ``p >= 1/2`` with mean correction; a budget below
        the floors (the shortfall in bits); floors or gains naming parameters
        that are not stored, or floors that are not integers in ``0..n_bits``;
        no eligible parameters; non-finite weights; an empty batch, a batch
        with NaN or infinity, a batch that does not fit the model, or a model
        whose output on it is not finite.
    """
    if not isinstance(config, DeploymentConfig):
        raise ValueError(f"config must be a DeploymentConfig, got {type(config).__name__}")
    record = get_method(method)
    if record.needs_mean_correction:
        mean_correction_factor(config.channel)  # p >= 1/2 (or no affine drift) fails here, before any work
    storage = quantize(model, config.storage)
    reference_output(model, batch)  # a wrong, empty or non-finite batch fails here, before any work
    names = storage.names
    sizes = np.array([t.size for t in storage], dtype=np.int64)
    n = config.storage.n_bits
    floors = _floors(model, names, config)
    budget = math.floor(config.budget_fraction * n * int(sizes.sum()))  # whole bits
    if not record.uses_jacobian_gains:
        gains = {}
    elif gains is None:
        gains = jacobian_gains(model, batch, names, config.calibration)
    errors = getattr(gains, "standard_errors", {})  # Step 1's Gains carry them; a plain dict does not
    if record.uses_jacobian_gains:
        gains = _checked_gains(gains, names)
    scores = _scores(record, model, batch, storage, config, gains)
    schemes, allocation_method = _allocated(record, sizes, scores, budget, n, floors, config, storage)
    protection = {name: _injected(scheme) for name, scheme in zip(names, schemes)}
    compensation = _compensation(record, model, batch, config, storage, protection)
    factor = config.weight_scaling_target if record.weight_scaling else 1.0
    layers = []
    for index, tensor in enumerate(storage):
        layers.append(LayerPlan(
            name=tensor.name, size=tensor.size, scale=tensor.scale, gain=gains.get(tensor.name),
            gain_standard_error=errors.get(tensor.name),
            score=None if scores is None else float(scores[index]), bits=getattr(schemes[index], "k", 0),
            compensation=compensation[tensor.name], factor=factor,
            protection=None if isinstance(schemes[index], (IdealMSB, Unprotected)) else scheme_to_dict(schemes[index]),
        ))
    spent = sum(layer.storage_bits(n) for layer in layers)
    rho = None
    if record.uses_jacobian_gains and np.all(scores > 0):
        rho = saturation_ratio(sizes, scores)
    return Plan(method=record.name, p=nominal_rate(config.channel), n_bits=n, encoding=config.storage.encoding,
                layers=layers, channel=channel_to_dict(config.channel),
                budget_bits=max(budget, spent), bits_spent=spent, predicted_rho=rho,
                allocation_method=allocation_method, excluded=excluded_parameters(model, config.storage),
                storage_options=storage_options(config.storage))
