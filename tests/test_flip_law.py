"""Flip-mask tables and their two samplers (qtaml_tac.flip_law, qtaml_tac.flip_kernels; Section 3, 5.7).

The tables are checked exactly (against the inverse CDF of the same uniform and
against the channel's product law); the compiled kernels against the NumPy
twin bit for bit; the draws statistically in both regimes, with seeded z-tests
at the suite's false-alarm rate.
"""

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import CellVariationFaults, Chip, ClusteredFaults, inject, kernel_dispatch, quantize, sample_masks
from qtaml_tac.flip_law import CHUNK, DENSE_EVENT_RATE, DiscreteTable, FlipLaw
from qtaml_tac.storage import StorageConfig
from qtaml_theory import DirectionalChannel, PerBitChannel, SymmetricChannel
from qtaml_theory.verify import FALSE_ALARM, z_threshold


def _words(count, seed):
    return np.random.default_rng(seed).integers(0, 2**64, count, dtype=np.uint64)


@pytest.mark.parametrize("probabilities", [
    [0.5, 0.5], [1e-20, 1 - 1e-20], [0.0, 0.3, 0.0, 0.7], list(np.full(256, 1 / 256)),
    list(0.9 ** np.arange(300)), list(np.random.default_rng(1).dirichlet(np.full(40, 0.2))),
], ids=["halves", "tiny", "zeros", "uniform-256", "geometric", "dirichlet"])
def test_table_is_the_inverse_cdf_of_the_words_top_53_bits(probabilities):
    """A table outcome is exactly searchsorted(cdf, u) for u = (word >> 11) 2**-53, boundary slots included."""
    table = DiscreteTable.from_probabilities(probabilities)
    words = _words(200_000, 0)
    boundary = np.flatnonzero(table.slots < 0).astype(np.uint64)
    if boundary.size:  # force half the words into boundary slots, keeping their low bits random
        chosen = boundary[np.random.default_rng(2).integers(0, boundary.size, 100_000)]
        words[:100_000] = (chosen << np.uint64(48)) | (words[:100_000] & np.uint64(2**48 - 1))
    u = (words >> np.uint64(11)).astype(np.float64) * 2.0**-53
    expected = np.searchsorted(table.cdf, u, side="right") - 1
    np.testing.assert_array_equal(table.sample(words), expected)


def test_table_probabilities_are_exact_to_the_53_bit_grid():
    """The mass each outcome gets (grid points in [cdf_j, cdf_j+1)) is the requested probability within 2**-52."""
    probabilities = np.random.default_rng(3).dirichlet(np.full(256, 0.3))
    table = DiscreteTable.from_probabilities(probabilities)
    grid = np.array([math.ceil(float(c) * 2**53) for c in table.cdf], dtype=object)
    mass = np.array([float(b - a) for a, b in zip(grid[:-1], grid[1:])]) * 2.0**-53
    assert np.max(np.abs(mass - probabilities / probabilities.sum())) <= 2.0**-52


def test_table_rejects_bad_probabilities():
    with pytest.raises(ValueError, match="non-negative probabilities"):
        DiscreteTable.from_probabilities([0.5, -0.1])
    with pytest.raises(ValueError, match="positive sum"):
        DiscreteTable.from_probabilities([0.0, 0.0])


def _chain_probability(law, virtual):
    """P(virtual mask | an event) through the conditioned chain of group tables."""
    probability, conditioned = 1.0, True
    for shift, table, given in zip(law.shifts, law.groups, law.conditioned):
        part = (virtual >> shift) & 0xFF
        chosen = given if conditioned else table
        probability *= chosen.cdf[part + 1] - chosen.cdf[part]
        conditioned = conditioned and part == 0
    return probability


