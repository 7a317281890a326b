"""Device physics: from a gate-oxide barrier to the flip probability p, and back (Section 3, A.1-A.2).

The chain, each step by named methods:

1. :func:`transmission` through a rectangular barrier: ``method="wkb"``
   (Lemma A.7, ``exp(-2 kappa d)``) or ``method="exact"`` (the matched wave
   function, ``1 / (1 + V0**2 sinh(kappa d)**2 / (4 E (V0 - E)))``).
2. :func:`escape_probability` of one electron over a window of ``tau`` seconds
   with attempt frequency ``nu``: ``method="exact"``, ``1 - (1 - T)**(nu tau)``,
   or ``method="rare"``, ``nu tau T`` (Lemma A.8); computed with ``log1p`` and
   ``expm1`` so that it neither underflows nor rounds to 1.
3. :func:`flip_probability` of a bit storing ``N_e`` electrons.
   **Threshold convention**: the bit flips when *at least* ``K_th`` electrons
   escape, ``p = P(K >= K_th)``, ``K ~ Binomial(N_e, P_esc)`` (Definition A.9).
   ``method="binomial"`` (exact; ``"exact"`` is an alias), ``"poisson"``
   (Prop A.10, ``lambda = N_e P_esc``) or ``"rare"`` (``lambda**K_th / K_th!``).
   The binomial and Poisson tails are summed term by term from the side of
   the mode that holds fewer terms (so no term cancels another), in exact
   integer arithmetic scaled from a 40-digit mpmath log of the first term,
   with a rigorous bound on the terms left out: results are correct to double
   precision down to the smallest positive double, and the ``log_`` variants
   go further, without underflow, for every ``N_e <= MAX_ELECTRONS``.

Approximations used outside their regime (``method="rare"`` with an expected
count ``lambda >= RARE_LAMBDA``, ``method="poisson"`` with ``P_esc >
HIGH_ESCAPE``) emit an :class:`ApproximationWarning`; where a rare form
exceeds 1 it is **capped at 1** (with the warning), so that no function here
ever returns a probability above 1.

Every step also has a ``log_`` variant, used by :func:`device_flip_probability`
and by the inverse design (:func:`thickness_for_flip_probability`,
:func:`window_for_flip_probability`). Inputs are SI, with the unit in the
argument name; the effective mass is in units of the electron mass. Constants
come from :mod:`scipy.constants`. All functions broadcast over numpy arrays.

The closed forms (decay constant, exact prefactor, WKB exponent, rare forms)
are generated from :mod:`qtaml_theory.physics_derivations`.

One module per step: ``barrier`` (1), ``escape`` (2), ``tails`` (3),
``device`` (the chain for one cell, inverse design, the deployed channel),
``retention`` (multi-level cells' level transitions against time since the
last write, refresh, Arrhenius acceleration; issue 16) and ``regimes``, with ``bounds`` (regime bounds, limits, shared checks); every
public name is importable from here.
"""

from .barrier import HFO2, MATERIALS, SIO2, BarrierMaterial, log_transmission, transmission
from .bounds import (
    ESCAPE_METHODS,
    FLIP_METHODS,
    HIGH_ESCAPE,
    MAX_ELECTRONS,
    RARE_LAMBDA,
    TRANSMISSION_METHODS,
    ApproximationWarning,
)
from .device import (
    Device,
    deployment_channel,
    device_flip_probability,
    thickness_for_flip_probability,
    window_for_flip_probability,
)
from .escape import escape_probability, log_escape_probability
from .regimes import RegimeReport, regime
from .retention import (
    DATA_RETENTION_ACTIVATION_EV,
    REFERENCE_TEMPERATURE_K,
    SECONDS_PER_YEAR,
    arrhenius_acceleration,
    charge_loss_transition,
    retention_age_s,
    retention_channel,
)
from .tails import flip_probability, log_flip_probability

__all__ = [
    "ApproximationWarning",
    "MAX_ELECTRONS",
    "RARE_LAMBDA",
    "HIGH_ESCAPE",
    "TRANSMISSION_METHODS",
    "ESCAPE_METHODS",
    "FLIP_METHODS",
    "BarrierMaterial",
    "SIO2",
    "HFO2",
    "MATERIALS",
    "Device",
    "transmission",
    "log_transmission",
    "escape_probability",
    "log_escape_probability",
    "flip_probability",
    "log_flip_probability",
    "device_flip_probability",
    "RegimeReport",
    "regime",
    "thickness_for_flip_probability",
    "window_for_flip_probability",
    "deployment_channel",
    "DATA_RETENTION_ACTIVATION_EV",
    "REFERENCE_TEMPERATURE_K",
    "SECONDS_PER_YEAR",
    "arrhenius_acceleration",
    "retention_age_s",
    "charge_loss_transition",
    "retention_channel",
]
