"""Rows of data for every table of the report (data first; rendering is separate).

Each table is a :class:`Table`: a title, a caption, its columns and a list of
row dictionaries. Cells are plain Python values (numbers, bools, strings,
``None`` for "not applicable"); strings marked as LaTeX math start with ``$``.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import sympy as sp
from tqdm import tqdm

from .. import _closed_forms as cf
from .. import derive
from ..encodings import ENCODINGS, get_encoding
from ..law import WeightError, error_cumulants
from ..physics import MATERIALS, Device, device_flip_probability, regime
from ..studies import greedy_gap_study, integer_correction_study
from ..theorems import THEOREMS
from ..verify import FALSE_ALARM, z_threshold
from .code_rows import code_rate_rows

__all__ = ["Column", "Table", "TABLES", "build_tables", "theorem_rows", "moment_grid_rows",
           "msb_share_rows", "encoding_drift_rows", "encoding_variance_rows", "thickness_rows", "regime_rows"]


@dataclass(frozen=True)
class Column:
    """A column: the row key, its header (LaTeX and plain) and the number format."""

    key: str
    header_tex: str
    header_text: str
    fmt: str = "{}"


@dataclass
class Table:
    """A titled table of rows."""

    name: str
    title: str
    caption: str
    columns: tuple
    rows: list = field(default_factory=list)


def theorem_rows(bits=8, rate=0.1, delta=0.125, size=200_000, seed=0, progress=False):
    """One row per theorem: symbolic check, closed form vs enumeration, Monte Carlo z.

    Parameters
    ----------
    bits, rate, delta : int, float, float
        The configuration every numeric check runs at (every code is enumerated).
    size, seed : int
        Monte Carlo draws per check and the seed.
    progress : bool
        Show a progress bar (tqdm, on stderr) over the theorems.
    """
    rows = []
    for theorem in tqdm(THEOREMS, desc="theorem checks", unit="theorem", disable=not progress, file=sys.stderr):
        rows.append({
            "label": theorem.label,
            "title": theorem.title,
            "statement": f"${theorem.statement}$",
            "symbolic": theorem.symbolic(),
            "closed_form_error": theorem.closed_form_error(bits, rate, delta),
            "montecarlo_z": theorem.montecarlo_z(bits, rate, delta, size, seed),
        })
    return rows


def moment_grid_rows(bits_values=(4, 8, 16, 32), rates=(1e-4, 1e-2, 0.1)):
    """The four moments over a grid of n and p (symmetric channel, offset binary, w = 0).

    Variance in units of Delta**2; the mean is ``-p Delta`` at ``w = 0``.
    """
    rows = []
    for bits in bits_values:
        encoding = get_encoding("offset_binary", bits)
        for rate in rates:
            mean, var, skewness, kurtosis = WeightError(encoding, 2 ** (bits - 1), rate).stats()
            rows.append({"n": bits, "p": rate, "mean": mean, "var": var, "skewness": skewness,
                         "excess_kurtosis": kurtosis,
                         "lyapunov": cf.lyapunov_ratio(bits, rate)})
    return rows


def msb_share_rows(bits_values=(1, 2, 3, 4, 6, 8, 12, 16, 24, 32)):
    """The MSB's share of the variance against n (Prop A.12), exact and as a float."""
    share = derive.msb_variance_share()
    rows = []
    for bits in bits_values:
        exact = sp.Rational(share.subs(derive.n, bits))
        rows.append({"n": bits, "share_exact": f"${sp.latex(exact)}$" if bits <= 8 else None,
                     "share": float(exact), "gap": float(exact - sp.Rational(3, 4))})
    return rows


def encoding_drift_rows(bits=8, rate=0.1):
    """The mean drift of every encoding side by side (Thm 3.2, A.8), symbolic and at three weights."""
    rows = []
    for name in ENCODINGS:
        drift = sp.collect(sp.expand(derive.mean_drift(name).subs(derive.n, bits)),
                           [derive.w, derive.Delta * derive.sigma, derive.Delta], sp.factor)
        encoding = get_encoding(name, bits)
        values = [encoding.min_value, 0 if name != "offset_binary_symmetric" else Fraction(1, 2),
                  encoding.max_value]
        codes = np.array([encoding.encode(float(v)) for v in values])
        means = error_cumulants(encoding, codes, rate)[0]
        rows.append({"encoding": name.replace("_", " "),
                     "drift": f"${sp.latex(drift)}$",
                     "at_min": means[0], "at_zero": means[1], "at_max": means[2],
                     "w_min": float(values[0]), "w_max": float(values[2])})
    return rows


