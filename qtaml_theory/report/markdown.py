"""Markdown rendering of report tables."""

from ._format import format_cell

__all__ = ["render_table", "render_figure", "render_document"]


def render_table(table):
    """A Markdown section with one pipe table."""
    header = "| " + " | ".join(column.header_text.replace("|", r"\|") for column in table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(format_cell(row[c.key], c.fmt).replace("|", r"\|") for c in table.columns) + " |"
            for row in table.rows]
    return "\n".join([f"## {table.title}", "", table.caption, "", header, rule, *body, ""])


def render_figure(name, caption):
    """A Markdown section showing ``name.png`` with its caption."""
    return "\n".join([f"## {name.replace('_', ' ')}", "", f"![{name}]({name}.png)", "", caption, ""])


def render_document(sections):
    """All sections as one Markdown document."""
    return "\n".join(["# qtaml: the tunneling weight-error law, verified", "", *sections])
