"""Thm 3.4 (no per-weight CLT: the Lyapunov ratio persists) and Remark 3.5 (layer outputs do become Gaussian)."""

import numpy as np
import pytest
import sympy as sp
from scipy import stats

from qtaml_theory import _closed_forms, derive, get_encoding
from qtaml_theory.derive import n, p
from qtaml_theory.law import layer_output_cumulants, sample_errors


def lyapunov_by_enumeration(bits, rate):
    """Sum over bits of E|X_i - E X_i|^3 (each X_i two-valued) over (sum of variances)^(3/2)."""
    amplitudes = 2.0 ** np.arange(bits)
    third = ((1 - rate) * (rate * amplitudes) ** 3 + rate * ((1 - rate) * amplitudes) ** 3).sum()
    variance = (rate * (1 - rate) * amplitudes**2).sum()
    return third / variance**1.5


@pytest.mark.parametrize("bits", [1, 4, 8, 16])
@pytest.mark.parametrize("rate", [1e-3, 0.1, 0.5])
def test_thm_3_4_lyapunov_ratio_closed_form_equals_enumeration(bits, rate):
    assert _closed_forms.lyapunov_ratio(bits, rate) == pytest.approx(lyapunov_by_enumeration(bits, rate), rel=1e-12)


@pytest.mark.parametrize("rate", [1e-3, 0.1, 0.5])
def test_thm_3_4_lyapunov_ratio_does_not_vanish_as_n_grows(rate):
    limit = sp.limit(derive.lyapunov_ratio(), n, sp.oo)
    expected = 3 * np.sqrt(3) / 7 * (rate**2 + (1 - rate) ** 2) / np.sqrt(rate * (1 - rate))
    assert float(limit.subs(p, rate)) == pytest.approx(expected, rel=1e-12)
    ratios = [_closed_forms.lyapunov_ratio(bits, rate) for bits in (8, 16, 32)]
    assert ratios[-1] == pytest.approx(expected, rel=1e-8)
    assert min(ratios) > 0.5 * expected


def test_remark_3_5_exact_output_kurtosis_falls_as_one_over_width():
    encoding = get_encoding("offset_binary", 8)
    rng = np.random.default_rng(0)
    per_weight = None
    for width in (1, 16, 256, 4096):
        codes = np.full(width, 150)
        _, k2, _, k4 = layer_output_cumulants(encoding, codes, 0.01, np.ones(width))
        if per_weight is None:
            per_weight = k4 / k2**2
        assert k4 / k2**2 == pytest.approx(per_weight / width, rel=1e-12)
    codes = rng.integers(0, 256, size=512)
    inputs = rng.normal(size=512)
    _, k2, _, k4 = layer_output_cumulants(encoding, codes, 0.01, inputs)
    assert k4 / k2**2 < per_weight / 50


def test_remark_3_5_measured_distance_to_gaussian_falls_with_width():
    """Kolmogorov distance of standardized Monte Carlo outputs from N(0, 1), seeded."""
    encoding = get_encoding("offset_binary", 8)
    rng = np.random.default_rng(35)
    size = 4000
    distances = []
    for width in (1, 16, 256, 2048):
        codes = rng.integers(0, 256, size=width)
        inputs = rng.normal(size=width)
        outputs = sample_errors(encoding, codes, 0.01, size, rng) @ inputs
        k1, k2, _, _ = layer_output_cumulants(encoding, codes, 0.01, inputs)
        distances.append(stats.kstest((outputs - k1) / np.sqrt(k2), "norm").statistic)
    assert all(a > b for a, b in zip(distances, distances[1:])), distances
    # At width 2048 the distance is at the level of the Monte Carlo noise of the KS statistic itself:
    # P(D > 1.95 / sqrt(N)) < 1e-3 under the Gaussian.
    assert distances[-1] < 1.95 / np.sqrt(size)
    assert distances[0] > 0.3
