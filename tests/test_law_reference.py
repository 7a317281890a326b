"""Every route of the law and every run-time closed form against a reference written here.

The reference is the definition itself: each of the ``2**n`` flip patterns of a
stored code, its probability ``prod_i pi_i**m_i (1 - pi_i)**(1 - m_i)`` in
Fractions (a float rate is taken at its exact binary value), and the decoded
values from the encodings' definitions (not from ``qtaml_theory``). Exact
routes must equal it exactly; float routes must agree to ``REL`` relative
error, judged in mpmath at 60 digits, with an absolute floor of a few units
of the smallest subnormal only (the float grid there); never
``pytest.approx``'s default ``abs=1e-12``. The points include the extremes:
rates 5e-324 (the smallest positive double), 1e-300, 1e-12, 1/2, 1 - 1e-12,
and Delta up to 1e308 where the true value is finite.
"""

import math
from fractions import Fraction

import mpmath
import numpy as np
import pytest

from qtaml_theory import (
    DirectionalChannel,
    PerBitChannel,
    SymmetricChannel,
    WeightError,
    error_cumulants,
    get_encoding,
)
from qtaml_theory.channels import ProtectedChannel
from qtaml_theory.law import layer_output_cumulants
from qtaml_theory.verify import (
    FALSE_ALARM,
    MONTECARLO_STATISTICS,
    detection_power,
    montecarlo_standard_errors,
    montecarlo_zscores,
    z_threshold,
)

mpmath.mp.dps = 60

#: Float routes against the reference: relative error (measured worst: 1.5e-14).
REL = 1e-12
#: Rounding at the scale of terms that cancel (50 operations of 2.2e-16), in units of that scale.
FLOOR = 1e-14
#: The float grid's spacing at the bottom of the subnormals; the only absolute slack allowed.
TINY = 4 * 5e-324

RATES = (5e-324, 1e-300, 1e-12, 0.1, 0.5, 1 - 1e-12)
ENCODINGS = ("offset_binary", "offset_binary_symmetric", "twos_complement", "sign_magnitude")


# -- the reference ---------------------------------------------------------------------------------------------

def decode(name, n, q):
    """The encodings' definitions (paper Section 3, A.8), in units of Delta."""
    half = 2 ** (n - 1)
    if name == "offset_binary":
        return Fraction(q - half)
    if name == "offset_binary_symmetric":
        return Fraction(2 * q - (2**n - 1), 2)
    if name == "twos_complement":
        return Fraction(q - 2**n if q >= half else q)
    magnitude = q % half
    return Fraction(-magnitude if q >= half else magnitude)


def flip_rates(kind, n, code, rate, protected=0):
    """pi_i given the stored bit, from each channel's definition (exact Fractions)."""
    rate = Fraction(rate)
    bits = [(code >> i) & 1 for i in range(n)]
    if kind == "symmetric":
        rates = [rate] * n
    elif kind == "per_bit":
        rates = [per_bit_rate(rate, i, n) for i in range(n)]
    else:  # directional: 0 -> 1 with `rate`, 1 -> 0 with 1/5
        rates = [Fraction(1, 5) if b else rate for b in bits]
    return [Fraction(0) if i >= n - protected else r for i, r in enumerate(rates)]


def per_bit_rate(rate, i, n):
    """Bit i's rate, ``rate (i + 1) / n`` at its nearest double (so the float channel holds it exactly)."""
    return Fraction(float(Fraction(rate) * Fraction(i + 1, n)))


def channel_for(kind, n, rate, exact, protected=0):
    """The package's channel object for the same rates."""
    convert = Fraction if exact else float
    if kind == "symmetric":
        channel = SymmetricChannel(convert(rate))
    elif kind == "per_bit":
        channel = PerBitChannel([convert(per_bit_rate(rate, i, n)) for i in range(n)])
    else:
        channel = DirectionalChannel(convert(rate), convert(Fraction(1, 5)))
    return ProtectedChannel(channel, protected) if protected else channel


