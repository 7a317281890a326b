"""Retention: level transitions of multi-level cells as a function of time since the last write (issue 16).

The paper's future work (conclusion) asks for accuracy "as a function of
oxide thickness, barrier height, retention window" and for multi-level
cells. This module maps a :class:`~qtaml_theory.physics.Device` and a time
since programming to the transition matrix of a cell storing ``b`` bits,
vectorized over times, with a refresh (scrub) interval and an optional
Arrhenius acceleration.

The charge-loss model of a multi-level cell (a model, stated here; not
derived in the paper):

* Level ``L`` (``0 .. 2**b - 1``) holds ``L`` units of charge, one unit
  being the ``electrons`` of the device (the charge of an SLC cell's
  stored 1); level 0 holds none.
* Each stored electron escapes independently over the time since the
  last write with the device's ``P_esc`` (WKB or exact transmission,
  Lemma A.7; escape, Lemma A.8), so the escaped count is
  ``K ~ Binomial(L N_e, P_esc)``: a level holding more charge loses it
  faster (more electrons at the same barrier). Assumed away: barrier
  lowering by the stored charge's own field (which would make high
  levels faster still), charge gain, cell-to-cell interference,
  program/erase wear.
* Read references sit ``threshold`` electrons (``K_th``) below each
  level, the SLC convention of Definition A.9 at every level: the cell
  reads ``m`` levels down when ``K_th + (m - 1) N_e <= K < K_th + m N_e``
  (and at level 0 past ``L``). With ``b = 1`` this is exactly
  :func:`~qtaml_theory.physics.device_flip_probability`.
* Charge loss empties charged cells (forward-only tunneling, A.1); in
  flash, retention loss is charge loss and asymmetric
  (``/work/shared/MEMORIES.md``, after Schroeder et al., FAST 2016).

``one_step=True`` lumps every loss into one level (``L -> L - 1`` with
``P(K >= K_th)``): the model of the SymPy drift
(:func:`qtaml_theory.derive.multilevel_cell_drift`), exact to leading
order in the rare-event regime, where a second step needs ``N_e`` more
escapes.

Temperature (optional, a model with a source, not physics derived here):
the direct-tunneling rate above has no temperature; where a user wants
the empirical thermal acceleration of retention loss used in flash
qualification, :func:`arrhenius_acceleration` scales the time axis by
``AF = exp(E_a / k_B (1 / T_ref - 1 / T))`` with ``E_a = 1.1 eV``, the
activation energy of data-retention charge loss in JEDEC JESD218 / JESD47
qualification.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy.constants import electron_volt
from scipy.constants import k as boltzmann

from ..channels import MAX_BITS_PER_CELL, MultiLevelChannel
from ..validation import check_finite_values, check_integer, check_positive_values
from .barrier import log_transmission
from .escape import log_escape_probability
from .tails import log_flip_probability

__all__ = [
    "DATA_RETENTION_ACTIVATION_EV",
    "REFERENCE_TEMPERATURE_K",
    "SECONDS_PER_YEAR",
    "arrhenius_acceleration",
    "retention_age_s",
    "charge_loss_transition",
    "retention_channel",
]

#: Activation energy of flash data-retention charge loss, eV (JEDEC JESD218 / JESD47 qualification: 1.1 eV).
DATA_RETENTION_ACTIVATION_EV = 1.1
#: Temperature at which the device's own rates hold, K (room temperature, 25 C).
REFERENCE_TEMPERATURE_K = 298.15
#: A Julian year in seconds.
SECONDS_PER_YEAR = 365.25 * 86400.0


def _times(times_s, name="times_s"):
    """Times in seconds: finite and ``>= 0`` (a ValueError names ``name`` and the range)."""
    values = check_finite_values(times_s, name)
    if np.any(values < 0):
        raise ValueError(f"{name} must be finite times >= 0 s, got {times_s!r}")
    return values


def arrhenius_acceleration(temperature_k: ArrayLike, reference_k: float = REFERENCE_TEMPERATURE_K,
                           activation_ev: float = DATA_RETENTION_ACTIVATION_EV) -> float | np.ndarray:
    """Arrhenius acceleration ``exp(E_a / k_B (1 / T_ref - 1 / T))`` of retention loss (a model; issue 16).

    Parameters
    ----------
    temperature_k : float or array_like
        Storage temperature in kelvin, ``> 0``.
    reference_k : float
        Temperature of the device's own rates, kelvin.
    activation_ev : float
        Activation energy in eV (default 1.1 eV, JEDEC JESD218 / JESD47).

    Returns
    -------
    float or ndarray
        The factor by which the time since the last write is multiplied.

    Notes
    -----
    An empirical overlay on the time axis, not a consequence of the
    tunneling model (whose rate has no temperature). Paper, conclusion
    (future work: retention window).
    """
    temperature = check_positive_values(temperature_k, "temperature_k", " K")
    reference = float(check_positive_values(reference_k, "reference_k", " K"))
    activation = float(check_positive_values(activation_ev, "activation_ev", " eV"))
    factor = np.exp(activation * electron_volt / boltzmann * (1 / reference - 1 / temperature))
    return float(factor) if np.ndim(temperature_k) == 0 else factor


def retention_age_s(times_s: ArrayLike, refresh_s: float | None = None, worst_case: bool = True) -> np.ndarray:
    """Time since the last write at each time since deployment, with a refresh (scrub) every ``refresh_s``.

    Parameters
    ----------
    times_s : float or array_like
        Times since deployment in seconds, finite and ``>= 0``.
    refresh_s : float, optional
        Scrub interval in seconds (``> 0``, at most the longest time asked
        for); ``None``: never refreshed.
    worst_case : bool
        ``True``: the oldest data seen up to each time, ``min(t, refresh_s)``
        (data just before its scrub); ``False``: the age at that instant,
        ``t mod refresh_s``.

    Returns
    -------
    ndarray
        Ages in seconds, the shape of ``times_s``.
    """
    times = _times(times_s)
    if refresh_s is None:
        return times
    refresh = float(check_positive_values(refresh_s, "refresh_s", " s"))
    if times.size and refresh > times.max():
        raise ValueError(f"refresh_s must lie in (0, {times.max():g}] s (at most the longest time asked for), "
                         f"got {refresh_s!r}")
    return np.minimum(times, refresh) if worst_case else np.mod(times, refresh)


def charge_loss_transition(device, window_s: ArrayLike, bits_per_cell: int, one_step: bool = False,
                           method: str = "binomial", transmission_method: str = "exact") -> np.ndarray:
    """Level-transition matrices of a cell under charge loss over windows since the last write (issue 16).

    Parameters
    ----------
    device : Device
        The cell; ``electrons`` is one level's charge and ``threshold`` the
        read margin below each level (see the module notes for the model).
    window_s : float or array_like
        Times since the last write in seconds (``> 0``).
    bits_per_cell : int
        ``b`` in ``1..MAX_BITS_PER_CELL``.
    one_step : bool
        Lump every loss into one level step (the drift's model).
    method, transmission_method : str
        The tail and barrier transmission, as in
        :func:`~qtaml_theory.physics.device_flip_probability`.

    Returns
    -------
    ndarray, shape ``np.shape(window_s) + (2**b, 2**b)``
        Row-stochastic float64: ``[..., i, j]`` is the probability of level
        ``i`` reading as level ``j``.
    """
    bits = check_integer(bits_per_cell, "bits_per_cell", 1, MAX_BITS_PER_CELL)
    windows = check_positive_values(window_s, "window_s", " s")
    levels = 1 << bits
    log_t = log_transmission(device.thickness_m, device.barrier_ev, device.energy_ev, device.effective_mass,
                             transmission_method)
    log_escape = np.asarray(log_escape_probability(log_t, device.attempt_frequency_hz, windows))[..., None]
    electrons, threshold = device.electrons, device.threshold
    result = np.zeros(windows.shape + (levels, levels))
    result[..., 0, 0] = 1.0
    for level in range(1, levels):
        steps = 1 if one_step else level
        # log P(K >= K_th + (m - 1) N_e) for m = 1..steps, K ~ Binomial(level N_e, P_esc)
        starts = threshold + electrons * np.arange(steps)
        log_tails = np.asarray(log_flip_probability(log_escape, level * electrons, starts, method))
        tails = np.exp(log_tails)
        below = np.concatenate([log_tails[..., 1:], np.full(log_tails.shape[:-1] + (1,), -np.inf)], axis=-1)
        exactly = np.maximum(tails * -np.expm1(below - log_tails), 0.0)
        result[..., level, level] = -np.expm1(log_tails[..., 0])
        result[..., level, level - steps:level] = exactly[..., ::-1]
    return result


def retention_channel(device, time_s: float, bits_per_cell: int, level_map: str = "gray",
                      refresh_s: float | None = None, temperature_k: float | None = None,
                      one_step: bool = False, method: str = "binomial") -> MultiLevelChannel:
    """The channel of cells of ``b`` bits at ``time_s`` since deployment (issue 16; paper, conclusion).

    The time since the last write is ``min(time_s, refresh_s)`` (the worst
    case, :func:`retention_age_s`), times the Arrhenius factor at
    ``temperature_k`` when one is given; the transition is
    :func:`charge_loss_transition` over that window.

    Parameters
    ----------
    device : Device
    time_s : float
        Time since deployment in seconds, ``> 0``.
    bits_per_cell : int
    level_map : {"gray", "binary"}
    refresh_s : float, optional
        Scrub interval in seconds, at most ``time_s``.
    temperature_k : float, optional
        Storage temperature in kelvin (Arrhenius, a model).
    one_step : bool
    method : str

    Returns
    -------
    MultiLevelChannel
    """
    if np.ndim(time_s) != 0:
        raise ValueError(f"time_s must be one time in seconds (use charge_loss_transition for many), got {time_s!r}")
    age = float(retention_age_s(time_s, refresh_s))
    if not age > 0:
        raise ValueError(f"time_s must be a finite time > 0 s, got {time_s!r}")
    if temperature_k is not None:
        age *= arrhenius_acceleration(temperature_k)
    transition = charge_loss_transition(device, age, bits_per_cell, one_step, method)
    return MultiLevelChannel(bits_per_cell, transition, level_map=level_map)
