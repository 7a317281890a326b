"""Points, results and their evaluation: the machinery every experiment shares.

A :class:`Point` is one operating point (experiment, model, method, p, budget,
fault model, calibration p); a :class:`FinetunePoint` adds a fine-tuning of the
model before it is re-planned and evaluated (noise kind, rounds, epochs). :class:`Results` is ``results.json``: one record
per point, written atomically after every point, so that an interrupted run
resumes from the points already written. Each point's faults come from a seed
derived from the experiment seed and the point itself, *without the method*,
so that methods are compared on the same faults (paired).
"""

from __future__ import annotations

import hashlib
import json
import sys
from contextlib import contextmanager
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

import torch
from tqdm import tqdm

from qtaml_theory.channels import DirectionalChannel, SymmetricChannel
from qtaml_theory.report.cli import write_atomically

from ..calibrate import PAPER_CALIBRATION
from ..evaluate import evaluate, t_interval
from ..inject import BitRampFaults, CellVariationFaults, ChannelFaults, ClusteredFaults, LayerVariationFaults
from ..methods import DeploymentConfig, plan_deployment
from ..storage import StorageConfig
from ..zoo.models import trained
from . import _points
from . import finetune as _finetune_experiment
from ._points import POINT_PROTECTIONS as POINT_PROTECTIONS
from ._points import Point, _channel, point_seed
from .finetune import FinetunePoint
from .plan_store import PlanStore, plan_digest

__all__ = ["Point", "FinetunePoint", "Results", "FAULTS", "RETENTION", "fault_model", "point_faults", "point_seed",
           "run_points", "plan_for", "retention_plan_for", "PRETRAINED", "FINETUNE_LR", "FORMAT_STORAGE",
           "format_storage"]

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


#: The code of the same cost as the paper's one stored bit per protected bit: extended Hamming (8,4).
REALIZING_CODE = {"kind": "secded", "data_bits": 4}

#: The fault model of retention points: the cells' channel from a device preset at ``time_s`` (issue 16).
RETENTION = _points.RETENTION
#: A point's storage format: name -> the StorageConfig fields it sets (``""``: the paper's storage; issue 15).
FORMAT_STORAGE = _points.FORMAT_STORAGE
#: The ``noise`` of a :class:`FinetunePoint` that evaluates the trained model without fine-tuning (round 0).
PRETRAINED = _finetune_experiment.PRETRAINED
#: Adam's learning rate when the experiments fine-tune (a third of the models' training rate, 3e-3).
FINETUNE_LR = _finetune_experiment.FINETUNE_LR


def point_faults(point):
    """The fault model of a point: a named one at ``p``, or the retention cells' channel at ``time_s``."""
    if point.faults != RETENTION:
        return fault_model(point.faults, point.p)
    from qtaml_theory.physics import retention_channel

    from ..lifetime import retention_device

    return ChannelFaults(retention_channel(retention_device(point.device), point.time_s, point.bits_per_cell,
                                           point.level_map))


def _load_records(path):
    """The records of an existing ``results.json``, or a ValueError that names it and leaves it untouched."""
    untouched = ("it was left untouched; to start over, move it away (or delete it) or choose another output "
                 "folder (--out)")
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"cannot read {path} as the results of python -m qtaml_tac.experiments ({error}); "
                         f"{untouched}") from None
    if not isinstance(records, list):
        problem = f"its top level is a JSON {type(records).__name__}, not a list of records"
    else:
        bad = next((i for i, r in enumerate(records) if not (isinstance(r, dict) and isinstance(r.get("key"), str))),
                   None)
        problem = None if bad is None else f"record {bad} is not an object with a string 'key'"
    if problem:
        raise ValueError(f"{path} is not a results file of python -m qtaml_tac.experiments ({problem}); {untouched}")
    return records


class Results:
    """``results.json`` in ``out``: records keyed by point, written atomically, resumable.

    Raises
    ------
    ValueError
        When ``out/results.json`` exists but cannot be read as a list of records
        with a string ``key`` each (corrupt, or another file's shape): the
        message names the file, which is never overwritten.
    """

    def __init__(self, out):
        self.path = Path(out) / "results.json"
        self.records = []
        self._keys = {}
        if self.path.exists():
            for record in _load_records(self.path):
                self._add(record)

    def _add(self, record):
        key = record.get("key")
        if key in self._keys:
            self.records[self._keys[key]] = record
        else:
            self.records.append(record)
            self.records.sort(key=lambda r: r["key"])  # canonical order, whatever order points finish in
            self._keys = {r["key"]: index for index, r in enumerate(self.records)}

    def get(self, key):
        index = self._keys.get(key)
        return None if index is None else self.records[index]

    def add(self, record, save=True):
        """Add (or replace, by ``key``) a record; write the file unless ``save`` is False."""
        self._add(record)
        if save:
            self.save()

    def save(self):
        """Write every record to ``results.json`` (atomically: a temporary file, then a rename)."""
        write_atomically(self.path, json.dumps(self.records, indent=1))

    def select(self, **fields):
        return [r for r in self.records if all(r.get(k) == v for k, v in fields.items())]



