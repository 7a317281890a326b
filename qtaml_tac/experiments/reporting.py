"""What the report shows of each experiment: figures, headline table, full grids and claims (issue 19).

Each experiment registers an :class:`~qtaml_theory.report.experiments.ExperimentReport`
with :func:`~qtaml_theory.report.experiments.register_experiment`; the report
(``python -m qtaml_theory.report --experiments DIR``) imports this module and
shows every experiment present in ``DIR/results.json``, in the order
registered here. Every number comes from the experiment's records; the
figures are those of :mod:`~qtaml_tac.experiments.figures` and
:mod:`~qtaml_tac.experiments.summary_figures`. The claims' rules (when a claim
counts as reproduced) are stated next to each and in ``docs/results.rst``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from qtaml_theory.report.experiments import ExperimentReport, ReportFigure, register_experiment
from qtaml_theory.report.palette import label

from . import figures, summary_figures, tables
from .claim_rules import (
    budget_claims,
    codes_claims,
    directional_claims,
    finetune_claims,
    formats_claims,
    lifetime_claims,
    minilm_claims,
    moments_claims,
    ranking_claims,
    rho_claims,
    robustness_claims,
    scoring_claims,
    sweep_claims,
    transformer_claims,
)
from .codes import CODE_VARIANTS, accuracy_figure, accuracy_table, variant_label
from .finetune import FINETUNE_LEVEL, FINETUNE_NOISES
from .formats import FORMAT_NAMES, formats_table, per_bit_figure
from .grids import budget_rows, by_model, grid_table, methods_of, point_records, reach_table
from .lifetime import LIFETIME_DEVICES

__all__ = ["REPORTS"]

_P = "SmallCNN on digits, p = 0.10, 8-bit weights"


def _figure(name, caption, figure, wide=False):
    return [ReportFigure(name, caption, figure, wide)]


# -- 5.1 ------------------------------------------------------------------------------------------------------

def _moments_headline(records):
    moments = [r for r in records if r["quantity"] == "conditional_moments"]
    ks = sorted((r for r in records if r["quantity"] == "output_ks_distance"), key=lambda r: r["width"])
    share = next((r["share"] for r in records if r["quantity"] == "msb_share" and r["n"] == 8), None)
    rows = [{"what": "largest gap of the mean, MC to exact (Delta)",
             "value": max(abs(r["mean_measured"] - r["mean_exact"]) for r in moments)},
            {"what": "largest relative variance error", "value": max(abs(r["var_measured"] / r["var_exact"] - 1)
                                                                      for r in moments)},
            {"what": f"KS distance, width {ks[0]['width']}", "value": ks[0]["ks_distance"]},
            {"what": f"KS distance, width {ks[-1]['width']}", "value": ks[-1]["ks_distance"]},
            {"what": "MSB share of the variance, n = 8 (Prop A.12)", "value": share}]
    return tables.table("exp_5_1_headline", "Section 5.1", "The law against Monte Carlo.", rows,
                        (("what", "quantity", "quantity"), ("value", "value", "value", "{:.3g}")))


# -- the reports -----------------------------------------------------------------------------------------------

#: The report of every experiment of :data:`qtaml_tac.experiments.EXPERIMENTS`, in the report's order.
REPORTS = (
    ExperimentReport(
        "5.1", "Distribution validation (Section 5.1)",
        lambda rs: _figure("exp_5_1_moments", "Conditional mean and variance of the error per stored code, exact "
                           "(Thm 3.2, A.11) against Monte Carlo, and the KS distance of a layer output's "
                           "perturbation to the Gaussian against width (Remark 3.5).",
                           summary_figures.moments_summary(rs), wide=True),
        _moments_headline, lambda rs: [tables.conditional_moments(rs, rs[0]["p"])], moments_claims),
    ExperimentReport(
        "5.2", "Accuracy against ECC overhead (Section 5.2, Tables 2 and 3)",
        lambda rs: _figure("exp_5_2_accuracy_vs_overhead", f"{_P}: accuracy against ECC overhead, mean and "
                           "standard deviation over trials; dotted: 95\\% of clean; band: where the paper puts "
                           "Uniform-MSP's need, 3.4x-33.6x TAC's overhead.",
                           figures.curves(point_records(rs, ("tac", "uniform_msp")), ("tac", "uniform_msp"),
                                          "overhead", "ECC overhead (protected bits / all bits)",
                                          "SmallCNN, p = 0.10", claim=True)),
        lambda rs: reach_table("exp_5_2_headline", "Budget for 95\\% of clean", rs, ("tac", "uniform_msp"),
                               "smallcnn"),
        lambda rs: [grid_table("exp_5_2_sweep", "Table 2: accuracy against budget", _P + ".",
                               point_records(rs, ("tac", "uniform_msp")), ("tac", "uniform_msp"), overhead=True),
                    tables.accuracy("exp_5_2_ablation", "Table 3: component ablation", _P + ", budget 0.15.",
                                    [r for r in rs if r["budget_fraction"] == 0.15])],
        sweep_claims),
    ExperimentReport(
        "5.3", "Allocation against budget (Section 5.3)",
        lambda rs: _figure("exp_5_3_allocation", "SmallCNN, p = 0.10: per-weight Jacobian scores of each layer, and "
                           "the bits TAC protects per layer as the budget grows.",
                           figures.allocation(sorted(rs, key=lambda r: r["budget_fraction"])), wide=True),
        lambda rs: tables.allocation(sorted(rs, key=lambda r: r["budget_fraction"]))),
    ExperimentReport(
        "5.4", "Calibration mismatch (Section 5.4)",
        lambda rs: _figure("exp_5_4_mismatch", "TAC at budget 0.15: mean accuracy when calibrated at one flip rate "
                           "and deployed at another.",
                           figures.mismatch(rs, sorted({r["calibrate_p"] for r in rs}))),
        lambda rs: grid_table("exp_5_4_headline", "Accuracy by calibration rate",
                              "Rows: deployment $p$; columns: calibration $p$.", rs,
                              sorted({r["calibrate_p"] for r in rs}), row_key="p", column_key="calibrate_p")),
    ExperimentReport(
        "5.5", "Four architectures: budget to 95\\% of clean (Section 5.5, Tables 5 and 9)",
        lambda rs: _figure("exp_5_5_budget_ratio", "Uniform-MSP's budget over TAC's at 95\\% of clean accuracy, "
                           "per CNN (p = 0.10), against the paper's 3.4x-33.6x (band); a triangle is a lower bound "
                           "(Uniform-MSP never reaches the line on the grid).",
                           summary_figures.budget_ratio(budget_rows(rs))),
        lambda rs: tables.budget_to_reach(budget_rows(rs)),
        lambda rs: [grid_table("exp_5_5_sweep", "Section 5.5: accuracy against budget",
                               "Four CNNs, p = 0.10; columns: model and method.", point_records(rs, ("tac", "uniform_msp")),
                               [(m, method) for m in sorted({r["model"] for r in rs})
                                for method in ("tac", "uniform_msp")], column_key=("model", "method")),
                    tables.mean_correction(rs, 0.15)],
        budget_claims),
    ExperimentReport(
        "5.6", "The transformer (Section 5.6)",
        lambda rs: _figure("exp_5_6_transformer_pareto", "Transformer, p = 0.05: accuracy against ECC overhead.",
                           figures.curves(rs, methods_of(rs), "overhead", "ECC overhead (protected bits / all bits)",
                                          "transformer, p = 0.05")),
        lambda rs: reach_table("exp_5_6_headline", "Budget for 95\\% of clean", rs, methods_of(rs), "transformer"),
        lambda rs: [grid_table("exp_5_6_sweep", "Section 5.6: accuracy against budget", "Transformer, p = 0.05.",
                               rs, methods_of(rs), overhead=True)],
        transformer_claims),
    ExperimentReport(
        "5.7", "Non-uniform noise (Section 5.7)",
        lambda rs: _figure("exp_5_7_robustness", "SmallCNN, average p = 0.10, budget 0.15, plans calibrated for the "
                           "uniform channel: accuracy under each noise variant.",
                           summary_figures.grouped_accuracy(rs, "faults", methods_of(rs), "noise variant",
                                                            "accuracy at a matched average rate", wide=True),
                           wide=True),
        lambda rs: tables.robustness(rs, sorted({r["faults"] for r in rs})), claims=robustness_claims),
    ExperimentReport(
        "5.8", "Every method at one budget (Section 5.8)",
        lambda rs: _figure("exp_5_8_ranking", f"{_P}, budget 0.15: every method, best at the top.",
                           summary_figures.ranking(rs, "all methods, budget 0.15")),
        lambda rs: tables.table("exp_5_8_headline", "Ranking", "Mean accuracy over trials.",
                                [{**r, "name": label(r["method"])} for r in sorted(rs, key=lambda r: -r["accuracy_mean"])],
                                (("name", "method", "method"), ("accuracy_mean", "accuracy", "accuracy", "{:.3f}"),
                                 ("accuracy_std", "std", "std", "{:.3f}"))),
        claims=ranking_claims),
    ExperimentReport(
        "5.9", "Scoring signals (Section 5.9)",
        lambda rs: _figure("exp_5_9_scoring", "Transformer, p = 0.05: allocation by magnitude, measured sensitivity "
                           "and Jacobian (WKB-derived) scores, against budget.",
                           figures.curves(rs, methods_of(rs), "budget_fraction", "budget (protected bits / all bits)",
                                          "transformer, p = 0.05: scoring signals")),
        lambda rs: dataclasses.replace(
            tables.scoring(rs, [max({r["budget_fraction"] for r in rs}, key=lambda b: _gain(rs, b))]),
            name="exp_5_9_headline", title="Largest gain of the Jacobian score"),
        lambda rs: [tables.scoring(rs, sorted({r["budget_fraction"] for r in rs}))], scoring_claims),
    ExperimentReport(
        "rho", "Predicted against integer ratios (Tables 1 and 8)",
        lambda rs: _figure("exp_rho_ratios", "$\\rho^* = G_m/A$ (Thm 4.6) and the integer program's ratio per "
                           "architecture; the paper claims both below 1.", summary_figures.rho_ratios(rs)),
        tables.rho, claims=rho_claims),
    ExperimentReport(
        "directional", "The charge-loss channel",
        lambda rs: _figure("exp_directional", "SmallCNN under charge loss (p01 = 0, p10 = 0.10): accuracy per "
                           "method at each budget.",
                           summary_figures.grouped_accuracy(rs, "budget_fraction", methods_of(rs),
                                                            "budget (protected bits / all bits)", "charge loss")),
        lambda rs: grid_table("exp_directional_headline", "Accuracy under charge loss", "Mean over trials.", rs,
                              methods_of(rs)),
        claims=directional_claims),
    ExperimentReport(
        "minilm", "all-MiniLM-L6-v2",
        lambda rs: _figure("exp_minilm_pareto", "all-MiniLM-L6-v2: linear-probe accuracy against ECC overhead, one "
                           "panel per flip rate.",
                           figures.minilm_pareto(rs, sorted({r["p"] for r in rs}), methods_of(rs)), wide=True),
        lambda rs: grid_table("exp_minilm_headline", "Linear-probe accuracy", "Rows: flip rate and budget.", rs,
                              methods_of(rs), row_key=("p", "budget_fraction")),
        claims=minilm_claims),
    ExperimentReport(
        "codes", "Real codes instead of idealized protected bits",
        lambda rs: [ReportFigure(f"exp_codes_{model}", f"{model}: accuracy against the real stored overhead; colour: "
                                 "method, line: protection (solid: the paper's idealized bits, dashed: the same plan "
                                 "under the (8,4) code, dash-dot: TAC over real codes).",
                                 accuracy_figure([r for r in rs if r["model"] == model],
                                              sorted({r["p"] for r in rs if r["model"] == model}), model), True)
                    for model in sorted({r["model"] for r in rs})],
        lambda rs: grid_table("exp_codes_headline", "Accuracy by flip rate",
                              "Rows: model and flip rate; the smallest budget of each variant.",
                              [{**r, "variant": variant_label(r)} for r in rs
                               if r["budget_fraction"] == min(x["budget_fraction"] for x in rs)],
                              [name for name, _, _ in CODE_VARIANTS if any(variant_label(r) == name for r in rs)],
                              row_key=("model", "p"), column_key="variant"),
        lambda rs: [accuracy_table(mine, m) for m, mine in by_model(rs)],
        codes_claims),
    ExperimentReport(
        "lifetime", "Lifetime: SLC and MLC cells over years",
        lambda rs: [fig for model in sorted({r["model"] for r in rs if "time_s" in r}) for fig in (
            ReportFigure(f"exp_lifetime_accuracy_{model}", f"{model}: accuracy against time since deployment; colour: "
                         "cells, line: deployment; dotted: 95\\% of clean, dashed: ten years.",
                         figures.lifetime_accuracy([r for r in rs if "time_s" in r and r["model"] == model],
                                                   LIFETIME_DEVICES), True),
            ReportFigure(f"exp_lifetime_thickness_{model}", f"{model}: oxide thickness needed for 95\\% of clean "
                         "accuracy against the target lifetime.",
                         figures.lifetime_thickness([r for r in rs if r.get("model") == model
                                                     and r.get("quantity") == "thickness"], LIFETIME_DEVICES), True))],
        lambda rs: dataclasses.replace(tables.lifetime([r for r in rs if r.get("quantity") == "thickness"
                                                        and r["method"] == "tac"]), name="exp_lifetime_headline"),
        lambda rs: [tables.lifetime([r for r in rs if r.get("quantity") == "thickness"])], lifetime_claims),
    ExperimentReport(
        "finetune", "Fault-aware fine-tuning",
        lambda rs: [ReportFigure("exp_finetune_budget_saved", "ECC budget each kind of training needs for 95\\% of "
                                 "the trained model's clean accuracy (first round; no bar: not reached).",
                                 figures.budget_saved([r for r in rs if r.get("quantity") == "budget_saved"],
                                                      FINETUNE_NOISES)),
                    *[ReportFigure("exp_finetune_accuracy", "Robust accuracy against the ECC budget by noise kind "
                                   "(first round), 95\\% t-intervals.",
                                   figures.finetune_accuracy(points, FINETUNE_NOISES), True)
                      for points in [[r for r in rs if "noise" in r and "quantity" not in r]] if points]],
        lambda rs: dataclasses.replace(tables.budget_saved(
            [r for r in rs if r.get("quantity") == "budget_saved" and r["noise"] in ("pretrained", "law", "gaussian")
             and r["round"] <= 1], FINETUNE_LEVEL), name="exp_finetune_headline"),
        lambda rs: [tables.budget_saved([r for r in rs if r.get("quantity") == "budget_saved"], FINETUNE_LEVEL)],
        finetune_claims),
    ExperimentReport(
        "formats", "Number formats: int8, int4 groups, floats and MXFP4",
        lambda rs: [ReportFigure(f"exp_formats_{model}", f"{model}: accuracy against the flip rate per format (left) "
                                 "and, under TAC, accuracy per stored bit (right; codes, scales and protection).",
                                 per_bit_figure([r for r in rs if r["model"] == model], model), True)
                    for model in sorted({r["model"] for r in rs})],
        lambda rs: grid_table("exp_formats_headline", "Accuracy under TAC by format",
                              "Rows: model and flip rate; equal budget of protected bits per weight.",
                              [r for r in rs if r["method"] == "tac"],
                              [f for f in FORMAT_NAMES if any(r["format"] == f for r in rs)],
                              row_key=("model", "p"), column_key="format"),
        lambda rs: [formats_table(mine, m) for m, mine in by_model(rs)],
        formats_claims),
)

for _report in REPORTS:
    register_experiment(_report)


def _gain(records: Sequence[Mapping], budget: float) -> float:
    """Jacobian minus magnitude accuracy at ``budget`` (Section 5.9)."""
    at = {r["method"]: r["accuracy_mean"] for r in records if r["budget_fraction"] == budget}
    return at.get("tac_alloc_only", 0.0) - at.get("magnitude_ecc", 0.0)

