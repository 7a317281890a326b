"""The noises of :func:`qtaml_tac.finetune.finetune`: how one training step's read-back is written.

Private: the public names (:class:`~qtaml_tac.finetune.NoiseKind`,
:data:`~qtaml_tac.finetune.NOISES`) are re-exported by :mod:`qtaml_tac.finetune`.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from qtaml_theory.channels import SymmetricChannel
from qtaml_theory.law import error_cumulants
from qtaml_theory.protection import IdealMSB

from .inject import ChannelFaults, inject_
from .methods import DeploymentConfig
from .plan import Plan, nominal_rate, protection_for, storage_for
from .storage import Storage, quantize

# -- the read-back a step trains on ------------------------------------------------------------------------

@dataclass(frozen=True)
class _Deployment:
    """What a step stores and how it fails: the plan (or none), the channel and the protected bits."""

    config: DeploymentConfig
    plan: Plan | None
    protection: dict = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "protection", {} if self.plan is None else protection_for(self.plan))

    @property
    def channel(self):
        return self.config.channel

    def store(self, model) -> Storage:
        """The current master weights stored as the deployment stores them (stage 1, with the plan's compensation)."""
        return quantize(model, self.config.storage) if self.plan is None else storage_for(model, self.plan)


def _write_clean(deployment, storage, generator):
    """The clean read-back (quantization only)."""
    storage.write_()


def _write_law(deployment, storage, generator):
    """One chip of the deployment law, bit-exact, by the sampler :func:`~qtaml_tac.evaluate` uses."""
    inject_(storage, ChannelFaults(deployment.channel), deployment.protection, generator)


def _write_random_bit_errors(deployment, storage, generator):
    """Random bit errors at the nominal rate on a symmetric channel (RandBET), outside the protected bits."""
    channel = SymmetricChannel(nominal_rate(deployment.channel))
    inject_(storage, ChannelFaults(channel), deployment.protection, generator)


@torch.no_grad()
def _law_moments(deployment, storage):
    """``{name: (mean, variance)}`` of every stored weight's read-back error: the law's first two cumulants.

    From :func:`qtaml_theory.law.error_cumulants` over every code, under the
    residual channel of the layer's protected bits, with the layer's step
    ``Delta = scale / factor``; float64 tensors shaped like the parameter.
    """
    encoding = storage.encoding
    codes = np.arange(encoding.n_codes)
    protection = deployment.protection
    moments = {}
    for tensor in storage:
        kappa = error_cumulants(encoding, codes, deployment.channel, tensor.scale / tensor.factor,
                                protection=IdealMSB(protection.get(tensor.name, 0)))
        index = tensor.codes.numpy()
        shape = tensor.parameter.shape
        moments[tensor.name] = (torch.from_numpy(kappa[0][index]).reshape(shape),
                                torch.from_numpy(kappa[1][index]).reshape(shape))
    return moments


@torch.no_grad()
def _write_gaussian(deployment, storage, generator, *, per_weight):
    """The clean read-back plus Gaussian noise with the law's moments.

    ``per_weight``: each weight's own mean and variance (``"moments"``); else
    zero mean and one variance per layer, the mean of its weights' variances
    (``"gaussian"``).
    """
    storage.write_()
    for name, (mean, variance) in _law_moments(deployment, storage).items():
        parameter = storage[name].parameter
        noise = torch.randn(parameter.shape, dtype=torch.float64, generator=generator)
        added = mean + noise * variance.sqrt() if per_weight else noise * math.sqrt(float(variance.mean()))
        parameter.add_(added.to(parameter.dtype))


@dataclass(frozen=True)
class NoiseKind:
    """One kind of training noise: how a step's read-back is written, and RandBET's extras.

    Attributes
    ----------
    name : str
    description : str
    write : callable
        ``write(deployment, storage, generator)``: writes one read-back of
        the stored tensors into the model's parameters, in place, drawing
        from the CPU ``torch.Generator``.
    clean_loss : bool
        Average the loss over the clean and the perturbed read-back (RandBET).
    clip : bool
        Clip each stored layer to :data:`RANDBET_CLIP_FRACTION` of its
        initial max|W| after every step (RandBET's weight clipping).
    """

    name: str
    description: str
    write: Callable = field(compare=False)
    clean_loss: bool = False
    clip: bool = False


#: The noise kinds of :func:`finetune`, by name.
NOISES = {kind.name: kind for kind in (
    NoiseKind("law", "bit-exact chips of the deployment law (format, channel, protection)", _write_law),
    NoiseKind("gaussian", "zero-mean Gaussian with the law's variance per layer",
              functools.partial(_write_gaussian, per_weight=False)),
    NoiseKind("moments", "Gaussian with the law's mean and variance per weight",
              functools.partial(_write_gaussian, per_weight=True)),
    NoiseKind("none", "quantization only (quantization-aware fine-tuning)", _write_clean),
    NoiseKind("randbet", "random bit errors at the nominal rate, clean + perturbed loss, weight clipping "
              "(Stutz et al. 2021)", _write_random_bit_errors, clean_loss=True, clip=True),
)}

