"""Shared checks of the float-format law tests (issue 15): cumulants compared on their own scale, and Monte Carlo.

Monte Carlo: the tolerance is 5 standard errors computed from the exact law (mean: sqrt(k2 / N);
variance: sqrt((k4 + 2 k2**2) / N); a probability q: sqrt(q (1 - q) / N)), so a correct law fails a
check with probability about 6e-7 under the normal approximation. The callers state each check's power.
"""

import numpy as np


def cumulant_scale(cumulants):
    """A size per order to compare cumulants on: ``|kappa_m| + sd**m`` (a cumulant near zero is not divided by)."""
    sd = np.sqrt(np.abs(cumulants[1]))
    return np.stack([np.abs(k) + sd**m for m, k in enumerate(cumulants, start=1)])


def assert_cumulants_close(got, want, rtol):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    finite = np.isfinite(want)
    assert np.array_equal(finite, np.isfinite(got))
    assert np.all(np.abs(got - want)[finite] <= rtol * cumulant_scale(want)[finite]), (got, want)


def assert_matches_monte_carlo(law, size, seed):
    """Mean, variance and the non-finite probability of ``law`` against ``size`` draws, 5 standard errors each."""
    k1, k2, _, k4 = law.cumulants()
    got = law.cumulants("montecarlo", size=size, rng=seed)
    assert abs(got[0] - k1) <= 5 * np.sqrt(k2 / size)
    assert abs(got[1] - k2) <= 5 * np.sqrt((k4 + 2 * k2**2) / size)
    q = law.nonfinite_probability()
    assert abs(law.nonfinite_probability("montecarlo", size=size, rng=seed + 1) - q) <= 5 * np.sqrt(q * (1 - q) / size)