@pytest.mark.parametrize("zero, one, exposed", [
    ([0.1] * 8, [0.1] * 8, 8),
    ([0.01, 0.2, 0.05, 0.3], [0.01, 0.2, 0.05, 0.3], 3),
    ([0.02] * 6, [0.3] * 6, 6),
    (list(np.linspace(0.01, 0.3, 12)), list(np.linspace(0.01, 0.3, 12)), 10),
])
def test_law_matches_the_channel_product_law(zero, one, exposed):
    """Event rate 1 - prod(1 - rate) and every virtual mask's probability given an event, to float64 rounding.

    A table's probabilities are differences of float64 cumulative sums: absolute errors of a few 1e-16 (no
    better for rare masks), hence abs=1e-14."""
    law = FlipLaw.from_rates(zero, one, exposed)
    n = len(zero)
    rates = np.array(one[:exposed] + [0.0] * (n - exposed) + (zero[:exposed] + [0.0] * (n - exposed)
                                                              if law.directional else []))
    assert law.directional == (zero != one)
    assert law.event_rate == pytest.approx(1 - np.prod(1 - rates), rel=1e-12)
    live = np.flatnonzero(rates)
    for bits in itertools.islice(itertools.product((0, 1), repeat=live.size), 1, 4096):
        virtual = int(sum(1 << int(i) for i, b in zip(live, bits) if b))
        expected = np.prod([rates[i] if b else 1 - rates[i] for i, b in zip(live, bits)]) / law.event_rate
        assert _chain_probability(law, virtual) == pytest.approx(expected, rel=1e-12, abs=1e-14)


def test_gap_table_is_the_geometric_law_with_a_memoryless_skip():
    law = FlipLaw.from_rates([0.01] * 8, [0.01] * 8, 8)
    q, skip = law.event_rate, law.gap_skip
    probabilities = np.diff(law.gaps.cdf)
    assert probabilities[:skip] == pytest.approx(q * (1 - q) ** np.arange(skip), rel=1e-12)
    assert probabilities[skip] == pytest.approx((1 - q) ** skip, rel=1e-12)
    assert (1 - q) ** skip <= 2**-6


CASES = {  # n_bits, encoding, faults, protected bits, chip seed (None: fresh draws)
    "symmetric-dense": (8, "offset_binary", SymmetricChannel(0.1), 0, None),
    "symmetric-sparse": (8, "offset_binary", SymmetricChannel(0.01), 0, None),
    "protected-sparse": (8, "twos_complement", SymmetricChannel(0.04), 3, None),
    "per-bit-12": (12, "offset_binary", PerBitChannel(list(np.linspace(0.0, 0.2, 12))), 2, None),
    "directional-16": (16, "sign_magnitude", DirectionalChannel(0.002, 0.05), 1, None),
    "directional-sparse": (6, "offset_binary", DirectionalChannel(0.0, 0.02), 0, None),
    "one-bit": (1, "offset_binary_symmetric", SymmetricChannel(0.3), 0, None),
    "certain": (3, "offset_binary", SymmetricChannel(1.0), 0, None),
    "silent": (8, "offset_binary", SymmetricChannel(0.2), 8, None),
    "per-cell": (8, "offset_binary", CellVariationFaults(0.05, 1.0), 1, None),
    "clustered-10": (10, "offset_binary", ClusteredFaults(0.02, block=16), 0, None),
    "chip-directional": (8, "offset_binary", DirectionalChannel(0.01, 0.1), 2, 3),
    "chip-per-cell": (8, "offset_binary", CellVariationFaults(0.05, 0.5), 0, 4),
}


