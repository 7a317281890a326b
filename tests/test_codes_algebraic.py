"""BCH codes beyond the syndrome table: the algebraic decoder, their law at J = t with its bound, the NAND sector code.

The decoder (qtaml_theory.ecc.algebraic: syndromes over GF(2^m),
Berlekamp-Massey, Chien search) is held against the syndrome-table decoder on
every syndrome of codes small enough for both, and bit for bit against
``galois.BCH`` (its own shortened-code decoder) on random words with 0..t+3
errors, constructed miscorrections and failures whose locator has a root at a
shortened-away position. The injection route (decoding the words that received
a flip from their flips alone) is held against encoding, flipping and decoding
the real words.
"""

from __future__ import annotations

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from qtaml_theory import WeightError, get_encoding
from qtaml_theory.ecc import CLEAN, CORRECTED, DETECTED, bch_code, decoded_bits
from qtaml_theory.ecc.algebraic import AlgebraicBCH
from qtaml_theory.ecc.field import PRIMITIVE_POLYNOMIALS, bch_check_bits, bch_generator, polynomial_remainder
from qtaml_theory.ecc.linear import smallest_field
from qtaml_theory.protection import BCH

galois = pytest.importorskip("galois")


def _reference_tail(p, n, threshold):
    """``P(Binomial(n, p) >= threshold)`` as mpmath's regularized incomplete beta ``I_p(threshold, n - threshold + 1)``
    at 40 digits (``p`` at its float's value)."""
    with mpmath.workdps(40):
        return float(mpmath.betainc(threshold, n - threshold + 1, 0, mpmath.mpf(p), regularized=True))


@pytest.mark.parametrize("data_bits, t", [(16, 2), (64, 2), (16, 3), (64, 1), (8, 2)])
def test_algebraic_decoder_is_the_syndrome_table_on_every_syndrome(data_bits, t):
    """Every syndrome of the code (as an error pattern on the check bits): same status, same corrected positions."""
    table = bch_code(data_bits, t)
    algebraic = AlgebraicBCH(data_bits, t, smallest_field(data_bits, t))
    assert algebraic.length == table.length and algebraic.check_bits == table.check_bits
    patterns = table._check_solution()  # row s: check bits whose columns XOR to syndrome s
    rows, bits = np.nonzero(patterns)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=patterns.shape[0]))])
    status, fixes = algebraic.decode_errors(offsets, bits + data_bits)
    assert np.array_equal(status, table.status)
    padded = np.full(fixes.shape, table.length, dtype=np.int64)
    padded[:, : table.corrections.shape[1]] = np.where(table.corrections >= 0, table.corrections, table.length)
    assert np.array_equal(np.sort(np.where(fixes >= 0, fixes, table.length), axis=1), np.sort(padded, axis=1))
    data = np.random.default_rng(t).integers(0, 2, (40, data_bits), dtype=np.uint8)
    assert np.array_equal(algebraic.encode(data), table.encode(data))


def _galois_code(code):
    m = smallest_field(code.data_bits, code.corrects)
    field = galois.GF(2**m, irreducible_poly=galois.Poly.Int(PRIMITIVE_POLYNOMIALS[m]))
    n = 2**m - 1
    reference = galois.BCH(n, d=2 * code.corrects + 1, extension_field=field)  # by d: built at once (by k: a search)
    assert reference.t == code.corrects and reference.k == n - bch_check_bits(m, code.corrects)
    return reference, m


def _hard_words(code, m, rng, per_weight):
    """Received words: random errors of weights 0..t+3, miscorrections and shortened-root failures."""
    t, length = code.corrects, code.length
    data = rng.integers(0, 2, (per_weight * (t + 6), code.data_bits), dtype=np.uint8)
    errors = np.zeros((data.shape[0], length), dtype=np.uint8)
    for row, weight in enumerate(np.repeat(np.arange(t + 4), per_weight)):
        errors[row, rng.choice(length, weight, replace=False)] = 1
    start = per_weight * (t + 4)
    other = code.encode(rng.integers(0, 2, (per_weight, code.data_bits), dtype=np.uint8))
    for row in range(per_weight):  # another codeword plus at most t errors: decoded to that codeword
        errors[start + row] = other[row]
        errors[start + row, rng.choice(length, rng.integers(1, t + 1), replace=False)] ^= 1
    generator, order = bch_generator(m, t), 2**m - 1
    for row in range(start + per_weight, errors.shape[0]):  # t errors, one of them shortened away: a failure
        errors[row, rng.choice(length, t - 1, replace=False)] ^= 1
        outside = polynomial_remainder(1 << int(rng.integers(length, order)), generator)  # its syndrome, on check bits
        errors[row, code.data_bits:] ^= np.array([(outside >> (code.check_bits - 1 - q)) & 1
                                                  for q in range(code.check_bits)], dtype=np.uint8)
    return data, code.encode(data) ^ errors


