"""Per-layer geometry and the LP relaxation of the multiple-choice knapsack (paper Section 4.6, issue 11).

Steps 1 and 2 of :mod:`qtaml_theory._choice_knapsack`: each layer's
non-dominated choices (its *frontier*), their lower convex hull, the hull
steps ordered exactly by falling loss decrease per unit of cost, and the
greedy over those steps that solves the LP relaxation (Sinha & Zoltners
1979, Thm 1). All arithmetic is in Python integers and Fractions.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

__all__: list[str] = []

#: A hull step: ``(gain, cost, layer, position)``.
Step = tuple[int, int, int, int]



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
    """The LP relaxation solved by the greedy over hull steps (:mod:`qtaml_theory._choice_knapsack`, step 2).

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
