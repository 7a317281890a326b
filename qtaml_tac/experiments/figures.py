"""The experiments' figures, drawn from their records (Sections 5.1-5.6, 5.9, all-MiniLM-L6-v2 and fine-tuning).

Each function takes data that :mod:`qtaml_tac.experiments.sections` computed
(records of ``results.json``, or for Section 5.1 the arrays behind them) and
returns a matplotlib figure; :func:`qtaml_tac.experiments.output.save_figure`
writes it. Nothing here computes a number the records do not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["pyplot", "distribution", "curves", "allocation", "mismatch", "minilm_pareto", "finetune_accuracy",
           "budget_saved"]


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (figures are only written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def distribution(data: Mapping):
    """Section 5.1: PMF against Monte Carlo, conditional mean and variance, KS distance of a layer's output.

    Parameters
    ----------
    data : mapping
        The arrays of :func:`qtaml_tac.experiments.sections.distribution_data`:
        ``rate``, ``pmf`` (code error -> probability), ``frequencies`` (the same
        keys, Monte Carlo), ``stored`` (decoded values), ``kappa`` (exact
        cumulants per code), ``measured`` (draws per code), ``widths`` and
        ``distances``.
    """
    figure, axes = pyplot().subplots(1, 4, figsize=(15, 3.4))
    pmf, frequencies = data["pmf"], data["frequencies"]
    values = np.array(list(pmf))
    axes[0].bar(values, [pmf[v] for v in values], width=1.5, label="exact PMF")
    axes[0].plot(values, [frequencies[v] for v in values], "k.", markersize=3, label="Monte Carlo")
    axes[0].set_yscale("log")
    axes[0].set_title(f"PMF of delta, code 200, p={data['rate']}", fontsize=9)
    axes[0].legend(fontsize=7)
    stored, kappa, measured = data["stored"], data["kappa"], data["measured"]
    axes[1].plot(stored, stored + kappa[:, 0], label="E[w_hat | w] (Thm 3.2)")
    axes[1].plot(stored, stored + measured.mean(axis=1), "k.", markersize=3, label="Monte Carlo")
    axes[1].plot(stored, stored, ":", label="w")
    axes[1].set_title("conditional mean: (1-2p) w - p Delta", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[2].plot(stored, kappa[:, 1], label="Var (Thm A.11)")
    axes[2].plot(stored, measured.var(axis=1), "k.", markersize=3, label="Monte Carlo")
    axes[2].set_title("variance is the same for every w", fontsize=9)
    axes[2].legend(fontsize=7)
    axes[3].loglog(data["widths"], data["distances"], "o-")
    axes[3].set_title("layer output: KS distance to Gaussian (Remark 3.5)", fontsize=9)
    axes[3].set_xlabel("width")
    return figure


def curves(records: Sequence[Mapping], methods: Sequence[str], x_key: str, xlabel: str, title: str):
    """One accuracy curve per method (its records' ``method`` label) against ``x_key``, with standard deviations.

    A dotted line marks 95% of the clean accuracy of the first record (Sections 5.2, 5.6, 5.9).
    """
    figure, axis = pyplot().subplots(figsize=(5, 3.4))
    for method in methods:
        rows = sorted((r for r in records if r["method"] == method), key=lambda r: r[x_key])
        axis.errorbar([r[x_key] for r in rows], [r["accuracy_mean"] for r in rows],
                      yerr=[r["accuracy_std"] for r in rows], marker="o", capsize=2, label=method)
    axis.axhline(0.95 * records[0]["clean_accuracy"], color="gray", linestyle=":", label="95% of clean")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("accuracy")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=8)
    return figure


def allocation(records: Sequence[Mapping]):
    """Section 5.3: per-layer scores (of the last record) and protected bits per layer against budget.

    ``records`` are one method's, sorted by ``budget_fraction``.
    """
    figure, (left, right) = pyplot().subplots(1, 2, figsize=(10, 3.4))
    layers = records[0]["layers"]
    left.bar(range(len(layers)), records[-1]["scores"], tick_label=[n.split(".")[0] for n in layers])
    left.set_yscale("log")
    left.set_title("per-weight scores s_l = Delta^2 G / N", fontsize=9)
    for index, layer in enumerate(layers):
        right.plot([r["budget_fraction"] for r in records], [r["allocation"][index] for r in records], "o-",
                   label=layer.split(".")[0])
    right.set_xlabel("budget fraction")
    right.set_ylabel("protected bits k_l")
    right.legend(fontsize=8)
    return figure


def mismatch(records: Sequence[Mapping], grid: Sequence[float]):
    """Section 5.4: mean accuracy for calibration rate (rows) against deployment rate (columns) over ``grid``."""
    matrix = np.array([[next(r["accuracy_mean"] for r in records if r["calibrate_p"] == c and r["p"] == d)
                        for d in grid] for c in grid])
    figure, axis = pyplot().subplots(figsize=(4.5, 3.8))
    image = axis.imshow(matrix, origin="lower", cmap="viridis")
    axis.set_xticks(range(len(grid)), [str(g) for g in grid])
    axis.set_yticks(range(len(grid)), [str(g) for g in grid])
    axis.set_xlabel("deployment p")
    axis.set_ylabel("calibration p")
    for i in range(len(grid)):
        for j in range(len(grid)):
            axis.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white")
    figure.colorbar(image)
    return figure


def minilm_pareto(records: Sequence[Mapping], rates: Sequence[float], methods: Sequence[str]):
    """all-MiniLM-L6-v2: linear-probe accuracy against ECC overhead, one panel per flip rate."""
    figure, axes = pyplot().subplots(1, len(rates), figsize=(13, 3.4), sharey=True)
    for axis, p in zip(axes, rates):
        for method in methods:
            rows = sorted((r for r in records if r["p"] == p and r["method"] == method), key=lambda r: r["overhead"])
            axis.plot([r["overhead"] for r in rows], [r["accuracy_mean"] for r in rows], "o-", label=method)
        axis.set_title(f"all-MiniLM-L6-v2, p = {p}", fontsize=9)
        axis.set_xlabel("ECC overhead")
    axes[0].set_ylabel("linear-probe accuracy")
    axes[0].legend(fontsize=8)
    return figure


def _setting_label(model, faults, p):
    return f"{model}, {'charge loss, mean p' if faults == 'charge_loss' else 'p'} = {p}"


def _panels(count):
    figure, axes = pyplot().subplots(1, count, figsize=(3.6 * count, 3.4), squeeze=False)
    return figure, axes[0]


def finetune_accuracy(records: Sequence[Mapping], noises: Sequence[str]):
    """Fine-tuning: robust accuracy against the ECC budget, one line per noise kind (first round), one panel per
    (model, channel); budget 0 is the deployment without ECC, the others TAC. Error bars: 95% t-intervals."""
    settings = sorted({(r["model"], r["faults"], r["p"]) for r in records}, key=lambda s: (s[0], s[1], s[2]))
    figure, axes = _panels(len(settings))
    for axis, setting in zip(axes, settings):
        for noise in noises:
            rows = sorted((r for r in records if (r["model"], r["faults"], r["p"]) == setting and r["noise"] == noise
                           and r["round"] <= 1), key=lambda r: r["budget_fraction"])
            mean = np.array([r["accuracy_mean"] for r in rows])
            errors = np.array([[m - r["ci95"][0], r["ci95"][1] - m] for m, r in zip(mean, rows)]).T
            axis.errorbar([r["budget_fraction"] for r in rows], mean, yerr=errors, marker="o", capsize=2, label=noise)
        axis.set_title(_setting_label(*setting), fontsize=9)
        axis.set_xlabel("ECC budget (0: no ECC; else TAC)")
    axes[0].set_ylabel("robust accuracy")
    axes[0].legend(fontsize=7)
    return figure


def budget_saved(rows: Sequence[Mapping], noises: Sequence[str]):
    """Fine-tuning: the ECC budget each kind of training needs to reach the target accuracy (bars, first round),
    per (model, channel); a missing bar did not reach it on the grid."""
    settings = sorted({(r["model"], r["faults"], r["p"]) for r in rows}, key=lambda s: (s[0], s[1], s[2]))
    figure, axis = pyplot().subplots(figsize=(max(5.0, 1.6 * len(settings)), 3.4))
    width = 0.8 / len(noises)
    for index, noise in enumerate(noises):
        needed = [next((r["needed"] for r in rows if (r["model"], r["faults"], r["p"]) == setting
                        and r["noise"] == noise and r["round"] <= 1), None) for setting in settings]
        positions = np.arange(len(settings)) + (index - (len(noises) - 1) / 2) * width
        axis.bar(positions, [np.nan if n is None else n for n in needed], width, label=noise)
    axis.set_xticks(np.arange(len(settings)), [_setting_label(*s).replace(", ", "\n", 1) for s in settings],
                    fontsize=7)
    axis.set_ylabel("ECC budget needed")
    axis.set_title("budget to reach the target accuracy (lower is better)", fontsize=9)
    axis.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return figure
