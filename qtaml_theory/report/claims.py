"""The docs' claims table from an experiments folder: ``python -m qtaml_theory.report.claims --experiments DIR``.

Writes into ``--out`` (default ``docs/results``) the records the docs describe,
``records.json`` (trimmed: without the fields no figure, table or claim of the
docs reads, numbers to 6 significant digits), and ``claims.inc``, the
reStructuredText table that ``docs/results.rst`` includes, made by
:func:`~qtaml_theory.report.experiments.claim_rows` from exactly those records:
the function that writes the report's first page. The test suite rebuilds
``claims.inc`` from ``records.json`` and fails when they differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .cli import check_output_folder, write_atomically
from .experiments import claim_rows, experiment_records, render_claims_rst

__all__ = ["trim_records", "claims_text", "main", "DROPPED_FIELDS"]

#: Fields the docs never read (bookkeeping); per-layer lists are dropped too, outside Section 5.3 (whose figure
#: draws them).
DROPPED_FIELDS = ("key", "seed", "data", "predicted_rho", "trial_scores")
_LAYER_FIELDS = ("layers", "scores", "allocation", "protection")


def _round(value):
    if isinstance(value, float):
        return float(f"{value:.6g}")
    if isinstance(value, list):
        return [_round(v) for v in value]
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    return value


def trim_records(records):
    """``records`` without :data:`DROPPED_FIELDS` (and per-layer lists outside 5.3), floats to 6 digits."""
    trimmed = []
    for record in records:
        lists = set() if record.get("experiment") == "5.3" else set(_LAYER_FIELDS) | {"compensation"}
        trimmed.append({k: _round(v) for k, v in record.items()
                        if k not in DROPPED_FIELDS and not (k in lists and isinstance(v, (list, dict)))})
    return trimmed


def claims_text(records):
    """The reStructuredText of the claims table of ``records`` (what ``claims.inc`` holds)."""
    return render_claims_rst(claim_rows(records))


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m qtaml_theory.report.claims", description=__doc__)
    parser.add_argument("--experiments", required=True, help="a folder of python -m qtaml_tac.experiments")
    parser.add_argument("--out", type=Path, default=Path("docs/results"), help="where records.json and claims.inc go")
    args = parser.parse_args(argv)
    try:
        records = trim_records(experiment_records(args.experiments))
        check_output_folder(args.out)
    except ValueError as error:
        parser.error(str(error))
    write_atomically(args.out / "records.json", json.dumps(records, separators=(",", ":"), sort_keys=True) + "\n")
    write_atomically(args.out / "claims.inc", claims_text(records))
    print(args.out / "records.json")
    print(args.out / "claims.inc")
    return 0


if __name__ == "__main__":
    sys.exit(main())
