"""Benchmark (on demand): planning at scale, in units of the same model's forward pass (issue 18).

Run: ``python benchmarks/bench_scaling.py [--sizes tiny small medium base] [--layers 1 3 6 12]
[--no-minilm] [--no-agreement]``.

1. Scaling. Synthetic transformer stacks of BERT-base shape (token
   embedding, ``nn.TransformerEncoderLayer`` blocks of width ``h``, 12 heads
   at ``h = 768``, feed-forward ``4h``, a linear head; random weights, which
   is fine for timing: the cost does not depend on the values) from about
   1M to 110M parameters (``--sizes``), and BERT-base width with 1 to 12
   blocks (``--layers``). For each: the TAC plan with the default settings
   (Hutchinson gains, Step 3 from the law) and one Monte Carlo trial (one
   noisy read-back of every stored tensor, then a forward pass), both over
   the forward pass of the same model on the same calibration batch (4
   sequences of 64 tokens), and the peak extra resident memory of planning
   and of storing plus the first trial, in bytes per stored weight (sampled
   every 5 ms from ``/proc/self/statm``).
2. MiniLM (all-MiniLM-L6-v2, 32 sentences, ``p = 1e-3``, budget 5%): the
   default TAC plan over one forward-plus-backward pass of the batch
   (target: at most 20).
3. Agreement (the paper's five models and MiniLM): Hutchinson against
   finite-difference gains, both with 16 probes; the Spearman rank
   correlation of the per-layer scores ``Delta_l**2 G_l / N_l`` (target
   >= 0.99) and the share of layers whose two gains differ by less than
   three combined standard errors.

The machine is shared: times are single runs (best of two for the unit
passes), so read the ratios, not the seconds.
"""

import argparse
import gc
import math
import threading
import time

import numpy as np
import torch
from scipy import stats
from torch import nn

from qtaml_tac import CalibrationConfig, DeploymentConfig, jacobian_gains, plan_deployment, quantize, storage_for
from qtaml_tac.calibrate import forward
from qtaml_tac.inject import inject_
from qtaml_tac.storage import select_parameters

#: name -> (width, blocks, vocabulary): about 1M, 7M, 30M and 110M parameters.
SIZES = {"tiny": (128, 2, 4000), "small": (256, 4, 12000), "medium": (512, 6, 24000), "base": (768, 12, 30522)}
BASE_VOCABULARY = 30522


class SyntheticBert(nn.Module):
    """Token embedding, ``blocks`` post-norm encoder blocks of width ``width``, mean pooling, a linear head."""

    def __init__(self, width, blocks, vocabulary, length=64):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.positions = nn.Embedding(length, width)
        self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(width, max(1, width // 64), 4 * width,
                                                                dropout=0.0, batch_first=True) for _ in range(blocks)])
        self.head = nn.Linear(width, width)

    def forward(self, tokens):
        hidden = self.embed(tokens) + self.positions.weight[: tokens.shape[1]]
        for block in self.blocks:
            hidden = block(hidden)
        return self.head(hidden.mean(dim=1))


def best_of(function, repeats=2):
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def timed(function):
    start = time.perf_counter()
    result = function()
    return result, time.perf_counter() - start


def resident_bytes():
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def peak_extra_memory(function):
    """``(result, peak resident bytes above the start)`` of ``function()``, sampled every 5 ms."""
    gc.collect()
    start, peak, done = resident_bytes(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], resident_bytes())
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        result = function()
    finally:
        done.set()
        sampler.join()
    return result, max(peak[0], resident_bytes()) - start


def forward_seconds(model, batch):
    """Best-of-two seconds of a forward pass of ``model`` on ``batch`` (no gradients)."""
    with torch.no_grad():
        return best_of(lambda: forward(model, batch))


def forward_backward_seconds(model, batch):
    """Best-of-two seconds of a forward-plus-backward pass of ``model`` on ``batch``."""
    def forward_backward():
        with torch.enable_grad():
            forward(model, batch).sum().backward()
        model.zero_grad(set_to_none=True)
    return best_of(forward_backward)


def one_trial(model, storage, batch, p, generator):
    with torch.no_grad():
        inject_(storage, p, generator=generator)
        forward(model, batch)


def scaling_row(label, model, batch, config):
    forward_s = forward_seconds(model, batch)
    weights = sum(model.get_parameter(name).numel() for name in select_parameters(model, config.storage))
    (plan, plan_s), extra = peak_extra_memory(lambda: timed(lambda: plan_deployment(model, batch, config, "tac")))
    generator = torch.Generator().manual_seed(0)

    def first_trial():
        storage = storage_for(model, plan)
        one_trial(model, storage, batch, plan.p, generator)
        return storage
    storage, trial_extra = peak_extra_memory(first_trial)
    trial_s = best_of(lambda: one_trial(model, storage, batch, plan.p, generator))
    storage.restore_()
    parameters = sum(parameter.numel() for parameter in model.parameters())
    print(f"{label:>22} {parameters / 1e6:8.1f}M {len(plan.layers):6d} {forward_s:8.3f}s {plan_s:8.1f}s "
          f"{plan_s / forward_s:9.1f}x {trial_s / forward_s:8.2f}x {extra / weights:9.1f} {trial_extra / weights:9.1f}")


