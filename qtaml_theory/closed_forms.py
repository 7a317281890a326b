"""The run-time closed forms, public: law, allocation and device physics (Sections 3-4, Appendix A).

Each function is printed from its SymPy derivation (:mod:`qtaml_theory.derive`,
:mod:`qtaml_theory.physics_derivations`) into the generated module
:mod:`qtaml_theory._closed_forms` by :mod:`qtaml_theory.codegen`; this module
is the public name for them, for :mod:`qtaml_tac` and for users. Every function
takes floats, numpy arrays or Fractions (exact where the expression is
rational) and broadcasts.
"""

from ._closed_forms import (
    bernoulli_cumulant_1,
    bernoulli_cumulant_2,
    bernoulli_cumulant_3,
    bernoulli_cumulant_4,
    decay_constant,
    drift_slope_directional,
    fourth_cumulant_symmetric,
    lyapunov_ratio,
    mean_correction_factor,
    mean_drift_offset_binary,
    mean_drift_offset_binary_symmetric,
    mean_drift_twos_complement,
    msb_variance_share,
    output_variance_factor,
    protected_mean_drift,
    protection_cost,
    protection_cost_leading,
    rare_escape_probability,
    rare_log_flip_probability,
    sign_mixture_cumulants,
    sign_mixture_error_mean,
    transmission_prefactor,
    variance_protected,
    variance_symmetric,
    wkb_log_transmission,
    wkb_prefactor,
)

__all__ = [
    "bernoulli_cumulant_1",
    "bernoulli_cumulant_2",
    "bernoulli_cumulant_3",
    "bernoulli_cumulant_4",
    "sign_mixture_cumulants",
    "sign_mixture_error_mean",
    "variance_symmetric",
    "variance_protected",
    "msb_variance_share",
    "fourth_cumulant_symmetric",
    "lyapunov_ratio",
    "protection_cost",
    "protection_cost_leading",
    "output_variance_factor",
    "protected_mean_drift",
    "drift_slope_directional",
    "mean_correction_factor",
    "mean_drift_offset_binary",
    "mean_drift_offset_binary_symmetric",
    "mean_drift_twos_complement",
    "decay_constant",
    "wkb_log_transmission",
    "transmission_prefactor",
    "wkb_prefactor",
    "rare_escape_probability",
    "rare_log_flip_probability",
]
