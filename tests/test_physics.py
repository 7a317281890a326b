"""Device physics (Lemma A.7, A.8, Def A.9, Prop A.10): transmission, escape, flip probability, inverse design.

Every closed form and every route is held against a reference computed here,
in mpmath at 60 digits or more, from the definition in THEORY.md (the matched
wave function of the rectangular barrier, the Schrodinger equation, ``1 - (1 -
T)**(nu tau)``, the binomial and Poisson tails summed term by term from their
pmfs), at several points including the extremes. Comparisons of small numbers
pass ``abs=0`` (``pytest.approx`` keeps ``abs=1e-12`` otherwise, which would let
any value below 1e-12 pass) or compare logs. Tolerances: 4e-16 relative for a
result rounded once from a 40-digit sum, 1e-14 to 1e-12 for float formulas
(a few roundings, amplified by the condition number); a 5% error fails each.
"""

import math
import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import constants, stats

from qtaml_theory import DirectionalChannel, SymmetricChannel, _closed_forms
from qtaml_theory.physics import (
    HFO2,
    MAX_ELECTRONS,
    SIO2,
    ApproximationWarning,
    Device,
    deployment_channel,
    device_flip_probability,
    escape_probability,
    flip_probability,
    log_escape_probability,
    log_flip_probability,
    log_transmission,
    regime,
    thickness_for_flip_probability,
    transmission,
    window_for_flip_probability,
)

DEVICE = Device.from_material(SIO2, 2.8e-9, energy_ev=0.1, attempt_frequency_hz=1e13, electrons=1000, threshold=10)
DIGITS = 60


# -- references, from the definitions, in mpmath ------------------------------------

def wave_numbers(barrier_ev, energy_ev, mass):
    """``k`` outside and ``kappa`` inside the barrier (1/m), from ``hbar**2 k**2 / 2m = E`` and
    ``hbar**2 kappa**2 / 2m = V0 - E``: the Schrodinger equation for ``exp(i k x)`` and ``exp(kappa x)``."""
    e, m, hbar = (mpmath.mpf(c) for c in (constants.electron_volt, constants.m_e, constants.hbar))
    m = m * mpmath.mpf(mass)
    return (mpmath.sqrt(2 * m * mpmath.mpf(energy_ev) * e) / hbar,
            mpmath.sqrt(2 * m * (mpmath.mpf(barrier_ev) - mpmath.mpf(energy_ev)) * e) / hbar)


def matched_transmission(k, kappa, thickness):
    """``|t|**2`` by solving the four matching conditions (psi and psi' continuous at 0 and d) numerically.

    psi = e^{ikx} + r e^{-ikx} (x < 0), a e^{kappa x} + b e^{-kappa x} (inside), t e^{ikx} (x > d).
    """
    d = mpmath.mpf(thickness)
    grow, decay, phase = mpmath.exp(kappa * d), mpmath.exp(-kappa * d), mpmath.exp(1j * k * d)
    system = mpmath.matrix([[1, -1, -1, 0],
                            [-1j * k, -kappa, kappa, 0],
                            [0, grow, decay, -phase],
                            [0, kappa * grow, -kappa * decay, -1j * k * phase]])
    _, _, _, t = mpmath.lu_solve(system, mpmath.matrix([-1, -1j * k, 0, 0]))
    return abs(t) ** 2


def digits_for(kappa_d):
    """Working digits for the matched system, whose condition number grows like exp(2 kappa d)."""
    return DIGITS + int(2 * float(kappa_d) / math.log(10))


def binomial_pmf(q, n, j):
    return mpmath.binomial(n, j) * q**j * (1 - q) ** (n - j)


def binomial_tail_reference(escape, electrons, threshold, log_escape=None):
    """P(K >= K_th), K ~ Binomial(N, P), at 80 digits, each term from the pmf (not from a ratio recurrence).

    Above the mean the terms j >= K_th are summed until they fall below 1e-80 of the sum (they then fall
    geometrically); below it, 1 - sum_{j < K_th}. ``log_escape`` gives P as exp(log_escape).
    """
    with mpmath.workdps(80):
        q = mpmath.exp(mpmath.mpf(log_escape)) if log_escape is not None else mpmath.mpf(escape)
        if threshold <= electrons * q:
            return 1 - mpmath.fsum(binomial_pmf(q, electrons, j) for j in range(threshold))
        total, j = mpmath.mpf(0), threshold
        while j <= electrons:
            term = binomial_pmf(q, electrons, j)
            total += term
            if term < total * mpmath.mpf(10) ** -80:
                break
            j += 1
        return total


