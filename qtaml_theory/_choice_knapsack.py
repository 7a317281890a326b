"""The allocation over a menu of schemes as a multiple-choice knapsack, solved exactly.

Layer ``l`` offers choices ``c`` of integer cost ``costs[l][c] >= 0`` (storage
bits) and exact rational loss ``losses[l][c] >= 0``; exactly one choice per
layer is taken, the total cost may not exceed ``capacity``, and the total loss
is minimized (Sinha & Zoltners 1979; Pisinger 1995).

All arithmetic is in Python integers: the losses are first multiplied by the
least common multiple of their denominators (a positive constant, so the
minimizers do not change). There is no floating point and no tolerance in any
decision; floats only order ratios whose order they provably get right
(``_by_falling_ratio`` in :mod:`qtaml_theory._knapsack_relaxation`).

:func:`optimum` proves its answer by construction:

1. *Dominance.* A choice that costs at least as much as another and loses at
   least as much is never needed (of exact duplicates the first is kept): per
   layer, the rest (the *frontier*) has rising cost and strictly falling loss.
2. *LP relaxation.* Taking convex combinations of a layer's choices, only the
   lower convex hull of its frontier matters. From every layer's cheapest
   choice, the hull steps are taken in order of falling loss decrease per
   unit of cost until the next one does not fit; a fraction of that
   *critical* step fills the capacity. Because each layer's step ratios fall,
   this greedy solves the relaxation exactly (Sinha & Zoltners, Thm 1), its
   value ``LB`` is a lower bound on every selection, and the critical
   ratio ``lambda`` is an optimal dual price of the capacity.
3. *Incumbent.* :func:`greedy` gives a feasible selection; single-layer
   moves into the capacity it leaves unused improve it (``_fill``). Its
   loss is ``UB``; if ``UB == LB`` it is optimal.
4. *Reduced-cost fixing.* With ``r_l(c) = loss + lambda cost - min_c'(loss +
   lambda cost) >= 0``, every feasible selection ``x`` satisfies the identity
   ``loss(x) = LB + sum_l r_l(x_l) + lambda (capacity - cost(x))`` (LP
   duality), so ``loss(x) >= LB + r_l(x_l)``. A choice with ``r_l(c) > UB -
   LB`` is in no selection as good as the incumbent and is dropped; a layer
   left with one choice is settled.
5. *Branch and bound.* The layers still open (the *core*) are searched depth
   first, largest cost range first, each layer branching over ALL its
   remaining frontier choices, the dearest first (a choice above the hull
   can be in the integer optimum). A node is dropped only when the exact LP
   relaxation of the layers below it (over their remaining choices), with
   the room left, cannot beat the best selection found; costs are first
   divided by the greatest common divisor of the core's cost differences
   (the room rounded down), which changes no selection's feasibility. A
   node at the same depth and with the same room as one met before, and no
   more gain, is dropped too: the earlier node's subtree, searched or
   bounded by then, held every completion this one has. What is left when
   the search ends is optimal. A search visits at most ``FIRST_NODE_LIMIT``
   nodes; one that runs out restarts from the best selection it found
   (whose smaller gap fixes more choices in step 4) with a limit
   ``NODE_LIMIT_GROWTH`` times larger. Only a search that ends within its
   limit returns, and one eventually does.

The problem is NP-hard, so the worst case is exponential. On the instances
of ``benchmarks/bench_choice_knapsack.py`` (500 layers, 10 choices) it takes
5-80 ms for uncorrelated choices, equal slopes, costs in common units and
menus shaped like real schemes, and up to about half a second for strongly
correlated choices (loss falling linearly with cost plus small noise, the
hard class of Pisinger 1995). A subset sum in disguise whose LP bound never
closes (500 layers, every choice on one line, costs among 0, 1000, 1001,
2001, 3000, a capacity no selection reaches) takes about 5 s and 200 MB,
thanks to the repeated-state test; HiGHS did not finish it in 3 minutes.

Ties (selections of exactly equal loss) are settled deterministically: the
incumbent is kept unless a strictly better selection is found, and the search
order depends only on the input, so the same input always gives the same
answer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from fractions import Fraction

from ._knapsack_relaxation import _Relaxation
from ._knapsack_search import _search
from .validation import check_integer

__all__ = ["greedy", "lower_bound", "optimum"]

#: Nodes of the first branch-and-bound run (module docstring, step 5).
FIRST_NODE_LIMIT = 5_000
#: Factor by which the node limit grows at each restart.
NODE_LIMIT_GROWTH = 4
#: Loss types taken as they are (ints and Fractions both have numerator and denominator).
_EXACT = (int, Fraction)

#: Per layer, the cost of each choice (storage bits).
Costs = Sequence[Sequence[numbers.Integral]]
#: Per layer, the exact loss of each choice.
Losses = Sequence[Sequence[numbers.Rational]]


# ---------------------------------------------------------------------------
# Input


def _check(
    costs: Costs, losses: Losses, capacity: numbers.Integral
) -> tuple[list[list[int]], list[list[int]], int, int]:
    """Validated ``(costs, integer losses, scale, capacity)``; losses are multiplied by ``scale``."""
    capacity = check_integer(capacity, "capacity", 0)
    if len(costs) != len(losses):
        raise ValueError(f"costs and losses must have one entry per layer, got {len(costs)} and {len(losses)} layers")
    checked_costs, exact_losses = [], []
    for layer, (layer_costs, layer_losses) in enumerate(zip(costs, losses)):
        if len(layer_costs) == 0:
            raise ValueError(f"layer {layer} offers no choice (costs[{layer}] is empty)")
        if len(layer_costs) != len(layer_losses):
            raise ValueError(
                f"costs[{layer}] and losses[{layer}] must have the same length, "
                f"got {len(layer_costs)} and {len(layer_losses)}"
            )
        checked_costs.append(_costs(layer_costs, layer))
        exact_losses.append(_losses(layer_losses, layer))
    scale = math.lcm(*(v.denominator for row in exact_losses for v in row))
    scaled = [[v.numerator * (scale // v.denominator) for v in row] for row in exact_losses]
    return checked_costs, scaled, scale, capacity


def _costs(row: Sequence[numbers.Integral], layer: int) -> list[int]:
    """One layer's costs as non-negative ints (plain non-negative ints pass without a closer look)."""
    if all(type(c) is int and c >= 0 for c in row):
        return list(row)
    return [check_integer(c, f"costs[{layer}][{j}]", 0) for j, c in enumerate(row)]


