"""Experiment ``finetune``: fault-aware fine-tuning by noise kind, without ECC and under TAC (issue 17).

Every point is a :class:`FinetunePoint`: the trained model fine-tuned under
its own deployment (:func:`qtaml_tac.finetune.finetune`), re-planned and
evaluated with trials paired across noise kinds. The records give robust
accuracy by noise kind (:func:`finetune_accuracy_rows`) and the ECC budget
each kind of training saves (:func:`budget_saved_rows`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from ..calibrate import PAPER_CALIBRATION
from ..evaluate import t_interval
from ..finetune import NOISES
from ..methods import DeploymentConfig
from . import figures, tables
from ._points import Point, _channel, point_seed
from .output import save_figure, save_table

if TYPE_CHECKING:
    from .sections import Context

__all__ = ["finetune", "FinetunePoint", "PRETRAINED", "FINETUNE_LR", "FINETUNE_RATES", "FINETUNE_NOISES",
           "finetune_points", "finetune_accuracy_rows", "budget_needed", "budget_saved_rows"]

#: The ``noise`` of a :class:`FinetunePoint` that evaluates the trained model without fine-tuning (round 0).
PRETRAINED = "pretrained"
#: Adam's learning rate when the experiments fine-tune (a third of the models' training rate, 3e-3).
FINETUNE_LR = 1e-3


@dataclass(frozen=True)
class FinetunePoint(Point):
    """A point whose model is first fine-tuned under its deployment (:func:`qtaml_tac.finetune.finetune`).

    ``noise`` is a kind of :data:`qtaml_tac.finetune.NOISES` (or
    :data:`PRETRAINED`: no fine-tuning), ``round`` the rounds of plan,
    fine-tune, re-plan (0 with :data:`PRETRAINED`), ``epochs`` per round. The
    point's plan (its ``method`` at its budget) is the first plan; the
    evaluation uses the plan re-planned after the last round.
    """

    noise: str = PRETRAINED
    round: int = 0
    epochs: int = 1
    keeps_trial_scores: ClassVar[bool] = True

    def deployment(self, model, split, plan, seed):
        """The fine-tuned model and its re-planned plan (seeded from the point, not the noise kind: paired)."""
        if self.noise == PRETRAINED:
            return model, plan
        from ..finetune import finetune

        config = DeploymentConfig(p=_channel(self.faults, self.p), budget_fraction=self.budget_fraction,
                                  calibration=PAPER_CALIBRATION)
        result = finetune(model, (split.x_train, split.y_train), config, noise=self.noise, plan=plan,
                          epochs=self.epochs, lr=FINETUNE_LR, seed=point_seed(self, seed), progress=False,
                          rounds=self.round)
        return result.model, result.plan


# -- the grid, its rows and the experiment -------------------------------------------------------------------

#: Flip rates of the fine-tuning experiment (symmetric channel; ``--quick`` the last two), and the charge-loss
#: channel's average rate.
FINETUNE_RATES = (0.01, 0.05, 0.10)
QUICK_FINETUNE_RATES = FINETUNE_RATES[1:]
FINETUNE_CHARGE_LOSS_P = 0.05
#: The trained models first, then each noise kind of :data:`qtaml_tac.finetune.NOISES`.
FINETUNE_NOISES = (PRETRAINED, *NOISES)
#: The deployment without ECC (no protection, no compensation: what training alone must absorb) and with ECC.
NO_ECC_METHOD, ECC_METHOD = "uncompensated", "tac"
#: The accuracy a deployment must reach, as a share of the trained model's clean accuracy (as Table 5).
FINETUNE_LEVEL = 0.95


def finetune_points(models: Sequence[str], rates: Sequence[float], budgets: Sequence[float], epochs: int,
                    rounds: Sequence[int]) -> list:
    """The fine-tuning grid: every model, channel (symmetric at each of ``rates``, and charge loss), budget (0: no
    ECC; else TAC), noise kind and number of rounds (the trained model once, at round 0)."""
    channels = [("symmetric", p) for p in rates] + [("charge_loss", FINETUNE_CHARGE_LOSS_P)]
    points = []
    for model in models:
        for faults, p in channels:
            for budget in budgets:
                method = ECC_METHOD if budget > 0 else NO_ECC_METHOD
                points.append(FinetunePoint("finetune", model, method, p, budget, faults=faults))
                points += [FinetunePoint("finetune", model, method, p, budget, faults=faults, noise=noise,
                                         round=round_, epochs=epochs)
                           for noise in NOISES for round_ in rounds]
    return points


def _settings(records):
    """The (model, faults, p) of the records, in order."""
    return sorted({(r["model"], r["faults"], r["p"]) for r in records}, key=lambda s: (s[0], s[1] != "symmetric", s[2]))


def _paired_difference(first, second):
    """Mean and 95% t-interval of ``first - second`` over paired trials (the same faults in every trial)."""
    differences = np.array(first["trial_scores"]) - np.array(second["trial_scores"])
    mean, std = float(differences.mean()), float(differences.std(ddof=1))
    return mean, t_interval(mean, std, differences.size)


def finetune_accuracy_rows(records: Sequence[Mapping]) -> list[dict]:
    """Robust accuracy per (model, channel, budget, round), one column per noise kind, and law minus gaussian.

    The trained model's accuracy (round 0) stands in every round's row; the
    difference is paired over trials, with its 95% t-interval.
    """
    rows = []
    for model, faults, p in _settings(records):
        at = [r for r in records if (r["model"], r["faults"], r["p"]) == (model, faults, p)]
        for budget in sorted({r["budget_fraction"] for r in at}):
            here = [r for r in at if r["budget_fraction"] == budget]
            pretrained = next(r for r in here if r["noise"] == PRETRAINED)
            for round_ in sorted({r["round"] for r in here} - {0}):
                by_noise = {r["noise"]: r for r in here if r["round"] == round_}
                difference, (low, high) = _paired_difference(by_noise["law"], by_noise["gaussian"])
                rows.append({"model": model, "faults": faults, "p": p, "budget_fraction": budget, "round": round_,
                             PRETRAINED: pretrained["accuracy_mean"],
                             **{noise: by_noise[noise]["accuracy_mean"] for noise in NOISES},
                             **{f"clean_{noise}": by_noise[noise]["clean_accuracy"] for noise in NOISES},
                             "law_minus_gaussian": difference, "difference_low": low, "difference_high": high})
    return rows


def budget_needed(rows: Sequence[Mapping], target: float) -> float | None:
    """The smallest budget at which the mean accuracy reaches ``target``, linear between grid budgets.

    ``rows`` are one curve's records; ``None`` when no budget of the grid reaches it.
    """
    rows = sorted(rows, key=lambda r: r["budget_fraction"])
    for index, row in enumerate(rows):
        if row["accuracy_mean"] >= target:
            if index == 0:
                return row["budget_fraction"]
            below = rows[index - 1]
            share = (target - below["accuracy_mean"]) / (row["accuracy_mean"] - below["accuracy_mean"])
            return below["budget_fraction"] + share * (row["budget_fraction"] - below["budget_fraction"])
    return None


def budget_saved_rows(records: Sequence[Mapping], level: float = FINETUNE_LEVEL) -> list[dict]:
    """The ECC budget each kind of training needs to reach ``level`` of the trained model's clean accuracy.

    One row per (model, channel, noise kind, round): ``needed`` (``None``
    when the grid's largest budget does not reach it), and ``saved``, the
    trained model's need minus this one; when the trained model does not
    reach the target on the grid, ``saved`` is a lower bound (its need taken
    as the grid's largest budget) and ``lower_bound`` says so.
    """
    rows = []
    for model, faults, p in _settings(records):
        at = [r for r in records if (r["model"], r["faults"], r["p"]) == (model, faults, p)]
        pretrained = [r for r in at if r["noise"] == PRETRAINED]
        target = level * pretrained[0]["clean_accuracy"]
        reference = budget_needed(pretrained, target)
        top = max(r["budget_fraction"] for r in at)
        for noise, round_ in sorted({(r["noise"], r["round"]) for r in at}, key=lambda k: (k[1], FINETUNE_NOISES.index(k[0]))):
            needed = budget_needed([r for r in at if (r["noise"], r["round"]) == (noise, round_)], target)
            saved = None if needed is None else (top if reference is None else reference) - needed
            rows.append({"model": model, "faults": faults, "p": p, "noise": noise, "round": round_, "target": target,
                         "needed": needed, "saved": saved, "lower_bound": reference is None and needed is not None})
    return rows


def finetune(context: Context) -> None:
    """Fault-aware fine-tuning (issue 17): robust accuracy by noise kind without ECC and under TAC, budget saved.

    Quick: SmallCNN, one epoch, one round, p in {0.05, 0.10} and charge loss,
    budgets 0 (no ECC) and 0.10. Full: SmallCNN, DeepCNN and the
    transformer, p in {0.01, 0.05, 0.10} and charge loss, three epochs per
    round, one and two rounds, budgets 0 to 0.15. Every point fine-tunes the
    trained model under its own deployment, re-plans and evaluates with
    trials paired across noise kinds.
    """
    if context.quick:
        points = finetune_points(("smallcnn",), QUICK_FINETUNE_RATES, (0.0, 0.1), epochs=1, rounds=(1,))
    else:
        points = finetune_points(("smallcnn", "deepcnn", "transformer"), FINETUNE_RATES,
                                 (0.0, 0.025, 0.05, 0.075, 0.1, 0.15), epochs=3, rounds=(1, 2))
    records = context.run(points)
    accuracy = finetune_accuracy_rows(records)
    saved = budget_saved_rows(records)
    for row in saved:
        row.update(experiment="finetune", quantity="budget_saved",
                   key=f"finetune/budget_saved/{row['model']}/{row['faults']}/{row['p']}/{row['noise']}/{row['round']}")
        context.results.add(row, save=False)
    context.results.save()
    save_figure(context.out, "exp_finetune_accuracy", figures.finetune_accuracy(records, FINETUNE_NOISES))
    save_figure(context.out, "exp_finetune_budget_saved", figures.budget_saved(saved, FINETUNE_NOISES))
    save_table(context.out, tables.finetune_accuracy(accuracy, NOISES))
    save_table(context.out, tables.budget_saved(saved, FINETUNE_LEVEL))

