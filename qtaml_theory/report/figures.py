"""Figures of the report, drawn from the same rows as the tables (matplotlib, no display needed)."""

from __future__ import annotations

import io

import numpy as np

from .rows import thickness_rows

__all__ = ["FIGURES", "log_p_thickness_figure", "render_figures"]


def log_p_thickness_figure(fmt="pdf"):
    """log10 p against oxide thickness for the presets, exact and WKB transmission; returns the file bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = thickness_rows(thicknesses_nm=tuple(np.round(np.linspace(1.5, 12.0, 85), 4)))
    thickness = [row["thickness_nm"] for row in rows]
    figure, axes = plt.subplots(figsize=(5.5, 3.6))
    for key, label, colour in (("sio2", "SiO$_2$-like", "C0"), ("hfo2", "HfO$_2$-like", "C3")):
        axes.plot(thickness, [row[f"{key}_exact"] for row in rows], color=colour, label=f"{label}, exact $T$")
        axes.plot(thickness, [row[f"{key}_wkb"] for row in rows], color=colour, linestyle="--",
                  label=f"{label}, WKB $T$")
    axes.set_xlabel("oxide thickness $d$ (nm)")
    axes.set_ylabel(r"$\log_{10} p$")
    axes.set_title(r"flip probability, $\tau = 10$ ms, $N_e = 1000$, $K_{th} = 10$", fontsize=9)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=150)
    plt.close(figure)
    return buffer.getvalue()


#: name -> (caption, drawing function)
FIGURES = {
    "figure_log_p_thickness": (
        "Flip probability against oxide thickness for the presets (Section 3, A.2): in the rare regime "
        "$\\log p$ falls linearly with slope $-2K_{th}\\kappa$; WKB overestimates $p$ by the prefactor "
        "$(16E(V_0-E)/V_0^2)^{-K_{th}}$.",
        log_p_thickness_figure,
    ),
}


def render_figures(fmt):
    """``{file name: bytes}`` of every figure in ``fmt`` ("pdf" or "png")."""
    return {f"{name}.{fmt}": draw(fmt) for name, (_, draw) in FIGURES.items()}
