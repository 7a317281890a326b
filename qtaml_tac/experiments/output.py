"""Writing an experiment's figures (PNG and PDF) and LaTeX tables, each file atomically."""

from __future__ import annotations

import io
from pathlib import Path

from qtaml_theory.report import latex
from qtaml_theory.report.cli import write_atomically

__all__ = ["write_atomically", "save_figure", "save_table"]


def save_figure(out, name, figure):
    """Save ``figure`` as ``name.png`` and ``name.pdf`` in ``out`` and close it."""
    import matplotlib.pyplot as plt

    figure.tight_layout()
    for fmt in ("png", "pdf"):
        buffer = io.BytesIO()
        figure.savefig(buffer, format=fmt, dpi=130)
        write_atomically(Path(out) / f"{name}.{fmt}", buffer.getvalue())
    plt.close(figure)


def save_table(out, table):
    """Write a :class:`qtaml_theory.report.rows.Table` as ``table_<name>.tex`` (booktabs)."""
    write_atomically(Path(out) / f"table_{table.name}.tex", latex.render_table(table))
