"""Figures of the experiments that write only tables (5.1's records, 5.5, 5.7, 5.8, rho, directional), for the report.

Each function takes the experiment's records of ``results.json`` and returns a
matplotlib figure in the style and colours of
:mod:`qtaml_tac.experiments.figures` (:mod:`qtaml_theory.report.palette`).
The paper's claims are drawn where they make sense: the 3.4x-33.6x band of
Section 5.5 and the line :math:`\\rho^* = 1` of Tables 1 and 8.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import NullFormatter

from qtaml_theory.report.palette import CLAIM_STYLE, COLUMN_WIDTH_IN, FIGURE_HEIGHT_IN, TEXT_WIDTH_IN, colour, label

from .figures import PAPER_RATIO_BAND, clean_line, pyplot, styled

__all__ = ["moments_summary", "budget_ratio", "grouped_accuracy", "ranking", "rho_ratios"]


@styled
def moments_summary(records: Sequence[Mapping]):
    """Section 5.1 from its records: conditional mean and variance per code, exact against Monte Carlo, and the
    KS distance of a layer's output to the Gaussian against width (Remark 3.5)."""
    moments = sorted((r for r in records if r["quantity"] == "conditional_moments"), key=lambda r: r["code"])
    distances = sorted((r for r in records if r["quantity"] == "output_ks_distance"), key=lambda r: r["width"])
    figure, axes = pyplot().subplots(1, 3, figsize=(TEXT_WIDTH_IN, FIGURE_HEIGHT_IN))
    codes = [r["code"] for r in moments]
    for axis, key, what, unit in ((axes[0], "mean", "mean error (Thm 3.2)", r"$\Delta$"),
                                  (axes[1], "var", "variance (Thm A.11)", r"$\Delta^2$")):
        axis.plot(codes, [r[f"{key}_exact"] for r in moments], color=colour("tac"), label="exact")
        axis.plot(codes, [r[f"{key}_measured"] for r in moments], "k.", label="Monte Carlo")
        axis.set(xlabel="stored code", ylabel=f"{what} ({unit})",
                 title=f"n = {moments[0]['n']}, p = {moments[0]['p']}" if moments else "")
        axis.legend()
    axes[1].set_ylim(0, 1.3 * max(r["var_exact"] for r in moments))
    axes[2].loglog([r["width"] for r in distances], [r["ks_distance"] for r in distances], "o-", color=colour("tac"))
    axes[2].set(xlabel="layer width (inputs)", ylabel="KS distance to Gaussian", title="layer output (Rem. 3.5)")
    axes[2].yaxis.set_minor_formatter(NullFormatter())
    return figure


@styled
def budget_ratio(rows: Sequence[Mapping]):
    """Section 5.5: Uniform-MSP's budget over TAC's for 95% of clean, per model, against the paper's band.

    ``rows`` carry ``model``, ``tac_budget``, ``uniform_budget`` and ``ratio``
    (:func:`qtaml_tac.experiments.reporting.budget_rows`); a model where
    Uniform-MSP never reaches the line is drawn at the grid's largest budget
    over TAC's, as a lower bound (an upward triangle).
    """
    figure, axis = pyplot().subplots(figsize=(COLUMN_WIDTH_IN, FIGURE_HEIGHT_IN))
    axis.axhspan(*PAPER_RATIO_BAND, **CLAIM_STYLE, label=f"paper: {PAPER_RATIO_BAND[0]}x-{PAPER_RATIO_BAND[1]}x")
    axis.axhline(1, color="gray", linewidth=0.8)
    for index, row in enumerate(rows):
        if row["ratio"] is not None:
            axis.plot(index, row["ratio"], "o", color=colour("tac"), label="ours" if index == 0 else None)
            axis.annotate(f"{row['ratio']:.1f}x", (index, row["ratio"]), textcoords="offset points", xytext=(6, 0),
                          va="center")
        elif row["tac_budget"]:
            axis.plot(index, row["bound"] / row["tac_budget"], "^", color=colour("tac"), label="ours, at least")
    axis.set_yscale("log")
    axis.set_xticks(range(len(rows)), [r["model"] for r in rows])
    axis.set_xlim(-0.5, len(rows) - 0.3)
    axis.set(ylabel="Uniform-MSP budget / TAC budget", title="budget for 95% of clean, ratio (p = 0.10)")
    axis.legend(loc="upper left")
    return figure


