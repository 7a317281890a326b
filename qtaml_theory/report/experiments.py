"""The report's experiment sections: a registry in which each experiment declares its figures, tables and claims.

``python -m qtaml_theory.report --experiments DIR`` reads ``DIR/results.json``
(the records of ``python -m qtaml_tac.experiments``) and, for every experiment
present there, asks its registered :class:`ExperimentReport` for

* ``figures(records)``: :class:`ReportFigure` objects, drawn as vector PDFs;
  the first one stands beside the headline table;
* ``headline(records)``: a short :class:`~qtaml_theory.report.rows.Table` of
  the numbers that answer the experiment's question (for 5.2: the budget at
  which each method reaches 95% of clean, and their ratio);
* ``appendix(records)``: the full grids, for the report's appendix (one row per
  budget, one column per method);
* ``claims(records)``: rows of the one-page summary, each a claim of the paper
  (or one beyond it), our number and a verdict in :data:`VERDICTS`.

``records`` are always the experiment's own (``record["experiment"] ==
name``). A new experiment plugs in by calling :func:`register_experiment` in its
module; nothing here changes. The experiments of :mod:`qtaml_tac` register in
the modules of :data:`PLUGINS`, imported on first use. :func:`claim_rows` is
the one source of the summary: the report's first page and the docs' results
page (:func:`render_claims_rst`) both print its rows.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["ReportFigure", "ExperimentReport", "EXPERIMENT_REPORTS", "PLUGINS", "VERDICTS", "register_experiment",
           "registered_reports", "claim_rows", "render_claims_rst", "records_by_experiment", "render_experiments",
           "experiment_records"]

#: The verdicts of a claim: the paper's claim holds in our runs, it does not, or the row goes beyond the paper.
VERDICTS = ("reproduced", "refuted", "beyond")
#: Modules that register the experiments of :mod:`qtaml_tac` (imported by :func:`registered_reports`).
PLUGINS = ("qtaml_tac.experiments.reporting",)


@dataclass(frozen=True)
class ReportFigure:
    """A figure of an experiment: its file name (no extension), caption, matplotlib figure, and whether it spans
    the text width (``wide``; its headline table then goes below it) or a column beside the table."""

    name: str
    caption: str
    figure: object
    wide: bool = False


def _nothing(records):
    return []


@dataclass(frozen=True)
class ExperimentReport:
    """What the report shows of one experiment (see the module's documentation).

    Parameters
    ----------
    name : str
        The ``experiment`` field of its records.
    title : str
        The section title.
    figures : callable
        ``records -> list of ReportFigure`` (at least one, so a reader sees the experiment).
    headline : callable
        ``records -> Table or None``.
    appendix : callable
        ``records -> list of Table`` (the full grids).
    claims : callable
        ``records -> list of dict`` with ``claim``, ``paper``, ``ours`` and ``verdict`` (one of :data:`VERDICTS`).
    """

    name: str
    title: str
    figures: Callable[[Sequence[Mapping]], Sequence[ReportFigure]]
    headline: Callable[[Sequence[Mapping]], object] = lambda records: None
    appendix: Callable[[Sequence[Mapping]], Sequence[object]] = _nothing
    claims: Callable[[Sequence[Mapping]], Sequence[Mapping]] = _nothing


#: Every registered experiment by name, in the order the report shows them.
EXPERIMENT_REPORTS: dict[str, ExperimentReport] = {}


def register_experiment(report: ExperimentReport) -> ExperimentReport:
    """Add ``report`` to :data:`EXPERIMENT_REPORTS` (replacing one of the same name); returns it.

    Raises
    ------
    ValueError
        If ``report`` is not an :class:`ExperimentReport` or its ``name`` is empty.
    """
    if not isinstance(report, ExperimentReport) or not report.name:
        raise ValueError(f"report must be an ExperimentReport with a name, got {report!r}")
    EXPERIMENT_REPORTS[report.name] = report
    return report


def registered_reports() -> dict[str, ExperimentReport]:
    """:data:`EXPERIMENT_REPORTS` after importing the :data:`PLUGINS` (those that cannot be imported are skipped)."""
    for module in PLUGINS:
        try:
            importlib.import_module(module)
        except ImportError:
            continue
    return EXPERIMENT_REPORTS


def records_by_experiment(records: Sequence[Mapping]) -> dict[str, list]:
    """The records grouped by their ``experiment`` field: registered experiments first (in registry order), then
    the others (sorted).

    Raises
    ------
    ValueError
        If a record has no ``experiment`` field (not a record of ``python -m qtaml_tac.experiments``).
    """
    groups: dict[str, list] = {}
    for index, record in enumerate(records):
        if not isinstance(record, Mapping) or "experiment" not in record:
            raise ValueError(f"records[{index}] has no 'experiment' field: expected the records of "
                             f"python -m qtaml_tac.experiments (results.json)")
        groups.setdefault(record["experiment"], []).append(record)
    order = [name for name in registered_reports() if name in groups] + sorted(set(groups) - set(EXPERIMENT_REPORTS))
    return {name: groups[name] for name in order}


def claim_rows(records: Sequence[Mapping]) -> list[dict]:
    """The summary's rows: each registered experiment's claims from its records, in registry order.

    Each row: ``experiment``, ``claim``, ``paper``, ``ours``, ``verdict``.

    Raises
    ------
    ValueError
        If an experiment returns a verdict outside :data:`VERDICTS`.
    """
    reports = registered_reports()
    rows = []
    for name, mine in records_by_experiment(records).items():
        if reports.get(name) is None:
            continue
        for row in reports[name].claims(mine):
            if row["verdict"] not in VERDICTS:
                raise ValueError(f"experiment {name!r}: verdict must be one of {VERDICTS}, got {row['verdict']!r}")
            rows.append({"experiment": name, **row})
    return rows


def render_claims_rst(rows: Sequence[Mapping]) -> str:
    """The summary rows as a reStructuredText list-table (included by the docs' results page)."""
    lines = [".. list-table::", "   :header-rows: 1", "   :widths: 8 30 22 30 10", "",
             "   * - section", "     - claim", "     - paper", "     - ours", "     - verdict"]
    for row in rows:
        lines += [f"   * - {row['experiment']}", f"     - {row['claim']}", f"     - {row['paper']}",
                  f"     - {row['ours']}", f"     - **{row['verdict']}**"]
    return "\n".join(lines) + "\n"


def _pdf(figure):
    """``figure`` as vector PDF bytes (closed afterwards)."""
    import io

    import matplotlib.pyplot as plt

    from .palette import figure_style

    buffer = io.BytesIO()
    with figure_style():
        figure.savefig(buffer, format="pdf")
    plt.close(figure)
    return buffer.getvalue()


def render_experiments(records: Sequence[Mapping]):
    """The report's experiment parts from ``records``: ``(files, summary, sections, appendix)``.

    ``files`` maps file names to contents (each figure's PDF, each appendix
    table's ``table_<name>.tex``); ``summary`` is the LaTeX of the claims page;
    ``sections`` one LaTeX section per experiment present (registered or not: an
    unregistered one says so); ``appendix`` the names of the appendix table
    files, without extension.
    """
    from . import latex

    reports = registered_reports()
    files, sections, appendix = {}, [], []
    for name, mine in records_by_experiment(records).items():
        report = reports.get(name)
        if report is None:
            sections.append(f"\\section{{Experiment {latex._escape(name)}}}\nNo report is registered for this "
                            "experiment: see \\texttt{register\\_experiment} in the docs (Read the report).\n")
            continue
        drawn = list(report.figures(mine))
        for figure in drawn:
            files[f"{figure.name}.pdf"] = _pdf(figure.figure)
        sections.append(latex.render_experiment(report.title, [(f.name, f.caption, f.wide) for f in drawn],
                                                report.headline(mine)))
        for table in report.appendix(mine):
            files[f"table_{table.name}.tex"] = latex.render_table(table)
            appendix.append(f"table_{table.name}")
    return files, latex.render_claims(claim_rows(records)), sections, appendix


def experiment_records(directory):
    """The records of ``directory/results.json`` (written by ``python -m qtaml_tac.experiments``), or None.

    Raises
    ------
    ValueError
        When ``directory`` is not a folder written by ``python -m qtaml_tac.experiments``: not a
        folder, without its ``results.json``, or one that is not a list of records.
    """
    if directory is None:
        return None
    directory = Path(directory)
    expected = "expected the output folder of python -m qtaml_tac.experiments NAME --out DIR (its results.json)"
    if not directory.is_dir():
        raise ValueError(f"--experiments {directory} is not a folder: {expected}")
    path = directory / "results.json"
    if not path.is_file():
        raise ValueError(f"--experiments {directory} has no results.json: {expected}")
    try:
        records = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"--experiments {directory}: results.json cannot be read ({error}): {expected}") from None
    if not isinstance(records, list) or not records:
        raise ValueError(f"--experiments {directory}: results.json holds no records: {expected}")
    records_by_experiment(records)
    return records
