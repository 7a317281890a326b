"""Closed forms generated from :mod:`qtaml_theory.derive`. Do not edit.

Regenerate with ``python -m qtaml_theory.derive``; the test
``test_generated_closed_forms_match_derivation`` regenerates this file and
compares. Each expression is printed as one integer-coefficient numerator over
one denominator, so Fractions stay exact and numpy arrays broadcast; the
factors of the flip rates (such as ``p*(1 - p)``) stay unexpanded, so that
floats keep their digits near ``p = 0`` and ``p = 1``.
"""

from numpy import log, sqrt  # noqa: F401
from scipy.special import gammaln  # noqa: F401


def bernoulli_cumulant_1(pi):
    """Cumulant 1 of a Bernoulli(pi) flip (Thm 3.1)."""
    return pi


def bernoulli_cumulant_2(pi):
    """Cumulant 2 of a Bernoulli(pi) flip (Thm 3.1)."""
    return -pi*(pi - 1)


def bernoulli_cumulant_3(pi):
    """Cumulant 3 of a Bernoulli(pi) flip (Thm 3.1)."""
    return pi*(pi - 1)*(2*pi - 1)


def bernoulli_cumulant_4(pi):
    """Cumulant 4 of a Bernoulli(pi) flip (Thm 3.1)."""
    return -pi*(pi - 1)*(6*pi**2 - 6*pi + 1)


def sign_mixture_cumulants(sigma, r, M, k2, k3, k4):
    """Mean and cumulants 2-4 of sigma_hat * M_hat (sign-magnitude, A.8)."""
    return -M*sigma*(2*r - 1), -4*M**2*r*(r - 1) + k2, -sigma*(2*r - 1)*(8*M**3*r*(r - 1) + k3), -16*M**4*r*(r - 1)*(6*r**2 - 6*r + 1) - 16*M*k3*r*(r - 1) + k4


def sign_mixture_error_mean(sigma, r, m0, drift):
    """E[w_hat - w] for sign-magnitude: stored magnitude m0, magnitude drift E[M_hat] - m0 (A.8)."""
    return -sigma*(drift*(2*r - 1) + 2*m0*r)


def variance_symmetric(n, p, Delta):
    """Var[delta | w] under the symmetric channel (Thm A.11)."""
    return (-Delta**2*p*(4**n - 1)*(p - 1))/(3)


def variance_protected(n, k, p, Delta):
    """Per-weight variance with the top k bits protected (Lemma 4.2)."""
    return (Delta**2*p*(4**k - 4**n)*(p - 1))/(3*4**k)


def msb_variance_share(n):
    """Share of the variance carried by the MSB (Prop A.12)."""
    return (3*4**n)/(4*4**n - 4)


def fourth_cumulant_symmetric(n, p, Delta):
    """Fourth cumulant under the symmetric channel (Thm A.14)."""
    return (-Delta**4*p*(16**n - 1)*(p - 1)*(6*p**2 - 6*p + 1))/(15)


def lyapunov_ratio(n, p):
    """Lyapunov ratio of the per-weight sum (Thm 3.4); takes floats."""
    return (-3*sqrt(3)*(8**n - 1)*(p - 1)*(2*p**2 - 2*p + 1))/(7*sqrt(p)*(1 - p)**(3/2)*(4**n - 1)**(3/2))


def protection_cost(n, k):
    """Allocation objective per unit N s with the top k bits protected (Thm 4.4): 4**(n-k) - 1."""
    return (-4**k + 4**n)/(4**k)


def protection_cost_leading(n, k):
    """Leading-order allocation objective per unit N s (Sec. 4.5): 4**(n-k)."""
    return (4**n)/(4**k)


def output_variance_factor(p):
    """Common factor p(1-p)/3 of the output variance (Thm 4.4)."""
    return (-p*(p - 1))/(3)


def protected_mean_drift(n, k, r, p, Delta):
    """E[delta] with the top k bits protected, r the unprotected low bits (offset binary)."""
    return (-Delta*p*(2*2**k*r + 2**k - 2**n))/(2**k)


def drift_slope_directional(p01, p10):
    """Slope in w of E[delta | w] under the directional channel (linear encodings): -(p01 + p10)."""
    return -p01 - p10


def mean_correction_factor(p):
    """Pre-scaling factor 1/(1 - 2p) of the mean correction (Prop 4.1)."""
    return (-1)/(2*p - 1)


def mean_drift_offset_binary(w, p, Delta):
    """E[delta | w] for offset_binary under the symmetric channel (Thm 3.2, A.8)."""
    return -p*(Delta + 2*w)


def mean_drift_offset_binary_symmetric(w, p, Delta):
    """E[delta | w] for offset_binary_symmetric under the symmetric channel (Thm 3.2, A.8)."""
    return -2*p*w


def mean_drift_twos_complement(w, p, Delta):
    """E[delta | w] for twos_complement under the symmetric channel (Thm 3.2, A.8)."""
    return -p*(Delta + 2*w)


def multilevel_drift_slope_1_gray(q1):
    """Drift slope of a 1-bit cell (gray levels) under one-step charge loss q_L (issue 16)."""
    return -q1


def multilevel_drift_slope_1_binary(q1):
    """Drift slope of a 1-bit cell (binary levels) under one-step charge loss q_L (issue 16)."""
    return -q1


def multilevel_drift_slope_2_gray(q1, q2, q3):
    """Drift slope of a 2-bit cell (gray levels) under one-step charge loss q_L (issue 16)."""
    return (q1 - 6*q2 + q3)/(10)


def multilevel_drift_slope_2_binary(q1, q2, q3):
    """Drift slope of a 2-bit cell (binary levels) under one-step charge loss q_L (issue 16)."""
    return (q1 - q2 - 3*q3)/(10)


def multilevel_drift_slope_3_gray(q1, q2, q3, q4, q5, q6, q7):
    """Drift slope of a 3-bit cell (gray levels) under one-step charge loss q_L (issue 16)."""
    return (5*q1 + 2*q2 - 3*q3 - 20*q4 - 7*q5 + 6*q6 + q7)/(84)


def multilevel_drift_slope_3_binary(q1, q2, q3, q4, q5, q6, q7):
    """Drift slope of a 3-bit cell (binary levels) under one-step charge loss q_L (issue 16)."""
    return (5*q1 + 3*q2 + q3 - q4 - 3*q5 - 5*q6 - 7*q7)/(84)


def decay_constant(V0, E, m, hbar):
    """Decay constant kappa inside the barrier, 1/m from SI inputs (Lemma A.7)."""
    return (sqrt(2)*sqrt(m)*sqrt(-E + V0))/(hbar)


def wkb_log_transmission(kappa, d):
    """log of the WKB transmission exp(-2 kappa d) (Lemma A.7)."""
    return -2*d*kappa


def transmission_prefactor(V0, E):
    """V0**2/(4E(V0-E)): exact T = 1/(1 + prefactor sinh(kappa d)**2) (rectangular barrier)."""
    return (-V0**2)/(4*E*(E - V0))


def wkb_prefactor(V0, E):
    """Thick-barrier limit of T_exact / T_WKB, 16E(V0-E)/V0**2."""
    return (-16*E**2 + 16*E*V0)/(V0**2)


def rare_escape_probability(T, A):
    """Rare-escape form A T of 1 - (1 - T)**A, A = nu tau attempts (Lemma A.8)."""
    return A*T


def rare_log_flip_probability(log_lam, K):
    """log(lambda**K / K!) from log(lambda), the leading rare-event flip probability (Prop A.10)."""
    return K*log_lam - gammaln(K + 1)
