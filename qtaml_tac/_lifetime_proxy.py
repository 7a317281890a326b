"""The law's proxy of :mod:`qtaml_tac.lifetime`: predicted output deviation, and how well it ranks designs.

Private: :func:`~qtaml_tac.lifetime.predicted_deviation` and
:func:`~qtaml_tac.lifetime.proxy_rank_agreement` are re-exported by :mod:`qtaml_tac.lifetime`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from scipy import stats
from torch import nn

from qtaml_theory.channels import Channel, MultiLevelChannel
from qtaml_theory.law import error_cumulants
from qtaml_theory.protection import IdealMSB, Unprotected, cell_code_law, independent_planes

from .plan import Plan, storage_for

#: How a layer under a real code over multi-level cells enters the proxy: the planning approximation, or the
#: law given the layer's stored codes (:func:`qtaml_theory.protection.cell_code_law`).
CODE_LAWS = ("independent_planes", "cells")


@torch.no_grad()
def predicted_deviation(model: nn.Module, plan: Plan, channel: Channel, gains: dict,
                        code_law: str = "independent_planes", moved_cells: int | None = None) -> float:
    """The law's proxy: predicted RMS output deviation ``sqrt(sum_l G_l mean_j E[(w_hat_j - w_j)**2])``.

    Lemma 4.3's linear response, ``E||delta z||**2 ~ sum_l G_l sigma_l**2``,
    with ``sigma_l**2`` the layer's mean squared read-back error from the
    closed-form cumulants (:func:`qtaml_theory.law.error_cumulants`) of its
    stored codes under ``channel`` and the plan's protection: the variance
    plus the squared bias against the float weight (charge loss drifts, and
    compensation moves the stored value to cancel it). A layer under a real
    code over multi-level cells is taken, by ``code_law``, at
    :func:`qtaml_theory.protection.independent_planes` of ``channel`` (the
    planning approximation; exact for symmetric and per-bit channels) or by
    :func:`qtaml_theory.protection.cell_code_law` given the layer's stored
    codes (exact up to its bound; slower: patterns of up to ``moved_cells``
    moved cells per block of codewords, by default as many as its pattern limit allows).

    Parameters
    ----------
    model : nn.Module
    plan : Plan
    channel : Channel
        The cells' channel.
    gains : dict
        ``{name: G_l}`` from :func:`qtaml_tac.jacobian_gains`.
    code_law : {"independent_planes", "cells"}
    moved_cells : int, optional
        ``J`` of :func:`~qtaml_theory.protection.cell_code_law` (``code_law="cells"``).

    Returns
    -------
    float
    """
    if code_law not in CODE_LAWS:
        raise ValueError(f"code_law must be one of {CODE_LAWS}, got {code_law!r}")
    storage = storage_for(model, plan)
    try:
        total = 0.0
        for tensor, layer in zip(storage, plan.layers):
            kappa = _layer_cumulants(storage.encoding, tensor, layer.scheme(), channel, plan.n_bits, code_law,
                                     moved_cells)
            stored = tensor.decode().flatten().double().numpy()
            bias = stored + kappa[0] - tensor.original.flatten().double().numpy()
            total += gains[tensor.name] * float(np.mean(kappa[1] + bias**2))
    finally:
        storage.restore_()
    return math.sqrt(total)


def _layer_cumulants(encoding, tensor, scheme, channel, n_bits, code_law, moved_cells):
    """Cumulants of a stored tensor's read-back error under ``scheme`` at ``channel`` (see :func:`predicted_deviation`)."""
    codes = tensor.codes.numpy().astype(np.int64)
    delta = tensor.scale / tensor.factor
    if isinstance(scheme, (IdealMSB, Unprotected)):
        return error_cumulants(encoding, codes, channel, delta, protection=scheme)
    if code_law == "cells" and isinstance(channel, MultiLevelChannel):
        return cell_code_law(encoding, codes, channel, scheme, delta, moved_cells=moved_cells).cumulants
    return error_cumulants(encoding, codes, independent_planes(channel, n_bits), delta, protection=scheme)


def proxy_rank_agreement(rows: Sequence[Mapping]) -> dict:
    """How well the proxy ranks designs against Monte Carlo: Spearman and Kendall correlations.

    Parameters
    ----------
    rows : list of dict
        Rows of :func:`lifetime_curve` (designs and times mixed freely).

    Returns
    -------
    dict
        ``spearman`` and ``kendall`` between ``-predicted_deviation`` and
        ``accuracy_mean`` (1: the proxy orders every design as Monte Carlo
        does), and ``designs``, the number of rows.
    """
    if len(rows) < 3:
        raise ValueError(f"rows must hold at least 3 designs to rank, got {len(rows)}")
    proxy = [-row["predicted_deviation"] for row in rows]
    truth = [row["accuracy_mean"] for row in rows]
    return {"spearman": float(stats.spearmanr(proxy, truth).statistic),
            "kendall": float(stats.kendalltau(proxy, truth).statistic), "designs": len(rows)}