def poisson_tail_reference(escape, electrons, threshold):
    """P(K >= K_th), K ~ Poisson(lambda = N P), at 80 digits from the pmf e^-lambda lambda^j / j!."""
    with mpmath.workdps(80):
        lam = mpmath.mpf(escape) * electrons
        if threshold <= lam:
            return 1 - mpmath.fsum(mpmath.exp(-lam) * lam**j / mpmath.factorial(j) for j in range(threshold))
        return mpmath.nsum(lambda j: mpmath.exp(-lam) * lam**j / mpmath.factorial(j), [threshold, mpmath.inf])


def escape_reference(transmission_value, attempts, log_transmission_value=None):
    """1 - (1 - T)**A (Lemma A.8's definition) at 60 digits, T or log T given.

    Written ``-expm1(A log1p(-T))`` (the same number: mpmath's log1p and expm1 keep their digits for tiny
    arguments, where ``1 - T`` would need ``-log10 T`` digits); ``log1p(-T)`` is ``log(-expm1(log T))``
    near T = 1.
    """
    with mpmath.workdps(DIGITS):
        if log_transmission_value is None:
            log_1mt = mpmath.log1p(-mpmath.mpf(transmission_value))
        else:
            log_t = mpmath.mpf(log_transmission_value)
            log_1mt = mpmath.log(-mpmath.expm1(log_t)) if log_t > -1 else mpmath.log1p(-mpmath.exp(log_t))
        return -mpmath.expm1(mpmath.mpf(attempts) * log_1mt)


SMALLEST_NORMAL = np.finfo(np.float64).tiny


def subnormal_slack(expected):
    """0 for a normal double; one unit of the subnormal grid (5e-324) for a subnormal result."""
    return 0 if expected >= SMALLEST_NORMAL else 5e-324


# -- the generated closed forms, against their definitions ---------------------------

MATERIAL_POINTS = [  # (V0 eV, E eV, m*): the presets, an electron near the bottom and one just under the top
    (SIO2.barrier_ev, 0.1, SIO2.effective_mass), (HFO2.barrier_ev, 0.5, HFO2.effective_mass),
    (3.0, 1e-6, 1.0), (3.0, 3.0 - 1e-6, 0.05), (0.01, 0.005, 10.0),
]


@pytest.mark.parametrize("barrier, energy, mass", MATERIAL_POINTS)
@pytest.mark.parametrize("unit", [constants.electron_volt, 1.0])
def test_decay_constant_solves_the_schrodinger_equation(barrier, energy, mass, unit):
    # The same floats go to both sides (energies in J, or in eV); mpmath takes V0 - E of those floats exactly.
    v0, e, m = barrier * unit, energy * unit, mass * constants.m_e
    kappa = _closed_forms.decay_constant(v0, e, m, constants.hbar)
    with mpmath.workdps(DIGITS):
        # -hbar**2 / (2m) kappa**2 + V0 - E = 0 for psi = exp(kappa x); the positive root.
        expected = mpmath.findroot(lambda x: -mpmath.mpf(constants.hbar) ** 2 / (2 * mpmath.mpf(m)) * x**2
                                   + mpmath.mpf(v0) - mpmath.mpf(e),
                                   mpmath.sqrt(2 * mpmath.mpf(m) * (mpmath.mpf(v0) - mpmath.mpf(e))) / constants.hbar
                                   * 1.01)
    assert expected > 0
    assert kappa == pytest.approx(float(expected), rel=1e-14, abs=0)


@pytest.mark.parametrize("kappa, thickness", [(1.0, 1.0), (3.7e9, 2.8e-9), (1e12, 1e-6), (2.5e7, 1e-12)])
def test_wkb_exponent_is_minus_twice_the_integral_of_kappa(kappa, thickness):
    with mpmath.workdps(DIGITS):
        expected = -2 * mpmath.quad(lambda x: mpmath.mpf(kappa), [0, thickness])
    assert _closed_forms.wkb_log_transmission(kappa, thickness) == pytest.approx(float(expected), rel=1e-15, abs=0)


