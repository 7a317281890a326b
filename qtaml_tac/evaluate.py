"""Monte Carlo evaluation of a deployment plan, with paired seeds across methods (Section 5).

:func:`evaluate` stores the model as the plan says, then for each trial
samples one noisy read-back (:func:`qtaml_tac.inject.inject_`), runs the model
and scores it: accuracy against labels, or, for models without labels, the
fidelity of the outputs to the clean float model (cosine similarity and SQNR in
dB). Trial ``t`` draws its faults from a generator seeded by ``(seed, t)``, the
same for every method, so differences between methods are paired.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import stats

from .calibrate import forward
from .inject import ChannelFaults, inject_
from .plan import channel_from_dict, protection_for, storage_for

__all__ = ["EvaluationResult", "evaluate", "trial_generator", "accuracy", "fidelity", "t_interval"]


@dataclass(frozen=True)
class EvaluationResult:
    """Monte Carlo summary of one method at one operating point.

    ``score`` is accuracy (labels given) or cosine similarity to the clean
    outputs (no labels); ``ci95`` is the two-sided 95% t-interval of its mean.
    """

    method: str
    trials: int
    score_mean: float
    score_std: float
    ci95: tuple
    clean_score: float
    sqnr_db_mean: float
    scores: tuple
    metric: str

    def to_dict(self):
        return asdict(self)


def trial_generator(seed, trial):
    """The generator of trial ``trial``: the same for every method (paired comparisons)."""
    state = np.random.SeedSequence([int(seed), int(trial)]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def t_interval(mean, std, trials):
    """Two-sided 95% t-interval ``(low, high)`` of a mean over ``trials`` draws with sample deviation ``std``."""
    half = stats.t.ppf(0.975, trials - 1) * std / math.sqrt(trials)
    return float(mean - half), float(mean + half)


def accuracy(outputs, labels):
    """Top-1 accuracy of ``outputs`` (logits) against ``labels``."""
    return float((outputs.argmax(dim=-1) == labels).float().mean())


def fidelity(outputs, reference):
    """``(mean cosine similarity, SQNR in dB)`` of outputs against the clean reference outputs."""
    flat, clean = outputs.flatten(1).double(), reference.flatten(1).double()
    cosine = float(torch.nn.functional.cosine_similarity(flat, clean, dim=1).mean())
    noise = float(((flat - clean) ** 2).sum())
    sqnr = math.inf if noise == 0 else 10 * math.log10(float((clean**2).sum()) / noise)
    return cosine, sqnr


def _score(outputs, labels, reference):
    if labels is not None:
        return accuracy(outputs, labels), fidelity(outputs, reference)[1]
    return fidelity(outputs, reference)


@torch.no_grad()
def evaluate(model, plan, inputs, labels=None, *, faults=None, trials=20, seed=0, chip=None, progress=False):
    """Run ``trials`` noisy deployments of ``plan`` and summarize the score.

    Parameters
    ----------
    model : nn.Module
        Left exactly as it was afterwards.
    plan : Plan
    inputs : torch.Tensor
        Evaluation inputs.
    labels : torch.Tensor, optional
        Class labels; without them the score is output fidelity.
    faults : FaultModel, optional
        Default: the plan's channel on every layer.
    trials : int
        Monte Carlo deployments (>= 2).
    seed : int
        Base seed; trial ``t`` uses :func:`trial_generator` ``(seed, t)``.
    chip : Chip, optional
        Fixed faults (nested across rates) instead of fresh draws per trial.
    progress : bool
        Print progress to stderr.

    Returns
    -------
    EvaluationResult
    """
    if trials < 2:
        raise ValueError(f"trials must be at least 2, got {trials}")
    faults = ChannelFaults(channel_from_dict(plan.channel)) if faults is None else faults
    reference = forward(model, inputs)
    clean_score = accuracy(reference, labels) if labels is not None else 1.0
    storage = storage_for(model, plan)
    protection = protection_for(plan)
    scores, sqnrs = [], []
    try:
        for trial in range(trials):
            inject_(storage, faults, protection, trial_generator(seed, trial), chip)
            score, sqnr = _score(forward(model, inputs), labels, reference)
            scores.append(score)
            sqnrs.append(sqnr)
            if progress:
                print(f"\r{plan.method}: trial {trial + 1}/{trials}", end="", file=sys.stderr, flush=True)
    finally:
        storage.restore_()
        if progress:
            print(file=sys.stderr)
    values = np.array(scores)
    finite = [s for s in sqnrs if math.isfinite(s)]
    return EvaluationResult(
        method=plan.method, trials=trials, score_mean=float(values.mean()), score_std=float(values.std(ddof=1)),
        ci95=t_interval(values.mean(), values.std(ddof=1), trials), clean_score=clean_score,
        sqnr_db_mean=float(np.mean(finite)) if finite else math.inf, scores=tuple(scores),
        metric="accuracy" if labels is not None else "cosine",
    )
