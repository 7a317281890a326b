"""The experiments' figures, drawn from their records (Sections 5.1-5.6, 5.9, all-MiniLM-L6-v2, fine-tuning,
lifetime).

Each function takes data that :mod:`qtaml_tac.experiments.sections` computed
(records of ``results.json``, or for Section 5.1 the arrays behind them) and
returns a matplotlib figure; :func:`qtaml_tac.experiments.output.save_figure`
writes it, and the report (:mod:`qtaml_theory.report.experiments`) draws the
same functions into its PDFs. Nothing here computes a number the records do
not hold. Colours, names and fonts come from :mod:`qtaml_theory.report.palette`
(one colour per method in every figure); figures are drawn at their printed
size, a column (:data:`~qtaml_theory.report.palette.COLUMN_WIDTH_IN`) or the
text width (:data:`~qtaml_theory.report.palette.TEXT_WIDTH_IN`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.ticker import NullFormatter

from qtaml_theory.report.palette import (
    CLAIM_STYLE,
    CLEAN_STYLE,
    COLUMN_WIDTH_IN,
    FIGURE_HEIGHT_IN,
    TEXT_WIDTH_IN,
    colour,
    figure_style,
    label,
)

__all__ = ["pyplot", "styled", "clean_line", "distribution", "curves", "allocation", "mismatch", "minilm_pareto",
           "finetune_accuracy", "budget_saved", "lifetime_accuracy", "lifetime_thickness", "YEAR_S", "PAPER_RATIO_BAND"]

#: Seconds in a year, for the lifetime figures' axes.
YEAR_S = 365.25 * 86400.0
#: The paper's claim of Section 5.5: Uniform-MSP needs 3.4x to 33.6x TAC's overhead for 95% of clean accuracy.
PAPER_RATIO_BAND = (3.4, 33.6)


def pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (figures are only written to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def styled(draw):
    """Draw under :func:`~qtaml_theory.report.palette.figure_style` (fonts sized for the printed figure)."""
    @functools.wraps(draw)
    def wrapper(*args, **kwargs):
        with figure_style():
            figure = draw(*args, **kwargs)
            figure.tight_layout()
        return figure

    return wrapper


def clean_line(axis, records: Sequence[Mapping], level: float = 0.95, text: bool = True):
    """The horizontal line at ``level`` of the first record's clean accuracy, labelled for the legend."""
    axis.axhline(level * records[0]["clean_accuracy"], **CLEAN_STYLE,
                 label=f"{level:.0%} of clean" if text else None)


def _series(axis, rows, x_key, name, error=True, **style):
    """One method's accuracy against ``x_key`` with its standard deviation, in the method's colour."""
    rows = sorted(rows, key=lambda r: r[x_key])
    look = {"color": colour(name), "label": label(name), "marker": "o", **style}
    if error:
        axis.errorbar([r[x_key] for r in rows], [r["accuracy_mean"] for r in rows],
                      yerr=[r["accuracy_std"] for r in rows], capsize=2, **look)
    else:
        axis.plot([r[x_key] for r in rows], [r["accuracy_mean"] for r in rows], **look)


@styled
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
    figure, axes = pyplot().subplots(2, 2, figsize=(TEXT_WIDTH_IN, 2 * FIGURE_HEIGHT_IN))
    axes = axes.ravel()
    pmf, frequencies = data["pmf"], data["frequencies"]
    values = np.array(list(pmf))
    axes[0].bar(values, [pmf[v] for v in values], width=1.5, color=colour("tac"), label="exact PMF")
    axes[0].plot(values, [frequencies[v] for v in values], "k.", markersize=3, label="Monte Carlo")
    axes[0].set_yscale("log")
    axes[0].set(title=f"PMF of the error, code 200, p = {data['rate']}", xlabel=r"error $\delta$ ($\Delta$)",
                ylabel="probability")
    axes[0].legend()
    stored, kappa, measured = data["stored"], data["kappa"], data["measured"]
    axes[1].plot(stored, stored + kappa[:, 0], color=colour("tac"), label=r"$E[\hat w \mid w]$ (Thm 3.2)")
    axes[1].plot(stored, stored + measured.mean(axis=1), "k.", markersize=3, label="Monte Carlo")
    axes[1].plot(stored, stored, ":", color="gray", label="$w$")
    axes[1].set(title=r"conditional mean $(1-2p)w - p\Delta$", xlabel=r"stored weight $w$ ($\Delta$)",
                ylabel=r"read weight ($\Delta$)")
    axes[1].legend()
    axes[2].plot(stored, kappa[:, 1], color=colour("tac"), label="Var (Thm A.11)")
    axes[2].plot(stored, measured.var(axis=1), "k.", markersize=3, label="Monte Carlo")
    axes[2].set(title="the variance is the same for every $w$", xlabel=r"stored weight $w$ ($\Delta$)",
                ylabel=r"variance ($\Delta^2$)")
    axes[2].set_ylim(0, 1.3 * kappa[:, 1].max())
    axes[2].legend()
    axes[3].loglog(data["widths"], data["distances"], "o-", color=colour("tac"))
    axes[3].yaxis.set_minor_formatter(NullFormatter())
    axes[3].set(title="layer output: KS distance to Gaussian (Rem. 3.5)", xlabel="layer width (inputs)",
                ylabel="KS distance")
    return figure


