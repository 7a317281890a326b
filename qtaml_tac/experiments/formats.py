"""Experiment ``formats``: the number formats deployments use, under bit flips (issue 15).

On SmallCNN, the transformer and all-MiniLM-L6-v2 (``--quick``: SmallCNN),
accuracy against p in {1e-5, 1e-4, 1e-3, 1e-2, 0.05} for int8 per tensor
(the paper's), int8 per channel, int4 with groups of 128 and 32, bfloat16,
float16, float8 E4M3 and MXFP4 (:data:`~qtaml_tac.experiments.runner.FORMAT_STORAGE`),
unprotected and under TAC at an equal budget of :data:`FORMAT_BUDGET_BITS`
protected bits per weight (so a budget fraction of ``FORMAT_BUDGET_BITS / n``).
Scales are safe here (``scales_in_faulty_memory=False``); layers whose rows a
group does not divide get a scale per channel.

The deployer's question, on a plot: which format keeps the most accuracy per
stored bit, scales and protection included (:func:`bits_per_weight`), at
each rate. Every point runs through the shared runner (paired faults across
formats and methods); records carry ``format``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from qtaml_theory.report.palette import FIGURE_HEIGHT_IN, TEXT_WIDTH_IN, colour, label

from ..storage import StorageConfig, quantize
from .figures import pyplot, styled
from .output import save_figure, save_table
from .runner import FORMAT_STORAGE, MINILM, Point, _model, format_storage, trials_for
from .tables import table

__all__ = ["formats", "FORMAT_RATES", "FORMAT_NAMES", "FORMAT_METHODS", "FORMAT_BUDGET_BITS", "bits_per_weight",
           "per_bit_figure", "formats_table"]

#: Flip rates of the experiment (fresh flash to past the paper's stress test).
FORMAT_RATES = (1e-5, 1e-4, 1e-3, 1e-2, 0.05)
#: The formats compared, by their names in FORMAT_STORAGE.
FORMAT_NAMES = ("int8_tensor", "int8_channel", "int4_g128", "int4_g32", "bfloat16", "float16", "float8_e4m3",
                "mxfp4")
#: Unprotected and TAC.
FORMAT_METHODS = ("uncompensated", "tac")
#: The equal budget: protected bits per stored weight, whatever the format's width.
FORMAT_BUDGET_BITS = 0.4


def _n_bits(fmt: str) -> int:
    return FORMAT_STORAGE[fmt]["n_bits"]


def _points(model: str, rates: Sequence[float], data: str) -> list[Point]:
    return [Point("formats", model, method, p, round(FORMAT_BUDGET_BITS / _n_bits(fmt), 6), data=data, format=fmt)
            for p in rates for fmt in FORMAT_NAMES for method in FORMAT_METHODS]


@lru_cache(maxsize=64)
def _format_bits(model: str, fmt: str) -> float:
    """Stored bits per weight of a model in a format: codes plus scales and zero points (16 bits each, 8 for MX)."""
    network = _model(model)[0]
    base = StorageConfig()
    if model == MINILM:
        from ..zoo.minilm import storage_config

        base = storage_config()
    storage = quantize(network, format_storage(base, fmt))
    return storage.stored_bits / sum(tensor.size for tensor in storage)


def bits_per_weight(record: Mapping) -> float:
    """A record's stored bits per weight: the format's codes and scales, plus its protection's bits."""
    return _format_bits(record["model"], record["format"]) + record["overhead"] * _n_bits(record["format"])


@styled
def per_bit_figure(records: Sequence[Mapping], model: str):
    """Left: accuracy against p per format (TAC solid, unprotected dashed); right: TAC's accuracy per stored bit.

    The right panel answers the deployer's question at each rate: which format keeps the most accuracy per
    stored bit (codes, scales and protection, :func:`bits_per_weight`).
    """
    figure, (accuracy, per_bit) = pyplot().subplots(1, 2, figsize=(TEXT_WIDTH_IN, FIGURE_HEIGHT_IN + 0.4))
    for fmt in FORMAT_NAMES:
        for method, style in zip(FORMAT_METHODS, ("--", "-")):
            rows = sorted((r for r in records if r["format"] == fmt and r["method"] == method), key=lambda r: r["p"])
            if not rows:
                continue
            accuracy.plot([r["p"] for r in rows], [r["accuracy_mean"] for r in rows], style, marker="o",
                          color=colour(fmt), label=label(fmt) if method == "tac" else None)
            if method == "tac":
                per_bit.plot([r["p"] for r in rows], [r["accuracy_mean"] / bits_per_weight(r) for r in rows], style,
                             marker="o", color=colour(fmt))
    for axis, ylabel in ((accuracy, "accuracy"), (per_bit, "accuracy per stored bit (1/bit)")):
        axis.set_xscale("log")
        axis.set_xlabel("flip probability p")
        axis.set_ylabel(ylabel)
    per_bit.set_yscale("log")
    accuracy.set_title(f"{model}: TAC (solid), unprotected (dashed)")
    per_bit.set_title(f"TAC at {FORMAT_BUDGET_BITS} protected bits per weight")
    accuracy.legend(ncol=2)
    return figure


def formats_table(records: Sequence[Mapping], model: str):
    """Every point of one model: format, method, stored bits per weight, accuracy and accuracy per bit."""
    rows = [{**r, "bits": bits_per_weight(r), "per_bit": r["accuracy_mean"] / bits_per_weight(r)}
            for r in sorted(records, key=lambda r: (r["p"], FORMAT_NAMES.index(r["format"]), r["method"]))]
    return table(f"exp_formats_{model}", f"Number formats on {model}: accuracy under flips",
                 f"Each format unprotected and under TAC at {FORMAT_BUDGET_BITS} protected bits per weight; "
                 "stored bits per weight include scales (16 bits, 8 for MX) and protection.",
                 rows, (("p", "$p$", "p", "{:g}"), ("format", "format", "format"), ("method", "method", "method"),
                        ("bits", "bits/weight", "bits/weight", "{:.2f}"),
                        ("accuracy_mean", "accuracy", "accuracy", "{:.3f}"),
                        ("accuracy_std", "std", "std", "{:.3f}"),
                        ("per_bit", "accuracy/bit", "accuracy/bit", "{:.4f}")))


def formats(context) -> None:
    """Run the experiment into ``context.out``: records, one figure and one table per model.

    all-MiniLM-L6-v2's points run at most :data:`~qtaml_tac.experiments.runner.MINILM_TRIALS` trials.
    """
    models = ("smallcnn",) if context.quick else ("smallcnn", "transformer", MINILM)
    for model in models:
        data = "full" if model == MINILM else ""
        records = context.run(_points(model, FORMAT_RATES, data), trials=trials_for(model, context.trials))
        save_figure(context.out, f"exp_formats_{model}", per_bit_figure(records, model))
        save_table(context.out, formats_table(records, model))
