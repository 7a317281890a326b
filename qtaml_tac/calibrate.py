"""Calibration on a small unlabeled batch: Jacobian gains (Step 1), per-layer sensitivity, Step 3, floors.

* :func:`jacobian_gains`: ``G_l = ||J_l||_F**2 / B``, the Jacobian gain of
  Lemma 4.3 per input (Algorithm 1 Step 1), with its standard error, by
  Hutchinson's output probes (default: one backward pass per probe for every
  layer at once) or the paper's finite-difference probes
  (``E ||f(W_l + eps) - f(W_l)||**2 / sigma**2``, ``eps ~ N(0, sigma_l**2 I)``
  on layer ``l`` alone). Defaults: 16 probes, ``sigma_l = 1e-3 * max|W_l|``
  (:mod:`qtaml_tac.gain_estimators` has both, their variance and the probes a
  target error needs).
* :func:`output_deviation`: the measured ``E ||f(W_hat) - f(W)||**2`` with
  bit-flip noise on one layer (the sensitivity baseline and Step 3).
* :func:`mean_correction_decisions`: Algorithm 1 Step 3, per layer: mean
  correction on or off, whichever gives the smaller output deviation, predicted
  by the law (default; :mod:`qtaml_tac.mean_correction_law`) or measured.
* :func:`residual_floor_names`: parameters inside skip-connected blocks,
  found by tracing the model with ``torch.fx``.

Every function works under ``torch.no_grad()`` (the Hutchinson estimator enables
gradients for its own passes), runs the model in eval mode
(:func:`qtaml_tac.modes.evaluation_mode`: BatchNorm uses and keeps its running
statistics, dropout is off) and gives every module its own mode back, and
leaves the model's parameters and buffers exactly as they were (also on
error). The batch is checked first: an empty batch, a batch with NaN or
infinity, or a model whose output on it is not finite is refused with a
``ValueError`` that says so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from qtaml_theory.channels import Channel
from qtaml_theory.protection import ProtectionScheme
from qtaml_theory.validation import as_scale, check_integer

from .gain_estimators import GAIN_ESTIMATORS, Gains, finite_difference_gains, hutchinson_gains
from .inject import ChannelFaults, check_protection, sample_masks
from .modes import evaluation_mode
from .plan import check_names
from .storage import Storage, StorageConfig, quantize, select_parameters

__all__ = [
    "CalibrationConfig",
    "forward",
    "reference_output",
    "jacobian_gains",
    "output_deviation",
    "mean_correction_decisions",
    "residual_floor_names",
    "GAIN_ESTIMATORS",
    "MEAN_CORRECTION_DECISIONS",
    "PAPER_CALIBRATION",
]

#: How Step 3 decides mean correction per layer (:attr:`CalibrationConfig.mean_correction_decision`).
MEAN_CORRECTION_DECISIONS = ("law", "measured")


@dataclass(frozen=True)
class CalibrationConfig:
    """Probe settings of Step 1 and the decision of Step 3.

    Parameters
    ----------
    probes : int
        Probes per gain (default 16): output sign vectors, one backward pass
        each for all layers (Hutchinson), or Gaussian weight probes, one
        forward pass each per layer (finite difference).
    probe_scale : float
        Finite-difference probe standard deviation relative to ``max|W_l|`` (default 1e-3).
    trials : int
        Noisy trials per layer and mode in the measured Step 3 and in the sensitivity score (default 4).
    seed : int
        Seed of the probes and trials (a non-negative integer).
    gain_estimator : {"hutchinson", "finite_difference"}
        Step 1's estimator (:mod:`qtaml_tac.gain_estimators`); the default
        ``"hutchinson"`` needs a differentiable model, ``"finite_difference"``
        (the paper's) serves any model.
    mean_correction_decision : {"law", "measured"}
        Step 3: compare Lemma 4.3's predicted deviations (default,
        :mod:`qtaml_tac.mean_correction_law`, no forward pass) or the paper's
        measured ones (``2 * trials`` forward passes per exposed layer).

    Raises
    ------
    ValueError
        Naming the field: probes or trials that are not integers >= 1
        (NumPy integers are fine), a probe_scale that is not a finite
        positive number, a seed that is not a non-negative integer, an
        estimator or decision that is not one of the choices.
    """

    probes: int = 16
    probe_scale: float = 1e-3
    trials: int = 4
    seed: int = 0
    gain_estimator: str = "hutchinson"
    mean_correction_decision: str = "law"

    def __post_init__(self) -> None:
        object.__setattr__(self, "probes", check_integer(self.probes, "probes", 1))
        object.__setattr__(self, "trials", check_integer(self.trials, "trials", 1))
        object.__setattr__(self, "probe_scale", float(as_scale(self.probe_scale, "probe_scale")))
        object.__setattr__(self, "seed", check_integer(self.seed, "seed", 0))
        for argument, choices in (("gain_estimator", GAIN_ESTIMATORS),
                                  ("mean_correction_decision", MEAN_CORRECTION_DECISIONS)):
            if getattr(self, argument) not in choices:
                raise ValueError(f"{argument} must be one of {list(choices)}, got {getattr(self, argument)!r}")


#: The paper's Step 1 and Step 3: finite-difference gains and measured mean-correction decisions. The paper's
#: experiments (:mod:`qtaml_tac.experiments`) calibrate with it, so that they reproduce as before the faster
#: defaults (docs: "Planning at scale" says how the defaults would change them).
PAPER_CALIBRATION = CalibrationConfig(gain_estimator="finite_difference", mean_correction_decision="measured")


def forward(model: nn.Module, batch: object, role: str = "calibration batch") -> torch.Tensor:
    """``model(batch)`` as a float32 tensor (float64 for a float64 model), or a clear error when the batch does not
    fit the model.

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
    return output if output.dtype == torch.float64 else output.float()


