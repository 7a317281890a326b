"""Real codes (issue: real error-correcting codes): decoders against galois, exact tails, and the law against injection.

The laws themselves are checked against enumeration written from the
definitions in ``tests/test_codes_reference.py``; here the decoder is held
bit for bit against the independent ``galois`` implementation, and the bit-exact
injection of :mod:`qtaml_tac.coded_injection` against the exact law.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest
import torch

from qtaml_theory import get_encoding
from qtaml_theory.ecc import DETECTED, bch_code, secded_code
from qtaml_theory.ecc.field import PRIMITIVE_POLYNOMIALS, bch_generator
from qtaml_theory.ecc.linear import smallest_field
from qtaml_theory.law import error_cumulants
from qtaml_theory.protection import BCH, SECDED, IdealMSB, Repetition, Unprotected

galois = pytest.importorskip("galois")


def _galois_bch(data_bits, t):
    """galois's BCH code over our field with our code's dimension (its t must then be ours)."""
    m = smallest_field(data_bits, t)
    field = galois.GF(2**m, irreducible_poly=galois.Poly.Int(PRIMITIVE_POLYNOMIALS[m]))
    n = 2**m - 1
    code = galois.BCH(n, d=2 * t + 1, extension_field=field)  # by d: built at once (by k: a search of many seconds)
    assert code.t == t and code.k == n - bch_generator(m, t).bit_length() + 1
    return code


# galois compiles each code with numba (about 20 s each here): the suite checks (78,64) BCH and (72,64) SEC-DED
# over GF(2^7); the other codes run with -m slow.
_SLOW = pytest.mark.slow


def _error_patterns(rng, words, length, weights):
    patterns = np.zeros((len(weights) * words, length), dtype=np.uint8)
    for row, weight in enumerate(np.repeat(weights, words)):
        patterns[row, rng.choice(length, weight, replace=False)] = 1
    return patterns


@pytest.mark.parametrize("data_bits, t", [pytest.param(64, 1, marks=_SLOW), (64, 2), pytest.param(16, 3, marks=_SLOW),
                                          pytest.param(8, 2, marks=_SLOW), pytest.param(32, 2, marks=_SLOW)])
def test_bch_encoder_and_decoder_match_galois_bit_for_bit(data_bits, t):
    """Encoding and decoding of random words with 0..t+3 errors equal galois's; a wrong column or table fails."""
    ours, theirs = bch_code(data_bits, t), _galois_bch(data_bits, t)
    rng = np.random.default_rng(data_bits * 10 + t)
    data = rng.integers(0, 2, (60 * (t + 4), data_bits), dtype=np.uint8)
    words = ours.encode(data)
    assert np.array_equal(words, np.asarray(theirs.encode(galois.GF2(data))))
    received = words ^ _error_patterns(rng, 60, ours.length, list(range(t + 4)))
    decoded, status = ours.decode(received)
    reference, errors = theirs.decode(galois.GF2(received), errors=True)
    assert np.array_equal(decoded, np.asarray(reference))
    assert np.array_equal(status == DETECTED, np.asarray(errors) == -1)


@pytest.mark.parametrize("data_bits", [pytest.param(8, marks=_SLOW), pytest.param(16, marks=_SLOW),
                                       pytest.param(32, marks=_SLOW), 64])
def test_secded_matches_galois_hamming_plus_parity(data_bits):
    """SEC-DED = galois's Hamming (BCH t=1) code plus the textbook parity rule, bit for bit, up to 4 errors."""
    ours, hamming = secded_code(data_bits), _galois_bch(data_bits, 1)
    assert ours.length == {8: 13, 16: 22, 32: 39, 64: 72}[data_bits]
    rng = np.random.default_rng(data_bits)
    data = rng.integers(0, 2, (300, data_bits), dtype=np.uint8)
    inner = np.asarray(hamming.encode(galois.GF2(data)))
    words = np.concatenate([inner, inner.sum(axis=1, keepdims=True) % 2], axis=1).astype(np.uint8)
    assert np.array_equal(ours.encode(data), words)
    received = words ^ _error_patterns(rng, 60, ours.length, [0, 1, 2, 3, 4])
    decoded, status = ours.decode(received)
    message, errors = hamming.decode(galois.GF2(received[:, :-1]), errors=True)
    message, errors = np.asarray(message), np.asarray(errors)
    odd = received.sum(axis=1) % 2 == 1
    detected = (~odd & (errors != 0)) | (odd & (errors == -1))
    expected = np.where((odd & (errors == 1))[:, None], message, received[:, :data_bits])
    assert np.array_equal(status == DETECTED, detected)
    assert np.array_equal(decoded, expected)


