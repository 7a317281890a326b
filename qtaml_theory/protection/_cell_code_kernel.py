"""The enumeration loop of :mod:`qtaml_theory.protection.cell_code_law`: patterns of at most ``J`` moved cells.

Private. One function, :func:`accumulate`, compiled by numba when it is
installed (else run as Python: the same code, slower). For every block (the
cells a group of weights' codewords touch) it visits each pattern of at most
``J`` cells that leave their level, in lexicographic order of (cell, landed
level), decodes the block's words as the memory's decoder does, and adds the
pattern's probability times each weight's error to the weight's raw moments.
"""

from __future__ import annotations

import numpy as np

#: Slot kinds of a block's cell bit: ignored (padding, or a word of another block), a bit of one of the
#: block's codewords, a data bit of an unprotected plane of one of the block's weights.
IGNORED, WORD, DIRECT = 0, 1, 2


def _evaluate(events, count, probability, entry_of, masks, slot_type, slot_a, slot_b, width, columns, status,
              corrections, data_bits, detected, zero, top, weight_start, weights, amplitudes, syndromes, errors,
              flip_q, flip_p, cancelled, touched_words, touched_weights, marked, moments, zeroed):
    """Decode one pattern of ``count`` events and add its probability times the weights' errors."""
    n_words = 0
    n_weights = 0
    n_flips = 0
    for index in range(count):
        event = events[index]
        entry = entry_of[event]
        mask = masks[event]
        for r in range(width):
            if (mask >> r) & 1 == 0:
                continue
            kind = slot_type[entry, r]
            if kind == WORD:
                q = slot_a[entry, r]
                position = slot_b[entry, r]
                if syndromes[q] == 0:
                    touched_words[n_words] = q
                    n_words += 1
                syndromes[q] ^= columns[position]  # a word listed twice decodes its zero syndrome: nothing
                if position < data_bits:
                    flip_q[n_flips] = q
                    flip_p[n_flips] = position
                    cancelled[n_flips] = False
                    n_flips += 1
            elif kind == DIRECT:
                local = slot_a[entry, r]
                if not marked[local]:
                    marked[local] = True
                    touched_weights[n_weights] = local
                    n_weights += 1
                errors[local] += amplitudes[weight_start + local, slot_b[entry, r]]
    failed = False
    for w in range(n_words):
        q = touched_words[w]
        syndrome = syndromes[q]
        syndromes[q] = 0
        if status[syndrome] == detected:
            failed = True
        for c in range(corrections.shape[1]):
            position = corrections[syndrome, c]
            if position < 0 or position >= data_bits:
                continue
            found = False
            for f in range(n_flips):
                if flip_q[f] == q and flip_p[f] == position and not cancelled[f]:
                    cancelled[f] = True
                    found = True
                    break
            if not found:
                flip_q[n_flips] = q
                flip_p[n_flips] = position
                cancelled[n_flips] = False
                n_flips += 1
    for f in range(n_flips):
        position = flip_p[f]
        if cancelled[f] or position >= weights:
            continue
        if not marked[position]:
            marked[position] = True
            touched_weights[n_weights] = position
            n_weights += 1
        errors[position] += amplitudes[weight_start + position, top + flip_q[f]]
    if zero and failed:
        for local in range(weights):
            zeroed[weight_start + local] += probability
    else:
        for w in range(n_weights):
            x = errors[touched_weights[w]]
            power = probability
            for r in range(4):
                power *= x
                moments[weight_start + touched_weights[w], r] += power
    for w in range(n_weights):
        errors[touched_weights[w]] = 0.0
        marked[touched_weights[w]] = False


def accumulate(block_entries, entry_events, entry_of, ratios, masks, block_stay, slot_type, slot_a, slot_b, width,
               columns, status, corrections, data_bits, detected, zero, top, weight_start, block_weights, amplitudes,
               limit, moments, zeroed):
    """Raw moments ``E[X**r; not zeroed]`` (``r = 1..4``) and ``P(zeroed)`` of every weight, patterns of <= ``limit``.

    ``block_entries`` (CSR over blocks) and ``entry_events`` (CSR over a
    block's cell entries) index the events; ``block_stay[b]`` is the
    probability that no cell of block ``b`` moves; an event's probability
    ratio (landed over stayed) multiplies it.
    """
    blocks = block_entries.size - 1
    words = slot_a.max() + 1 if slot_a.size else 1
    syndromes = np.zeros(max(words, 1), dtype=np.int64)
    most = int(block_weights.max()) if block_weights.size else 1
    errors = np.zeros(max(most, 1), dtype=np.float64)
    capacity = limit * width + corrections.shape[1] * (words + limit * width) + 1
    flip_q = np.zeros(capacity, dtype=np.int64)
    flip_p = np.zeros(capacity, dtype=np.int64)
    cancelled = np.zeros(capacity, dtype=np.bool_)
    touched_words = np.zeros(words + limit * width + 1, dtype=np.int64)
    touched_weights = np.zeros(max(most, 1), dtype=np.int64)
    marked = np.zeros(max(most, 1), dtype=np.bool_)
    stack = np.zeros(max(limit, 1), dtype=np.int64)
    cursor = np.zeros(max(limit, 1), dtype=np.int64)
    probabilities = np.zeros(max(limit, 1) + 1, dtype=np.float64)
    for block in range(blocks):
        if limit == 0:
            continue
        first_entry = block_entries[block]
        last_entry = block_entries[block + 1]
        start = entry_events[first_entry]
        stop = entry_events[last_entry]
        if start == stop:
            continue
        probabilities[0] = block_stay[block]
        depth = 0
        cursor[0] = start
        while True:
            if cursor[depth] < stop:
                event = cursor[depth]
                stack[depth] = event
                probabilities[depth + 1] = probabilities[depth] * ratios[event]
                _evaluate(stack, depth + 1, probabilities[depth + 1], entry_of, masks, slot_type, slot_a, slot_b,
                          width, columns, status, corrections, data_bits, detected, zero, top,
                          weight_start[block], block_weights[block], amplitudes, syndromes, errors, flip_q, flip_p,
                          cancelled, touched_words, touched_weights, marked, moments, zeroed)
                following = entry_events[entry_of[event] + 1]
                if depth + 1 < limit and following < stop:
                    depth += 1
                    cursor[depth] = following
                    continue
                cursor[depth] += 1
            else:
                if depth == 0:
                    break
                depth -= 1
                cursor[depth] += 1


try:  # compiled when numba is installed; the same code runs as Python otherwise
    import numba

    _evaluate = numba.njit(cache=True)(_evaluate)
    accumulate = numba.njit(cache=True)(accumulate)
except ImportError:  # pragma: no cover - numba is a declared dependency of the compiled routes
    pass
