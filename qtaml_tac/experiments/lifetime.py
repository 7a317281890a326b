"""Experiment ``lifetime``: accuracy against retention time for SLC and MLC cells, and the oxide each needs (issue 16).

Every point is a retention point of the runner (:data:`~qtaml_tac.experiments.runner.RETENTION`);
:func:`lifetime_summary` turns each curve into its crossing of
:data:`LIFETIME_TARGET` and the thickness needed for each target lifetime,
and :func:`lifetime_proxy` checks how well the law's proxy ranks the designs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from . import figures, tables
from .figures import YEAR_S
from .output import save_figure, save_table
from .runner import MINILM, RETENTION, Point, trials_for

if TYPE_CHECKING:
    from .sections import Context

__all__ = ["lifetime", "LIFETIME_CELLS", "LIFETIME_VARIANTS", "LIFETIME_DEVICES", "LIFETIME_TARGET",
           "TARGET_LIFETIMES_S", "LIFETIME_YEARS", "lifetime_times", "lifetime_summary", "lifetime_proxy"]

# -- lifetime (issue 16) -----------------------------------------------------------

#: The cells of the lifetime experiment: (bits per cell, level map): SLC, MLC-Gray, MLC-binary.
LIFETIME_CELLS = ((1, "gray"), (2, "gray"), (2, "binary"))
#: The deployments: (method, compensation, budget fraction, protection menu): unprotected, drift-compensated, TAC
#: (the paper's top bits that never flip), and TAC with real codes (check bits and copies in cells too).
LIFETIME_VARIANTS = (("uncompensated", "none", 0.0, "ideal_msb"), ("uncompensated", "drift", 0.0, "ideal_msb"),
                     ("tac", "none", 0.1, "ideal_msb"), ("tac", "none", 0.1, "codes"))
#: The oxide presets (:func:`qtaml_tac.lifetime.retention_device`).
LIFETIME_DEVICES = ("sio2", "hfo2")
#: Accuracy kept, as a fraction of clean.
LIFETIME_TARGET = 0.95
#: Target lifetimes of the thickness figure, seconds (a day to a century).
TARGET_LIFETIMES_S = tuple(float(x) for x in np.logspace(math.log10(86400.0), math.log10(100 * YEAR_S), 9))


#: Years on the lifetime grid past one year, where accuracy falls (it falls like a cliff: p grows like t**K_th).
LIFETIME_YEARS = (1, 3, 6, 8, 10, 12, 15, 30, 100)


def lifetime_times(quick: bool) -> tuple:
    """Times since deployment: 1 s to 100 years (log), dense from one year on, where the curves fall."""
    early = (1.0, 1e6) if quick else tuple(float(x) for x in np.logspace(0, 7, 8))
    return (*early, *(years * YEAR_S for years in LIFETIME_YEARS))


def lifetime_summary(records: Sequence[Mapping]) -> list[dict]:
    """Per model, device, cells and deployment: accuracy at ten years, the 95% crossing, the thickness needed.

    The thickness for each target lifetime follows from the curve's
    interpolated crossing (:func:`qtaml_tac.lifetime.time_to_accuracy`)
    through :func:`qtaml_tac.lifetime.thickness_for_lifetime` (the cells
    see the same escape probability); ``None`` where the curve does not
    cross from above inside its grid.
    """
    from ..lifetime import retention_device, thickness_for_lifetime, time_to_accuracy

    groups = {}
    for record in records:
        key = (record["model"], record["device"], record["bits_per_cell"], record["level_map"], record["method"],
               record["cell_compensation"], record.get("menu", "ideal_msb"))
        groups.setdefault(key, []).append(record)
    rows = []
    for (model, device, bits, level_map, method, compensation, menu), curve in sorted(groups.items()):
        curve = sorted(curve, key=lambda r: r["time_s"])
        crossing = time_to_accuracy(curve, LIFETIME_TARGET)["interpolated_s"]
        cell = retention_device(device)
        thickness = (thickness_for_lifetime(cell, crossing, TARGET_LIFETIMES_S) * 1e9).tolist() if math.isfinite(
            crossing) else None
        ten_years = min(curve, key=lambda r: abs(r["time_s"] - 10 * YEAR_S))
        rows.append({
            "experiment": "lifetime", "quantity": "thickness", "model": model, "device": device,
            "bits_per_cell": bits, "level_map": level_map, "method": method, "compensation": compensation,
            "cells": {1: "SLC", 2: "MLC", 3: "TLC"}[bits] + ("" if bits == 1 else f"-{level_map}"),
            "accuracy_10y": ten_years["accuracy_mean"], "clean_accuracy": curve[0]["clean_accuracy"],
            "crossing_s": crossing if math.isfinite(crossing) else None,
            "crossing_years": crossing / YEAR_S if math.isfinite(crossing) else None,
            "lifetimes_s": list(TARGET_LIFETIMES_S), "thickness_nm": thickness,
            "thickness_10y_nm": None if thickness is None else float(
                thickness_for_lifetime(cell, crossing, [10 * YEAR_S])[0] * 1e9),
            "reference_nm": cell.thickness_m * 1e9,
            "key": f"lifetime/thickness/{model}/{device}/{bits}/{level_map}/{method}/{compensation}"
                   + ("" if menu == "ideal_msb" else f"/{menu}"),
            **({} if menu == "ideal_msb" else {"menu": menu}),
        })
    return rows


def lifetime_proxy(records: Sequence[Mapping], times: Sequence[float]) -> dict:
    """How well the law's proxy (:func:`qtaml_tac.lifetime.predicted_deviation`) ranks the designs at ``times``.

    Computed here, single-threaded, from the records' plans
    (:func:`~qtaml_tac.experiments.runner.retention_plan_for`) and Step 1's
    gains of each model, once. Over the paper's menu only (the designs it ranked before
    real codes joined the experiment), and not for all-MiniLM-L6-v2 (its law over 22.7M weights per design
    is out of this summary's time).
    """
    from qtaml_theory.physics import retention_channel

    from ..calibrate import jacobian_gains
    from ..lifetime import predicted_deviation, proxy_rank_agreement, retention_device
    from ..storage import StorageConfig, select_parameters
    from .runner import _model, _single_thread, retention_plan_for

    rows = []
    with _single_thread():
        for name in sorted({r["model"] for r in records} - {MINILM}):
            model, split = _model(name)[:2]
            gains = jacobian_gains(model, split.calibration_batch(64), select_parameters(model, StorageConfig()))
            for record in (r for r in records if r["model"] == name and r["time_s"] in times and "menu" not in r):
                plan = retention_plan_for(name, record["method"], record["budget_fraction"], record["device"],
                                          record["bits_per_cell"], record["level_map"], record["cell_compensation"])
                channel = retention_channel(retention_device(record["device"]), record["time_s"],
                                            record["bits_per_cell"], record["level_map"])
                rows.append({**record, "predicted_deviation": predicted_deviation(model, plan, channel, gains)})
    return {"experiment": "lifetime", "quantity": "proxy_ranking", "times_s": list(times),
            **proxy_rank_agreement(rows), "key": "lifetime/proxy_ranking"}


def lifetime(context: Context) -> None:
    """Accuracy against retention time for SLC, MLC-Gray and MLC-binary cells, and the oxide each needs (issue 16).

    Every point is a retention point of the runner (records carry
    ``time_s``, ``bits_per_cell`` and ``level_map``; TAC with real codes also
    ``menu = "codes"`` and each layer's ``protection``); the plans are made for
    the end of life (ten years). Quick: SmallCNN, 11 times, at most 3 trials. Full: SmallCNN, the
    transformer and all-MiniLM-L6-v2 (its full corpus, at most :data:`~qtaml_tac.experiments.runner.MINILM_TRIALS` trials).
    """
    models = ("smallcnn",) if context.quick else ("smallcnn", "transformer", MINILM)
    times = lifetime_times(context.quick)
    records = []
    for model in models:
        points = [Point("lifetime", model, method, 0.0, budget, faults=RETENTION, time_s=time_s, bits_per_cell=bits,
                        level_map=level_map, device=device, cell_compensation=compensation, protection=menu,
                        data="full" if model == MINILM else "")
                  for device in LIFETIME_DEVICES for bits, level_map in LIFETIME_CELLS
                  for method, compensation, budget, menu in LIFETIME_VARIANTS for time_s in times]
        trials = min(context.trials, 3) if context.quick else trials_for(model, context.trials)
        records += context.run(points, trials=trials)
    rows = lifetime_summary(records)
    ranking = lifetime_proxy(records, (10 * YEAR_S, 30 * YEAR_S))
    for row in [*rows, ranking]:
        context.results.add(row, save=False)
    context.results.save()
    for model in models:
        save_figure(context.out, f"exp_lifetime_accuracy_{model}",
                    figures.lifetime_accuracy([r for r in records if r["model"] == model], LIFETIME_DEVICES))
        save_figure(context.out, f"exp_lifetime_thickness_{model}",
                    figures.lifetime_thickness([r for r in rows if r["model"] == model], LIFETIME_DEVICES))
    save_table(context.out, tables.lifetime(rows))


