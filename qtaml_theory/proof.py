"""Step-by-step derivations whose every step SymPy checks (the ``proofs/`` files).

A :class:`Derivation` records claims of the form ``lhs == rhs``; each is
checked when it is made, and :meth:`Derivation.verify` raises
:class:`DerivationError` listing every step that did not hold. A wrong step is
caught, not skipped: the checker only answers "holds" when SymPy reduces the
difference to zero. A proof script ends with ``run(derivation())``
(:func:`run`): it prints the steps and exits with status 1, naming the failed
steps on stderr, when any step does not hold.

Examples
--------
>>> import sympy as sp
>>> from qtaml_theory.proof import Derivation
>>> x = sp.Symbol("x")
>>> d = Derivation("demo", "a square")
>>> _ = d.step("expand the square", (x + 1) ** 2, x**2 + 2 * x + 1)
>>> d.verify()
>>> _ = d.step("a wrong step", (x + 1) ** 2, x**2 + 1)
>>> d.verified
False
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import sympy as sp

__all__ = ["Step", "Derivation", "DerivationError", "symbolically_equal", "run"]


class DerivationError(AssertionError):
    """A step of a derivation did not hold."""


@dataclass(frozen=True)
class Step:
    """One checked claim ``lhs == rhs``."""

    claim: str
    lhs: sp.Expr
    rhs: sp.Expr
    holds: bool


def symbolically_equal(lhs, rhs):
    """True when SymPy reduces ``lhs - rhs`` to zero.

    Tries, in order: expansion with sums split and evaluated, ``simplify``,
    and ``equals(0)``. Returns False when none of them proves the difference
    zero (so an unproven claim never passes).
    """
    lhs, rhs = sp.sympify(lhs), sp.sympify(rhs)
    if lhs == rhs:
        return True
    difference = lhs - rhs
    if difference == 0:
        return True
    candidates = (
        lambda d: sp.expand(sp.expand(d).doit(), power_exp=True),
        lambda d: sp.simplify(sp.expand(d).doit()),
        lambda d: sp.simplify(sp.powsimp(sp.expand(d, power_exp=True).doit(), force=True)),
    )
    for reduce in candidates:
        if reduce(difference) == 0:
            return True
    return bool(difference.doit().equals(0))


class Derivation:
    """A theorem's derivation as a list of SymPy-checked steps.

    Parameters
    ----------
    theorem : str
        The paper's label, e.g. ``"Thm 3.2"``.
    title : str
        What the theorem says, in words.
    """

    def __init__(self, theorem, title):
        self.theorem = theorem
        self.title = title
        self.steps = []

    def step(self, claim, lhs, rhs):
        """Record and check ``lhs == rhs``; return ``rhs`` to chain the next step."""
        self.steps.append(Step(claim, sp.sympify(lhs), sp.sympify(rhs), symbolically_equal(lhs, rhs)))
        return rhs

    @property
    def verified(self):
        """True when there is at least one step and every step holds."""
        return bool(self.steps) and all(s.holds for s in self.steps)

    def verify(self):
        """Raise :class:`DerivationError` unless every step holds."""
        if not self.steps:
            raise DerivationError(f"{self.theorem}: the derivation has no steps")
        failed = [s for s in self.steps if not s.holds]
        if failed:
            lines = "\n".join(f"  {s.claim}: {s.lhs} != {s.rhs}" for s in failed)
            raise DerivationError(f"{self.theorem}: {len(failed)} step(s) did not hold:\n{lines}")

    def __str__(self):
        lines = [f"{self.theorem}: {self.title}"]
        for number, s in enumerate(self.steps, 1):
            mark = "ok" if s.holds else "FAILED"
            lines.append(f"  {number}. [{mark}] {s.claim}\n       {sp.sstr(s.lhs)}\n     = {sp.sstr(s.rhs)}")
        return "\n".join(lines)


def run(derivation):
    """Print a derivation and exit with status 1 when any step failed (the end of a ``proofs/`` script).

    Parameters
    ----------
    derivation : Derivation

    Raises
    ------
    SystemExit
        With status 1, after writing which steps failed (or that there are
        none) to stderr; returns normally, after printing a line that all
        steps hold, otherwise.
    """
    print(derivation)
    try:
        derivation.verify()
    except DerivationError as error:
        print(f"FAILED: {error}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"{derivation.theorem}: all {len(derivation.steps)} steps hold")