def scaling(sizes, layers):
    torch.manual_seed(0)
    config = DeploymentConfig(p=1e-3, budget_fraction=0.05)
    print("\nScaling: TAC plan (defaults) and one Monte Carlo trial over one forward pass (4 x 64 tokens)")
    print(f"{'model':>22} {'params':>9} {'tensors':>6} {'forward':>9} {'plan':>9} {'plan/fwd':>10} "
          f"{'trial/fwd':>9} {'B/w plan':>9} {'B/w trial':>9}")
    warm = SyntheticBert(32, 1, 100).eval()  # imports, generated closed forms and compiled kernels load here
    plan_deployment(warm, torch.randint(0, 100, (2, 8)), config, "tac")
    for name in sizes:
        width, blocks, vocabulary = SIZES[name]
        model = SyntheticBert(width, blocks, vocabulary).eval()
        batch = torch.randint(0, vocabulary, (4, 64), generator=torch.Generator().manual_seed(0))
        scaling_row(f"{name} (h={width}, L={blocks})", model, batch, config)
    for blocks in layers:
        model = SyntheticBert(768, blocks, BASE_VOCABULARY).eval()
        batch = torch.randint(0, BASE_VOCABULARY, (4, 64), generator=torch.Generator().manual_seed(0))
        scaling_row(f"BERT width, L={blocks}", model, batch, config)


def minilm_cost():
    from qtaml_tac.zoo.minilm import corpus, load_minilm, storage_config

    model = load_minilm()
    batch = model.tokenize(corpus().train[:32])
    forward_backward_s = forward_backward_seconds(model, batch)
    config = DeploymentConfig(p=1e-3, budget_fraction=0.05, storage=storage_config())
    _, plan_s = timed(lambda: plan_deployment(model, batch, config, "tac"))
    print(f"\nMiniLM: default TAC plan {plan_s:.1f}s = {plan_s / forward_backward_s:.1f} forward+backward passes "
          f"({forward_backward_s:.3f}s each; target <= 20)")
    return model, batch, storage_config()


def agreement_row(name, model, batch, storage_config):
    names = select_parameters(model, storage_config)
    (hutchinson, hutchinson_s) = timed(lambda: jacobian_gains(model, batch, names, CalibrationConfig()))
    (difference, difference_s) = timed(lambda: jacobian_gains(
        model, batch, names, CalibrationConfig(gain_estimator="finite_difference")))
    storage = quantize(model, storage_config)
    per_weight = np.array([tensor.scale**2 / tensor.size for tensor in storage])
    scores = [per_weight * np.array([gains[n] for n in names]) for gains in (hutchinson, difference)]
    rho = stats.spearmanr(*scores).statistic
    z = [(hutchinson[n] - difference[n]) / math.hypot(hutchinson.standard_errors[n], difference.standard_errors[n])
         for n in names]
    within = np.mean(np.abs(z) < 3)
    print(f"{name:>12} {len(names):6d} {rho:9.4f} {within:12.0%} {max(np.abs(z)):7.2f} {hutchinson_s:9.1f}s "
          f"{difference_s:9.1f}s")


def agreement(minilm):
    from qtaml_tac.storage import StorageConfig
    from qtaml_tac.zoo.models import MODELS, trained

    print("\nAgreement: Hutchinson vs finite-difference gains (16 probes each)")
    print(f"{'model':>12} {'layers':>6} {'spearman':>9} {'|z| < 3':>12} {'max |z|':>7} {'hutchinson':>10} "
          f"{'fin. diff.':>10}")
    for name in MODELS:
        model, split = trained(name)
        agreement_row(name, model, split.calibration_batch(64), StorageConfig())
    if minilm is not None:
        agreement_row("minilm", *minilm)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="*", default=list(SIZES), choices=list(SIZES))
    parser.add_argument("--layers", nargs="*", type=int, default=[1, 3, 6])
    parser.add_argument("--no-minilm", action="store_true")
    parser.add_argument("--no-agreement", action="store_true")
    args = parser.parse_args()
    print(f"torch threads: {torch.get_num_threads()}")
    scaling(args.sizes, args.layers)
    from qtaml_tac.zoo.minilm import available

    minilm = None if args.no_minilm or not available() else minilm_cost()
    if not args.no_agreement:
        agreement(minilm)


if __name__ == "__main__":
    main()
