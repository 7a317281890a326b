"""Fault-aware fine-tuning: training on the deployment's own error law (the paper's conclusion: "distribution-matched training").

The paper's conclusion proposes "distribution-matched training that injects
samples from the WKB-derived per-weight law rather than a variance-matched
Gaussian". :func:`finetune` does that and its controls, on any model that
:func:`~qtaml_tac.plan_deployment` accepts. Every step stores the current
float master weights as the deployment would (stage 1, with the plan's
compensation when a plan is given), writes one read-back into the model's
parameters, runs the forward and backward passes on it, puts the master
weights back bit for bit and lets the optimizer step: the gradient at the
read-back passes straight through to the master weights (the
straight-through estimator), and quantization is part of every forward
(quantization-aware training). The read-back is, by noise kind
(:data:`NOISES`):

``"law"``
    One chip drawn bit-exactly from the deployment law: the configured
    format, channel and the plan's protection, by the same compiled sampler
    as :func:`~qtaml_tac.evaluate` (:func:`qtaml_tac.inject.inject_`).
``"gaussian"``
    The clean read-back plus zero-mean Gaussian noise with the law's
    variance, one variance per layer: the prior art's assumption (Joshi et
    al. 2020, Rasch et al. 2023).
``"moments"``
    The clean read-back plus Gaussian noise with the law's mean and variance
    per weight (the drift of Thm 3.2 included).
``"none"``
    The clean read-back: quantization-aware fine-tuning without noise, the control.
``"randbet"``
    Random bit error training (Stutz et al., MLSys 2021): random bit errors
    at the nominal rate on a symmetric channel, the loss averaged over the
    clean and the perturbed read-back, and weight clipping.

The per-weight means and variances of ``"gaussian"`` and ``"moments"`` come
from :func:`qtaml_theory.law.error_cumulants` (the formula route, generated
from the SymPy derivation), under the residual channel of each layer's
protection.

With a ``plan`` the protected bits and the compensation of a TAC plan are in
the loop, and ``rounds`` alternate planning and training: fine-tune under the
plan, re-plan the fine-tuned model with the plan's method (its Jacobian gains
have changed), fine-tune again, and so on; each round is reported.

References
----------
The paper's Conclusion (distribution-matched training), Section 3
(Thm 3.1-3.2, the law), Section 4.4 (Algorithm 1, TAC). D. Stutz, N. Chandramoorthy,
M. Hein, B. Schiele, "Bit Error Robustness for Energy-Efficient DNN Accelerators",
MLSys 2021 (RandBET).
"""

from __future__ import annotations

import copy
import os
import sys
from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from qtaml_theory.validation import check_integer

from . import _finetune_checkpoint, _finetune_noise
from ._finetune_checkpoint import _fingerprint, _load_checkpoint, _save_checkpoint
from ._finetune_checks import _checked_plan, _flag, _noise_kind, _positive
from ._finetune_data import _training_set
from ._finetune_noise import NoiseKind, _Deployment
from ._finetune_reports import FinetuneResult, RoundReport
from .methods import DeploymentConfig, plan_deployment
from .plan import Plan

__all__ = ["NoiseKind", "NOISES", "RoundReport", "FinetuneResult", "finetune", "perturbed_weights",
           "CALIBRATION_SIZE", "RANDBET_CLIP_FRACTION", "CHECKPOINT_VERSION", "DEFAULT_BATCH_SIZE"]

#: Inputs of the training set (its first ones) that re-planning calibrates on, as the experiments' plans do.
CALIBRATION_SIZE = 64
#: RandBET's weight clipping: each stored layer is clipped to this fraction of its max|W| at the start of
#: fine-tuning. Stutz et al. clip every layer to one w_max = 0.1 chosen for their CIFAR networks; our models'
#: layers span other ranges (max|W| from 0.18 to 0.36 on SmallCNN), so the bound is set per layer.
RANDBET_CLIP_FRACTION = 0.5
#: Version of the checkpoint layout written by :func:`finetune`.
CHECKPOINT_VERSION = _finetune_checkpoint.CHECKPOINT_VERSION
#: Examples per training step when the training set is given as tensors.
DEFAULT_BATCH_SIZE = 64
#: The noise kinds of :func:`finetune`, by name.
NOISES = _finetune_noise.NOISES


# -- one step ----------------------------------------------------------------------------------------------

