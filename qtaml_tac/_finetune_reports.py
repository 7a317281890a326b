"""What :func:`qtaml_tac.finetune.finetune` reports: one :class:`RoundReport` per round, in a :class:`FinetuneResult`.

Private: both are re-exported by :mod:`qtaml_tac.finetune`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from torch import nn

from .plan import Plan

# -- reports -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class RoundReport:
    """One round of :func:`finetune`: the plan trained under, the training losses and the plan after.

    Attributes
    ----------
    round : int
        1-based.
    noise : str
    losses : tuple of float
        Mean training loss of each epoch (the perturbed loss; RandBET's is
        the average of clean and perturbed).
    steps : int
        Optimizer steps in the round.
    bits_before, bits_after : tuple of int or None
        Protected bits per stored layer of the plan trained under and of the
        plan re-planned after the round (``None`` without a plan).
    overhead_before, overhead_after : float or None
        Their ECC overheads (protected bits over all stored bits).
    """

    round: int
    noise: str
    losses: tuple
    steps: int
    bits_before: tuple | None = None
    bits_after: tuple | None = None
    overhead_before: float | None = None
    overhead_after: float | None = None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class FinetuneResult:
    """What :func:`finetune` returns.

    Attributes
    ----------
    model : nn.Module
        The fine-tuned model (the caller's own with ``inplace=True``, else a
        copy), each module in the mode the caller's model had.
    plan : Plan or None
        The plan re-planned after the last round (``None`` without a plan).
    rounds : tuple of RoundReport
    noise : str
    """

    model: nn.Module
    plan: Plan | None
    rounds: tuple
    noise: str

    def records(self) -> list[dict]:
        """One row per round (fields of :class:`RoundReport`), data first."""
        return [report.to_dict() for report in self.rounds]