#: Models available in this process: name -> (model, split, shipped state), installed from the sweep's bundle.
_MODELS = {}
#: all-MiniLM-L6-v2: loaded by every process from its installed package (the pinned artifact), not shipped.
MINILM = "minilm"
#: Trials per point for all-MiniLM-L6-v2 in a full run of ``codes``, ``formats`` and ``lifetime``: each trial is a forward pass
#: of the 22.7M-parameter encoder over 960 sentences (seconds on a CPU), so a point runs at most this many.
MINILM_TRIALS = 10


def trials_for(model_name, trials):
    """The trials a point of ``model_name`` runs in a full run asked for ``trials`` (:data:`MINILM_TRIALS`)."""
    return min(trials, MINILM_TRIALS) if model_name == MINILM else trials


def _model(name):
    if name not in _MODELS:
        if name == MINILM:
            from ..zoo.minilm import load_minilm

            _MODELS[name] = (load_minilm(), None, None)
        else:
            _MODELS[name] = (*trained(name), None)
    return _MODELS[name]


@lru_cache(maxsize=4)
def _minilm_setup(data):
    """MiniLM's corpus, calibration batch, calibration settings and Step 1 gains (once per process)."""
    from ..calibrate import jacobian_gains
    from ..storage import select_parameters
    from ..zoo.minilm import corpus, storage_config

    model = _model(MINILM)[0]
    quick = data == "quick"
    texts = corpus(quick=quick)
    batch = model.tokenize(texts.train[:32])
    calibration = replace(PAPER_CALIBRATION, probes=4 if quick else 8, trials=2 if quick else 4)
    gains = jacobian_gains(model, batch, select_parameters(model, storage_config()), calibration)
    return texts, batch, calibration, gains


@lru_cache(maxsize=4)
def _minilm_reference(data):
    """MiniLM's clean reference on its corpus (once per process: its float weights never change here)."""
    from ..zoo.minilm import clean_reference

    return clean_reference(_model(MINILM)[0], _minilm_setup(data)[0])


def install_models(models):
    """Make the given models (``{name: (state_dict, split)}``) the ones this process evaluates."""
    from ..zoo.models import MODELS

    for name, (state, split) in models.items():
        current = _MODELS.get(name)
        if current is not None and current[2] is state:
            continue
        model = MODELS[name][0]()
        model.load_state_dict(state)
        _MODELS[name] = (model.eval(), split, state)
        plan_for.cache_clear()
        retention_plan_for.cache_clear()


def realized(plan):
    """``plan`` with each layer's idealized protected bits guarded by :data:`REALIZING_CODE` instead.

    The extended Hamming (8,4) code costs four check bits per four data bits:
    the paper's one stored bit per protected bit, now a real code that
    corrects one flip per word, detects two, and fails beyond.
    """
    from qtaml_theory.protection import scheme_from_dict

    layers = [replace(layer, protection=None if layer.bits == 0 else {**REALIZING_CODE, "k": layer.bits})
              for layer in plan.layers]
    spent = sum(scheme_from_dict({**REALIZING_CODE, "k": layer.bits}).storage_bits(layer.size, plan.n_bits)
                if layer.bits else 0 for layer in plan.layers)
    return replace(plan, layers=layers, bits_spent=spent, budget_bits=max(plan.budget_bits, spent),
                   notes={**plan.notes, "realized": "the paper's plan, each layer's top bits under SEC-DED (8,4)"})


@lru_cache(maxsize=256)
def plan_for(model_name, method, p, budget_fraction, faults="symmetric", data="", protection="ideal_msb",
             fmt=""):
    """The plan of one method (cached within a process: calibration is deterministic), in the storage format
    ``fmt`` (:data:`FORMAT_STORAGE`; ``""``: the paper's)."""
    if protection == "realized":
        return realized(plan_for(model_name, method, p, budget_fraction, faults, data, fmt=fmt))
    model, split = _model(model_name)[:2]
    if model_name == MINILM:
        from ..zoo.minilm import storage_config

        _, batch, calibration, gains = _minilm_setup(data)
        config = DeploymentConfig(p=_channel(faults, p), budget_fraction=budget_fraction,
                                  storage=format_storage(storage_config(), fmt), calibration=calibration,
                                  protection=protection)
        return plan_deployment(model, batch, config, method, gains=gains)
    config = DeploymentConfig(p=_channel(faults, p), budget_fraction=budget_fraction, protection=protection,
                              calibration=PAPER_CALIBRATION,
                              **({"storage": format_storage(StorageConfig(), fmt)} if fmt else {}))
    return plan_deployment(model, split.calibration_batch(64), config, method)


