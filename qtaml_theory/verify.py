"""How results are held against each other: tolerances and Monte Carlo z-scores.

Tolerances by kind, named in one place (STYLE.md, habit 4):

* :data:`EXACT` - formula against enumeration with rational rates: ``==``.
* :data:`FLOAT_RTOL` - formula against enumeration in float64.
* Monte Carlo - ``|z| <= z_threshold(FALSE_ALARM, n_checks)``, where ``z`` is
  the estimate's distance from the exact value in units of its standard error
  (delta method on the sample moments, with the exact moments of a reference
  law) and the threshold is two-sided with a Bonferroni correction, so a
  correct implementation fails a test with probability at most
  :data:`FALSE_ALARM`. Seeds are fixed, so each run is reproducible. The
  power to detect a relative error ``e`` in a statistic is
  ``Phi(e |exact| / se - threshold)`` (:func:`detection_power`).
"""

from __future__ import annotations

import math
from functools import cache

import numpy as np

__all__ = [
    "EXACT",
    "FLOAT_RTOL",
    "FLOAT_ATOL",
    "FALSE_ALARM",
    "STATISTICS",
    "MONTECARLO_STATISTICS",
    "z_threshold",
    "detection_power",
    "central_moments_from_pmf",
    "montecarlo_standard_errors",
    "montecarlo_zscores",
    "max_abs_difference",
]

#: Formula against enumeration with rational rates: exact equality.
EXACT = 0
#: Formula against enumeration in float64: relative tolerance.
FLOAT_RTOL = 1e-12
#: Absolute floor for float comparisons of quantities that vanish, in units of
#: the error's own scale (its standard deviation to the power of the order).
FLOAT_ATOL = 1e-12
#: Probability that one Monte Carlo test fails although the code is right.
FALSE_ALARM = 1e-6

#: The statistics a :class:`~qtaml_theory.WeightError` reports, in order.
STATISTICS = ("mean", "var", "skewness", "excess_kurtosis")

#: Every Monte Carlo estimate that :func:`montecarlo_zscores` judges: those of
#: ``stats()``, ``std()``, and the third and fourth cumulants of ``cumulants()``.
MONTECARLO_STATISTICS = (*STATISTICS, "std", "k3", "k4")


def z_threshold(false_alarm=FALSE_ALARM, n_checks=1):
    """Two-sided normal quantile with a Bonferroni correction over ``n_checks``."""
    from scipy.stats import norm

    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must lie in (0, 1), got {false_alarm}")
    if n_checks < 1:
        raise ValueError(f"n_checks must be a positive integer, got {n_checks}")
    return float(norm.isf(false_alarm / (2 * n_checks)))


def detection_power(relative_error, exact, standard_error, threshold):
    """Probability that ``|z| > threshold`` when the estimate is off by ``relative_error * exact``.

    ``Phi(|relative_error exact| / se - threshold)`` (the far tail ignored).
    """
    from scipy.stats import norm

    if standard_error == 0:
        return 1.0 if relative_error * exact != 0 else 0.0
    return float(norm.cdf(abs(relative_error * exact) / standard_error - threshold))


def central_moments_from_pmf(pmf, orders):
    """Exact moments ``E[(delta - mean)**j]`` of a finite law, for each ``j`` in ``orders``."""
    mean = sum(value * prob for value, prob in pmf.items())
    return mean, [sum((value - mean) ** j * prob for value, prob in pmf.items()) for j in orders]


@cache
def _statistic_gradients():
    """Gradients of each statistic in the first four moments about the true mean.

    Derived with SymPy: with ``m_j`` the moments about the exact mean,
    mean = ``mu + m1``, var = ``m2 - m1**2``, skewness and excess kurtosis the
    standardized third and fourth central moments. Evaluated at ``m1 = 0``.
    """
    import sympy as sp

    m1, m2, m3, m4 = moments = sp.symbols("m1:5", real=True)
    var = m2 - m1**2
    formulas = {
        "mean": m1,
        "var": var,
        "skewness": (m3 - 3 * m1 * m2 + 2 * m1**3) / var ** sp.Rational(3, 2),
        "excess_kurtosis": (m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4) / var**2 - 3,
        "std": sp.sqrt(var),
        "k3": m3 - 3 * m1 * m2 + 2 * m1**3,
        "k4": (m4 - 4 * m1 * m3 + 6 * m1**2 * m2 - 3 * m1**4) - 3 * var**2,
    }
    return {
        name: sp.lambdify(moments, [sp.diff(f, m).subs(m1, 0) for m in moments], "math")
        for name, f in formulas.items()
    }


