"""The report: data-returning row functions and thin LaTeX / Markdown renderers.

``python -m qtaml_theory.report [--out DIR] [--format tex|md]`` writes the
tables of :mod:`qtaml_theory.report.rows` into ``DIR`` (default ``./report``);
with ``tex`` it also writes a standalone ``main.tex`` that compiles with
pdflatex.
"""

from .rows import TABLES, Table, build_tables

__all__ = ["TABLES", "Table", "build_tables"]
