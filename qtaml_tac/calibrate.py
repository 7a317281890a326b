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

Every function works under ``torch.no_grad()``, runs the model in eval mode
(:func:`qtaml_tac.modes.evaluation_mode`: BatchNorm uses and keeps its running
statistics, dropout is off) and gives every module its own mode back, and
leaves the model's parameters and buffers exactly as they were (also on
error). The batch is checked first: an empty batch, a batch with NaN or
infinity, or a model whose output on it is not finite is refused with a
``ValueError`` that says so.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from qtaml_theory.channels import Channel
from qtaml_theory.protection import ProtectionScheme
from qtaml_theory.validation import as_scale, check_integer

from .inject import ChannelFaults, check_protection, sample_masks
from .modes import evaluation_mode
from .plan import check_names
from .storage import Storage, StorageConfig, quantize

__all__ = [
    "CalibrationConfig",
    "forward",
    "reference_output",
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
        Seed of the probes and trials (a non-negative integer).

    Raises
    ------
    ValueError
        Naming the field: probes or trials that are not integers >= 1
        (NumPy integers are fine), a probe_scale that is not a finite
        positive number, a seed that is not a non-negative integer.
    """

    probes: int = 16
    probe_scale: float = 1e-3
    trials: int = 4
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "probes", check_integer(self.probes, "probes", 1))
        object.__setattr__(self, "trials", check_integer(self.trials, "trials", 1))
        object.__setattr__(self, "probe_scale", float(as_scale(self.probe_scale, "probe_scale")))
        object.__setattr__(self, "seed", check_integer(self.seed, "seed", 0))


def forward(model: nn.Module, batch: object, role: str = "calibration batch") -> torch.Tensor:
    """``model(batch)`` as a float tensor, or a clear error when the batch does not fit the model.

    ``role`` names the batch in that error (``"evaluation set"`` when
    :func:`qtaml_tac.evaluate` calls it).

    The model runs in eval mode (:func:`qtaml_tac.modes.evaluation_mode`);
    every module gets its own mode back afterwards.
    """
    with evaluation_mode(model):
        try:
            output = model(batch)
        except (RuntimeError, TypeError, ValueError, IndexError) as error:
            raise ValueError(f"the {role} does not fit the model: {error}") from error
    if isinstance(output, (tuple, list)):
        output = output[0]
    if not isinstance(output, torch.Tensor):
        raise ValueError(f"the model must return a tensor (or a tuple starting with one), got {type(output)}")
    return output.float()


def _tensors(batch: object) -> Iterator[torch.Tensor]:
    if isinstance(batch, torch.Tensor):
        yield batch
    elif isinstance(batch, Mapping):
        for value in batch.values():
            yield from _tensors(value)
    elif isinstance(batch, (tuple, list)):
        for value in batch:
            yield from _tensors(value)


def reference_output(model: nn.Module, batch: object) -> tuple[torch.Tensor, int]:
    """The clean output ``model(batch)`` that calibration measures against, with the batch checked first.

    Returns
    -------
    output : torch.Tensor
        The float output.
    per_input : int
        How many inputs it holds (the output's first dimension; 1 for a scalar).

    Raises
    ------
    ValueError
        An empty batch; a batch with NaN or infinity; a batch that does not
        fit the model; an empty or non-finite output.
    """
    for tensor in _tensors(batch):
        if tensor.ndim > 0 and tensor.shape[0] == 0:
            raise ValueError(f"the calibration batch is empty (shape {tuple(tensor.shape)}); "
                             "it must hold at least one input")
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ValueError("the calibration batch holds NaN or infinity; calibration needs finite inputs")
    output = forward(model, batch)
    if output.numel() == 0:
        raise ValueError(f"the model's output on the calibration batch is empty (shape {tuple(output.shape)})")
    if not torch.isfinite(output).all():
        raise ValueError("the model's output on the calibration batch holds NaN or infinity with its own "
                         "weights; calibration needs a model whose clean output is finite")
    return output, (output.shape[0] if output.ndim > 0 else 1)


@contextlib.contextmanager
def _restoring(parameters):
    saved = {name: parameter.detach().clone() for name, parameter in parameters.items()}
    try:
        yield
    finally:
        with torch.no_grad():
            for name, parameter in parameters.items():
                parameter.copy_(saved[name])


def _check_config(config):
    if not isinstance(config, CalibrationConfig):
        raise ValueError(f"config must be a CalibrationConfig, got {type(config).__name__}")


@torch.no_grad()
def jacobian_gains(model: nn.Module, batch: object, names: Sequence[str],
                   config: CalibrationConfig = CalibrationConfig()) -> dict[str, float]:
    """Step 1: ``{name: G_l}``, the mean squared Jacobian norm of the outputs in layer ``l``'s weights.

    The model runs in eval mode; its parameters, buffers and modes are left as they were.

    Raises
    ------
    ValueError
        A model that is not an ``nn.Module``; names that are not parameters of the model (listing them and the
        model's parameters); a bad batch (see :func:`reference_output`); a
        gain that is not finite (the model's output under a small probe is).
    """
    _check_config(config)
    if not isinstance(model, torch.nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    parameters = dict(model.named_parameters())
    if isinstance(names, str):
        raise ValueError(f"names must be a sequence of parameter names, got the string {names!r}")
    names = list(names)
    unknown = [name for name in names if name not in parameters]
    if unknown:
        raise ValueError(f"names holds parameters the model does not have: {unknown}; "
                         f"the model's parameters are {list(parameters)}")
    generator = torch.Generator().manual_seed(config.seed)
    with _restoring({name: parameters[name] for name in names}):
        clean, per_input = reference_output(model, batch)
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
            if not math.isfinite(gains[name]):
                raise ValueError(f"the Jacobian gain of {name} is not finite: the model's output is not finite "
                                 "under a small probe on that layer")
    return gains


@torch.no_grad()
def output_deviation(model: nn.Module, batch: object, storage: Storage, channel: float | Channel,
                     names: Sequence[str] | None = None,
                     protection: Mapping[str, int | ProtectionScheme] | None = None,
                     config: CalibrationConfig = CalibrationConfig()) -> dict[str, float]:
    """``{name: E ||f(W_hat) - f(W)||**2}`` with flips on that layer alone (mean over trials and inputs).

    The other stored layers hold their clean quantized values. The model runs
    in eval mode; its parameters, buffers and modes are left as they were.

    Raises
    ------
    ValueError
        ``names`` or ``protection`` naming parameters that are not stored;
        protected bits that are not integers in ``0..n_bits``; a bad batch
        (see :func:`reference_output`).
    """
    _check_config(config)
    generator = torch.Generator().manual_seed(config.seed + 1)
    if names is None:
        names = storage.names
    elif isinstance(names, str):
        raise ValueError(f"names must be a sequence of parameter names, got the string {names!r}")
    else:
        names = list(names)
        check_names(names, "names", storage.names)
    if protection is not None:
        protection = check_protection(protection, storage.names, storage.config.n_bits)
    deviations = {}
    try:
        storage.write_()
        clean, per_input = reference_output(model, batch)
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
def mean_correction_decisions(model: nn.Module, batch: object, storage_config: StorageConfig, channel: float | Channel,
                              protection: Mapping[str, int | ProtectionScheme],
                              config: CalibrationConfig = CalibrationConfig()) -> dict[str, bool]:
    """Algorithm 1 Step 3: per layer, mean correction on (True) or off, by the smaller measured deviation.

    Layers whose every bit never flips (the paper's protection of all ``n``
    bits) need no correction (False); a real code leaves residual flips, so
    its layers are measured. The model
    runs in eval mode; its parameters, buffers and modes are left as they were.

    Raises
    ------
    ValueError
        ``protection`` naming parameters that are not stored, or protected
        bits that are not integers in ``0..n_bits``; a bad batch.
    """
    from qtaml_theory.compensation import mean_correction_factor

    factor = mean_correction_factor(channel)
    plain = quantize(model, storage_config)
    protection = check_protection(protection, plain.names, storage_config.n_bits)
    corrected = quantize(model, storage_config, factors={name: factor for name in plain.names})
    exposed = [name for name in plain.names if protection.get(name, 0) != storage_config.n_bits]
    without = output_deviation(model, batch, plain, channel, exposed, protection, config)
    with_mc = output_deviation(model, batch, corrected, channel, exposed, protection, config)
    return {name: bool(name in exposed and with_mc[name] < without[name]) for name in plain.names}


def residual_floor_names(model: nn.Module, names: Sequence[str]) -> list[str]:
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