@pytest.mark.parametrize("barrier, energy, mass", MATERIAL_POINTS)
def test_transmission_prefactor_reproduces_the_matched_wave_function(barrier, energy, mass):
    with mpmath.workdps(DIGITS):
        k, kappa = wave_numbers(barrier, energy, mass)
        thickness = 0.7 / kappa  # kappa d = 0.7: the prefactor is read off 1/T - 1 where sinh is of order 1
        expected = (1 / matched_transmission(k, kappa, thickness) - 1) / mpmath.sinh(kappa * thickness) ** 2
    assert _closed_forms.transmission_prefactor(barrier, energy) == pytest.approx(float(expected), rel=1e-12, abs=0)


@pytest.mark.parametrize("barrier, energy, mass", MATERIAL_POINTS)
def test_wkb_prefactor_is_the_thick_barrier_limit_of_exact_over_wkb(barrier, energy, mass):
    kappa_d = 60  # T_exact / T_WKB = prefactor (1 + O(exp(-2 kappa d))): 1e-52 here
    with mpmath.workdps(digits_for(kappa_d)):
        k, kappa = wave_numbers(barrier, energy, mass)
        expected = matched_transmission(k, kappa, kappa_d / kappa) / mpmath.exp(-2 * kappa_d)
    # The generated form (16 E V0 - 16 E**2) / V0**2 loses log10(V0 / (V0 - E)) digits as E -> V0 (the
    # factored 16 E (V0 - E) / V0**2 would not): the tolerance carries that condition number.
    condition = max(1.0, barrier / (barrier - energy))
    assert _closed_forms.wkb_prefactor(barrier, energy) == pytest.approx(float(expected), rel=1e-14 * condition,
                                                                         abs=0)


@pytest.mark.parametrize("transmission_value", [1e-40, 1e-120, 1e-300, 5e-324])
@pytest.mark.parametrize("attempts", [1e-3, 1.0, 1e11, 1e25])
def test_rare_escape_form_is_the_first_order_term_of_the_escape(transmission_value, attempts):
    # 1 - (1 - T)**A = A T (1 + O(A T)): at A T <= 1e-15 the exact value is the rare form to double precision.
    expected = float(escape_reference(transmission_value, attempts))
    rare = _closed_forms.rare_escape_probability(transmission_value, attempts)
    assert rare == pytest.approx(expected, rel=1e-14, abs=subnormal_slack(expected))


@pytest.mark.parametrize("log_lam", [-25.0, -120.0, -700.0, -5000.0])
@pytest.mark.parametrize("threshold", [1, 3, 10, 40])
def test_rare_flip_form_is_the_leading_term_of_the_poisson_tail(log_lam, threshold):
    # P(Poisson(lambda) >= K) = lambda**K / K! (1 + O(lambda)); lambda <= e^-25 ~ 1e-11 (relative 1e-11 in p).
    with mpmath.workdps(80):
        lam = mpmath.exp(log_lam)
        expected = float(mpmath.log(mpmath.fsum(mpmath.exp(-lam) * lam**j / mpmath.factorial(j)
                                                for j in range(threshold, threshold + 6))))
    log_p = _closed_forms.rare_log_flip_probability(log_lam, threshold)
    assert abs(log_p - expected) <= 1e-10 + 1e-14 * abs(expected)  # 5% in p is 0.049 in log p


# -- transmission ---------------------------------------------------------------------

@pytest.mark.parametrize("barrier, energy, mass", MATERIAL_POINTS[:3])
@pytest.mark.parametrize("kappa_d", [1e-6, 0.3, 5.0, 40.0])
def test_exact_transmission_matches_the_matched_wave_function(barrier, energy, mass, kappa_d):
    with mpmath.workdps(digits_for(kappa_d)):
        k, kappa = wave_numbers(barrier, energy, mass)
        thickness = float(kappa_d / kappa)
        expected = matched_transmission(k, kappa, thickness)
        log_expected = float(mpmath.log(expected))
    assert transmission(thickness, barrier, energy, mass, "exact") == pytest.approx(float(expected), rel=1e-12, abs=0)
    assert log_transmission(thickness, barrier, energy, mass, "exact") == pytest.approx(
        log_expected, rel=1e-12, abs=0)


