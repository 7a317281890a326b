"""The report's experiment sections (issue 19): a figure per experiment, headline tables, the claims page, the
palette, the physics figure; rendered from the records of a quick run (``docs/results/records.json``) and compiled
with pdflatex."""

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import matplotlib.pyplot as pyplot
import numpy as np
import pytest

from qtaml_theory.report import latex
from qtaml_theory.report.claims import claims_text, trim_records
from qtaml_theory.report.experiments import (
    EXPERIMENT_REPORTS,
    ExperimentReport,
    ReportFigure,
    claim_rows,
    records_by_experiment,
    register_experiment,
    registered_reports,
    render_experiments,
)
from qtaml_theory.report.palette import colour, label

RESULTS = Path(__file__).resolve().parents[1] / "docs" / "results"
#: A few experiments for the fast render: a figure beside its table (5.2), the paper's band (5.5), a table too wide
#: to stand beside its figure (directional), and Tables 1 and 8 (rho).
FAST = ("5.2", "5.5", "rho", "directional")


@pytest.fixture(scope="module")
def records():
    """The records the docs describe: a quick run of every experiment (``python -m qtaml_theory.report.claims``)."""
    return json.loads((RESULTS / "records.json").read_text())


def compile_report(out, files, summary, sections, appendix):
    """Write ``files`` and a main.tex of the experiment parts into ``out`` and run pdflatex; returns main.tex."""
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing in CI: .ci/run installs texlive-latex-base and -recommended")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    main = latex.render_document([], summary=summary, experiments=sections, appendix=appendix)
    for name, data in {**files, "main.tex": main}.items():
        (out / name).write_bytes(data if isinstance(data, bytes) else data.encode())
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"], cwd=out,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (out / "main.pdf").stat().st_size > 10_000
    return main


def check_every_experiment_has_its_figure(records, files, main):
    """Every experiment of ``records`` has a section with at least one figure, each a PDF beside main.tex."""
    included = re.findall(r"\\includegraphics\[[^]]*\]\{([^}]+)\}", main)
    assert included and all(f"{name}.pdf" in files and files[f"{name}.pdf"].startswith(b"%PDF") for name in included)
    for name, mine in records_by_experiment(records).items():
        drawn = EXPERIMENT_REPORTS[name].figures(mine)
        for figure in drawn:
            pyplot.close(figure.figure)
        assert drawn and {figure.name for figure in drawn} <= set(included), name
    return included


def test_a_quick_run_of_a_few_experiments_renders_and_compiles(records, tmp_path):
    """The fast check: four experiments' sections, their figures referenced, main.tex compiled."""
    mine = [r for r in records if r["experiment"] in FAST]
    files, summary, sections, appendix = render_experiments(mine)
    main = compile_report(tmp_path, files, summary, sections, appendix)
    check_every_experiment_has_its_figure(mine, files, main)
    # 5.2's headline: the budget at which each method first reaches 95% of clean, and their ratio.
    assert re.search(r"Uniform-MSP / TAC & \$?5", main)
    assert "\\input{table_exp_5_2_sweep}" in main and "\\appendix" in main
    assert "(the paper's Table 5)" in main and "Table 5: " not in main
    grid = files["table_exp_5_2_sweep.tex"]
    assert grid.count("\\\\") == 1 + len({r["budget_fraction"] for r in mine if r["experiment"] == "5.2"
                                          and r["method"] in ("tac", "uniform_msp")})


@pytest.mark.slow
def test_the_report_of_every_experiment_of_a_quick_run_compiles(records, tmp_path):
    """Every experiment of the docs' quick run (all of them registered): its figure in main.tex, compiled (30 s)."""
    files, summary, sections, appendix = render_experiments(records)
    main = compile_report(tmp_path, files, summary, sections, appendix)
    included = check_every_experiment_has_its_figure(records, files, main)
    assert len(included) >= len(records_by_experiment(records))


def test_every_experiment_of_the_quick_run_is_registered(records):
    experiments = set(records_by_experiment(records))
    assert experiments == {"5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "5.8", "5.9", "rho", "directional",
                           "codes", "lifetime", "finetune", "formats"}
    assert experiments <= set(registered_reports())