def _generator(*entropy):
    """A CPU generator seeded from ``entropy`` (the seed and a step's place: a resumed run draws the same)."""
    state = np.random.SeedSequence([int(e) for e in entropy]).generate_state(1)[0]
    return torch.Generator().manual_seed(int(state))


def _loss(model, inputs, labels, loss_fn):
    loss = loss_fn(model(inputs), labels)
    if not torch.isfinite(loss):
        raise ValueError(f"the training loss is not finite ({float(loss)}); lower lr")
    return loss


def _step(model, deployment, kind, inputs, labels, optimizer, generator, loss_fn):
    """One optimizer step on a read-back of ``kind``; the master weights come back before the optimizer moves them."""
    optimizer.zero_grad()
    storage = deployment.store(model)
    try:
        kind.write(deployment, storage, generator)
        loss = _loss(model, inputs, labels, loss_fn)
        if kind.clean_loss:
            (loss / 2).backward()
            storage.write_()
            clean = _loss(model, inputs, labels, loss_fn)
            (clean / 2).backward()
            loss = (loss + clean) / 2
        else:
            loss.backward()
    finally:
        storage.restore_()
    optimizer.step()
    return float(loss.detach())


@torch.no_grad()
def _clip_(model, bounds):
    parameters = dict(model.named_parameters())
    for name, bound in bounds.items():
        parameters[name].clamp_(-bound, bound)


@torch.no_grad()
def perturbed_weights(model: nn.Module, config: DeploymentConfig, noise: str = "law", plan: Plan | None = None,
                      generator: torch.Generator | None = None) -> dict:
    """The read-back weights one training step of :func:`finetune` would run on (the model is not changed).

    Parameters
    ----------
    model : nn.Module
    config : DeploymentConfig
    noise : str
        A name of :data:`NOISES`.
    plan : Plan, optional
    generator : torch.Generator, optional
        The draw's source (default: torch's global generator).

    Returns
    -------
    dict
        ``{name: tensor}`` of every stored parameter's read-back (clones).
    """
    kind = _noise_kind(noise)
    if not isinstance(config, DeploymentConfig):
        raise ValueError(f"config must be a DeploymentConfig, got {type(config).__name__}")
    deployment = _Deployment(config, _checked_plan(plan, model, config))
    storage = deployment.store(model)
    try:
        kind.write(deployment, storage, generator)
        return {tensor.name: tensor.parameter.detach().clone() for tensor in storage}
    finally:
        storage.restore_()


# -- the verb ----------------------------------------------------------------------------------------------

