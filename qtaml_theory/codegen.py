"""The code generator: the run-time closed forms, printed from the SymPy derivations.

:mod:`qtaml_theory.derive` (and :mod:`qtaml_theory.physics_derivations`)
derive each closed form of Section 3, Section 4 and Appendix A as a SymPy
expression; this module prints them as plain Python functions into
:mod:`qtaml_theory._closed_forms`, which the law, the allocation and the
physics evaluate at run time (publicly through
:mod:`qtaml_theory.closed_forms`). Nothing is typed twice.

``python -m qtaml_theory.codegen`` (or, as before, ``python -m
qtaml_theory.derive``) rewrites the file; the test
``test_generated_closed_forms_match_derivation`` regenerates it and compares.
"""

from __future__ import annotations

import math
from pathlib import Path

import sympy as sp
from sympy.printing.numpy import SciPyPrinter

from .channels import LEVEL_MAPS, MAX_BITS_PER_CELL
from .derive import (
    RATE_SYMBOLS,
    Delta,
    M,
    bernoulli_cumulant,
    cell_loss_rates,
    drift,
    fourth_cumulant,
    k,
    k2,
    k3,
    k4,
    lyapunov_ratio,
    m0,
    mean_correction_factor,
    mean_drift,
    msb_variance_share,
    multilevel_drift_slope,
    n,
    p,
    p01,
    p10,
    pi,
    protected_mean_drift,
    protection_cost,
    protection_cost_leading,
    r,
    sigma,
    sign_mixture_cumulants,
    sign_mixture_error_mean,
    variance,
    variance_protected,
    w,
)

__all__ = ["generate_closed_forms_module", "closed_forms_path", "main"]

GENERATED_HEADER = '''"""Closed forms generated from :mod:`qtaml_theory.derive`. Do not edit.

Regenerate with ``python -m qtaml_theory.derive``; the test
``test_generated_closed_forms_match_derivation`` regenerates this file and
compares. Each expression is printed as one integer-coefficient numerator over
one denominator, so Fractions stay exact and numpy arrays broadcast; the
factors of the flip rates (such as ``p*(1 - p)``) stay unexpanded, so that
floats keep their digits near ``p = 0`` and ``p = 1``.
"""
'''


def _generated_functions():
    """``(name, arguments, expressions, docstring)`` of every generated function."""
    mix = sign_mixture_cumulants()
    functions = [
        (f"bernoulli_cumulant_{order}", (pi,), (bernoulli_cumulant(order),),
         f"Cumulant {order} of a Bernoulli(pi) flip (Thm 3.1).")
        for order in (1, 2, 3, 4)
    ]
    functions += [
        ("sign_mixture_cumulants", (sigma, r, M, k2, k3, k4), mix,
         "Mean and cumulants 2-4 of sigma_hat * M_hat (sign-magnitude, A.8)."),
        ("sign_mixture_error_mean", (sigma, r, m0, drift), (sign_mixture_error_mean(),),
         "E[w_hat - w] for sign-magnitude: stored magnitude m0, magnitude drift E[M_hat] - m0 (A.8)."),
        ("variance_symmetric", (n, p, Delta), (variance(),),
         "Var[delta | w] under the symmetric channel (Thm A.11)."),
        ("variance_protected", (n, k, p, Delta), (variance_protected(),),
         "Per-weight variance with the top k bits protected (Lemma 4.2)."),
        ("msb_variance_share", (n,), (msb_variance_share(),),
         "Share of the variance carried by the MSB (Prop A.12)."),
        ("fourth_cumulant_symmetric", (n, p, Delta), (fourth_cumulant(),),
         "Fourth cumulant under the symmetric channel (Thm A.14)."),
        ("lyapunov_ratio", (n, p), (lyapunov_ratio(),),
         "Lyapunov ratio of the per-weight sum (Thm 3.4); takes floats."),
        ("protection_cost", (n, k), (protection_cost(),),
         "Allocation objective per unit N s with the top k bits protected (Thm 4.4): 4**(n-k) - 1."),
        ("protection_cost_leading", (n, k), (protection_cost_leading(),),
         "Leading-order allocation objective per unit N s (Sec. 4.5): 4**(n-k)."),
        ("output_variance_factor", (p,), (bernoulli_cumulant(2).subs(pi, p) / 3,),
         "Common factor p(1-p)/3 of the output variance (Thm 4.4)."),
        ("protected_mean_drift", (n, k, sp.Symbol("r", nonnegative=True), p, Delta), (protected_mean_drift(),),
         "E[delta] with the top k bits protected, r the unprotected low bits (offset binary)."),
        ("drift_slope_directional", (p01, p10), (sp.diff(mean_drift("offset_binary", "directional"), w),),
         "Slope in w of E[delta | w] under the directional channel (linear encodings): -(p01 + p10)."),
        ("mean_correction_factor", (p,), (mean_correction_factor(),),
         "Pre-scaling factor 1/(1 - 2p) of the mean correction (Prop 4.1)."),
    ]
    for name in ("offset_binary", "offset_binary_symmetric", "twos_complement"):
        functions.append((f"mean_drift_{name}", (w, p, Delta), (mean_drift(name),),
                          f"E[delta | w] for {name} under the symmetric channel (Thm 3.2, A.8)."))
    for bits_per_cell in range(1, MAX_BITS_PER_CELL + 1):
        for level_map in LEVEL_MAPS:
            functions.append((f"multilevel_drift_slope_{bits_per_cell}_{level_map}", cell_loss_rates(bits_per_cell),
                              (multilevel_drift_slope(bits_per_cell, level_map),),
                              f"Drift slope of a {bits_per_cell}-bit cell ({level_map} levels) under one-step "
                              f"charge loss q_L (issue 16)."))
    return functions + _physics_functions()