def test_exact_transmission_of_a_barrier_thick_enough_to_underflow():
    barrier, energy, mass, kappa_d = SIO2.barrier_ev, 0.1, SIO2.effective_mass, 500.0
    with mpmath.workdps(digits_for(kappa_d)):
        k, kappa = wave_numbers(barrier, energy, mass)
        thickness = float(kappa_d / kappa)
        log_expected = float(mpmath.log(matched_transmission(k, kappa, thickness)))
    assert log_transmission(thickness, barrier, energy, mass, "exact") == pytest.approx(log_expected, rel=1e-13, abs=0)
    assert transmission(thickness, barrier, energy, mass, "exact") == 0.0  # e^-1000 is below the smallest double


@pytest.mark.parametrize("thickness", [1e-12, 2.1e-9, 8e-9, 1e-7])
def test_wkb_transmission_is_exp_of_minus_two_kappa_d(thickness):
    with mpmath.workdps(DIGITS):
        _, kappa = wave_numbers(SIO2.barrier_ev, 0.1, SIO2.effective_mass)
        log_expected = -2 * kappa * thickness
    assert log_transmission(thickness, SIO2.barrier_ev, 0.1, SIO2.effective_mass) == pytest.approx(
        float(log_expected), rel=1e-13, abs=0)
    value = transmission(thickness, SIO2.barrier_ev, 0.1, SIO2.effective_mass)
    assert value == pytest.approx(float(mpmath.exp(log_expected)), rel=1e-12, abs=0) if value else log_expected < -745


def test_wkb_over_exact_tends_to_the_prefactor_for_thick_barriers():
    energy, barrier, mass = 0.5, SIO2.barrier_ev, SIO2.effective_mass
    prefactor = _closed_forms.wkb_prefactor(barrier, energy)
    ratios = [transmission(d, barrier, energy, mass, "exact") / transmission(d, barrier, energy, mass, "wkb")
              for d in (0.3e-9, 1e-9, 3e-9)]
    assert abs(ratios[-1] - prefactor) < 1e-12 * prefactor
    assert abs(ratios[0] - prefactor) > abs(ratios[-1] - prefactor)


# -- escape ---------------------------------------------------------------------------

@pytest.mark.parametrize("transmission_value", [5e-324, 1e-300, 1e-60, 1e-31, 1e-14, 1e-3, 0.5, 1 - 2**-53])
@pytest.mark.parametrize("attempts", [(1e-3, 1e-2), (1e13, 1e-2), (1e15, 1e10)])
def test_exact_escape_probability_matches_the_definition(transmission_value, attempts):
    expected = float(escape_reference(transmission_value, attempts[0] * attempts[1]))
    value = escape_probability(transmission_value, *attempts)
    # Below the smallest normal double the result itself is subnormal: one unit of 5e-324 is allowed there.
    assert value == pytest.approx(expected, rel=4e-16, abs=subnormal_slack(expected))


# -23.2: |x| = A T just below 1e-10 at A = 1, where the series log(-x) + x / 2 takes over.
@pytest.mark.parametrize("log_t", [-1e5, -2000.0, -745.0, -120.0, -70.0, -40.0, -30.0, -23.2, -5.0, -1e-20])
@pytest.mark.parametrize("attempts", [1e-5, 1.0, 1e11, 1e25, 1e300])
def test_log_escape_probability_matches_the_definition_beyond_underflow(log_t, attempts):
    def reference(value):
        with mpmath.workdps(40):
            return float(mpmath.log(escape_reference(None, attempts, log_transmission_value=value)))

    log_expected = reference(log_t)
    # Where A T is of order 1 the map log T -> log P_esc amplifies: the slack is what a few units in the last
    # place of log T itself move the answer (the conditioning), plus a few units of the answer.
    conditioning = abs(reference(log_t + 4 * np.spacing(log_t)) - log_expected)
    assert log_escape_probability(log_t, attempts, 1.0) == pytest.approx(
        log_expected, rel=1e-15, abs=conditioning + 1e-300)


