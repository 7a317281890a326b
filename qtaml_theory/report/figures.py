"""Figures of the report, drawn from the same rows as the tables (matplotlib, no display needed)."""

from __future__ import annotations

import io

import numpy as np

from ..physics import HIGH_ESCAPE, MATERIALS, RARE_LAMBDA, log_escape_probability, log_flip_probability, log_transmission
from .palette import FIGURE_HEIGHT_IN, TEXT_WIDTH_IN, colour, figure_style, label
from .rows import EXAMPLE_DEVICE, EXAMPLE_WINDOW_S

__all__ = ["FIGURES", "P_RANGE", "DESIGN_RANGE", "flip_curves", "log_p_thickness_figure", "render_figures"]


#: The flip probabilities the figure shows.
P_RANGE = (1e-12, 1.0)
#: The range of flip probabilities a designer works in (shaded).
DESIGN_RANGE = (1e-8, 1e-1)


def flip_curves(material, thicknesses_nm, window_s=EXAMPLE_WINDOW_S):
    """``{"exact": p, "wkb": p, "escape": P_esc}`` (arrays over ``thicknesses_nm``) of the report's example device
    with oxide ``material`` (a key of :data:`~qtaml_theory.physics.MATERIALS`); ``P_esc`` with the exact
    transmission."""
    oxide = MATERIALS[material]
    thickness_m = np.asarray(thicknesses_nm, dtype=float) * 1e-9
    curves = {}
    for method in ("exact", "wkb"):
        log_t = log_transmission(thickness_m, oxide.barrier_ev, EXAMPLE_DEVICE["energy_ev"], oxide.effective_mass,
                                 method)
        log_escape = log_escape_probability(log_t, EXAMPLE_DEVICE["attempt_frequency_hz"], window_s)
        curves[method] = np.exp(log_flip_probability(log_escape, EXAMPLE_DEVICE["electrons"],
                                                     EXAMPLE_DEVICE["threshold"]))
        if method == "exact":
            curves["escape"] = np.exp(log_escape)
    return curves


def _regimes(axis, thickness, escape):
    """Shade and name A.2's regimes along the thickness axis: high-escape, transition, rare."""
    electrons = EXAMPLE_DEVICE["electrons"]
    rare = thickness[np.argmax(electrons * escape < RARE_LAMBDA)]
    high = thickness[np.argmax(escape <= HIGH_ESCAPE)]
    for low, top, name, shade in ((thickness[0], high, "high-escape", 0.16), (high, rare, "transition", 0.08),
                                  (rare, thickness[-1], "rare", 0.0)):
        if top > low:
            axis.axvspan(low, top, color="gray", alpha=shade, linewidth=0)
            axis.text((low + top) / 2, 3e-12, name, ha="center", va="bottom", fontsize=6, color="dimgray")
    for edge in (high, rare):
        axis.axvline(edge, color="gray", linewidth=0.6)


def log_p_thickness_figure(fmt="pdf"):
    """Flip probability between 1e-12 and 1 against oxide thickness, one panel per preset, exact and WKB
    transmission, with A.2's regimes (``lambda = N_e P_esc < 0.1``: rare; ``P_esc > 0.1``: high-escape) and
    the designers' range 1e-8 to 1e-1 shaded; returns the file bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with figure_style():
        figure, axes = plt.subplots(1, len(MATERIALS), figsize=(TEXT_WIDTH_IN, FIGURE_HEIGHT_IN + 0.2), sharey=True)
        for axis, material in zip(axes, MATERIALS):
            coarse = np.linspace(0.2, 20.0, 800)
            rough = flip_curves(material, coarse)
            electrons = EXAMPLE_DEVICE["electrons"]
            shown = (rough["exact"] < 0.999) & (rough["exact"] > P_RANGE[0] / 10)
            edges = [coarse[shown][0], coarse[shown][-1], coarse[np.argmax(rough["escape"] <= HIGH_ESCAPE)],
                     coarse[np.argmax(electrons * rough["escape"] < RARE_LAMBDA)]]
            thickness = np.linspace(max(0.1, min(edges) - 0.15), max(edges) + 0.15, 300)
            curves = flip_curves(material, thickness)
            axis.axhspan(*DESIGN_RANGE, color=colour(material), alpha=0.07, linewidth=0)
            _regimes(axis, thickness, curves["escape"])
            axis.plot(thickness, curves["exact"], color=colour(material), label="exact $T$")
            axis.plot(thickness, curves["wkb"], color=colour(material), linestyle="--", label="WKB $T$")
            axis.set(yscale="log", ylim=P_RANGE, xlim=(thickness[0], thickness[-1]), xlabel="oxide thickness $d$ (nm)",
                     title=f"{label(material)}: $V_0$ = {MATERIALS[material].barrier_ev} eV, "
                           f"$m^*$ = {MATERIALS[material].effective_mass} $m_e$")
            axis.legend(loc="center right")
        axes[0].set_ylabel("flip probability $p$ per weight bit")
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=150)
    plt.close(figure)
    return buffer.getvalue()


#: name -> (caption, drawing function)
FIGURES = {
    "figure_log_p_thickness": (
        "Flip probability of one stored bit against oxide thickness, from $10^{-12}$ to 1 (Section 3, A.2): "
        "electron at 0.1 eV, $\\nu = 10^{13}$ Hz, $\\tau = 10$ ms, $N_e = 1000$, $K_{th} = 10$. Grey: A.2's "
        "regimes (high-escape where $P_{esc} > 0.1$, transition, rare where $N_e P_{esc} < 0.1$); tinted band: "
        "$p$ from $10^{-8}$ to $10^{-1}$, the range a designer works in. In the rare regime $\\log p$ falls "
        "linearly with slope $-2K_{th}\\kappa$; WKB overestimates $p$ by the prefactor "
        "$(16E(V_0-E)/V_0^2)^{-K_{th}}$.",
        log_p_thickness_figure,
    ),
}


def render_figures(fmt):
    """``{file name: bytes}`` of every figure in ``fmt`` ("pdf" or "png")."""
    return {f"{name}.{fmt}": draw(fmt) for name, (_, draw) in FIGURES.items()}
