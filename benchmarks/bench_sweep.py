"""Benchmark (on demand): one sweep in-process against a 2-worker local Dask cluster, as a ratio.

Run: ``python benchmarks/bench_sweep.py``. The sweep is Section 5.5 in quick
mode (48 + 16 points on four CNNs, 5 trials each), into fresh directories, with
the models already trained (the checkpoint cache is warmed first).
"""

import tempfile
import time

from qtaml_tac.experiments import run_experiments
from qtaml_tac.zoo.models import MODELS, trained


def timed(**where):
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        run_experiments(["5.5"], out, quick=True, **where)
        return time.perf_counter() - start


def main():
    for name in MODELS:
        trained(name)
    in_process = timed()
    cluster = timed(workers=2)
    print(f"Section 5.5 quick sweep: in-process {in_process:.1f} s, 2-worker local cluster {cluster:.1f} s "
          f"(ratio {in_process / cluster:.2f}x, including the cluster's start-up)")


if __name__ == "__main__":
    main()
