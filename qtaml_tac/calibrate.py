"""Calibration on a small unlabeled batch: Jacobian gains (Step 1), per-layer sensitivity, Step 3, floors.

* :func:`jacobian_gains`: ``G_l ~= E ||f(W_l + eps) - f(W_l)||**2 / sigma**2`` with
  Gaussian probes ``eps ~ N(0, sigma_l**2 I)`` on layer ``l`` alone (Lemma 4.3,
  Algorithm 1 Step 1). Defaults: 16 probes, ``sigma_l = 1e-3 * max|W_l|``,
  averaged over the batch (so ``G_l`` is per input).
* :func:`output_deviation`: the measured ``E ||f(W_hat) - f(W)||**2`` with
  bit-flip noise on one layer (the sensitivity baseline and Step 3).
* :func:`mean_correction_decisions`: Algorithm 1 Step 3, per layer: mean
  correction on or off, whichever gives the smaller measured deviation.
* :func:`residual_floor_names`: parameters inside skip-connected blocks,
  found by tracing the model with ``torch.fx``.

Every function works under ``torch.no_grad()`` and leaves the model's
weights exactly as they were (also on error).
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import torch

from .inject import ChannelFaults, sample_masks
from .storage import quantize

__all__ = [
    "CalibrationConfig",
    "forward",
    "jacobian_gains",
    "output_deviation",
    "mean_correction_decisions",
    "residual_floor_names",
]


@dataclass(frozen=True)
class CalibrationConfig:
    """Probe settings of Step 1 and trials of Step 3.

    Parameters
    ----------
    probes : int
        Gaussian probes per layer (default 16).
    probe_scale : float
        Probe standard deviation relative to ``max|W_l|`` (default 1e-3).
    trials : int
        Noisy trials per layer and mode in Step 3 and in the sensitivity score (default 4).
    seed : int
        Seed of the probes and trials.
    """

    probes: int = 16
    probe_scale: float = 1e-3
    trials: int = 4
    seed: int = 0

    def __post_init__(self):
        if self.probes < 1 or self.trials < 1:
            raise ValueError(f"probes and trials must be >= 1, got {self.probes} and {self.trials}")
        if not self.probe_scale > 0:
            raise ValueError(f"probe_scale must be > 0, got {self.probe_scale}")


def forward(model, batch):
    """``model(batch)`` as a float tensor, or a clear error when the batch does not fit the model."""
    try:
        output = model(batch)
    except (RuntimeError, TypeError, ValueError, IndexError) as error:
        raise ValueError(f"the calibration batch does not fit the model: {error}") from error
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"the model must return a tensor (or a tuple starting with one), got {type(output)}")
    return output.float()


@contextlib.contextmanager
def _restoring(parameters):
    saved = {name: parameter.detach().clone() for name, parameter in parameters.items()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, parameter in parameters.items():
                parameter.copy_(saved[name])


@torch.no_grad()
def jacobian_gains(model, batch, names, config=CalibrationConfig()):
    """Step 1: ``{name: G_l}``, the mean squared Jacobian norm of the outputs in layer ``l``'s weights."""
    parameters = dict(model.named_parameters())
    generator = torch.Generator().manual_seed(config.seed)
    with _restoring({name: parameters[name] for name in names}):
        clean = forward(model, batch)
        per_input = clean.shape[0] if clean.ndim > 0 else 1
        gains = {}
        for name in names:
            parameter = parameters[name]
            original = parameter.detach().clone()
            sigma = config.probe_scale * float(original.abs().max() or 1.0)
            total = 0.0
            for _ in range(config.probes):
                probe = torch.randn(original.shape, generator=generator, dtype=original.dtype) * sigma
                parameter.copy_(original + probe)
                total += float(((forward(model, batch) - clean) ** 2).sum())
            parameter.copy_(original)
            gains[name] = total / (config.probes * per_input * sigma**2)
    return gains


@torch.no_grad()
def output_deviation(model, batch, storage, channel, names=None, protection=None, config=CalibrationConfig()):
    """``{name: E ||f(W_hat) - f(W)||**2}`` with flips on that layer alone (mean over trials and inputs).

    The other stored layers hold their clean quantized values.
    """
    generator = torch.Generator().manual_seed(config.seed + 1)
    names = storage.names if names is None else names
    deviations = {}
    try:
        storage.write_()
        clean = forward(model, batch)
        per_input = clean.shape[0] if clean.ndim > 0 else 1
        for name in names:
            tensor = storage[name]
            total = 0.0
            for _ in range(config.trials):
                tensor.write_(sample_masks(storage, ChannelFaults(channel), protection, generator, names=[name])[name])
                total += float(((forward(model, batch) - clean) ** 2).sum())
            tensor.write_()
            deviations[name] = total / (config.trials * per_input)
    finally:
        storage.restore_()
    return deviations


@torch.no_grad()
def mean_correction_decisions(model, batch, storage_config, channel, protection, config=CalibrationConfig()):
    """Algorithm 1 Step 3: per layer, mean correction on (True) or off, by the smaller measured deviation.

    Layers whose every bit is protected need no correction (False).
    """
    from qtaml_theory.compensation import mean_correction_factor

    factor = mean_correction_factor(channel)
    plain = quantize(model, storage_config)
    corrected = quantize(model, storage_config, factors={name: factor for name in plain.names})
    exposed = [name for name in plain.names if protection.get(name, 0) < storage_config.n_bits]
    without = output_deviation(model, batch, plain, channel, exposed, protection, config)
    with_mc = output_deviation(model, batch, corrected, channel, exposed, protection, config)
    return {name: bool(name in exposed and with_mc[name] < without[name]) for name in plain.names}


def residual_floor_names(model, names):
    """Parameters (among ``names``) of modules inside skip-connected blocks (Algorithm 1 Step 2).

    The model is traced with ``torch.fx``; for every addition of two tensors,
    the modules that feed one operand but not the other lie on a branch that
    a skip connection bypasses. Models that cannot be traced raise ValueError:
    pass floors explicitly then.
    """
    import operator

    from torch import fx

    try:
        graph = fx.symbolic_trace(model).graph
    except Exception as error:  # tracing fails in many ways on dynamic models
        raise ValueError(f"the model cannot be traced with torch.fx ({error}); pass floors explicitly") from error
    ancestors = {}
    for node in graph.nodes:
        found = set()
        for parent in node.all_input_nodes:
            found |= ancestors[parent] | {parent}
        ancestors[node] = found
    inside = set()
    for node in graph.nodes:
        is_add = (node.op == "call_function" and node.target in (operator.add, torch.add, operator.iadd)) or (
            node.op == "call_method" and node.target in ("add", "add_"))
        operands = [a for a in node.args[:2] if isinstance(a, fx.Node)]
        if not is_add or len(operands) != 2:
            continue
        left = ancestors[operands[0]] | {operands[0]}
        right = ancestors[operands[1]] | {operands[1]}
        for branch in left ^ right:
            if branch.op == "call_module":
                inside.add(branch.target)
    return [name for name in names if name.rpartition(".")[0] in inside]
