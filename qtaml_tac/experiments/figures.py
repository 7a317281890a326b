"""The experiments' figures, drawn from their records (Sections 5.1-5.6, 5.9, all-MiniLM-L6-v2, fine-tuning,
lifetime).

Each function takes data that :mod:`qtaml_tac.experiments.sections` computed
(records of ``results.json``, or for Section 5.1 the arrays behind them) and
returns a matplotlib figure; :func:`qtaml_tac.experiments.output.save_figure`
writes it. Nothing here computes a number the records do not hold.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

__all__ = ["pyplot", "distribution", "curves", "allocation", "mismatch", "minilm_pareto", "finetune_accuracy",
           "budget_saved", "lifetime_accuracy", "lifetime_thickness"]

#: Seconds in a year, for the lifetime figures' axes.
YEAR_S = 365.25 * 86400.0


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


def _cell_label(record):
    """``SLC``, ``MLC-Gray``, ``MLC-binary``, ``TLC-Gray``, ... from a record's cells."""
    kind = {1: "SLC", 2: "MLC", 3: "TLC"}[record["bits_per_cell"]]
    return kind if record["bits_per_cell"] == 1 else f"{kind}-{'Gray' if record['level_map'] == 'gray' else 'binary'}"


def _variant_label(record):
    compensation = record.get("cell_compensation", record.get("compensation"))
    return (f"{record['method']}" + (", drift comp." if compensation == "drift" else "")
            + (", real codes" if record.get("menu") == "codes" else ""))


def _lifetime_styles(records):
    """Cell types, deployments, and the line look of each pair: a colour per cell type, a style per deployment."""
    cells = sorted({_cell_label(r) for r in records})
    variants = sorted({_variant_label(r) for r in records})
    colours = dict(zip(cells, ("tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple")))
    styles = dict(zip(variants, (("-", "o"), ("--", "s"), (":", "^"), ("-.", "v"))))

    def look(cell, variant):
        return {"linestyle": styles[variant][0], "marker": styles[variant][1], "color": colours[cell],
                "markersize": 3, "label": f"{cell}, {variant}"}

    return cells, variants, look


def lifetime_accuracy(records: Sequence[Mapping], devices: Sequence[str]):
    """Lifetime: accuracy against time since deployment (log axis), one column per device preset (issue 16).

    Top row: the whole grid (1 s on); bottom row: the same curves from one
    year on, where they fall. One colour per cell type, one line style per
    method and compensation; the dotted line is 95% of clean accuracy, the
    dashed one ten years.
    """
    figure, axes = pyplot().subplots(2, len(devices), figsize=(6 * len(devices), 7), sharey=True, squeeze=False)
    cells, variants, look = _lifetime_styles(records)
    for column, device in enumerate(devices):
        mine = [r for r in records if r["device"] == device]
        for row, axis in enumerate(axes[:, column]):
            for cell in cells:
                for variant in variants:
                    curve = sorted((r for r in mine if _cell_label(r) == cell and _variant_label(r) == variant
                                    and (row == 0 or r["time_s"] >= YEAR_S)), key=lambda r: r["time_s"])
                    if curve:
                        axis.plot([r["time_s"] / YEAR_S for r in curve], [r["accuracy_mean"] for r in curve],
                                  **look(cell, variant))
            axis.set_xscale("log")
            axis.axhline(0.95 * mine[0]["clean_accuracy"], color="gray", linestyle=":")
            axis.axvline(10, color="gray", linestyle="--", linewidth=0.8)
            axis.set_xlabel("time since deployment (years, log)" + (", from one year" if row else ""))
        axes[0, column].set_title(f"{device}-like oxide, sized for SLC p = 1e-4 at 10 years", fontsize=9)
    for axis in axes[:, 0]:
        axis.set_ylabel("accuracy")
    axes[1, -1].legend(fontsize=6, loc="lower left")
    return figure


def lifetime_thickness(rows: Sequence[Mapping], devices: Sequence[str]):
    """Lifetime: oxide thickness needed for 95% of clean accuracy against the target lifetime (issue 16)."""
    figure, axes = pyplot().subplots(1, len(devices), figsize=(6 * len(devices), 3.8), squeeze=False)
    _, _, look = _lifetime_styles(rows)
    for axis, device in zip(axes[0], devices):
        for row in (r for r in rows if r["device"] == device and r["thickness_nm"]):
            axis.plot(np.array(row["lifetimes_s"]) / YEAR_S, row["thickness_nm"],
                      **look(_cell_label(row), _variant_label(row)))
        axis.set_xscale("log")
        axis.set_xlabel("target lifetime (years, log)")
        axis.set_ylabel("thickness needed (nm)")
        axis.set_title(f"{device}-like oxide: thickness for 95% of clean accuracy", fontsize=9)
        axis.legend(fontsize=6)
    return figure
