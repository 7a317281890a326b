"""The Monte Carlo standard errors of qtaml_theory.verify against an independent reference.

:func:`qtaml_theory.verify.montecarlo_standard_errors` gives, for every Monte
Carlo statistic (mean, var, std, skewness, excess kurtosis, k3, k4), the
delta-method standard error that :func:`~qtaml_theory.verify.montecarlo_zscores`
divides by. An error there makes every Monte Carlo test too strict or too
lenient without failing any of them, so it is checked here twice.

1. Deterministically, against the exact asymptotic variance written here
   from the classical covariances of sample central moments (Kendall and
   Stuart, *The Advanced Theory of Statistics*, Vol. 1, Sec. 10.5; moments
   about the sample mean, ``mu_j`` the exact central moments, ``mu_1 = 0``)::

       N Cov(m_r, m_s) -> mu_{r+s} - mu_r mu_s + r s mu_2 mu_{r-1} mu_{s-1}
                          - r mu_{r-1} mu_{s+1} - s mu_{s-1} mu_{r+1},

   with ``N Var(mean) -> mu_2`` and each statistic a function of
   ``(m_2, m_3, m_4)`` (the k-statistics differ from the central moments by
   factors ``1 + O(1/N)``). Every ``N * Var`` is then an exact Fraction of the
   law's exact central moments (Fractions, from pmfs written here). The
   package derives the same quantity another way (SymPy gradients in the
   moments about the true mean, covariance of raw powers), so agreement to
   float rounding (``REL = 1e-10``; measured 6e-16) is a real check. A 5%
   error in a standard error changes ``N * se**2`` by 10%, and a 5% error in
   one component of a gradient by far more than ``REL`` on these skewed laws:
   both fail deterministically (no false alarms, power 1).
2. Empirically, the reference itself against the spread of the statistics
   over ``REPEATS`` independent samples of ``SIZE`` draws (fixed seed): the
   sample standard deviation of ``R`` replicates has relative standard error
   ``sqrt((kappa - 1) / (4 R))``, ``kappa`` the (non-excess) kurtosis of the
   replicates (about 0.011 at ``R = 4000``); the tolerance is
   ``z_threshold(1e-6, 7)`` (5.3) of those plus ``FINITE_SIZE`` (0.02) for the
   ``O(1/N)`` terms that the asymptotic variance leaves out (measured up to
   1.6% at ``N = 2000`` with 40,000 replicates). False-alarm rate at most 1e-6;
   power to detect a 15% error in the reference about 1, a 5% error only about
   0.005: this check guards the reference's formulas, the 5% detection is
   check 1's.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from qtaml_theory.verify import FALSE_ALARM, MONTECARLO_STATISTICS, montecarlo_standard_errors, z_threshold

#: Package against the exact reference: float rounding of a few dozen operations.
REL = 1e-10
#: Draws per Monte Carlo estimate in the empirical check.
SIZE = 2000
#: Independent repetitions of the estimate in the empirical check.
REPEATS = 4000
#: Allowance for the O(1/N) terms left out of the asymptotic variance at N = SIZE.
FINITE_SIZE = 0.02


def flip_error_law(bits=3, code=5, rate=Fraction(1, 10)):
    """Law of ``decode(code ^ mask) - decode(code)`` for offset binary, each bit flipping with ``rate``.

    Written from the definitions (every mask, its probability as a product over
    bits): the kind of law the Monte Carlo tests judge, skewed.
    """
    law = {}
    for mask in range(2**bits):
        probability = Fraction(1)
        for i in range(bits):
            probability *= rate if (mask >> i) & 1 else 1 - rate
        error = Fraction((code ^ mask) - code)  # the offset 2**(bits - 1) cancels
        law[error] = law.get(error, 0) + probability
    return law


LAWS = {
    "four_point": {Fraction(-2): Fraction(1, 8), Fraction(0): Fraction(1, 2), Fraction(1): Fraction(1, 4),
                   Fraction(3): Fraction(1, 8)},
    "flip_error": flip_error_law(),
    "rare_outlier": {Fraction(0): Fraction(19, 20), Fraction(4): Fraction(1, 40), Fraction(-1): Fraction(1, 40)},
}


def central_moments(law):
    """Exact mean and central moments ``mu_0 .. mu_8`` of a finite law."""
    mean = sum(value * probability for value, probability in law.items())
    return mean, [sum((value - mean) ** j * probability for value, probability in law.items()) for j in range(9)]


def reference(law):
    """``{statistic: (exact value, N * asymptotic variance)}``, both exact except the square roots."""
    mean, mu = central_moments(law)

    def cov(r, s):
        """``N Cov(m_r, m_s)`` of the sample central moments, to leading order (Kendall and Stuart 10.5)."""
        return (mu[r + s] - mu[r] * mu[s] + r * s * mu[2] * mu[r - 1] * mu[s - 1]
                - r * mu[r - 1] * mu[s + 1] - s * mu[s - 1] * mu[r + 1])

    m2, m3, m4 = mu[2], mu[3], mu[4]
    variances = {
        "mean": m2,
        "var": cov(2, 2),
        "std": cov(2, 2) / (4 * m2),
        "k3": cov(3, 3),
        # k4 = m4 - 3 m2**2: gradient (-6 mu2, 1) in (m2, m4)
        "k4": cov(4, 4) - 12 * m2 * cov(2, 4) + 36 * m2**2 * cov(2, 2),
        # skewness = m3 / m2**(3/2): gradient (-3/2 mu3 mu2**(-5/2), mu2**(-3/2)) in (m2, m3)
        "skewness": (Fraction(9, 4) * m3**2 / m2**5 * cov(2, 2) - 3 * m3 / m2**4 * cov(2, 3)
                     + cov(3, 3) / m2**3),
        # excess kurtosis = m4 / m2**2 - 3: gradient (-2 mu4 mu2**(-3), mu2**(-2)) in (m2, m4)
        "excess_kurtosis": 4 * m4**2 / m2**6 * cov(2, 2) - 4 * m4 / m2**5 * cov(2, 4) + cov(4, 4) / m2**4,
    }
    values = {"mean": mean, "var": m2, "std": math.sqrt(m2), "k3": m3, "k4": m4 - 3 * m2**2,
              "skewness": float(m3 / m2) / math.sqrt(m2), "excess_kurtosis": m4 / m2**2 - 3}
    return {name: (values[name], variances[name]) for name in MONTECARLO_STATISTICS}


def test_reference_covers_every_montecarlo_statistic():
    assert set(reference(LAWS["four_point"])) == set(MONTECARLO_STATISTICS)


@pytest.mark.parametrize("name", LAWS)
@pytest.mark.parametrize("size", [1000, 10**6])
def test_standard_errors_equal_the_exact_asymptotic_variance(name, size):
    """``N * se**2`` of every statistic equals the reference to ``REL``; the exact value too."""
    law = LAWS[name]
    got = montecarlo_standard_errors(law, size)
    for statistic, (value, variance) in reference(law).items():
        exact, standard_error = got[statistic]
        assert abs(exact - float(value)) <= REL * abs(float(value)), (statistic, exact, value)
        assert abs(standard_error**2 * size / float(variance) - 1) <= REL, (statistic, standard_error, variance)


def test_a_point_mass_has_zero_standard_errors():
    """Every estimate of a constant is exact; the standardized moments are undefined (NaN)."""
    got = montecarlo_standard_errors({Fraction(3, 2): Fraction(1)}, 100)
    assert got["mean"] == (1.5, 0.0) and got["var"] == (0.0, 0.0) and got["std"] == (0.0, 0.0)
    assert math.isnan(got["skewness"][0]) and math.isnan(got["excess_kurtosis"][0])


def k_statistics(draws):
    """Mean and Fisher's unbiased k2, k3, k4 of each row (the estimators of the Monte Carlo route)."""
    n = draws.shape[1]
    mean = draws.mean(axis=1)
    deviations = draws - mean[:, None]
    squares = deviations * deviations
    m2, m3, m4 = squares.mean(axis=1), (squares * deviations).mean(axis=1), (squares * squares).mean(axis=1)
    k2 = n * m2 / (n - 1)
    k3 = n**2 * m3 / ((n - 1) * (n - 2))
    k4 = n**2 * ((n + 1) * m4 - 3 * (n - 1) * m2**2) / ((n - 1) * (n - 2) * (n - 3))
    return {"mean": mean, "var": k2, "std": np.sqrt(k2), "k3": k3, "k4": k4,
            "skewness": k3 / k2**1.5, "excess_kurtosis": k4 / k2**2}


def test_reference_matches_the_spread_over_independent_samples():
    """Check 2 of the module docstring: false-alarm rate 1e-6, power about 1 against a 15% error."""
    law = LAWS["four_point"]
    rng = np.random.default_rng(20240612)
    values = np.array([float(v) for v in law])
    probabilities = np.array([float(q) for q in law.values()])
    replicates = k_statistics(rng.choice(values, size=(REPEATS, SIZE), p=probabilities))
    threshold = z_threshold(FALSE_ALARM, len(MONTECARLO_STATISTICS))
    for statistic, (_, variance) in reference(law).items():
        sample = replicates[statistic]
        centred = sample - sample.mean()
        kurtosis = float(np.mean(centred**4) / np.mean(centred**2) ** 2)
        relative_se = math.sqrt((kurtosis - 1) / (4 * REPEATS))
        ratio = float(np.std(sample, ddof=1)) / math.sqrt(float(variance) / SIZE)
        assert abs(ratio - 1) <= threshold * relative_se + FINITE_SIZE, (statistic, ratio, relative_se)
