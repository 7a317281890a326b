"""Benchmark (on demand): a fine-tuning step with ``noise="law"`` against a clean quantization-aware step.

Run: ``python benchmarks/bench_finetune.py [--p 0.1] [--repeats 30]``.

Both steps on the trained SmallCNN with a batch of 64 digits: store the master
weights (stage 1), write the read-back into the parameters (the clean one, or
one chip of the law drawn by the compiled sampler of
:func:`qtaml_tac.inject.inject_`), forward, backward, restore and an Adam
step. The issue's target: the law step costs at most 1.5x the clean one,
measured as a ratio in one run (best of ``repeats`` after a warm-up).
"""

import argparse
import time

import torch

from qtaml_tac import DeploymentConfig
from qtaml_tac.finetune import NOISES, _Deployment, _generator, _step
from qtaml_tac.zoo.models import trained

#: The issue's bound on the law step's cost over a clean quantization-aware step.
TARGET_RATIO = 1.5
#: Examples per step, as in :func:`qtaml_tac.finetune.finetune`.
BATCH = 64


def seconds_per_step(model, deployment, noise, inputs, labels, repeats):
    """Best wall-clock seconds of one step of ``noise`` over ``repeats`` (after one warm-up step)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    best = float("inf")
    for step in range(repeats + 1):
        start = time.perf_counter()
        _step(model, deployment, NOISES[noise], inputs, labels, optimizer, _generator(0, step),
              torch.nn.functional.cross_entropy)
        if step:
            best = min(best, time.perf_counter() - start)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--p", type=float, default=0.1)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    model, split = trained("smallcnn")
    model.train()
    deployment = _Deployment(DeploymentConfig(p=args.p), None)
    inputs, labels = split.x_train[:BATCH], split.y_train[:BATCH]
    print(f"SmallCNN, batch {BATCH}, p = {args.p}, {torch.get_num_threads()} torch threads")
    times = {}
    for _ in range(2):  # interleaved, best of both passes
        for noise in ("none", "law", "gaussian", "moments", "randbet"):
            measured = seconds_per_step(model, deployment, noise, inputs, labels, args.repeats)
            times[noise] = min(times.get(noise, float("inf")), measured)
    for noise, seconds in times.items():
        print(f"  {noise:9s} {1e3 * seconds:7.2f} ms/step   {seconds / times['none']:.2f}x the clean QAT step")
    ratio = times["law"] / times["none"]
    print(f"law / clean QAT = {ratio:.2f} (target <= {TARGET_RATIO}): {'met' if ratio <= TARGET_RATIO else 'MISSED'}")


if __name__ == "__main__":
    main()