def encoding_variance_rows(bits=8):
    """The variance of every encoding side by side (Thm A.11; sign-magnitude derived here)."""
    rows = []
    for name in ENCODINGS:
        variance = derive.sign_magnitude_variance() if name == "sign_magnitude" else derive.variance(name)
        variance = sp.collect(sp.expand(variance.subs(derive.n, bits)), [derive.w**2, derive.w], sp.factor)
        rows.append({"encoding": name.replace("_", " "), "variance": f"${sp.latex(variance)}$",
                     "state_free": "no" if variance.has(derive.w) else "yes"})
    return rows


#: The example device of the physics tables: a stored electron at 0.1 eV, attempt frequency 1e13 Hz,
#: 1000 electrons per charged cell, a flip at 10 escaped electrons, a 10 ms inference window.
EXAMPLE_DEVICE = {"energy_ev": 0.1, "attempt_frequency_hz": 1e13, "electrons": 1000, "threshold": 10}
EXAMPLE_WINDOW_S = 1e-2


def thickness_rows(thicknesses_nm=(2, 2.5, 3, 3.5, 4, 5, 6, 7, 7.5, 8, 9, 10, 12), window_s=EXAMPLE_WINDOW_S):
    """log10 of the flip probability against oxide thickness for the presets (exact and WKB transmission)."""
    rows = []
    for nanometres in thicknesses_nm:
        row = {"thickness_nm": nanometres}
        for key, material in MATERIALS.items():
            device = Device.from_material(material, nanometres * 1e-9, **EXAMPLE_DEVICE)
            for method in ("exact", "wkb"):
                log_p = device_flip_probability(device, window_s, transmission_method=method, log=True)
                row[f"{key}_{method}"] = log_p / math.log(10)
        rows.append(row)
    return rows


def regime_rows(cases=((1e-7, 1000, 3), (1e-5, 1000, 3), (1e-3, 1000, 3), (1e-2, 1000, 10), (0.05, 200, 10),
                       (0.3, 100, 40))):
    """The regimes of A.2 and the relative error of the Poisson and rare forms against the exact tail."""
    rows = []
    for escape, electrons, threshold in cases:
        report = regime(escape, electrons, threshold)
        rows.append({"escape": escape, "electrons": electrons, "threshold": threshold, "regime": report.regime,
                     "lambda": report.mean_escaped, "exact": report.exact,
                     "poisson_error": report.poisson_relative_error, "rare_error": report.rare_relative_error})
    return rows