def _check_against_galois(data_bits, t, per_weight):
    code = bch_code(data_bits, t)
    assert not code.decoded_by_table
    reference, m = _galois_code(code)
    data, received = _hard_words(code, m, np.random.default_rng(t), per_weight)
    assert np.array_equal(code.encode(data), np.asarray(reference.encode(galois.GF2(data))))
    decoded, status = code.decode(received)
    expected, errors = reference.decode(galois.GF2(received), errors=True)
    assert np.array_equal(decoded, np.asarray(expected))
    assert np.array_equal(status == DETECTED, np.asarray(errors) == -1)
    kinds = np.split(status, [per_weight, per_weight * (t + 1), per_weight * (t + 4), per_weight * (t + 5)])
    assert (kinds[0] == CLEAN).all() and (kinds[1] == CORRECTED).all() and (kinds[3] == CORRECTED).all()
    assert (kinds[4] == DETECTED).all()
    miscorrected = (decoded != data).any(axis=1) & (status == CORRECTED)
    assert miscorrected[per_weight * (t + 4): per_weight * (t + 5)].all()


def test_algebraic_decoder_matches_galois_bit_for_bit():
    """(92,64) BCH t = 4 (28 check bits): words, status, data. Over GF(2^7), whose galois decoder test_codes.py
    compiles already (alone, this test compiles it: 15-30 s)."""
    _check_against_galois(64, 4, 12)


@pytest.mark.slow
def test_nand_sector_decoder_matches_galois_bit_for_bit():
    """(4291,4096) BCH t = 15 over GF(2^13): galois compiles and decodes it in about two minutes."""
    _check_against_galois(4096, 15, 2)


NAND = BCH(8, data_bits=4096, t=15)


def test_nand_sector_code_costs_fails_and_leaves():
    """The issue's NAND example: 195 check bits over 4,291, 1e-15 per data bit read at p = 3.4e-4."""
    assert NAND.codeword_bits == 4291 and NAND.code.check_bits == 195
    assert NAND.cost_bits_per_weight(8) == Fraction(195, 512) and NAND.storage_bits(4097, 8) == 8 * 2 * 195
    expected = {1e-4: 4.107e-20, 3.4e-4: 5.001e-12, 1e-3: 1.132e-5}
    for p, value in expected.items():
        failure = NAND.uncorrectable_probability(p)
        assert failure == pytest.approx(_reference_tail(p, 4291, 16), rel=1e-14)
        assert float(f"{failure:.4g}") == value
    assert 1e-15 < NAND.uncorrectable_probability(3.4e-4) / 4096 < 2e-15  # UBER: per data bit read
    law = WeightError(get_encoding("offset_binary", 8), 200, 3.4e-4, protection=NAND)
    bounds = law.error_bounds()
    assert law.mean() == 0 and law.var() == 0  # every pattern of at most t errors is corrected
    tail = _reference_tail(3.4e-4, 4290, 15)
    assert bounds["probability"] == pytest.approx(8 * (4291 * 3.4e-4 * tail + 15 * 5.001e-12) / 4096, rel=1e-3)
    assert bounds["mean"] == pytest.approx(bounds["probability"] * 255)
    # code 200 stores 72; a read-back lies in -128..127 or is 0: errors in [-200, 55]
    assert bounds["var"] == pytest.approx(bounds["probability"] * (200**2 + 2 * 200 * 255))
    zeroing = BCH(8, 4096, 15, on_failure="zero")
    assert zeroing.truncation_bound(3.4e-4, 8) == pytest.approx(8 * NAND.uncorrectable_probability(3.4e-4), rel=1e-12)


def test_decoded_bits_of_an_algebraic_code_stop_at_t():
    law = decoded_bits(NAND.code, 1e-3)
    assert law.errors == 15 and set(law.flip) == {0.0} and law.detected == 0
    assert law.bound == NAND.uncorrectable_probability(1e-3)
    with pytest.raises(ValueError, match=r"errors must be an integer in 15\.\.15 .*decoded algebraically"):
        decoded_bits(NAND.code, 1e-3, 16)