def _binomial_tail(p, n, threshold):
    p = Fraction(p)
    return sum(math.comb(n, j) * p**j * (1 - p) ** (n - j) for j in range(threshold, n + 1))


@pytest.mark.parametrize("p, expected, digits", [(1e-4, 2.5e-5, 2), (1e-3, 2.4e-3, 2), (1e-2, 0.16, 2),
                                                 (0.1, 0.995, 3)])
def test_secded_72_64_uncorrectable_rates_of_the_issue(p, expected, digits):
    """(72,64) fails with probability 2.5e-5, 2.4e-3, 0.16, 0.995 (issue); exact to double precision."""
    value = SECDED(8).uncorrectable_probability(p)
    assert float(f"{value:.{digits}g}") == expected
    assert value == pytest.approx(float(_binomial_tail(p, 72, 2)), rel=2e-16)


@pytest.mark.parametrize("p", [1e-300, 1e-150, 1e-30, 3e-7])
@pytest.mark.parametrize("scheme", [SECDED(8), BCH(2, 64, 2), Repetition(1, copies=5), Unprotected()])
def test_uncorrectable_probability_is_exact_to_double_precision_at_tiny_rates(scheme, p):
    """Relative error below 1e-15 down to p = 1e-150 (a tail summed as 1 - CDF would give 0 or garbage)."""
    exact = _binomial_tail(p, scheme.codeword_bits, scheme.corrects + 1)
    assert scheme.uncorrectable_probability(p) == pytest.approx(float(exact), rel=1e-15)
    assert scheme.uncorrectable_probability(Fraction(1, 7)) == _binomial_tail(Fraction(1, 7), scheme.codeword_bits,
                                                                              scheme.corrects + 1)


def test_costs_are_the_real_check_bits():
    """(72,64) on 8 planes costs 1 bit per weight; storage is whole words; repetition costs its extra copies."""
    assert SECDED(8).cost_bits_per_weight(8) == 1
    assert SECDED(3, 32).cost_bits_per_weight(8) == Fraction(21, 32)
    assert SECDED(2, 64).storage_bits(65, 8) == 2 * 2 * 8
    assert BCH(1, 64, 2).codeword_bits == 78 and BCH(1, 64, 2).cost_bits_per_weight(8) == Fraction(14, 64)
    assert Repetition(3, copies=5).cost_bits_per_weight(8) == 12
    assert IdealMSB(3).cost_bits_per_weight(8) == 3


