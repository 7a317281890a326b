"""The allocation over a menu of schemes as a multiple-choice knapsack, solved exactly.

Layer ``l`` offers choices ``c`` of integer cost ``costs[l][c] >= 0`` (storage
bits) and exact rational loss ``losses[l][c] >= 0``; exactly one choice per
layer is taken, the total cost may not exceed ``capacity``, and the total loss
is minimized (Sinha & Zoltners 1979; Pisinger 1995).

All arithmetic is in Python integers: the losses are first multiplied by the
least common multiple of their denominators (a positive constant, so the
minimizers do not change). There is no floating point and no tolerance in any
decision; floats only order ratios whose order they provably get right
(:func:`_by_falling_ratio`).

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
   moves into the capacity it leaves unused improve it (:func:`_fill`). Its
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
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from fractions import Fraction
from itertools import accumulate

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
#: A hull step: ``(gain, cost, layer, position)``.
Step = tuple[int, int, int, int]


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
# Per-layer geometry


def _frontier(cost: list[int], loss: list[int]) -> list[int]:
    """Indices of the non-dominated choices, by rising cost and strictly falling loss.

    Of choices of equal cost the lowest loss is kept, of exact duplicates the
    first index.
    """
    kept, lowest = [], None
    for j in sorted(range(len(cost)), key=lambda j: (cost[j], loss[j], j)):
        if lowest is None or loss[j] < lowest:
            kept.append(j)
            lowest = loss[j]
    return kept


def _hull(cost: list[int], loss: list[int], frontier: Iterable[int]) -> list[int]:
    """The frontier's choices on its lower convex hull (collinear middle points dropped)."""
    hull = []
    for j in frontier:
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # b lies on or above the segment from a to j: not a hull vertex.
            if (loss[b] - loss[a]) * (cost[j] - cost[a]) >= (loss[j] - loss[a]) * (cost[b] - cost[a]):
                hull.pop()
            else:
                break
        hull.append(j)
    return hull


def _by_falling_ratio(steps: list[Step]) -> list[Step]:
    """``steps`` (tuples ``(gain, cost, layer, ...)``, ``cost > 0``) by falling ``gain / cost``, ties by the rest.

    Python's ``int / int`` is correctly rounded, and rounding is monotone, so
    sorting by the float ratio already orders any two steps of different float
    ratio exactly; only runs of equal float ratio are re-sorted with exact
    Fractions. Ratios beyond the float range fall back to Fractions throughout.
    """
    try:
        ordered = sorted(steps, key=lambda s: (-(s[0] / s[1]), s[2:]))
    except OverflowError:
        return sorted(steps, key=lambda s: (-Fraction(s[0], s[1]), s[2:]))
    result, start = [], 0
    for end in range(1, len(ordered) + 1):
        if end == len(ordered) or ordered[end][0] / ordered[end][1] != ordered[start][0] / ordered[start][1]:
            run = ordered[start:end]
            if len(run) > 1:
                run.sort(key=lambda s: (-Fraction(s[0], s[1]), s[2:]))
            result += run
            start = end
    return result


class _Relaxation:
    """The LP relaxation solved by the greedy over hull steps (module docstring, step 2).

    Attributes
    ----------
    hulls : list of list of int
        Per layer, the hull's choice indices by rising cost.
    frontiers : list of list of int
        Per layer, the non-dominated choice indices by rising cost.
    steps : list of tuple
        Every hull step ``(gain, cost, layer, position)`` (from hull vertex
        ``position`` to ``position + 1``), by falling ratio.
    taken : list of int
        Per layer, the hull position the relaxation reaches (whole steps).
    room : int
        Capacity left after the whole steps.
    critical : tuple or None
        The first step that does not fit (``None`` when all fit).
    loss : int
        Scaled loss of the whole steps' selection.
    """

    def __init__(self, cost: list[list[int]], loss: list[list[int]], capacity: int):
        self.frontiers = [_frontier(c, v) for c, v in zip(cost, loss)]
        self.hulls = [_hull(c, v, f) for c, v, f in zip(cost, loss, self.frontiers)]
        cheapest = sum(c[h[0]] for c, h in zip(cost, self.hulls))
        if cheapest > capacity:
            raise ValueError(
                f"no selection fits: the cheapest choice of every layer costs {cheapest} in total, "
                f"above the capacity {capacity}"
            )
        self.steps = _by_falling_ratio([
            (v[h[k]] - v[h[k + 1]], c[h[k + 1]] - c[h[k]], layer, k)
            for layer, (c, v, h) in enumerate(zip(cost, loss, self.hulls))
            for k in range(len(h) - 1)
        ])
        self.taken = [0] * len(cost)
        self.room = capacity - cheapest
        self.loss = sum(v[h[0]] for v, h in zip(loss, self.hulls))
        self.critical = None
        for step in self.steps:
            gain, step_cost, layer, _ = step
            if step_cost > self.room:
                self.critical = step
                break
            self.taken[layer] += 1
            self.room -= step_cost
            self.loss -= gain

    def value(self) -> Fraction:
        """The relaxation's optimum, in scaled loss units (a Fraction)."""
        if self.critical is None:
            return Fraction(self.loss)
        gain, cost, _, _ = self.critical
        return self.loss - Fraction(self.room * gain, cost)

    def greedy(self) -> list[int]:
        """Continue past the critical step as :func:`greedy` does; hull positions per layer."""
        taken, room = list(self.taken), self.room
        if self.critical is None:
            return taken
        closed = set()
        for _, step_cost, layer, _ in self.steps[self.steps.index(self.critical):]:
            if layer in closed:
                continue
            if step_cost > room:
                closed.add(layer)
            else:
                taken[layer] += 1
                room -= step_cost
        return taken


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