def format_storage(base, fmt):
    """``base`` (a StorageConfig) in the storage format ``fmt`` of :data:`FORMAT_STORAGE`."""
    return replace(base, **FORMAT_STORAGE[fmt])


@lru_cache(maxsize=64)
def retention_plan_for(model_name, method, budget_fraction, device, bits_per_cell, level_map, compensation,
                       protection="ideal_msb", data=""):
    """The plan of a retention point: made for the end of life (:data:`qtaml_tac.lifetime.REFERENCE_LIFETIME_S`).

    ``protection`` is the point's menu (``"codes"``: TAC with real codes, planned at the cells' symmetric
    surrogate, an approximation for codes over cells: :func:`qtaml_tac.lifetime.cells_plan`). all-MiniLM-L6-v2
    plans on its corpus (``data``), storage and calibration settings, as :func:`plan_for` does.
    """
    from qtaml_theory.physics import retention_channel

    from ..lifetime import REFERENCE_LIFETIME_S, cells_plan, retention_device

    model, split = _model(model_name)[:2]
    cell = retention_device(device)
    channel = retention_channel(cell, REFERENCE_LIFETIME_S, bits_per_cell, level_map)
    drift = (retention_channel(cell, REFERENCE_LIFETIME_S, bits_per_cell, level_map, one_step=True)
             if compensation == "drift" else None)
    if model_name == MINILM:
        from ..zoo.minilm import storage_config

        _, batch, calibration, gains = _minilm_setup(data)
        return cells_plan(model, batch, channel, method, budget_fraction, drift, gains=gains, menu=protection,
                          storage=storage_config(), calibration=calibration)
    return cells_plan(model, split.calibration_batch(64), channel, method, budget_fraction, drift, menu=protection)


def _plan(key):
    """The plan of a plan key (:func:`_plan_key`)."""
    if key[0] == RETENTION:
        return retention_plan_for(*key[1:])
    return plan_for(*key)


def _plan_alone(key):
    """:func:`_plan` on one torch thread (the plan does not depend on where it is made)."""
    with _single_thread():
        return _plan(key)


def _plan_model(key):
    return key[1] if key[0] == RETENTION else key[0]


@contextmanager
def _single_thread():
    """One torch thread while a point runs, so results do not depend on where it runs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _plan_key(point):
    if point.faults == RETENTION:
        return (RETENTION, point.model, point.method, point.budget_fraction, point.device, point.bits_per_cell,
                point.level_map, point.cell_compensation, point.protection, point.data)
    calibrate_p = point.p if point.calibrate_p is None else point.calibrate_p
    return (point.model, point.method, calibrate_p, point.budget_fraction,
            "charge_loss" if point.faults == "charge_loss" else "symmetric", point.data, point.protection,
            point.format)


def evaluate_point(point, trials, seed, bundle=None):
    """Plan (at ``calibrate_p`` if set) and evaluate one point; returns its record.

    ``bundle`` (``{"models": {name: (state_dict, split)}, "plans": {key: Plan}}``)
    carries the trained models and the plans to a worker once per sweep;
    without it they come from the checkpoint cache and :func:`plan_for`.
    """
    if bundle is not None:
        install_models(bundle["models"])
    with _single_thread():
        model, split = _model(point.model)[:2]
        plan = bundle["plans"][_plan_key(point)] if bundle is not None else _plan(_plan_key(point))
        if point.model == MINILM:
            return _minilm_record(point, trials, seed, model, plan)
        model, plan = point.deployment(model, split, plan, seed)
        result = evaluate(model, plan, split.x_test, split.y_test, faults=point_faults(point),
                          trials=trials, seed=point_seed(point, seed))
    return {
        **_plan_fields(point, plan),
        "accuracy_mean": result.score_mean,
        "accuracy_std": result.score_std,
        "ci95": list(result.ci95),
        **({"trial_scores": list(result.scores)} if point.keeps_trial_scores else {}),
        "trials": trials,
        "clean_accuracy": result.clean_score,
        "seed": seed,
        "key": point.key(trials, seed),
    }


def _plan_fields(point, plan):
    codes = {} if point.protection == "ideal_msb" else {
        "menu": point.protection,
        "protection": [repr(layer.scheme()) if layer.protection or layer.bits else "Unprotected()"
                       for layer in plan.layers],
    }
    return {
        **point.fields(),
        **codes,
        "allocation": [layer.bits for layer in plan.layers],
        "layers": [layer.name for layer in plan.layers],
        "scores": [layer.score for layer in plan.layers],
        "compensation": [layer.compensation for layer in plan.layers],
        "overhead": plan.overhead,
        "predicted_rho": plan.predicted_rho,
    }


def _minilm_record(point, trials, seed, model, plan):
    """MiniLM's record: linear-probe accuracy as ``accuracy_*``, with cosine and retrieval beside it."""
    from ..zoo.minilm import embedding_quality

    texts = _minilm_setup(point.data)[0]
    faults = point_faults(point) if point.faults == RETENTION else None  # else the plan's channel, at p
    quality = embedding_quality(model, plan, texts, trials=trials, seed=point_seed(point, seed), faults=faults,
                                reference=_minilm_reference(point.data))
    return {
        **_plan_fields(point, plan),
        "accuracy_mean": quality.probe_mean,
        "accuracy_std": quality.probe_std,
        "ci95": list(t_interval(quality.probe_mean, quality.probe_std, trials)),
        "trials": trials,
        "clean_accuracy": quality.probe_clean,
        "cosine_mean": quality.cosine_mean,
        "cosine_std": quality.cosine_std,
        "retrieval_mean": quality.retrieval_mean,
        "retrieval_std": quality.retrieval_std,
        "seed": seed,
        "key": point.key(trials, seed),
    }


