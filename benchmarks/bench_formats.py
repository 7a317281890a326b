"""Benchmark (on demand): injection into every deployment format, as ratios to the same format's floor (issue 15).

Run: ``python benchmarks/bench_formats.py [--weights 2000000] [--repeats 5] [--threads 2] [--cpu-time]``.

For each format (int8 per tensor, the paper's; int8 per channel; int4 with
groups of 128 and 32, with and without the scales in faulty memory; bfloat16,
float16, float8 E4M3; MXFP4, MXFP8 E4M3) and p in {1e-4, 1e-3, 1e-2, 0.1}:
the time of one ``qtaml_tac.inject_`` (sample the flips of codes and scales,
write the read-back) over the time of the same format's floor, its clean
decode into the parameter (``Storage.write_``), both measured in this run, and
in brackets that ratio over int8 per tensor's at the same p. The target: every
bracket at most 2. A 16-bit word holds twice an 8-bit word's bits, so at the
same p it takes about twice the flips; its rows also show, in square
brackets, the ratio over the paper's fixed point at the same width (int16
per tensor). ``--cpu-time`` times by the process's CPU time instead of
the wall clock: on a machine shared with other jobs, with ``--threads 1``,
it does not count the time other jobs hold the core.
"""

import argparse
import copy
import time

import torch
from bench_injection import best_of  # the benchmarks' shared timer (this folder is on the path of a script)
from torch import nn

from qtaml_tac import StorageConfig, quantize
from qtaml_tac.inject import compiled_kernels, inject_

FORMATS = {
    "int8 per tensor": StorageConfig(),
    "int16 per tensor": StorageConfig(n_bits=16),
    "int8 per channel": StorageConfig(granularity="channel"),
    "int4 group 128": StorageConfig(n_bits=4, granularity=("group", 128)),
    "int4 group 32": StorageConfig(n_bits=4, granularity=("group", 32)),
    "int4 group 32, asym., faulty scales": StorageConfig(n_bits=4, granularity=("group", 32), symmetric=False,
                                                         scales_in_faulty_memory=True),
    "bfloat16": StorageConfig(encoding="bfloat16", n_bits=16),
    "float16": StorageConfig(encoding="float16", n_bits=16),
    "float8 E4M3": StorageConfig(encoding="float8_e4m3fn", n_bits=8),
    "MXFP4": StorageConfig(encoding="mxfp4", n_bits=4),
    "MXFP8 E4M3, faulty scales": StorageConfig(encoding="mxfp8_e4m3", n_bits=8, scales_in_faulty_memory=True),
}

RATES = (1e-4, 1e-3, 1e-2, 0.1)


@torch.no_grad()
def main(weights, repeats, threads, clock=time.perf_counter):
    torch.set_num_threads(threads)
    if compiled_kernels() is None:
        print("numba is not installed: the NumPy sampler is timed")
    torch.manual_seed(0)
    model = nn.Linear(max(128, weights // 1024 // 128 * 128), 1024, bias=False)  # rows of whole groups of 128
    generator = torch.Generator().manual_seed(0)
    print(f"{model.weight.numel():,} weights, {torch.get_num_threads()} threads, "
          f"{'CPU' if clock is time.process_time else 'wall'} time; ratio = inject_ / the format's clean decode")
    # One copy of the layer per format (a draw patches what the previous draw of the same tensor wrote), and
    # the formats timed in turn, round after round: what the machine's other jobs cost falls on every format
    # alike, and each figure is the best over the rounds.
    storages = {label: quantize(copy.deepcopy(model), config) for label, config in FORMATS.items()}
    for storage in storages.values():
        inject_(storage, 0.1, generator=generator)  # load the kernels and buffers before timing
    best = {label: [float("inf")] * (1 + len(RATES)) for label in FORMATS}
    for _ in range(repeats):
        for label, storage in storages.items():
            timings = [best_of(storage.write_, 3, clock)] + [
                best_of(lambda p=p, storage=storage: inject_(storage, p, generator=generator), 3, clock)
                for p in RATES]
            best[label] = [min(old, new) for old, new in zip(best[label], timings)]
    print(f"{'format':38s} {'floor ms':>9s} " + " ".join(f"{f'p = {p:g}':>16s}" for p in RATES))
    baselines = {}  # word width -> the per-tensor fixed point's ratios at that width
    for label, config in FORMATS.items():
        floor, *times = best[label]
        ratios = [t / floor for t in times]
        baselines.setdefault(config.n_bits, ratios)
        same_width = baselines[config.n_bits] if config.n_bits == 16 else None
        print(f"{label:38s} {floor * 1e3:9.2f} " + " ".join(
            f"{ratio:6.2f}x ({ratio / base:4.2f}){'!' if ratio > 2 * base else ' '}"
            + (f" [{ratio / wide:4.2f}]" if same_width else "")
            for ratio, base, wide in zip(ratios, baselines[8], same_width or ratios)))
    print("(in brackets: the ratio over int8 per tensor's at that p, ! marks one above 2; "
          "in square brackets, for 16-bit words: over int16 per tensor's)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=5, help="rounds over the formats (3 timings each)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cpu-time", action="store_true", help="time by this process's CPU time")
    arguments = parser.parse_args()
    main(arguments.weights, arguments.repeats, arguments.threads,
         time.process_time if arguments.cpu_time else time.perf_counter)