def test_rare_escape_form_is_exact_at_first_order():
    assert escape_probability(1e-60, 1e13, 1e-2, method="rare") == pytest.approx(1e11 * 1e-60, rel=1e-15, abs=0)
    assert log_escape_probability(-800.0, 1e13, 1e-2, method="rare") == pytest.approx(
        math.log(1e11) - 800.0, rel=1e-15, abs=0)


# -- flip -----------------------------------------------------------------------------

TAIL_CASES = [  # (P_esc, N_e, K_th): both sides of the mode, tiny and near-one tails, large N_e
    (1e-4, 1000, 3), (0.3, 50, 20), (1e-30, 200, 10), (1e-60, 100, 5), (0.02, 5000, 100), (0.999, 10, 10),
    (0.5, 1, 1), (0.3, 1000, 250), (1e-4, 10**8, 10), (1e-6, 10**8, 130), (1e-12, 10**6, 2),
    (0.75, 40, 2),
]


@pytest.mark.parametrize("escape, electrons, threshold", TAIL_CASES)
def test_binomial_flip_probability_is_correct_to_double_precision(escape, electrons, threshold):
    expected = binomial_tail_reference(escape, electrons, threshold)
    assert flip_probability(escape, electrons, threshold) == pytest.approx(float(expected), rel=4e-16, abs=0)
    assert flip_probability(escape, electrons, threshold, method="exact") == flip_probability(
        escape, electrons, threshold)
    with mpmath.workdps(40):
        log_expected = float(mpmath.log(expected))
    assert log_flip_probability(math.log(escape), electrons, threshold) == pytest.approx(
        float(mpmath.log(binomial_tail_reference(None, electrons, threshold, math.log(escape)))), rel=1e-15,
        abs=1e-300)
    assert log_expected <= 0


@pytest.mark.parametrize("escape, electrons, threshold", [
    (1e-52, 100, 5),  # p ~ 7.5e-253
    (1e-61, 100, 5),  # p ~ 7.5e-298
    (2e-62, 100, 5),  # p ~ 2.4e-301: the last decade of normal doubles
    (1e-103, 1000, 3),  # p ~ 1.7e-301, a three-electron threshold
])
def test_binomial_flip_probability_keeps_full_precision_down_to_1e_minus_300(escape, electrons, threshold):
    expected = float(binomial_tail_reference(escape, electrons, threshold))
    assert 1e-302 < expected < 1e-250
    assert flip_probability(escape, electrons, threshold) == pytest.approx(expected, rel=4e-16, abs=0)


@pytest.mark.parametrize("log_escape, electrons, threshold", [
    (-800.0, 1000, 10), (-300.0, 100, 5), (-1e5, 10**6, 40), (-2.0, 10**5, 20000), (-0.01, 300, 290), (-1e-9, 50, 50),
])
def test_log_flip_probability_goes_below_the_smallest_double(log_escape, electrons, threshold):
    with mpmath.workdps(80):
        expected = float(mpmath.log(binomial_tail_reference(None, electrons, threshold, log_escape)))
    assert log_flip_probability(log_escape, electrons, threshold) == pytest.approx(expected, rel=1e-15, abs=1e-300)


@pytest.mark.parametrize("escape, electrons, threshold", [
    (1e-4, 1000, 3), (0.05, 400, 12), (1e-9, 10**6, 4), (1e-70, 100, 4), (0.01, 10**5, 900), (0.01, 10**4, 130),
])
def test_poisson_flip_probability_is_the_poisson_tail(escape, electrons, threshold):
    expected = poisson_tail_reference(escape, electrons, threshold)
    assert flip_probability(escape, electrons, threshold, method="poisson") == pytest.approx(
        float(expected), rel=4e-16, abs=0)


@pytest.mark.parametrize("escape, electrons, threshold", [(1e-4, 1000, 3), (0.05, 400, 12), (1e-9, 10**6, 4)])
def test_tails_agree_with_scipy_stats(escape, electrons, threshold):
    assert flip_probability(escape, electrons, threshold) == pytest.approx(
        stats.binom.sf(threshold - 1, electrons, escape), rel=1e-12, abs=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ApproximationWarning)  # inside the regime: no warning
        assert flip_probability(escape, electrons, threshold, method="poisson") == pytest.approx(
            stats.poisson.sf(threshold - 1, electrons * escape), rel=1e-12, abs=0)