#: Every table of the report: name -> function returning its rows.
TABLES = {
    "theorems": ("Theorem checks",
                 "Each theorem: the SymPy derivation against the paper's statement, the largest relative "
                 "$|$closed form $-$ exact enumeration$|$ over all codes ($n=8$, $p=0.1$, $\\Delta=1/8$, "
                 "float64), and the largest Monte Carlo $|z|$; a correct sampler exceeds $|z| = {z:.2f}$ "
                 "with probability at most $10^{{-6}}$ per check.",
                 (Column("label", "Result", "Result"), Column("title", "What", "What"),
                  Column("statement", "Statement", "Statement"), Column("symbolic", "SymPy", "SymPy"),
                  Column("closed_form_error", "max rel.\\ err.", "max rel. err.", "{:.1e}"),
                  Column("montecarlo_z", "MC $|z|$", "MC |z|", "{:.2f}"))),
    "moments": ("The four moments over $n$ and $p$",
                "Offset binary, symmetric channel, stored $w=0$, $\\Delta=1$: mean, variance, skewness, excess "
                "kurtosis and the Lyapunov ratio of Thm 3.4 (formula route).",
                (Column("n", "$n$", "n"), Column("p", "$p$", "p", "{:g}"), Column("mean", "mean", "mean", "{:.3g}"),
                 Column("var", "variance", "variance", "{:.4g}"), Column("skewness", "skewness", "skewness", "{:.3g}"),
                 Column("excess_kurtosis", "exc.\\ kurtosis", "excess kurtosis", "{:.3g}"),
                 Column("lyapunov", "Lyapunov", "Lyapunov", "{:.3g}"))),
    "msb_share": ("MSB share of the variance",
                  "Prop A.12: the most significant bit carries $3\\cdot4^{n-1}/(4^n-1)$ of the variance, "
                  "falling to $3/4$.",
                  (Column("n", "$n$", "n"), Column("share_exact", "exact", "exact"),
                   Column("share", "share", "share", "{:.10f}"), Column("gap", "share $-3/4$", "share - 3/4", "{:.3e}"))),
    "drifts": ("Mean drift by encoding",
               "Thm 3.2 and A.8 side by side, symmetric channel, $n=8$, $p=0.1$, $\\Delta=1$: the derived "
               "$\\mathbb{E}[\\delta\\mid w]$ ($\\sigma$ is the stored sign) and its value at the smallest, "
               "zero (or $+1/2$) and largest stored weight.",
               (Column("encoding", "encoding", "encoding"), Column("drift", "$\\mathbb{E}[\\delta\\mid w]$", "E[delta | w]"),
                Column("at_min", "at $w_{\\min}$", "at w_min", "{:.3f}"),
                Column("at_zero", "at $0$", "at 0", "{:.3f}"), Column("at_max", "at $w_{\\max}$", "at w_max", "{:.3f}"))),
    "table7": ("Integer against continuous allocation (Table 7)",
               "A.13: the worst and median ratio of the integer optimum (\\texttt{exact}) to the continuous "
               "relaxation at the same budget, leading order, over random configurations per layer count $L$ "
               "(sizes $10^{U(2,5)}$, scores $10^{U(-3,0)}$, budget per weight uniform in the interior range, "
               "$n=8$); the symmetric bound $3\\cdot4^{1/3}/(e\\ln4)$ and the trivial bound 4; and the mean "
               "predicted $\\rho^*=G_m/A$ beside the mean measured integer ratio (exact over Uniform-MSP at a "
               "whole number of bits per weight inside the interior range).",
               (Column("layers", "$L$", "L"), Column("configs", "configs", "configs"),
                Column("worst", "worst", "worst", "{:.4f}"), Column("median", "median", "median", "{:.4f}"),
                Column("bound", "sym.\\ bound", "sym. bound", "{:.4f}"),
                Column("mean_rho", "mean $\\rho^*$", "mean rho*", "{:.3f}"),
                Column("mean_rho_integer", "mean $\\rho_{\\mathrm{int}}$", "mean rho_int", "{:.3f}"))),
    "greedy": ("Algorithm 1's greedy against the exact optimum",
               "Random instances (sizes $10^{U(2,5)}$, scores $10^{U(-3,0)}$, budget per weight $U(0.5, 7.5)$, "
               "$n=8$): the share where the greedy's objective exceeds the optimum, the largest and median "
               "relative excess, and the share of budget sweeps (one per five instances; 25 budgets from 0 to $nN$) in which each "
               "method's allocation never drops a bit as the budget grows (the continuous water-filling is a "
               "control: monotone by construction). Greedy reading: a layer whose next "
               "bit no longer fits is skipped and the next best layer is tried.",
               (Column("layers", "$L$", "L"), Column("instances", "instances", "instances"),
                Column("suboptimal", "suboptimal", "suboptimal", "{:.2f}"),
                Column("max_gap", "max excess", "max excess", "{:.3g}"),
                Column("median_gap", "median excess", "median excess", "{:.3g}"),
                Column("greedy_monotone", "greedy monotone", "greedy monotone", "{:.2f}"),
                Column("exact_monotone", "exact monotone", "exact monotone", "{:.2f}"),
                Column("continuous_monotone", "continuous monotone", "continuous monotone", "{:.2f}"))),
    "thickness": ("Flip probability against oxide thickness",
                  "$\\log_{10} p$ for the SiO$_2$-like (3.15 eV, $0.42\\,m_e$) and HfO$_2$-like (1.5 eV, "
                  "$0.11\\,m_e$) presets, with the exact and the WKB barrier transmission: electron at 0.1 eV, "
                  "$\\nu=10^{13}$ Hz, $\\tau=10$ ms, $N_e=1000$, flip when $K\\ge K_{th}=10$ (binomial tail).",
                  (Column("thickness_nm", "$d$ (nm)", "d (nm)"),
                   Column("sio2_exact", "SiO$_2$ exact", "SiO2 exact", "{:.4g}"),
                   Column("sio2_wkb", "SiO$_2$ WKB", "SiO2 WKB", "{:.4g}"),
                   Column("hfo2_exact", "HfO$_2$ exact", "HfO2 exact", "{:.4g}"),
                   Column("hfo2_wkb", "HfO$_2$ WKB", "HfO2 WKB", "{:.4g}"))),
    "regimes": ("Approximations of the flip probability by regime",
                "A.2 made concrete: rare when $\\lambda=N_eP_{esc}<0.1$, high-escape when $P_{esc}>0.1$, "
                "transition otherwise; relative error of the Poisson tail and of $\\lambda^{K}/K!$ against the "
                "exact binomial tail.",
                (Column("escape", "$P_{esc}$", "P_esc", "{:.0e}"), Column("electrons", "$N_e$", "N_e"),
                 Column("threshold", "$K_{th}$", "K_th"), Column("regime", "regime", "regime"),
                 Column("lambda", "$\\lambda$", "lambda", "{:.3g}"), Column("exact", "exact $p$", "exact p", "{:.4g}"),
                 Column("poisson_error", "Poisson rel.\\ err.", "Poisson rel. err.", "{:.2e}"),
                 Column("rare_error", "rare rel.\\ err.", "rare rel. err.", "{:.2e}"))),
    "codes": ("Real codes: uncorrectable and residual error rates",
              "Per codeword, the probability of more errors than the decoder corrects (exact binomial tail), and "
              "per data bit the residual error rate after decoding (exact: a dynamic programme over all "
              "syndromes; failed words keep their data), each against Monte Carlo over simulated words "
              "(random data encoded, every stored bit flipped, decoded; 20,000 per row in the full report) and "
              "its $z$ per word. Overhead: check bits per data bit.",
              (Column("scheme", "code", "code"), Column("overhead", "overhead", "overhead", "{:.3f}"),
               Column("p", "$p$", "p", "{:g}"),
               Column("uncorrectable", "uncorrectable", "uncorrectable", "{:.3e}"),
               Column("uncorrectable_mc", "MC", "MC", "{:.3e}"),
               Column("uncorrectable_z", "$z$", "z", "{:.2f}"),
               Column("residual", "residual BER", "residual BER", "{:.3e}"),
               Column("residual_mc", "MC", "MC", "{:.3e}"),
               Column("residual_z", "$z$", "z", "{:.2f}"))),
    "variances": ("Variance by encoding",
                  "Thm A.11 for the linear encodings and its sign-magnitude counterpart, symmetric channel, "
                  "$n=8$: only sign-magnitude makes the variance depend on the stored weight.",
                  (Column("encoding", "encoding", "encoding"),
                   Column("variance", "$\\mathrm{Var}[\\delta\\mid w]$", "Var[delta | w]"),
                   Column("state_free", "state-free", "state-free"))),
}


