"""The law of a weight whose scale is in the same faulty memory (issue 15): exact combination of the parts."""

import numpy as np
import pytest
from float_checks import assert_cumulants_close, assert_matches_monte_carlo

from qtaml_theory import WeightError, get_encoding
from qtaml_theory.channels import PerBitChannel
from qtaml_theory.protection import IdealBits
from qtaml_theory.scaled_law import scaled_weight_error

E8M0 = get_encoding("e8m0", 8)
F16 = get_encoding("float16", 16)
CASES = [("mxfp4", 4, 3, E8M0, 124), ("mxfp8_e4m3", 8, 0x31, E8M0, 120), ("mxint8", 8, 0xE0, E8M0, 130),
         ("twos_complement", 4, 5, F16, int(F16.encode(0.013))), ("sign_magnitude", 4, 12, F16, int(F16.encode(-3e-3)))]


# every policy with an E8M0 scale; one with a float16 scale, whose 2**20 joint masks take a second each
POLICY_CASES = [(*case, policy) for case in CASES for policy in
                (("keep", "zero", "clamp") if case[3] is E8M0 else ("keep",) if case[0] == "twos_complement" else ("clamp",))]


@pytest.mark.parametrize(("name", "n_bits", "code", "scale_encoding", "scale_code", "policy"), POLICY_CASES)
def test_formula_matches_the_joint_enumeration(name, n_bits, code, scale_encoding, scale_code, policy):
    law = scaled_weight_error(get_encoding(name, n_bits), code, scale_encoding, scale_code, 0.02,
                              on_nonfinite=policy, max_flips=15)
    assert_cumulants_close(law.cumulants(), law.cumulants("enumeration"), 1e-9)
    assert law.nonfinite_probability() == pytest.approx(law.nonfinite_probability("enumeration"), rel=1e-12, abs=0)


def test_a_safe_scale_multiplies_the_element_law():
    """Scale bits guarded: e = e_x s, so kappa_m = s**m kappa_m(e_x)."""
    element = get_encoding("float8_e4m3fn", 8)
    law = scaled_weight_error(element, 0x31, E8M0, 120, 0.01, scale_protection=IdealBits(tuple(range(8))))
    s = E8M0.table[120]
    alone = WeightError(element, 0x31, 0.01).cumulants()
    assert_cumulants_close(law.cumulants(), [k * s**m for m, k in enumerate(alone, start=1)], 1e-12)
    assert law.nonfinite_probability() == WeightError(element, 0x31, 0.01).nonfinite_probability()


def test_an_e8m0_flip_moves_the_weight_by_powers_of_two():
    """Only scale bit 7 faulty (rate q): the scale reads 2**128 times larger, so E[e] = q w (2**128 - 1)."""
    q = 1e-3
    only_top = scaled_weight_error(get_encoding("mxfp4", 4), 3, E8M0, 100, q,
                                   protection=IdealBits(tuple(range(4))), scale_protection=IdealBits(tuple(range(7))))
    w = only_top.stored_value
    assert only_top.mean() == pytest.approx(q * w * (2.0**128 - 1), rel=1e-12)


# Monte Carlo (tests/float_checks.py): false alarm ~6e-7 per check. With
# N = 400,000 the mean's standard error is 0.6% of the mean here, so a 5% error in the mean is
# ~8 standard errors and is caught (power ~1); the variance's heavy tail leaves it a weaker check.
@pytest.mark.parametrize("policy", ["keep", "clamp"])
def test_formula_matches_monte_carlo(policy):
    law = scaled_weight_error(get_encoding("twos_complement", 4), 5, F16, int(F16.encode(0.5)), 0.01,
                              on_nonfinite=policy, max_flips=15)
    assert_matches_monte_carlo(law, 400_000, 99)


def test_bad_input():
    with pytest.raises(ValueError, match="scale_encoding must be a float format"):
        scaled_weight_error(get_encoding("mxfp4", 4), 3, get_encoding("offset_binary", 8), 3, 0.01)
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        scaled_weight_error(get_encoding("mxfp4", 4), 3, E8M0, 3, 0.01, on_nonfinite="drop")
    law = scaled_weight_error(get_encoding("offset_binary", 8), 3, F16, 3, 0.01)
    with pytest.raises(ValueError, match="element and scale bits <= 20"):
        law.cumulants("enumeration")
    with pytest.raises(ValueError, match="method must be one of"):
        law.cumulants("exact")


def test_nonfinite_probability_of_a_product_counts_both_parts_once():
    """Element and scale each NaN with probability 1/2 (bit 0 of 0x7E and of E8M0 254): 3/4 together."""
    law = scaled_weight_error(get_encoding("float8_e4m3fn", 8), 0x7E, E8M0, 254, PerBitChannel([0.5] + [0.0] * 7))
    assert law.nonfinite_probability() == 0.75
    assert abs(law.nonfinite_probability("montecarlo", size=20_000, rng=1) - 0.75) <= 5 * np.sqrt(0.75 * 0.25 / 20_000)


def test_vectorised_cumulants_are_the_single_weight_laws():
    """A grouped layer: int4 codes with one float16 scale per row, and MXFP4 codes with E8M0 scales."""
    from qtaml_theory.scaled_law import scaled_error_cumulants

    for encoding, scale_encoding, codes, scale_codes in (
            (get_encoding("twos_complement", 4), F16, np.array([[1, 7, 9], [15, 0, 3]]),
             F16.encode([[0.02], [0.5]])),
            (get_encoding("mxfp4", 4), E8M0, np.array([[1, 7, 9], [15, 0, 3]]), np.array([[120], [127]]))):
        table = scaled_error_cumulants(encoding, codes, scale_encoding, scale_codes, 0.01, on_nonfinite="clamp")
        assert table.shape == (4, 2, 3)
        for (row, column), code in np.ndenumerate(codes):
            law = scaled_weight_error(encoding, int(code), scale_encoding, int(scale_codes[row, 0]), 0.01,
                                      on_nonfinite="clamp")
            assert_cumulants_close(table[:, row, column], law.cumulants(), 1e-12)
