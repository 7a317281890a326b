"""The law of a real code over multi-level cells (qtaml_theory.protection.cell_code_law; issue 16).

Held against a brute force written from the definition (every cell of the
memory lands on every level; the real encoder and decoder; the failure
policy) and, by Monte Carlo, against the bit-exact injection of
:mod:`qtaml_tac.cell_codes`.
"""

import itertools

import numpy as np
import pytest

from qtaml_tac.cell_codes import cell_coded_flips
from qtaml_theory.channels import MultiLevelChannel
from qtaml_theory.ecc.linear import DETECTED
from qtaml_theory.encodings import get_encoding
from qtaml_theory.protection import BCH, SECDED, IdealMSB, Repetition
from qtaml_theory.protection.cell_code_law import cell_code_law, uniform_cell_code_law


def _transition(levels, seed, scale=0.1):
    """A dense row-stochastic matrix: every level may land anywhere (the hardest case for the layout)."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(0, scale, (levels, levels))
    np.fill_diagonal(t, 0)
    np.fill_diagonal(t, 1 - t.sum(axis=1))
    return t


def _cumulants(raw):
    m1, m2, m3, m4 = raw
    return np.stack([m1, m2 - m1**2, m3 - 3 * m2 * m1 + 2 * m1**3,
                     m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4])


def _brute_force(encoding, codes, cells, scheme):
    """The definition: stored bits laid out as qtaml_tac.cell_codes lays them out; every joint landing enumerated."""
    n, b, size = encoding.n_bits, cells.bits_per_cell, codes.size
    top = n - scheme.k
    if isinstance(scheme, Repetition):
        stream = np.tile(((codes[:, None] >> np.arange(top, n)) & 1).ravel(), scheme.copies - 1)
    else:
        code = scheme.code
        words = -(-size // code.data_bits)
        data = np.zeros((scheme.k, words * code.data_bits), dtype=np.uint8)
        data[:, :size] = (codes[None, :] >> np.arange(top, n)[:, None]) & 1
        stream = code.encode(data.reshape(-1, code.data_bits))[:, code.data_bits:].ravel().astype(np.int64)
    padded = np.zeros(-(-stream.size // b) * b, dtype=np.int64)
    padded[:stream.size] = stream
    values = np.concatenate([((codes[:, None] >> (np.arange(n // b) * b)) & ((1 << b) - 1)).ravel(),
                             padded.reshape(-1, b) @ (1 << np.arange(b))])
    level = np.array(cells.level_of_value)[values]
    table = np.array(cells.transition, dtype=float)
    read_values = np.array(cells.read_values)
    stored = np.asarray(encoding.decode(codes), dtype=float)
    landed = np.array(list(itertools.product(range(cells.levels), repeat=values.size)))  # every joint landing
    probability = np.prod(table[level, landed], axis=1)
    flips = (((read_values[landed] ^ read_values[level])[..., None] >> np.arange(b)) & 1).reshape(len(landed), -1)
    data_flips, extra_flips = flips[:, :size * n].reshape(-1, size, n), flips[:, size * n:]
    read = codes ^ (data_flips @ (1 << np.arange(n)))
    zeroed = np.zeros(read.shape, dtype=bool)
    for q, j in enumerate(range(top, n)):
        truth = (codes >> j) & 1
        if isinstance(scheme, Repetition):
            votes = data_flips[..., j] + sum(extra_flips[:, (c * size + np.arange(size)) * scheme.k + q]
                                             for c in range(scheme.copies - 1))
            bit = truth ^ (votes > scheme.copies // 2)
        else:
            code = scheme.code
            bit = np.zeros(read.shape, dtype=np.int64)
            for w in range(words):
                index = np.arange(w * code.data_bits, min(size, (w + 1) * code.data_bits))
                word = np.zeros(code.data_bits, dtype=np.uint8)
                word[:index.size] = truth[index]
                received = np.repeat(code.encode(word[None]), len(landed), axis=0)
                received[:, :index.size] ^= data_flips[:, index, j].astype(np.uint8)
                checks = (q * words + w) * code.check_bits + np.arange(code.check_bits)
                received[:, code.data_bits:] ^= extra_flips[:, checks].astype(np.uint8)
                decoded, status = code.decode(received)
                bit[:, index] = decoded[:, :index.size]
                zeroed[:, index] |= (scheme.on_failure == "zero") & (status == DETECTED)[:, None]
        read = (read & ~(1 << j)) | (bit << j)
    error = np.where(zeroed, -stored, np.asarray(encoding.decode(read), dtype=float) - stored)
    raw = np.einsum("o,ros->rs", probability, error[None] ** np.arange(1, 5)[:, None, None])
    return _cumulants(raw)


CASES = [  # (scheme, n_bits, bits per cell, level map, weights): at most 6 cells in all
    (SECDED(1, 2), 2, 2, "binary", 2),
    (SECDED(1, 2, on_failure="zero"), 2, 2, "gray", 3),
    (BCH(1, 2, 2), 2, 2, "binary", 2),
    (Repetition(1), 2, 2, "gray", 2),
    (Repetition(2), 3, 3, "binary", 2),
]


@pytest.mark.parametrize("scheme, n_bits, width, level_map, size", CASES)
def test_exact_law_matches_brute_force(scheme, n_bits, width, level_map, size):
    encoding = get_encoding("twos_complement", n_bits)
    cells = MultiLevelChannel(width, _transition(1 << width, size), level_map)
    codes = np.random.default_rng(size + n_bits).integers(0, 1 << n_bits, size)
    law = cell_code_law(encoding, codes, cells, scheme, delta=1.0, moved_cells=8)
    assert np.all(law.bound == 0)
    np.testing.assert_allclose(law.cumulants, _brute_force(encoding, codes, cells, scheme), rtol=1e-10, atol=1e-12)


def test_truncated_law_within_its_bound():
    """J = 1 of the SEC-DED case: each raw moment within bound * max|x|**r of the exact one."""
    encoding = get_encoding("twos_complement", 2)
    cells = MultiLevelChannel(2, _transition(4, 7, 0.02), "binary")
    codes = np.array([1, 2])
    exact = cell_code_law(encoding, codes, cells, SECDED(1, 2), moved_cells=8)
    truncated = cell_code_law(encoding, codes, cells, SECDED(1, 2), moved_cells=1)
    assert np.all(truncated.bound > 0)
    m2_exact = exact.var + exact.mean**2
    m2_truncated = truncated.var + truncated.mean**2
    largest = 3.0  # |x| <= 3 for 2-bit two's complement (-2..1)
    assert np.all(np.abs(m2_exact - m2_truncated) <= truncated.bound * largest**2)
    assert np.any(np.abs(m2_exact - m2_truncated) > 0)  # the truncation is visible, the bound not vacuous here


def _charge_loss(levels, q):
    t = np.zeros((levels, levels))
    for level in range(levels):
        t[level, level] = 1 - q * level
        if level:
            t[level, level - 1] = 0.8 * q * level
            t[level, max(level - 2, 0)] += 0.2 * q * level
    return t


@pytest.mark.parametrize("scheme, level_map, q", [(Repetition(2), "binary", 0.01), (SECDED(4, 16), "gray", 0.004)])
def test_law_matches_bit_exact_injection(scheme, level_map, q):
    """Mean squared error of a layer: the law against cell_coded_flips by Monte Carlo.

    Tolerance 4 standard errors of the trial mean (plus the law's bound times max x**2, negligible here): false
    alarms about 6e-5 (normal tail). Power: a planted bug (the extra cells' stored levels one off) fails it; the
    exact comparisons above catch what a Monte Carlo of this size cannot (e.g. the zero policy ignored).
    """
    encoding = get_encoding("twos_complement", 8)
    cells = MultiLevelChannel(2, _charge_loss(4, q), level_map)
    rng = np.random.default_rng(3)
    codes = np.clip(np.round(rng.normal(0, 20, 64)), -128, 127).astype(np.int64) % 256
    law = cell_code_law(encoding, codes, cells, scheme, moved_cells=3)
    predicted = float(np.mean(law.var + law.mean**2))
    stored = np.asarray(encoding.decode(codes), dtype=float)
    draws, cache, squares = np.random.default_rng(5), {}, []
    for _ in range(1500):
        positions, values, zeroed = cell_coded_flips(codes, 8, scheme, cells, draws, cache)
        read = codes.copy()
        read[positions] ^= values
        error = np.asarray(encoding.decode(read), dtype=float) - stored
        error[zeroed] = -stored[zeroed]
        squares.append(np.mean(error**2))
    squares = np.array(squares)
    tolerance = 4 * squares.std() / np.sqrt(squares.size) + law.bound.max() * 128**2 * 1e-3
    assert abs(squares.mean() - predicted) <= tolerance, (squares.mean(), predicted, tolerance)


def test_uniform_entry_point_is_the_law_of_its_draw():
    encoding = get_encoding("twos_complement", 4)
    cells = MultiLevelChannel(2, _charge_loss(4, 0.01), "gray")
    uniform = uniform_cell_code_law(encoding, cells, Repetition(2), size=16, seed=4, moved_cells=2)
    codes = np.random.default_rng(4).integers(0, 16, 16)
    expected = cell_code_law(encoding, codes, cells, Repetition(2), moved_cells=2)
    np.testing.assert_array_equal(uniform.cumulants, expected.cumulants)


def test_uncoded_schemes_give_the_exact_uncoded_law():
    from qtaml_theory.law import error_cumulants

    encoding = get_encoding("twos_complement", 4)
    cells = MultiLevelChannel(2, _charge_loss(4, 0.01), "binary")
    codes = np.arange(16)
    law = cell_code_law(encoding, codes, cells, IdealMSB(2))
    np.testing.assert_array_equal(law.cumulants, error_cumulants(encoding, codes, cells, protection=IdealMSB(2)))


def test_bad_input():
    encoding = get_encoding("twos_complement", 4)
    cells = MultiLevelChannel(2, _charge_loss(4, 0.01), "gray")
    with pytest.raises(ValueError, match="channel must be a MultiLevelChannel"):
        cell_code_law(encoding, [1, 2], 0.1, SECDED(2, 8))
    with pytest.raises(ValueError, match="encoding must be linear"):
        cell_code_law(get_encoding("sign_magnitude", 4), [1, 2], cells, SECDED(2, 8))
    with pytest.raises(ValueError, match="moved_cells"):
        cell_code_law(encoding, [1, 2], cells, SECDED(2, 8), moved_cells=9)
    with pytest.raises(ValueError, match="T\\[L\\]\\[L\\] > 0"):
        cell_code_law(encoding, [1, 2], MultiLevelChannel(1, [[0, 1], [0.5, 0.5]]), SECDED(2, 8))
    with pytest.raises(ValueError, match="k must be"):
        cell_code_law(encoding, [1, 2], cells, SECDED(5, 8))
