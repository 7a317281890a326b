"""LaTeX (booktabs) rendering of report tables and a standalone main.tex."""

import re

from ._format import format_cell

__all__ = ["render_tabular", "render_table", "render_figure", "render_experiment", "render_claims", "render_document"]

_ESCAPES = {"&": r"\&", "%": r"\%", "#": r"\#", "_": r"\_", "<": "$<$", ">": "$>$"}


def _escape(text):
    if text.startswith("$"):
        return text
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _text(text):
    """LaTeX text with bare underscores escaped outside ``$...$`` (captions written as plain text, e.g. ``N_e``)."""
    parts = text.split("$")
    parts[::2] = [re.sub(r"(?<!\\)_", r"\\_", part) for part in parts[::2]]
    return "$".join(parts)


def _caption(table):
    """Title and caption; a title naming a table of the paper (``Table 5: ...``) says so after it, so that LaTeX's
    own numbering does not read as the paper's."""
    title = re.sub(r"^(Tables? [\d, and]+): (.*)$", r"\2 (the paper's \1)", table.title)
    return _text(f"{title}. {table.caption}")


def _number(text):
    """Scientific notation as LaTeX math (``1.2e-05`` becomes ``$1.2\\times10^{-5}$``)."""
    mantissa, sep, exponent = text.partition("e")
    if not sep:
        return text
    if float(mantissa) == 0:
        return "0"
    power = int(exponent)
    return f"${mantissa}\\times10^{{{power}}}$"


def render_tabular(table):
    """The booktabs ``tabular`` of a :class:`~qtaml_theory.report.rows.Table` (no float, no caption)."""
    spec = "l" * len(table.columns)
    header = " & ".join(column.header_tex for column in table.columns) + r" \\"
    body = []
    for row in table.rows:
        cells = []
        for column in table.columns:
            value = row[column.key]
            text = format_cell(value, column.fmt, missing="--")
            if isinstance(value, str):
                text = _escape(text)
            elif isinstance(value, (int, float)) and not isinstance(value, bool):
                text = _number(text)
            cells.append(text)
        body.append(" & ".join(cells) + r" \\")
    return "\n".join([f"\\begin{{tabular}}{{{spec}}}", r"\toprule", header, r"\midrule", *body, r"\bottomrule",
                      r"\end{tabular}"])


def _size(table):
    return r"\footnotesize" if len(table.columns) > 5 else r"\small"


def render_table(table, placement="htbp"):
    """One booktabs ``table`` environment for a :class:`~qtaml_theory.report.rows.Table` (``placement``: LaTeX's
    float placement, ``H`` for here)."""
    return "\n".join([
        f"\\begin{{table}}[{placement}]", r"\centering", _size(table),
        f"\\caption{{{_caption(table)}}}", f"\\label{{tab:{table.name}}}",
        r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%", render_tabular(table) + "}",
        r"\end{table}", "",
    ])


#: The most columns a headline table may have to stand beside its figure (wider ones go below it).
BESIDE_COLUMNS = 4


def render_experiment(title, figures, headline=None):
    """An experiment's section: ``figures`` (``(name, caption, wide)``, PDFs beside main.tex) and its headline
    table; the first figure stands beside the table unless it is ``wide`` or the table has more than
    :data:`BESIDE_COLUMNS` columns (then the table follows the figures)."""
    parts = [f"\\section{{{title}}}"]
    rest = list(figures)
    if headline is not None and rest and not rest[0][2] and len(headline.columns) <= BESIDE_COLUMNS:
        (name, caption, _), *rest = rest
        parts += [r"\begin{figure}[H]", r"\begin{minipage}[c]{0.58\linewidth}", r"\centering",
                  f"\\includegraphics[width=\\linewidth]{{{name}}}", f"\\caption{{{caption}}}",
                  f"\\label{{fig:{name}}}", r"\end{minipage}\hfill", r"\begin{minipage}[c]{0.40\linewidth}",
                  r"\centering", _size(headline), f"\\captionof{{table}}{{{_caption(headline)}}}",
                  f"\\label{{tab:{headline.name}}}",
                  r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
                  render_tabular(headline) + "}", r"\end{minipage}", r"\end{figure}"]
        headline = None
    parts += [render_figure(name, caption, width=r"\linewidth" if wide else r"0.6\linewidth", placement="H")
              for name, caption, wide in rest]
    if headline is not None:
        parts.append(render_table(headline, placement="H"))
    return "\n".join(parts) + "\n"


def render_claims(rows):
    """The one-page summary: each claim, the paper's number, ours and the verdict (a ``longtable``-free tabular)."""
    body = [" & ".join(_escape(str(row[key])) for key in ("experiment", "claim", "paper", "ours"))
            + f" & \\textbf{{{row['verdict']}}} \\\\" for row in rows]
    return "\n".join([
        r"\section*{Summary: the paper's claims and our numbers}",
        r"Each claim of the paper that an experiment measures, our number from \texttt{results.json}, and a "
        r"verdict: \emph{reproduced} (the claim holds in our runs), \emph{refuted} (it does not), \emph{beyond} "
        "(a measurement the paper does not make). The docs' results page prints the same rows.",
        "", r"\begin{center}", r"\footnotesize",
        r"\begin{tabular}{@{}>{\raggedright}p{0.09\linewidth}>{\raggedright}p{0.25\linewidth}"
        r">{\raggedright}p{0.14\linewidth}>{\raggedright\arraybackslash}p{0.31\linewidth}l@{}}",
        r"\toprule", r"section & claim & paper & ours & verdict \\", r"\midrule", *body, r"\bottomrule",
        r"\end{tabular}", r"\end{center}", r"\clearpage", ""])


def render_figure(name, caption, width=r"0.8\linewidth", placement="htbp"):
    """A ``figure`` environment including ``name`` (a PDF beside main.tex) at ``width`` and ``placement``."""
    return "\n".join([f"\\begin{{figure}}[{placement}]", r"\centering", f"\\includegraphics[width={width}]{{{name}}}",
                      f"\\caption{{{caption}}}", f"\\label{{fig:{name}}}", r"\end{figure}"])


def render_document(table_files, figures=None, title="qtaml: the tunneling weight-error law, verified", summary="",
                    experiments=(), appendix=()):
    """A standalone ``main.tex``: the ``summary`` page, the theory tables (files named without extension) and
    figures, the ``experiments`` sections (LaTeX text), and an appendix inputting the ``appendix`` table files."""
    inputs = "\n".join([f"\\input{{{name}}}" for name in table_files]
                       + [render_figure(name, caption) for name, caption in (figures or {}).items()])
    tail = [r"\clearpage", r"\appendix", r"\section{Full grids of the experiments}",
            *[f"\\input{{{name}}}" for name in appendix], r"\clearpage"] if appendix else []
    return "\n".join([
        r"\documentclass[11pt]{article}",
        r"\usepackage[a4paper,margin=2cm]{geometry}",
        r"\usepackage{amsmath,amssymb,booktabs,graphicx,caption,array,float}",
        r"\captionsetup{font=small}",
        r"\begin{document}",
        r"\begin{center}",
        f"{{\\Large\\bfseries {title}}}\\\\[3pt]",
        r"{\small generated by \texttt{python -m qtaml\_theory.report}}",
        r"\end{center}",
        summary,
        r"\section{The law of tunneling weight errors}",
        "Results of arXiv 2606.00741, Section 3 and Appendix A, re-derived in SymPy and held "
        "against exact enumeration over all $2^n$ flip patterns and against Monte Carlo.",
        inputs,
        r"\clearpage",
        *experiments,
        *tail,
        r"\end{document}",
        "",
    ])
