"""Writing an experiment's figures (PNG and PDF) and LaTeX tables, each file atomically."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from qtaml_theory.report import latex

__all__ = ["write_atomically", "save_figure", "save_table"]


def write_atomically(path, data):
    """Write ``data`` (str or bytes) to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb" if isinstance(data, bytes) else "w") as stream:
            stream.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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
