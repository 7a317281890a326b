"""The paper's experiments, reproduced: ``python -m qtaml_tac.experiments NAME [--out DIR] [--quick] ...``.

NAME is a section (``5.1`` ... ``5.9``), ``rho`` (Tables 1 and 8),
``directional`` (the charge-loss channel) or ``all``. Each writes into DIR a
``results.json`` (one record per point), its figures (PNG and PDF) and LaTeX
tables (``table_exp_*.tex``, included by ``python -m qtaml_theory.report
--experiments DIR``). A rerun with the same seed gives the same numbers, and
finished points are not recomputed.
"""

from __future__ import annotations

from pathlib import Path

from .runner import Results
from .sections import EXPERIMENTS, Context

__all__ = ["EXPERIMENTS", "run_experiments", "DEFAULT_TRIALS", "QUICK_TRIALS"]

DEFAULT_TRIALS = 30
QUICK_TRIALS = 5


def run_experiments(names, out="experiments", quick=False, trials=None, seed=0):
    """Run experiments ``names`` (or ``["all"]``) into ``out``; returns the results store."""
    names = list(EXPERIMENTS) if "all" in names else list(names)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENTS)} or 'all', got {unknown}")
    trials = (QUICK_TRIALS if quick else DEFAULT_TRIALS) if trials is None else trials
    if trials < 2:
        raise ValueError(f"trials must be at least 2, got {trials}")
    out = Path(out)
    results = Results(out)
    context = Context(out, results, quick, trials, seed)
    for name in names:
        EXPERIMENTS[name](context)
    return results
