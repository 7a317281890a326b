"""Command line of :mod:`qtaml_tac.experiments`."""

import argparse
import sys
import time

from qtaml_theory.report.cli import non_negative_int

from . import EXPERIMENTS, run_experiments


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m qtaml_tac.experiments",
                                     description="Reproduce the paper's experiments (Sections 5.1-5.9).")
    parser.add_argument("name", nargs="+", choices=[*EXPERIMENTS, "all"], help="experiments to run")
    parser.add_argument("--out", default="experiments", help="output directory (default: ./experiments)")
    parser.add_argument("--quick", action="store_true", help="reduced grids and 5 trials (minutes)")
    parser.add_argument("--trials", type=int, default=None, help="Monte Carlo trials per point (default 30, quick 5)")
    parser.add_argument("--seed", type=non_negative_int, default=0, help="experiment seed (an integer >= 0)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--workers", type=int, default=None, help="run on a local Dask cluster of N worker processes")
    where.add_argument("--scheduler", default=None, help="run on an existing Dask scheduler (e.g. tcp://host:8786)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    try:
        results = run_experiments(args.name, args.out, args.quick, args.trials, args.seed, args.workers,
                                  args.scheduler, progress=not args.quiet)
    except ValueError as error:
        parser.error(str(error))
    print(f"{len(results.records)} records in {results.path} ({time.perf_counter() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