def test_the_docs_claims_table_is_the_reports_claims_page(records):
    """Both are printed from claim_rows of the same records: the committed claims.inc must be what they give."""
    rows = claim_rows(records)
    assert (RESULTS / "claims.inc").read_text() == claims_text(records), (
        "docs/results/claims.inc is stale: python -m qtaml_theory.report.claims --experiments DIR")
    page = render_experiments([r for r in records if r["experiment"] == "rho"])[1]
    assert page == latex.render_claims([row for row in rows if row["experiment"] == "rho"])
    summary = latex.render_claims(rows)
    for row in rows:
        assert latex._escape(row["ours"]) in summary and row["ours"] in claims_text(records)
    assert {row["verdict"] for row in rows} <= {"reproduced", "refuted", "beyond"}
    assert trim_records(records) == records


def test_claims_follow_the_records(records):
    """The verdicts move with the numbers: a run where Uniform-MSP reaches 95% first refutes Table 5's claim."""
    five = [r for r in records if r["experiment"] == "5.5"]
    assert next(row for row in claim_rows(five) if "Table 5" in row["claim"])["verdict"] == "reproduced"
    swapped = [{**r, "method": {"tac": "uniform_msp", "uniform_msp": "tac"}.get(r["method"], r["method"])} for r in five]
    assert next(row for row in claim_rows(swapped) if "Table 5" in row["claim"])["verdict"] == "refuted"
    rho = [r for r in records if r["experiment"] == "rho"]
    assert claim_rows([{**r, "rho_star": 0.99} for r in rho])[0]["verdict"] == "reproduced"
    assert claim_rows([{**r, "rho_star": 1.01 if r is rho[0] else 0.5} for r in rho])[0]["verdict"] == "refuted"


#: The fields a copy of the records under another model's name halves, so that its claims and rows differ.
_SCALED = ("accuracy_mean", "accuracy_10y", "saved")


@pytest.mark.parametrize("experiment", ["codes", "lifetime", "formats", "finetune"])
def test_an_experiment_on_several_models_claims_and_tabulates_each(records, experiment):
    """The full runs of these experiments cover several models: each claim row and each table names its model
    (a claim keyed on the oxide and cells alone once printed one model's real-codes figure beside another's)."""
    mine = [r for r in records if r["experiment"] == experiment]
    other = [{**r, "model": "transformer", **{k: r[k] / 2 for k in _SCALED if isinstance(r.get(k), float)}}
            for r in mine if "model" in r]
    report = registered_reports()[experiment]
    alone, both = report.claims(mine), report.claims(mine + other)
    assert alone and len(both) == 2 * len(alone)
    assert [row["ours"] for row in both] == sorted(row["ours"] for row in both)
    assert all(row["ours"].startswith("smallcnn, ") for row in alone)
    assert [row["ours"].replace("transformer", "smallcnn", 1) != row["ours"] for row in both].count(True) == len(alone)
    tables = [report.headline(mine + other), *report.appendix(mine + other)]
    for table in (t for t in tables if t is not None):
        keys = [column.key for column in table.columns]
        if "model" in keys:
            assert {row["model"] for row in table.rows} == {"smallcnn", "transformer"}, table.name
        else:
            assert sum(model in table.name + table.caption for model in ("smallcnn", "transformer")) == 1, table.name


def test_a_grid_refuses_two_records_in_one_cell():
    """Two models' records under a key that does not name the model: an error, not the last record's value."""
    from qtaml_tac.experiments.grids import grid_table

    rows = [{"model": model, "p": 0.1, "method": "tac", "accuracy_mean": a, "overhead": 0.1}
            for model, a in (("smallcnn", 0.9), ("transformer", 0.5))]
    with pytest.raises(ValueError, match="two records at p=0.1, method='tac'"):
        grid_table("demo", "Demo", "Demo.", rows, ("tac",), row_key="p")
    table = grid_table("demo", "Demo", "Demo.", rows, ("tac",), row_key=("model", "p"))
    assert [(row["model"], row["c0"]) for row in table.rows] == [("smallcnn", 0.9), ("transformer", 0.5)]