@styled
def curves(records: Sequence[Mapping], methods: Sequence[str], x_key: str, xlabel: str, title: str,
           claim: bool = False):
    """One accuracy curve per method (its records' ``method`` label) against ``x_key``, with standard deviations.

    A dotted line marks 95% of the clean accuracy of the first record (Sections 5.2, 5.6, 5.9). With ``claim``
    (Section 5.2), a band shows where the paper puts Uniform-MSP's need: 3.4x to 33.6x the overhead at which
    TAC first reaches the line (:data:`PAPER_RATIO_BAND`).
    """
    figure, axis = pyplot().subplots(figsize=(COLUMN_WIDTH_IN, FIGURE_HEIGHT_IN + 0.3))
    for method in methods:
        _series(axis, [r for r in records if r["method"] == method], x_key, method)
    clean_line(axis, records)
    reached = sorted(r[x_key] for r in records if r["method"] == "tac" and r[x_key] > 0
                     and r["accuracy_mean"] >= 0.95 * r["clean_accuracy"])
    if claim and reached:
        low, high = (reached[0] * ratio for ratio in PAPER_RATIO_BAND)
        axis.axvspan(low, min(high, max(r[x_key] for r in records)), **CLAIM_STYLE,
                     label=f"paper: Uniform-MSP needs {PAPER_RATIO_BAND[0]}x-{PAPER_RATIO_BAND[1]}x TAC's")
    axis.set(xlabel=xlabel, ylabel="accuracy (share of test set)", title=title)
    axis.legend(loc="lower right")
    return figure


@styled
def allocation(records: Sequence[Mapping]):
    """Section 5.3: per-layer scores (of the last record) and protected bits per layer against budget.

    ``records`` are one method's, sorted by ``budget_fraction``.
    """
    figure, (left, right) = pyplot().subplots(1, 2, figsize=(TEXT_WIDTH_IN, FIGURE_HEIGHT_IN))
    layers = records[0]["layers"]
    names = [n.split(".")[0] for n in layers]
    left.bar(range(len(layers)), records[-1]["scores"], tick_label=names, color=colour("tac"))
    left.set_yscale("log")
    left.set(title=r"per-weight score $s_l = \Delta^2 G_l / N_l$", ylabel="score (log)")
    shades = pyplot().get_cmap("viridis")(np.linspace(0, 0.9, len(names)))
    for index, layer in enumerate(names):
        right.plot([r["budget_fraction"] for r in records], [r["allocation"][index] for r in records], "o-",
                   color=shades[index], label=layer)
    right.set(xlabel="budget (protected bits / all bits)", ylabel="protected bits $k_l$ (of 8)",
              title="TAC's allocation against budget")
    right.legend()
    return figure


@styled
def mismatch(records: Sequence[Mapping], grid: Sequence[float]):
    """Section 5.4: mean accuracy for calibration rate (rows) against deployment rate (columns) over ``grid``."""
    matrix = np.array([[next(r["accuracy_mean"] for r in records if r["calibrate_p"] == c and r["p"] == d)
                        for d in grid] for c in grid])
    figure, axis = pyplot().subplots(figsize=(COLUMN_WIDTH_IN, FIGURE_HEIGHT_IN + 0.4))
    image = axis.imshow(matrix, origin="lower", cmap="viridis")
    axis.set_xticks(range(len(grid)), [str(g) for g in grid])
    axis.set_yticks(range(len(grid)), [str(g) for g in grid])
    axis.set(xlabel="deployment flip rate $p$", ylabel="calibration flip rate $p$")
    axis.grid(False)
    for i in range(len(grid)):
        for j in range(len(grid)):
            axis.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=6, color="white")
    figure.colorbar(image, label="accuracy")
    return figure


def _panels(count, height=FIGURE_HEIGHT_IN, sharey=False):
    """``count`` panels across the text width, one row."""
    figure, axes = pyplot().subplots(1, count, figsize=(TEXT_WIDTH_IN, height), squeeze=False, sharey=sharey)
    return figure, axes[0]


@styled
def minilm_pareto(records: Sequence[Mapping], rates: Sequence[float], methods: Sequence[str]):
    """all-MiniLM-L6-v2: linear-probe accuracy against ECC overhead, one panel per flip rate."""
    figure, axes = _panels(len(rates), sharey=True)
    for axis, p in zip(axes, rates):
        for method in methods:
            _series(axis, [r for r in records if r["p"] == p and r["method"] == method], "overhead", method,
                    error=False)
        axis.set(title=f"all-MiniLM-L6-v2, p = {p}", xlabel="ECC overhead (bits / all bits)")
    axes[0].set_ylabel("linear-probe accuracy")
    axes[0].legend()
    return figure


