"""Plans saved beside ``results.json`` (``out/plans/``), so that a resumed run does not make them again.

A sweep's plans are deterministic (one torch thread, fixed calibration
seeds) and survive JSON exactly (:meth:`qtaml_tac.plan.Plan.to_dict` and
:meth:`~qtaml_tac.plan.Plan.from_dict`), so a saved plan gives the records
that the same plan made again would. all-MiniLM-L6-v2's plans take one to
two minutes of a core each; a resumed run of its lifetime grid saves about
a quarter of an hour of two cores. Each plan is saved as soon as it is made,
so a run stopped while it plans keeps the plans it finished.

The hazard is the one ``results.json`` carries: a plan saved by an older
planner is reused. Delete ``plans/`` (or one of its files) after changing
how plans are made.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from pathlib import Path

from ..plan import Plan
from .output import write_atomically

__all__ = ["PlanStore", "plan_digest"]


def plan_digest(key) -> str:
    """16 hex digits naming a plan key (a tuple of names and numbers): its file here, its Dask task."""
    return hashlib.sha1(repr(key).encode()).hexdigest()[:16]


class PlanStore:
    """The plans of a run's folder, one JSON file per plan key.

    Parameters
    ----------
    out : path
        The run's folder; plans live in ``out/plans/<hash of the key>.json``
        as ``{"key": repr(key), "plan": Plan.to_dict()}``.
    """

    def __init__(self, out):
        self.folder = Path(out) / "plans"

    def path(self, key) -> Path:
        """The file of ``key`` (a plan key of the runner: a tuple of names and numbers)."""
        return self.folder / f"{plan_digest(key)}.json"

    def load(self, key) -> Plan | None:
        """The saved plan of ``key``, or ``None`` when there is none.

        A file that is not a saved plan of ``key`` (corrupt, another key's,
        a plan that fails :meth:`~qtaml_tac.plan.Plan.from_dict`'s checks)
        is reported with a ``RuntimeWarning`` and read as no plan: the plan
        is made again and the file replaced.
        """
        path = self.path(key)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text())
            if not isinstance(data, dict) or data.get("key") != repr(key):
                raise ValueError(f"it holds the plan of {data.get('key') if isinstance(data, dict) else data!r}")
            return Plan.from_dict(data["plan"])
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as error:
            warnings.warn(f"{path} is not a saved plan of {key!r} ({error}); the plan is made again and the file "
                          "replaced", RuntimeWarning, stacklevel=2)
            return None

    def save(self, key, plan: Plan) -> None:
        """Save ``plan`` as the plan of ``key`` (atomically: a temporary file, then a rename)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(self.path(key), json.dumps({"key": repr(key), "plan": plan.to_dict()}, indent=1))
