"""Planning at multi-level cells uses each plane's own law, not one nominal rate (issue 16).

The variances the allocation weighs (:func:`qtaml_theory.allocation.residual_variance`) at a
:class:`MultiLevelChannel` are held against the uncoded law written from its definition: every cell of a code
lands on every level.
"""

import itertools

import numpy as np
import pytest

from qtaml_theory.allocation import allocate_protection, residual_variance
from qtaml_theory.channels import MultiLevelChannel, SymmetricChannel
from qtaml_theory.encodings import get_encoding
from qtaml_theory.protection import SECDED, IdealMSB, Unprotected, independent_planes

N_BITS = 4
#: One-step and two-step charge loss, faster from fuller levels (the retention model's shape).
TRANSITION = [[1, 0, 0, 0], [0.02, 0.98, 0, 0], [0.01, 0.03, 0.96, 0], [0, 0.01, 0.05, 0.94]]


def _definition_variance(cells, k, encoding="twos_complement"):
    """Mean over all codes of Var[w_hat - w]: every landing of the code's cells, the top k bits kept."""
    enc = get_encoding(encoding, N_BITS)
    table = np.array(cells.transition, dtype=float)
    read = np.array(cells.read_values)
    variances = []
    for code in range(1 << N_BITS):
        levels = [cells.level_of_value[(code >> (2 * c)) & 3] for c in range(N_BITS // 2)]
        mean = square = 0.0
        for landed in itertools.product(range(4), repeat=len(levels)):
            probability = np.prod([table[level, to] for level, to in zip(levels, landed)])
            mask = sum((read[to] ^ read[level]) << (2 * c) for c, (level, to) in enumerate(zip(levels, landed)))
            mask &= (1 << (N_BITS - k)) - 1  # the top k bits never flip
            error = float(enc.decode(code ^ mask)) - float(enc.decode(code))
            mean += probability * error
            square += probability * error**2
        variances.append(square - mean**2)
    return float(np.mean(variances))


@pytest.mark.parametrize("level_map", ["gray", "binary"])
@pytest.mark.parametrize("k", [0, 1, 2])
def test_uncoded_variances_at_cells_are_the_exact_law(level_map, k):
    cells = MultiLevelChannel(2, TRANSITION, level_map)
    scheme = Unprotected() if k == 0 else IdealMSB(k)
    assert residual_variance(scheme, cells, N_BITS, "twos_complement") == pytest.approx(
        _definition_variance(cells, k), rel=1e-12)


def test_the_plan_sees_the_level_map_and_each_plane():
    """Gray and binary cells of the same transitions weigh the same scheme differently; one nominal rate cannot."""
    gray, binary = (MultiLevelChannel(2, TRANSITION, m) for m in ("gray", "binary"))
    v_gray, v_binary = (residual_variance(IdealMSB(1), c, N_BITS, "twos_complement") for c in (gray, binary))
    assert v_gray != pytest.approx(v_binary, rel=0.02)
    rates = independent_planes(gray, N_BITS).rates
    assert rates[0] != rates[1]  # per-plane rates differ within a cell
    nominal = SymmetricChannel(float(np.mean(rates)))
    assert residual_variance(IdealMSB(1), nominal, N_BITS, "twos_complement") != pytest.approx(v_gray, rel=0.05)


def test_allocation_at_cells_weighs_the_exact_variances():
    cells = MultiLevelChannel(2, TRANSITION, "binary")
    sizes, scores = [100, 10], [1.0, 30.0]
    result = allocate_protection(sizes, scores, "ideal_msb", 200, N_BITS, cells, encoding="twos_complement")
    expected = sum(size * score * residual_variance(scheme, cells, N_BITS, "twos_complement")
                   for size, score, scheme in zip(sizes, scores, result.protection))
    assert result.objective == pytest.approx(expected, rel=1e-12)
    coded = allocate_protection(sizes, scores, [Unprotected(), SECDED(2, 8)], 400, N_BITS, cells,
                                encoding="twos_complement")  # codes over cells: their planes' own rates
    assert coded.protection[1] == SECDED(2, 8)