def test_rare_form_is_lambda_to_the_k_over_k_factorial():
    with warnings.catch_warnings():
        warnings.simplefilter("error", ApproximationWarning)
        assert flip_probability(1e-6, 1000, 3, method="rare") == pytest.approx(1e-9 / 6, rel=1e-14, abs=0)
        assert log_flip_probability(-800.0, 1000, 10, method="rare") == pytest.approx(
            10 * (math.log(1000) - 800.0) - math.lgamma(11), rel=1e-13, abs=0)


def test_the_tail_that_failed_to_converge_is_right():
    # mpmath's incomplete beta raised NoConvergence here; the tail is 1 - P(K <= 9) with lambda = 1e4.
    assert flip_probability(1e-4, 10**8, 10) == float(binomial_tail_reference(1e-4, 10**8, 10)) == 1.0
    assert log_flip_probability(math.log(1e-4), 10**8, 10) == 0.0  # log(1 - 4e-4330) rounds to -0.0


def test_flip_probability_broadcasts_over_arrays():
    escapes = np.array([1e-8, 1e-5, 1e-2])
    thresholds = np.array([[1], [5]])
    values = flip_probability(escapes, 1000, thresholds)
    assert values.shape == (2, 3)
    assert values[1, 2] == pytest.approx(flip_probability(1e-2, 1000, 5), rel=1e-15, abs=0)


# -- approximations outside their regime ---------------------------------------------

def test_rare_flip_form_outside_its_regime_warns_and_is_capped_at_one():
    with pytest.warns(ApproximationWarning, match=r"lambda = N_e P_esc = 500 .* capped at 1"):
        assert flip_probability(0.5, 1000, 3, method="rare") == 1.0
    with pytest.warns(ApproximationWarning, match="capped at 1"):
        assert log_flip_probability(math.log(0.5), 1000, 3, method="rare") == 0.0
    with pytest.warns(ApproximationWarning, match=r"lambda = N_e P_esc = 0.5 >= 0.1"):
        value = flip_probability(5e-4, 1000, 3, method="rare")  # outside, but below 1: not capped
    assert value == pytest.approx(0.5**3 / 6, rel=1e-14, abs=0)
    with pytest.warns(ApproximationWarning):
        values = flip_probability(np.array([1e-9, 0.5]), 1000, 3, method="rare")
    assert values.max() == 1.0 and values[0] == pytest.approx(1e-18 / 6, rel=1e-13, abs=0)


def test_rare_escape_form_outside_its_regime_warns_and_is_capped_at_one():
    with pytest.warns(ApproximationWarning, match="capped at 1"):
        assert escape_probability(0.5, 1e13, 1e-2, method="rare") == 1.0
    with pytest.warns(ApproximationWarning, match="capped at 1"):
        assert log_escape_probability(math.log(0.5), 1e13, 1e-2, method="rare") == 0.0


def test_poisson_tail_in_the_high_escape_regime_warns():
    with pytest.warns(ApproximationWarning, match=r"P_esc = 0.3 > 0.1"):
        value = flip_probability(0.3, 100, 40, method="poisson")
    assert value == pytest.approx(float(poisson_tail_reference(0.3, 100, 40)), rel=4e-16, abs=0)


def test_exact_routes_never_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        flip_probability(np.array([1e-300, 0.5, 1.0]), 1000, 3)
        log_flip_probability(-1e4, 1000, 3)
        escape_probability(0.9, 1e15, 1.0)
        log_escape_probability(-1e5, 1e300, 1.0)
        device_flip_probability(DEVICE, 1e-2)


# -- the whole chain ------------------------------------------------------------------

@given(st.floats(1e-9, 5e-9), st.floats(1.05, 1.5))
def test_flip_probability_rises_as_the_oxide_thins(thickness, factor):
    thick = device_flip_probability(DEVICE.replace(thickness_m=thickness * factor), 1e-2, log=True)
    thin = device_flip_probability(DEVICE.replace(thickness_m=thickness), 1e-2, log=True)
    assert thin > thick or thick == 0.0  # strict until p saturates at 1


