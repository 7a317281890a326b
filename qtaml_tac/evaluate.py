"""Monte Carlo evaluation of a deployment plan, with paired seeds across methods (Section 5).

:func:`evaluate` stores the model as the plan says, then for each trial
samples one noisy read-back (:func:`qtaml_tac.inject.inject_`), runs the model
and scores it: accuracy against labels, or, for models without labels, the
fidelity of the outputs to the clean float model (cosine similarity and SQNR in
dB). Trial ``t`` draws its faults from a generator seeded by ``(seed, t)``, the
same for every method, so differences between methods are paired.

The model runs in eval mode (:func:`qtaml_tac.modes.evaluation_mode`:
BatchNorm uses its running statistics and updates nothing, dropout is off),
and afterwards every module has its own mode back and every parameter and
buffer holds exactly what it held before.
"""

from __future__ import annotations

import math
import sys
from dataclasses import asdict, dataclass

import numpy as np
import torch
from scipy import stats
from tqdm import tqdm

from qtaml_theory.validation import check_integer

from .calibrate import forward
from .inject import ChannelFaults, inject_
from .modes import evaluation_mode
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
    """``(mean cosine similarity, SQNR in dB)`` of outputs against the clean reference outputs.

    Outputs that are not finite (a float weight read back as infinity or NaN) have an SQNR of minus infinity.
    """
    flat, clean = outputs.flatten(1).double(), reference.flatten(1).double()
    cosine = float(torch.nn.functional.cosine_similarity(flat, clean, dim=1).mean())
    noise = float(((flat - clean) ** 2).sum())
    if not math.isfinite(noise):
        return cosine, -math.inf
    sqnr = math.inf if noise == 0 else 10 * math.log10(float((clean**2).sum()) / noise)
    return cosine, sqnr


def _check_inputs(inputs):
    """Refuse an empty evaluation set or inputs holding NaN or infinity (tensor inputs; others go to the model)."""
    if not isinstance(inputs, torch.Tensor):
        return
    if inputs.ndim == 0 or inputs.shape[0] == 0:
        raise ValueError(f"inputs must hold at least one input along the first dimension, got shape "
                         f"{tuple(inputs.shape)}")
    if inputs.is_floating_point() and not torch.isfinite(inputs).all():
        raise ValueError("inputs holds NaN or infinity; evaluation needs finite inputs")


def _checked_labels(labels, reference):
    """``labels`` as an int64 tensor of one class index per output row, else ``ValueError``."""
    if reference.ndim < 2 or reference.shape[0] == 0:
        raise ValueError(f"the model's output on inputs has shape {tuple(reference.shape)}; evaluation needs "
                         "one output row per input")
    if not torch.isfinite(reference).all():
        raise ValueError("the model's output on inputs holds NaN or infinity with its clean weights")
    if labels is None:
        return None
    expected, classes = reference.shape[0], reference.shape[-1]
    labels = torch.as_tensor(labels)
    if labels.shape != (expected,):
        raise ValueError(f"labels must hold one class index per input: expected shape ({expected},), got "
                         f"{tuple(labels.shape)}")
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integer class indices, got dtype {labels.dtype}")
    if int(labels.min()) < 0 or int(labels.max()) >= classes:
        raise ValueError(f"labels must be class indices in 0..{classes - 1} (the model has {classes} outputs), "
                         f"got values in {int(labels.min())}..{int(labels.max())}")
    return labels.to(device=reference.device, dtype=torch.int64)


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
        Show a progress bar (trials done, rate, time left) on stderr; the
        result is the same either way.

    Returns
    -------
    EvaluationResult

    Raises
    ------
    ValueError
        ``trials`` not an integer >= 2 or ``seed`` not an integer >= 0; empty
        ``inputs``, or inputs holding NaN or infinity; a clean output that is
        not finite; ``labels`` that are not one integer class index per input
        (in ``0..classes - 1``); a plan that does not fit the model.
    """
    trials = check_integer(trials, "trials", 2)
    seed = check_integer(seed, "seed", 0)
    if not isinstance(progress, (bool, np.bool_)):
        raise ValueError(f"progress must be True or False, got {progress!r}")
    _check_inputs(inputs)
    faults = ChannelFaults(channel_from_dict(plan.channel)) if faults is None else faults
    scores, sqnrs = [], []
    with evaluation_mode(model):
        reference = forward(model, inputs, role="evaluation set")
        labels = _checked_labels(labels, reference)
        clean_score = accuracy(reference, labels) if labels is not None else 1.0
        storage = storage_for(model, plan)
        protection = protection_for(plan)
        bar = tqdm(total=trials, desc=plan.method, unit="trial", file=sys.stderr, disable=not progress)
        try:
            for trial in range(trials):
                inject_(storage, faults, protection, trial_generator(seed, trial), chip)
                score, sqnr = _score(forward(model, inputs, role="evaluation set"), labels, reference)
                scores.append(score)
                sqnrs.append(sqnr)
                bar.update()
        finally:
            storage.restore_()
            bar.close()
    values = np.array(scores)
    finite = [s for s in sqnrs if math.isfinite(s)]
    return EvaluationResult(
        method=plan.method, trials=trials, score_mean=float(values.mean()), score_std=float(values.std(ddof=1)),
        ci95=t_interval(values.mean(), values.std(ddof=1), trials), clean_score=clean_score,
        sqnr_db_mean=float(np.mean(finite)) if finite else math.inf, scores=tuple(scores),
        metric="accuracy" if labels is not None else "cosine",
    )
