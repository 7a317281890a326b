"""qtaml_theory: the law of the weight error that tunneling bit flips cause.

Derived symbolically (:mod:`qtaml_theory.derive`), checked against exact
enumeration and Monte Carlo, and evaluated at run time from generated closed
forms. Paper: "Quantum Tunneling-Aware Machine Learning: Physics-Derived
Noise Models for Robust Deployment" (arXiv 2606.00741), Section 3 and
Appendix A.
"""

from . import channels
from .channels import DirectionalChannel, PerBitChannel, SymmetricChannel
from .encodings import get_encoding
from .law import WeightError, error_cumulants
from .protection import IdealMSB, ProtectionScheme, Unprotected

__all__ = [
    "channels",
    "get_encoding",
    "WeightError",
    "error_cumulants",
    "SymmetricChannel",
    "PerBitChannel",
    "DirectionalChannel",
    "ProtectionScheme",
    "Unprotected",
    "IdealMSB",
]