@given(st.floats(1.0, 3.0), st.floats(0.05, 0.5))
def test_flip_probability_rises_as_the_barrier_lowers(barrier, drop):
    high = device_flip_probability(DEVICE.replace(barrier_ev=barrier + drop), 1e-2, log=True)
    low = device_flip_probability(DEVICE.replace(barrier_ev=barrier), 1e-2, log=True)
    assert low > high or high == 0.0


@given(st.floats(1e-6, 1e3), st.floats(1.5, 10.0))
def test_flip_probability_rises_as_the_window_lengthens(window, factor):
    short = device_flip_probability(DEVICE, window, log=True)
    long = device_flip_probability(DEVICE, window * factor, log=True)
    assert long > short or short == 0.0


def test_rare_regime_log_p_is_linear_in_thickness_with_slope_minus_2_k_kappa():
    device = DEVICE.replace(threshold=5)
    thicknesses = np.array([4.0e-9, 4.5e-9, 5.0e-9])
    log_p = [device_flip_probability(device.replace(thickness_m=d), 1e-2, transmission_method="wkb", log=True)
             for d in thicknesses]
    kappa = _closed_forms.decay_constant(device.barrier_ev * constants.electron_volt,
                                         device.energy_ev * constants.electron_volt,
                                         device.effective_mass * constants.m_e, constants.hbar)
    slopes = np.diff(log_p) / np.diff(thicknesses)
    # The exact tail bends away from the rare form by O(lambda); here lambda < 1e-8.
    np.testing.assert_allclose(slopes, -2 * device.threshold * kappa, rtol=1e-6)


@pytest.mark.parametrize("thickness", [2.8e-9, 5e-9, 9e-9])
def test_device_flip_probability_matches_the_chain_computed_in_mpmath(thickness):
    device = DEVICE.replace(thickness_m=thickness)
    with mpmath.workdps(digits_for(60)):
        k, kappa = wave_numbers(device.barrier_ev, device.energy_ev, device.effective_mass)
        log_t = mpmath.log(matched_transmission(k, kappa, thickness))
    attempts = device.attempt_frequency_hz * 1e-2
    log_escape = float(mpmath.log(escape_reference(None, attempts, log_transmission_value=log_t)))
    with mpmath.workdps(40):
        expected = float(mpmath.log(binomial_tail_reference(None, device.electrons, device.threshold, log_escape)))
    # log T is rounded once to float before the escape (relative 1e-16 of |log T| <= 140): K_th 1e-14 in log p.
    assert device_flip_probability(device, 1e-2, log=True) == pytest.approx(expected, rel=1e-13, abs=0)


