"""Lifetime planning: accuracy against retention time, and back to the oxide, the refresh and the budget (issue 16).

The paper's future work (conclusion) asks to predict accuracy "as a
function of oxide thickness, barrier height, retention window" and to
extend the analysis to multi-level cells. A deployment here is a device
(:class:`qtaml_theory.physics.Device`), a cell type (``bits_per_cell``,
``level_map``), a refresh interval, a method and a protection budget. At
each time since deployment the cells' channel comes from the device
(:func:`qtaml_theory.physics.retention_channel`: the data are
``min(t, refresh_s)`` old in the worst case), and a Monte Carlo evaluation
(:func:`qtaml_tac.evaluate.evaluate`) gives the accuracy.

- :func:`lifetime_curve`: accuracy (mean and 95% interval) against time,
  with the law-based proxy beside it;
- :func:`time_to_accuracy`: the first time accuracy falls below a target;
- inverse design: :func:`thinnest_oxide`, :func:`longest_refresh`,
  :func:`cheapest_protection` (a ``ValueError`` when nothing in range
  reaches the target);
- :func:`predicted_deviation`, the proxy: ``sum_l G_l mean_j E[(w_hat_j - w_j)**2]``
  from the closed-form cumulants (Lemma 4.3's linear response, as the
  allocation uses it, with the drift's square added since charge loss
  biases), and :func:`proxy_rank_agreement`, how well it ranks designs
  against the Monte Carlo truth.

Planning: methods plan (:func:`qtaml_tac.plan_deployment`) at a symmetric
surrogate channel whose rate is the cells' average marginal flip rate
(capped at :data:`PLANNING_RATE_CAP`); the faults injected are the cells'
own. ``plan_at="end"`` plans once for the end of life, ``"each"`` re-plans
at every time. ``compensation="drift"`` pre-scales every layer by the
multi-level drift-compensation factor of the one-step model
(:func:`qtaml_theory.compensation.mean_correction_factor`, capped at
:data:`MAX_DRIFT_FACTOR`). Protection is the top-bit ECC of the plan
(:class:`qtaml_theory.protection.IdealMSB`), applied to the cells' bits.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np
import torch
from numpy.typing import ArrayLike
from scipy import stats
from torch import nn

from qtaml_theory.channels import Channel, MultiLevelChannel, SymmetricChannel
from qtaml_theory.compensation import mean_correction_factor
from qtaml_theory.law import error_cumulants
from qtaml_theory.physics import (
    MATERIALS,
    SECONDS_PER_YEAR,
    Device,
    log_escape_probability,
    log_transmission,
    retention_age_s,
    retention_channel,
    thickness_for_flip_probability,
)
from qtaml_theory.protection import IdealMSB
from qtaml_theory.report.rows import EXAMPLE_DEVICE
from qtaml_theory.validation import as_rate, check_finite_values, check_integer, check_positive_values

from .calibrate import jacobian_gains
from .evaluate import evaluate
from .inject import ChannelFaults
from .method_registry import get_method
from .methods import DeploymentConfig, plan_deployment
from .plan import Plan, storage_for
from .storage import StorageConfig, select_parameters

__all__ = [
    "PLANNING_RATE_CAP",
    "MAX_DRIFT_FACTOR",
    "LIFETIME_COMPENSATIONS",
    "PLAN_AT",
    "lifetime_curve",
    "time_to_accuracy",
    "thinnest_oxide",
    "longest_refresh",
    "cheapest_protection",
    "thickness_for_lifetime",
    "retention_device",
    "cells_plan",
    "average_flip_rate",
    "REFERENCE_FLIP_PROBABILITY",
    "REFERENCE_LIFETIME_S",
    "predicted_deviation",
    "proxy_rank_agreement",
]

#: Largest surrogate flip rate a plan is made at (mean correction needs p < 1/2).
PLANNING_RATE_CAP = 0.45
#: Largest drift-compensation pre-scaling applied (past it clipping at the top code dominates; Prop 4.1, B.6).
MAX_DRIFT_FACTOR = 2.0
#: Compensation of a lifetime deployment: none, or the multi-level drift factor of the one-step model.
LIFETIME_COMPENSATIONS = ("none", "drift")
#: When the plan is made: once for the end of life, or at each time.
PLAN_AT = ("end", "each")
#: Calibration inputs drawn from a split for planning and the proxy's gains.
CALIBRATION_SIZE = 64
#: Bisection steps of the inverse designs.
BISECTION_STEPS = 7
#: The experiments' reference cells have this SLC flip probability over :data:`REFERENCE_LIFETIME_S`.
REFERENCE_FLIP_PROBABILITY = 1e-4
#: Ten years, the lifetime the reference cells are sized for.
REFERENCE_LIFETIME_S = 10 * SECONDS_PER_YEAR


@cache
def retention_device(material: str) -> Device:
    """The experiments' cell for a barrier preset (``"sio2"`` or ``"hfo2"``), sized for ten years.

    The report's example cell (:data:`qtaml_theory.report.rows.EXAMPLE_DEVICE`:
    E = 0.1 eV, nu = 1e13 Hz, N_e = 1000 electrons per level, K_th = 10)
    with the preset's barrier, at the thickness where an SLC cell's flip
    probability over :data:`REFERENCE_LIFETIME_S` is
    :data:`REFERENCE_FLIP_PROBABILITY` (:func:`~qtaml_theory.physics.thickness_for_flip_probability`).
    """
    if material not in MATERIALS:
        raise ValueError(f"material must be one of {sorted(MATERIALS)}, got {material!r}")
    device = Device.from_material(MATERIALS[material], 5e-9, **EXAMPLE_DEVICE)
    thickness = thickness_for_flip_probability(REFERENCE_FLIP_PROBABILITY, device, REFERENCE_LIFETIME_S)
    return device.replace(thickness_m=thickness)


def thickness_for_lifetime(device: Device, age_s: float, lifetimes_s: ArrayLike,
                           bracket_m: tuple[float, float] = (1e-10, 5e-8)) -> np.ndarray:
    """Thicknesses at which data ``lifetimes_s`` old fare as data ``age_s`` old do on ``device`` (issue 16).

    The cells' transitions depend on the device and the time only through
    the escape probability ``P_esc`` of one electron (with ``N_e`` and
    ``K_th`` fixed; see :mod:`qtaml_theory.physics.retention`), so the
    accuracy reached at age ``age_s`` with ``device`` is reached at
    lifetime ``L`` by the thickness ``d`` solving
    ``log P_esc(d, L) = log P_esc(device, age_s)`` (Brent's method). With
    ``age_s`` the time :func:`time_to_accuracy` finds, this is the
    thickness needed for each lifetime, from one lifetime curve.

    Returns
    -------
    ndarray
        Thickness in metres for each lifetime.
    """
    from scipy.optimize import brentq

    def log_escape(thickness, window):
        log_t = log_transmission(thickness, device.barrier_ev, device.energy_ev, device.effective_mass, "exact")
        return float(log_escape_probability(log_t, device.attempt_frequency_hz, window))

    aimed = log_escape(device.thickness_m, float(check_positive_values(age_s, "age_s", " s")))
    low, high = bracket_m
    lifetimes = check_positive_values(lifetimes_s, "lifetimes_s", " s")
    return np.array([brentq(lambda d, lifetime=lifetime: log_escape(d, lifetime) - aimed, low, high, xtol=1e-14)
                     for lifetime in np.atleast_1d(lifetimes)])


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
        return cells_plan(self.model, self.batch, channel, self.method, budget, drift, self.n_bits, gains)

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
        }


def cells_plan(model: nn.Module, batch: torch.Tensor, channel: Channel, method: str, budget_fraction: float,
               drift_channel: MultiLevelChannel | None = None, n_bits: int = 8, gains: dict | None = None) -> Plan:
    """A plan for cells under ``channel``: made at the symmetric surrogate, pre-scaled for the cells' drift.

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

    Returns
    -------
    Plan
    """
    config = DeploymentConfig(p=SymmetricChannel(min(average_flip_rate(channel, n_bits), PLANNING_RATE_CAP)),
                              budget_fraction=budget_fraction, storage=StorageConfig(n_bits=n_bits))
    plan = plan_deployment(model, batch, config, method, gains=gains)
    if drift_channel is None:
        return plan
    try:
        factor = min(float(mean_correction_factor(drift_channel)), MAX_DRIFT_FACTOR)
    except ValueError:
        factor = MAX_DRIFT_FACTOR  # the drift slope reached -1: the cap binds
    layers = [dataclasses.replace(layer, factor=layer.factor * factor) for layer in plan.layers]
    return dataclasses.replace(plan, layers=layers)


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
                n_bits, seed, temperature_k, proxy=True):
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
                       check_integer(trials, "trials", 2), check_integer(seed, "seed", 0), temperature_k, proxy)


def lifetime_curve(model: nn.Module, data, device: Device, times: ArrayLike, method: str = "tac",
                   protection: float = 0.1, trials: int = 20, *, bits_per_cell: int = 1, level_map: str = "gray",
                   refresh_s: float | None = None, temperature_k: float | None = None, compensation: str = "none",
                   plan_at: str = "end", n_bits: int = 8, seed: int = 0) -> list[dict]:
    """Accuracy (mean and 95% interval) against time since deployment, from the device (issue 16).

    Parameters
    ----------
    model : nn.Module
        A trained classifier; left exactly as it was.
    data : Split or tuple
        A split (``x_test``, ``y_test``, ``calibration_batch``) or
        ``(calibration_batch, inputs, labels)``.
    device : qtaml_theory.physics.Device
    times : array_like
        Times since deployment in seconds, finite and ``> 0`` (say 1 s to 10 years).
    method : str
        A registered method (``"tac"``, ``"uniform_msp"``, ``"uncompensated"``, ...).
    protection : float
        ECC budget as a fraction of stored bits, in [0, 1].
    trials : int
        Monte Carlo deployments per time (>= 2).
    bits_per_cell : int
        1, 2 or 3 (SLC, MLC, TLC); ``n_bits`` must be a multiple.
    level_map : {"gray", "binary"}
    refresh_s : float, optional
        Scrub interval in seconds, at most the longest time; data are at
        most this old.
    temperature_k : float, optional
        Storage temperature (Arrhenius acceleration, a model).
    compensation : {"none", "drift"}
    plan_at : {"end", "each"}
        Plan once for the end of life (the last time) or at each time.
    n_bits : int
    seed : int
        Trial seeds (the same at every time: paired across times).

    Returns
    -------
    list of dict
        One row per time: ``time_s``, ``age_s``, ``bits_per_cell``,
        ``level_map``, ``accuracy_mean``, ``accuracy_std``, ``ci95``,
        ``clean_accuracy``, ``flip_rate`` (average marginal),
        ``predicted_deviation`` (the law's proxy), ``overhead``, ...

    Raises
    ------
    ValueError
        Negative or non-finite times, a refresh longer than the longest time,
        ``bits_per_cell`` not in 1..3, ``n_bits`` not a multiple of it, an
        unknown level map, compensation or ``plan_at``.

    References
    ----------
    Paper, conclusion (future work: device parameters, retention window,
    multi-level cells).
    """
    times = check_finite_values(times, "times")
    if times.ndim != 1 or times.size == 0 or np.any(times <= 0):
        raise ValueError(f"times must be a non-empty 1-D array of finite times > 0 s, got {times!r}")
    ages = retention_age_s(times, refresh_s)
    _choice(plan_at, "plan_at", PLAN_AT)
    deployment = _deployment(model, data, device, method, protection, trials, bits_per_cell, level_map,
                             compensation, n_bits, seed, temperature_k)
    end_plan = None
    if plan_at == "end":
        end_plan = deployment.plan(deployment.channel(ages.max()), age_s=ages.max())
    return [{"time_s": float(t), **deployment.point(age, end_plan)} for t, age in zip(times, ages)]


def _check_target(target):
    target = float(check_finite_values(target, "target"))
    if not 0 < target <= 1:
        raise ValueError(f"target must lie in (0, 1] (a fraction of clean accuracy), got {target!r}")
    return target


def time_to_accuracy(curve: Sequence[Mapping], target: float = 0.95, absolute: bool = False) -> dict:
    """The first time accuracy falls below ``target`` times clean accuracy, with its uncertainty.

    Parameters
    ----------
    curve : list of dict
        Rows of :func:`lifetime_curve` (in increasing time).
    target : float
        Fraction of clean accuracy, in (0, 1]; with ``absolute``, an
        accuracy in (0, clean accuracy].
    absolute : bool
        Read ``target`` as an accuracy rather than a fraction of clean.

    Returns
    -------
    dict
        ``time_s``: the first time whose mean is below the target (``inf``
        when none is); ``earliest_s``: the first time whose 95% interval
        reaches below it; ``latest_s``: the first time whose whole interval
        is below it (``inf`` when none is); ``interpolated_s``: the
        crossing of the mean, interpolated linearly in log time between the
        last time above and the first below (``inf`` when the mean never
        crosses from above); ``threshold``: the accuracy aimed at.
    """
    if not curve:
        raise ValueError("curve must hold at least one row of lifetime_curve")
    clean = curve[0]["clean_accuracy"]
    if absolute:
        threshold = float(check_finite_values(target, "target"))
        if not 0 < threshold <= clean:
            raise ValueError(f"target must lie in (0, {clean:g}] (an accuracy at most the clean accuracy), "
                             f"got {target!r}")
    else:
        threshold = _check_target(target) * clean

    def first(condition):
        return next((row["time_s"] for row in curve if condition(row)), math.inf)

    crossing = math.inf
    for before, after in zip(curve, curve[1:]):
        if before["accuracy_mean"] >= threshold > after["accuracy_mean"]:
            share = (before["accuracy_mean"] - threshold) / (before["accuracy_mean"] - after["accuracy_mean"])
            crossing = math.exp(math.log(before["time_s"]) + share * math.log(after["time_s"] / before["time_s"]))
            break
    return {"time_s": first(lambda r: r["accuracy_mean"] < threshold),
            "earliest_s": first(lambda r: r["ci95"][0] < threshold),
            "latest_s": first(lambda r: r["ci95"][1] < threshold), "interpolated_s": crossing,
            "threshold": threshold}


def _passes(row, target):
    return row["accuracy_mean"] >= target * row["clean_accuracy"]


def _bisect(passes, passing, failing):
    """The passing end of a monotone predicate's boundary between ``passing`` and ``failing``, on a log scale."""
    for _ in range(BISECTION_STEPS):
        middle = math.sqrt(passing * failing)
        if passes(middle):
            passing = middle
        else:
            failing = middle
    return passing


def _inverse_setup(model, data, device, lifetime_s, target, options):
    lifetime = float(check_positive_values(lifetime_s, "lifetime_s", " s"))
    target = _check_target(target)
    keys = ("method", "protection", "trials", "bits_per_cell", "level_map", "compensation", "n_bits", "seed",
            "temperature_k")
    defaults = {"method": "tac", "protection": 0.1, "trials": 10, "bits_per_cell": 1, "level_map": "gray",
                "compensation": "none", "n_bits": 8, "seed": 0, "temperature_k": None}
    unknown = sorted(set(options) - set(keys))
    if unknown:
        raise ValueError(f"unknown options {unknown}; the options are {list(keys)}")
    settings = {**defaults, **options}
    return lifetime, target, _deployment(model, data, device, *(settings[k] for k in keys), proxy=False)


def thinnest_oxide(model: nn.Module, data, device: Device, lifetime_s: float, target: float = 0.95,
                   thickness_range_m: tuple[float, float] = (2e-9, 2e-8), **options) -> dict:
    """The thinnest oxide that keeps accuracy at or above ``target`` of clean for ``lifetime_s`` (issue 16).

    Accuracy at the end of life (data ``lifetime_s`` old) rises with
    thickness; the boundary is bisected on a log scale
    (:data:`BISECTION_STEPS` steps), each step a Monte Carlo evaluation.

    Parameters
    ----------
    model, data, device
        As in :func:`lifetime_curve`; ``device``'s own thickness is ignored.
    lifetime_s : float
        Lifetime in seconds (say ``10 * SECONDS_PER_YEAR``).
    target : float
        Fraction of clean accuracy, in (0, 1].
    thickness_range_m : (float, float)
        Thicknesses searched, metres.
    **options
        ``method``, ``protection``, ``trials``, ``bits_per_cell``,
        ``level_map``, ``compensation``, ``n_bits``, ``seed``, ``temperature_k``.

    Returns
    -------
    dict
        ``thickness_m`` (a thickness that passes, within the bisection's
        resolution of the boundary) and its evaluation row.

    Raises
    ------
    ValueError
        When even the thickest oxide in range misses the target.
    """
    lifetime, target, deployment = _inverse_setup(model, data, device, lifetime_s, target, options)
    low, high = (float(x) for x in check_positive_values(thickness_range_m, "thickness_range_m", " m"))
    if not low < high:
        raise ValueError(f"thickness_range_m must be (low, high) with low < high, got {thickness_range_m!r}")
    rows = {}

    def passes(thickness):
        rows[thickness] = deployment.point(lifetime, device=device.replace(thickness_m=thickness))
        return _passes(rows[thickness], target)

    if not passes(high):
        raise ValueError(f"no thickness in thickness_range_m = ({low:g}, {high:g}) m keeps accuracy at {target:g} "
                         f"of clean for {lifetime:g} s (at {high:g} m: {rows[high]['accuracy_mean']:.4f})")
    best = low if passes(low) else _bisect(passes, high, low)
    return {"thickness_m": best, "row": rows[best]}


def longest_refresh(model: nn.Module, data, device: Device, lifetime_s: float, target: float = 0.95,
                    shortest_s: float = 1.0, **options) -> dict:
    """The longest refresh (scrub) interval, at most ``lifetime_s``, that keeps accuracy at ``target`` (issue 16).

    Data are at most one interval old, and accuracy falls with age: the
    boundary is bisected on a log scale between ``shortest_s`` and
    ``lifetime_s``. Returns ``{"refresh_s", "row"}``; ``refresh_s`` equals
    ``lifetime_s`` when no refresh is needed.

    Raises
    ------
    ValueError
        When even a refresh every ``shortest_s`` misses the target.
    """
    lifetime, target, deployment = _inverse_setup(model, data, device, lifetime_s, target, options)
    shortest = float(check_positive_values(shortest_s, "shortest_s", " s"))
    if not shortest < lifetime:
        raise ValueError(f"shortest_s must lie in (0, lifetime_s = {lifetime:g}) s, got {shortest_s!r}")
    rows = {}

    def passes(interval):
        rows[interval] = deployment.point(interval)
        return _passes(rows[interval], target)

    if passes(lifetime):
        return {"refresh_s": lifetime, "row": rows[lifetime]}
    if not passes(shortest):
        raise ValueError(f"no refresh interval in [{shortest:g}, {lifetime:g}] s keeps accuracy at {target:g} of "
                         f"clean (refreshing every {shortest:g} s: {rows[shortest]['accuracy_mean']:.4f})")
    best = _bisect(passes, shortest, lifetime)
    return {"refresh_s": best, "row": rows[best]}


def cheapest_protection(model: nn.Module, data, device: Device, lifetime_s: float, target: float = 0.95,
                        budgets: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4), **options) -> dict:
    """The smallest ECC budget of a menu that keeps accuracy at ``target`` of clean for ``lifetime_s`` (issue 16).

    Returns ``{"budget_fraction", "row"}``.

    Raises
    ------
    ValueError
        When no budget of the menu reaches the target.
    """
    lifetime, target, deployment = _inverse_setup(model, data, device, lifetime_s, target, options)
    menu = sorted(float(as_rate(b, "budgets")) for b in budgets)
    if not menu:
        raise ValueError("budgets must name at least one budget fraction in [0, 1]")
    for budget in menu:
        row = deployment.point(lifetime, budget_fraction=budget)
        if _passes(row, target):
            return {"budget_fraction": budget, "row": row}
    raise ValueError(f"no budget in {menu} keeps accuracy at {target:g} of clean for {lifetime:g} s "
                     f"(at {menu[-1]:g}: {row['accuracy_mean']:.4f})")


@torch.no_grad()
def predicted_deviation(model: nn.Module, plan: Plan, channel: Channel, gains: dict) -> float:
    """The law's proxy: predicted RMS output deviation ``sqrt(sum_l G_l mean_j E[(w_hat_j - w_j)**2])``.

    Lemma 4.3's linear response, ``E||delta z||**2 ~ sum_l G_l sigma_l**2``,
    with ``sigma_l**2`` the layer's mean squared read-back error from the
    closed-form cumulants (:func:`qtaml_theory.law.error_cumulants`) of its
    stored codes under ``channel`` and the plan's protection: the variance
    plus the squared bias against the float weight (charge loss drifts, and
    compensation moves the stored value to cancel it).

    Parameters
    ----------
    model : nn.Module
    plan : Plan
    channel : Channel
        The cells' channel.
    gains : dict
        ``{name: G_l}`` from :func:`qtaml_tac.jacobian_gains`.

    Returns
    -------
    float
    """
    storage = storage_for(model, plan)
    try:
        total = 0.0
        for tensor, layer in zip(storage, plan.layers):
            delta = tensor.scale / tensor.factor
            kappa = error_cumulants(storage.encoding, tensor.codes.numpy().astype(np.int64), channel, delta,
                                    protection=IdealMSB(layer.bits))
            stored = tensor.decode().flatten().double().numpy()
            bias = stored + kappa[0] - tensor.original.flatten().double().numpy()
            total += gains[tensor.name] * float(np.mean(kappa[1] + bias**2))
    finally:
        storage.restore_()
    return math.sqrt(total)


def proxy_rank_agreement(rows: Sequence[Mapping]) -> dict:
    """How well the proxy ranks designs against Monte Carlo: Spearman and Kendall correlations.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`lifetime_curve` (designs and times mixed freely).

    Returns
    -------
    dict
        ``spearman`` and ``kendall`` between ``-predicted_deviation`` and
        ``accuracy_mean`` (1: the proxy orders every design as Monte Carlo
        does), and ``designs``, the number of rows.
    """
    if len(rows) < 3:
        raise ValueError(f"rows must hold at least 3 designs to rank, got {len(rows)}")
    proxy = [-row["predicted_deviation"] for row in rows]
    truth = [row["accuracy_mean"] for row in rows]
    return {"spearman": float(stats.spearmanr(proxy, truth).statistic),
            "kendall": float(stats.kendalltau(proxy, truth).statistic), "designs": len(rows)}
