"""SymPy derivations of the device physics (paper Section 3, Appendix A.1-A.2).

From the Schrodinger equation in a rectangular barrier of height ``V0`` and
thickness ``d`` to the flip probability of a stored bit:

* the decay constant ``kappa = sqrt(2 m (V0 - E)) / hbar`` inside the barrier;
* the WKB transmission ``exp(-2 int kappa dx) = exp(-2 kappa d)`` (Lemma A.7);
* the exact transmission of the rectangular barrier, by matching the wave
  function and its derivative at both edges, and its thick-barrier limit
  ``T_exact / T_WKB -> 16 E (V0 - E) / V0**2`` (the WKB prefactor);
* the escape probability over ``nu tau`` attempts and its rare form (Lemma A.8);
* the Poisson limit of the binomial tail and its leading rare-event term
  ``lambda**K / K!`` (Prop A.10), whose log is linear in ``d`` with slope
  ``-2 K kappa``.

The expressions that run at run time are generated into
:mod:`qtaml_theory._closed_forms` with the rest by :mod:`qtaml_theory.codegen`
(``python -m qtaml_theory.codegen``), and read through
:mod:`qtaml_theory.closed_forms`.
"""

from __future__ import annotations

from functools import cache

import sympy as sp

__all__ = [
    "SYMBOLS",
    "decay_constant",
    "wkb_transmission",
    "rectangular_barrier_transmission",
    "transmission_prefactor",
    "wkb_prefactor",
    "escape_probability",
    "rare_escape_probability",
    "binomial_pmf",
    "poisson_pmf",
    "rare_flip_probability",
    "rare_log_flip_slope",
]

x, d = sp.symbols("x d", positive=True)
mass, hbar = sp.symbols("m hbar", positive=True)
barrier, energy = sp.symbols("V0 E", positive=True)
k, kappa = sp.symbols("k kappa", positive=True)
transmission_symbol, attempts = sp.symbols("T A", positive=True)
electrons, threshold, count = sp.symbols("N K j", positive=True, integer=True)
escape, lam = sp.symbols("P lam", positive=True)

#: The symbols of the derivations, by name.
SYMBOLS = {
    "x": x, "d": d, "m": mass, "hbar": hbar, "V0": barrier, "E": energy, "k": k, "kappa": kappa,
    "T": transmission_symbol, "A": attempts, "N": electrons, "K": threshold, "j": count, "P": escape,
    "lam": lam,
}


@cache
def decay_constant():
    """``kappa`` with ``psi = exp(kappa x)`` solving ``-hbar**2/(2m) psi'' + V0 psi = E psi`` (E < V0)."""
    psi = sp.exp(kappa * x)
    schrodinger = -hbar**2 / (2 * mass) * sp.diff(psi, x, 2) + barrier * psi - energy * psi
    solutions = sp.solve(sp.simplify(schrodinger / psi), kappa)
    (positive,) = [s for s in solutions if s.subs({barrier: 2, energy: 1, mass: 1, hbar: 1}).is_positive]
    return positive


def wkb_transmission():
    """Lemma A.7: ``exp(-2 int_0^d kappa dx)`` for the rectangular barrier, ``exp(-2 kappa d)``."""
    return sp.exp(-2 * sp.integrate(decay_constant(), (x, 0, d)))


@cache
def rectangular_barrier_transmission():
    """Exact transmission ``|t|**2`` of a rectangular barrier, by wave-function matching.

    ``psi = e^{ikx} + r e^{-ikx}`` before, ``a e^{kappa x} + b e^{-kappa x}``
    inside, ``t e^{ikx}`` after; ``psi`` and ``psi'`` continuous at ``0`` and
    ``d`` (same effective mass throughout). Returned in terms of ``k`` and
    ``kappa``.
    """
    r, a, b, t = sp.symbols("r a b t")
    before = sp.exp(sp.I * k * x) + r * sp.exp(-sp.I * k * x)
    inside = a * sp.exp(kappa * x) + b * sp.exp(-kappa * x)
    after = t * sp.exp(sp.I * k * x)
    matching = [
        sp.Eq(before.subs(x, 0), inside.subs(x, 0)),
        sp.Eq(sp.diff(before, x).subs(x, 0), sp.diff(inside, x).subs(x, 0)),
        sp.Eq(inside.subs(x, d), after.subs(x, d)),
        sp.Eq(sp.diff(inside, x).subs(x, d), sp.diff(after, x).subs(x, d)),
    ]
    (solution,) = sp.solve(matching, [r, a, b, t], dict=True)
    amplitude = solution[t]
    return sp.simplify(amplitude * sp.conjugate(amplitude))