@styled
def grouped_accuracy(records: Sequence[Mapping], group_key: str, methods: Sequence[str], xlabel: str, title: str,
                     wide: bool = False):
    """Accuracy bars per group (``group_key``: a noise variant, a budget) and method, with standard deviations
    and the 95%-of-clean line (Section 5.7, the charge-loss channel)."""
    groups = sorted({r[group_key] for r in records}, key=str)
    width_in = TEXT_WIDTH_IN if wide else COLUMN_WIDTH_IN
    figure, axis = pyplot().subplots(figsize=(width_in, FIGURE_HEIGHT_IN + 0.3))
    width = 0.8 / len(methods)
    for index, method in enumerate(methods):
        at = {r[group_key]: r for r in records if r["method"] == method}
        positions = np.arange(len(groups)) + (index - (len(methods) - 1) / 2) * width
        axis.bar(positions, [at[g]["accuracy_mean"] if g in at else np.nan for g in groups], width,
                 yerr=[at[g]["accuracy_std"] if g in at else 0 for g in groups], capsize=1.5, color=colour(method),
                 label=label(method), error_kw={"linewidth": 0.6})
    clean_line(axis, records)
    axis.set_xticks(np.arange(len(groups)), [str(g).replace("_", " ") for g in groups])
    axis.set(xlabel=xlabel, ylabel=f"accuracy ({title})", ylim=(0, 1.05))
    axis.legend(ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), fontsize=6)
    return figure


@styled
def ranking(records: Sequence[Mapping], title: str):
    """Section 5.8: every method's accuracy at one budget, best first, with standard deviations."""
    rows = sorted(records, key=lambda r: r["accuracy_mean"])
    figure, axis = pyplot().subplots(figsize=(COLUMN_WIDTH_IN, 0.2 * len(rows) + 0.9))
    axis.barh(range(len(rows)), [r["accuracy_mean"] for r in rows], xerr=[r["accuracy_std"] for r in rows],
              color=[colour(r["method"]) for r in rows], error_kw={"linewidth": 0.6})
    axis.set_yticks(range(len(rows)), [label(r["method"]) for r in rows])
    axis.axvline(0.95 * rows[0]["clean_accuracy"], color="gray", linestyle=":", label="95% of clean")
    axis.set(xlabel="accuracy", title=title, xlim=(0, 1.02))
    axis.legend(loc="lower right")
    return figure


@styled
def rho_ratios(records: Sequence[Mapping]):
    """Tables 1 and 8: the predicted ratio rho* = Gm/A and the integer program's ratio per architecture; the
    paper claims rho* < 1 (TAC's output variance below Uniform-MSP's) for every one."""
    rows = sorted(records, key=lambda r: r["model"])
    figure, axis = pyplot().subplots(figsize=(COLUMN_WIDTH_IN, FIGURE_HEIGHT_IN))
    positions = np.arange(len(rows))
    axis.bar(positions - 0.2, [r["rho_star"] for r in rows], 0.4, color=colour("tac"), label=r"$\rho^* = G_m/A$")
    axis.bar(positions + 0.2, [r["rho_integer"] for r in rows], 0.4, color=colour("tac_alloc_only"),
             label=r"integer $\rho_{\mathrm{int}}$")
    axis.axhline(1, color=colour("uniform_msp"), linestyle="--", label="paper: below 1 (Uniform-MSP)")
    axis.set_xticks(positions, [r["model"] for r in rows])
    axis.set(ylabel="variance ratio to Uniform-MSP", title=r"$\rho^*$ per architecture (Tables 1, 8)",
             ylim=(0, 1.15))
    axis.legend(loc="upper left")
    return figure
