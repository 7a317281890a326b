"""The output deviation that ``sensitivity_ecc`` scores, measured so that a float format's flips stay finite (issue 15).

``sensitivity_ecc`` scores a layer by the measured ``E ||f(W_hat) - f(W)||**2``
with flips on that layer alone (:func:`qtaml_tac.calibrate.output_deviation`).
In bfloat16 one flip of the exponent's top bit multiplies a weight by
``2**128`` (``0.02`` becomes ``7e36``): the outputs, and their squares, overflow
float32, so every layer measured ``inf``, which is not a score. For the float
and MX formats the deviation is therefore measured on a float64 copy of the
model (the caller's model is not touched), stored in the same format with the
same codes: bfloat16's largest value times an activation, squared, stays far
below float64's ``1.8e308``, so the measure is the finite expectation the
score means, of the same flips. A read-back that is NaN or infinite is read
by the storage's policy; under ``on_nonfinite="keep"`` it is read as zero
for the measurement (one NaN weight would make every output NaN; the law's
"keep" moments likewise leave such reads out, and they are rare: ``1e-9`` per
weight of 0.02 at ``p = 1e-3``). Fixed-point formats are measured as before.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Mapping

import torch
from torch import nn

from .calibrate import CalibrationConfig, output_deviation
from .formats import format_kind
from .storage import Storage, StorageConfig, quantize

__all__ = ["sensitivity_deviation"]


def _as_float64(batch):
    """``batch`` with its floating tensors in float64 (mappings, tuples and lists, nested)."""
    if isinstance(batch, torch.Tensor):
        return batch.double() if batch.is_floating_point() else batch
    if isinstance(batch, Mapping):
        return {key: _as_float64(value) for key, value in batch.items()}
    if isinstance(batch, (tuple, list)):
        return type(batch)(_as_float64(value) for value in batch)
    return batch


def sensitivity_deviation(model: nn.Module, batch: object, storage: Storage, channel,
                          config: CalibrationConfig) -> dict[str, float]:
    """``{name: E ||f(W_hat) - f(W)||**2}`` per stored layer, finite for every format (module docstring).

    Parameters
    ----------
    model : nn.Module
    batch : object
        The calibration batch.
    storage : Storage
        ``quantize(model, storage_config)``.
    channel : float or Channel
    config : CalibrationConfig

    Returns
    -------
    dict
    """
    storage_config: StorageConfig = storage.config
    if format_kind(storage_config.encoding) == "fixed":
        return output_deviation(model, batch, storage, channel, config=config)
    wide = copy.deepcopy(model).double()
    policy = "zero" if storage_config.on_nonfinite == "keep" else storage_config.on_nonfinite
    wide_storage = quantize(wide, dataclasses.replace(storage_config, on_nonfinite=policy))
    return output_deviation(wide, _as_float64(batch), wide_storage, channel, config=config)
