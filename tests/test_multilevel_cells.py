"""Multi-level cells (issue 16; paper, conclusion): the law of a weight stored in cells of b bits.

The reference is a brute-force enumeration written from the issue's convention alone (cell j holds code bits
j*b .. j*b + b - 1; level L reads as L or L ^ (L >> 1); transition[i][j] is the probability of level i to j),
never from the package's code. Exact Fractions: formula and enumeration routes must equal it exactly.
"""

import itertools
import math
from fractions import Fraction

import numpy as np
import pytest

import qtaml_theory._multilevel as multilevel
from qtaml_theory import WeightError, error_cumulants, get_encoding
from qtaml_theory.channels import MultiLevelChannel, SymmetricChannel, level_noise_transition
from qtaml_theory.compensation import mean_correction_factor
from qtaml_theory.law import sample_errors
from qtaml_theory.protection import IdealMSB

ENCODINGS = ("offset_binary", "offset_binary_symmetric", "twos_complement", "sign_magnitude")
N_BITS = 6
CODES = (0, 13, 37, 63)
LOSS = (Fraction(0), Fraction(1, 7), Fraction(1, 5), Fraction(2, 9), Fraction(1, 4), Fraction(1, 3),
        Fraction(3, 10), Fraction(2, 5))
#: Monte Carlo: |estimate - truth| <= Z * standard error. Two-sided false-alarm rate 2 (1 - Phi(4.5)) = 6.8e-6
#: per comparison (about 1e-4 over the whole file); the planted bugs below shift the mean by more than
#: 2 Z standard errors, so each is caught with probability above 1 - 6.8e-6 (power).
Z = 4.5
DRAWS = 100_000


def one_step_loss(bits):
    """Level L falls to L - 1 with LOSS[L] (a non-symmetric, non-linear choice of rates)."""
    levels = 1 << bits
    return [[LOSS[i] if j == i - 1 else (1 - LOSS[i] if j == i else Fraction(0)) for j in range(levels)]
            for i in range(levels)]


def transitions(bits):
    spread = [[Fraction(1 + (3 * i + 5 * j) % 7) for j in range(1 << bits)] for i in range(1 << bits)]
    general = [[x / sum(row) for x in row] for row in spread]
    return {"loss": one_step_loss(bits), "noise": level_noise_transition(bits, Fraction(1, 6)), "dense": general}


