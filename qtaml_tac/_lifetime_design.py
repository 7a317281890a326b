"""Inverse design of :mod:`qtaml_tac.lifetime`: the oxide, the refresh and the budget that reach a lifetime.

Private: :func:`~qtaml_tac.lifetime.thinnest_oxide`, :func:`~qtaml_tac.lifetime.longest_refresh`,
:func:`~qtaml_tac.lifetime.cheapest_protection` and :func:`~qtaml_tac.lifetime.thickness_for_lifetime`
are re-exported by :mod:`qtaml_tac.lifetime`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike
from torch import nn

from qtaml_theory.physics import (
    Device,
    log_escape_probability,
    log_transmission,
)
from qtaml_theory.validation import as_rate, check_positive_values

from ._lifetime_deployment import _check_target, _deployment

#: Bisection steps of the inverse designs.
BISECTION_STEPS = 7


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


def _inverse_setup(model, data, device, lifetime_s, target, options, menu="ideal_msb"):
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
    return lifetime, target, _deployment(model, data, device, *(settings[k] for k in keys), proxy=False, menu=menu)


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
                        budgets: Sequence[float] = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4), menu="ideal_msb",
                        **options) -> dict:
    """The cheapest protection that keeps accuracy at ``target`` of clean for ``lifetime_s`` (issue 16).

    Each budget of ``budgets`` buys protection from ``menu`` as
    :func:`~qtaml_tac.lifetime.lifetime_curve` does (the method allocates
    it: TAC over real codes with ``menu="codes"``); the plans are made
    first, then evaluated in order of their real storage overhead (check
    bits, copies or protected bits over stored bits; ties: the smaller
    budget), and the first that keeps the target is returned: the lowest
    overhead among the choices that do.

    Parameters
    ----------
    model, data, device
        As in :func:`~qtaml_tac.lifetime.lifetime_curve`.
    lifetime_s : float
        Lifetime in seconds.
    target : float
        Fraction of clean accuracy, in (0, 1].
    budgets : sequence of float
        Budget fractions in [0, 1].
    menu : str or sequence of ProtectionScheme
        ``"ideal_msb"`` (the paper's top bits), ``"codes"`` or a list of
        schemes (:attr:`qtaml_tac.DeploymentConfig.protection`).
    **options
        As in :func:`thinnest_oxide`.

    Returns
    -------
    dict
        ``budget_fraction``, ``overhead`` (the plan's), ``protection`` (each
        layer's scheme) and ``row`` (its evaluation at the end of life).

    Raises
    ------
    ValueError
        When no budget of the menu reaches the target (the best accuracy
        reached is named), or a bad menu or budget.
    """
    lifetime, target, deployment = _inverse_setup(model, data, device, lifetime_s, target, options, menu)
    fractions = sorted({float(as_rate(b, "budgets")) for b in budgets})
    if not fractions:
        raise ValueError("budgets must name at least one budget fraction in [0, 1]")
    channel = deployment.channel(lifetime)
    plans = {budget: deployment.plan(channel, budget, age_s=lifetime) for budget in fractions}
    rows = []
    for budget in sorted(fractions, key=lambda b: (plans[b].overhead, b)):
        row = deployment.point(lifetime, plans[budget], budget_fraction=budget)
        if _passes(row, target):
            return {"budget_fraction": budget, "overhead": plans[budget].overhead,
                    "protection": [repr(layer.scheme()) for layer in plans[budget].layers], "row": row}
        rows.append(row)
    best = max(rows, key=lambda r: r["accuracy_mean"])
    raise ValueError(f"no budget in {fractions} of menu {menu!r} keeps accuracy at {target:g} of clean for "
                     f"{lifetime:g} s (best: {best['accuracy_mean']:.4f} at budget {best['budget_fraction']:g}, "
                     f"clean {best['clean_accuracy']:.4f})")
