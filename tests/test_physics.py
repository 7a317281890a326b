"""Device physics (Lemma A.7, A.8, Def A.9, Prop A.10): transmission, escape, flip probability, inverse design."""

import math

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from qtaml_theory import DirectionalChannel, SymmetricChannel, _closed_forms
from qtaml_theory.physics import (
    HFO2,
    SIO2,
    Device,
    deployment_channel,
    device_flip_probability,
    escape_probability,
    flip_probability,
    log_flip_probability,
    log_transmission,
    regime,
    thickness_for_flip_probability,
    transmission,
    window_for_flip_probability,
)

DEVICE = Device.from_material(SIO2, 2.8e-9, energy_ev=0.1, attempt_frequency_hz=1e13, electrons=1000, threshold=10)


def binomial_tail_reference(escape, electrons, threshold):
    """P(K >= K_th) summed term by term at 80 digits (an independent route from the incomplete beta)."""
    with mpmath.workdps(80):
        q = mpmath.mpf(escape)
        return sum(mpmath.binomial(electrons, j) * q**j * (1 - q) ** (electrons - j)
                   for j in range(threshold, electrons + 1))


@pytest.mark.parametrize("escape, electrons, threshold", [
    (1e-4, 1000, 3), (0.3, 50, 20), (1e-30, 200, 10), (1e-60, 100, 5), (0.02, 5000, 100), (0.999, 10, 10),
])
def test_binomial_flip_probability_is_correct_to_double_precision(escape, electrons, threshold):
    expected = binomial_tail_reference(escape, electrons, threshold)
    assert flip_probability(escape, electrons, threshold) == pytest.approx(float(expected), rel=4e-16)
    assert flip_probability(escape, electrons, threshold, method="exact") == flip_probability(
        escape, electrons, threshold)


def test_binomial_flip_probability_reaches_1e_minus_300():
    escape, electrons, threshold = 1e-61, 100, 5  # p ~ C(100, 5) 1e-305 ~ 7.5e-298
    expected = float(binomial_tail_reference(escape, electrons, threshold))
    assert 1e-300 < expected < 1e-295
    assert flip_probability(escape, electrons, threshold) == pytest.approx(expected, rel=4e-16)


@pytest.mark.parametrize("escape, electrons, threshold", [(1e-4, 1000, 3), (0.05, 400, 12), (1e-9, 10**6, 4)])
def test_tails_agree_with_scipy_stats(escape, electrons, threshold):
    assert flip_probability(escape, electrons, threshold) == pytest.approx(
        stats.binom.sf(threshold - 1, electrons, escape), rel=1e-12)
    assert flip_probability(escape, electrons, threshold, method="poisson") == pytest.approx(
        stats.poisson.sf(threshold - 1, electrons * escape), rel=1e-12)


def test_rare_form_is_lambda_to_the_k_over_k_factorial():
    assert flip_probability(1e-6, 1000, 3, method="rare") == pytest.approx(1e-9 / 6, rel=1e-14)


def test_flip_probability_broadcasts_over_arrays():
    escapes = np.array([1e-8, 1e-5, 1e-2])
    thresholds = np.array([[1], [5]])
    values = flip_probability(escapes, 1000, thresholds)
    assert values.shape == (2, 3)
    assert values[1, 2] == pytest.approx(flip_probability(1e-2, 1000, 5), rel=1e-15)


def test_log_flip_probability_goes_below_the_smallest_float():
    log_p = log_flip_probability(-800.0, 1000, 10)
    # P(K >= 10) = C(1000, 10) P^10 (1 + O(P)) with P = e^-800.
    log_binomial = math.lgamma(1001) - math.lgamma(11) - math.lgamma(991)
    assert log_p == pytest.approx(log_binomial - 8000.0, rel=1e-13)
    assert log_flip_probability(-800.0, 1000, 10, method="rare") == pytest.approx(
        10 * (math.log(1000) - 800.0) - math.lgamma(11), rel=1e-13)


def test_escape_probability_is_stable_for_tiny_and_large_transmissions():
    attempts = 1e13 * 1e-2
    assert escape_probability(1e-60, 1e13, 1e-2) == pytest.approx(attempts * 1e-60, rel=1e-15)
    assert escape_probability(1e-60, 1e13, 1e-2, method="rare") == pytest.approx(attempts * 1e-60, rel=1e-15)
    assert 0 < 1 - escape_probability(1e-10, 1e13, 1e-2) < 1e-4
    assert escape_probability(0.5, 1e13, 1e-2) == 1.0
    with mpmath.workdps(50):
        exact = 1 - (1 - mpmath.mpf("1e-14")) ** mpmath.mpf(attempts)
    assert escape_probability(1e-14, 1e13, 1e-2) == pytest.approx(float(exact), rel=1e-14)


