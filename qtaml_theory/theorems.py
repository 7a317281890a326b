"""The paper's per-weight theorems as checkable records (Section 3, A.3-A.9, Lemma 4.2).

Each :class:`Theorem` holds the paper's statement as a SymPy claim and three
checks, one per route:

``symbolic()``
    The package's derivation (:mod:`qtaml_theory.derive`) equals the stated
    form (True/False, via :func:`qtaml_theory.proof.symbolically_equal`).
``closed_form_error(bits, rate, delta)``
    The largest ``|closed form - exact enumeration|`` over every code, in
    float64, relative to the largest exact value.
``montecarlo_z(bits, rate, delta, size, seed)``
    The largest ``|z|`` of the Monte Carlo route against enumeration
    (:func:`qtaml_theory.verify.montecarlo_zscores`), or ``None`` where the
    statement has no random counterpart.

The report (:mod:`qtaml_theory.report`) tabulates them; the test suite holds
each to its tolerance.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import sympy as sp

from . import _closed_forms as cf
from . import derive
from .channels import DirectionalChannel, PerBitChannel
from .derive import S3, Delta, k2, k4, n, p, p01, p10, sigma, w
from .encodings import get_encoding
from .law import WeightError, error_cumulants, layer_output_cumulants
from .proof import symbolically_equal
from .verify import montecarlo_zscores

__all__ = ["Theorem", "THEOREMS"]


@dataclass(frozen=True)
class Theorem:
    """One statement of the paper with its symbolic, closed-form and Monte Carlo checks."""

    label: str
    title: str
    statement: str  # LaTeX, math mode
    claim: Callable[[], tuple]  # (derived, stated) SymPy expressions
    closed_form: Callable[[int, float, float], float]
    montecarlo: Callable[[int, float, float, int, int], float] | None = None

    def symbolic(self):
        """True when the package's derivation equals the stated form."""
        derived, stated = self.claim()
        return symbolically_equal(derived, stated)

    def closed_form_error(self, bits=8, rate=0.1, delta=0.125):
        """Largest ``|closed form - enumeration|`` over every code (float64), relative to the largest exact value."""
        return float(self.closed_form(bits, rate, delta))

    def montecarlo_z(self, bits=8, rate=0.1, delta=0.125, size=200_000, seed=0):
        """Largest ``|z|`` of the Monte Carlo route, or ``None`` if there is none."""
        return None if self.montecarlo is None else float(self.montecarlo(bits, rate, delta, size, seed))


def _laws(name, bits, channel, delta):
    encoding = get_encoding(name, bits)
    return [WeightError(encoding, code, channel, delta) for code in range(2**bits)]


def _max_error(pairs):
    """Largest ``|closed - exact|`` relative to the largest ``|exact|`` (absolute if that is 0)."""
    pairs = [(float(a), float(b)) for a, b in pairs]
    scale = max(abs(b) for _, b in pairs) or 1.0
    return max(abs(a - b) for a, b in pairs) / scale


def _z(statistic, name="offset_binary", channel=None, code_fraction=0.8):
    """Monte Carlo check of one statistic at one code (a fixed fraction of the range)."""
    def check(bits, rate, delta, size, seed):
        law = WeightError(get_encoding(name, bits), int(code_fraction * (2**bits - 1)),
                          channel(bits, rate) if channel else rate, delta)
        return abs(montecarlo_zscores(law, size, seed)[statistic])
    return check


def _drift_error(name):
    drift = getattr(cf, f"mean_drift_{name}")

    def check(bits, rate, delta):
        laws = _laws(name, bits, rate, delta)
        return _max_error((drift(law.stored_value, rate, delta), law.mean("enumeration")) for law in laws)
    return check


def _cf_error(bits, rate, delta):
    """Largest |phi_formula - phi_enumerated| (|phi| <= 1, so this is already relative)."""
    t = np.linspace(-4 / delta, 4 / delta, 17)
    return max(np.max(np.abs(law.cf(t) - law.cf(t, "enumeration")))
               for law in _laws("offset_binary", bits, rate, delta))


def _cf_z(bits, rate, delta, size, seed):
    """z of the real part of the empirical CF; its exact variance is (1 + Re phi(2t))/2 - Re phi(t)^2."""
    law = WeightError(get_encoding("offset_binary", bits), 2 ** (bits - 1) + 5, rate, delta)
    t = np.linspace(0.1 / delta, 3 / delta, 8)
    exact, doubled = law.cf(t, "enumeration").real, law.cf(2 * t, "enumeration").real
    spread = np.sqrt((1 + doubled) / 2 - exact**2)
    estimate = law.cf(t, "montecarlo", size=size, rng=seed).real
    return np.max(np.abs(estimate - exact) / (spread / np.sqrt(size)))


def _variance_error(bits, rate, delta):
    return _max_error((cf.variance_symmetric(bits, rate, delta), law.var("enumeration"))
                      for law in _laws("offset_binary", bits, rate, delta))


