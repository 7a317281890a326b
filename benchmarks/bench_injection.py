"""Benchmark (on demand): one Monte Carlo trial's injection, as ratios to baselines measured in the same run.

Run: ``python benchmarks/bench_injection.py [--weights 10000000] [--repeats 5]``.

For N weights at n = 8 and p in {1e-4, 1e-2, 0.1}, the time to sample the
flips and produce the perturbed float32 weights (``qtaml_tac.inject_``, the
compiled kernels and their NumPy twin) against

(a) the memory floor: decoding the codes to float32 with no flips (the
    storage's own decode into the parameter), and
(b) the naive sampler: one float64 Bernoulli per bit, then XOR and decode;

and the same for per-cell rates and a fixed chip at p = 0.1 (one uniform
compared per bit).

It also measures where the sparse draw (jumping between weights with a flip)
stops paying against the dense one (visiting every weight), the basis of
``qtaml_tac.flip_law.DENSE_EVENT_RATE``; and a whole Monte Carlo trial on the
digit CNNs (injection plus a forward pass over the 360 test images) against the
clean forward pass, run one trial at a time or 16 noisy replicas in one
``torch.func.vmap`` forward.
"""

import argparse
import os
import time

import torch
from torch import nn
from torch.func import functional_call, vmap

from qtaml_tac import CellVariationFaults, Chip, flip_law, quantize
from qtaml_tac.inject import compiled_kernels, inject_


def best_of(function, repeats, clock=time.perf_counter):
    """The shortest of ``repeats`` timings of ``function()`` by ``clock`` (wall time; ``time.process_time``
    counts only this process's CPU time, steadier on a shared machine with one thread)."""
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        function()
        best = min(best, clock() - start)
    return best


def naive(storage, p, generator):
    for tensor in storage:
        flips = torch.rand((tensor.size, 8), dtype=torch.float64, generator=generator) < p
        mask = (flips.to(torch.int32) << torch.arange(8, dtype=torch.int32)).sum(1, dtype=torch.int32)
        tensor.parameter.copy_(tensor.decode(tensor.codes ^ mask))


def numpy_twin(function):
    """``function`` run with the compiled kernels switched off (the pure NumPy sampler)."""
    def run():
        os.environ["QTAML_COMPILED"] = "0"
        try:
            function()
        finally:
            del os.environ["QTAML_COMPILED"]
    return run


def in_regime(dense, function):
    """``function`` run with every draw forced dense (or sparse)."""
    def run():
        saved = flip_law.DENSE_EVENT_RATE
        flip_law.DENSE_EVENT_RATE = 0.0 if dense else 2.0
        try:
            function()
        finally:
            flip_law.DENSE_EVENT_RATE = saved
    return run


def replicas_per_trial(model, storage, inputs, p, generator, count):
    """Seconds per trial when ``count`` noisy replicas share one vmapped forward pass."""
    parameters = dict(model.named_parameters())
    fixed = {name: value for name, value in {**parameters, **dict(model.named_buffers())}.items()
             if name not in storage.names}
    stacked = {name: torch.empty((count,) + parameters[name].shape) for name in storage.names}

    def run():
        for replica in range(count):
            inject_(storage, p, generator=generator)
            for name in storage.names:
                stacked[name][replica].copy_(parameters[name])
        vmap(lambda weights: functional_call(model, {**weights, **fixed}, (inputs,)))(stacked)

    return run