def build_tables(size=200_000, seed=0, progress=False, allocation_configs=100):
    """Compute every table of the report.

    Parameters
    ----------
    size : int
        Monte Carlo draws per theorem check.
    seed : int
        Seed of the Monte Carlo checks and of the allocation studies.
    allocation_configs : int
        Random configurations per layer count in the allocation studies.
    progress : bool
        Show a progress bar (tqdm, on stderr) for each long part: the theorem
        checks and the two allocation studies.

    Returns
    -------
    list of Table
    """
    builders = {
        "theorems": lambda: theorem_rows(size=size, seed=seed, progress=progress),
        "moments": moment_grid_rows,
        "msb_share": msb_share_rows,
        "drifts": encoding_drift_rows,
        "variances": encoding_variance_rows,
        "thickness": thickness_rows,
        "regimes": regime_rows,
        "codes": lambda: code_rate_rows(words=max(2_000, size // 10), seed=seed),
        "table7": lambda: integer_correction_study(configs=allocation_configs, seed=seed, progress=progress),
        "greedy": lambda: greedy_gap_study(instances=allocation_configs, sweeps=max(1, allocation_configs // 5),
                                           seed=seed, progress=progress),
    }
    tables = []
    for name, (title, caption, columns) in TABLES.items():
        caption = caption.format(z=z_threshold(FALSE_ALARM, 1)) if name == "theorems" else caption
        tables.append(Table(name, title, caption, columns, builders[name]()))
    return tables
