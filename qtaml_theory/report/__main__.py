"""Command line: ``python -m qtaml_theory.report [--out DIR] [--format tex|md]``."""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from . import latex, markdown
from .figures import FIGURES, render_figures
from .rows import build_tables


def experiment_tables(directory):
    """``{file name: text}`` of the experiments' LaTeX tables in ``directory`` (``table_exp_*.tex``)."""
    if directory is None:
        return {}
    directory = Path(directory)
    if not directory.is_dir():
        raise ValueError(f"--experiments must be a directory written by python -m qtaml_tac.experiments, "
                         f"got {directory}")
    return {path.name: path.read_text() for path in sorted(directory.glob("table_exp_*.tex"))}


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
    """Write every file to a temporary name first, then rename, so no file is ever half written."""
    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        handle, temporary = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb" if isinstance(text, bytes) else "w") as stream:
                stream.write(text)
            os.replace(temporary, out / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m qtaml_theory.report", description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("report"), help="output directory (default: ./report)")
    parser.add_argument("--format", choices=("tex", "md"), default="tex", help="LaTeX tables + main.tex, or Markdown")
    parser.add_argument("--mc-size", type=int, default=200_000, help="Monte Carlo draws per theorem check")
    parser.add_argument("--seed", type=int, default=0, help="seed of the Monte Carlo checks and allocation studies")
    parser.add_argument("--experiments", default=None,
                        help="a directory of python -m qtaml_tac.experiments whose tables to include (tex)")
    parser.add_argument("--allocation-configs", type=int, default=100,
                        help="random configurations per layer count in the allocation studies")
    args = parser.parse_args(argv)
    if args.mc_size < 2:
        parser.error(f"--mc-size must be at least 2, got {args.mc_size}")
    if args.allocation_configs < 1:
        parser.error(f"--allocation-configs must be at least 1, got {args.allocation_configs}")

    def progress(message):
        print(message, file=sys.stderr, flush=True)

    try:
        experiments = experiment_tables(args.experiments)
    except ValueError as error:
        parser.error(str(error))
    tables = build_tables(size=args.mc_size, seed=args.seed, progress=progress,
                          allocation_configs=args.allocation_configs)
    files = render(tables, args.format, experiments)
    write_atomically(args.out, files)
    for name in files:
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
