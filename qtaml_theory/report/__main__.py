"""Command line: ``python -m qtaml_theory.report [--out DIR] [--format tex|md] [--experiments DIR] [--quiet]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import latex, markdown
from .cli import check_output_folder, non_negative_int
from .cli import write_atomically as write_file
from .experiments import experiment_records, render_experiments
from .figures import FIGURES, render_figures
from .rows import build_tables


def render(tables, fmt, records=None):
    """``{file name: text or bytes}`` for every output file of the chosen format (tables, figures, document).

    With ``records`` (of ``python -m qtaml_tac.experiments``), the LaTeX report opens with the claims page and
    shows every experiment present: its figures beside its headline table, its full grids in an appendix
    (:func:`qtaml_theory.report.experiments.render_experiments`).
    """
    if fmt == "tex":
        files = {f"table_{t.name}.tex": latex.render_table(t) for t in tables}
        files.update(render_figures("pdf"))
        summary, sections, appendix = "", [], []
        if records:
            extra, summary, sections, appendix = render_experiments(records)
            files.update(extra)
        files["main.tex"] = latex.render_document([f"table_{t.name}" for t in tables],
                                                  {name: caption for name, (caption, _) in FIGURES.items()},
                                                  summary=summary, experiments=sections, appendix=appendix)
        return files
    files = render_figures("png")
    figures = [markdown.render_figure(name, caption) for name, (caption, _) in FIGURES.items()]
    files["report.md"] = markdown.render_document([markdown.render_table(t) for t in tables] + figures)
    return files


def write_atomically(out, files):
    """Write every file into ``out`` through a temporary name and a rename, so no file is ever half written."""
    for name, data in files.items():
        write_file(Path(out) / name, data)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m qtaml_theory.report", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("report"), help="output directory (default: ./report)")
    parser.add_argument("--format", choices=("tex", "md"), default="tex", help="LaTeX tables + main.tex, or Markdown")
    parser.add_argument("--mc-size", type=int, default=200_000, help="Monte Carlo draws per theorem check")
    parser.add_argument("--seed", type=non_negative_int, default=0,
                        help="seed of the Monte Carlo checks and allocation studies (an integer >= 0)")
    parser.add_argument("--experiments", default=None,
                        help="a folder of python -m qtaml_tac.experiments: its claims, figures and tables (tex)")
    parser.add_argument("--allocation-configs", type=int, default=100,
                        help="random configurations per layer count in the allocation studies")
    parser.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    args = parser.parse_args(argv)
    if args.mc_size < 2:
        parser.error(f"--mc-size must be at least 2, got {args.mc_size}")
    if args.allocation_configs < 1:
        parser.error(f"--allocation-configs must be at least 1, got {args.allocation_configs}")
    try:
        records = experiment_records(args.experiments)
        check_output_folder(args.out)
    except ValueError as error:
        parser.error(str(error))
    tables = build_tables(size=args.mc_size, seed=args.seed, progress=not args.quiet,
                          allocation_configs=args.allocation_configs)
    files = render(tables, args.format, records)
    write_atomically(args.out, files)
    for name in files:
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
