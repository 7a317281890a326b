"""The law of a weight whose protection has several read outcomes: a mixture (issue: real codes).

A block code leaves a weight one of several laws (its position in the word,
a detected failure that zeroes it; :meth:`qtaml_theory.protection.ProtectionScheme.read_outcomes`).
The cumulants of the mixture follow from each outcome's mean and central
moments, combined about the mixture's mean (no cancellation of raw moments):
with weights ``w_c``, means ``mu_c`` and ``d_c = mu_c - mu``,

``M_2 = sum w_c (m2_c + d_c**2)``, ``M_3 = sum w_c (m3_c + 3 d_c m2_c + d_c**3)``,
``M_4 = sum w_c (m4_c + 4 d_c m3_c + 6 d_c**2 m2_c + d_c**4)``,

and ``kappa_4 = M_4 - 3 M_2**2``. Everything here is in units of Delta.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ._law_arithmetic import enumerated_law, unit_cumulants

__all__ = ["single_channel", "mixture_unit_cumulants", "mix_central", "mixture_enumerated_law", "zero_error"]


def single_channel(outcomes):
    """The channel of a one-outcome law (probability one, not zeroed), else ``None``."""
    if len(outcomes) == 1 and outcomes[0].channel is not None and outcomes[0].probability == 1:
        return outcomes[0].channel
    return None


def zero_error(encoding, codes, exact):
    """Error of a weight that reads as zero, in units of Delta: ``-decode(code)``."""
    value = encoding.decode(codes)
    if exact:
        if isinstance(codes, int):
            return -Fraction(float(value))
        return np.array([-Fraction(float(v)) for v in np.ravel(value)], dtype=object).reshape(np.shape(value))
    return -np.asarray(value, dtype=np.float64) if not isinstance(codes, int) else -float(value)


def mixture_unit_cumulants(encoding, codes, outcomes, exact):
    """``kappa_1..kappa_4`` of ``delta / Delta`` under the mixture of ``outcomes`` (module docstring)."""
    parts = []
    for outcome in outcomes:
        if outcome.channel is None:
            zero = 0 if exact else 0.0
            parts.append((outcome.probability, zero_error(encoding, codes, exact), zero, zero, zero))
        else:
            k1, k2, k3, k4 = unit_cumulants(encoding, codes, outcome.channel)
            parts.append((outcome.probability, k1, k2, k3, k4 + 3 * k2**2))
    return mix_central(parts)


def mix_central(parts):
    """``kappa_1..kappa_4`` of a mixture from its parts ``(weight, mean, m2, m3, m4)`` (central moments; the
    weights sum to one), combined about the mixture's mean (module docstring). Numbers, arrays or Fractions."""
    mean = sum(w * mu for w, mu, *_ in parts)
    m2 = m3 = m4 = 0
    for w, mu, c2, c3, c4 in parts:
        d = mu - mean
        m2 = m2 + w * (c2 + d**2)
        m3 = m3 + w * (c3 + 3 * d * c2 + d**3)
        m4 = m4 + w * (c4 + 4 * d * c3 + 6 * d**2 * c2 + d**4)
    return [mean, m2, m3, m4 - 3 * m2**2]


def mixture_enumerated_law(encoding, code, outcomes, exact):
    """``{error / Delta: probability}`` of the mixture, each outcome enumerated over all its flip masks."""
    law = {}
    for outcome in outcomes:
        if outcome.channel is None:
            parts = {zero_error(encoding, code, exact): Fraction(1) if exact else 1.0}
        else:
            factors = outcome.channel.cell_mask_probabilities(encoding.bits(code))
            steps, weights, total = enumerated_law(encoding, code, factors, exact)
            if exact:
                parts = {Fraction(int(s)): Fraction(c, total) for s, c in zip(steps.tolist(), weights)}
            else:
                parts = {float(s): float(c) for s, c in zip(steps.tolist(), weights)}
        for value, probability in parts.items():
            law[value] = law.get(value, 0) + outcome.probability * probability
    return dict(sorted((value, probability) for value, probability in law.items() if probability))
