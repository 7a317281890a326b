"""The SymPy symbols of the derivations (:mod:`qtaml_theory.derive`; paper Section 3, A.3-A.9).

The bit index ``i``, width ``n``, protected bits ``k``, flip rates ``pi``,
``p``, ``p01``, ``p10``, ``r``, the step ``Delta``, the stored weight ``w`` and
decoded value ``v``, the bits ``b[i]``, and the magnitude and sign symbols of
the sign-magnitude law (:data:`qtaml_theory.derive.SYMBOLS` lists them by
name). :data:`CHANNELS` holds one channel object of each kind, whose
``symbolic_rate`` gives the flip probability ``pi_i`` of Theorem 3.1.
"""

from __future__ import annotations

import sympy as sp

from .channels import DirectionalChannel, PerBitChannel, SymmetricChannel

__all__ = ["RATE_SYMBOLS", "CHANNELS"]

t, u = sp.symbols("t u", real=True)
i, n, k = sp.symbols("i n k", integer=True, nonnegative=True)
pi = sp.Symbol("pi", nonnegative=True)
p = sp.Symbol("p", nonnegative=True)
p01, p10 = sp.symbols("p01 p10", nonnegative=True)
Delta = sp.Symbol("Delta", positive=True)
w = sp.Symbol("w", real=True)
v = sp.Symbol("v", real=True)
b = sp.IndexedBase("b")
S3 = sp.Symbol("S3", real=True)
sigma, r = sp.symbols("sigma r", real=True)
M, k2, k3, k4 = sp.symbols("M k2 k3 k4", real=True)
m0, drift = sp.symbols("m0 drift", real=True)

#: The flip rates: generated closed forms keep their factors (such as ``p (1 - p)``) unexpanded.
RATE_SYMBOLS = frozenset({pi, p, p01, p10, r})

CHANNELS = {
    "symmetric": SymmetricChannel(0),
    "per_bit": PerBitChannel([0]),
    "directional": DirectionalChannel(0, 0),
}