def transmission_prefactor():
    """``V0**2 / (4 E (V0 - E))``: the exact ``T = 1 / (1 + prefactor * sinh(kappa d)**2)``.

    Read off the matched transmission: ``1/T - 1 = (k**2 + kappa**2)**2 sinh**2 / (4 k**2 kappa**2)``
    with ``hbar**2 k**2 = 2 m E`` and ``hbar**2 kappa**2 = 2 m (V0 - E)``.
    """
    transmission = rectangular_barrier_transmission()
    ratio = sp.simplify((1 / transmission - 1).rewrite(sp.exp) / sp.sinh(kappa * d).rewrite(sp.exp) ** 2)
    wave_number = sp.sqrt(2 * mass * energy) / hbar
    return sp.simplify(ratio.subs({k: wave_number, kappa: decay_constant()}))


def wkb_prefactor():
    """``lim_{d -> oo} T_exact / T_WKB = 16 E (V0 - E) / V0**2``: what WKB's exponent leaves out."""
    exact = 1 / (1 + transmission_prefactor() * sp.sinh(kappa * d) ** 2)
    ratio = exact / sp.exp(-2 * kappa * d)
    return sp.simplify(sp.limit(ratio.rewrite(sp.exp), d, sp.oo))


def escape_probability():
    """Lemma A.8: at least one of ``A = nu tau`` independent attempts escapes, ``1 - (1 - T)**A``."""
    return 1 - (1 - transmission_symbol) ** attempts


def rare_escape_probability():
    """Lemma A.8's rare form: the first-order term of :func:`escape_probability` in ``T``."""
    return sp.series(escape_probability(), transmission_symbol, 0, 2).removeO()


def binomial_pmf():
    """``P(K = j)`` for ``K ~ Binomial(N, P)`` escaped electrons (Definition A.9)."""
    return sp.binomial(electrons, count) * escape**count * (1 - escape) ** (electrons - count)


def poisson_pmf():
    """Prop A.10: the ``N -> oo`` limit of :func:`binomial_pmf` at fixed ``lambda = N P``."""
    held = binomial_pmf().subs(escape, lam / electrons)
    # C(N, j) N**(-j) -> 1/j! and (1 - lambda/N)**(N - j) -> exp(-lambda), taken separately.
    falling = sp.gammasimp(sp.binomial(electrons, count).rewrite(sp.gamma) * electrons ** (-count))
    limit_falling = sp.limit(falling, electrons, sp.oo)
    rest = sp.simplify(held / (sp.binomial(electrons, count) * electrons ** (-count)))
    return sp.simplify(limit_falling * sp.limit(rest, electrons, sp.oo))


def rare_flip_probability():
    """Prop A.10's leading rare-event form: ``P(K >= K_th) ~ lambda**K / K!`` as ``lambda -> 0``.

    The first term of the Poisson tail ``sum_{j >= K} e^{-lambda} lambda**j / j!``
    with ``e^{-lambda} -> 1``.
    """
    first_term = poisson_pmf().subs(count, threshold)
    return sp.limit(first_term / lam**threshold, lam, 0) * lam**threshold


def rare_log_flip_slope():
    """``d log p / d d`` in the rare regime: ``-2 K kappa`` (p inherits the WKB exponent K times).

    With ``lambda = N A T`` and ``T = exp(-2 kappa d)``.
    """
    log_p = sp.expand_log(sp.log(rare_flip_probability().subs(
        lam, electrons * attempts * wkb_transmission().subs(decay_constant(), kappa))), force=True)
    return sp.simplify(sp.diff(log_p, d))