def montecarlo_standard_errors(pmf, size):
    """Exact value and Monte Carlo standard error of every statistic of a finite law.

    Parameters
    ----------
    pmf : dict
        ``{value: probability}`` of the reference law (exact numbers welcome).
    size : int
        Number of draws of the estimate.

    Returns
    -------
    dict
        ``{statistic: (exact, standard_error)}`` for each of
        :data:`MONTECARLO_STATISTICS`; a point mass has ``nan`` skewness and
        kurtosis with zero standard errors.

    Notes
    -----
    The standard error of a smooth statistic ``g`` of the sample moments
    follows from the delta method: ``Var g ~ grad g' Sigma grad g / N`` with
    ``Sigma_jk = m_{j+k} - m_j m_k`` (moments about the true mean, exact, up
    to order 8).
    """
    mean, central = central_moments_from_pmf(pmf, range(1, 9))
    moments = [1.0] + [float(c) for c in central]
    c2, c3, c4 = (central[j - 1] for j in (2, 3, 4))
    exact = {"mean": float(mean), "var": float(c2), "std": math.sqrt(c2), "k3": float(c3),
             "k4": float(c4 - 3 * c2**2)}
    if c2 > 0:
        exact["skewness"] = float(c3 / c2) / math.sqrt(c2)
        exact["excess_kurtosis"] = float(c4 / c2**2 - 3)
    else:
        exact["skewness"] = exact["excess_kurtosis"] = math.nan
    covariance = np.array([[moments[a + b] - moments[a] * moments[b] for b in range(1, 5)]
                           for a in range(1, 5)])
    result = {}
    for name, gradient in _statistic_gradients().items():
        if not moments[2] > 0:  # a point mass: every estimate is exact, the standardized ones undefined
            result[name] = (exact[name], 0.0)
            continue
        grad = np.array(gradient(*moments[1:5]), dtype=np.float64)
        result[name] = (exact[name], math.sqrt(max(grad @ covariance @ grad, 0.0) / size))
    return result


def montecarlo_zscores(law, size, rng, pmf=None):
    """z-scores of the Monte Carlo route of every statistic of ``law``.

    Parameters
    ----------
    law : WeightError
        Its Monte Carlo routes (``stats``, ``std``, ``cumulants``) are judged.
    size : int
        Number of draws.
    rng : int or numpy.random.Generator
        Seed; every route sees the same draws.
    pmf : dict, optional
        The exact law ``{value: probability}`` to judge against; by default
        the law's own enumeration. Tests pass an independent reference.

    Returns
    -------
    dict
        ``{statistic: z}`` over :data:`MONTECARLO_STATISTICS`;
        ``z = (estimate - exact) / standard_error``. A statistic whose
        standard error is zero (a degenerate law) gets ``z = 0`` when the
        estimate is exact and ``inf`` otherwise (``nan`` for undefined
        standardized moments).
    """
    reference = montecarlo_standard_errors(law.pmf() if pmf is None else pmf, size)
    seed = rng if not isinstance(rng, np.random.Generator) else int(rng.integers(2**63))
    mean, var, skewness, kurtosis = law.stats("montecarlo", size=size, rng=seed)
    _, _, k3, k4 = law.cumulants("montecarlo", size=size, rng=seed)
    estimate = {"mean": mean, "var": var, "skewness": skewness, "excess_kurtosis": kurtosis,
                "std": law.std("montecarlo", size=size, rng=seed), "k3": k3, "k4": k4}
    zscores = {}
    for name, (exact, standard_error) in reference.items():
        difference = float(estimate[name]) - exact
        if math.isnan(exact):
            zscores[name] = math.nan
        elif standard_error == 0:
            zscores[name] = 0.0 if difference == 0 else math.inf
        else:
            zscores[name] = difference / standard_error
    return zscores


def max_abs_difference(first, second):
    """Largest ``|a - b|`` over two equal-length sequences of numbers (as floats)."""
    return max((abs(float(a) - float(b)) for a, b in zip(first, second, strict=True)), default=0.0)
