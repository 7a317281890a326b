"""The law of a float's read-back error (issue 15): closed forms and routes held against enumeration and Monte Carlo."""

import numpy as np
import pytest
import scipy.stats
import sympy as sp
from float_checks import assert_cumulants_close, assert_matches_monte_carlo, cumulant_scale

from qtaml_theory import WeightError, error_cumulants, get_encoding
from qtaml_theory._derive_float import sign_flip_drift
from qtaml_theory._derive_symbols import r, w
from qtaml_theory._law_float import cumulant_bounds, policy_table, unit_law
from qtaml_theory.channels import DirectionalChannel, MultiLevelChannel, PerBitChannel, SymmetricChannel, level_noise_transition
from qtaml_theory.float_formats import FLOAT_ENCODINGS
from qtaml_theory.float_law import exponent_flip_moments, float_law_table
from qtaml_theory.protection import SECDED, IdealMSB

SMALL = [name for name, cls in FLOAT_ENCODINGS.items() if cls.width <= 8]
POLICIES = ("keep", "zero", "clamp")
CHANNELS = {"symmetric": SymmetricChannel(0.03), "directional": DirectionalChannel(0.01, 0.2),
            "above_half": DirectionalChannel(0.02, 0.7)}


def finite_codes(encoding):
    return np.flatnonzero(~encoding.nonfinite)


@pytest.mark.parametrize("name", SMALL)
@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("channel", sorted(CHANNELS))
def test_formula_matches_the_enumeration_of_every_mask_for_every_code(name, policy, channel):
    """The sign by A.8's mixture over the magnitude's masks equals the sum over all 2**n masks (n <= 8)."""
    encoding = get_encoding(name, FLOAT_ENCODINGS[name].width)
    codes = finite_codes(encoding)
    rates = CHANNELS[channel].rates_for_bits(encoding.bits(codes)).astype(float)
    formula = unit_law(encoding, codes, rates, policy)["cumulants"]
    enumerated = unit_law(encoding, codes, rates, policy, split_sign=False)["cumulants"]
    assert_cumulants_close(formula, enumerated, 1e-9)


@pytest.mark.parametrize(("name", "value", "policy"), [("float8_e4m3fn", 1.0, "keep"), ("float8_e5m2", 0.1, "clamp"),
                                                       ("e8m0", 1.0, "zero"), ("mxint8", -0.5, "keep")])
def test_weight_error_routes_agree(name, value, policy):
    encoding = get_encoding(name, 8)
    law = WeightError(encoding, int(encoding.encode(value)), 0.02, 0.5, on_nonfinite=policy)
    assert_cumulants_close(law.cumulants(), law.cumulants("enumeration"), 1e-11)
    pmf = law.pmf()
    assert abs(sum(pmf.values()) - 1) < 1e-12
    assert abs(sum(e * q for e, q in pmf.items()) - law.mean()) <= 1e-9 * (abs(law.mean()) + law.std())
    assert np.allclose(law.cf([0.0, 0.3]), law.cf([0.0, 0.3], "enumeration"))