def test_wkb_over_exact_tends_to_the_prefactor_for_thick_barriers():
    energy, barrier, mass = 0.5, SIO2.barrier_ev, SIO2.effective_mass
    prefactor = _closed_forms.wkb_prefactor(barrier, energy)
    ratios = [transmission(d, barrier, energy, mass, "exact") / transmission(d, barrier, energy, mass, "wkb")
              for d in (0.3e-9, 1e-9, 3e-9)]
    assert abs(ratios[-1] - prefactor) < 1e-12 * prefactor
    assert abs(ratios[0] - prefactor) > abs(ratios[-1] - prefactor)


def test_exact_transmission_matches_the_textbook_formula_at_high_precision():
    energy, barrier, mass, thickness = 1.0, 3.0, 0.5, 0.7e-9
    from scipy import constants

    with mpmath.workdps(50):
        kappa = mpmath.sqrt(2 * mass * constants.m_e * (barrier - energy) * constants.electron_volt) / constants.hbar
        expected = 1 / (1 + barrier**2 * mpmath.sinh(kappa * thickness) ** 2 / (4 * energy * (barrier - energy)))
    assert transmission(thickness, barrier, energy, mass, "exact") == pytest.approx(float(expected), rel=1e-13)
    assert log_transmission(2e-7, barrier, energy, mass, "exact") < -1000  # no overflow for very thick barriers


@given(st.floats(1e-9, 5e-9), st.floats(1.05, 1.5))
def test_flip_probability_rises_as_the_oxide_thins(thickness, factor):
    thick = device_flip_probability(DEVICE.replace(thickness_m=thickness * factor), 1e-2, log=True)
    thin = device_flip_probability(DEVICE.replace(thickness_m=thickness), 1e-2, log=True)
    assert thin > thick or thick == pytest.approx(0.0, abs=1e-12)  # strict until p saturates at 1


@given(st.floats(1.0, 3.0), st.floats(0.05, 0.5))
def test_flip_probability_rises_as_the_barrier_lowers(barrier, drop):
    high = device_flip_probability(DEVICE.replace(barrier_ev=barrier + drop), 1e-2, log=True)
    low = device_flip_probability(DEVICE.replace(barrier_ev=barrier), 1e-2, log=True)
    assert low > high or high == pytest.approx(0.0, abs=1e-12)


@given(st.floats(1e-6, 1e3), st.floats(1.5, 10.0))
def test_flip_probability_rises_as_the_window_lengthens(window, factor):
    short = device_flip_probability(DEVICE, window, log=True)
    long = device_flip_probability(DEVICE, window * factor, log=True)
    assert long > short or short == pytest.approx(0.0, abs=1e-12)


def test_rare_regime_log_p_is_linear_in_thickness_with_slope_minus_2_k_kappa():
    device = DEVICE.replace(threshold=5)
    thicknesses = np.array([4.0e-9, 4.5e-9, 5.0e-9])
    log_p = [device_flip_probability(device.replace(thickness_m=d), 1e-2, transmission_method="wkb", log=True)
             for d in thicknesses]
    from scipy import constants

    kappa = _closed_forms.decay_constant(device.barrier_ev * constants.electron_volt,
                                         device.energy_ev * constants.electron_volt,
                                         device.effective_mass * constants.m_e, constants.hbar)
    slopes = np.diff(log_p) / np.diff(thicknesses)
    # The exact tail bends away from the rare form by O(lambda); here lambda < 1e-8.
    np.testing.assert_allclose(slopes, -2 * device.threshold * kappa, rtol=1e-6)


def test_regimes_and_their_approximation_errors():
    rare = regime(1e-6, 1000, 3)
    assert rare.regime == "rare" and rare.rare_relative_error < 0.01 and rare.poisson_relative_error < 0.01
    assert regime(1e-2, 1000, 3).regime == "transition"
    high = regime(0.3, 100, 40)
    assert high.regime == "high-escape" and high.poisson_relative_error > 0.1


def test_inverse_design_recovers_the_target():
    thickness = thickness_for_flip_probability(1e-3, DEVICE, 1e-2)
    assert device_flip_probability(DEVICE.replace(thickness_m=thickness), 1e-2) == pytest.approx(1e-3, rel=1e-9)
    window = window_for_flip_probability(1e-3, DEVICE)
    assert device_flip_probability(DEVICE, window) == pytest.approx(1e-3, rel=1e-9)


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
    assert channel.p10 == pytest.approx(device_flip_probability(DEVICE, 1e-2))
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
    ("device count type", lambda: DEVICE.replace(threshold=2.5), r"threshold must be an integer"),
    ("channel model", lambda: deployment_channel(DEVICE, 1e-2, model="both"), r"model must be"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_bad_input_raises_a_clear_value_error(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()
