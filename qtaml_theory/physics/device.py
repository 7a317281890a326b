"""The whole chain for one device, and back: flip probability of a cell, inverse design (Section 3, A.1-A.2).

:class:`Device` describes a cell in SI units; :func:`device_flip_probability`
runs transmission, escape and the threshold tail in logs;
:func:`thickness_for_flip_probability` and :func:`window_for_flip_probability`
solve for a target ``p``; :func:`deployment_channel` hands ``qtaml_tac`` the
channel to deploy with.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..channels import DirectionalChannel, SymmetricChannel
from ..validation import check_finite_values, check_positive_values
from .barrier import BarrierMaterial, _check_barrier, log_transmission
from .bounds import _counts, _result
from .escape import log_escape_probability
from .tails import log_flip_probability


@dataclass(frozen=True)
class Device:
    """A tunneling-prone memory cell, in SI units.

    Attributes
    ----------
    thickness_m : float
        Oxide (barrier) thickness d in metres.
    barrier_ev : float
        Barrier height V0 in eV.
    effective_mass : float
        Tunneling effective mass, units of the electron mass.
    energy_ev : float
        Energy of a stored electron in eV, below the barrier.
    attempt_frequency_hz : float
        Attempt frequency nu in Hz.
    electrons : int
        Electrons stored in a charged cell, N_e.
    threshold : int
        A bit flips when at least K_th = ``threshold`` electrons escape.

    Notes
    -----
    Use :meth:`from_material` with a preset (:data:`SIO2`, :data:`HFO2`) or
    your own :class:`BarrierMaterial`. Invalid values raise ``ValueError``.
    """

    thickness_m: float
    barrier_ev: float
    effective_mass: float
    energy_ev: float
    attempt_frequency_hz: float
    electrons: int
    threshold: int

    def __post_init__(self):
        _check_barrier(self.thickness_m, self.barrier_ev, self.energy_ev, self.effective_mass, "exact")
        check_positive_values(self.attempt_frequency_hz, "attempt_frequency_hz", " Hz")
        for name in ("electrons", "threshold"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise ValueError(f"{name} must be an integer number of electrons, got {value!r}")
        _counts(self.electrons, self.threshold)

    @classmethod
    def from_material(cls, material: BarrierMaterial, thickness_m: float, energy_ev: float,
                      attempt_frequency_hz: float, electrons: int, threshold: int) -> Device:
        """A device whose barrier height and effective mass come from ``material``."""
        return cls(thickness_m, material.barrier_ev, material.effective_mass, energy_ev, attempt_frequency_hz,
                   electrons, threshold)

    def replace(self, **changes: Any) -> Device:
        """A copy with some fields changed (validated again)."""
        fields = {**self.__dict__, **changes}
        return Device(**fields)


def _device_log_flip(device, window_s, transmission_method, flip_method, thickness_m=None):
    log_t = log_transmission(device.thickness_m if thickness_m is None else thickness_m, device.barrier_ev,
                             device.energy_ev, device.effective_mass, transmission_method)
    log_escape = log_escape_probability(log_t, device.attempt_frequency_hz, window_s)
    return log_flip_probability(log_escape, device.electrons, device.threshold, flip_method)


def device_flip_probability(device: Device, window_s: ArrayLike, method: str = "binomial",
                            transmission_method: str = "exact", log: bool = False) -> float | np.ndarray:
    """Flip probability of a device over a window: transmission, escape, threshold tail.

    Parameters
    ----------
    device : Device
    window_s : float or array_like
        Inference window tau in seconds.
    method : {"binomial", "exact", "poisson", "rare"}
        The tail (see :func:`flip_probability`).
    transmission_method : {"exact", "wkb"}
        The barrier transmission (see :func:`transmission`).
    log : bool
        Return ``log p`` (no underflow).
    """
    result = _device_log_flip(device, window_s, transmission_method, method)
    return result if log else _result(np.exp(np.asarray(result)), window_s)


# -- inverse design -------------------------------------------------------------

def _check_target(target_p):
    target = float(check_finite_values(target_p, "target_p"))
    if not 0 < target < 1:
        raise ValueError(f"target_p must lie in (0, 1), got {target_p!r}")
    return math.log(target)


def _solve_monotone(objective, low, high, name, unit):
    """Root of a monotone ``objective`` on ``[low, high]`` by Brent's method (bracketing)."""
    from scipy.optimize import brentq

    at_low, at_high = objective(low), objective(high)
    if at_low * at_high > 0:
        raise ValueError(f"target_p cannot be reached for {name} in [{low:g}, {high:g}] {unit}: "
                         f"log p runs from {at_low + 0:.4g} to {at_high + 0:.4g} about the target there")
    return brentq(objective, low, high, xtol=1e-15 * max(abs(low), abs(high)), rtol=1e-12, maxiter=200)


def thickness_for_flip_probability(target_p: float, device: Device, window_s: float,
                                   bracket_m: tuple[float, float] = (1e-10, 2e-8), method: str = "binomial",
                                   transmission_method: str = "exact") -> float:
    """Oxide thickness that gives flip probability ``target_p`` over ``window_s`` (inverse design).

    ``p`` falls monotonically with thickness; the root of ``log p(d) = log target``
    is bracketed in ``bracket_m`` and found by Brent's method. ``device``'s own
    thickness is ignored.

    Raises
    ------
    ValueError
        If ``target_p`` is outside (0, 1) or cannot be reached inside the bracket
        (the message gives the range of ``log p`` there).
    """
    log_target = _check_target(target_p)
    low, high = (float(b) for b in bracket_m)
    if not 0 < low < high:
        raise ValueError(f"bracket_m must be (low, high) with 0 < low < high, got {bracket_m!r}")

    def gap(thickness):
        return float(_device_log_flip(device, window_s, transmission_method, method, thickness)) - log_target

    return _solve_monotone(gap, low, high, "thickness", "m")


def window_for_flip_probability(target_p: float, device: Device, bracket_s: tuple[float, float] = (1e-12, 1e12),
                                method: str = "binomial", transmission_method: str = "exact") -> float:
    """Window length that gives flip probability ``target_p`` (p rises with the window)."""
    log_target = _check_target(target_p)
    low, high = (float(b) for b in bracket_s)
    if not 0 < low < high:
        raise ValueError(f"bracket_s must be (low, high) with 0 < low < high, got {bracket_s!r}")

    def gap(log_window):
        return float(device_flip_probability(device, math.exp(log_window), method, transmission_method,
                                             log=True)) - log_target

    return math.exp(_solve_monotone(gap, math.log(low), math.log(high), "log window", "(log s)"))


def deployment_channel(device: Device, window_s: float, model: str = "charge_loss",
                       method: str = "binomial") -> DirectionalChannel | SymmetricChannel:
    """The flip channel that ``qtaml_tac`` deploys with, from a device description.

    Parameters
    ----------
    device : Device
    window_s : float
        Inference window in seconds.
    model : {"charge_loss", "symmetric"}
        ``"charge_loss"``: forward-only tunneling empties charged cells, so a
        stored 1 (charged) reads back as 0 with ``p`` and a stored 0 never
        flips: ``DirectionalChannel(p01=0, p10=p)``. ``"symmetric"``: the
        paper's channel, every bit with ``p`` (Section 3's assumption).
    method : str
        The tail of :func:`flip_probability`.
    """
    p = float(device_flip_probability(device, window_s, method))
    if model == "charge_loss":
        return DirectionalChannel(0.0, p)
    if model == "symmetric":
        return SymmetricChannel(p)
    raise ValueError(f"model must be 'charge_loss' or 'symmetric', got {model!r}")
