"""Which regime of Appendix A.2 a cell is in, and how far the Poisson and rare forms are off there."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import closed_forms as cf
from ..validation import check_probability_values
from .bounds import _EXP_CAP, HIGH_ESCAPE, RARE_LAMBDA, _counts
from .tails import _tail_array


@dataclass(frozen=True)
class RegimeReport:
    """Which regime of A.2 a device is in, and each approximation's relative error.

    ``regime`` is ``"rare"`` when ``lambda = N_e P_esc < RARE_LAMBDA`` (0.1),
    ``"high-escape"`` when ``P_esc > HIGH_ESCAPE`` (0.1: the Poisson
    approximation of the binomial degrades), and ``"transition"`` otherwise.

    ``exact``, ``poisson`` and ``rare`` are what :func:`flip_probability`
    returns with each method, as floats (0 where they underflow; the rare
    form capped at 1). ``log_exact`` and ``log_poisson`` are their natural
    logs, which never underflow; ``log_rare`` is the log of the rare *form*
    ``lambda**K / K!`` itself, before the cap (above 0 outside its regime).
    The relative errors ``|form / exact - 1|`` are computed from these logs,
    so they stay right however small ``p`` is, and ``rare_relative_error``
    shows how far the form is off even where the returned value is capped.
    """

    regime: str
    escape_probability: float
    mean_escaped: float
    exact: float
    poisson: float
    rare: float
    poisson_relative_error: float
    rare_relative_error: float
    log_exact: float
    log_poisson: float
    log_rare: float


def regime(escape_probability_value: float, electrons: int, threshold: int) -> RegimeReport:
    """Classify the regime and measure the Poisson and rare forms against the exact tail.

    Parameters
    ----------
    escape_probability_value : float
        ``P_esc`` in ``(0, 1]``.
    electrons, threshold : int
        As in :func:`flip_probability`.

    Returns
    -------
    RegimeReport
        No :class:`ApproximationWarning` is emitted: measuring the
        approximations outside their regime is the point.
    """
    if np.ndim(escape_probability_value) != 0:
        raise ValueError(f"escape_probability_value must be a single number, got {escape_probability_value!r}")
    p_esc = float(check_probability_values(escape_probability_value, "escape_probability_value"))
    if p_esc == 0:
        raise ValueError("escape_probability_value must be > 0 to compare the approximations")
    n, k = (int(c) for c in _counts(electrons, threshold))
    log_exact = float(_tail_array(p_esc, n, k, "binomial", from_log=False, log=True))
    log_poisson = float(_tail_array(p_esc, n, k, "poisson", from_log=False, log=True))
    log_rare = float(cf.rare_log_flip_probability(math.log(n) + math.log(p_esc), k))
    lam = n * p_esc
    name = "rare" if lam < RARE_LAMBDA else ("high-escape" if p_esc > HIGH_ESCAPE else "transition")
    with np.errstate(over="ignore"):
        poisson_error, rare_error = (abs(math.expm1(min(log - log_exact, _EXP_CAP)))
                                     for log in (log_poisson, log_rare))
    return RegimeReport(name, p_esc, lam, math.exp(log_exact), math.exp(log_poisson), math.exp(min(log_rare, 0.0)),
                        poisson_error, rare_error, log_exact, log_poisson, log_rare)
