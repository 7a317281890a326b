"""Branch and bound over the open layers of the multiple-choice knapsack (paper Section 4.6, issue 11).

Step 5 of :mod:`qtaml_theory._choice_knapsack`: a depth-first search over
the layers that reduced-cost fixing left open, pruned by the exact LP
relaxation of the layers below each node and by repeated (depth, room)
states, within a node limit. Integer arithmetic throughout.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from itertools import accumulate

from ._knapsack_relaxation import _by_falling_ratio, _hull

__all__: list[str] = []



def _search(
    options: list[list[tuple[int, int]]], room: int, incumbent: list[int], limit: int
) -> tuple[bool, list[int]]:
    """Exact branch and bound over the core layers (:mod:`qtaml_theory._choice_knapsack`, step 5).

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
