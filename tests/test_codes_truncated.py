"""Larger codes: the residual law enumerated by number of errors up to J, with a rigorous bound on the rest.

Against the exact dynamic programme where both apply (codes of at most 16
syndrome bits forced through the enumeration, in exact Fractions), and against
Monte Carlo through the real decoder for BCH codes of 18 and 20 check bits
(256 and 512 data bits, t = 2: the NAND/DRAM word sizes of MEMORIES.md).
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from qtaml_theory.ecc import bch_code, decoded_bits, secded_code
from qtaml_theory.protection import BCH, SECDED


def _within(low, high, value):
    return low <= value <= high


@pytest.mark.parametrize("code", [secded_code(16), bch_code(16, 2)], ids=lambda c: c.name)
def test_enumerated_law_holds_the_exact_law_within_its_bound_and_the_bound_shrinks(code):
    """Exact Fractions: every value of the J-truncated law is below the exact one by at most its bound."""
    p = Fraction(1, 40)
    exact = decoded_bits(code, p)
    bounds = []
    for errors in range(code.corrects + 1, code.corrects + 4):
        law = decoded_bits(code, p, errors)
        for low, value in zip(law.flip + law.flip_and_accepted, exact.flip + exact.flip_and_accepted):
            assert _within(low, low + law.bound, value)
        assert _within(law.detected, law.detected + law.bound, exact.detected)
        mean_low, mean = sum(law.flip) / code.data_bits, sum(exact.flip) / code.data_bits
        assert _within(mean_low, mean_low + law.average_bound, mean)
        assert law.average_bound <= law.bound
        bounds.append(law.bound)
    assert bounds[0] > bounds[1] > bounds[2] > 0


def test_enumerating_every_weight_is_the_exact_law():
    """J = n: nothing is left to bound, and the enumeration gives the dynamic programme's Fractions exactly."""
    code = secded_code(8)
    p = Fraction(3, 100)
    law, exact = decoded_bits(code, p, code.length), decoded_bits(code, p)
    assert law.bound == 0 and law.average_bound == 0
    assert (law.flip, law.flip_and_accepted, law.detected) == (exact.flip, exact.flip_and_accepted, exact.detected)


def test_bounded_route_is_refused_outside_its_range():
    with pytest.raises(ValueError, match=r"errors must be an integer in 2\.\.13"):
        decoded_bits(secded_code(8), 0.01, 1)


def _decoded_by_the_real_decoder(code, p, words, seed):
    """Per word: the number of wrong data bits after decoding, and whether a failure was detected."""
    rng = np.random.default_rng(seed)
    wrong, detected = [], []
    for _ in range(words // 2000):
        data = rng.integers(0, 2, size=(2000, code.data_bits), dtype=np.uint8)
        received = code.encode(data) ^ (rng.random((2000, code.length)) < p)
        decoded, status = code.decode(received)
        wrong.append((decoded != data).sum(axis=1))
        detected.append(status == 2)
    return np.concatenate(wrong), np.concatenate(detected)


def _check_against_monte_carlo(scheme, p, words):
    # 4.5 standard errors: a false alarm with probability ~7e-6 per side and check (4 checks: ~6e-5). Power: the
    # interval [law, law + bound] is itself about 30% of the flip rate wide (BCH 274/256 at p = 2e-3, J = 3), so
    # this check catches only gross errors (a law without its weight-3 patterns is 26 standard errors off, measured);
    # a law missing its miscorrections (-4% of the rate) passes it. The exact containment test above holds the
    # enumeration itself to exact Fractions; this one holds the bound and the decoder's table to the real decoder.
    code = scheme.code
    law = decoded_bits(code, p)
    assert law.errors is not None and law.bound > 0
    wrong, detected = _decoded_by_the_real_decoder(code, p, words, seed=1)
    mean_low = sum(law.flip) / code.data_bits
    rate = wrong.mean() / code.data_bits
    rate_error = wrong.std(ddof=1) / code.data_bits / math.sqrt(words)
    assert mean_low - 4.5 * rate_error <= rate <= mean_low + law.average_bound + 4.5 * rate_error
    failures, failures_error = detected.mean(), detected.std(ddof=1) / math.sqrt(words)
    assert law.detected - 4.5 * failures_error <= failures <= law.detected + law.bound + 4.5 * failures_error
    return law


def test_bch_274_256_against_the_real_decoder():
    """BCH t = 2 over 256 data bits (18 check bits): enumerated to J = 3, Monte Carlo within the bounds."""
    law = _check_against_monte_carlo(BCH(1, 256, 2), 0.002, 40_000)
    assert law.errors == 3


@pytest.mark.slow
def test_bch_532_512_against_the_real_decoder():
    """BCH t = 2 over 512 data bits (20 check bits, the largest table): the same, J = 3 (about 25 million patterns)."""
    _check_against_monte_carlo(BCH(1, 512, 2), 0.001, 40_000)


def test_truncation_bound_of_a_scheme():
    """Zero for an exact law; for an enumerated one, the per-plane bounds summed over the protected planes."""
    assert SECDED(4).truncation_bound(1e-3, 8) == 0
    scheme = BCH(3, 256, 2)
    law = decoded_bits(scheme.code, 1e-3)
    assert scheme.truncation_bound(1e-3, 8) == pytest.approx(3 * law.average_bound, rel=1e-12)
    zeroing = BCH(3, 256, 2, on_failure="zero")
    assert zeroing.truncation_bound(1e-3, 8) == pytest.approx(3 * law.bound, rel=1e-12)
