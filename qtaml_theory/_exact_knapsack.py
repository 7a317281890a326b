"""The integer allocation as a knapsack over chains of bits, solved exactly in integer arithmetic.

Layer ``l`` offers a chain of items, its next protected bits: each costs
``w_l`` (the layer's size over the common divisor of the sizes) and item
``j`` gains ``w_l r_{l,j}``, where the gain per unit of cost ``r_{l,j}`` is a
non-negative integer that falls strictly along a chain of positive score (by
a factor of 4, Thm 4.4). Because the ratios fall, every optimum of the 0-1
knapsack over all items takes a prefix of each chain, so the 0-1 optimum is
the optimal allocation.

:func:`optimum` proves its answer by construction, in Python integers, with no
floating point and no tolerance anywhere:

1. the LP relaxation (Dantzig's bound) gives an integer upper bound ``UB`` and
   the critical ratio ``lambda``; the greedy gives a feasible lower bound ``LB``;
2. reduced-cost fixing: an item whose reduced cost ``w (r - lambda)`` exceeds
   ``UB - LB`` is in every optimum, one below ``-(UB - LB)`` in none (LP
   duality: any allocation is worth at most ``UB`` minus the reduced costs it
   forgoes), so only the remaining core is searched;
3. the core is solved by depth-first branch and bound over the layers, each
   node bounded by the exact LP relaxation of the layers still open; a node
   is dropped only when that bound cannot beat the best allocation found, so
   what is left when the search ends is optimal. Two layer orders run as a
   portfolio with a growing node limit (:func:`_solve_core`); the worst case
   of any exact knapsack method is exponential, but no instance we tried
   (random, equal scores, powers of 4, 500 layers) took more than seconds.

Ties (allocations of exactly equal objective) go to the first optimum the
search meets: deterministic, the same input always gives the same allocation.
"""

from __future__ import annotations

from bisect import bisect_right, insort

#: Nodes of the first branch-and-bound run of each order (then 4 times more per round).
FIRST_NODE_LIMIT = 20_000

__all__ = ["greedy", "optimum"]


def greedy(weights, ratios, capacity):
    """Algorithm 1 Step 2: give the next bit to the layer of largest gain per bit.

    Items go in order of falling ratio (ties to the lower layer, then the
    lower bit); a layer whose next item no longer fits is set aside for good
    (the remaining capacity only falls). Zero-ratio items are taken too while
    they fit, as the paper's loop does.

    Parameters
    ----------
    weights : list of int
        Positive cost of each of a layer's items.
    ratios : list of list of int
        Per layer, the falling gains per unit cost of its next items.
    capacity : int

    Returns
    -------
    list of int
        Items taken per layer.
    """
    order = sorted((-r, layer, j) for layer, chain in enumerate(ratios) for j, r in enumerate(chain))
    counts = [0] * len(weights)
    open_ = [True] * len(weights)
    for _, layer, _ in order:
        if not open_[layer]:
            continue
        if weights[layer] <= capacity:
            counts[layer] += 1
            capacity -= weights[layer]
        else:
            open_[layer] = False
    return counts


def _value(weights, ratios, counts):
    return sum(w * sum(chain[:c]) for w, chain, c in zip(weights, ratios, counts))


def optimum(weights, ratios, capacity):
    """The allocation of largest gain within ``capacity``, proven optimal (module docstring).

    Items of zero ratio are never taken (they gain nothing and cost bits).

    Parameters
    ----------
    weights : list of int
        Positive cost of each of a layer's items.
    ratios : list of list of int
        Per layer, the strictly falling (where positive) gains per unit cost.
    capacity : int
        Non-negative.

    Returns
    -------
    list of int
        Items taken per layer.
    """
    ratios = [[r for r in chain if r > 0] if w <= capacity else [] for w, chain in zip(weights, ratios)]
    order = sorted((-r, layer, j) for layer, chain in enumerate(ratios) for j, r in enumerate(chain))
    spent, upper, critical = 0, 0, None
    for negative, layer, _ in order:
        if spent + weights[layer] > capacity:
            critical = -negative
            break
        spent += weights[layer]
        upper += weights[layer] * -negative
    if critical is None:
        return [len(chain) for chain in ratios]
    upper += (capacity - spent) * critical
    fixed, core = _fix(weights, ratios, critical, upper - _value(weights, ratios, greedy(weights, ratios, capacity)))
    room = capacity - sum(w * f for w, f in zip(weights, fixed))
    members = [layer for layer, chain in enumerate(core) if chain and weights[layer] <= room]
    if members:
        taken = _solve_core([weights[m] for m in members], [core[m] for m in members], room)
        for layer, count in zip(members, taken):
            fixed[layer] += count
    return fixed


