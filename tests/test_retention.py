"""Retention over time for multi-level cells (issue 16): the device model, refresh and Arrhenius acceleration.

The charge-loss transition is held against a brute force written from the model's statement (level L holds
L N_e electrons, K ~ Binomial(L N_e, P_esc) escape, the cell reads m levels down when
K_th + (m - 1) N_e <= K < K_th + m N_e) with scipy's binomial pmf.
"""

import math

import numpy as np
import pytest
from scipy.stats import binom

from qtaml_theory.physics import SIO2, Device, device_flip_probability, escape_probability, transmission
from qtaml_theory.physics.retention import (
    SECONDS_PER_YEAR,
    arrhenius_acceleration,
    charge_loss_transition,
    retention_age_s,
    retention_channel,
)

SMALL = Device.from_material(SIO2, 2.0e-9, energy_ev=0.1, attempt_frequency_hz=1e13, electrons=12, threshold=3)
TIMES = np.array([1e-3, 3e-2, 1.0])


def brute_force(device, window_s, bits):
    escape = float(escape_probability(transmission(device.thickness_m, device.barrier_ev, device.energy_ev,
                                                   device.effective_mass, method="exact"),
                                      device.attempt_frequency_hz, window_s))
    levels = 1 << bits
    matrix = np.zeros((levels, levels))
    matrix[0, 0] = 1
    for level in range(1, levels):
        for lost in range(level * device.electrons + 1):
            drop = 0 if lost < device.threshold else min(level, (lost - device.threshold) // device.electrons + 1)
            matrix[level, level - drop] += binom.pmf(lost, level * device.electrons, escape)
    return matrix


@pytest.mark.parametrize("bits", (1, 2, 3))
def test_charge_loss_transition_matches_the_binomial_brute_force(bits):
    got = charge_loss_transition(SMALL, TIMES, bits)
    assert got.shape == (3, 1 << bits, 1 << bits)
    for index, window in enumerate(TIMES):
        np.testing.assert_allclose(got[index], brute_force(SMALL, window, bits), rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=0, atol=1e-15)


def test_one_bit_cells_lose_charge_with_the_device_flip_probability():
    np.testing.assert_allclose(charge_loss_transition(SMALL, TIMES, 1)[:, 1, 0], device_flip_probability(SMALL, TIMES),
                               rtol=1e-12)


def test_higher_levels_lose_charge_faster_and_one_step_lumps_every_loss():
    full = charge_loss_transition(SMALL, 1e-2, 3)
    lumped = charge_loss_transition(SMALL, 1e-2, 3, one_step=True)
    stays = np.diag(full)
    assert np.all(np.diff(stays) < 0)
    np.testing.assert_allclose(np.diag(lumped), stays, rtol=1e-14)
    for level in range(1, 8):
        assert lumped[level, level - 1] == pytest.approx(1 - stays[level], rel=1e-12)
        assert np.count_nonzero(lumped[level]) <= 2


def test_refresh_bounds_the_age_and_retention_channel_uses_it():
    times = np.array([1.0, 10.0, 1e3])
    np.testing.assert_array_equal(retention_age_s(times, 100.0), [1.0, 10.0, 100.0])
    np.testing.assert_array_equal(retention_age_s(times, 100.0, worst_case=False), [1.0, 10.0, 0.0])
    np.testing.assert_array_equal(retention_age_s(times), times)
    refreshed = retention_channel(SMALL, 1.0, 2, refresh_s=1e-2)
    assert refreshed == retention_channel(SMALL, 1e-2, 2)


def test_arrhenius_acceleration_is_one_at_the_reference_and_about_1300_at_85_c():
    assert arrhenius_acceleration(298.15) == 1.0
    # 1.1 eV / k_B (1 / 298.15 K - 1 / 358.15 K), k_B = 8.617333e-5 eV/K
    assert arrhenius_acceleration(358.15) == pytest.approx(math.exp(1.1 / 8.617333262e-5 * (1 / 298.15 - 1 / 358.15)),
                                                           rel=1e-9)
    hot = retention_channel(SMALL, 1e-4, 2, temperature_k=358.15)
    assert hot == retention_channel(SMALL, 1e-4 * arrhenius_acceleration(358.15), 2)


def test_transitions_vectorize_from_a_second_to_ten_years():
    device = SMALL.replace(thickness_m=4.5e-9, electrons=1000, threshold=10)
    times = np.logspace(0, math.log10(10 * SECONDS_PER_YEAR), 12)
    stays = charge_loss_transition(device, times, 2)[:, 3, 3]
    assert np.all(np.diff(stays) <= 0) and stays[0] > stays[-1]


@pytest.mark.parametrize("call, match", [
    (lambda: retention_age_s([-1.0, 2.0]), r"times_s must be finite times >= 0"),
    (lambda: retention_age_s([np.inf]), "times_s"),
    (lambda: retention_age_s([1.0, 10.0], refresh_s=100.0), r"refresh_s must lie in \(0, 10\] s"),
    (lambda: retention_age_s([1.0], refresh_s=0.0), "refresh_s"),
    (lambda: charge_loss_transition(SMALL, 1.0, 4), "bits_per_cell must be an integer in 1..3"),
    (lambda: retention_channel(SMALL, 1.0, 2, level_map="grey"), "level_map must be one of"),
    (lambda: retention_channel(SMALL, 0.0, 2), "time_s must be a finite time > 0"),
    (lambda: arrhenius_acceleration(-3.0), "temperature_k"),
])
def test_bad_retention_input_names_the_argument_and_range(call, match):
    with pytest.raises(ValueError, match=match):
        call()