def _storage(n_bits, encoding, size=2 * CHUNK + 1234, seed=0):
    torch.manual_seed(seed)
    model = nn.Embedding(size // 10 + 1, 10)
    return model, quantize(model, StorageConfig(n_bits=n_bits, encoding=encoding))


def _draw(storage, case, seed):
    n_bits, encoding, faults, protected, chip = CASES[case]
    return sample_masks(storage, faults, {"weight": protected}, torch.Generator().manual_seed(seed),
                        chip=None if chip is None else Chip(chip))["weight"]


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_compiled_kernels_give_the_numpy_masks_bit_for_bit(case, monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("QTAML_COMPILED", "1")
    _, storage = _storage(*CASES[case][:2])
    compiled = _draw(storage, case, 4)
    monkeypatch.setenv("QTAML_COMPILED", "0")
    reference = _draw(storage, case, 4)
    assert (compiled.dense_mask is None) == (reference.dense_mask is None)
    assert torch.equal(compiled.dense(), reference.dense())
    if reference.dense_mask is None:
        assert torch.equal(compiled.positions, reference.positions)


def test_a_chip_flips_exactly_the_bits_whose_uniform_is_below_the_rate():
    """Chip.uniforms is the documented source of a chip's faults; protection only clears the protected bits."""
    _, storage = _storage(8, "offset_binary", size=20_000)
    tensor, chip = storage["weight"], Chip(7)
    uniforms = chip.uniforms(tensor, 8)
    for rate in (0.01, 0.2):
        mask = sample_masks(storage, rate, chip=chip)["weight"].dense()
        expected = ((uniforms < rate).to(torch.int32) << torch.arange(8)[:, None]).sum(0, dtype=torch.int32)
        assert torch.equal(mask, expected)
        protected = sample_masks(storage, rate, {"weight": 3}, chip=chip)["weight"].dense()
        assert torch.equal(protected, mask & 0b11111)
    assert not torch.equal(uniforms, Chip(8).uniforms(tensor, 8))


def test_overflowing_a_chunk_slice_redraws_the_same_masks(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("QTAML_COMPILED", "1")
    _, storage = _storage(8, "offset_binary")
    expected = sample_masks(storage, 0.01, generator=torch.Generator().manual_seed(5))["weight"]
    monkeypatch.setattr(kernel_dispatch, "SPARSE_SLACK", -1e9)  # every slice holds one event, then overflows
    overflowed = sample_masks(storage, 0.01, generator=torch.Generator().manual_seed(5))["weight"]
    assert torch.equal(expected.positions, overflowed.positions) and torch.equal(expected.values, overflowed.values)


def test_masks_do_not_depend_on_the_thread_count(monkeypatch):
    pytest.importorskip("numba")
    monkeypatch.setenv("QTAML_COMPILED", "1")
    _, storage = _storage(8, "offset_binary")
    before = torch.get_num_threads()
    draws = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)  # the kernels run on as many threads as torch
            draws.append([sample_masks(storage, rate, generator=torch.Generator().manual_seed(6))["weight"].dense()
                          for rate in (0.1, 0.01)])
    finally:
        torch.set_num_threads(before)
    assert all(torch.equal(one, two) for one, two in zip(*draws))


@pytest.mark.parametrize("compiled", ["1", "0"])
def test_fused_injection_writes_the_readback_of_its_masks(compiled, monkeypatch):
    """Through dense and sparse draws in any order, the parameter is always decode(codes ^ mask)."""
    monkeypatch.setenv("QTAML_COMPILED", compiled)
    model, storage = _storage(8, "offset_binary", size=3 * CHUNK + 7)
    tensor = storage["weight"]
    generator = torch.Generator().manual_seed(7)
    for faults, chip in ((0.01, None), (0.02, None), (0.3, None), (1e-3, None), (0.01, Chip(1)), (0.003, None),
                         (CellVariationFaults(0.05), None), (0.5, None), (0.003, None), (0.003, None)):
        masks = inject.inject_(storage, faults, {"weight": 1}, generator, chip)
        assert torch.equal(model.weight.detach(), tensor.decode(tensor.codes ^ masks["weight"].dense()))
    storage.restore_()
    assert torch.equal(model.weight.detach(), tensor.original)


SPARSE_RATE = 0.01
DRAWS = 40


def test_sparse_draws_have_the_channel_rates_independence_and_no_chunk_edge_effects():
    """Per-bit and pair rates over 40 sparse draws of 132,310 weights, and the event rate at chunk edges."""
    _, storage = _storage(8, "offset_binary")
    law = FlipLaw.from_rates([SPARSE_RATE] * 8, [SPARSE_RATE] * 8, 8)
    assert not law.dense_regime and law.event_rate < DENSE_EVENT_RATE
    generator = torch.Generator().manual_seed(8)
    masks = torch.stack([sample_masks(storage, SPARSE_RATE, generator=generator)["weight"].dense()
                         for _ in range(DRAWS)])
    bits = ((masks.flatten()[:, None] >> torch.arange(8)) & 1).double()
    trials = bits.shape[0]
    threshold = z_threshold(FALSE_ALARM, 8 + 28 + 2)
    p = SPARSE_RATE
    for i in range(8):
        assert abs(float(bits[:, i].mean()) - p) / math.sqrt(p * (1 - p) / trials) <= threshold
        for j in range(i + 1, 8):
            joint = float((bits[:, i] * bits[:, j]).mean())
            assert abs(joint - p * p) / math.sqrt(p * p * (1 - p * p) / trials) <= threshold
    size = masks.shape[1]
    edges = np.concatenate([np.arange(c * CHUNK - 50, c * CHUNK + 50) for c in range(1, size // CHUNK + 1)])
    for where in (edges, np.arange(size - 100, size)):
        hit = (masks[:, where] != 0).double()
        q = law.event_rate
        assert abs(float(hit.mean()) - q) / math.sqrt(q * (1 - q) / hit.numel()) <= threshold


def test_directional_rates_by_stored_bit_in_both_regimes():
    """Rates of 1 -> 0 and 0 -> 1 flips per bit position, for a dense and a sparse directional channel."""
    _, storage = _storage(8, "offset_binary")
    codes = storage["weight"].codes
    stored = ((codes[:, None] >> torch.arange(8)) & 1).bool()
    for p01, p10 in ((0.1, 0.3), (0.002, 0.01)):
        mask = sample_masks(storage, DirectionalChannel(p01, p10), generator=torch.Generator().manual_seed(9))
        flipped = ((mask["weight"].dense()[:, None] >> torch.arange(8)) & 1).bool()
        threshold = z_threshold(FALSE_ALARM, 32)
        for i in range(8):
            for bit, rate in ((True, p10), (False, p01)):
                cells = stored[:, i] == bit
                measured = float(flipped[cells, i].double().mean())
                assert abs(measured - rate) / math.sqrt(rate * (1 - rate) / int(cells.sum())) <= threshold


def test_concurrent_injections_from_python_threads_match_sequential_ones():
    """Two threads injecting into two models at once get the masks they get one after the other."""
    from concurrent.futures import ThreadPoolExecutor

    storages = [_storage(8, "offset_binary", seed=seed)[1] for seed in (0, 1)]

    def draws(storage):
        generator = torch.Generator().manual_seed(10)
        return [inject.inject_(storage, rate, generator=generator)["weight"].dense().clone()
                for rate in (0.1, 0.01, 0.1, 0.001)]

    sequential = [draws(storage) for storage in storages]
    with ThreadPoolExecutor(2) as pool:
        concurrent = list(pool.map(draws, storages))
    for one, two in zip(sequential, concurrent):
        assert all(torch.equal(a, b) for a, b in zip(one, two))


@pytest.mark.parametrize("rate, draws", [(0.1, 4), (0.01, 40)], ids=["dense", "sparse"])
def test_whole_masks_follow_the_product_law(rate, draws):
    """A chi-square test of the 256 masks' counts against p^k (1-p)^(8-k) (false alarm 1e-6; rare masks pooled)."""
    from scipy import stats

    _, storage = _storage(8, "offset_binary")
    generator = torch.Generator().manual_seed(12)
    masks = torch.cat([sample_masks(storage, rate, generator=generator)["weight"].dense() for _ in range(draws)])
    counts = np.bincount(masks.numpy(), minlength=256).astype(np.float64)
    ones = np.array([bin(m).count("1") for m in range(256)])
    expected = masks.numel() * rate**ones * (1 - rate) ** (8 - ones)
    common = expected >= 20
    observed = np.append(counts[common], counts[~common].sum())
    predicted = np.append(expected[common], expected[~common].sum())
    statistic = float(((observed - predicted) ** 2 / predicted).sum())
    assert statistic <= stats.chi2.isf(FALSE_ALARM, observed.size - 1)


def _inject_in_child(storage):
    torch.set_num_threads(1)  # as multiprocessing and DataLoader workers do
    masks = inject.inject_(storage, 0.1, generator=torch.Generator().manual_seed(13))
    return masks["weight"].dense()


def test_a_forked_child_with_one_thread_injects_after_its_parent_ran_parallel_kernels():
    """Serial kernels need no threading layer, so GNU OpenMP's fork check cannot abort the child."""
    import multiprocessing

    _, storage = _storage(8, "offset_binary")
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        expected = inject.inject_(storage, 0.1, generator=torch.Generator().manual_seed(13))["weight"].dense().clone()
        with multiprocessing.get_context("fork").Pool(1) as pool:
            child = pool.apply_async(_inject_in_child, (storage,)).get(timeout=60)
    finally:
        torch.set_num_threads(before)
    assert torch.equal(child, expected)


@pytest.mark.parametrize("rate", (1e-20, 1e-87, 1e-300))
def test_rates_below_the_float_spacing_at_one_keep_their_event_rate(rate):
    """Retention at short times gives rates far below 1e-16: the law's tail is -expm1 of a log, not 1 - (1 - x)."""
    law = FlipLaw.from_rates(np.zeros(8), np.full(8, rate), 8)
    assert law.event_rate == pytest.approx(8 * rate, rel=1e-12)