@pytest.mark.parametrize("name", [n for n in SMALL if FLOAT_ENCODINGS[n].signed and n != "mxint8"] + ["bfloat16"])
def test_sign_bit_drift_is_minus_2pw_exactly(name):
    """The sign bit alone faulty (rate r): E[delta] = -2 r w for every finite code (SymPy's closed form)."""
    encoding = get_encoding(name, FLOAT_ENCODINGS[name].width)
    drift = sp.lambdify((r, w), sign_flip_drift())
    rate = 0.013
    rates = [0.0] * (encoding.n - 1) + [rate]
    codes = finite_codes(encoding)[:: max(1, encoding.n_codes // 512)]
    table = error_cumulants(encoding, codes, PerBitChannel(rates), max_flips=2)
    assert np.array_equal(table[0], drift(rate, encoding.table[codes]))
    code = int(codes[len(codes) // 3])
    law = WeightError(encoding, code, PerBitChannel(rates))
    assert law.mean("enumeration") == pytest.approx(drift(rate, encoding.table[code]), rel=1e-13, abs=0)


@pytest.mark.parametrize("name", ["float8_e4m3fn", "float8_e5m2", "float6_e3m2fn", "float4_e2m1fn", "e8m0", "float16"])
@pytest.mark.parametrize("policy", POLICIES)
def test_exponent_flip_closed_form_matches_enumeration(name, policy):
    """Exponent bits alone faulty: E[v'**k] from the product over exponent bits (with the special exponents fixed)."""
    encoding = get_encoding(name, FLOAT_ENCODINGS[name].width)
    rng = np.random.default_rng(11)
    rates = np.zeros(encoding.n)
    rates[list(encoding.exponent_bits)] = rng.uniform(0.01, 0.9, len(encoding.exponent_bits))
    channel = PerBitChannel(rates.tolist())
    codes = finite_codes(encoding)
    if encoding.n > 8:
        codes = rng.choice(codes, 6, replace=False)
    closed = exponent_flip_moments(encoding, codes, channel, on_nonfinite=policy)
    for column, code in enumerate(codes):
        law = WeightError(encoding, int(code), channel, on_nonfinite=policy)
        probabilities, masks = law._mask_law()
        reads = encoding.table[code ^ masks]
        values = policy_table(encoding, policy)[code ^ masks]
        counted = np.isfinite(values) & (probabilities > 0)
        for k in range(5):
            want = np.sum(probabilities[counted] * values[counted] ** k)
            assert closed[k, column] == pytest.approx(want, rel=1e-12, abs=1e-300), (code, k, reads[:3])


@pytest.mark.parametrize("name", SMALL + ["float16", "bfloat16"])
def test_nonfinite_probability_closed_form_matches_enumeration(name):
    encoding = get_encoding(name, FLOAT_ENCODINGS[name].width)
    channel = DirectionalChannel(0.05, 0.3)
    codes = np.arange(encoding.n_codes)[:: max(1, encoding.n_codes // 64)]
    codes = codes[~encoding.nonfinite[codes]]  # a stored NaN or infinity is refused (a test below)
    table = float_law_table(encoding, codes, channel).nonfinite_probability
    for code, closed in zip(codes, table):
        law = WeightError(encoding, int(code), channel)
        assert law.nonfinite_probability() == closed
        assert law.nonfinite_probability("enumeration") == pytest.approx(closed, rel=1e-12, abs=1e-300)


@pytest.mark.parametrize(("name", "policy"), [("float16", "keep"), ("bfloat16", "clamp")])
def test_sixteen_bit_truncation_stays_within_its_bound(name, policy):
    """Masks of at most J flips: the exact law (all 65,536 masks) lies within the reported bound, and the
    tail mass is the binomial tail P(K > J) of the 15 magnitude bits."""
    encoding = get_encoding(name, 16)
    p = 0.01
    codes = encoding.encode([0.01, -0.7, 3.0, 1e-6, 300.0, -6e4])
    for max_flips in (2, 3):
        table = float_law_table(encoding, codes, p, on_nonfinite=policy, max_flips=max_flips)
        assert np.allclose(table.tail_mass, scipy.stats.binom.sf(max_flips, 15, p), rtol=1e-10)
        for column, code in enumerate(codes):
            exact = WeightError(encoding, int(code), p, on_nonfinite=policy).cumulants("enumeration")
            gap = np.abs(np.array(exact) - table.cumulants[:, column])
            assert np.all(gap <= table.cumulant_bounds[:, column] * (1 + 1e-9) + 1e-12 * cumulant_scale(exact))
    # the bound is informative for a typical weight: the exact tail of |v'|**m (not R B**m) at 1e-2 and 1e-3
    for p, within in ((1e-2, 0.1), (1e-3, 1e-3)):
        typical = float_law_table(encoding, int(encoding.encode(0.01)), p)
        assert np.all(typical.cumulant_bounds[:2] < within * np.abs(typical.cumulants[:2]))


# Monte Carlo (tests/float_checks.py): false alarm ~6e-7 per check. At N = 400,000 these laws'
# variances have standard errors of 0.2-2% of their value, so a 5% error in the variance is 2.5-25
# standard errors (power ~0.3 for the heaviest tail, float16, ~1 for the others).
MC_CASES = [("float8_e4m3fn", 0.3, 0.05, "keep"), ("float4_e2m1fn", -1.5, 0.05, "zero"),
            ("float6_e2m3fn", 0.625, 0.05, "clamp"), ("mxint8", 0.25, 0.05, "keep"),
            ("float16", 0.4, 0.004, "clamp")]


@pytest.mark.parametrize(("name", "value", "p", "policy"), MC_CASES)
def test_law_matches_monte_carlo(name, value, p, policy):
    encoding = get_encoding(name, FLOAT_ENCODINGS[name].width)
    law = WeightError(encoding, int(encoding.encode(value)), p, on_nonfinite=policy)
    assert_matches_monte_carlo(law, 400_000, 2024)


def test_policies_read_a_nan_as_specified():
    """E4M3's 448 with bit 0 certain to flip reads NaN (0x7F): kept, read as 0, or clamped to +448 by its sign."""
    e4m3 = get_encoding("float8_e4m3fn", 8)
    channel = PerBitChannel([1.0] + [0.0] * 7)
    assert WeightError(e4m3, 0x7E, channel).nonfinite_probability() == 1.0
    assert np.isnan(WeightError(e4m3, 0x7E, channel).mean())  # no finite read-back to condition on
    assert WeightError(e4m3, 0x7E, channel, on_nonfinite="zero").mean() == -448.0
    assert WeightError(e4m3, 0x7E, channel, on_nonfinite="clamp").mean() == 0.0
    assert WeightError(e4m3, 0xFE, channel, on_nonfinite="clamp").mean() == 0.0  # -448 -> NaN with the sign bit set
    e5m2 = get_encoding("float8_e5m2", 8)
    to_inf = PerBitChannel([0.0] * 6 + [1.0, 0.0])  # 0x3C (1.0) -> 0x7C (+inf)
    assert WeightError(e5m2, 0x3C, to_inf, on_nonfinite="clamp").mean() == 57344.0 - 1.0


def test_error_cumulants_and_protection_on_floats():
    bf16 = get_encoding("bfloat16", 16)
    codes = bf16.encode(np.linspace(-1, 1, 7))
    table = error_cumulants(bf16, codes, 1e-3, 0.5)
    assert table.shape == (4, 7)
    single = error_cumulants(bf16, int(codes[2]), 1e-3, 0.5)
    assert np.allclose(single, table[:, 2], rtol=1e-12)
    guarded = error_cumulants(bf16, codes, 1e-3, protection=IdealMSB(2))
    assert np.all(guarded[1] < table[1] / 4)  # the top exponent bit (14) is guarded


def test_bad_input_names_the_argument():
    e4m3 = get_encoding("float8_e4m3fn", 8)
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        WeightError(e4m3, 3, 0.1, on_nonfinite="drop")
    with pytest.raises(ValueError, match="on_nonfinite must be one of"):
        error_cumulants(get_encoding("offset_binary", 8), 3, 0.1, on_nonfinite="nan")
    with pytest.raises(ValueError, match="max_flips must be"):
        float_law_table(e4m3, 3, 0.1, max_flips=-1)
    for order in ((7, 6, 5), (0, 1, 2, 3, 4, 5, 6, 6), "76543210", (True, 1, 2, 3, 4, 5, 6, 7)):
        with pytest.raises(ValueError, match="bit_order must be None or a permutation of 0..7"):
            WeightError(e4m3, 3, 0.1, protection=SECDED(2, 8), bit_order=order)
    with pytest.raises(ValueError, match="one bit per cell"):
        float_law_table(e4m3, 3, MultiLevelChannel(2, level_noise_transition(2, 0.01)))
    with pytest.raises(ValueError, match="exponent field"):
        exponent_flip_moments(get_encoding("mxint8", 8), 3, 0.1)


def test_truncation_bound_is_attained_by_a_two_point_tail():
    """Mass R at the largest error B left out of a point mass at 0: the true kappa_1 = R B sits within the
    bound R B / (1 - R), which no smaller bound of this form would hold."""
    R, B = 1e-3, 896.0
    bounds = cumulant_bounds(np.zeros(4), R, R * B ** np.arange(1, 5), 1 - R)
    assert R * B <= bounds[0] <= R * B / (1 - R) * (1 + 1e-12)
    assert R * (1 - R) * B**2 <= bounds[1]


def test_the_formula_route_warns_where_its_truncation_bound_is_loose_and_not_elsewhere():
    # bfloat16 zero at p = 1e-3: the mean comes from masks of many exponent flips, and the 3-flip sum is ~99% off.
    bfloat16 = get_encoding("bfloat16", 16)
    with pytest.warns(RuntimeWarning, match="raise max_flips"):
        WeightError(bfloat16, 0, 1e-3).mean()
    exact = WeightError(bfloat16, 0, 1e-3).mean(method="enumeration")
    assert exact == pytest.approx(1.347e22, rel=1e-3)  # the truth the warning points to
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WeightError(bfloat16, int(bfloat16.encode(0.02)), 1e-3).stats()


@pytest.mark.parametrize("policy", ("keep", "zero", "clamp"))
def test_a_stored_nan_or_infinity_is_refused_alone_and_nan_in_a_table(policy):
    float16 = get_encoding("float16", 16)
    infinity, nan = 0x7C00, 0x7E00
    for code in (infinity, nan):
        with pytest.raises(ValueError, match="code must store a finite value"):
            WeightError(float16, code, 1e-3, on_nonfinite=policy)
    table = error_cumulants(float16, np.array([infinity, nan, 0x3C00]), 1e-3, on_nonfinite=policy)
    assert np.isnan(table[:, :2]).all() and np.isfinite(table[:, 2]).all()
