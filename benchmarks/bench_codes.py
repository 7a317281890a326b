"""Benchmark (on demand): real codes, as ratios to baselines measured in the same run.

Run: ``python benchmarks/bench_codes.py [--weights 10000000] [--repeats 3] [--layers 500]``.

1. Injection with SEC-DED (72,64) over all 8 bit planes of N weights
   (``qtaml_tac.inject_`` with ``protection={name: SECDED(8)}``) at
   p in {1e-4, 1e-3, 1e-2}, against the memory floor: decoding the codes with
   no flips into the float32 parameter (``Storage.write_()``, the read-back of
   a clean memory, where no word needs the decoder). Targets (issue): at most
   2x at p <= 1e-3, 8x at 1e-2. Unprotected injection at the same p is
   printed beside it.
2. Exact allocation over a 10-scheme menu for L layers
   (``allocate_protection(..., method="exact")``): cold (the menu's residual
   laws computed, then solved) and warm (laws cached: the solver alone), against
   the greedy on the same instance. Target (issue): under 1 second.
"""

import argparse
import time
from functools import partial

import numpy as np
import torch
from bench_injection import best_of  # the benchmarks' shared timer (this folder is on the path of a script)
from torch import nn

from qtaml_tac import quantize
from qtaml_tac.inject import inject_
from qtaml_theory.allocation import allocate_protection
from qtaml_theory.protection import BCH, SECDED, Repetition, Unprotected


def injection(weights, repeats):
    model = nn.Linear(weights // 1000, 1000, bias=False)
    storage = quantize(model)
    name = storage.names[0]
    generator = torch.Generator().manual_seed(0)
    inject_(storage, 1e-3, {name: SECDED(8)}, generator)  # the words' check bits are encoded once, at the write
    floor = best_of(storage.write_, repeats)
    print(f"injection, {weights:.0e} weights, SEC-DED (72,64) on all 8 planes; floor (clean decode): "
          f"{floor * 1e3:.1f} ms")
    print(f"{'p':>8} {'SEC-DED':>10} {'/ floor':>8} {'unprotected':>12} {'/ floor':>8}")
    for p in (1e-4, 1e-3, 1e-2):
        coded = best_of(partial(inject_, storage, p, {name: SECDED(8)}, generator), repeats)
        plain = best_of(partial(inject_, storage, p, None, generator), repeats)
        print(f"{p:>8g} {coded * 1e3:>8.0f}ms {coded / floor:>8.2f} {plain * 1e3:>10.0f}ms {plain / floor:>8.2f}")


def allocation(layers, repeats):
    rng = np.random.default_rng(0)
    sizes = [int(s) for s in 10 ** rng.uniform(2, 6, size=layers)]
    scores = [float(s) for s in 10 ** rng.uniform(-3, 0, size=layers)]
    menu = [Unprotected(), SECDED(2), SECDED(4), SECDED(8), BCH(2, 64, 2), BCH(4, 64, 2), BCH(8, 64, 2),
            SECDED(4, 16), Repetition(1), Repetition(2)]
    budget = 0.1 * 8 * sum(sizes)
    start = time.perf_counter()
    allocate_protection(sizes, scores, menu, budget, 8, 1e-3)
    cold = time.perf_counter() - start
    warm = best_of(lambda: allocate_protection(sizes, scores, menu, budget, 8, 1e-3), repeats)
    greedy = best_of(lambda: allocate_protection(sizes, scores, menu, budget, 8, 1e-3, method="greedy"), repeats)
    print(f"allocation, {layers} layers x {len(menu)} schemes, p = 1e-3, budget 10%: exact cold {cold * 1e3:.0f} ms, "
          f"warm {warm * 1e3:.0f} ms ({warm / greedy:.2f}x the greedy's {greedy * 1e3:.0f} ms)")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--layers", type=int, default=500)
    args = parser.parse_args()
    injection(args.weights, args.repeats)
    allocation(args.layers, args.repeats)


if __name__ == "__main__":
    main()