def brute_force(encoding, code, bits, transition, level_map, protected=0):
    """Exact law of w_hat - w from the convention: every landing level of every cell, multiplied out."""
    read = (lambda level: level ^ (level >> 1)) if level_map == "gray" else (lambda level: level)
    level_of = {read(level): level for level in range(1 << bits)}
    guarded = ((1 << protected) - 1) << (encoding.n - protected)
    law = {}
    for landing in itertools.product(range(1 << bits), repeat=encoding.n // bits):
        probability, readback = Fraction(1), 0
        for cell, level in enumerate(landing):
            stored = level_of[(code >> (cell * bits)) & ((1 << bits) - 1)]
            probability *= transition[stored][level]
            readback |= read(level) << (cell * bits)
        readback = (readback & ~guarded) | (code & guarded)
        error = encoding.decode(readback) - encoding.decode(code)
        law[error] = law.get(error, 0) + probability
    return {value: weight for value, weight in sorted(law.items()) if weight}


def cumulants_of(law):
    mean = sum(v * w for v, w in law.items())
    c2, c3, c4 = (sum(w * (v - mean) ** j for v, w in law.items()) for j in (2, 3, 4))
    return (mean, c2, c3, c4 - 3 * c2**2)


def agrees_with_brute_force(name, bits, level_map, kind, protected=0):
    encoding = get_encoding(name, N_BITS)
    transition = transitions(bits)[kind]
    channel = MultiLevelChannel(bits, transition, level_map=level_map)
    protection = IdealMSB(protected) if protected else None
    for code in CODES:
        law = brute_force(encoding, code, bits, transition, level_map, protected)
        truth = cumulants_of(law)
        weight = WeightError(encoding, code, channel, protection=protection)
        if weight.cumulants("formula") != truth or weight.cumulants("enumeration") != truth:
            return False
        if weight.pmf() != law:
            return False
    return True


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("bits", (2, 3))
@pytest.mark.parametrize("level_map", ("gray", "binary"))
@pytest.mark.parametrize("kind", ("loss", "noise", "dense"))
def test_formula_and_enumeration_equal_the_brute_force_law_exactly(name, bits, level_map, kind):
    assert agrees_with_brute_force(name, bits, level_map, kind)


@pytest.mark.parametrize("name", ("offset_binary", "sign_magnitude"))
@pytest.mark.parametrize("protected", (1, 2, 3))
def test_protected_top_bits_of_cells_equal_the_brute_force_law(name, protected):
    assert agrees_with_brute_force(name, 2, "gray", "dense", protected)


def test_planted_swapped_level_map_is_caught(monkeypatch):
    real = multilevel._read_values
    monkeypatch.setattr(multilevel, "_read_values",
                        lambda bits, level_map: real(bits, "binary" if level_map == "gray" else "gray"))
    assert not agrees_with_brute_force("offset_binary", 2, "gray", "loss")


def test_planted_transposed_matrix_is_caught(monkeypatch):
    real = multilevel._check_transition
    monkeypatch.setattr(multilevel, "_check_transition", lambda t, levels: tuple(zip(*real(t, levels))))
    assert not agrees_with_brute_force("offset_binary", 2, "gray", "noise")
    assert not agrees_with_brute_force("twos_complement", 3, "binary", "dense")


def test_vectorized_float_cumulants_match_the_exact_ones():
    encoding = get_encoding("twos_complement", N_BITS)
    for level_map in ("gray", "binary"):
        exact = MultiLevelChannel(3, transitions(3)["dense"], level_map=level_map)
        floats = MultiLevelChannel(3, [[float(x) for x in row] for row in transitions(3)["dense"]], level_map)
        codes = np.arange(1 << N_BITS)
        got = error_cumulants(encoding, codes, floats, 0.25)
        for code in codes:
            want = [float(k) for k in WeightError(encoding, int(code), exact, Fraction(1, 4)).cumulants()]
            np.testing.assert_allclose(got[:, code], want, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", ("offset_binary", "sign_magnitude"))
def test_characteristic_function_formula_matches_enumeration(name):
    law = WeightError(get_encoding(name, N_BITS), 37, MultiLevelChannel(2, transitions(2)["dense"]), 0.5)
    t = np.linspace(-3, 3, 7)
    np.testing.assert_allclose(law.cf(t), law.cf(t, method="enumeration"), rtol=1e-12, atol=1e-14)


def test_one_bit_cells_are_the_independent_channels():
    encoding = get_encoding("offset_binary", N_BITS)
    noise = MultiLevelChannel(1, level_noise_transition(1, Fraction(1, 5)))
    assert WeightError(encoding, 21, noise).cumulants() == WeightError(encoding, 21, SymmetricChannel(Fraction(1, 5))).cumulants()


def monte_carlo_gap(channel, reference, encoding, code, seed):
    """Largest |sample mean - truth| / standard error over mean and variance (truth from the exact law)."""
    mean, var, _, k4 = (float(x) for x in cumulants_of(reference))
    draws = sample_errors(encoding, code, channel, DRAWS, rng=seed)
    mean_gap = abs(draws.mean() - mean) / math.sqrt(var / DRAWS)
    var_gap = abs(draws.var(ddof=1) - var) / math.sqrt((k4 + 2 * var**2) / DRAWS)
    return max(mean_gap, var_gap)


@pytest.mark.parametrize("level_map", ("gray", "binary"))
def test_monte_carlo_matches_the_brute_force_law_within_the_standard_error(level_map):
    encoding = get_encoding("offset_binary", N_BITS)
    transition = transitions(2)["loss"]
    channel = MultiLevelChannel(2, [[float(x) for x in row] for row in transition], level_map)
    for seed, code in enumerate(CODES[1:]):
        reference = brute_force(encoding, code, 2, transition, level_map)
        assert monte_carlo_gap(channel, reference, encoding, code, seed) < Z
        other = "binary" if level_map == "gray" else "gray"
        planted = brute_force(encoding, code, 2, transition, other)
        assert monte_carlo_gap(channel, planted, encoding, code, seed) > Z


def dense_masks(channel, bits, size, seed):
    """The sampler's definition, dense: every cell's row gathered, summed cumulatively, compared with its uniform."""
    probabilities = channel.cell_mask_probabilities(bits).astype(np.float64)
    uniforms = np.random.default_rng(seed).random((size,) + probabilities.shape[:-1])
    landed = np.minimum((uniforms[..., None] >= np.cumsum(probabilities, axis=-1)).sum(axis=-1), channel.levels - 1)
    shifts = np.arange(landed.shape[-1], dtype=np.int64) * channel.bits_per_cell
    return (landed.astype(np.int64) << shifts).sum(axis=-1)


@pytest.mark.parametrize("bits_per_cell", (1, 2, 3))
@pytest.mark.parametrize("level_map", ("gray", "binary"))
def test_compiled_sampler_draws_the_dense_definitions_masks_draw_for_draw(bits_per_cell, level_map):
    rng = np.random.default_rng(bits_per_cell)
    levels = 1 << bits_per_cell
    dense = rng.random((levels, levels)) ** 3
    for transition in (dense / dense.sum(axis=1, keepdims=True), transitions(bits_per_cell)["loss"]):
        channel = MultiLevelChannel(bits_per_cell, transition, level_map)
        bits = rng.integers(0, 2, (700, N_BITS))
        expected = dense_masks(channel, bits, 3, 11)
        assert np.array_equal(channel.sample_masks(bits, 3, 11), expected)
        codes = bits @ (1 << np.arange(N_BITS))
        assert np.array_equal(channel.sample_code_masks(codes.reshape(7, 100), N_BITS, 3, 11),
                              expected.reshape(3, 7, 100))
    still = MultiLevelChannel(bits_per_cell, np.eye(levels), level_map)
    assert still.is_identity and not channel.is_identity
    assert np.array_equal(still.sample_code_masks(codes, N_BITS, 2, 11), dense_masks(still, bits, 2, 11))
    assert not dense_masks(still, bits, 2, 11).any()


def test_compensation_factor_removes_the_binary_charge_proportional_drift_exactly():
    q = Fraction(1, 20)
    transition = [[Fraction(int(j == i - 1)) * i * q + Fraction(int(j == i)) * (1 - i * q) for j in range(4)]
                  for i in range(4)]
    channel = MultiLevelChannel(2, transition, level_map="binary")
    encoding = get_encoding("offset_binary", N_BITS)
    assert mean_correction_factor(channel) == 1 / (1 - q)
    for code in range(1 << N_BITS):
        w = encoding.decode(code)
        assert WeightError(encoding, code, channel).mean("enumeration") == -q * w - q * 2 ** (N_BITS - 1)
    assert mean_correction_factor(MultiLevelChannel(2, transition, level_map="gray")) == 1 / (1 - Fraction(4, 5) * q)


@pytest.mark.parametrize("call, match", [
    (lambda: MultiLevelChannel(0, [[1]]), "bits_per_cell must be an integer in 1..3"),
    (lambda: MultiLevelChannel(4, np.eye(16)), "bits_per_cell must be an integer in 1..3"),
    (lambda: MultiLevelChannel(2.0, np.eye(4)), "bits_per_cell"),
    (lambda: MultiLevelChannel(2, np.eye(4), level_map="grey"), "level_map must be one of"),
    (lambda: MultiLevelChannel(2, np.eye(3)), "transition must be a 4 x 4"),
    (lambda: MultiLevelChannel(1, [[0.5, 0.4], [0, 1]]), "rows must sum to 1"),
    (lambda: MultiLevelChannel(1, [[1.5, -0.5], [0, 1]]), r"transition\[0\]\[0\]"),
    (lambda: WeightError(get_encoding("offset_binary", 7), 3, MultiLevelChannel(2, np.eye(4))),
     "n_bits must be a multiple of bits_per_cell = 2"),
    (lambda: mean_correction_factor(MultiLevelChannel(2, transitions(2)["dense"])), "one-step charge loss"),
])
def test_bad_input_names_the_argument_and_range(call, match):
    with pytest.raises(ValueError, match=match):
        call()