def _physics_functions():
    """The device-physics closed forms of :mod:`qtaml_theory.physics_derivations`."""
    from . import physics_derivations as phys

    s = phys.SYMBOLS
    # K as a real symbol, so that log(gamma(K + 1)) stays loggamma (printed as scipy's gammaln).
    real_threshold = sp.Symbol("K", positive=True)
    rare_log = sp.expand_log(sp.log(phys.rare_flip_probability().rewrite(sp.gamma)), force=True)
    rare_log = rare_log.subs(s["K"], real_threshold).replace(
        lambda e: isinstance(e, sp.log) and isinstance(e.args[0], sp.gamma),
        lambda e: sp.loggamma(e.args[0].args[0]))
    # In terms of log(lambda), so that lambda may be far below the smallest float.
    log_lam = sp.Symbol("log_lam", real=True)
    rare_log = sp.expand_log(rare_log.subs(s["lam"], sp.exp(log_lam)), force=True)
    return [
        ("decay_constant", (s["V0"], s["E"], s["m"], s["hbar"]), (phys.decay_constant(),),
         "Decay constant kappa inside the barrier, 1/m from SI inputs (Lemma A.7)."),
        ("wkb_log_transmission", (s["kappa"], s["d"]),
         (sp.log(phys.wkb_transmission().subs(phys.decay_constant(), s["kappa"])).expand(force=True),),
         "log of the WKB transmission exp(-2 kappa d) (Lemma A.7)."),
        ("transmission_prefactor", (s["V0"], s["E"]), (phys.transmission_prefactor(),),
         "V0**2/(4E(V0-E)): exact T = 1/(1 + prefactor sinh(kappa d)**2) (rectangular barrier)."),
        ("wkb_prefactor", (s["V0"], s["E"]), (phys.wkb_prefactor(),),
         "Thick-barrier limit of T_exact / T_WKB, 16E(V0-E)/V0**2."),
        ("rare_escape_probability", (s["T"], s["A"]), (phys.rare_escape_probability(),),
         "Rare-escape form A T of 1 - (1 - T)**A, A = nu tau attempts (Lemma A.8)."),
        ("rare_log_flip_probability", (log_lam, real_threshold), (rare_log,),
         "log(lambda**K / K!) from log(lambda), the leading rare-event flip probability (Prop A.10)."),
    ]


def _integer_powers(expr):
    """Rewrite ``2**(a n + c)`` as ``2**c * (2**a)**n`` so that ``4**n`` prints as such."""
    def rewrite(power):
        linear = sp.Poly(power.exp, n)
        if linear.degree() != 1:
            return power
        slope, intercept = linear.all_coeffs()
        return power.base**intercept * (power.base**slope) ** n

    return expr.replace(
        lambda e: e.is_Pow and e.base.is_Integer and e.exp.has(n) and e.exp.is_polynomial(n),
        rewrite,
    )