# ---------------------------------------------------------------------------
# Branch and bound over the core


def _search(
    options: list[list[tuple[int, int]]], room: int, incumbent: list[int], limit: int
) -> tuple[bool, list[int]]:
    """Exact branch and bound over the core layers (module docstring, step 5).

    Parameters
    ----------
    options : list of list of (int, int)
        Per core layer, its ``(cost, scaled loss)`` choices by rising cost and
        strictly falling loss.
    room : int
        Capacity left once every core layer takes its first (cheapest) option.
    incumbent : list of int
        A feasible selection (option positions); kept unless beaten strictly.
    limit : int
        Most nodes to visit.

    Returns
    -------
    finished : bool
        Whether the search ended within ``limit`` nodes.
    list of int
        The best option position per core layer found: optimal when
        ``finished``.
    """
    # Work with extra cost and gain relative to each layer's cheapest option,
    # costs divided by their greatest common divisor.
    unit = math.gcd(*(c - row[0][0] for row in options for c, _ in row[1:])) or 1
    items = [[((c - row[0][0]) // unit, row[0][1] - v) for c, v in row] for row in options]
    room //= unit
    order = sorted(range(len(items)), key=lambda q: (-items[q][-1][0], q))
    bounds = _suffix_relaxations(items, order)

    best_gain = sum(items[q][k][1] for q, k in enumerate(incumbent))
    best = list(incumbent)
    chosen = [0] * len(items)
    stack = [(0, room, 0, None, 0)]
    seen, span = {}, room + 1
    while stack:
        limit -= 1
        if limit < 0:
            return False, best
        depth, room_left, gain, layer, position = stack.pop()
        if layer is not None:
            chosen[layer] = position
        if depth == len(order):
            if gain > best_gain:
                best_gain, best = gain, list(chosen)
            continue
        # Nodes met so far, by depth and room: the most gain that reached them.
        key = depth * span + room_left
        if seen.get(key, -1) >= gain:
            continue
        seen[key] = gain
        if not _may_beat(bounds[depth], room_left, gain, best_gain):
            continue
        q = order[depth]
        # Preferred child last (popped first): the most expensive option that fits.
        stack += [
            (depth + 1, room_left - extra, gain + value, q, k)
            for k, (extra, value) in enumerate(items[q])
            if extra <= room_left
        ]
    return True, best


def _suffix_relaxations(items: list[list[tuple[int, int]]], order: list[int]) -> list[tuple[list[int], list[int]]]:
    """Per depth, prefix sums of the hull steps of the layers from that depth on, by falling ratio."""
    steps = []
    for q, row in enumerate(items):
        cost, loss = [c for c, _ in row], [-g for _, g in row]
        hull = _hull(cost, loss, range(len(row)))
        steps += [
            (row[b][1] - row[a][1], row[b][0] - row[a][0], q, k)
            for k, (a, b) in enumerate(zip(hull, hull[1:]))
        ]
    rank = {(q, k): i for i, (_, _, q, k) in enumerate(_by_falling_ratio(steps))}
    by_layer = [[] for _ in items]
    for gain, cost, q, k in steps:
        by_layer[q].append((rank[q, k], cost, gain))
    ranks, costs, gains = [], [], []
    bounds = [([0], [0])]
    for q in reversed(order):
        for r, cost, gain in by_layer[q]:
            i = bisect_right(ranks, r)
            ranks.insert(i, r)
            costs.insert(i, cost)
            gains.insert(i, gain)
        bounds.append((list(accumulate(costs, initial=0)), list(accumulate(gains, initial=0))))
    return bounds[::-1]


def _may_beat(bound: tuple[list[int], list[int]], room: int, gain: int, best_gain: int) -> bool:
    """Whether the LP relaxation of the open layers, with ``room``, allows a gain above ``best_gain``."""
    cost_sum, gain_sum = bound
    end = bisect_right(cost_sum, room) - 1
    whole = gain + gain_sum[end]
    if end == len(cost_sum) - 1:
        return whole > best_gain
    step_cost = cost_sum[end + 1] - cost_sum[end]
    step_gain = gain_sum[end + 1] - gain_sum[end]
    # Integer gains: beating best_gain means reaching best_gain + 1.
    return whole * step_cost + (room - cost_sum[end]) * step_gain >= (best_gain + 1) * step_cost
