"""How results are held against each other: tolerances and Monte Carlo z-scores.

Tolerances by kind, named in one place (STYLE.md, habit 4):

* :data:`EXACT` - formula against enumeration with rational rates: ``==``.
* :data:`FLOAT_RTOL` - formula against enumeration in float64.
* Monte Carlo - ``|z| <= z_threshold(FALSE_ALARM, n_checks)``, where ``z`` is
  the estimate's distance from the exact value in units of its standard error
  (delta method on the sample moments, with the exact moments from
  enumeration) and the threshold is two-sided with a Bonferroni correction,
  so a correct implementation fails a test with probability at most
  :data:`FALSE_ALARM`. Seeds are fixed, so each run is reproducible.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = [
    "EXACT",
    "FLOAT_RTOL",
    "FLOAT_ATOL",
    "FALSE_ALARM",
    "STATISTICS",
    "z_threshold",
    "central_moments_from_pmf",
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


def z_threshold(false_alarm=FALSE_ALARM, n_checks=1):
    """Two-sided normal quantile with a Bonferroni correction over ``n_checks``."""
    from scipy.stats import norm

    if not 0 < false_alarm < 1:
        raise ValueError(f"false_alarm must lie in (0, 1), got {false_alarm}")
    if n_checks < 1:
        raise ValueError(f"n_checks must be a positive integer, got {n_checks}")
    return float(norm.isf(false_alarm / (2 * n_checks)))


def central_moments_from_pmf(pmf, orders):
    """Exact moments ``E[(delta - mean)**j]`` of a finite law, for each ``j`` in ``orders``."""
    mean = sum(value * prob for value, prob in pmf.items())
    return mean, [sum((value - mean) ** j * prob for value, prob in pmf.items()) for j in orders]


@lru_cache(maxsize=None)
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
    }
    return {
        name: sp.lambdify(moments, [sp.diff(f, m).subs(m1, 0) for m in moments], "math")
        for name, f in formulas.items()
    }


def montecarlo_zscores(law, size, rng):
    """z-scores of the Monte Carlo route of every statistic of ``law``.

    Parameters
    ----------
    law : WeightError
        Its Monte Carlo route is compared with its exact enumeration.
    size : int
        Number of draws.
    rng : int or numpy.random.Generator
        Seed.

    Returns
    -------
    dict
        ``{statistic: z}``; ``z = (estimate - exact) / standard_error``. A
        statistic whose standard error is zero (a degenerate law) gets
        ``z = 0`` when the estimate is exact and ``inf`` otherwise.

    Notes
    -----
    The standard error of a smooth statistic ``g`` of the sample moments
    follows from the delta method: ``Var g ~ grad g' Sigma grad g / N`` with
    ``Sigma_jk = m_{j+k} - m_j m_k`` (moments about the true mean, exact, from
    the enumerated law, up to order 8).
    """
    pmf = law.pmf()
    mean, central = central_moments_from_pmf(pmf, range(1, 9))
    moments = [1.0] + [float(c) for c in central]
    exact = {name: float(value) for name, value in zip(STATISTICS, law.stats("enumeration"))}
    estimate = dict(zip(STATISTICS, law.stats("montecarlo", size=size, rng=rng)))
    covariance = np.array([[moments[a + b] - moments[a] * moments[b] for b in range(1, 5)]
                           for a in range(1, 5)])
    zscores = {}
    for name, gradient in _statistic_gradients().items():
        if not moments[2] > 0:  # a point mass: skewness and kurtosis are undefined
            if name in ("mean", "var"):
                zscores[name] = 0.0 if estimate[name] == exact[name] else math.inf
            else:
                zscores[name] = math.nan
            continue
        grad = np.array(gradient(*moments[1:5]), dtype=np.float64)
        standard_error = math.sqrt(max(grad @ covariance @ grad, 0.0) / size)
        difference = float(estimate[name]) - exact[name]
        if standard_error == 0:
            zscores[name] = 0.0 if difference == 0 else math.inf
        else:
            zscores[name] = difference / standard_error
    return zscores


def max_abs_difference(first, second):
    """Largest ``|a - b|`` over two equal-length sequences of numbers (as floats)."""
    return max((abs(float(a) - float(b)) for a, b in zip(first, second, strict=True)), default=0.0)