def _losses(row: Sequence[numbers.Rational], layer: int) -> list[int | Fraction]:
    """One layer's losses as non-negative Fractions or ints (exact types pass without a closer look)."""
    if all(type(v) in _EXACT and v.numerator >= 0 for v in row):
        return list(row)
    return [_exact_loss(v, f"losses[{layer}][{j}]") for j, v in enumerate(row)]


def _exact_loss(value: numbers.Rational, name: str) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, numbers.Rational):
        raise ValueError(f"{name} must be an exact non-negative rational (int or Fraction), got {value!r}")
    value = Fraction(value)
    if value < 0:
        raise ValueError(f"{name} must be non-negative, got {value}")
    return value


# ---------------------------------------------------------------------------
# Public API


def greedy(costs: Costs, losses: Losses, capacity: numbers.Integral) -> list[int]:
    """The natural extension of the paper's Algorithm 1 (Step 2) to a menu of choices.

    Every layer starts at its cheapest choice (ties: the lowest loss, then the
    lowest index). Each layer's candidate move is the next vertex of the lower
    convex hull of its non-dominated choices; among the moves that still fit,
    the one of largest loss decrease per extra unit of cost is made (ties: the
    lowest layer). A layer whose next move does not fit is set aside for good
    (the room only shrinks). It stops when no move fits. Choices above the
    hull are never taken. Equivalently: the hull steps of all layers in order
    of falling ratio, each taken when it fits and its layer is still open.
    Not always optimal: the move of best ratio can leave room that two lesser
    moves would have used better, and the optimum may need a choice above
    the hull.

    Parameters
    ----------
    costs : sequence of sequence of int
        ``costs[l][c] >= 0``, the cost of choice ``c`` of layer ``l``.
    losses : sequence of sequence of int or Fraction
        ``losses[l][c] >= 0``, exact.
    capacity : int
        Non-negative.

    Returns
    -------
    list of int
        The choice index per layer.

    Raises
    ------
    ValueError
        Malformed input, or no selection fits within ``capacity``.
    """
    cost, loss, _, capacity = _check(costs, losses, capacity)
    relaxation = _Relaxation(cost, loss, capacity)
    return [hull[k] for hull, k in zip(relaxation.hulls, relaxation.greedy())]


