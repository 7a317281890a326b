"""Points, results and their evaluation: the machinery every experiment shares.

A :class:`Point` is one operating point (experiment, model, method, p, budget,
fault model, calibration p). :class:`Results` is ``results.json``: one record
per point, written atomically after every point, so that an interrupted run
resumes from the points already written. Each point's faults come from a seed
derived from the experiment seed and the point itself, *without the method*,
so that methods are compared on the same faults (paired).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import zlib
from dataclasses import asdict, dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from qtaml_theory.channels import DirectionalChannel, SymmetricChannel

from ..evaluate import evaluate
from ..inject import BitRampFaults, CellVariationFaults, ChannelFaults, ClusteredFaults, LayerVariationFaults
from ..methods import DeploymentConfig, plan_deployment
from ..models import trained

__all__ = ["Point", "Results", "FAULTS", "fault_model", "point_seed", "run_points", "plan_for"]

#: The fault models of Section 5.7 (and the charge-loss channel), all at average flip rate p.
FAULTS = {
    "symmetric": lambda p: ChannelFaults(SymmetricChannel(p)),
    "ramp_msb": lambda p: BitRampFaults(p, 0.8),
    "ramp_lsb": lambda p: BitRampFaults(p, -0.8),
    "cells_0.5": lambda p: CellVariationFaults(p, 0.5),
    "cells_1.0": lambda p: CellVariationFaults(p, 1.0),
    "clustered": lambda p: ClusteredFaults(p, block=64, fraction=0.1, hot=10.0),
    "layers_1.0": lambda p: LayerVariationFaults(p, 1.0),
    "charge_loss": lambda p: ChannelFaults(DirectionalChannel(0.0, 2 * p)),
}


def fault_model(name, p):
    """The fault model ``name`` at average rate ``p``."""
    if name not in FAULTS:
        raise ValueError(f"faults must be one of {sorted(FAULTS)}, got {name!r}")
    return FAULTS[name](p)


@dataclass(frozen=True)
class Point:
    """One operating point of an experiment."""

    experiment: str
    model: str
    method: str
    p: float
    budget_fraction: float
    faults: str = "symmetric"
    calibrate_p: float | None = None

    def key(self, trials, seed):
        return json.dumps({**asdict(self), "trials": trials, "seed": seed}, sort_keys=True)


def point_seed(point, seed):
    """The trial seed of a point: from the experiment seed and the point, not the method (paired)."""
    parts = [point.model, repr(point.p), repr(point.budget_fraction), point.faults, repr(point.calibrate_p)]
    return int(np.random.SeedSequence([seed, *(zlib.crc32(p.encode()) for p in parts)]).generate_state(1)[0])


class Results:
    """``results.json`` in ``out``: records keyed by point, written atomically, resumable."""

    def __init__(self, out):
        self.path = Path(out) / "results.json"
        self.records = []
        self._keys = {}
        if self.path.exists():
            for record in json.loads(self.path.read_text()):
                self._add(record)

    def _add(self, record):
        key = record.get("key")
        if key in self._keys:
            self.records[self._keys[key]] = record
        else:
            self._keys[key] = len(self.records)
            self.records.append(record)

    def get(self, key):
        index = self._keys.get(key)
        return None if index is None else self.records[index]

    def add(self, record, save=True):
        """Add (or replace, by ``key``) a record; write the file unless ``save`` is False."""
        self._add(record)
        if save:
            self.save()

    def save(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".results.", suffix=".tmp")
        try:
            with os.fdopen(handle, "w") as stream:
                json.dump(self.records, stream, indent=1)
            os.replace(temporary, self.path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def select(self, **fields):
        return [r for r in self.records if all(r.get(k) == v for k, v in fields.items())]


def _channel(faults, p):
    return DirectionalChannel(0.0, 2 * p) if faults == "charge_loss" else SymmetricChannel(p)


@lru_cache(maxsize=256)
def plan_for(model_name, method, p, budget_fraction, faults="symmetric", seed=0):
    """The plan of one method (cached within a run: calibration is deterministic)."""
    model, split = trained(model_name, seed=seed)
    config = DeploymentConfig(p=_channel(faults, p), budget_fraction=budget_fraction, seed=seed)
    return plan_deployment(model, split.calibration_batch(64), config, method)


def evaluate_point(point, trials, seed):
    """Plan (at ``calibrate_p`` if set) and evaluate one point; returns its record."""
    model, split = trained(point.model)
    calibrate_p = point.p if point.calibrate_p is None else point.calibrate_p
    plan = plan_for(point.model, point.method, calibrate_p, point.budget_fraction,
                    "charge_loss" if point.faults == "charge_loss" else "symmetric")
    result = evaluate(model, plan, split.x_test, split.y_test, faults=fault_model(point.faults, point.p),
                      trials=trials, seed=point_seed(point, seed))
    return {
        **asdict(point),
        "allocation": [layer.bits for layer in plan.layers],
        "layers": [layer.name for layer in plan.layers],
        "scores": [layer.score for layer in plan.layers],
        "compensation": [layer.compensation for layer in plan.layers],
        "overhead": plan.overhead,
        "predicted_rho": plan.predicted_rho,
        "accuracy_mean": result.score_mean,
        "accuracy_std": result.score_std,
        "ci95": list(result.ci95),
        "trials": trials,
        "clean_accuracy": result.clean_score,
        "seed": seed,
    }


def run_points(points, results, trials, seed, progress=True):
    """Evaluate every point not yet in ``results`` (resume), writing after each one."""
    todo = [p for p in points if results.get(p.key(trials, seed)) is None]
    for number, point in enumerate(todo, start=1):
        if progress:
            print(f"[{number}/{len(todo)}] {point.experiment} {point.model} {point.method} p={point.p} "
                  f"budget={point.budget_fraction} faults={point.faults}", file=sys.stderr, flush=True)
        record = evaluate_point(point, trials, seed)
        record["key"] = point.key(trials, seed)
        results.add(record)
    keys = {p.key(trials, seed) for p in points}
    return [r for r in results.records if r.get("key") in keys]
