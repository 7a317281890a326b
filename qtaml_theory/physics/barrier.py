"""Step 1 of the device physics: transmission through a rectangular barrier (Lemma A.7, Appendix A.1).

``method="wkb"`` is ``exp(-2 kappa d)``; ``method="exact"`` the matched wave
function, ``1 / (1 + V0**2 sinh(kappa d)**2 / (4 E (V0 - E)))``. The oxide
presets (:data:`SIO2`, :data:`HFO2`) cite their sources.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy import constants

from .. import closed_forms as cf
from ..validation import check_finite_values, check_positive_values
from .bounds import _EXP_CAP, TRANSMISSION_METHODS, _method, _result


@dataclass(frozen=True)
class BarrierMaterial:
    """A gate-oxide barrier: conduction-band offset to silicon and tunneling effective mass.

    Attributes
    ----------
    name : str
    barrier_ev : float
        Barrier height V0 in eV.
    effective_mass : float
        Tunneling effective mass in units of the electron mass.
    source : str
        Where the values come from.
    """

    name: str
    barrier_ev: float
    effective_mass: float
    source: str


#: SiO2-like stack: Si/SiO2 conduction-band offset 3.15 eV and oxide effective mass 0.42 m_e, as fitted to
#: direct-tunneling currents by Depas et al., Solid-State Electronics 38, 1465 (1995); representative values.
SIO2 = BarrierMaterial("SiO2", 3.15, 0.42,
                       "Depas et al., Solid-State Electron. 38, 1465 (1995): V0 = 3.15 eV, m* = 0.42 m_e")
#: HfO2-like stack: conduction-band offset to Si 1.5 eV (Robertson, J. Vac. Sci. Technol. B 18, 1785 (2000))
#: and tunneling effective mass 0.11 m_e (Zhu et al., IEEE Electron Device Lett. 23, 97 (2002)); representative.
HFO2 = BarrierMaterial("HfO2", 1.5, 0.11,
                       "Robertson, JVST B 18, 1785 (2000): V0 = 1.5 eV; Zhu et al., IEEE EDL 23, 97 (2002): "
                       "m* = 0.11 m_e")
#: The barrier presets by name.
MATERIALS = {"sio2": SIO2, "hfo2": HFO2}


#: Above this ``u = kappa d``, ``log sinh(u)`` is taken as ``u + log1p(-exp(-2u)) - log 2``; below, directly.
_SINH_SWITCH = 20.0
#: Largest ``u = kappa d`` at which the exact transmission is evaluated directly (``sinh(u)**2`` about
#: ``e**600 / 4``, T about 1e-261): a margin below u = 355, where ``sinh(u)**2`` overflows and T would
#: read 0. Above it, T is ``exp(log_transmission)``.
_DIRECT_TRANSMISSION_U = 300

def _kappa(barrier_ev, energy_ev, effective_mass):
    """Decay constant in 1/m (generated from the Schrodinger equation).

    Evaluated in eV and scaled by ``sqrt(eV / J)`` afterwards: ``V0 - E`` is then
    a difference of the inputs themselves, exact when they are close (a
    difference of two products would lose ``log10(V0 / (V0 - E))`` digits).
    """
    return cf.decay_constant(barrier_ev, energy_ev, effective_mass * constants.m_e, constants.hbar) * math.sqrt(
        constants.electron_volt)


def _check_barrier(thickness_m, barrier_ev, energy_ev, effective_mass, method):
    thickness = check_positive_values(thickness_m, "thickness_m", " m")
    barrier = check_positive_values(barrier_ev, "barrier_ev", " eV")
    energy = check_finite_values(energy_ev, "energy_ev")
    mass = check_positive_values(effective_mass, "effective_mass", " (units of the electron mass)")
    if np.any(energy >= barrier):
        raise ValueError("energy_ev must be below barrier_ev: at or above the barrier the electron is not "
                         "tunneling and the formulas do not apply")
    low = 0 if method == "wkb" else np.nextafter(0, 1)
    if np.any(energy < low):
        raise ValueError(f"energy_ev must be {'>= 0' if method == 'wkb' else '> 0'} eV for the {method} "
                         f"transmission, got {energy_ev!r}")
    return thickness, barrier, energy, mass


def log_transmission(thickness_m: ArrayLike, barrier_ev: ArrayLike, energy_ev: ArrayLike,
                     effective_mass: ArrayLike = 1.0, method: str = "wkb") -> float | np.ndarray:
    """Natural log of :func:`transmission` (never underflows)."""
    method = _method(method, TRANSMISSION_METHODS)
    thickness, barrier, energy, mass = _check_barrier(thickness_m, barrier_ev, energy_ev, effective_mass, method)
    kappa = _kappa(barrier, energy, mass)
    if method == "wkb":
        result = cf.wkb_log_transmission(kappa, thickness)
    else:
        # T = 1 / (1 + c sinh(u)**2), u = kappa d; log(c sinh(u)**2) without overflow (large u) and
        # without cancellation (small u, where 1 - exp(-2u) would lose digits).
        u = kappa * thickness
        with np.errstate(over="ignore"):
            log_sinh = np.where(u > _SINH_SWITCH, u + np.log1p(-np.exp(-2 * u)) - math.log(2),
                                np.log(np.sinh(np.minimum(u, _SINH_SWITCH))))
        result = -np.logaddexp(0.0, np.log(cf.transmission_prefactor(barrier, energy)) + 2 * log_sinh)
    return _result(np.asarray(result, dtype=np.float64), thickness_m, barrier_ev, energy_ev, effective_mass)


def transmission(thickness_m: ArrayLike, barrier_ev: ArrayLike, energy_ev: ArrayLike, effective_mass: ArrayLike = 1.0,
                 method: str = "wkb") -> float | np.ndarray:
    """Probability that one electron at energy E tunnels through a rectangular barrier.

    Parameters
    ----------
    thickness_m : float or array_like
        Barrier (oxide) thickness d in metres, > 0.
    barrier_ev : float or array_like
        Barrier height V0 in eV, > 0.
    energy_ev : float or array_like
        Electron energy E in eV, below the barrier (``>= 0`` for WKB, ``> 0``
        for the exact form).
    effective_mass : float or array_like, optional
        Effective mass in units of the electron mass (default 1).
    method : {"wkb", "exact"}
        ``"wkb"``: ``exp(-2 kappa d)``, ``kappa = sqrt(2 m* (V0 - E)) / hbar``
        (Lemma A.7). ``"exact"``: ``1 / (1 + V0**2 sinh(kappa d)**2 / (4 E (V0 - E)))``.

    Returns
    -------
    float or ndarray

    Notes
    -----
    For thick barriers ``T_exact / T_WKB -> 16 E (V0 - E) / V0**2`` (the
    prefactor WKB's exponent leaves out; :func:`qtaml_theory.closed_forms.wkb_prefactor`).

    Examples
    --------
    >>> from qtaml_theory.physics import SIO2, transmission
    >>> t = transmission(2.1e-9, SIO2.barrier_ev, 0.1, SIO2.effective_mass)
    >>> f"{t:.3e}"
    '2.651e-11'
    """
    method = _method(method, TRANSMISSION_METHODS)
    thickness, barrier, energy, mass = _check_barrier(thickness_m, barrier_ev, energy_ev, effective_mass, method)
    kappa = _kappa(barrier, energy, mass)
    if method == "wkb":
        value = np.exp(cf.wkb_log_transmission(kappa, thickness))
    else:
        u = kappa * thickness
        with np.errstate(over="ignore"):
            direct = 1.0 / (1.0 + cf.transmission_prefactor(barrier, energy)
                            * np.sinh(np.minimum(u, _EXP_CAP)) ** 2)
        from_log = np.exp(np.asarray(log_transmission(thickness, barrier, energy, mass, method)))
        value = np.where(u < _DIRECT_TRANSMISSION_U, direct, from_log)
    return _result(np.asarray(value, dtype=np.float64), thickness_m, barrier_ev, energy_ev, effective_mass)
