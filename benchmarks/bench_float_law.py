"""Benchmark (on demand): the law tables of a 16-bit float over all 65,536 codes.

Run: ``python benchmarks/bench_float_law.py [--repeats 3]``.

``error_cumulants(encoding, range(65536), p)`` (the cumulants alone, what
the allocation uses) and ``float_law_table`` (with the truncation bounds) for
float16 and bfloat16 at p in {1e-4, 1e-3, 1e-2}, with masks of at most 3
flips (the default) and 4, beside the baseline measured in the same run: the
fixed-point law of the same number of codes (``error_cumulants`` of 16-bit
offset binary, a closed form). Target (issue 15): under 10 seconds per
table. Printed too: the largest relative bound on the variance over the
codes of typical weights (|w| in [1e-3, 1]).
"""

import argparse
from functools import partial

import numpy as np
from bench_injection import best_of  # the benchmarks' shared timer (this folder is on the path of a script)

from qtaml_theory import error_cumulants, get_encoding
from qtaml_theory.float_law import float_law_table


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    codes = np.arange(1 << 16)
    fixed = get_encoding("offset_binary", 16)
    print(f"{'format':>10} {'p':>7} {'flips':>5} {'cumulants':>10} {'/ fixed':>8} {'table':>9} {'/ fixed':>8} "
          f"{'max bound/var':>14}")
    for name in ("float16", "bfloat16"):
        encoding = get_encoding(name, 16)
        typical = (np.abs(encoding.table) >= 1e-3) & (np.abs(encoding.table) <= 1)
        for p in (1e-4, 1e-3, 1e-2):
            baseline = best_of(partial(error_cumulants, fixed, codes, p), args.repeats)
            for flips in (3, 4):
                alone = best_of(partial(error_cumulants, encoding, codes, p, max_flips=flips), args.repeats)
                run = partial(float_law_table, encoding, codes, p, max_flips=flips)
                seconds = best_of(run, args.repeats)
                law = run()
                ratio = np.max(law.cumulant_bounds[1][typical] / law.cumulants[1][typical])
                print(f"{name:>10} {p:>7g} {flips:>5} {alone:>9.2f}s {alone / baseline:>8.0f} {seconds:>8.2f}s "
                      f"{seconds / baseline:>8.0f} {ratio:>14.1e}")


if __name__ == "__main__":
    main()
