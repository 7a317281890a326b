"""The experiments' LaTeX tables, built from their records (Sections 5.1-5.9, Tables 1-3, 5, 8, 9, fine-tuning).

Each function takes records of ``results.json`` (or the summary rows that
:mod:`qtaml_tac.experiments.sections` derives from them) and returns a
:class:`qtaml_theory.report.rows.Table`: which fields, under which headers, in
which format. :func:`qtaml_tac.experiments.output.save_table` renders it.
Method names appear here only as labels and column keys.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qtaml_theory.report.rows import Column, Table

__all__ = ["ACCURACY_COLUMNS", "MEAN_CORRECTION_LABELS", "table", "conditional_moments", "accuracy", "allocation", "budget_to_reach",
           "mean_correction", "scores", "scoring", "robustness", "rho", "minilm", "finetune_accuracy", "budget_saved",
           "lifetime"]

#: Columns of a table of accuracy records: (field, LaTeX header, plain header[, format]).
ACCURACY_COLUMNS = (("model", "model", "model"), ("method", "method", "method"),
                    ("budget_fraction", "budget", "budget", "{:.3f}"), ("overhead", "overhead", "overhead", "{:.3f}"),
                    ("accuracy_mean", "accuracy", "accuracy", "{:.3f}"), ("accuracy_std", "std", "std", "{:.3f}"))

#: Table 9's label of each mean-correction variant (by its method's name).
MEAN_CORRECTION_LABELS = {"tac_alloc_only": "never", "tac_always_mean": "always", "tac": "per-layer (Step 3)",
                          "tac_exact_mean": "exact MMSE"}


def table(name: str, title: str, caption: str, rows: Sequence[Mapping], columns: Sequence[tuple]) -> Table:
    """A :class:`~qtaml_theory.report.rows.Table` of ``rows`` under ``columns`` (tuples of Column's fields)."""
    return Table(name, title, caption, tuple(Column(*c) for c in columns), rows)


def conditional_moments(records: Sequence[Mapping], rate: float) -> Table:
    """Section 5.1: every 32nd code's exact and measured conditional mean and variance (Thm 3.2, A.11)."""
    return table(
        "exp_5_1", "Section 5.1: conditional moments, exact and measured",
        f"Offset binary, n = 8, p = {rate}: every 32nd code, exact moments (Thm 3.2, A.11) and Monte Carlo.",
        [r for r in records if r["quantity"] == "conditional_moments"][::4],
        (("code", "code", "code"), ("mean_exact", "mean (exact)", "mean (exact)", "{:.4f}"),
         ("mean_measured", "mean (MC)", "mean (MC)", "{:.4f}"), ("var_exact", "var (exact)", "var (exact)", "{:.2f}"),
         ("var_measured", "var (MC)", "var (MC)", "{:.2f}")))


def accuracy(name: str, title: str, caption: str, records: Sequence[Mapping]) -> Table:
    """Accuracy records as they are, one row each (Tables 2 and 3, Sections 5.8 and the charge-loss channel)."""
    return table(name, title, caption, records, ACCURACY_COLUMNS)


def allocation(records: Sequence[Mapping]) -> Table:
    """Section 5.3: scores and protected bits per layer at a readable subset of the budgets.

    ``records`` are one method's, sorted by ``budget_fraction``; the scores are the last record's.
    """
    layers = records[0]["layers"]
    shown = records[:: max(1, len(records) // 6)]
    rows = [{"layer": layer, "score": records[-1]["scores"][i],
             **{f"k_{r['budget_fraction']}": r["allocation"][i] for r in shown}} for i, layer in enumerate(layers)]
    columns = [("layer", "layer", "layer"), ("score", "score", "score", "{:.3g}")]
    columns += [(f"k_{r['budget_fraction']}", f"$k$ at {r['budget_fraction']}", f"k at {r['budget_fraction']}")
                for r in shown]
    return table("exp_5_3", "Section 5.3: scores and allocation against budget",
                 "SmallCNN, p = 0.10: Jacobian scores and protected bits per layer.", rows, columns)


def budget_to_reach(rows: Sequence[Mapping]) -> Table:
    """Table 5: rows of ``model``, ``tac_budget``, ``uniform_budget`` and their ``ratio``."""
    return table(
        "exp_5_5_budget", "Table 5: budget to reach 95\\% of clean accuracy",
        "p = 0.10; the smallest budget fraction on the sweep grid whose mean accuracy reaches 95\\% of clean "
        "(-- where none does), and Uniform-MSP's budget over TAC's.", rows,
        (("model", "model", "model"), ("tac_budget", "TAC", "TAC", "{:.3f}"),
         ("uniform_budget", "Uniform-MSP", "Uniform-MSP", "{:.3f}"), ("ratio", "ratio", "ratio", "{:.2f}")))


def mean_correction(records: Sequence[Mapping], budget: float) -> Table:
    """Table 9: the mean-correction variants' records at ``budget``, labelled by :data:`MEAN_CORRECTION_LABELS`."""
    rows = [{"model": r["model"], "mode": MEAN_CORRECTION_LABELS[r["method"]], "accuracy_mean": r["accuracy_mean"],
             "accuracy_std": r["accuracy_std"]} for r in records
            if r["budget_fraction"] == budget and r["method"] in MEAN_CORRECTION_LABELS]
    return table(
        "exp_5_5_mean_correction", "Table 9: mean-correction ablation",
        f"TAC allocation at budget {budget}, p = 0.10; mean correction never, always, per layer "
        "(Algorithm 1 Step 3) or the exact MMSE code table.", rows,
        (("model", "model", "model"), ("mode", "mean correction", "mean correction"),
         ("accuracy_mean", "accuracy", "accuracy", "{:.3f}"), ("accuracy_std", "std", "std", "{:.3f}")))


def scores(name: str, title: str, caption: str, record: Mapping, heading: str = "layer", strip: str = "") -> Table:
    """One record's per-layer scores under ``heading``, layer names without ``strip`` (Section 5.6, MiniLM)."""
    rows = [{"layer": n.replace(strip, ""), "score": s} for n, s in zip(record["layers"], record["scores"])]
    return table(name, title, caption, rows, (("layer", heading, heading), ("score", "score", "score", "{:.3g}")))


def scoring(records: Sequence[Mapping], budgets: Sequence[float]) -> Table:
    """Section 5.9: accuracy per scoring signal at each budget, and the Jacobian score's gain over magnitude."""
    rows = []
    for budget in budgets:
        at = {r["method"]: r["accuracy_mean"] for r in records if r["budget_fraction"] == budget}
        rows.append({"budget_fraction": budget, **at, "gain_pp": 100 * (at["tac_alloc_only"] - at["magnitude_ecc"])})
    return table(
        "exp_5_9", "Section 5.9: scoring signals on the transformer",
        "Accuracy with magnitude, sensitivity and Jacobian (WKB-derived) scores; gain of the Jacobian score "
        "over magnitude in percentage points.", rows,
        (("budget_fraction", "budget", "budget", "{:.3f}"), ("magnitude_ecc", "magnitude", "magnitude", "{:.3f}"),
         ("sensitivity_ecc", "sensitivity", "sensitivity", "{:.3f}"),
         ("tac_alloc_only", "Jacobian", "Jacobian", "{:.3f}"), ("gain_pp", "gain (pp)", "gain (pp)", "{:+.1f}")))


def robustness(records: Sequence[Mapping], faults: Sequence[str]) -> Table:
    """Section 5.7: accuracy per method (columns) under each fault model in ``faults`` (rows)."""
    rows = []
    for name in faults:
        at = {r["method"]: r["accuracy_mean"] for r in records if r["faults"] == name}
        rows.append({"faults": name, **at})
    return table(
        "exp_5_7", "Section 5.7: non-uniform noise at a matched average rate",
        "SmallCNN, average p = 0.10, budget 0.15; plans calibrated for the uniform channel.", rows,
        (("faults", "noise", "noise"), ("uncompensated", "uncompensated", "uncompensated", "{:.3f}"),
         ("uniform_msp", "Uniform-MSP", "Uniform-MSP", "{:.3f}"), ("tac", "TAC", "TAC", "{:.3f}")))


def rho(records: Sequence[Mapping]) -> Table:
    """Tables 1 and 8: the ``rho`` records (rho* against the integer program's ratio) per architecture."""
    return table(
        "exp_rho", "Tables 1 and 8: predicted and integer ratios",
        "rho* = Gm/A (Thm 4.6) from the Jacobian scores, and the integer program's output variance over "
        "Uniform-MSP's at a whole number of bits per weight beta (inside the interior range where one exists).",
        records, (("model", "model", "model"), ("layers", "L", "L"), ("rho_star", "$\\rho^*$", "rho*", "{:.4f}"),
                  ("beta", "$\\beta$", "beta"), ("rho_integer", "$\\rho_{int}$", "rho_int", "{:.4f}"),
                  ("correction", "$\\rho_{int}/\\rho^*$", "rho_int/rho*", "{:.3f}")))


def minilm(rows: Sequence[Mapping]) -> Table:
    """all-MiniLM-L6-v2: score spread, rho*, the integer ratio and the budget for 95% of clean, per flip rate."""
    return table(
        "exp_minilm", "all-MiniLM-L6-v2: heterogeneity, rho* and the budget for 95\\% of clean quality",
        "Per-layer score spread (decades), rho* = Gm/A, the integer program's ratio to Uniform-MSP at 2 bits "
        "per weight, and the smallest budget on the grid whose linear-probe accuracy reaches 95\\% of clean "
        "(-- where none does).", rows,
        (("p", "$p$", "p"), ("score_spread", "spread", "spread", "{:.1f}"), ("rho_star", "$\\rho^*$", "rho*", "{:.3f}"),
         ("rho_integer", "$\\rho_{int}$", "rho_int", "{:.3f}"), ("needed_tac", "TAC", "TAC", "{:.2f}"),
         ("needed_uniform_msp", "Uniform", "Uniform", "{:.2f}"),
         ("needed_magnitude_ecc", "magnitude", "magnitude", "{:.2f}")))


#: The columns that name a fine-tuning setting: model, channel, flip rate.
_SETTING_COLUMNS = (("model", "model", "model"), ("faults", "channel", "channel"), ("p", "$p$", "p"))


def finetune_accuracy(rows: Sequence[Mapping], noises: Sequence[str]) -> Table:
    """Fine-tuning: robust accuracy per noise kind at each setting, budget and round, and law minus gaussian.

    ``rows`` from :func:`qtaml_tac.experiments.finetune.finetune_accuracy_rows`.
    """
    columns = [*_SETTING_COLUMNS, ("budget_fraction", "budget", "budget", "{:.3f}"), ("round", "round", "round"),
               ("pretrained", "trained", "trained", "{:.3f}")]
    columns += [(noise, noise, noise, "{:.3f}") for noise in noises]
    columns += [("law_minus_gaussian", "law $-$ gaussian", "law - gaussian", "{:+.3f}"),
                ("difference_low", "95\\% low", "95% low", "{:+.3f}"),
                ("difference_high", "95\\% high", "95% high", "{:+.3f}")]
    return table(
        "exp_finetune", "Fault-aware fine-tuning: robust accuracy by noise kind",
        "Mean accuracy over paired trials (the same faults for every kind) after fine-tuning under the deployment; "
        "budget 0 is the deployment without ECC or compensation, the others TAC, re-planned after fine-tuning. "
        "The last columns: the paired difference between law and gaussian training and its 95\\% t-interval.",
        rows, columns)


def budget_saved(rows: Sequence[Mapping], level: float) -> Table:
    """Fine-tuning: the ECC budget each kind needs for ``level`` of clean accuracy, and what it saves.

    ``rows`` from :func:`qtaml_tac.experiments.finetune.budget_saved_rows`.
    """
    return table(
        "exp_finetune_budget", "Fault-aware fine-tuning: ECC budget saved at equal accuracy",
        f"The budget (linear between grid budgets) at which each kind of training reaches {level:.0%} of the "
        "trained model's clean accuracy, and the budget it saves against the trained model (-- where the grid "
        "does not reach it; a lower bound where the trained model does not).".replace("%", "\\%"),
        [{**row, "bound": "at least" if row["lower_bound"] else ""} for row in rows],
        (*_SETTING_COLUMNS, ("noise", "training", "training"), ("round", "round", "round"),
         ("needed", "budget needed", "budget needed", "{:.3f}"), ("bound", "", ""), ("saved", "saved", "saved", "{:+.3f}")))


def lifetime(rows: Sequence[Mapping]) -> Table:
    """Lifetime (issue 16): per device, cells and deployment, accuracy at ten years and the thickness it needs."""
    return table(
        "exp_lifetime", "Lifetime: accuracy at ten years and the oxide needed for 95\\% of clean",
        "Cells of the report's example device (N_e = 1000 electrons per level, K_th = 10), oxide sized for an SLC "
        "flip probability of 1e-4 at ten years; thickness needed for ten years at 95\\% of clean accuracy from the "
        "crossing of each curve (-- where the curve does not cross inside its time grid); protection: the paper's "
        "top bits that never flip (ideal_msb) or real codes in cells too (codes).",
        [{**row, "menu": row.get("menu", "ideal_msb")} for row in rows],
        (("model", "model", "model"), ("device", "oxide", "oxide"), ("cells", "cells", "cells"),
         ("method", "method", "method"),
         ("compensation", "comp.", "comp."), ("menu", "protection", "protection"),
         ("accuracy_10y", "acc. 10 y", "acc. 10 y", "{:.3f}"),
         ("crossing_years", "95\\% until (y)", "95% until (y)", "{:.3g}"),
         ("thickness_10y_nm", "$d$ for 10 y (nm)", "d for 10 y (nm)", "{:.3f}"),
         ("reference_nm", "$d$ sized (nm)", "d sized (nm)", "{:.3f}")))
