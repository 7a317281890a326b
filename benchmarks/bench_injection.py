"""Benchmark (on demand): one Monte Carlo trial's injection, as ratios to baselines measured in the same run.

Run: ``python benchmarks/bench_injection.py [--weights 10000000]``.

For N weights at n = 8 and p in {1e-4, 1e-2, 0.1}, the time to sample the
flips and produce the perturbed float32 weights (``qtaml_tac.inject_``) against

(a) the memory floor: decoding the codes to float32 with no flips (the
    storage's own decode into the parameter), and
(b) the naive sampler: one float64 Bernoulli per bit, then XOR and decode.

It also times a whole Monte Carlo trial on the digit CNN (injection plus a
forward pass over the 360 test images) against the clean forward pass.
"""

import argparse
import time

import torch
from torch import nn

from qtaml_tac import quantize
from qtaml_tac.inject import inject_


def best_of(function, repeats):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def naive(storage, p, generator):
    for tensor in storage:
        flips = torch.rand((tensor.size, 8), dtype=torch.float64, generator=generator) < p
        mask = (flips.to(torch.int32) << torch.arange(8, dtype=torch.int32)).sum(1, dtype=torch.int32)
        tensor.parameter.copy_(tensor.decode(tensor.codes ^ mask))


@torch.no_grad()
def main(weights, repeats):
    torch.manual_seed(0)
    model = nn.Linear(weights // 1000, 1000, bias=False)
    storage = quantize(model)
    generator = torch.Generator().manual_seed(0)
    floor = best_of(lambda: storage.write_(), repeats)
    print(f"{weights:,} weights, n = 8; floor (decode to float32, no flips): {floor * 1e3:.1f} ms")
    for p in (1e-4, 1e-2, 0.1):
        ours = best_of(lambda: inject_(storage, p, generator=generator), repeats)
        reference = best_of(lambda: naive(storage, p, generator), max(1, repeats // 2))
        print(f"  p = {p:g}: inject_ {ours / floor:6.2f}x floor   naive {reference / floor:6.2f}x floor   "
              f"(inject_ is {reference / ours:5.1f}x faster than naive)")
    from qtaml_tac.data import digits
    from qtaml_tac.models import SmallCNN, train_classifier

    split = digits()
    cnn = train_classifier(SmallCNN(), split, epochs=5)
    cnn_storage = quantize(cnn)
    clean = best_of(lambda: cnn(split.x_test), repeats)
    trial = best_of(lambda: (inject_(cnn_storage, 0.1, generator=generator), cnn(split.x_test)), repeats)
    cnn_storage.restore_()
    print(f"digit CNN trial at p = 0.1 (inject + forward over 360 images): {trial / clean:.2f}x the clean forward "
          f"({clean * 1e3:.2f} ms)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    main(arguments.weights, arguments.repeats)