def finetune(model: nn.Module, train_data, config: DeploymentConfig, noise: str = "law", plan: Plan | None = None,
             epochs: int = 1, lr: float = 1e-3, seed: int = 0, progress: bool = True, *, rounds: int = 1,
             batch_size: int = DEFAULT_BATCH_SIZE, optimizer: Callable = torch.optim.Adam,
             loss_fn: Callable = nn.functional.cross_entropy, inplace: bool = False,
             checkpoint: str | os.PathLike | None = None) -> FinetuneResult:
    """Fine-tune ``model`` so that it is robust at deployment, on read-backs of the chosen noise (Conclusion).

    Parameters
    ----------
    model : nn.Module
        A trained model that :func:`~qtaml_tac.plan_deployment` accepts. Left
        untouched unless ``inplace``.
    train_data : (inputs, labels) tensors, or an iterable of (inputs, labels) batches
        Tensors are shuffled into batches of ``batch_size`` from ``seed``; an
        iterable (a ``DataLoader``) is re-iterated each epoch.
    config : DeploymentConfig
        The deployment: channel (``p``), storage format, budget (for re-planning).
    noise : {"law", "gaussian", "moments", "none", "randbet"}
        What each step trains on (:data:`NOISES`).
    plan : Plan, optional
        A plan for this model and deployment: its protected bits and
        compensation are in the loop, and after each round the model is
        re-planned with the plan's method.
    epochs : int
        Epochs per round (>= 1).
    lr : float
        Learning rate (> 0).
    seed : int
        Seed of the shuffles and the noise (>= 0): epoch ``e`` of round ``r``
        shuffles from a generator seeded by ``(seed, r, e)``, and its step
        ``s`` draws its noise from one seeded by ``(seed, r, e, s)``.
    progress : bool
        A tqdm bar of the steps on stderr.
    rounds : int
        Rounds of plan, fine-tune, re-plan (>= 1; above 1 needs a ``plan``).
    batch_size : int
        Examples per step when ``train_data`` is tensors (>= 1).
    optimizer : callable
        ``optimizer(parameters, lr=lr)``, e.g. ``torch.optim.SGD`` (default Adam).
    loss_fn : callable
        ``loss_fn(outputs, labels)`` (default cross-entropy).
    inplace : bool
        Update the caller's model instead of a copy.
    checkpoint : path, optional
        Saved after every epoch (atomically: a temporary file, then a
        rename, so a failed run leaves the previous checkpoint whole). If it
        exists, the run resumes from it: the result is the uninterrupted
        run's, bit for bit, for tensor training data (a ``DataLoader`` must
        shuffle reproducibly for that).

    Returns
    -------
    FinetuneResult
        The fine-tuned model, the final plan and one :class:`RoundReport` per round.

    Raises
    ------
    ValueError
        Naming the argument: an unknown ``noise``; ``epochs``, ``rounds`` or
        ``batch_size`` not an integer >= 1, ``lr`` not a finite number > 0,
        ``seed`` not an integer >= 0; an empty ``train_data``; a ``plan``
        made for another model or another deployment than ``config``;
        ``config.p`` outside [0, 1/2) when the plan corrects the mean drift;
        ``rounds > 1`` without a plan; a ``checkpoint`` of another run.

    Notes
    -----
    A step computes ``g = dL/dW`` at the read-back ``W_hat`` and the
    optimizer applies it to the master weights ``W`` (straight through
    ``W_hat = readback(quantize(W)) = W + (W_hat - W)`` with the difference
    held fixed). Under ``"law"``, ``E[W_hat - W | W] = -2 p W - p Delta`` on the
    symmetric channel without compensation (Thm 3.2): the network can learn
    the drift, which a zero-mean Gaussian never shows it.

    References
    ----------
    The paper's Conclusion (distribution-matched training); Stutz et al., MLSys 2021 (RandBET).

    Examples
    --------
    >>> import torch
    >>> from qtaml_tac import DeploymentConfig
    >>> from qtaml_tac.finetune import finetune
    >>> model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    >>> data = (torch.randn(32, 4), torch.randint(0, 3, (32,)))
    >>> result = finetune(model, data, DeploymentConfig(p=0.01), noise="law", epochs=2, progress=False)
    >>> len(result.rounds[0].losses), result.model is model
    (2, False)
    """
    kind = _noise_kind(noise)
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, DeploymentConfig):
        raise ValueError(f"config must be a DeploymentConfig, got {type(config).__name__}")
    epochs = check_integer(epochs, "epochs", 1)
    rounds = check_integer(rounds, "rounds", 1)
    batch_size = check_integer(batch_size, "batch_size", 1)
    seed = check_integer(seed, "seed", 0)
    lr = _positive(lr, "lr")
    progress, inplace = _flag(progress, "progress"), _flag(inplace, "inplace")
    if not callable(optimizer) or not callable(loss_fn):
        raise ValueError("optimizer and loss_fn must be callables (e.g. torch.optim.SGD, nn.functional.cross_entropy)")
    data = _training_set(train_data, batch_size)
    plan = _checked_plan(plan, model, config)
    if rounds > 1 and plan is None:
        raise ValueError(f"rounds must be 1 without a plan (re-planning needs one), got {rounds}")
    fingerprint = _fingerprint(model, config, kind, plan, epochs, lr, seed, rounds, batch_size)
    target = model if inplace else copy.deepcopy(model)
    return _Run(target, data, config, kind, epochs, lr, seed, rounds, optimizer, loss_fn, progress, checkpoint,
                fingerprint).run(plan)