def lower_bound(
    costs: Costs, losses: Losses, capacity: numbers.Integral
) -> tuple[Fraction, list[dict[int, Fraction]]]:
    """The exact optimum of the LP relaxation: a certified lower bound on the optimal loss.

    Parameters
    ----------
    costs, losses, capacity
        As in :func:`optimum`.

    Returns
    -------
    value : Fraction
        The relaxation's optimal total loss.
    solution : list of dict
        Per layer, ``{choice: weight}`` with Fraction weights summing to 1;
        at most one layer is split between two adjacent hull vertices.

    Notes
    -----
    Sinha & Zoltners (1979): the relaxation's optimum takes, from every
    layer's cheapest choice, the hull steps in order of falling loss decrease
    per unit cost, and a fraction of the first that does not fit.
    """
    cost, loss, scale, capacity = _check(costs, losses, capacity)
    relaxation = _Relaxation(cost, loss, capacity)
    solution = [{hull[k]: Fraction(1)} for hull, k in zip(relaxation.hulls, relaxation.taken)]
    if relaxation.critical is not None and relaxation.room > 0:
        _, step_cost, layer, position = relaxation.critical
        fraction = Fraction(relaxation.room, step_cost)
        hull = relaxation.hulls[layer]
        solution[layer] = {hull[position]: 1 - fraction, hull[position + 1]: fraction}
    return relaxation.value() / scale, solution


def optimum(costs: Costs, losses: Losses, capacity: numbers.Integral) -> list[int]:
    """A selection of least total loss within ``capacity``, proven optimal (module docstring).

    Parameters
    ----------
    costs : sequence of sequence of int
        ``costs[l][c] >= 0``, the cost of choice ``c`` of layer ``l``.
    losses : sequence of sequence of int or Fraction
        ``losses[l][c] >= 0``, exact (floats are refused).
    capacity : int
        Non-negative.

    Returns
    -------
    list of int
        The choice index per layer. Deterministic; among equal optima, the
        :func:`greedy` selection when it is optimal, else the first optimum
        the search meets.

    Raises
    ------
    ValueError
        Malformed input, or no selection fits within ``capacity``.

    Examples
    --------
    >>> from fractions import Fraction
    >>> optimum([[0, 2, 3], [0, 2, 3]], [[10, 4, 3], [10, 5, Fraction(7, 2)]], 4)
    [1, 1]
    """
    cost, loss, _, capacity = _check(costs, losses, capacity)
    relaxation = _Relaxation(cost, loss, capacity)
    incumbent = [hull[k] for hull, k in zip(relaxation.hulls, relaxation.greedy())]
    if relaxation.critical is None:
        return incumbent
    # lambda = gain / step_cost; everything below is multiplied by step_cost.
    gain, step_cost, _, _ = relaxation.critical
    priced = [[step_cost * v + gain * c for c, v in zip(row_cost, row_loss)] for row_cost, row_loss in zip(cost, loss)]
    floors = [min(row[j] for j in frontier) for row, frontier in zip(priced, relaxation.frontiers)]
    bound = sum(floors) - gain * capacity
    limit = FIRST_NODE_LIMIT
    while True:
        incumbent = _fill(cost, loss, relaxation.frontiers, incumbent, capacity)
        gap = step_cost * sum(row[j] for row, j in zip(loss, incumbent)) - bound
        if gap == 0:
            return incumbent
        candidates = [
            [j for j in frontier if row[j] - floor <= gap]
            for row, frontier, floor in zip(priced, relaxation.frontiers, floors)
        ]
        core = [layer for layer, options in enumerate(candidates) if len(options) > 1]
        selection = [options[0] for options in candidates]
        room = capacity - sum(cost[layer][j] for layer, j in enumerate(selection))
        finished, choices = _search(
            [[(cost[q][j], loss[q][j]) for j in candidates[q]] for q in core],
            room,
            [candidates[q].index(incumbent[q]) for q in core],
            limit,
        )
        for q, position in zip(core, choices):
            selection[q] = candidates[q][position]
        if finished:
            return selection
        # The search ran out of nodes: restart from its best selection, with a
        # smaller gap (fewer open choices) and a larger node limit.
        incumbent, limit = selection, limit * NODE_LIMIT_GROWTH


def _fill(
    cost: list[list[int]], loss: list[list[int]], frontiers: list[list[int]], selection: list[int], capacity: int
) -> list[int]:
    """Improve a feasible selection by single-layer moves into the unused capacity, until none helps.

    Each sweep visits the layers in order and moves each to its choice of
    least loss that fits in the room left (ties: the first on the frontier).
    """
    selection = list(selection)
    room = capacity - sum(row[j] for row, j in zip(cost, selection))
    moved = True
    while moved:
        moved = False
        for layer, frontier in enumerate(frontiers):
            row_cost, row_loss, now = cost[layer], loss[layer], selection[layer]
            limit = row_cost[now] + room
            best = now
            for j in frontier:
                if row_cost[j] > limit:
                    break
                if row_loss[j] < row_loss[best]:
                    best = j
            if best != now:
                room -= row_cost[best] - row_cost[now]
                selection[layer] = best
                moved = True
    return selection
