"""Step 3 from the law: mean correction on or off per layer by the predicted output deviation (Lemma 4.3).

Lemma 4.3's linear response predicts the output deviation of flips on
layer ``l`` alone as

.. math::

    \\mathbb{E}\\|\\delta z\\|^2 \\approx G_l\\, m_l, \\qquad
    m_l = \\frac{1}{N_l}\\sum_j \\mathbb{E}[(\\hat w_j - w_j)^2]
        = \\frac{1}{N_l}\\sum_j \\kappa_2(c_j) + (r_{c_j} + \\kappa_1(c_j) - w_j)^2,

the residual second moment of the read-back error against the float
weight ``w_j`` (variance plus squared bias, quantization and clipping
included), with ``kappa_1, kappa_2`` the closed-form cumulants of the
stored code ``c_j`` under the layer's channel and protection
(:func:`qtaml_theory.law.error_cumulants`, through
:class:`qtaml_theory.compensation.ReadbackTable`) and ``r_c`` the code's
read-back value. The same quantity, summed over layers, is the lifetime
proxy of :func:`qtaml_tac.lifetime.predicted_deviation`.

:func:`predicted_deviations` computes ``G_l m_l`` for the layer stored
plainly and stored with the mean-correction factor
(:func:`qtaml_theory.compensation.mean_correction_factor`), exactly as
:func:`qtaml_tac.storage_for` would store it; Step 3 keeps the smaller. The
gain multiplies both sides, so the decision is the comparison of the two
second moments (any ``G_l > 0``); no forward pass is needed.

Memory: one layer is quantized at a time (its codes and float copy; the
plain storage of the plan is reused when given), and the moments run over
chunks of :data:`CHUNK` weights.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
import torch
from torch import nn

from qtaml_theory.channels import Channel
from qtaml_theory.compensation import ReadbackTable, mean_correction_factor
from qtaml_theory.law import error_cumulants
from qtaml_theory.protection import IdealMSB, ProtectionScheme

from .storage import Storage, StorageConfig, StoredTensor, quantize, select_parameters

__all__ = ["CHUNK", "predicted_deviations", "second_moment"]

#: Weights per chunk when the read-back moments are summed.
CHUNK = 1 << 20


def _table(encoding, channel: Channel | float, scheme: ProtectionScheme) -> ReadbackTable:
    """Every code's read-back mean and variance (units of the read-back step) under ``channel`` and ``scheme``."""
    codes = np.arange(encoding.n_codes, dtype=np.int64)
    kappa = error_cumulants(encoding, codes, channel, protection=scheme)
    stored = encoding.decode(codes)
    return ReadbackTable(stored=stored, mean=stored + kappa[0], variance=kappa[1])


def _affine_readback(tensor: StoredTensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per weight, ``(a, b)`` with read-back value ``a * table[c] + b`` for code ``c``, from two decodes.

    The storage decides how a code reads back (per-tensor, per-channel or
    per-group scales and zero points); read-back is affine in the table value,
    so decoding two constant code tensors gives its slope and offset.
    """
    table = tensor.table.double()
    low, high = int(torch.argmin(table)), int(torch.argmax(table))
    first = tensor.decode(torch.full_like(tensor.codes, low)).reshape(-1).double()
    second = tensor.decode(torch.full_like(tensor.codes, high)).reshape(-1).double()
    slope = (second - first) / float(table[high] - table[low])
    return slope, first - slope * float(table[low])


def second_moment(tensor: StoredTensor, table: ReadbackTable) -> float:
    """``m_l = mean_j E[(w_hat_j - w_j)**2]`` of one stored tensor against its float original.

    ``table`` holds the read-back moments of every code in units of the
    encoding's table (:func:`qtaml_theory.compensation.readback_table`, or
    the cumulants under a protection scheme). With one scale per tensor the
    read-back step is ``scale / factor``; otherwise each weight's affine
    read-back comes from the storage's own decoding (:func:`_affine_readback`).
    """
    codes = tensor.codes.reshape(-1)
    original = tensor.original.reshape(-1)
    scales = getattr(tensor, "scales", None)
    single = (scales is None or scales.numel() == 1) and getattr(tensor, "zero_points", None) is None
    slope, offset = (None, None) if single else _affine_readback(tensor)
    step = tensor.scale / tensor.factor
    total = 0.0
    for start in range(0, codes.numel(), CHUNK):
        part = slice(start, start + CHUNK)
        values = original[part].double()
        if single:
            total += float(table.mse(values.numpy() / step, codes[part].numpy()).sum()) * step**2
        else:
            a = slope[part].numpy()
            total += float((a**2 * table.mse(((values - offset[part]) / slope[part]).numpy(),
                                             codes[part].numpy())).sum())
    return total / codes.numel()


@torch.no_grad()
def predicted_deviations(model: nn.Module, storage_config: StorageConfig, channel: Channel | float,
                         protection: Mapping[str, int | ProtectionScheme],
                         gains: Mapping[str, float] | None = None,
                         storage: Storage | None = None) -> dict[str, tuple[float, float]]:
    """``{name: (without, with)}``: Lemma 4.3's ``G_l m_l`` stored plainly and with mean correction.

    Parameters
    ----------
    model : nn.Module
    storage_config : StorageConfig
    channel : float or Channel
        The cells' channel.
    protection : dict
        ``{name: protected top bits or scheme}`` (checked by the caller); absent names are unprotected.
    gains : dict, optional
        ``{name: G_l}``; ``None`` gives ``G_l = 1`` (the decision does not depend on it).
    storage : Storage, optional
        The model's plain storage under ``storage_config``'s width and
        encoding (``quantize(model, ...)`` without factors), reused instead
        of storing each layer plainly again.

    Returns
    -------
    dict
        Per stored parameter, the predicted output deviations without and with the correction.
    """
    factor = mean_correction_factor(channel)
    tables = {}
    deviations = {}
    for name in select_parameters(model, storage_config):
        single = dataclasses.replace(storage_config, names=(name,), filter_fn=None)
        scheme = protection.get(name, 0)
        scheme = IdealMSB(scheme) if isinstance(scheme, int) else scheme
        plain = storage if storage is not None else quantize(model, single)
        corrected = quantize(model, single, corrections={name: factor})
        if scheme not in tables:
            tables[scheme] = _table(corrected.encoding, channel, scheme)
        moments = [second_moment(stored[name], tables[scheme]) for stored in (plain, corrected)]
        gain = 1.0 if gains is None else gains[name]
        deviations[name] = (gain * moments[0], gain * moments[1])
    return deviations
