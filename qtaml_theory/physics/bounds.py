"""Where the device physics holds, and what it accepts (Appendix A.2).

The regime bounds :data:`RARE_LAMBDA` and :data:`HIGH_ESCAPE`, the
:class:`~qtaml_theory.physics.ApproximationWarning` emitted outside them, the
largest cell (:data:`MAX_ELECTRONS`), the method names of each step, and the
argument checks that the steps share.
"""

from __future__ import annotations

import warnings

import numpy as np

#: ``method=`` of :func:`transmission`: the WKB exponent or the exact rectangular barrier (Lemma A.7).
TRANSMISSION_METHODS = ("wkb", "exact")
#: ``method=`` of :func:`escape_probability`: ``1 - (1 - T)**A`` or its rare form ``A T`` (Lemma A.8).
ESCAPE_METHODS = ("exact", "rare")
#: ``method=`` of :func:`flip_probability`: binomial or Poisson tail, or the rare form (Prop A.10).
FLIP_METHODS = ("binomial", "poisson", "rare")

#: Regime boundaries (A.2 made concrete): rare when lambda = N_e P_esc < RARE_LAMBDA,
#: high-escape when P_esc > HIGH_ESCAPE, transition otherwise. The rare forms (``nu tau T`` for the
#: escape, ``lambda**K / K!`` for the flip) warn at an expected count of RARE_LAMBDA or more, the Poisson
#: tail above HIGH_ESCAPE.
RARE_LAMBDA = 0.1
#: Escape probability above which the Poisson tail departs from the binomial (the high-escape regime).
HIGH_ESCAPE = 0.1

#: Most electrons a cell may store: the exact tails sum up to about 14 standard deviations of terms
#: (0.2 million at 1e9 electrons and P_esc = 1/2). Real cells hold tens to about 1e5 electrons.
MAX_ELECTRONS = 10**9

#: Largest argument handed to ``exp``, ``expm1`` or ``sinh`` where it may grow without bound: below
#: ``log`` of the largest double (709.78), so nothing overflows (``math.exp`` would raise). Only a value
#: shown in a warning, a relative error of :func:`~qtaml_theory.physics.regime` (about 1e304 there: off by
#: more than anything), or one that a log-space form replaces, is ever capped.
_EXP_CAP = 700.0


class ApproximationWarning(UserWarning):
    """An approximate method was used outside the regime where it holds (A.2).

    Emitted by ``method="rare"`` (escape and flip) at an expected count of
    :data:`RARE_LAMBDA` or more, and by ``method="poisson"`` at an escape
    probability above :data:`HIGH_ESCAPE`. The message says how far outside
    the regime the inputs are, and when a rare form above 1 was capped at 1.
    Silence it with ``warnings.simplefilter("ignore", ApproximationWarning)``,
    or use the exact method.
    """


def _warn_outside(message):
    warnings.warn(message, ApproximationWarning, stacklevel=4)


def _counts(electrons, threshold):
    for name, value in (("electrons", electrons), ("threshold", threshold)):
        array = np.asarray(value)
        if array.dtype == bool or not (np.issubdtype(array.dtype, np.integer) or (
                np.issubdtype(array.dtype, np.floating) and np.all(np.isfinite(array))
                and np.all(array == np.round(array)))):
            raise ValueError(f"{name} must be a whole number of electrons, got {value!r}")
    electrons = np.asarray(electrons).astype(np.int64)
    threshold = np.asarray(threshold).astype(np.int64)
    if np.any(threshold < 1):
        raise ValueError(f"threshold must be an integer >= 1, got {threshold.tolist()}")
    if np.any(electrons < threshold):
        raise ValueError(f"electrons must be >= threshold (N_e >= K_th), got N_e = {electrons.tolist()} "
                         f"and K_th = {threshold.tolist()}")
    if np.any(electrons > MAX_ELECTRONS):
        raise ValueError(f"electrons must be <= MAX_ELECTRONS = {MAX_ELECTRONS:.0e} (threshold <= N_e <= "
                         f"{MAX_ELECTRONS:.0e}), got {electrons.max()}")
    return electrons, threshold


def _method(method, allowed, aliases=None):
    method = (aliases or {}).get(method, method)
    if method not in allowed:
        raise ValueError(f"method must be one of {allowed}, got {method!r}")
    return method


def _result(array, *inputs):
    """A Python float when every input was a scalar, else the array."""
    return float(array) if all(np.ndim(x) == 0 for x in inputs) else array