class _Run:
    """The state of one :func:`finetune` call: the model trained, its optimizer, the rounds done."""

    def __init__(self, model, data, config, kind, epochs, lr, seed, rounds, optimizer, loss_fn, progress, checkpoint,
                 fingerprint):
        self.model, self.data, self.config, self.kind = model, data, config, kind
        self.epochs, self.seed, self.rounds, self.loss_fn = epochs, seed, rounds, loss_fn
        self.progress, self.checkpoint, self.fingerprint = progress, checkpoint, fingerprint
        self.optimizer = optimizer(model.parameters(), lr=lr)
        self.bounds = {}
        self.reports = []

    def _state(self, plan, round_, epoch, epochs_done):
        return {"version": CHECKPOINT_VERSION, "fingerprint": self.fingerprint, "round": round_, "epoch": epoch,
                "epochs_done": [list(pair) for pair in epochs_done], "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "plan": None if plan is None else plan.to_json(),
                "bounds": self.bounds, "reports": [report.to_dict() for report in self.reports]}

    def _resume(self):
        """``(plan, round, epochs done, their (loss, steps))`` from the checkpoint, or ``None`` to start afresh."""
        if self.checkpoint is None or not os.path.exists(self.checkpoint):
            return None
        state = _load_checkpoint(self.checkpoint, self.fingerprint)
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.bounds = dict(state["bounds"])
        self.reports = [RoundReport(**{k: tuple(v) if isinstance(v, list) else v for k, v in report.items()})
                        for report in state["reports"]]
        plan = None if state["plan"] is None else Plan.from_json(state["plan"])
        return plan, state["round"], state["epoch"], [tuple(pair) for pair in state["epochs_done"]]

    def _replan(self, plan):
        return plan_deployment(self.model, self.data.first_inputs(CALIBRATION_SIZE), self.config, method=plan.method)

    def run(self, plan):
        modes = [(module, module.training) for module in self.model.modules()]
        resumed = self._resume()
        round_, done, epochs_done = 1, 0, []
        if resumed is not None:
            plan, round_, done, epochs_done = resumed
        elif self.kind.clip:
            self.bounds = {tensor.name: RANDBET_CLIP_FRACTION * float(tensor.original.abs().max())
                           for tensor in _Deployment(self.config, plan).store(self.model)}
        steps_per_epoch = self.data.steps()
        total = None if steps_per_epoch is None else steps_per_epoch * self.epochs * self.rounds
        bar = tqdm(total=total, desc=f"finetune ({self.kind.name})", unit="step", file=sys.stderr,
                   disable=not self.progress)
        if total is not None:
            bar.update(steps_per_epoch * ((round_ - 1) * self.epochs + done))
        try:
            self.model.train()
            while round_ <= self.rounds:
                plan = self._round(plan, round_, done, epochs_done, bar)
                round_, done, epochs_done = round_ + 1, 0, []
        finally:
            bar.close()
            for module, training in modes:
                module.training = training
        return FinetuneResult(self.model, plan, tuple(self.reports), self.kind.name)

    def _round(self, plan, round_, done, epochs_done, bar):
        """Epochs ``done + 1 ..`` of round ``round_`` under ``plan``; returns the plan re-planned after it.

        ``epochs_done`` holds ``(mean loss, steps)`` of the round's epochs already run (from a checkpoint).
        """
        deployment = _Deployment(self.config, plan)
        after = plan
        for epoch in range(done, self.epochs):
            total, steps = 0.0, 0
            for step, (inputs, labels) in enumerate(self.data.batches(_generator(self.seed, round_, epoch))):
                generator = _generator(self.seed, round_, epoch, step)
                total += _step(self.model, deployment, self.kind, inputs, labels, self.optimizer, generator,
                               self.loss_fn)
                _clip_(self.model, self.bounds)
                steps += 1
                bar.update()
            epochs_done.append((total / steps, steps))
            last = epoch + 1 == self.epochs
            if last:
                after = None if plan is None else self._replan(plan)
                self.reports.append(_report(round_, self.kind.name, epochs_done, plan, after))
            if self.checkpoint is not None:
                resume_at = (round_ + 1, 0, []) if last else (round_, epoch + 1, epochs_done)
                _save_checkpoint(self.checkpoint, self._state(after, *resume_at))
        return after


def _bits(plan):
    return None if plan is None else tuple(layer.bits for layer in plan.layers)


def _report(round_, noise, epochs_done, before, after):
    """The :class:`RoundReport` of a finished round from its epochs' ``(mean loss, steps)``."""
    return RoundReport(round=round_, noise=noise, losses=tuple(loss for loss, _ in epochs_done),
                       steps=sum(steps for _, steps in epochs_done), bits_before=_bits(before), bits_after=_bits(after),
                       overhead_before=None if before is None else before.overhead,
                       overhead_after=None if after is None else after.overhead)
