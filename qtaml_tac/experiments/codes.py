"""Experiment ``codes``: what real error-correcting codes deliver against the paper's idealized protection.

On SmallCNN, the transformer and all-MiniLM-L6-v2 (``--quick``: SmallCNN at
three rates), accuracy against the real storage overhead (check bits over data
bits) at each flip rate, for:

* ``uncompensated``: nothing stored beyond the weights;
* the paper's TAC with its idealized accounting (``IdealMSB``: protected top
  bits never flip, one stored bit each): what the paper promises;
* the same plan *realized*: each layer's top bits under the real code of the
  same cost, extended Hamming (8,4) (:func:`~qtaml_tac.experiments.runner.realized`);
* uniform SEC-DED (72,64) and uniform BCH (78,64) over every bit plane;
* TAC over the ``"codes"`` menu (:func:`qtaml_theory.protection.protection_menu`),
  allocated by :func:`qtaml_theory.allocation.allocate_protection`.

Every point runs through the shared runner (paired faults across methods).
Records carry ``menu``, ``protection`` (the scheme of each layer) and
``overhead``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from qtaml_theory.report.palette import FIGURE_HEIGHT_IN, TEXT_WIDTH_IN, colour

from .figures import clean_line, pyplot, styled
from .output import save_figure, save_table
from .runner import Point, trials_for
from .tables import table

__all__ = ["codes", "CODE_RATES", "CODE_VARIANTS", "CODE_BUDGETS", "variant_label", "accuracy_figure", "accuracy_table"]

#: Flip rates of the experiment (fresh flash to the paper's p = 0.10).
CODE_RATES = (1e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1)
_QUICK_RATES = (1e-3, 1e-2, 0.1)
#: Budgets of the allocating variants (fractions of all stored bits).
CODE_BUDGETS = (0.05, 0.1)
#: ``(label, method, protection)`` of each variant (protection: a point's menu, see the runner).
CODE_VARIANTS = (
    ("uncompensated", "uncompensated", "ideal_msb"),
    ("TAC, idealized (paper)", "tac", "ideal_msb"),
    ("TAC plan, realized (8,4)", "tac", "realized"),
    ("uniform SEC-DED (72,64)", "uniform_secded", "ideal_msb"),
    ("uniform BCH (78,64)", "uniform_bch", "ideal_msb"),
    ("TAC over real codes", "tac", "codes"),
)
_FIXED = ("uncompensated", "uniform_secded", "uniform_bch")


def variant_label(record: Mapping) -> str:
    """The :data:`CODE_VARIANTS` label of a record (its method and menu)."""
    menu = record.get("menu", "ideal_msb")
    return next(label for label, method, protection in CODE_VARIANTS
                if method == record["method"] and protection == menu)


def _points(model: str, rates: Sequence[float], budgets: Sequence[float]) -> list[Point]:
    points = []
    for p in rates:
        for _, method, protection in CODE_VARIANTS:
            for budget in (budgets[:1] if method in _FIXED else budgets):
                points.append(Point("codes", model, method, p, budget, protection=protection))
    return points


#: Line style of each protection accounting: the paper's idealized bits, the same plan realized, TAC over codes.
_MENU_STYLE = {"ideal_msb": ("-", "o"), "realized": ("--", "s"), "codes": ("-.", "^")}


@styled
def accuracy_figure(records: Sequence[Mapping], rates: Sequence[float], model: str):
    """Accuracy against real overhead, one panel per rate (three to a row): colour by method (the palette),
    line style by protection accounting (:data:`_MENU_STYLE`)."""
    columns = min(len(rates), 3)
    rows_of_panels = math.ceil(len(rates) / columns)
    figure, axes = pyplot().subplots(rows_of_panels, columns, sharey=True, squeeze=False,
                                     figsize=(TEXT_WIDTH_IN, rows_of_panels * FIGURE_HEIGHT_IN + 0.6))
    panels = axes.ravel()
    for axis, p in zip(panels, rates):
        for name, method, protection in CODE_VARIANTS:
            rows = sorted((r for r in records if r["p"] == p and variant_label(r) == name), key=lambda r: r["overhead"])
            if rows:
                linestyle, marker = _MENU_STYLE[protection]
                axis.errorbar([r["overhead"] for r in rows], [r["accuracy_mean"] for r in rows],
                              yerr=[r["accuracy_std"] for r in rows], marker=marker, linestyle=linestyle, capsize=2,
                              color=colour(method), label=name)
        clean_line(axis, records, text=False)
        axis.set_title(f"p = {p:g}", fontsize=8)
    for axis in panels[len(rates):]:
        axis.set_visible(False)
    for axis in axes[:, 0]:
        axis.set_ylabel("accuracy")
    figure.suptitle(model, fontsize=9)
    for axis in axes[-1]:
        axis.set_xlabel("stored overhead (check / data bits)")
    panels[0].legend(fontsize=6, loc="lower left")  # the lowest rate's panel: every point sits near clean
    return figure


def accuracy_table(records: Sequence[Mapping], model: str):
    """Every record of ``model``: flip rate, variant, budget, real overhead and accuracy (the full grid)."""
    rows = [{**r, "variant": variant_label(r), "schemes": ", ".join(sorted(set(r.get("protection", ["IdealMSB"]))))}
            for r in sorted(records, key=lambda r: (r["p"], variant_label(r), r["budget_fraction"]))]
    return table(f"exp_codes_{model}", f"Real codes on {model}: accuracy against real overhead",
                 "Check bits over data bits as stored; the paper's idealized plan, the same plan under the "
                 "(8,4) code of equal cost, uniform codes and TAC over the menu of real codes.",
                 rows, (("p", "$p$", "p", "{:g}"), ("variant", "variant", "variant"),
                        ("budget_fraction", "budget", "budget", "{:.2f}"),
                        ("overhead", "overhead", "overhead", "{:.3f}"),
                        ("accuracy_mean", "accuracy", "accuracy", "{:.3f}"),
                        ("accuracy_std", "std", "std", "{:.3f}")))


def codes(context) -> None:
    """Run the experiment into ``context.out``: records, one figure and one table per model.

    all-MiniLM-L6-v2's points run at most :data:`~qtaml_tac.experiments.runner.MINILM_TRIALS` trials.
    """
    models = ("smallcnn",) if context.quick else ("smallcnn", "transformer", "minilm")
    rates = _QUICK_RATES if context.quick else CODE_RATES
    for model in models:
        data = "full" if model == "minilm" else ""
        points = [Point(p.experiment, p.model, p.method, p.p, p.budget_fraction, data=data,
                        protection=p.protection) for p in _points(model, rates, CODE_BUDGETS)]
        records = context.run(points, trials=trials_for(model, context.trials))
        save_figure(context.out, f"exp_codes_{model}", accuracy_figure(records, rates, model))
        save_table(context.out, accuracy_table(records, model))