def _print_ratio(expr, printer):
    """Print ``expr`` as one integer-coefficient numerator over one denominator.

    An expression of the flip rates (:data:`RATE_SYMBOLS`) keeps its factors in
    the rates (:func:`_factor_in_rates`): ``p (1 - p)`` printed expanded as
    ``p - p**2`` loses every digit near ``p = 1`` and underflows early.
    """
    if not expr.free_symbols & RATE_SYMBOLS:
        numerator, denominator = sp.fraction(sp.together(_integer_powers(expr)))
        numerator = sp.expand(numerator)
        scale = math.lcm(*(int(term.as_coeff_Mul()[0].q) for term in sp.Add.make_args(numerator)))
        numerator, denominator = sp.expand(numerator * scale), denominator * scale
    else:
        numerator, denominator = sp.fraction(_factor_in_rates(expr))
        terms = [term.as_coeff_Mul() for term in sp.Add.make_args(numerator)]
        scale = math.lcm(*(int(coeff.q) for coeff, _ in terms))
        numerator = sp.Add(*(sp.Mul(coeff * scale, rest, evaluate=False) if coeff * scale != 1 else rest
                             for coeff, rest in terms))
        denominator = denominator * scale
    if denominator == 1:
        return printer.doprint(numerator)
    return f"({printer.doprint(numerator)})/({printer.doprint(denominator)})"


def _factor_in_rates(expr):
    """``expr`` with every polynomial in the flip rates factored.

    The expression is factored as a whole; then every sum that still holds
    the rates (the sign mixture's cumulants, or a factor such as
    ``8 M**3 r (r - 1) + k3``) is grouped by its rate-free monomials, each
    multiplying a factored polynomial in the rates alone. The result equals
    ``expr``: checked to 40 digits at rational points of every symbol (SymPy
    does not always simplify the difference of the square roots to zero).
    """
    factored = _group_rates(sp.factor(_integer_powers(sp.together(expr))))
    symbols = sorted(expr.free_symbols, key=str)
    for trial in range(3):
        point = {s: (trial + 2 if s.is_integer else sp.Rational(trial + 1, 7 + index))
                 for index, s in enumerate(symbols)}
        before, after = (sp.N(e.subs(point), 50) for e in (expr, factored))
        if abs(before - after) > sp.Float(10) ** -40 * max(1, abs(before)):
            raise RuntimeError(f"factoring in the rates changed {expr}")
    return factored


def _group_rates(expr):
    """Group every sum in ``expr`` by rate-free monomials, factoring each polynomial in the rates."""
    if expr.is_Atom:
        return expr
    expr = expr.func(*(_group_rates(arg) for arg in expr.args))
    if not (expr.is_Add and expr.free_symbols & RATE_SYMBOLS):
        return expr
    groups = {}
    for term in sp.Add.make_args(sp.expand(expr)):
        coeff, rest = term.as_coeff_Mul()
        key, rates = rest.as_independent(*RATE_SYMBOLS, as_Add=False)
        groups[key] = groups.get(key, 0) + coeff * rates
    if len(groups) == 1:
        return expr
    return sp.Add(*(key * sp.factor(rates) for key, rates in groups.items()))


def generate_closed_forms_module() -> str:
    """Source text of :mod:`qtaml_theory._closed_forms`, printed from the derivations.

    Each function of :func:`_generated_functions` is printed by SymPy's
    ``SciPyPrinter`` as one numerator over one denominator
    (:func:`_print_ratio`); the test ``test_generated_closed_forms_match_derivation``
    compares the result with the file on disk.
    """
    printer = SciPyPrinter({"fully_qualified_modules": False, "inline": True})
    lines = [GENERATED_HEADER, "from numpy import log, sqrt  # noqa: F401",
             "from scipy.special import gammaln  # noqa: F401", ""]
    for name, args, exprs, doc in _generated_functions():
        arg_names = ", ".join(str(a) for a in args)
        body = ", ".join(_print_ratio(e, printer) for e in exprs)
        lines += ["", f"def {name}({arg_names}):", f'    """{doc}"""', f"    return {body}", ""]
    return "\n".join(lines).rstrip() + "\n"


def closed_forms_path() -> Path:
    """Path of the generated module inside the installed package."""
    return Path(__file__).with_name("_closed_forms.py")


def main(argv: list[str] | None = None) -> None:
    """Rewrite :mod:`qtaml_theory._closed_forms` from the derivations (``python -m qtaml_theory.codegen``).

    ``--out PATH`` writes the module elsewhere (to compare it, say) and leaves
    the package's file alone.
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m qtaml_theory.codegen",
                                     description="Rewrite qtaml_theory/_closed_forms.py from the derivations.")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to write the module (default: the package's own _closed_forms.py)")
    path = parser.parse_args(argv).out or closed_forms_path()
    path.write_text(generate_closed_forms_module())
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
