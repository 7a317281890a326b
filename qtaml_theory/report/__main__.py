"""Command line: ``python -m qtaml_theory.report [--out DIR] [--format tex|md] [--experiments DIR] [--quiet]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from . import latex, markdown
from .cli import check_output_folder, non_negative_int
from .cli import write_atomically as write_file
from .figures import FIGURES, render_figures
from .rows import build_tables


def experiment_tables(directory):
    """``{file name: text}`` of the experiments' LaTeX tables in ``directory`` (``table_exp_*.tex``).

    Raises
    ------
    ValueError
        When ``directory`` is not a folder written by ``python -m qtaml_tac.experiments``: not a
        folder, or without its ``results.json`` or any ``table_exp_*.tex``.
    """
    if directory is None:
        return {}
    directory = Path(directory)
    expected = ("expected the output folder of python -m qtaml_tac.experiments NAME --out DIR "
                "(its results.json and table_exp_*.tex)")
    if not directory.is_dir():
        raise ValueError(f"--experiments {directory} is not a folder: {expected}")
    tables = {path.name: path.read_text() for path in sorted(directory.glob("table_exp_*.tex"))}
    missing = [what for what, absent in (("results.json", not (directory / "results.json").is_file()),
                                         ("table_exp_*.tex", not tables)) if absent]
    if missing:
        raise ValueError(f"--experiments {directory} has no {' and no '.join(missing)}: {expected}")
    return tables


def render(tables, fmt, experiments=None):
    """``{file name: text or bytes}`` for every output file of the chosen format (tables, figures, document)."""
    if fmt == "tex":
        files = {f"table_{t.name}.tex": latex.render_table(t) for t in tables}
        files.update(experiments or {})
        files.update(render_figures("pdf"))
        names = [f"table_{t.name}" for t in tables] + [name.removesuffix(".tex") for name in experiments or {}]
        files["main.tex"] = latex.render_document(names, {name: caption for name, (caption, _) in FIGURES.items()})
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
                        help="a directory of python -m qtaml_tac.experiments whose tables to include (tex)")
    parser.add_argument("--allocation-configs", type=int, default=100,
                        help="random configurations per layer count in the allocation studies")
    parser.add_argument("--quiet", action="store_true", help="no progress bars on stderr")
    args = parser.parse_args(argv)
    if args.mc_size < 2:
        parser.error(f"--mc-size must be at least 2, got {args.mc_size}")
    if args.allocation_configs < 1:
        parser.error(f"--allocation-configs must be at least 1, got {args.allocation_configs}")
    try:
        experiments = experiment_tables(args.experiments)
        check_output_folder(args.out)
    except ValueError as error:
        parser.error(str(error))
    tables = build_tables(size=args.mc_size, seed=args.seed, progress=not args.quiet,
                          allocation_configs=args.allocation_configs)
    files = render(tables, args.format, experiments)
    write_atomically(args.out, files)
    for name in files:
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
