"""Compensation: what to store so that the read-back weight is right on average (Prop 4.1 and beyond).

The paper corrects the drift by storing ``w / (1 - 2p)`` (Prop 4.1). With the
top ``k`` bits protected by ECC, the drift of a stored code is
``p Delta (2**(n-k) - 1 - 2r)`` (:func:`qtaml_theory.derive.protected_mean_drift`,
``r`` the code's unprotected low bits), not ``-2 p w``: the factor
``1 / (1 - 2p)`` is then the wrong correction, and Algorithm 1's Step 3 only
chooses between two imperfect options.

:func:`mmse_codes` goes further: for each weight it stores the code that
minimizes the expected squared read-back error under the layer's channel and
protection,

.. math::

    c^*(w) = \\arg\\min_c \\; \\mathrm{Var}[\\hat w \\mid c] + (\\mathbb{E}[\\hat w \\mid c] - w)^2 ,

from the exact per-code moments (:func:`readback_table`, the formula route of
:func:`qtaml_theory.law.error_cumulants`). The minimum over ``c`` is the lower
envelope of lines in ``w``, found once per table (convex hull), so encoding a
tensor costs one ``searchsorted``.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _closed_forms as cf
from .channels import Channel, DirectionalChannel, MultiLevelChannel, SymmetricChannel, as_channel
from .encodings import Encoding
from .law import error_cumulants

__all__ = ["ReadbackTable", "readback_table", "mean_correction_factor", "mmse_codes", "expected_squared_error"]


def mean_correction_factor(p: numbers.Real | SymmetricChannel | DirectionalChannel) -> numbers.Real:
    """The pre-scaling that undoes the drift's shrinkage: ``1 / (1 - 2p)`` (Prop 4.1).

    For the directional channel the drift is still affine with slope
    ``-(p01 + p10)`` (``proofs/directional_channel.py``), so the factor is
    ``1 / (1 - p01 - p10)``. The per-bit channel's drift is not affine in
    ``w``: no single factor exists (use :func:`mmse_codes`). For a
    :class:`~qtaml_theory.channels.MultiLevelChannel` under one-step charge
    loss it is ``1 / (1 + s)``, ``s`` the least-squares slope of the cells'
    drift (``proofs/multilevel_cell_drift.py``; exact, ``1 / (1 - q)``, for
    binary levels losing ``q_L = L q``; the Gray drift is not affine, so the
    factor removes its affine part only). Paper, conclusion (future work).

    Parameters
    ----------
    p : float, Fraction, SymmetricChannel, DirectionalChannel or MultiLevelChannel

    Raises
    ------
    ValueError
        If the shrinkage is total or reversed (``p >= 1/2``, ``p01 + p10 >= 1``):
        the factor diverges; or for a channel without an affine drift.
    """
    channel = as_channel(p)
    if isinstance(channel, SymmetricChannel):
        if not channel.p < 0.5:
            raise ValueError(f"p must lie in [0, 0.5) for mean correction (the factor 1/(1-2p) diverges), got {p!r}")
        return cf.mean_correction_factor(channel.p)
    if isinstance(channel, DirectionalChannel):
        slope = cf.drift_slope_directional(channel.p01, channel.p10)
        if not slope > -1:
            raise ValueError(f"p01 + p10 must be below 1 for mean correction, got {channel.p01} + {channel.p10}")
        return 1 / (1 + slope)
    if isinstance(channel, MultiLevelChannel):
        generated = getattr(cf, f"multilevel_drift_slope_{channel.bits_per_cell}_{channel.level_map}")
        slope = generated(*channel.one_step_loss_rates())
        if not slope > -1:
            raise ValueError(f"the cells' drift slope must be above -1 for mean correction, got {slope}")
        return 1 / (1 + slope)
    raise ValueError(f"mean correction needs an affine drift (symmetric, directional or one-step multi-level "
                     f"channel), got {channel!r}")


@dataclass(frozen=True)
class ReadbackTable:
    """Per-code read-back moments of one layer (units of Delta).

    Attributes
    ----------
    stored : ndarray
        ``decode(c)`` for every code ``c``.
    mean : ndarray
        ``E[w_hat | c] / Delta``.
    variance : ndarray
        ``Var[w_hat | c] / Delta**2``.
    """

    stored: np.ndarray
    mean: np.ndarray
    variance: np.ndarray

    def mse(self, values: ArrayLike, codes: ArrayLike) -> np.ndarray:
        """``E[(w_hat - w)**2] / Delta**2`` for values stored as ``codes`` (both in units of Delta)."""
        values = np.asarray(values, dtype=np.float64)
        return self.variance[codes] + (self.mean[codes] - values) ** 2


def readback_table(encoding: Encoding, p: numbers.Real | Channel) -> ReadbackTable:
    """Mean and variance of the read-back value of every code under channel ``p``.

    Parameters
    ----------
    encoding : Encoding
        Width at most 16 bits (the table has ``2**n`` rows).
    p : float, Channel
        The layer's channel, e.g. ``ProtectedChannel(SymmetricChannel(0.1), k)``.
    """
    if not isinstance(encoding, Encoding):
        raise ValueError(f"encoding must come from qtaml_theory.get_encoding, got {encoding!r}")
    if encoding.n > 16:
        raise ValueError(f"readback tables need n <= 16, got n = {encoding.n}")
    codes = np.arange(encoding.n_codes, dtype=np.int64)
    kappa = error_cumulants(encoding, codes, as_channel(p))
    stored = encoding.decode(codes)
    return ReadbackTable(stored=stored, mean=stored + kappa[0], variance=kappa[1])


def _lower_envelope(slopes, intercepts):
    """Indices of the lines ``slope * x + intercept`` on the lower envelope, and their breakpoints.

    Lines sorted by decreasing slope; returns ``(lines, breakpoints)`` where line
    ``lines[j]`` is minimal on ``[breakpoints[j-1], breakpoints[j]]``.
    """
    order = np.lexsort((intercepts, -slopes))
    hull, starts = [], []
    for line in order:
        if hull and slopes[hull[-1]] == slopes[line]:
            continue  # same slope, larger or equal intercept: never below
        while hull:
            top = hull[-1]
            x = (intercepts[line] - intercepts[top]) / (slopes[top] - slopes[line])
            if x <= starts[-1]:
                hull.pop()
                starts.pop()
            else:
                break
        start = -np.inf if not hull else (intercepts[line] - intercepts[hull[-1]]) / (slopes[hull[-1]] - slopes[line])
        hull.append(line)
        starts.append(start)
    return np.array(hull), np.array(starts[1:])


def mmse_codes(values: ArrayLike, table: ReadbackTable) -> np.ndarray:
    """Codes minimizing the expected squared read-back error for each value (units of Delta).

    ``E[(w_hat - w)**2] = Var_c + (m_c - w)**2 = w**2 + (m_c**2 + Var_c) - 2 m_c w``:
    the minimum over ``c`` is the lower envelope of the lines ``-2 m_c w + b_c``.

    Parameters
    ----------
    values : array_like
        Target weights in units of Delta (finite).
    table : ReadbackTable

    Returns
    -------
    ndarray of int64
    """
    values = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError("values must be finite (no NaN or infinity)")
    slopes = -2.0 * table.mean
    intercepts = table.mean**2 + table.variance
    lines, breakpoints = _lower_envelope(slopes, intercepts)
    return lines[np.searchsorted(breakpoints, values, side="right")].astype(np.int64)


def expected_squared_error(values: ArrayLike, codes: ArrayLike, table: ReadbackTable) -> np.ndarray:
    """Per-weight ``E[(w_hat - w)**2]`` in units of Delta**2 (alias of :meth:`ReadbackTable.mse`)."""
    return table.mse(values, codes)