def test_a_new_experiment_plugs_in_by_registering(tmp_path, monkeypatch):
    """An experiment the report has never seen (records with ``format``) shows up once registered."""
    from qtaml_tac.experiments.figures import curves
    from qtaml_tac.experiments.grids import grid_table

    monkeypatch.setitem(EXPERIMENT_REPORTS, "formats_demo", None)
    records = [{"experiment": "formats_demo", "format": f, "budget_fraction": b, "accuracy_mean": a,
                "accuracy_std": 0.01, "clean_accuracy": 0.99, "overhead": b, "model": "smallcnn"}
               for f, shift in (("fp8_e4m3", 0.0), ("int8", 0.1)) for b, a in ((0.0, 0.3), (0.1, 0.9), (0.2, 0.98))]
    unregistered = render_experiments(records)[2][0]
    assert "No report is registered" in unregistered and "includegraphics" not in unregistered
    register_experiment(ExperimentReport(
        "formats_demo", "Number formats",
        lambda rs: [ReportFigure("exp_formats_demo", "Accuracy by format.",
                                 curves([{**r, "method": r["format"]} for r in rs], ("fp8_e4m3", "int8"),
                                        "budget_fraction", "budget", "formats"))],
        lambda rs: grid_table("exp_formats_demo_headline", "By format", "Mean.", rs, ("fp8_e4m3", "int8"),
                              column_key="format"),
        claims=lambda rs: [{"claim": "formats", "paper": "--", "ours": "int8 as good", "verdict": "beyond"}]))
    files, summary, sections, _ = render_experiments(records)
    assert "\\includegraphics[width=\\linewidth]{exp_formats_demo}" in sections[0]
    assert "exp_formats_demo.pdf" in files and "int8 as good" in summary
    with pytest.raises(ValueError, match="verdict must be one of"):
        register_experiment(ExperimentReport("formats_demo", "x", lambda rs: [],
                                             claims=lambda rs: [{"claim": "", "paper": "", "ours": "",
                                                                 "verdict": "maybe"}]))
        claim_rows(records)
    with pytest.raises(ValueError, match="ExperimentReport"):
        register_experiment("formats")


def test_a_method_has_one_colour_in_every_figure(records):
    """TAC's curve is the palette's blue in 5.2's and 5.6's figures, Uniform-MSP's the palette's orange; a name the
    palette does not list keeps one colour."""
    from matplotlib.colors import to_hex

    reports = registered_reports()
    for name in ("5.2", "5.6"):
        figure = reports[name].figures([r for r in records if r["experiment"] == name])[0].figure
        lines = {line.get_label(): to_hex(line.get_color()) for line in figure.axes[0].get_lines()}
        containers = {c.get_label(): to_hex(c.lines[0].get_color()) for c in figure.axes[0].containers}
        assert {**lines, **containers}[label("tac")] == colour("tac")
        assert {**lines, **containers}[label("uniform_msp")] == colour("uniform_msp")
        pyplot.close(figure)
    assert colour("tac") != colour("uniform_msp") and colour("new_format") == colour("new_format")
    assert label("uniform_msp") == "Uniform-MSP" and label("new_format") == "new format"


def test_the_physics_figure_spans_p_from_1e_12_to_1_with_the_regimes():
    """The curves behind each panel run from p = 1 down past 1e-12 and cross both regime edges (the figure itself is
    drawn by the report's CLI tests)."""
    from qtaml_theory.physics import HIGH_ESCAPE, RARE_LAMBDA
    from qtaml_theory.report.figures import P_RANGE, flip_curves
    from qtaml_theory.report.rows import EXAMPLE_DEVICE

    thickness = np.linspace(1.0, 10.0, 400)
    curves = flip_curves("sio2", thickness)
    assert curves["exact"][0] == pytest.approx(1.0) and curves["exact"][-1] < P_RANGE[0]
    assert np.all(curves["wkb"] >= curves["exact"] * (1 - 1e-12))
    # WKB drops the prefactor 16E(V0-E)/V0^2 (0.49 for SiO2 at 0.1 eV): p over by about 0.49**-K_th in the tail.
    tail = np.argmax(curves["exact"] < P_RANGE[0])
    assert curves["wkb"][tail] > 100 * curves["exact"][tail] > 0
    escape = curves["escape"]
    assert np.any(escape > HIGH_ESCAPE) and np.any(EXAMPLE_DEVICE["electrons"] * escape < RARE_LAMBDA)