def _msb_only(bits, rate):
    return PerBitChannel([0.0] * (bits - 1) + [rate])


def _msb_error(bits, rate, delta):
    code = 2 ** (bits - 1) + 3
    encoding = get_encoding("offset_binary", bits)
    share = WeightError(encoding, code, _msb_only(bits, rate), delta).var("enumeration") / \
        WeightError(encoding, code, rate, delta).var("enumeration")
    return _max_error([(cf.msb_variance_share(bits), share)])


def _third_error(bits, rate, delta):
    stated = sp.lambdify((S3, p, Delta), derive.third_cumulant())
    pairs = []
    for law in _laws("offset_binary", bits, rate, delta):
        pattern = sum((1 - 2 * ((law.code >> i) & 1)) * 8**i for i in range(bits))
        pairs.append((stated(pattern, rate, delta), law.cumulants("enumeration")[2]))
    return _max_error(pairs)


def _fourth_error(bits, rate, delta):
    return _max_error((cf.fourth_cumulant_symmetric(bits, rate, delta), law.cumulants("enumeration")[3])
                      for law in _laws("twos_complement", bits, rate, delta))


def _lyapunov_error(bits, rate, delta):
    amplitudes = 2.0 ** np.arange(bits)
    third = ((1 - rate) * (rate * amplitudes) ** 3 + rate * ((1 - rate) * amplitudes) ** 3).sum()
    variance = (rate * (1 - rate) * amplitudes**2).sum()
    return _max_error([(cf.lyapunov_ratio(bits, rate), third / variance**1.5)])


def _sign_magnitude_error(bits, rate, delta):
    mean = sp.lambdify((w, p, Delta, sigma), derive.sign_magnitude_mean().subs(n, bits))
    pairs = []
    for law in _laws("sign_magnitude", bits, rate, delta):
        sign = -1 if law.code >> (bits - 1) else 1
        pairs.append((mean(law.stored_value, rate, delta, sign), law.stored_value + law.mean("enumeration")))
    return _max_error(pairs)


def _compensation_error(bits, rate, delta):
    """Store w / (1 - 2p) for every w whose scaled value is on the grid; compare E[w_hat] with w - p Delta."""
    factor = cf.mean_correction_factor(rate)
    pairs = []
    for law in _laws("offset_binary", bits, rate, delta):
        target = law.stored_value / factor  # the trained weight whose corrected value this code stores
        pairs.append((law.stored_value + law.mean("enumeration"), target - rate * delta))
    return _max_error(pairs)


def _protected_error(bits, rate, delta):
    pairs = []
    for protected in range(bits + 1):
        channel = PerBitChannel([rate] * (bits - protected) + [0.0] * protected)
        law = WeightError(get_encoding("offset_binary", bits), 2 ** (bits - 1) - 3, channel, delta)
        pairs.append((cf.variance_protected(bits, protected, rate, delta), law.var("enumeration")))
    return _max_error(pairs)


def _directional(bits, rate):
    return DirectionalChannel(rate / 5, rate)


def _directional_error(bits, rate, delta):
    drift = sp.lambdify((w, p01, p10, Delta), derive.mean_drift("offset_binary", "directional").subs(n, bits))
    channel = _directional(bits, rate)
    return _max_error((drift(law.stored_value, channel.p01, channel.p10, delta), law.mean("enumeration"))
                      for law in _laws("offset_binary", bits, channel, delta))


def _layer_kurtosis_error(bits, rate, delta):
    """|kurtosis of a width-W sum of equal terms - per-weight kurtosis / W| over W = 1..1024."""
    encoding = get_encoding("offset_binary", bits)
    one = error_cumulants(encoding, 2 ** (bits - 1), rate, delta)
    per_weight = one[3] / one[1] ** 2
    pairs = []
    for width in (1, 4, 64, 1024):
        _, c2, _, c4 = layer_output_cumulants(encoding, np.full(width, 2 ** (bits - 1)), rate, np.ones(width), delta)
        pairs.append((c4 / c2**2, per_weight / width))
    return _max_error(pairs)