def _task_key(point, trials, seed):
    return f"point-{hashlib.sha1(point.key(trials, seed).encode()).hexdigest()[:16]}"


def run_points(points, results, trials, seed, client, progress=True, on_record=None):
    """Evaluate every point not yet in ``results`` on the Dask ``client``, writing each record as it arrives.

    Points are independent tasks (``retries=3``: a point lost with a dead
    worker runs again elsewhere). The plans are made once, single-threaded:
    here, or for all-MiniLM-L6-v2 (which every process loads from its
    package, and whose plans take a minute each) as tasks on the workers,
    in parallel. Each plan is saved in ``plans/`` beside ``results.json`` as
    it is made, and a resumed run reads it back instead of making it again
    (:class:`~qtaml_tac.experiments.plan_store.PlanStore`: the same plan, so
    the same records). The trained models and the plans go to the workers once,
    scattered with ``broadcast=True``. Records are stored in a canonical order,
    so the file does not depend on where or in what order points ran.
    With ``progress``, tqdm bars on stderr count the plans calibrated and the
    points done, with the time left; ``on_record(done, total)`` is called after
    each record.

    Raises
    ------
    ValueError
        For a sweep with no points.
    """
    from distributed import as_completed

    if not points:
        raise ValueError("a sweep with no points: nothing to run")
    todo = [p for p in points if results.get(p.key(trials, seed)) is None]
    if todo:
        names = sorted({p.model for p in todo} - {MINILM})
        experiment = todo[0].experiment
        keys = sorted({_plan_key(p) for p in todo}, key=repr)
        store = PlanStore(results.path.parent)
        plans = {key: plan for key in keys if (plan := store.load(key)) is not None}
        remote = {client.submit(_plan_alone, key, key=f"plan-{plan_digest(key)}",
                                retries=3, pure=False): key
                  for key in keys if key not in plans and _plan_model(key) == MINILM}
        with tqdm(total=len(keys), initial=len(plans), desc=f"{experiment}: plans", unit="plan",
                  disable=not progress, file=sys.stderr) as bar:
            for key in keys:
                if key not in plans and _plan_model(key) != MINILM:
                    plans[key] = _plan_alone(key)
                    store.save(key, plans[key])
                    bar.update()
            for future in as_completed(remote):
                plans[remote[future]] = future.result()
                store.save(remote[future], plans[remote[future]])
                bar.update()
        bundle = {"models": {name: (_model(name)[0].state_dict(), _model(name)[1]) for name in names},
                  "plans": plans}
        [shared] = client.scatter([bundle], broadcast=True)
        futures = [client.submit(evaluate_point, point, trials, seed, shared, key=_task_key(point, trials, seed),
                                 retries=3, pure=False) for point in todo]
        with tqdm(total=len(todo), desc=f"{experiment}: points", unit="point", disable=not progress,
                  file=sys.stderr) as bar:
            for done, future in enumerate(as_completed(futures), start=1):
                results.add(future.result())
                bar.update()
                if on_record is not None:
                    on_record(done, len(todo))
    keys = {p.key(trials, seed) for p in points}
    return [r for r in results.records if r.get("key") in keys]