def batch_tensors(batch: object) -> Iterator[torch.Tensor]:
    """Every tensor in ``batch`` (a tensor, or mappings, tuples and lists of them, nested)."""
    if isinstance(batch, torch.Tensor):
        yield batch
    elif isinstance(batch, Mapping):
        for value in batch.values():
            yield from batch_tensors(value)
    elif isinstance(batch, (tuple, list)):
        for value in batch:
            yield from batch_tensors(value)


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
    for tensor in batch_tensors(batch):
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


def _check_config(config):
    if not isinstance(config, CalibrationConfig):
        raise ValueError(f"config must be a CalibrationConfig, got {type(config).__name__}")


def jacobian_gains(model: nn.Module, batch: object, names: Sequence[str],
                   config: CalibrationConfig = CalibrationConfig()) -> Gains:
    """Step 1: ``{name: G_l}``, the mean squared Jacobian norm of the outputs in layer ``l``'s weights.

    By ``config.gain_estimator`` (:mod:`qtaml_tac.gain_estimators`): both
    estimate ``G_l = ||J_l||_F**2 / B`` over the batch's ``B`` inputs, with
    ``config.probes`` probes. The model runs in eval mode; its parameters,
    buffers, gradients and modes are left as they were.

    Returns
    -------
    Gains
        A ``dict`` of floats, with ``standard_errors`` (``{name: standard
        error}``, ``None`` for one probe), ``estimator`` and ``probes``.

    Raises
    ------
    ValueError
        A model that is not an ``nn.Module``; names that are not parameters of the model (listing them and the
        model's parameters); a bad batch (see :func:`reference_output`); a
        gain that is not finite. Under ``"hutchinson"`` also stored
        parameters without a gradient path (frozen, integer, detached; named,
        with ``"finite_difference"`` suggested) and a batch of
        ``torch.inference_mode`` tensors.
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
    chosen = {name: parameters[name] for name in names}
    if config.gain_estimator == "finite_difference":
        return finite_difference_gains(model, batch, chosen, config.probes, config.probe_scale, config.seed)
    return hutchinson_gains(model, batch, chosen, config.probes, config.seed)


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
                              config: CalibrationConfig = CalibrationConfig(),
                              storage: Storage | None = None) -> dict[str, bool]:
    """Algorithm 1 Step 3: per layer, mean correction on (True) or off, by the smaller output deviation.

    ``config.mean_correction_decision`` says how the deviations are found:
    ``"law"`` (default) compares Lemma 4.3's predictions ``G_l m_l``, the
    residual second moment of the read-back error against the float weights
    (:func:`qtaml_tac.mean_correction_law.predicted_deviations`; no forward
    pass, and the batch is not used); ``"measured"`` (the paper's) measures
    ``E ||f(W_hat) - f(W_clean)||**2`` with ``config.trials`` noisy trials
    per layer and storage, each against that storage's own clean read-back
    (:func:`output_deviation`). Ties keep the layer uncorrected. ``storage``,
    the plain ``quantize(model, storage_config)`` if the caller has it, spares
    the law route storing every layer plainly again.

    Layers whose every bit never flips (the paper's protection of all ``n``
    bits) need no correction (False); a real code leaves residual flips, so
    its layers are decided. The model
    runs in eval mode; its parameters, buffers and modes are left as they were.

    Raises
    ------
    ValueError
        ``protection`` naming parameters that are not stored, or protected
        bits that are not integers in ``0..n_bits``; a bad batch (measured).
    """
    from qtaml_theory.compensation import mean_correction_factor

    from .mean_correction_law import predicted_deviations

    _check_config(config)
    factor = mean_correction_factor(channel)
    names = select_parameters(model, storage_config)
    protection = check_protection(protection, names, storage_config.n_bits)
    exposed = [name for name in names if protection.get(name, 0) != storage_config.n_bits]
    if config.mean_correction_decision == "law":
        law = predicted_deviations(model, dataclasses.replace(storage_config, names=tuple(exposed), filter_fn=None),
                                   channel, protection, storage=storage) if exposed else {}
        return {name: bool(name in law and law[name][1] < law[name][0]) for name in names}
    plain = quantize(model, storage_config)
    corrected = quantize(model, storage_config, corrections={name: factor for name in names})
    without = output_deviation(model, batch, plain, channel, exposed, protection, config)
    with_mc = output_deviation(model, batch, corrected, channel, exposed, protection, config)
    return {name: bool(name in exposed and with_mc[name] < without[name]) for name in names}


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