def _setting_label(model, faults, p):
    return f"{model}, {'charge loss, mean p' if faults == 'charge_loss' else 'p'} = {p}"


@styled
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
            axis.errorbar([r["budget_fraction"] for r in rows], mean, yerr=errors, marker="o", capsize=2,
                          color=colour(noise), label=label(noise))
        axis.set(title=_setting_label(*setting), xlabel="ECC budget (bits / all bits; 0: no ECC)")
    axes[0].set_ylabel("robust accuracy")
    axes[0].legend()
    return figure


@styled
def budget_saved(rows: Sequence[Mapping], noises: Sequence[str]):
    """Fine-tuning: the ECC budget each kind of training needs to reach the target accuracy (bars, first round),
    per (model, channel); a missing bar did not reach it on the grid."""
    settings = sorted({(r["model"], r["faults"], r["p"]) for r in rows}, key=lambda s: (s[0], s[1], s[2]))
    figure, axis = pyplot().subplots(figsize=(COLUMN_WIDTH_IN, FIGURE_HEIGHT_IN + 0.3))
    width = 0.8 / len(noises)
    for index, noise in enumerate(noises):
        needed = [next((r["needed"] for r in rows if (r["model"], r["faults"], r["p"]) == setting
                        and r["noise"] == noise and r["round"] <= 1), None) for setting in settings]
        positions = np.arange(len(settings)) + (index - (len(noises) - 1) / 2) * width
        axis.bar(positions, [np.nan if n is None else n for n in needed], width, color=colour(noise),
                 label=label(noise))
    axis.set_xticks(np.arange(len(settings)), [_setting_label(*s).replace(", ", "\n", 1) for s in settings])
    axis.set(ylabel="ECC budget needed (bits / all bits)")
    axis.legend(ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0))
    return figure


def _cell_label(record):
    """``SLC``, ``MLC-Gray``, ``MLC-binary``, ``TLC-Gray``, ... from a record's cells."""
    kind = {1: "SLC", 2: "MLC", 3: "TLC"}[record["bits_per_cell"]]
    return kind if record["bits_per_cell"] == 1 else f"{kind}-{'Gray' if record['level_map'] == 'gray' else 'binary'}"


def _variant_label(record):
    compensation = record.get("cell_compensation", record.get("compensation"))
    return (f"{label(record['method'])}" + (", drift comp." if compensation == "drift" else "")
            + (", real codes" if record.get("menu") == "codes" else ""))


def _lifetime_styles(records):
    """Cell types, deployments, and the line look of each pair: the palette's colour per cell type, a style per
    deployment."""
    cells = sorted({_cell_label(r) for r in records})
    variants = sorted({_variant_label(r) for r in records})
    styles = dict(zip(variants, (("-", "o"), ("--", "s"), (":", "^"), ("-.", "v"))))

    def look(cell, variant):
        return {"linestyle": styles[variant][0], "marker": styles[variant][1], "color": colour(cell),
                "markersize": 3, "label": f"{cell}, {variant}"}

    return cells, variants, look


@styled
def lifetime_accuracy(records: Sequence[Mapping], devices: Sequence[str]):
    """Lifetime: accuracy against time since deployment (log axis), one column per device preset (issue 16).

    Top row: the whole grid (1 s on); bottom row: the same curves from one
    year on, where they fall. One colour per cell type, one line style per
    method and compensation; the dotted line is 95% of clean accuracy, the
    dashed one ten years.
    """
    figure, axes = pyplot().subplots(2, len(devices), figsize=(TEXT_WIDTH_IN, 2 * FIGURE_HEIGHT_IN + 0.4),
                                     sharey=True, squeeze=False)
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
            clean_line(axis, mine, text=False)
            axis.axvline(10, color="gray", linestyle="--", linewidth=0.8)
            axis.set_xlabel("time since deployment (years, log)" + (", from one year" if row else ""))
        axes[0, column].set_title(f"{label(device)} oxide, sized for SLC p = 1e-4 at 10 years")
    for axis in axes[:, 0]:
        axis.set_ylabel("accuracy")
    axes[1, -1].legend(fontsize=6, loc="lower left")
    return figure


@styled
def lifetime_thickness(rows: Sequence[Mapping], devices: Sequence[str]):
    """Lifetime: oxide thickness needed for 95% of clean accuracy against the target lifetime (issue 16)."""
    figure, axes = _panels(len(devices), height=FIGURE_HEIGHT_IN + 0.4)
    _, _, look = _lifetime_styles(rows)
    for axis, device in zip(axes, devices):
        for row in (r for r in rows if r["device"] == device and r["thickness_nm"]):
            axis.plot(np.array(row["lifetimes_s"]) / YEAR_S, row["thickness_nm"],
                      **look(_cell_label(row), _variant_label(row)))
        axis.set_xscale("log")
        axis.set(xlabel="target lifetime (years, log)", ylabel="oxide thickness needed (nm)",
                 title=f"{label(device)} oxide: thickness for 95% of clean")
        axis.legend(fontsize=6)
    return figure