@pytest.mark.parametrize("make, message", [
    (lambda: BCH(1, 4096, 367), r"t \(for 4096 data bits, over GF\(2\^3\.\.2\^13\)\) must be an integer in 1\.\.366"),
    (lambda: BCH(1, 64, 10**9), r"t \(for 64 data bits.*1\.\.1911, got 1000000000"),
    (lambda: BCH(1, 8178), r"data_bits must be an integer in 1\.\.8177"),
])
def test_out_of_range_codes_are_refused_with_the_range(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("on_failure", ["keep", "zero"])
def test_nand_injection_decodes_only_flipped_words_as_the_real_decoder_does(on_failure):
    """Sparse flips of a 3-word tensor (the last word partial), decoded from the errors alone = real words decoded.

    At p = 3.4e-3 a word holds about 15 errors: clean, corrected and failed words all occur (checked).
    """
    from qtaml_tac.coded_injection import _algebraic_decoded, _block_decoded_unpacked, flipped_cells

    scheme = BCH(3, 4096, 15, on_failure=on_failure)
    rng = np.random.default_rng(7)
    size, n_bits, p = 2 * 4096 + 1000, 8, 3.4e-3
    codes = rng.integers(0, 256, size=size)
    values = ((rng.random((size, n_bits)) < p) * (1 << np.arange(n_bits))).sum(axis=1)
    positions = np.flatnonzero(values)
    values = values[positions]
    checks = [flipped_cells(rng, 3 * 195, p) for _ in range(3)]
    sparse = _algebraic_decoded(size, n_bits, scheme, checks, positions, values)
    real = _block_decoded_unpacked(codes, n_bits, scheme, checks, positions, values)
    order = [np.lexsort((v, q)) for q, v in (sparse[:2], real[:2])]
    for got, expected in zip(sparse[:2], real[:2]):
        assert np.array_equal(got[order[0]], expected[order[1]])
    assert np.array_equal(sparse[2], real[2])
    errors = np.concatenate([np.bincount(positions[(values >> j) & 1 == 1] // 4096, minlength=3)
                             + np.bincount(cells // 195, minlength=3) for j, cells in zip(range(5, 8), checks)])
    assert errors.min() <= 15 < errors.max()  # corrected and failed words
    assert (sparse[2].size > 0) == (on_failure == "zero")


def test_residual_bound_of_a_large_code_holds_the_monte_carlo_rate():
    """(152,128) BCH t = 3 (24 check bits: decoded algebraically) at p = 1e-2, where 6.5% of the words fail.

    The law at J = t is zero, within its bounds: the mean flip rate per data bit in [0, average_bound] and the
    detected failures in [0, bound]. 4.5 standard errors: false alarm < 1e-5 per side. Power: the measured
    rate (1.86e-3, standard error 5e-5) lies within the bound (3.9e-3); a bound off by one in J
    (P(W > t + 1): average bound 1.2e-3) is 12 standard errors below it.
    """
    scheme = BCH(1, 128, 3)
    code = scheme.code
    law = decoded_bits(code, 0.01)
    rng = np.random.default_rng(3)
    data = rng.integers(0, 2, (20_000, 128), dtype=np.uint8)
    decoded, status = code.decode(code.encode(data) ^ (rng.random((20_000, code.length)) < 0.01))
    wrong = (decoded != data).mean(axis=1)
    rate, error = wrong.mean(), wrong.std(ddof=1) / math.sqrt(wrong.size)
    assert -4.5 * error <= rate - sum(law.flip) / 128 <= law.average_bound + 4.5 * error
    assert rate > 4.5 * error  # failures do happen at this rate
    detected = (status == DETECTED).mean()
    assert detected <= law.bound + 4.5 * math.sqrt(law.bound / wrong.size)


def test_nand_sector_code_injected_into_a_layer():
    """inject_ through the decoder on 16,384 weights (4 sectors a plane): clean at p = 1e-3 (4.3 errors a sector,
    all corrected), and at 6e-3 (26 a sector) the failed sectors' weights read as zero under "zero"."""
    import torch

    from qtaml_tac.inject import inject_
    from qtaml_tac.storage import quantize

    torch.manual_seed(0)
    stored = quantize(torch.nn.Linear(256, 64, bias=False))
    tensor = next(iter(stored))
    masks = inject_(stored, 1e-3, {tensor.name: NAND}, torch.Generator().manual_seed(1))
    assert masks[tensor.name].dense().count_nonzero() == 0
    assert torch.equal(tensor.parameter.detach().view(-1), tensor.lookup[tensor.codes])
    masks = inject_(stored, 6e-3, {tensor.name: BCH(8, 4096, 15, on_failure="zero")}, torch.Generator().manual_seed(1))
    mask = masks[tensor.name]
    expected = tensor.lookup[tensor.codes ^ mask.dense()]
    expected[mask.zeroed] = 0
    assert torch.equal(tensor.parameter.detach().view(-1), expected)
    assert mask.zeroed.numel() > 0 and mask.zeroed.numel() % 4096 == 0
