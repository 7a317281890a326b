"""The paper's experiments (Sections 5.1-5.9, Tables 1 and 8, the charge-loss channel, all-MiniLM-L6-v2), and beyond.

Each experiment is a function ``(context) -> None`` that computes its records
(through :mod:`qtaml_tac.experiments.runner`, or directly for 5.1 and ``rho``),
stores them in ``results.json``, then hands them to
:mod:`qtaml_tac.experiments.figures` and :mod:`qtaml_tac.experiments.tables`
to draw and tabulate. Grids are stated here; ``--quick`` takes the coarse ones.
The experiments beyond the paper's measurements live in modules of their own
(:mod:`~qtaml_tac.experiments.codes`, :mod:`~qtaml_tac.experiments.finetune`,
:mod:`~qtaml_tac.experiments.lifetime`, :mod:`~qtaml_tac.experiments.formats`), with their grids.
:data:`EXPERIMENTS` is the one table of experiments, by name.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from qtaml_theory import get_encoding
from qtaml_theory.allocation import integer_ratio, interior_budget_range, saturation_ratio
from qtaml_theory.law import WeightError, layer_output_cumulants, sample_errors

from ..method_registry import PAPER_METHODS
from . import figures, tables
from .codes import codes
from .finetune import (
    FINETUNE_NOISES,
    FINETUNE_RATES,
    budget_needed,
    budget_saved_rows,
    finetune,
    finetune_accuracy_rows,
    finetune_points,
)
from .formats import formats
from .lifetime import lifetime
from .output import save_figure, save_table
from .runner import FAULTS, Point, plan_for, run_points
from .tables import ACCURACY_COLUMNS

__all__ = ["EXPERIMENTS", "PAPER_EXPERIMENTS", "Context", "CNNS", "MODELS", "ACCURACY_COLUMNS", "FINETUNE_RATES",
           "FINETUNE_NOISES", "finetune_points", "finetune_accuracy_rows", "budget_needed", "budget_saved_rows"]

#: The paper's four digit CNNs.
CNNS = ("smallcnn", "widecnn", "deepcnn", "rescnn")
#: Every model of the paper's experiments: the CNNs and the sequence transformer.
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
        """Evaluate ``points`` (those not yet in the results) and return their records."""
        return run_points(points, self.results, self.trials if trials is None else trials, self.seed, self.client,
                          progress=self.progress)


# -- 5.1 -------------------------------------------------------------------------

def distribution_data(quick: bool, seed: int) -> dict:
    """Section 5.1's numbers: the exact law against Monte Carlo at n = 8, p = 0.1, and a layer output's KS distance.

    Returns
    -------
    dict
        ``bits``, ``rate``, ``pmf`` (exact, code 200), ``frequencies`` (Monte
        Carlo, same keys), ``codes`` (every 8th), ``stored`` (their values),
        ``kappa`` (exact cumulants, Thm 3.2 and A.11), ``measured`` (draws per
        code), ``widths`` and ``distances`` (Remark 3.5), all drawn from one
        generator seeded with ``seed``.
    """
    from scipy import stats

    bits, rate, size = 8, 0.1, 20_000 if quick else 200_000
    encoding = get_encoding("offset_binary", bits)
    rng = np.random.default_rng(seed)
    law = WeightError(encoding, 200, rate)
    draws = law.sample(size, rng)
    pmf = law.pmf()
    frequencies = {v: np.mean(draws == v) for v in np.array(list(pmf))}
    codes = np.arange(0, 256, 8)
    kappa = np.array([WeightError(encoding, int(c), rate).cumulants() for c in codes])
    measured = np.array([sample_errors(encoding, int(c), rate, size // 10, rng) for c in codes])
    widths = (1, 4, 16, 64, 256, 1024)
    distances = []
    for width in widths:
        layer_codes = rng.integers(0, 256, size=width)
        inputs = rng.normal(size=width)
        outputs = sample_errors(encoding, layer_codes, 0.01, 2000, rng) @ inputs
        k1, k2, _, _ = layer_output_cumulants(encoding, layer_codes, 0.01, inputs)
        distances.append(stats.kstest((outputs - k1) / math.sqrt(k2), "norm").statistic)
    return {"bits": bits, "rate": rate, "pmf": pmf, "frequencies": frequencies, "codes": codes,
            "stored": encoding.decode(codes), "kappa": kappa, "measured": measured, "widths": widths,
            "distances": distances}


def distribution_records(data: Mapping) -> list[dict]:
    """The records of Section 5.1 from :func:`distribution_data`, with the MSB variance share for n = 1..16."""
    from qtaml_theory import closed_forms as cf

    bits, rate = data["bits"], data["rate"]
    records = [{"experiment": "5.1", "quantity": "conditional_moments", "n": bits, "p": rate, "code": int(code),
                "mean_exact": float(k[0]), "mean_measured": float(m.mean()), "var_exact": float(k[1]),
                "var_measured": float(m.var())} for code, k, m in zip(data["codes"], data["kappa"], data["measured"])]
    records += [{"experiment": "5.1", "quantity": "output_ks_distance", "width": width, "p": 0.01,
                 "ks_distance": float(distance)} for width, distance in zip(data["widths"], data["distances"])]
    records += [{"experiment": "5.1", "quantity": "msb_share", "n": n, "share": cf.msb_variance_share(n)}
                for n in range(1, 17)]
    for record in records:
        record["key"] = f"5.1/{record['quantity']}/{record.get('code', record.get('width', record.get('n')))}"
    return records


def distribution_validation(context: Context) -> None:
    """5.1: exact PMF against Monte Carlo, the conditional mean line, flat variance, MSB share, output Gaussianity."""
    data = distribution_data(context.quick, context.seed)
    save_figure(context.out, "exp_5_1_distribution", figures.distribution(data))
    records = distribution_records(data)
    for record in records:
        context.results.add(record, save=False)
    context.results.save()
    save_table(context.out, tables.conditional_moments(records, data["rate"]))


# -- 5.2, 5.3 --------------------------------------------------------------------

def sweep_records(records: Sequence[Mapping], points: Sequence[Point]) -> list[Mapping]:
    """The records among ``records`` whose method and budget are those of one of ``points``."""
    keys = {(p.method, p.budget_fraction) for p in points}
    return [r for r in records if (r["method"], r["budget_fraction"]) in keys]


def accuracy_vs_overhead(context: Context) -> None:
    """5.2: accuracy against ECC overhead at p = 0.10 (Table 2) and the component ablation (Table 3)."""
    methods = ("tac", "uniform_msp")
    sweep = [Point("5.2", "smallcnn", m, P_CNN, b) for m in methods for b in context.budgets()]
    ablation = [Point("5.2", "smallcnn", m, P_CNN, ABLATION_BUDGET)
                for m in ("uncompensated", "mean_only", "tac_alloc_only", "tac")]
    records = context.run(sweep + ablation)
    save_figure(context.out, "exp_5_2_accuracy_vs_overhead",
                figures.curves(sweep_records(records, sweep), methods, "overhead",
                               "ECC overhead (protected bits / all bits)", "SmallCNN, p = 0.10", claim=True))
    save_table(context.out, tables.accuracy("exp_5_2_sweep", "Table 2: accuracy against ECC overhead",
                                            "SmallCNN on digits, p = 0.10, n = 8.", sweep_records(records, sweep)))
    save_table(context.out, tables.accuracy("exp_5_2_ablation", "Table 3: component ablation",
                                            f"SmallCNN, p = 0.10, budget {ABLATION_BUDGET}.",
                                            sweep_records(records, ablation)))


def allocation_vs_budget(context: Context) -> None:
    """5.3: per-layer scores and the allocation against budget (SmallCNN)."""
    records = context.run([Point("5.3", "smallcnn", "tac", P_CNN, b) for b in context.budgets()])
    records.sort(key=lambda r: r["budget_fraction"])
    save_figure(context.out, "exp_5_3_allocation", figures.allocation(records))
    save_table(context.out, tables.allocation(records))


# -- 5.4 -------------------------------------------------------------------------

def calibration_mismatch(context: Context) -> None:
    """5.4: calibrate at p_cal, deploy at p_dep (TAC, budget 0.15), the heatmap."""
    grid = (0.05, 0.1, 0.15) if context.quick else (0.02, 0.05, 0.08, 0.1, 0.12, 0.15, 0.2)
    records = context.run([Point("5.4", "smallcnn", "tac", p_dep, ABLATION_BUDGET, calibrate_p=p_cal)
                           for p_cal in grid for p_dep in grid])
    save_figure(context.out, "exp_5_4_mismatch", figures.mismatch(records, grid))


# -- 5.5 -------------------------------------------------------------------------

def budget_to_reach(records: Sequence[Mapping], method: str, model: str, level: float = 0.95) -> float | None:
    """Smallest budget fraction whose mean accuracy reaches ``level`` of clean (None if none does)."""
    rows = sorted((r for r in records if r["method"] == method and r["model"] == model),
                  key=lambda r: r["budget_fraction"])
    for row in rows:
        if row["accuracy_mean"] >= level * row["clean_accuracy"]:
            return row["budget_fraction"]
    return None


def architectures(context: Context) -> None:
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
    save_table(context.out, tables.budget_to_reach(rows))
    save_table(context.out, tables.mean_correction([r for r in records if r["experiment"] == "5.5"],
                                                   ABLATION_BUDGET))


# -- 5.6, 5.9 --------------------------------------------------------------------

def transformer(context: Context) -> None:
    """5.6: the transformer at p = 0.05: scores, rho* against the integer ratio, the Pareto front."""
    methods = ("tac", "uniform_msp", "magnitude_ecc")
    records = context.run([Point("5.6", "transformer", m, P_TRANSFORMER, b) for m in methods
                           for b in context.budgets()])
    save_figure(context.out, "exp_5_6_transformer_pareto",
                figures.curves(records, methods, "overhead", "ECC overhead", "transformer, p = 0.05"))
    save_table(context.out, tables.scores("exp_5_6_scores", "Section 5.6: transformer per-layer scores",
                                          "Jacobian scores at p = 0.05.",
                                          next(r for r in records if r["method"] == "tac")))


def scoring(context: Context) -> None:
    """5.9: magnitude against sensitivity against Jacobian (WKB) scoring on the transformer across budgets."""
    methods = ("magnitude_ecc", "sensitivity_ecc", "tac_alloc_only")
    records = context.run([Point("5.9", "transformer", m, P_TRANSFORMER, b) for m in methods
                           for b in context.budgets()])
    save_figure(context.out, "exp_5_9_scoring",
                figures.curves(records, methods, "budget_fraction", "budget fraction",
                               "transformer, p = 0.05: scoring signals"))
    save_table(context.out, tables.scoring(records, context.budgets()))


# -- 5.7, 5.8, directional -------------------------------------------------------

def robustness(context: Context) -> None:
    """5.7: the non-uniform noise variants at matched average rate (p = 0.10, budget 0.15)."""
    methods = ("uncompensated", "uniform_msp", "tac")
    faults = [f for f in FAULTS if f != "charge_loss"]
    records = context.run([Point("5.7", "smallcnn", m, P_CNN, ABLATION_BUDGET, faults=f)
                           for f in faults for m in methods])
    save_table(context.out, tables.robustness(records, faults))


def ranking(context: Context) -> None:
    """5.8: every method at one budget, ranked."""
    records = context.run([Point("5.8", "smallcnn", m, P_CNN, ABLATION_BUDGET) for m in PAPER_METHODS])
    save_table(context.out, tables.accuracy("exp_5_8", "Section 5.8: all methods at one budget, ranked",
                                            f"SmallCNN, p = 0.10, budget {ABLATION_BUDGET}.",
                                            sorted(records, key=lambda r: -r["accuracy_mean"])))


def directional(context: Context) -> None:
    """Charge loss: only stored 1s decay (p01 = 0, p10 = 2p, average p = 0.05), with its derived compensation."""
    methods = ("uncompensated", "mean_only", "uniform_msp", "tac", "tac_exact_mean")
    budgets = (0.1, 0.2)
    records = context.run([Point("directional", "smallcnn", m, 0.05, b, faults="charge_loss")
                           for m in methods for b in budgets])
    save_table(context.out, tables.accuracy(
        "exp_directional", "The charge-loss channel",
        "SmallCNN, p01 = 0 and p10 = 0.10 (average 0.05); mean correction uses the directional drift slope "
        "-(p01 + p10), the exact table the directional channel.", records))


# -- Tables 1 and 8 --------------------------------------------------------------

def rho_record(model: str, p: float) -> dict:
    """Tables 1 and 8 for one model: rho* = Gm/A (Thm 4.6) and the integer program's ratio at a whole beta."""
    plan = plan_for(model, "tac", p, 0.2)
    sizes = np.array([layer.size for layer in plan.layers])
    scores = np.array([layer.score for layer in plan.layers])
    predicted = saturation_ratio(sizes, scores)
    low, high = interior_budget_range(sizes, scores, plan.n_bits)
    whole = [b for b in range(1, plan.n_bits) if low < b < high] or [max(1, min(plan.n_bits - 1, round(low)))]
    beta = whole[len(whole) // 2]
    measured = integer_ratio(sizes, scores, beta * int(sizes.sum()), plan.n_bits)
    return {"experiment": "rho", "model": model, "p": p, "layers": len(sizes), "rho_star": predicted,
            "rho_integer": measured, "beta": beta, "interior": [low, high], "correction": measured / predicted,
            "key": f"rho/{model}"}


def rho(context: Context) -> None:
    """Tables 1 and 8: rho* = Gm/A predicted against the integer-program ratio, per architecture."""
    records = []
    for model in tqdm(MODELS, desc="rho: plans", unit="plan", disable=not context.progress, file=sys.stderr):
        records.append(rho_record(model, P_TRANSFORMER if model == "transformer" else P_CNN))
        context.results.add(records[-1], save=False)
    context.results.save()
    save_table(context.out, tables.rho(records))


# -- all-MiniLM-L6-v2 --------------------------------------------------------------

def minilm(context: Context) -> None:
    """TAC on all-MiniLM-L6-v2 (22.7M parameters) at p in {0.01, 0.05, 0.10}: scores, rho*, Pareto fronts.

    Quality is the linear-probe accuracy (``accuracy_mean``), with the cosine
    similarity and retrieval agreement beside it (:mod:`qtaml_tac.zoo.minilm`).
    Points run on Dask like the others; each worker loads the model once from
    its installed package, and the plans (Step 1 computed once) are shipped.
    """
    from ..zoo.minilm import load_minilm

    budgets = (0.25, 0.5, 0.75) if context.quick else (0.25, 0.375, 0.5, 0.625, 0.75, 0.875)
    rates = (0.01, 0.05, 0.10)
    methods = ("tac", "uniform_msp", "magnitude_ecc")
    data = "quick" if context.quick else "full"
    records = context.run([Point("minilm", "minilm", m, p, b, data=data) for p in rates for m in methods
                           for b in budgets], trials=min(context.trials, 3) if context.quick else None)
    save_figure(context.out, "exp_minilm_pareto", figures.minilm_pareto(records, rates, methods))
    parameters = dict(load_minilm().named_parameters())
    rows = []
    for p in rates:
        tac = next(r for r in records if r["p"] == p and r["method"] == "tac")
        sizes = np.array([parameters[name].numel() for name in tac["layers"]])
        scores = np.array(tac["scores"])
        low, high = interior_budget_range(sizes, scores, 8)
        needed = {m: budget_to_reach([r for r in records if r["p"] == p], m, "minilm") for m in methods}
        rows.append({"p": p, "rho_star": saturation_ratio(sizes, scores),
                     "rho_integer": integer_ratio(sizes, scores, 2 * int(sizes.sum()), 8),
                     "score_spread": float(np.log10(scores.max() / scores.min())),
                     "interior": f"({low:.2f}, {high:.2f})", **{f"needed_{m}": needed[m] for m in methods}})
    save_table(context.out, tables.scores(
        "exp_minilm_scores", "all-MiniLM-L6-v2: per-layer scores",
        "Jacobian scores s = Delta^2 G / N of the 39 stored tensors (they do not depend on p).",
        next(r for r in records if r["method"] == "tac"), heading="tensor", strip="encoder.0.model."))
    save_table(context.out, tables.minilm(rows))


#: The paper's experiments by name, in the order ``all`` runs them.
_PAPER = {
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
#: Experiments run on request only, never by ``all`` (``minilm`` needs ``pip install qtaml[models]``; ``codes``,
#: ``finetune``, ``lifetime`` and ``formats`` go beyond the paper's measurements: real codes, the conclusion's
#: fault-aware training, multi-level cells over years, and the number formats deployments use).
_ON_REQUEST = {"minilm": minilm, "codes": codes, "finetune": finetune, "lifetime": lifetime, "formats": formats}

#: Every experiment by name: ``EXPERIMENTS[name](context)`` runs one.
EXPERIMENTS = {**_PAPER, **_ON_REQUEST}
#: What ``all`` runs: the paper's experiments.
PAPER_EXPERIMENTS = tuple(_PAPER)
