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
(capped at :data:`PLANNING_RATE_CAP`), and a method that allocates by a
knapsack allocates again at the cells themselves (:func:`cells_plan`: each
plane's own law); the faults injected are the cells' own. ``plan_at="end"`` plans once for the end of life, ``"each"`` re-plans
at every time. ``compensation="drift"`` pre-scales every layer by the
multi-level drift-compensation factor of the one-step model
(:func:`qtaml_theory.compensation.mean_correction_factor`, capped at
:data:`MAX_DRIFT_FACTOR`). Protection is the top-bit ECC of the plan
(:class:`qtaml_theory.protection.IdealMSB`), applied to the cells' bits, or with
``menu="codes"`` real codes whose check bits and copies live in cells too
(:mod:`qtaml_tac.cell_codes`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache

import numpy as np
from numpy.typing import ArrayLike
from torch import nn

from qtaml_theory.physics import (
    MATERIALS,
    SECONDS_PER_YEAR,
    Device,
    retention_age_s,
    thickness_for_flip_probability,
)
from qtaml_theory.report.rows import EXAMPLE_DEVICE
from qtaml_theory.validation import check_finite_values

from . import _lifetime_deployment, _lifetime_design
from ._lifetime_deployment import _check_target, _choice, _deployment, average_flip_rate, cells_plan
from ._lifetime_design import (
    cheapest_protection,
    longest_refresh,
    thickness_for_lifetime,
    thinnest_oxide,
)
from ._lifetime_proxy import predicted_deviation, proxy_rank_agreement

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
PLANNING_RATE_CAP = _lifetime_deployment.PLANNING_RATE_CAP
#: Largest drift-compensation pre-scaling applied (past it clipping at the top code dominates; Prop 4.1, B.6).
MAX_DRIFT_FACTOR = _lifetime_deployment.MAX_DRIFT_FACTOR
#: Compensation of a lifetime deployment: none, or the multi-level drift factor of the one-step model.
LIFETIME_COMPENSATIONS = _lifetime_deployment.LIFETIME_COMPENSATIONS
#: When the plan is made: once for the end of life, or at each time.
PLAN_AT = ("end", "each")
#: The experiments' reference cells have this SLC flip probability over :data:`REFERENCE_LIFETIME_S`.
REFERENCE_FLIP_PROBABILITY = 1e-4
#: Ten years, the lifetime the reference cells are sized for.
REFERENCE_LIFETIME_S = 10 * SECONDS_PER_YEAR
#: Calibration inputs drawn from a split for planning and the proxy's gains.
CALIBRATION_SIZE = _lifetime_deployment.CALIBRATION_SIZE
#: Bisection steps of the inverse designs (set in :mod:`qtaml_tac._lifetime_design`, where they are read).
BISECTION_STEPS = _lifetime_design.BISECTION_STEPS


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


def lifetime_curve(model: nn.Module, data, device: Device, times: ArrayLike, method: str = "tac",
                   protection: float = 0.1, trials: int = 20, *, bits_per_cell: int = 1, level_map: str = "gray",
                   refresh_s: float | None = None, temperature_k: float | None = None, compensation: str = "none",
                   plan_at: str = "end", n_bits: int = 8, seed: int = 0, menu="ideal_msb") -> list[dict]:
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
    menu : str or sequence of ProtectionScheme
        What ``protection``'s budget buys (:attr:`qtaml_tac.DeploymentConfig.protection`):
        ``"ideal_msb"`` (the paper's top bits that never flip), ``"codes"``
        (TAC with real codes: each layer picks a scheme of
        :func:`qtaml_theory.protection.protection_menu`, allocated at the
        cells with each code at its planes' own rates, an approximation for codes over cells; injected bit for bit
        with check bits and copies in cells of their own, :mod:`qtaml_tac.cell_codes`) or a list of schemes.

    Returns
    -------
    list of dict
        One row per time: ``time_s``, ``age_s``, ``bits_per_cell``,
        ``level_map``, ``accuracy_mean``, ``accuracy_std``, ``ci95``,
        ``clean_accuracy``, ``flip_rate`` (average marginal),
        ``predicted_deviation`` (the law's proxy), ``overhead``, ...; with
        a menu other than ``"ideal_msb"`` also ``menu`` and ``protection``
        (each layer's scheme).

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
                             compensation, n_bits, seed, temperature_k, menu=menu)
    end_plan = None
    if plan_at == "end":
        end_plan = deployment.plan(deployment.channel(ages.max()), age_s=ages.max())
    return [{"time_s": float(t), **deployment.point(age, end_plan)} for t, age in zip(times, ages)]


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