def reference_law(name, n, code, rates):
    """All flip patterns: ``(steps, weights, total)`` with integer weights over one common denominator.

    ``steps[j]`` is ``2 (decode(code ^ mask) - decode(code))`` (an integer: the
    symmetric grid has half-integer values) and pattern ``mask`` has
    probability ``weights[j] / total = prod_i pi_i**m_i (1 - pi_i)**(1 - m_i)``.
    """
    denominator = math.lcm(*(r.denominator for r in rates))
    stored = decode(name, n, code)
    steps, weights = [], []
    for mask in range(2**n):
        weight = 1
        for i, rate in enumerate(rates):
            flip = rate.numerator * (denominator // rate.denominator)
            weight *= flip if (mask >> i) & 1 else denominator - flip
        steps.append(int(2 * (decode(name, n, code ^ mask) - stored)))
        weights.append(weight)
    return steps, weights, denominator**n


def reference_pmf(name, n, code, rates, delta=1):
    """``{delta: probability}`` over all flip patterns, exact."""
    steps, weights, total = reference_law(name, n, code, rates)
    pmf = {}
    for step, weight in zip(steps, weights):
        if weight:
            value = Fraction(step, 2) * Fraction(delta)
            pmf[value] = pmf.get(value, 0) + Fraction(weight, total)
    return pmf


def reference_cumulants(name, n, code, rates, delta=1):
    """Exact kappa_1..kappa_4 from the raw power sums of the enumerated law."""
    steps, weights, total = reference_law(name, n, code, rates)
    m1, m2, m3, m4 = (Fraction(sum(s**j * w for s, w in zip(steps, weights)), 2**j * total) for j in (1, 2, 3, 4))
    kappas = (m1, m2 - m1**2, m3 - 3 * m2 * m1 + 2 * m1**3, m4 - 4 * m3 * m1 - 3 * m2**2 + 12 * m2 * m1**2 - 6 * m1**4)
    return tuple(k * Fraction(delta) ** j for j, k in enumerate(kappas, start=1))


def reference_stats(cumulants):
    """``(mean, var, std, skewness, excess kurtosis)`` as mpmath numbers (no float range limits)."""
    k1, k2, k3, k4 = (mpf(k) for k in cumulants)
    if k2 == 0:
        return k1, k2, k2, None, None
    return k1, k2, mpmath.sqrt(k2), k3 / k2**1.5, k4 / k2**2


def mpf(x):
    """An exact number (or float) as an mpmath number at 60 digits."""
    if isinstance(x, mpmath.mpf):
        return x
    x = Fraction(x)
    return mpmath.mpf(x.numerator) / x.denominator


def assert_close(got, expected, rel=REL, scale=0):
    """``got`` (a float) equals ``expected`` to ``rel``, or is +-inf where ``expected`` exceeds the float range.

    ``scale`` is the size of the terms that may cancel in a cumulant of order
    ``m >= 2`` (``sigma**m``, or 1 for a standardized moment): rounding at that
    scale, ``FLOOR * scale``, is allowed on top of ``rel``. At the extreme
    rates ``sigma**m`` is far below ``|kappa_m|`` (``p**(m/2)`` against ``p``), so
    the floor hides nothing there; a 5% error is ``1e12`` times larger.
    """
    expected = mpf(expected) if not isinstance(expected, mpmath.mpf) else expected
    if abs(expected) > mpf(Fraction(np.finfo(float).max)):
        assert got == math.copysign(math.inf, expected), (got, expected)
        return
    assert math.isfinite(got), (got, expected)
    assert abs(mpf(got) - expected) <= rel * abs(expected) + FLOOR * mpf(scale) + mpf(TINY), (got, float(expected))


def law_points():
    """(encoding, n, code, kind, rate, delta): extremes of the rate, scale and code."""
    for name in ENCODINGS:
        for kind in ("symmetric", "per_bit", "directional"):
            for rate in RATES:
                for code, delta in ((0, 1), (181, Fraction(3, 7)), (255, 1e308), (77, 1e-300)):
                    yield name, 8, code, kind, rate, delta


POINTS = list(law_points())


# -- every route of WeightError --------------------------------------------------------------------------------

@pytest.mark.parametrize("point", POINTS, ids=lambda p: "-".join(map(str, p)))
def test_every_route_of_the_law_matches_the_reference(point):
    """formula, enumeration, stats(), std(), skewness(), excess_kurtosis(), exact and float, at the extremes."""
    name, n, code, kind, rate, delta = point
    exact_cumulants = reference_cumulants(name, n, code, flip_rates(kind, n, code, rate), delta)
    mean, var, std, skew, kurt = reference_stats(exact_cumulants)
    encoding = get_encoding(name, n)

    exact = WeightError(encoding, code, channel_for(kind, n, rate, exact=True), delta=Fraction(delta))
    assert exact.cumulants() == exact_cumulants
    assert exact.cumulants("enumeration") == exact_cumulants
    k1, k2, k3, k4 = exact_cumulants
    stats = exact.stats()
    assert stats[:2] == (k1, k2) and exact.mean() == k1 and exact.var() == k2
    assert_close(exact.std(), std)
    if skew is None:
        assert all(math.isnan(x) for x in (stats[2], stats[3], exact.skewness(), exact.excess_kurtosis()))
    else:
        assert stats[3] == exact.excess_kurtosis() == k4 / k2**2  # exact with rational rates
        assert_close(stats[2], skew)
        assert_close(exact.skewness(), skew)

    law = WeightError(encoding, code, channel_for(kind, n, rate, exact=False), delta=float(delta))
    for method in ("formula", "enumeration"):
        for order, (got, expected) in enumerate(zip(law.cumulants(method), exact_cumulants), start=1):
            assert_close(got, expected, scale=std**order if order > 1 else 0)
        got_stats = law.stats(method)
        assert_close(got_stats[0], mean)
        assert_close(got_stats[1], var)
        assert_close(law.std(method), std)
        if skew is None:
            assert math.isnan(got_stats[2]) and math.isnan(got_stats[3])
            continue
        for got in (got_stats[2], law.skewness(method)):
            assert_close(got, skew, scale=1)
        for got in (got_stats[3], law.excess_kurtosis(method)):
            assert_close(got, kurt, scale=1)


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("rate", RATES)
def test_vectorized_cumulants_match_the_reference_for_every_code(name, rate):
    n, delta = 5, 0.75
    encoding = get_encoding(name, n)
    table = error_cumulants(encoding, np.arange(2**n), channel_for("directional", n, rate, exact=False), delta)
    for code in range(2**n):
        expected_cumulants = reference_cumulants(name, n, code, flip_rates("directional", n, code, rate), delta)
        std = mpmath.sqrt(mpf(expected_cumulants[1]))
        for order, (got, expected) in enumerate(zip(table[:, code], expected_cumulants), start=1):
            assert_close(float(got), expected, scale=std**order if order > 1 else 0)


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("rate", [1e-300, 0.1, 0.5, 1 - 1e-12])
def test_characteristic_function_routes_match_the_reference(name, rate):
    """|phi| <= 1, so an absolute 1e-13 is relative to the function's scale."""
    n, code, delta = 6, 41, 0.3
    pmf = reference_pmf(name, n, code, flip_rates("directional", n, code, rate), Fraction(delta))
    t = np.linspace(-9.0, 9.0, 37)
    values = np.array([float(v) for v in pmf])
    probabilities = np.array([float(q) for q in pmf.values()])
    expected = np.exp(1j * t[:, None] * values) @ probabilities
    law = WeightError(get_encoding(name, n), code, channel_for("directional", n, rate, exact=False), delta=delta)
    for method in ("formula", "enumeration"):
        assert np.max(np.abs(law.cf(t, method) - expected)) <= 1e-13


def test_the_issue_examples_are_finite_and_right():
    """Issue 12, section 2: each of these failed (ZeroDivisionError, OverflowError)."""
    encoding = get_encoding("offset_binary", 8)
    def expected(rate, delta=1):
        return reference_stats(reference_cumulants("offset_binary", 8, 200, flip_rates("symmetric", 8, 200, rate),
                                                   delta))

    assert_close(WeightError(encoding, 200, 1e-200).excess_kurtosis(), expected(1e-200)[4])
    for rate in (1e-300, Fraction(1, 10**300), Fraction(1, 10**400)):
        assert_close(WeightError(encoding, 200, rate).skewness(), expected(rate)[3])
        assert_close(WeightError(encoding, 200, rate).std(), expected(rate)[2])
    tiny = WeightError(encoding, 200, 1e-320, delta=1e308)  # var ~ 2e300: finite although delta**2 is not
    assert_close(tiny.var(), expected(1e-320, 1e308)[1])
    assert_close(WeightError(encoding, 200, 0.1, delta=1e300).std(), expected(0.1, 1e300)[2])  # var is not finite
    assert WeightError(encoding, 200, 0.1, delta=1e308).var() == math.inf  # the true value exceeds the float range


# -- Monte Carlo -----------------------------------------------------------------------------------------------

# The broad check: many laws, every Monte Carlo statistic, judged against the reference (not against the law's
# own enumeration or stats(), so an error in stats() cannot cancel). Bonferroni over all checks: a correct
# implementation fails with probability <= FALSE_ALARM = 1e-6.
MC_SIZE = 100_000
MC_CASES = [(name, n, code, kind, rate)
            for name in ENCODINGS
            for n, code in ((4, 5), (8, 200))
            for kind, rate in (("symmetric", Fraction(1, 5)), ("symmetric", Fraction(3, 100)),
                               ("directional", Fraction(1, 50)), ("per_bit", Fraction(1, 5)))]
MC_THRESHOLD = z_threshold(FALSE_ALARM, len(MC_CASES) * len(MONTECARLO_STATISTICS))


@pytest.mark.parametrize("case", range(len(MC_CASES)))
def test_montecarlo_agrees_with_the_reference_within_standard_error(case):
    """|z| <= MC_THRESHOLD (false-alarm rate 1e-6 over the whole table); power: see the test below."""
    name, n, code, kind, rate = MC_CASES[case]
    law = WeightError(get_encoding(name, n), code, channel_for(kind, n, rate, exact=False), delta=0.25)
    pmf = reference_pmf(name, n, code, flip_rates(kind, n, code, rate), Fraction(1, 4))
    for statistic, z in montecarlo_zscores(law, MC_SIZE, rng=1000 + case, pmf=pmf).items():
        assert abs(z) <= MC_THRESHOLD, (statistic, z, MC_THRESHOLD)


# The powered check: laws and a size at which a 5% error in any Monte Carlo statistic (mean, var, std, skewness,
# excess kurtosis, k3, k4) is detected with probability >= 0.99 (asserted from the exact standard errors), at a
# false-alarm rate of 1e-6 over all its checks.
POWER_SIZE = 1_000_000
POWER_CASES = [("offset_binary", 4, 1, "symmetric", Fraction(1, 10)),
               ("twos_complement", 4, 3, "directional", Fraction(1, 10)),
               ("sign_magnitude", 4, 3, "symmetric", Fraction(1, 10))]
POWER_THRESHOLD = z_threshold(FALSE_ALARM, len(POWER_CASES) * len(MONTECARLO_STATISTICS))


@pytest.mark.parametrize("case", POWER_CASES, ids=lambda c: c[0])
def test_montecarlo_detects_a_five_percent_error_in_every_statistic(case):
    name, n, code, kind, rate = case
    pmf = reference_pmf(name, n, code, flip_rates(kind, n, code, rate), Fraction(1, 2))
    for statistic, (exact, standard_error) in montecarlo_standard_errors(pmf, POWER_SIZE).items():
        assert detection_power(0.05, exact, standard_error, POWER_THRESHOLD) >= 0.99, (statistic, exact,
                                                                                       standard_error)
    law = WeightError(get_encoding(name, n), code, channel_for(kind, n, rate, exact=False), delta=0.5)
    for statistic, z in montecarlo_zscores(law, POWER_SIZE, rng=77, pmf=pmf).items():
        assert abs(z) <= POWER_THRESHOLD, (statistic, z, POWER_THRESHOLD)


def test_sample_cumulants_are_fishers_k_statistics():
    """Deterministic: the Monte Carlo route equals scipy's k-statistics of the same draws (an independent code)."""
    from scipy.stats import kstat

    law = WeightError(get_encoding("offset_binary", 6), 9, 0.15, delta=0.5)
    draws = law.sample(5000, rng=3)
    expected = [kstat(draws, m) for m in (1, 2, 3, 4)]
    for got, want in zip(law.cumulants("montecarlo", size=5000, rng=3), expected):
        assert abs(got - want) <= 1e-10 * abs(want)
    assert law.std("montecarlo", size=5000, rng=3) == pytest.approx(math.sqrt(expected[1]), rel=1e-12, abs=0)
    mean, var, skew, kurt = law.stats("montecarlo", size=5000, rng=3)
    assert skew == pytest.approx(expected[2] / expected[1] ** 1.5, rel=1e-10, abs=0)
    assert kurt == pytest.approx(expected[3] / expected[1] ** 2, rel=1e-10, abs=0)


def test_montecarlo_check_detects_a_wrong_sampler(monkeypatch):
    """The z-score test can fail: draws with the rate 5% too high are caught."""
    law = WeightError(get_encoding("offset_binary", 4), 1, 0.1, delta=0.5)
    wrong = WeightError(get_encoding("offset_binary", 4), 1, 0.105)
    monkeypatch.setattr(law, "_unit_sample", wrong._unit_sample)
    pmf = reference_pmf("offset_binary", 4, 1, flip_rates("symmetric", 4, 1, Fraction(1, 10)), Fraction(1, 2))
    zscores = montecarlo_zscores(law, POWER_SIZE, rng=7, pmf=pmf)
    assert max(abs(z) for z in zscores.values()) > POWER_THRESHOLD


@pytest.mark.parametrize("name", ENCODINGS)
@pytest.mark.parametrize("kind", ["symmetric", "directional"])
def test_layer_output_cumulants_are_the_input_weighted_sums_of_the_reference(name, kind):
    """Remark 3.5: ``kappa_m(sum_j x_j delta_j) = sum_j x_j**m kappa_m(delta_j)``, each term from the definition.

    Every cumulant order enters (a 5% error in any one of them is ~1e10 times
    the tolerance); inputs of both signs and sizes make odd orders matter.
    """
    n, rate, delta = 5, Fraction(3, 40), Fraction(1, 8)
    codes = [0, 7, 19, 31, 12, 25]
    inputs = [Fraction(3, 2), Fraction(-1, 4), Fraction(2), Fraction(-7, 8), Fraction(1, 16), Fraction(5, 4)]
    per_weight = [reference_cumulants(name, n, code, flip_rates(kind, n, code, rate), delta) for code in codes]
    expected = [sum(x**m * kappas[m - 1] for x, kappas in zip(inputs, per_weight)) for m in (1, 2, 3, 4)]
    channel = channel_for(kind, n, rate, exact=False)
    got = layer_output_cumulants(get_encoding(name, n), codes, channel, [float(x) for x in inputs], float(delta))
    for m, (value, truth) in enumerate(zip(got, expected), start=1):
        scale = sum(abs(x) ** m for x in inputs) * delta**m
        assert_close(float(value), truth, scale=scale), m