@torch.no_grad()
def main(weights, repeats):
    if compiled_kernels() is None:
        print("numba is not installed: 'compiled' below is the NumPy sampler too")
    torch.manual_seed(0)
    model = nn.Linear(weights // 1000, 1000, bias=False)
    storage = quantize(model)
    generator = torch.Generator().manual_seed(0)
    inject_(storage, 0.1, generator=generator)  # load (or compile) the kernels before timing
    floor = best_of(lambda: storage.write_(), repeats)
    print(f"{weights:,} weights, n = 8, {torch.get_num_threads()} threads; "
          f"floor (decode to float32, no flips): {floor * 1e3:.1f} ms")
    for p in (1e-4, 1e-2, 0.1):
        ours = best_of(lambda p=p: inject_(storage, p, generator=generator), repeats)
        twin = best_of(numpy_twin(lambda p=p: inject_(storage, p, generator=generator)), max(1, repeats // 2))
        reference = best_of(lambda p=p: naive(storage, p, generator), max(1, repeats // 2))
        print(f"  p = {p:g}: compiled {ours / floor:6.2f}x floor   NumPy twin {twin / floor:6.2f}x   "
              f"naive {reference / floor:6.2f}x   (compiled is {reference / ours:6.1f}x faster than naive)")
    for label, faults, chip in (("per-cell rates (CellVariationFaults)", CellVariationFaults(0.1), None),
                                ("a fixed Chip", 0.1, Chip(0))):
        compared = best_of(lambda faults=faults, chip=chip: inject_(storage, faults, generator=generator, chip=chip), repeats)
        twin = best_of(numpy_twin(lambda faults=faults, chip=chip: inject_(storage, faults, generator=generator, chip=chip)), 1)
        print(f"  p = 0.1, {label}: compiled {compared / floor:6.2f}x floor   NumPy twin {twin / floor:6.2f}x")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the serial kernels, as experiment points run
    try:
        floor_1 = best_of(lambda: storage.write_(), repeats)
        ratios = [best_of(lambda p=p: inject_(storage, p, generator=generator), repeats) / floor_1 for p in (1e-4, 1e-2, 0.1)]
    finally:
        torch.set_num_threads(threads)
    print(f"  one thread (serial kernels; floor {floor_1 * 1e3:.1f} ms): p = 1e-4, 1e-2, 0.1: "
          + ", ".join(f"{ratio:.2f}x" for ratio in ratios))
    print("sparse / dense draw time by the share of weights with a flip (the switch is at "
          f"{flip_law.DENSE_EVENT_RATE}):")
    for p in (0.02, 0.03, 0.04, 0.06, 0.1):
        share = flip_law.FlipLaw.from_rates([p] * 8, [p] * 8, 8).event_rate
        dense = best_of(in_regime(True, lambda p=p: inject_(storage, p, generator=generator)), repeats)
        sparse = best_of(in_regime(False, lambda p=p: inject_(storage, p, generator=generator)), repeats)
        print(f"  p = {p:g} (share {share:.2f}): dense {dense / floor:5.2f}x floor, sparse {sparse / floor:5.2f}x "
              f"-> sparse / dense {sparse / dense:4.2f}")
    storage.restore_()

    from qtaml_tac.zoo.data import digits
    from qtaml_tac.zoo.models import SmallCNN, WideCNN, train_classifier

    split = digits()
    count = 16
    for model_class in (SmallCNN, WideCNN):
        cnn = train_classifier(model_class(), split, epochs=5).eval()
        cnn_storage = quantize(cnn)
        small = 10 * repeats  # millisecond timings: more repeats for a stable best
        clean = best_of(lambda cnn=cnn: cnn(split.x_test), small)
        def trial_once(cnn=cnn, cnn_storage=cnn_storage):
            return inject_(cnn_storage, 0.1, generator=generator), cnn(split.x_test)

        trial = best_of(trial_once, small)
        batched = best_of(replicas_per_trial(cnn, cnn_storage, split.x_test, 0.1, generator, count), small) / count
        cnn_storage.restore_()
        print(f"{model_class.__name__} trial at p = 0.1 (inject + forward over 360 images): {trial / clean:.2f}x the "
              f"clean forward ({clean * 1e3:.2f} ms); {count} replicas in one vmapped forward: "
              f"{batched / trial:.2f}x the one-at-a-time trial")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--weights", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    arguments = parser.parse_args()
    main(arguments.weights, arguments.repeats)
