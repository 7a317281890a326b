"""Tables of the report built from records: grids (one row per budget, one column per method) and the budget at
which each method first reaches 95% of clean accuracy, with the ratios to TAC's (issue 19)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from qtaml_theory.report.palette import COLOURS, label

from .tables import table

__all__ = ["LEVEL", "methods_of", "by_model", "point_records", "first_reach", "budget_rows", "reach_table", "grid_table"]

#: The share of clean accuracy the headline tables ask for (Tables 5 and 2).
LEVEL = 0.95


def methods_of(records: Sequence[Mapping]) -> list[str]:
    """The methods in ``records``, in the palette's order (TAC first), then any others by name."""
    present = {r["method"] for r in records}
    return [m for m in COLOURS if m in present] + sorted(present - set(COLOURS))


def point_records(records: Sequence[Mapping], methods: Sequence[str]) -> list[Mapping]:
    """The records of ``methods``."""
    return [r for r in records if r["method"] in methods]


def first_reach(records: Sequence[Mapping], level: float = LEVEL) -> Mapping | None:
    """The record of smallest budget whose mean accuracy reaches ``level`` of clean (one method's and model's
    records), or None when none does."""
    for record in sorted(records, key=lambda r: r["budget_fraction"]):
        if record["accuracy_mean"] >= level * record["clean_accuracy"]:
            return record
    return None


def budget_rows(records: Sequence[Mapping]) -> list[dict]:
    """Section 5.5's rows per model: TAC's and Uniform-MSP's budget for 95% of clean, their ratio, and the grid's
    largest budget (``bound``: a lower bound on a budget that the grid does not reach)."""
    rows = []
    for model in sorted({r["model"] for r in records}):
        reach = {m: first_reach([r for r in records if r["model"] == model and r["method"] == m])
                 for m in ("tac", "uniform_msp")}
        tac, uniform = (None if reach[m] is None else reach[m]["budget_fraction"] for m in ("tac", "uniform_msp"))
        rows.append({"model": model, "tac_budget": tac, "uniform_budget": uniform,
                     "ratio": uniform / tac if tac and uniform else None,
                     "bound": max(r["budget_fraction"] for r in records if r["model"] == model)})
    return rows


def reach_table(name: str, title: str, records: Sequence[Mapping], methods: Sequence[str], model: str):
    """Per method: the smallest budget reaching 95% of clean and its overhead; then each other method's budget over
    the first method's (-- where a method never reaches it)."""
    rows, budgets = [], {}
    for method in methods:
        hit = first_reach([r for r in records if r["method"] == method and r["model"] == model])
        budgets[method] = None if hit is None else hit["budget_fraction"]
        rows.append({"method": label(method), "budget": budgets[method], "overhead": hit and hit["overhead"]})
    for method in methods[1:]:
        ratio = budgets[method] / budgets[methods[0]] if budgets[method] and budgets[methods[0]] else None
        rows.append({"method": f"{label(method)} / {label(methods[0])}", "budget": ratio, "overhead": None})
    return table(name, title, f"{model}: the smallest budget on the grid whose mean accuracy reaches "
                 f"{LEVEL:.0%} of clean (-- where none does), and its overhead; the ratios are of budgets."
                 .replace("%", "\\%"), rows, (("method", "method", "method"), ("budget", "budget", "budget", "{:.3g}"),
                                               ("overhead", "overhead", "overhead", "{:.3f}")))


def by_model(records: Sequence[Mapping]) -> list[tuple]:
    """``(model, its records)`` in name order: what an experiment run on several models shows for each."""
    return [(model, [r for r in records if r["model"] == model]) for model in sorted({r["model"] for r in records})]


def _key(record, key):
    return tuple(record[k] for k in key) if isinstance(key, tuple) else record[key]


def _name(value):
    return ", ".join(label(str(v)) for v in value) if isinstance(value, tuple) else label(str(value))


def grid_table(name: str, title: str, caption: str, records: Sequence[Mapping], columns: Sequence,
               row_key="budget_fraction", column_key="method", value: str = "accuracy_mean", overhead: bool = False):
    """A grid of ``value``: one row per ``row_key`` value, one column per ``columns`` entry (values of
    ``column_key``; a tuple key names several fields), side by side; with ``overhead`` each column's overhead
    beside it. A cell the records lack is ``--``; two records in one cell are a ``ValueError`` (records of
    several models, say, under a key that does not name the model)."""
    rows = []
    for row_value in sorted({_key(r, row_key) for r in records}):
        at = {}
        for record in records:
            if _key(record, row_key) == row_value:
                column = _key(record, column_key)
                if column in at:
                    raise ValueError(f"grid_table {name!r}: two records at {row_key}={row_value!r}, "
                                     f"{column_key}={column!r}; add the field that tells them apart to row_key "
                                     "or column_key")
                at[column] = record
        row = dict(zip(row_key, row_value)) if isinstance(row_key, tuple) else {row_key: row_value}
        for index, column in enumerate(columns):
            row[f"c{index}"] = at[column][value] if column in at else None
            row[f"o{index}"] = at[column]["overhead"] if column in at else None
        rows.append(row)
    keys = row_key if isinstance(row_key, tuple) else (row_key,)
    spec = [(k, label(k).replace("budget fraction", "budget"), label(k), "{:g}") for k in keys]
    for index, column in enumerate(columns):
        spec.append((f"c{index}", _name(column), _name(column), "{:.3f}"))
        if overhead:
            spec.append((f"o{index}", "overhead", "overhead", "{:.3f}"))
    return table(name, title, caption, rows, spec)
