"""The operating points of the experiments: :class:`Point`, its key and record fields, and its trial seed.

Private: the public names (:class:`~qtaml_tac.experiments.runner.Point`,
:data:`~qtaml_tac.experiments.runner.RETENTION`, :func:`~qtaml_tac.experiments.runner.point_seed`)
are re-exported by :mod:`qtaml_tac.experiments.runner`; a module of its own so that
:mod:`qtaml_tac.experiments.finetune` derives its point from :class:`Point` without importing the runner.
"""

from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass
from typing import ClassVar

import numpy as np

from qtaml_theory.channels import DirectionalChannel, SymmetricChannel

#: A point's protection menus (:attr:`DeploymentConfig.protection`), and ``"realized"``: the paper's
#: plan with each layer's idealized top bits guarded by the real code of the same cost.
POINT_PROTECTIONS = ("ideal_msb", "codes", "realized")

#: The fault model of retention points: the cells' channel from a device preset at ``time_s`` (issue 16).
RETENTION = "retention"

#: A point's storage format (issue 15): name -> the StorageConfig fields it sets ("" is the paper's storage).
#: Rows that a group of 32 or 128 (or MX's 32) does not divide get a scale per channel (``uneven_rows``).
FORMAT_STORAGE = {
    "": {},
    "int8_tensor": {"n_bits": 8},
    "int8_channel": {"n_bits": 8, "granularity": "channel"},
    "int4_g128": {"n_bits": 4, "granularity": ("group", 128), "uneven_rows": "channel"},
    "int4_g32": {"n_bits": 4, "granularity": ("group", 32), "uneven_rows": "channel"},
    "bfloat16": {"n_bits": 16, "encoding": "bfloat16"},
    "float16": {"n_bits": 16, "encoding": "float16"},
    "float8_e4m3": {"n_bits": 8, "encoding": "float8_e4m3fn"},
    "mxfp4": {"n_bits": 4, "encoding": "mxfp4", "uneven_rows": "channel"},
}


@dataclass(frozen=True)
class Point:
    """One operating point of an experiment (``data`` names a data variant, e.g. MiniLM's quick corpus).

    ``protection`` is one of :data:`POINT_PROTECTIONS`; at its default (the
    paper's) it is left out of the point's key and record, so the paper's
    records are what they were before real codes existed.

    Retention points (``faults="retention"``, issue 16) also name the time
    since deployment ``time_s``, the cells (``bits_per_cell``,
    ``level_map``), the device preset ``device``
    (:func:`qtaml_tac.lifetime.retention_device`) and the
    ``cell_compensation`` (``"none"`` or ``"drift"``); other points leave them at their defaults,
    which their keys omit (so results written before them still resume).
    ``format`` names the storage format (:data:`FORMAT_STORAGE`; issue 15),
    omitted at the paper's ``""``.
    """

    experiment: str
    model: str
    method: str
    p: float
    budget_fraction: float
    faults: str = "symmetric"
    calibrate_p: float | None = None
    data: str = ""
    protection: str = "ideal_msb"
    time_s: float | None = None
    bits_per_cell: int = 1
    level_map: str = ""
    device: str = ""
    cell_compensation: str = ""
    format: str = ""

    def __post_init__(self):
        if self.protection not in POINT_PROTECTIONS:
            raise ValueError(f"protection must be one of {POINT_PROTECTIONS}, got {self.protection!r}")
        if self.format not in FORMAT_STORAGE:
            raise ValueError(f"format must be one of {sorted(FORMAT_STORAGE)}, got {self.format!r}")

    def fields(self):
        """The point as a dict, without the optional fields at their defaults (:data:`_OPTIONAL_DEFAULTS`).

        A retention point keeps all its cell fields (an SLC record says ``bits_per_cell = 1``).
        """
        kept = _RETENTION_FIELDS if self.faults == RETENTION else ()
        return {name: value for name, value in asdict(self).items()
                if name in kept or name not in _OPTIONAL_DEFAULTS or value != _OPTIONAL_DEFAULTS[name]}

    def key(self, trials, seed):
        return json.dumps({**self.fields(), "trials": trials, "seed": seed}, sort_keys=True)

    #: Whether the record keeps every trial's score (for paired differences); the paper's records do not.
    keeps_trial_scores: ClassVar[bool] = False

    def deployment(self, model, split, plan, seed):
        """The model and plan this point evaluates: the trained model and its plan, as they are."""
        return model, plan



#: The optional fields of a :class:`Point` and their defaults, left out of the keys and records of the points that
#: do not use them (real codes' menu; retention's time, cells, device and compensation; the storage format).
_OPTIONAL_DEFAULTS = {"protection": "ideal_msb", "time_s": None, "bits_per_cell": 1, "level_map": "", "device": "",
                      "cell_compensation": "", "format": ""}
#: The fields that every retention point's key and record carry.
_RETENTION_FIELDS = ("time_s", "bits_per_cell", "level_map", "device", "cell_compensation")


def point_seed(point, seed):
    """The trial seed of a point: from the experiment seed and the point, not the method or protection (paired).

    Retention points add their device, so that times, cells and
    compensations of one device share their trials' seeds.
    """
    parts = [point.model, repr(point.p), repr(point.budget_fraction), point.faults, repr(point.calibrate_p)]
    parts += [point.device] if point.device else []
    return int(np.random.SeedSequence([seed, *(zlib.crc32(p.encode()) for p in parts)]).generate_state(1)[0])


def _channel(faults, p):
    return DirectionalChannel(0.0, 2 * p) if faults == "charge_loss" else SymmetricChannel(p)