@pytest.mark.parametrize("make, message", [
    (lambda: SECDED(0), "k must be"),
    (lambda: SECDED(9).cost_bits_per_weight(8), "k must be an integer in 1..8"),
    (lambda: SECDED(1, data_bits=0), "data_bits"),
    (lambda: SECDED(1, data_bits=8.0), "data_bits"),
    (lambda: BCH(1, 64, 1912), r"t \(for 64 data bits, over GF\(2\^3..2\^13\)\) must be an integer in 1..1911"),
    (lambda: BCH(1, 64, 0), "t "),
    (lambda: Repetition(1, copies=4), "copies must be an odd"),
    (lambda: Repetition(1, copies=1), "copies"),
    (lambda: SECDED(1, on_failure="drop"), "on_failure must be one of"),
    (lambda: Repetition(True), "k must be"),
])
def test_bad_schemes_are_refused_naming_the_argument(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_block_codes_refuse_a_channel_that_depends_on_the_stored_bit():
    from qtaml_theory.channels import DirectionalChannel

    with pytest.raises(ValueError, match="channel must flip a bit at a rate that does not depend"):
        error_cumulants(get_encoding("offset_binary", 8), [3], DirectionalChannel(0.01, 0.0), protection=SECDED(2))


# -- injection against the exact law ---------------------------------------------------------------------

_TRIALS = 100
# |z| <= 4.5: a false alarm with probability ~7e-6 per check (10 checks: ~7e-5 in all). Power: the checks see the
# mean and the second moment of the summed error of 16,384 weights over 100 trials; a 5% error in the law's variance
# moves the second-moment statistic by 9-55 standard errors at these rates (measured; the failure message prints it),
# so it is caught with probability > 0.99.
_Z = 4.5


@pytest.fixture(scope="module")
def stored_layer():
    from qtaml_tac.storage import quantize

    torch.manual_seed(0)
    model = torch.nn.Linear(256, 64, bias=False)
    return quantize(model)


@pytest.mark.parametrize("scheme, p", [
    (SECDED(3, 64), 0.02), (SECDED(2, 16, on_failure="zero"), 0.05), (BCH(2, 64, 2), 0.05),
    (Repetition(3), 0.1), (IdealMSB(2), 0.1), (SECDED(2, 128), 0.02),
])
def test_bit_exact_injection_matches_the_exact_law(stored_layer, scheme, p):
    """Per-trial sums of (error - law mean) and (squared deviation - law variance) average to zero within 4.5 SE."""
    from qtaml_tac.inject import sample_masks

    tensor = next(iter(stored_layer))
    codes = tensor.codes.numpy().astype(np.int64)
    table = tensor.table.numpy()
    k1, k2, _, _ = error_cumulants(stored_layer.encoding, codes, p, protection=scheme)
    generator = torch.Generator().manual_seed(7)
    first, second = [], []
    for _ in range(_TRIALS):
        mask = sample_masks(stored_layer, p, {tensor.name: scheme}, generator=generator)[tensor.name]
        read = table[codes ^ mask.dense().numpy()]
        if mask.zeroed is not None:
            read[mask.zeroed.numpy()] = 0.0
        deviation = read - table[codes] - k1
        first.append(deviation.sum())
        second.append((deviation**2 - k2).sum())
    for name, sums, scale in (("mean", first, None), ("variance", second, k2.sum())):
        sums = np.asarray(sums)
        standard_error = sums.std(ddof=1) / math.sqrt(_TRIALS)
        z = sums.mean() / standard_error
        planted = 0.05 * scale / standard_error if scale is not None else float("nan")
        assert abs(z) < _Z, f"{name}: z = {z:.2f}; a 5% variance error would be {planted:.1f} SE"


# -- the exact engines against the SymPy closed forms (qtaml_theory.code_derivations, proofs/real_codes.py) -------

def _at(expression, p):
    from qtaml_theory.code_derivations import p as symbol

    return Fraction(str(expression.subs(symbol, p)))


@pytest.mark.parametrize("copies", [3, 5, 7])
def test_repetition_residual_rate_is_the_derived_majority_polynomial(copies):
    """The law's protected rate equals the SymPy majority polynomial exactly (a vote over copies - 1 would not)."""
    from qtaml_theory.code_derivations import majority_flip_probability

    p = Fraction(1, 7)
    channel = Repetition(2, copies=copies).residual_channel(p, 6)
    assert channel.rates_for_bits(np.zeros((1, 6), dtype=np.int64))[0].tolist() == [p] * 4 + [
        _at(majority_flip_probability(copies), p)] * 2


@pytest.mark.parametrize("length", [5, 9])
def test_parity_with_zeroing_dynamic_programme_equals_the_closed_forms(length):
    """The syndrome DP on a single parity bit gives (1 - (1-2p)^L)/2 and p (1 - (1-2p)^(L-1))/2 exactly."""
    from qtaml_theory.code_derivations import parity_accepted_flip_probability, parity_detection_probability
    from qtaml_theory.ecc import CLEAN, SyndromeCode, decoded_bits

    table = (np.array([CLEAN, DETECTED], dtype=np.int8), np.full((2, 1), -1, dtype=np.int16))
    parity = SyndromeCode("parity", [1] * length, length - 1, 0, 1, table)
    p = Fraction(2, 9)
    law = decoded_bits(parity, p)
    assert law.detected == _at(parity_detection_probability(length), p)
    assert set(law.flip_and_accepted) == {_at(parity_accepted_flip_probability(length), p)}
    assert set(law.flip) == {p}


@pytest.mark.parametrize("data_bits", [8, 16])
def test_secded_single_error_part_and_leading_residual(data_bits):
    """SEC-DED fails as 1 - P(<= 1 flip); its keep residual is (L-1) p^2 + O(p^3), its zero residual O(p^3)."""
    from qtaml_theory.code_derivations import secded_residual_leading, single_error_decoding_probability
    from qtaml_theory.ecc import decoded_bits

    scheme = SECDED(1, data_bits)
    length = scheme.codeword_bits
    p = Fraction(1, 9)
    assert scheme.uncorrectable_probability(p) == 1 - _at(single_error_decoding_probability(length), p)
    tiny = Fraction(1, 10**6)
    law = decoded_bits(scheme.code, tiny)
    leading = _at(secded_residual_leading(length), tiny)
    assert all(abs(q / leading - 1) < Fraction(1, 1000) for q in law.flip)
    assert all(q < tiny**2 / 1000 for q in law.flip_and_accepted)


@pytest.mark.parametrize("scheme", [SECDED(4, 16, on_failure="zero"), Repetition(2), BCH(3, 64, 2)])
def test_injection_writes_exactly_the_sampled_read_back_and_restores(stored_layer, scheme):
    """inject_ writes table[code ^ mask] (zeroed weights 0) into the parameter; a second draw patches over it."""
    from qtaml_tac.inject import deployed, inject_

    tensor = next(iter(stored_layer))
    original = tensor.parameter.detach().clone()
    for seed in (1, 2):
        masks = inject_(stored_layer, 0.05, {tensor.name: scheme}, torch.Generator().manual_seed(seed))
        mask = masks[tensor.name]
        expected = tensor.lookup[tensor.codes ^ mask.dense()]
        if mask.zeroed is not None:
            expected[mask.zeroed] = 0
        assert torch.equal(tensor.parameter.detach().view(-1), expected)
    with deployed(stored_layer, 0.05, {tensor.name: scheme}, torch.Generator().manual_seed(3)):
        pass
    assert torch.equal(tensor.parameter.detach(), original)


@pytest.mark.parametrize("scheme", [SECDED(8, 64, on_failure="zero"), BCH(8, 64, 2), SECDED(8, 128)])
def test_a_partial_last_word_never_reads_outside_the_tensor(scheme):
    """130 weights fill two 64-bit words and a shortened third: a miscorrection there reads no weight."""
    from qtaml_tac.inject import inject_
    from qtaml_tac.storage import quantize

    storage = quantize(torch.nn.Linear(10, 13, bias=False))
    name = storage.names[0]
    generator = torch.Generator().manual_seed(0)
    for _ in range(30):
        mask = inject_(storage, 0.2, {name: scheme}, generator)[name]
        assert int(mask.positions.max()) < 130


@pytest.mark.parametrize("encoding_name", ["offset_binary", "sign_magnitude"])
@pytest.mark.parametrize("scheme", [SECDED(2, 8, on_failure="zero"), BCH(1, 16, 3), Repetition(2)])
def test_the_characteristic_function_of_a_mixture_law_is_its_enumeration(encoding_name, scheme):
    """The formula route of cf over read outcomes (positions, zeroed weights) equals all masks enumerated."""
    from qtaml_theory import WeightError

    law = WeightError(get_encoding(encoding_name, 6), 37, 0.05, 0.25, protection=scheme)
    t = np.linspace(-9, 9, 13)
    np.testing.assert_allclose(law.cf(t), law.cf(t, "enumeration"), atol=1e-12)