def _fix(weights, ratios, critical, gap):
    """Reduced-cost fixing: per layer, the items in every optimum (a count) and the undecided rest."""
    fixed, core = [0] * len(weights), [[] for _ in weights]
    for layer, chain in enumerate(ratios):
        for r in chain:
            reduced = weights[layer] * (r - critical)
            if reduced > gap:
                fixed[layer] += 1
            elif reduced >= -gap:
                core[layer].append(r)
    return fixed, core


def _solve_core(weights, ratios, capacity):
    """Exact core by branch and bound, run as a portfolio of two layer orders with a growing node limit.

    Falling value per cost first suits uncorrelated layers; heaviest first suits
    near-equal ratios (subset-sum-like cores). Each run starts from the best
    allocation found so far; the first run that finishes has proven it optimal.
    """
    values = [[w * r for r in chain] for w, chain in zip(weights, ratios)]
    orders = [sorted(range(len(weights)), key=key) for key in (
        lambda q: (_Reverse(_Ratio(values[q][0], weights[q])), -weights[q], q),
        lambda q: (-weights[q], q),
    )]
    best, limit = (-1, None), FIRST_NODE_LIMIT
    while True:
        for layers in orders:
            finished, best = _branch_and_bound(weights, values, capacity, layers, best, limit)
            if finished:
                return best[1]
        limit *= 4


def _branch_and_bound(weights, values, capacity, layers, best, limit):
    """Depth-first search over the layers in the given order, choosing each layer's count of items.

    At depth ``d`` the layers still open are a fixed suffix, so the LP bound of
    what remains (Dantzig's, over their items in order of falling value per
    cost) comes from prefix sums prepared once per depth. A node is dropped
    only when no integer completion can beat the incumbent, so the search is
    exact whatever the order. Ties keep the first optimum met (more items are
    tried first). Returns ``(finished, (value, counts))``; ``finished`` is
    False when ``limit`` nodes were visited before the search ended (the best
    allocation so far comes back for the next run).
    """
    suffixes, items = [], []
    for q in reversed(layers):
        for value in values[q]:
            insort(items, (_Ratio(value, weights[q]), weights[q], value), key=lambda item: _Reverse(item[0]))
        cost_sum, gain_sum = [0], [0]
        for _, cost, value in items:
            cost_sum.append(cost_sum[-1] + cost)
            gain_sum.append(gain_sum[-1] + value)
        suffixes.append((cost_sum, gain_sum, [cost for _, cost, _ in items], [value for _, _, value in items]))
    suffixes = suffixes[::-1] + [([0], [0], [], [])]

    def promising(depth, room, value):
        cost_sum, gain_sum, cost, gain = suffixes[depth]
        end = bisect_right(cost_sum, room) - 1
        whole = value + gain_sum[end]
        if end == len(cost):
            return whole > best[0]
        rest = room - cost_sum[end]
        return whole * cost[end] + rest * gain[end] >= (best[0] + 1) * cost[end]

    best = list(best)
    chosen = [0] * len(weights)
    stack = [(0, capacity, 0, None, 0)]
    while stack:
        limit -= 1
        if limit < 0:
            return False, tuple(best)
        depth, room, value, layer, count = stack.pop()
        if layer is not None:
            chosen[layer] = count
        if depth == len(layers):
            if value > best[0]:
                best = [value, list(chosen)]
            continue
        if not promising(depth, room, value):
            continue
        q = layers[depth]
        children, total = [], 0
        for count in range(len(values[q]) + 1):
            if count:
                total += values[q][count - 1]
            if count * weights[q] > room:
                break
            children.append((depth + 1, room - count * weights[q], value + total, q, count))
        stack += children
    return True, tuple(best)


class _Reverse:
    """Reverses the order of a key (for :func:`bisect.insort`, which sorts ascending)."""

    __slots__ = ("key",)

    def __init__(self, key):
        self.key = key

    def __lt__(self, other):
        return other.key < self.key


class _Ratio:
    """``value / cost`` compared exactly by cross-multiplication (a lighter Fraction for sorting)."""

    __slots__ = ("value", "cost")

    def __init__(self, value, cost):
        self.value, self.cost = value, cost

    def __lt__(self, other):
        return self.value * other.cost < other.value * self.cost