@pytest.mark.parametrize("escape, electrons, threshold, name", [
    (1e-6, 1000, 3, "rare"), (1e-2, 1000, 3, "transition"), (0.3, 100, 40, "high-escape"),
    (1e-35, 1000, 10, "rare"),  # p ~ 2.6e-327 underflows: the errors come from the logs
])
def test_regimes_and_their_approximation_errors(escape, electrons, threshold, name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # measuring the approximations is not using them: no warning
        report = regime(escape, electrons, threshold)
    with mpmath.workdps(80):
        exact = binomial_tail_reference(escape, electrons, threshold)
        poisson = poisson_tail_reference(escape, electrons, threshold)
        rare = (mpmath.mpf(escape) * electrons) ** threshold / mpmath.factorial(threshold)
        expected = {"poisson": float(abs(poisson / exact - 1)), "rare": float(abs(rare / exact - 1))}
        logs = {"exact": float(mpmath.log(exact)), "poisson": float(mpmath.log(poisson))}
    assert report.regime == name
    assert report.poisson_relative_error == pytest.approx(expected["poisson"], rel=1e-9, abs=0)
    assert report.rare_relative_error == pytest.approx(expected["rare"], rel=1e-9, abs=0)
    assert report.log_exact == pytest.approx(logs["exact"], rel=1e-15, abs=0)
    assert report.log_poisson == pytest.approx(logs["poisson"], rel=1e-15, abs=0)
    assert report.exact == pytest.approx(math.exp(logs["exact"]), rel=1e-14, abs=0)
    assert 0 <= report.rare <= 1 and 0 <= report.poisson <= 1


def test_inverse_design_recovers_the_target():
    thickness = thickness_for_flip_probability(1e-3, DEVICE, 1e-2)
    assert device_flip_probability(DEVICE.replace(thickness_m=thickness), 1e-2) == pytest.approx(1e-3, rel=1e-9,
                                                                                                 abs=0)
    window = window_for_flip_probability(1e-3, DEVICE)
    assert device_flip_probability(DEVICE, window) == pytest.approx(1e-3, rel=1e-9, abs=0)


def test_inverse_design_says_when_the_target_cannot_be_reached():
    with pytest.raises(ValueError, match="cannot be reached"):
        thickness_for_flip_probability(1e-3, DEVICE, 1e-2, bracket_m=(4e-9, 5e-9))
    with pytest.raises(ValueError, match=r"target_p must lie in \(0, 1\)"):
        window_for_flip_probability(1.0, DEVICE)


def test_hfo2_leaks_more_than_sio2_at_equal_thickness():
    hfo2 = Device.from_material(HFO2, 2.8e-9, 0.1, 1e13, 1000, 10)
    assert device_flip_probability(hfo2, 1e-2, log=True) > device_flip_probability(DEVICE, 1e-2, log=True)


def test_deployment_channel_from_a_device():
    channel = deployment_channel(DEVICE, 1e-2)
    assert isinstance(channel, DirectionalChannel) and channel.p01 == 0
    assert channel.p10 == device_flip_probability(DEVICE, 1e-2)
    assert isinstance(deployment_channel(DEVICE, 1e-2, model="symmetric"), SymmetricChannel)


INVALID = [
    ("zero thickness", lambda: transmission(0.0, 3.0, 1.0), r"thickness_m must be > 0"),
    ("negative thickness", lambda: transmission(-1e-9, 3.0, 1.0), r"thickness_m must be > 0"),
    ("energy at the barrier", lambda: transmission(1e-9, 3.0, 3.0), r"energy_ev must be below barrier_ev"),
    ("energy above the barrier", lambda: transmission(1e-9, 3.0, 3.5, method="exact"), r"do not apply"),
    ("zero energy exact", lambda: transmission(1e-9, 3.0, 0.0, method="exact"), r"energy_ev must be > 0"),
    ("non-finite", lambda: transmission(math.nan, 3.0, 1.0), r"thickness_m must be finite"),
    ("mass", lambda: transmission(1e-9, 3.0, 1.0, effective_mass=0), r"effective_mass must be > 0"),
    ("method", lambda: transmission(1e-9, 3.0, 1.0, method="airy"), r"method must be one of"),
    ("transmission above one", lambda: escape_probability(1.5, 1e13, 1.0), r"transmission_value must lie in"),
    ("window", lambda: escape_probability(1e-9, 1e13, 0.0), r"window_s must be > 0"),
    ("fewer electrons than threshold", lambda: flip_probability(1e-3, 5, 10), r"electrons must be >= threshold"),
    ("fractional electrons", lambda: flip_probability(1e-3, 100.5, 10), r"electrons must be a whole number"),
    ("threshold zero", lambda: flip_probability(1e-3, 100, 0), r"threshold must be an integer >= 1"),
    ("escape NaN", lambda: flip_probability(math.nan, 100, 3), r"escape_probability_value must be finite"),
    ("target", lambda: thickness_for_flip_probability(0.0, DEVICE, 1e-2), r"target_p must lie in \(0, 1\)"),
    ("device electrons", lambda: DEVICE.replace(electrons=3), r"electrons must be >= threshold"),
    ("too many electrons", lambda: flip_probability(1e-3, MAX_ELECTRONS + 1, 3), r"electrons must be <= MAX_EL"),
    ("regime of an array", lambda: regime(np.array([1e-3, 1e-2]), 100, 3), r"must be a single number"),
    ("regime at zero", lambda: regime(0.0, 100, 3), r"escape_probability_value must be > 0"),
    ("log escape above 0", lambda: log_flip_probability(0.1, 100, 3), r"log_escape_probability must be <= 0"),
    ("device count type", lambda: DEVICE.replace(threshold=2.5), r"threshold must be an integer"),
    ("channel model", lambda: deployment_channel(DEVICE, 1e-2, model="both"), r"model must be"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_bad_input_raises_a_clear_value_error(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()
