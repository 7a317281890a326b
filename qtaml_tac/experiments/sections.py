"""The paper's experiments (Sections 5.1-5.9, Tables 1 and 8, and the charge-loss channel).

Each experiment is a function ``(context) -> None`` that evaluates its points
through :mod:`qtaml_tac.experiments.runner` (or, for 5.1 and ``rho``, computes
its records directly), then draws its figures (PNG and PDF) and writes its
LaTeX tables. Grids are stated here; ``--quick`` takes the coarse ones.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from qtaml_theory import get_encoding
from qtaml_theory.allocation import integer_ratio, interior_budget_range, saturation_ratio
from qtaml_theory.law import WeightError, layer_output_cumulants, sample_errors
from qtaml_theory.report.rows import Column, Table

from ..methods import METHODS
from .output import save_figure, save_table
from .runner import FAULTS, Point, plan_for, run_points

__all__ = ["EXPERIMENTS", "Context", "CNNS", "MODELS"]

CNNS = ("smallcnn", "widecnn", "deepcnn", "rescnn")
MODELS = (*CNNS, "transformer")
P_CNN = 0.10
P_TRANSFORMER = 0.05
ABLATION_BUDGET = 0.15


@dataclass
class Context:
    """What an experiment needs: output, results store, mode, trials, seed, Dask client, progress bars or not."""

    out: object
    results: object
    quick: bool
    trials: int
    seed: int
    client: object = None
    progress: bool = True

    def budgets(self):
        """Budget fractions of the sweeps."""
        if self.quick:
            return (0.0, 0.05, 0.1, 0.15, 0.25, 0.4)
        return tuple(np.round(np.arange(0.0, 0.6001, 0.025), 3))

    def run(self, points, trials=None):
        return run_points(points, self.results, self.trials if trials is None else trials, self.seed, self.client,
                          progress=self.progress)


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _records_table(name, title, caption, rows, columns):
    return Table(name, title, caption, tuple(Column(*c) for c in columns), rows)


ACCURACY_COLUMNS = (("model", "model", "model"), ("method", "method", "method"),
                    ("budget_fraction", "budget", "budget", "{:.3f}"), ("overhead", "overhead", "overhead", "{:.3f}"),
                    ("accuracy_mean", "accuracy", "accuracy", "{:.3f}"), ("accuracy_std", "std", "std", "{:.3f}"))


# -- 5.1 -------------------------------------------------------------------------

def distribution_validation(context):
    """5.1: exact PMF against Monte Carlo, the conditional mean line, flat variance, MSB share, output Gaussianity."""
    from qtaml_theory import closed_forms as cf
    from scipy import stats

    plt = _plt()
    bits, rate, size = 8, 0.1, 20_000 if context.quick else 200_000
    encoding = get_encoding("offset_binary", bits)
    rng = np.random.default_rng(context.seed)
    records = []
    figure, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    law = WeightError(encoding, 200, rate)
    draws = law.sample(size, rng)
    pmf = law.pmf()
    values = np.array(list(pmf))
    axes[0].bar(values, [pmf[v] for v in values], width=1.5, label="exact PMF")
    counts = {v: np.mean(draws == v) for v in values}
    axes[0].plot(values, [counts[v] for v in values], "k.", markersize=3, label="Monte Carlo")
    axes[0].set_yscale("log")
    axes[0].set_title(f"PMF of delta, code 200, p={rate}", fontsize=9)
    axes[0].legend(fontsize=7)
    codes = np.arange(0, 256, 8)
    kappa = np.array([WeightError(encoding, int(c), rate).cumulants() for c in codes])
    measured = np.array([sample_errors(encoding, int(c), rate, size // 10, rng) for c in codes])
    stored = encoding.decode(codes)
    axes[1].plot(stored, stored + kappa[:, 0], label="E[w_hat | w] (Thm 3.2)")
    axes[1].plot(stored, stored + measured.mean(axis=1), "k.", markersize=3, label="Monte Carlo")
    axes[1].plot(stored, stored, ":", label="w")
    axes[1].set_title("conditional mean: (1-2p) w - p Delta", fontsize=9)
    axes[1].legend(fontsize=7)
    axes[2].plot(stored, kappa[:, 1], label="Var (Thm A.11)")
    axes[2].plot(stored, measured.var(axis=1), "k.", markersize=3, label="Monte Carlo")
    axes[2].set_title("variance is the same for every w", fontsize=9)
    axes[2].legend(fontsize=7)
    widths = (1, 4, 16, 64, 256, 1024)
    distances = []
    for width in widths:
        layer_codes = rng.integers(0, 256, size=width)
        inputs = rng.normal(size=width)
        outputs = sample_errors(encoding, layer_codes, 0.01, 2000, rng) @ inputs
        k1, k2, _, _ = layer_output_cumulants(encoding, layer_codes, 0.01, inputs)
        distances.append(stats.kstest((outputs - k1) / math.sqrt(k2), "norm").statistic)
    axes[3].loglog(widths, distances, "o-")
    axes[3].set_title("layer output: KS distance to Gaussian (Remark 3.5)", fontsize=9)
    axes[3].set_xlabel("width")
    save_figure(context.out, "exp_5_1_distribution", figure)
    for code, k, m in zip(codes, kappa, measured):
        records.append({"experiment": "5.1", "quantity": "conditional_moments", "n": bits, "p": rate,
                        "code": int(code), "mean_exact": float(k[0]), "mean_measured": float(m.mean()),
                        "var_exact": float(k[1]), "var_measured": float(m.var())})
    for width, distance in zip(widths, distances):
        records.append({"experiment": "5.1", "quantity": "output_ks_distance", "width": width, "p": 0.01,
                        "ks_distance": float(distance)})
    shares = [(n, cf.msb_variance_share(n)) for n in range(1, 17)]
    records += [{"experiment": "5.1", "quantity": "msb_share", "n": n, "share": s} for n, s in shares]
    for record in records:
        record["key"] = f"5.1/{record['quantity']}/{record.get('code', record.get('width', record.get('n')))}"
        context.results.add(record, save=False)
    context.results.save()
    save_table(context.out, _records_table(
        "exp_5_1", "Section 5.1: conditional moments, exact and measured",
        f"Offset binary, n = 8, p = {rate}: every 32nd code, exact moments (Thm 3.2, A.11) and Monte Carlo.",
        [r for r in records if r["quantity"] == "conditional_moments"][::4],
        (("code", "code", "code"), ("mean_exact", "mean (exact)", "mean (exact)", "{:.4f}"),
         ("mean_measured", "mean (MC)", "mean (MC)", "{:.4f}"), ("var_exact", "var (exact)", "var (exact)", "{:.2f}"),
         ("var_measured", "var (MC)", "var (MC)", "{:.2f}"))))


# -- 5.2, 5.3 --------------------------------------------------------------------

def accuracy_vs_overhead(context):
    """5.2: accuracy against ECC overhead at p = 0.10 (Table 2) and the component ablation (Table 3)."""
    sweep = [Point("5.2", "smallcnn", m, P_CNN, b) for m in ("tac", "uniform_msp") for b in context.budgets()]
    ablation = [Point("5.2", "smallcnn", m, P_CNN, ABLATION_BUDGET)
                for m in ("uncompensated", "mean_only", "tac_alloc_only", "tac")]
    records = context.run(sweep + ablation)
    _curves(context, "exp_5_2_accuracy_vs_overhead", sweep_records(records, sweep), ("tac", "uniform_msp"),
            "overhead", "ECC overhead (protected bits / all bits)", "SmallCNN, p = 0.10")
    save_table(context.out, _records_table("exp_5_2_sweep", "Table 2: accuracy against ECC overhead",
                                           "SmallCNN on digits, p = 0.10, n = 8.",
                                           sweep_records(records, sweep), ACCURACY_COLUMNS))
    save_table(context.out, _records_table("exp_5_2_ablation", "Table 3: component ablation",
                                           f"SmallCNN, p = 0.10, budget {ABLATION_BUDGET}.",
                                           sweep_records(records, ablation), ACCURACY_COLUMNS))


def sweep_records(records, points):
    keys = {(p.method, p.budget_fraction) for p in points}
    return [r for r in records if (r["method"], r["budget_fraction"]) in keys]


def allocation_vs_budget(context):
    """5.3: per-layer scores and the allocation against budget (SmallCNN)."""
    plt = _plt()
    records = context.run([Point("5.3", "smallcnn", "tac", P_CNN, b) for b in context.budgets()])
    records.sort(key=lambda r: r["budget_fraction"])
    layers = records[0]["layers"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4))
    left.bar(range(len(layers)), records[-1]["scores"], tick_label=[n.split(".")[0] for n in layers])
    left.set_yscale("log")
    left.set_title("per-weight scores s_l = Delta^2 G / N", fontsize=9)
    for index, layer in enumerate(layers):
        right.plot([r["budget_fraction"] for r in records], [r["allocation"][index] for r in records], "o-",
                   label=layer.split(".")[0])
    right.set_xlabel("budget fraction")
    right.set_ylabel("protected bits k_l")
    right.legend(fontsize=8)
    save_figure(context.out, "exp_5_3_allocation", figure)
    shown = records[:: max(1, len(records) // 6)]  # a readable subset of the budgets
    rows = [{"layer": layer, "score": records[-1]["scores"][i],
             **{f"k_{r['budget_fraction']}": r["allocation"][i] for r in shown}} for i, layer in enumerate(layers)]
    columns = [("layer", "layer", "layer"), ("score", "score", "score", "{:.3g}")]
    columns += [(f"k_{r['budget_fraction']}", f"$k$ at {r['budget_fraction']}", f"k at {r['budget_fraction']}")
                for r in shown]
    save_table(context.out, _records_table("exp_5_3", "Section 5.3: scores and allocation against budget",
                                           "SmallCNN, p = 0.10: Jacobian scores and protected bits per layer.",
                                           rows, columns))


# -- 5.4 -------------------------------------------------------------------------

def calibration_mismatch(context):
    """5.4: calibrate at p_cal, deploy at p_dep (TAC, budget 0.15), the heatmap."""
    plt = _plt()
    grid = (0.05, 0.1, 0.15) if context.quick else (0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2)
    records = context.run([Point("5.4", "smallcnn", "tac", p_dep, ABLATION_BUDGET, calibrate_p=p_cal)
                           for p_cal in grid for p_dep in grid])
    matrix = np.array([[next(r["accuracy_mean"] for r in records if r["calibrate_p"] == c and r["p"] == d)
                        for d in grid] for c in grid])
    figure, axis = plt.subplots(figsize=(4.5, 3.8))
    image = axis.imshow(matrix, origin="lower", cmap="viridis")
    axis.set_xticks(range(len(grid)), [str(g) for g in grid])
    axis.set_yticks(range(len(grid)), [str(g) for g in grid])
    axis.set_xlabel("deployment p")
    axis.set_ylabel("calibration p")
    for i in range(len(grid)):
        for j in range(len(grid)):
            axis.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=7, color="white")
    figure.colorbar(image)
    save_figure(context.out, "exp_5_4_mismatch", figure)


# -- 5.5 -------------------------------------------------------------------------

def budget_to_reach(records, method, model, level=0.95):
    """Smallest budget fraction whose mean accuracy reaches ``level`` of clean (None if none does)."""
    rows = sorted((r for r in records if r["method"] == method and r["model"] == model),
                  key=lambda r: r["budget_fraction"])
    for row in rows:
        if row["accuracy_mean"] >= level * row["clean_accuracy"]:
            return row["budget_fraction"]
    return None


def architectures(context):
    """5.5: budget to 95% of clean per CNN and method (Table 5); mean-correction ablation (Table 9)."""
    sweep = [Point("5.5", m, method, P_CNN, b) for m in CNNS for method in ("tac", "uniform_msp")
             for b in context.budgets()]
    ablation = [Point("5.5", m, method, P_CNN, ABLATION_BUDGET) for m in CNNS
                for method in ("tac_alloc_only", "tac_always_mean", "tac", "tac_exact_mean")]
    records = context.run(sweep + ablation)
    rows = []
    for model in CNNS:
        tac, uniform = budget_to_reach(records, "tac", model), budget_to_reach(records, "uniform_msp", model)
        rows.append({"model": model, "tac_budget": tac, "uniform_budget": uniform,
                     "ratio": uniform / tac if tac and uniform else None})
    save_table(context.out, _records_table(
        "exp_5_5_budget", "Table 5: budget to reach 95\\% of clean accuracy",
        "p = 0.10; the smallest budget fraction on the sweep grid whose mean accuracy reaches 95\\% of clean "
        "(-- where none does), and Uniform-MSP's budget over TAC's.", rows,
        (("model", "model", "model"), ("tac_budget", "TAC", "TAC", "{:.3f}"),
         ("uniform_budget", "Uniform-MSP", "Uniform-MSP", "{:.3f}"), ("ratio", "ratio", "ratio", "{:.2f}"))))
    names = {"tac_alloc_only": "never", "tac_always_mean": "always", "tac": "per-layer (Step 3)",
             "tac_exact_mean": "exact MMSE"}
    table9 = [{"model": r["model"], "mode": names[r["method"]], "accuracy_mean": r["accuracy_mean"],
               "accuracy_std": r["accuracy_std"]} for r in records
              if r["budget_fraction"] == ABLATION_BUDGET and r["method"] in names and r["experiment"] == "5.5"]
    save_table(context.out, _records_table(
        "exp_5_5_mean_correction", "Table 9: mean-correction ablation",
        f"TAC allocation at budget {ABLATION_BUDGET}, p = 0.10; mean correction never, always, per layer "
        "(Algorithm 1 Step 3) or the exact MMSE code table.", table9,
        (("model", "model", "model"), ("mode", "mean correction", "mean correction"),
         ("accuracy_mean", "accuracy", "accuracy", "{:.3f}"), ("accuracy_std", "std", "std", "{:.3f}"))))


# -- 5.6, 5.9 --------------------------------------------------------------------

def _curves(context, name, records, methods, x_key, xlabel, title):
    """One accuracy curve per method against ``x_key`` (with standard deviations), saved as a figure."""
    figure, axis = _plt().subplots(figsize=(5, 3.4))
    for method in methods:
        rows = sorted((r for r in records if r["method"] == method), key=lambda r: r[x_key])
        axis.errorbar([r[x_key] for r in rows], [r["accuracy_mean"] for r in rows],
                      yerr=[r["accuracy_std"] for r in rows], marker="o", capsize=2, label=method)
    axis.axhline(0.95 * records[0]["clean_accuracy"], color="gray", linestyle=":", label="95% of clean")
    axis.set_xlabel(xlabel)
    axis.set_ylabel("accuracy")
    axis.set_title(title, fontsize=9)
    axis.legend(fontsize=8)
    save_figure(context.out, name, figure)


def transformer(context):
    """5.6: the transformer at p = 0.05: scores, rho* against the integer ratio, the Pareto front."""
    methods = ("tac", "uniform_msp", "magnitude_ecc")
    records = context.run([Point("5.6", "transformer", m, P_TRANSFORMER, b) for m in methods
                           for b in context.budgets()])
    _curves(context, "exp_5_6_transformer_pareto", records, methods, "overhead", "ECC overhead",
            "transformer, p = 0.05")
    tac = next(r for r in records if r["method"] == "tac")
    save_table(context.out, _records_table(
        "exp_5_6_scores", "Section 5.6: transformer per-layer scores", "Jacobian scores at p = 0.05.",
        [{"layer": n, "score": s} for n, s in zip(tac["layers"], tac["scores"])],
        (("layer", "layer", "layer"), ("score", "score", "score", "{:.3g}"))))


def scoring(context):
    """5.9: magnitude against sensitivity against Jacobian (WKB) scoring on the transformer across budgets."""
    methods = ("magnitude_ecc", "sensitivity_ecc", "tac_alloc_only")
    records = context.run([Point("5.9", "transformer", m, P_TRANSFORMER, b) for m in methods
                           for b in context.budgets()])
    _curves(context, "exp_5_9_scoring", records, methods, "budget_fraction", "budget fraction",
            "transformer, p = 0.05: scoring signals")
    rows = []
    for budget in context.budgets():
        at = {r["method"]: r["accuracy_mean"] for r in records if r["budget_fraction"] == budget}
        rows.append({"budget_fraction": budget, **at, "gain_pp": 100 * (at["tac_alloc_only"] - at["magnitude_ecc"])})
    save_table(context.out, _records_table(
        "exp_5_9", "Section 5.9: scoring signals on the transformer",
        "Accuracy with magnitude, sensitivity and Jacobian (WKB-derived) scores; gain of the Jacobian score "
        "over magnitude in percentage points.", rows,
        (("budget_fraction", "budget", "budget", "{:.3f}"), ("magnitude_ecc", "magnitude", "magnitude", "{:.3f}"),
         ("sensitivity_ecc", "sensitivity", "sensitivity", "{:.3f}"),
         ("tac_alloc_only", "Jacobian", "Jacobian", "{:.3f}"), ("gain_pp", "gain (pp)", "gain (pp)", "{:+.1f}"))))


# -- 5.7, 5.8, directional -------------------------------------------------------

def robustness(context):
    """5.7: the non-uniform noise variants at matched average rate (p = 0.10, budget 0.15)."""
    methods = ("uncompensated", "uniform_msp", "tac")
    records = context.run([Point("5.7", "smallcnn", m, P_CNN, ABLATION_BUDGET, faults=f)
                           for f in FAULTS if f != "charge_loss" for m in methods])
    rows = []
    for faults in [f for f in FAULTS if f != "charge_loss"]:
        at = {r["method"]: r["accuracy_mean"] for r in records if r["faults"] == faults}
        rows.append({"faults": faults, **at})
    save_table(context.out, _records_table(
        "exp_5_7", "Section 5.7: non-uniform noise at a matched average rate",
        "SmallCNN, average p = 0.10, budget 0.15; plans calibrated for the uniform channel.", rows,
        (("faults", "noise", "noise"), ("uncompensated", "uncompensated", "uncompensated", "{:.3f}"),
         ("uniform_msp", "Uniform-MSP", "Uniform-MSP", "{:.3f}"), ("tac", "TAC", "TAC", "{:.3f}"))))


def ranking(context):
    """5.8: every method at one budget, ranked."""
    records = context.run([Point("5.8", "smallcnn", m, P_CNN, ABLATION_BUDGET) for m in METHODS])
    rows = sorted(records, key=lambda r: -r["accuracy_mean"])
    save_table(context.out, _records_table("exp_5_8", "Section 5.8: all methods at one budget, ranked",
                                           f"SmallCNN, p = 0.10, budget {ABLATION_BUDGET}.", rows, ACCURACY_COLUMNS))


def directional(context):
    """Charge loss: only stored 1s decay (p01 = 0, p10 = 2p, average p = 0.05), with its derived compensation."""
    methods = ("uncompensated", "mean_only", "uniform_msp", "tac", "tac_exact_mean")
    budgets = (0.1, 0.2)
    records = context.run([Point("directional", "smallcnn", m, 0.05, b, faults="charge_loss")
                           for m in methods for b in budgets])
    save_table(context.out, _records_table(
        "exp_directional", "The charge-loss channel",
        "SmallCNN, p01 = 0 and p10 = 0.10 (average 0.05); mean correction uses the directional drift slope "
        "-(p01 + p10), the exact table the directional channel.", records, ACCURACY_COLUMNS))


# -- Tables 1 and 8 --------------------------------------------------------------

def rho(context):
    """Tables 1 and 8: rho* = Gm/A predicted against the integer-program ratio, per architecture."""
    rows = []
    for model in tqdm(MODELS, desc="rho: plans", unit="plan", disable=not context.progress, file=sys.stderr):
        p = P_TRANSFORMER if model == "transformer" else P_CNN
        plan = plan_for(model, "tac", p, 0.2)
        sizes = np.array([layer.size for layer in plan.layers])
        scores = np.array([layer.score for layer in plan.layers])
        predicted = saturation_ratio(sizes, scores)
        low, high = interior_budget_range(sizes, scores, plan.n_bits)
        whole = [b for b in range(1, plan.n_bits) if low < b < high] or [max(1, min(plan.n_bits - 1, round(low)))]
        beta = whole[len(whole) // 2]
        measured = integer_ratio(sizes, scores, beta * int(sizes.sum()), plan.n_bits)
        record = {"experiment": "rho", "model": model, "p": p, "layers": len(sizes), "rho_star": predicted,
                  "rho_integer": measured, "beta": beta, "interior": [low, high],
                  "correction": measured / predicted, "key": f"rho/{model}"}
        context.results.add(record, save=False)
        rows.append(record)
    context.results.save()
    save_table(context.out, _records_table(
        "exp_rho", "Tables 1 and 8: predicted and integer ratios",
        "rho* = Gm/A (Thm 4.6) from the Jacobian scores, and the integer program's output variance over "
        "Uniform-MSP's at a whole number of bits per weight beta (inside the interior range where one exists).",
        rows, (("model", "model", "model"), ("layers", "L", "L"), ("rho_star", "$\\rho^*$", "rho*", "{:.4f}"),
               ("beta", "$\\beta$", "beta"), ("rho_integer", "$\\rho_{int}$", "rho_int", "{:.4f}"),
               ("correction", "$\\rho_{int}/\\rho^*$", "rho_int/rho*", "{:.3f}"))))


EXPERIMENTS = {
    "5.1": distribution_validation,
    "5.2": accuracy_vs_overhead,
    "5.3": allocation_vs_budget,
    "5.4": calibration_mismatch,
    "5.5": architectures,
    "5.6": transformer,
    "5.7": robustness,
    "5.8": ranking,
    "5.9": scoring,
    "rho": rho,
    "directional": directional,
}


# -- all-MiniLM-L6-v2 --------------------------------------------------------------

def minilm(context):
    """TAC on all-MiniLM-L6-v2 (22.7M parameters) at p in {0.01, 0.05, 0.10}: scores, rho*, Pareto fronts.

    Quality is the linear-probe accuracy (``accuracy_mean``), with the cosine
    similarity and retrieval agreement beside it (:mod:`qtaml_tac.minilm`).
    Points run on Dask like the others; each worker loads the model once from
    its installed package, and the plans (Step 1 computed once) are shipped.
    """
    from ..minilm import load_minilm

    budgets = (0.25, 0.5, 0.75) if context.quick else (0.25, 0.375, 0.5, 0.625, 0.75, 0.875)
    rates = (0.01, 0.05, 0.10)
    methods = ("tac", "uniform_msp", "magnitude_ecc")
    data = "quick" if context.quick else "full"
    records = context.run([Point("minilm", "minilm", m, p, b, data=data) for p in rates for m in methods
                           for b in budgets], trials=min(context.trials, 3) if context.quick else None)
    plt = _plt()
    figure, axes = plt.subplots(1, len(rates), figsize=(13, 3.4), sharey=True)
    for axis, p in zip(axes, rates):
        for method in methods:
            rows = sorted((r for r in records if r["p"] == p and r["method"] == method), key=lambda r: r["overhead"])
            axis.plot([r["overhead"] for r in rows], [r["accuracy_mean"] for r in rows], "o-", label=method)
        axis.set_title(f"all-MiniLM-L6-v2, p = {p}", fontsize=9)
        axis.set_xlabel("ECC overhead")
    axes[0].set_ylabel("linear-probe accuracy")
    axes[0].legend(fontsize=8)
    save_figure(context.out, "exp_minilm_pareto", figure)
    model = load_minilm()
    rows = []
    for p in rates:
        tac = next(r for r in records if r["p"] == p and r["method"] == "tac")
        sizes = np.array(_sizes(model, tac["layers"]))
        scores = np.array(tac["scores"])
        low, high = interior_budget_range(sizes, scores, 8)
        needed = {m: budget_to_reach([r for r in records if r["p"] == p], m, "minilm") for m in methods}
        rows.append({"p": p, "rho_star": saturation_ratio(sizes, scores),
                     "rho_integer": integer_ratio(sizes, scores, 2 * int(sizes.sum()), 8),
                     "score_spread": float(np.log10(scores.max() / scores.min())),
                     "interior": f"({low:.2f}, {high:.2f})", **{f"needed_{m}": needed[m] for m in methods}})
    tac = next(r for r in records if r["method"] == "tac")
    save_table(context.out, _records_table(
        "exp_minilm_scores", "all-MiniLM-L6-v2: per-layer scores",
        "Jacobian scores s = Delta^2 G / N of the 39 stored tensors (they do not depend on p).",
        [{"layer": n.replace("encoder.0.model.", ""), "score": s} for n, s in zip(tac["layers"], tac["scores"])],
        (("layer", "tensor", "tensor"), ("score", "score", "score", "{:.3g}"))))
    save_table(context.out, _records_table(
        "exp_minilm", "all-MiniLM-L6-v2: heterogeneity, rho* and the budget for 95\\% of clean quality",
        "Per-layer score spread (decades), rho* = Gm/A, the integer program's ratio to Uniform-MSP at 2 bits "
        "per weight, and the smallest budget on the grid whose linear-probe accuracy reaches 95\\% of clean "
        "(-- where none does).", rows,
        (("p", "$p$", "p"), ("score_spread", "spread", "spread", "{:.1f}"), ("rho_star", "$\\rho^*$", "rho*", "{:.3f}"),
         ("rho_integer", "$\\rho_{int}$", "rho_int", "{:.3f}"), ("needed_tac", "TAC", "TAC", "{:.2f}"),
         ("needed_uniform_msp", "Uniform", "Uniform", "{:.2f}"),
         ("needed_magnitude_ecc", "magnitude", "magnitude", "{:.2f}"))))


def _sizes(model, names):
    parameters = dict(model.named_parameters())
    return [parameters[name].numel() for name in names]


EXPERIMENTS["minilm"] = minilm