#: Every theorem record, in the paper's order; the report's theorem table and its tests walk it.
THEOREMS = (
    Theorem(
        "Thm 3.1", "characteristic function",
        r"\varphi(t\mid w)=\prod_i\bigl(1-\pi_i+\pi_i e^{it\Delta s_i c_i}\bigr)",
        lambda: (derive.bernoulli_cumulant(2), derive.pi * (1 - derive.pi)),
        _cf_error, _cf_z,
    ),
    Theorem(
        "Thm 3.2", "affine mean drift",
        r"\mathbb{E}[\delta\mid w]=-2pw-p\Delta",
        lambda: (derive.mean_drift("offset_binary"), -2 * p * w - p * Delta),
        _drift_error("offset_binary"), _z("mean"),
    ),
    Theorem(
        "Cor 3.3", "shrinkage",
        r"\mathbb{E}[\hat w\mid w]=(1-2p)w-p\Delta",
        lambda: (w + derive.mean_drift("offset_binary"), (1 - 2 * p) * w - p * Delta),
        _drift_error("offset_binary"), _z("mean", code_fraction=0.1),
    ),
    Theorem(
        "Thm A.11", "state-free variance",
        r"\mathrm{Var}[\delta\mid w]=\Delta^2p(1-p)\tfrac{4^n-1}{3}",
        lambda: (derive.variance(), Delta**2 * p * (1 - p) * (4**n - 1) / 3),
        _variance_error, _z("var"),
    ),
    Theorem(
        "Prop A.12", "MSB share",
        r"\tfrac{3\cdot 4^{n-1}}{4^n-1}\to\tfrac34",
        lambda: (derive.msb_variance_share(), 3 * 4 ** (n - 1) / (4**n - 1)),
        _msb_error, _z("var", channel=_msb_only),
    ),
    Theorem(
        "Thm A.13", "skewness",
        r"\kappa_3=\Delta^3p(1-p)(1-2p)\textstyle\sum_i s_i8^i,\ \gamma_1\sim p^{-1/2}",
        lambda: (sp.limit(sp.sqrt(p) * derive.skewness(), p, 0, "+"),
                 3 * sp.sqrt(3) * S3 / (4**n - 1) ** sp.Rational(3, 2)),
        _third_error, _z("skewness"),
    ),
    Theorem(
        "Thm A.14", "excess kurtosis",
        r"\kappa_4=\Delta^4p(1-p)(1-6p(1-p))\tfrac{16^n-1}{15}",
        lambda: (derive.fourth_cumulant(), Delta**4 * p * (1 - p) * (1 - 6 * p * (1 - p)) * (16**n - 1) / 15),
        _fourth_error, _z("excess_kurtosis", "twos_complement"),
    ),
    Theorem(
        "Thm 3.4", "Lyapunov ratio persists",
        r"L_n\to\tfrac{3\sqrt3}{7}\tfrac{p^2+(1-p)^2}{\sqrt{p(1-p)}}",
        lambda: (sp.limit(derive.lyapunov_ratio(), n, sp.oo),
                 3 * sp.sqrt(3) / 7 * (p**2 + (1 - p) ** 2) / sp.sqrt(p * (1 - p))),
        _lyapunov_error,
    ),
    Theorem(
        "A.8", "two's complement drift",
        r"\mathbb{E}[\delta\mid w]=-2pw-p\Delta",
        lambda: (derive.mean_drift("twos_complement"), -2 * p * w - p * Delta),
        _drift_error("twos_complement"), _z("mean", "twos_complement"),
    ),
    Theorem(
        "A.8", "symmetric offset binary drift",
        r"\mathbb{E}[\delta\mid w]=-2pw",
        lambda: (derive.mean_drift("offset_binary_symmetric"), -2 * p * w),
        _drift_error("offset_binary_symmetric"), _z("mean", "offset_binary_symmetric"),
    ),
    Theorem(
        "A.8", "sign-magnitude drift",
        r"\mathbb{E}[\hat w\mid w]=(1-2p)^2w+p(1-2p)(2^{n-1}-1)\Delta\,\mathrm{sgn}\,w",
        lambda: (derive.sign_magnitude_mean(),
                 (1 - 2 * p) ** 2 * w + p * (1 - 2 * p) * (2 ** (n - 1) - 1) * Delta * sigma),
        _sign_magnitude_error, _z("mean", "sign_magnitude"),
    ),
    Theorem(
        "Prop 4.1", "mean correction",
        r"\mathbb{E}[\hat w\mid w/(1-2p)]=w-p\Delta",
        lambda: (derive.compensated_mean(), w - p * Delta),
        _compensation_error, _z("mean", code_fraction=0.5),
    ),
    Theorem(
        "Lemma 4.2", "variance with top-$k$ protection",
        r"\Delta^2p(1-p)\tfrac{4^{n-k}-1}{3}",
        lambda: (derive.variance_protected(), Delta**2 * p * (1 - p) * (4 ** (n - derive.k) - 1) / 3),
        _protected_error, _z("var", channel=lambda bits, rate: PerBitChannel([rate] * (bits - 2) + [0.0, 0.0])),
    ),
    Theorem(
        "Ext.", "directional channel drift",
        r"\partial_w\mathbb{E}[\delta\mid w]=-(p_{01}+p_{10})",
        lambda: (sp.diff(derive.mean_drift("offset_binary", "directional"), w), -(p01 + p10)),
        _directional_error, _z("mean", channel=_directional),
    ),
    Theorem(
        "Remark 3.5", "layer output kurtosis",
        r"\gamma_2\bigl(\textstyle\sum_{j\le W}x\delta_j\bigr)=\gamma_2(\delta)/W",
        lambda: ((sp.Symbol("W") * k4) / (sp.Symbol("W") * k2) ** 2, (k4 / k2**2) / sp.Symbol("W")),
        _layer_kurtosis_error,
    ),
)
