"""Deprecated alias of :mod:`qtaml_theory.validation`; kept for one release.

Import from :mod:`qtaml_theory.validation` instead.
"""

import warnings

from .validation import (  # noqa: F401
    MAX_BITS,
    _as_exact_number,
    as_rate,
    as_scale,
    check_bits,
    check_codes,
    check_finite_values,
    check_integer,
    check_positive_values,
    check_probability_values,
)

warnings.warn("qtaml_theory._validation is deprecated; import from qtaml_theory.validation",
              DeprecationWarning, stacklevel=2)
