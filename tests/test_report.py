"""The report: data rows, renderers, and the CLI end to end (LaTeX compiled with pdflatex)."""

import os
import re
import shutil
import subprocess
import sys

import pytest
from cli_helpers import cli_error

from qtaml_theory.report import latex, markdown
from qtaml_theory.report.__main__ import main
from qtaml_theory.report.cli import write_atomically
from qtaml_theory.report.rows import encoding_drift_rows, moment_grid_rows, msb_share_rows
from qtaml_theory.studies import greedy_gap_study, integer_correction_study
from qtaml_theory.theorems import THEOREMS
from qtaml_theory.verify import FALSE_ALARM, z_threshold

REPORT_MC_SIZE = 20_000
#: A tqdm bar that has finished: counts, then [elapsed<remaining, rate].
FINISHED_BAR = r"100%\|[^\n\r]*\| (\d+)/\1 \[\d\d:\d\d<\d\d:\d\d"


@pytest.mark.parametrize("theorem", THEOREMS, ids=[f"{t.label} {t.title}" for t in THEOREMS])
def test_every_theorem_record_passes_all_three_checks(theorem):
    assert theorem.symbolic()
    assert theorem.closed_form_error() <= 1e-12
    z = theorem.montecarlo_z(size=REPORT_MC_SIZE, seed=11)
    assert z is None or z <= z_threshold(FALSE_ALARM, len(THEOREMS))


def test_moment_rows_follow_the_closed_forms():
    rows = moment_grid_rows(bits_values=(8,), rates=(0.1,))
    assert rows[0]["mean"] == pytest.approx(-0.1)
    assert rows[0]["var"] == pytest.approx(0.1 * 0.9 * (4**8 - 1) / 3)


def test_msb_rows_fall_toward_three_quarters():
    rows = msb_share_rows()
    assert [r["share"] for r in rows] == sorted((r["share"] for r in rows), reverse=True)
    assert rows[0]["share"] == 1.0 and rows[-1]["gap"] < 1e-18


def test_drift_rows_show_the_sign_magnitude_offset_at_zero():
    rows = {r["encoding"]: r for r in encoding_drift_rows(bits=8, rate=0.1)}
    assert rows["offset binary"]["at_zero"] == pytest.approx(-0.1)
    assert rows["sign magnitude"]["at_zero"] == pytest.approx(0.1 * 0.8 * 127)


def test_thickness_rows_fall_with_thickness_and_wkb_overestimates():
    from qtaml_theory.report.rows import thickness_rows

    rows = thickness_rows(thicknesses_nm=(4, 5, 6))
    assert rows[0]["sio2_exact"] > rows[1]["sio2_exact"] > rows[2]["sio2_exact"]
    assert all(row["sio2_wkb"] > row["sio2_exact"] for row in rows)


def test_variance_rows_single_out_sign_magnitude():
    from qtaml_theory.report.rows import encoding_variance_rows

    rows = {r["encoding"]: r["state_free"] for r in encoding_variance_rows()}
    assert rows == {"offset binary": "yes", "offset binary symmetric": "yes", "twos complement": "yes",
                    "sign magnitude": "no"}


def test_cli_writes_markdown(tmp_path, capsys):
    """Also: progress bars (counts, time left) on stderr for the long parts; stdout lists the files written."""
    assert main(["--out", str(tmp_path), "--format", "md", "--mc-size", "2000", "--allocation-configs", "2"]) == 0
    captured = capsys.readouterr()
    for part in ("theorem checks", "Table 7", "greedy vs exact"):
        assert re.search(part + ": " + FINISHED_BAR, captured.err), part
    assert sorted(captured.out.split()) == sorted(str(path) for path in tmp_path.iterdir())
    text = (tmp_path / "report.md").read_text()
    assert "## Theorem checks" in text and "Thm 3.2" in text and "NO" not in text
    assert "![figure_log_p_thickness](figure_log_p_thickness.png)" in text
    assert (tmp_path / "figure_log_p_thickness.png").read_bytes().startswith(b"\x89PNG")


def test_renderers_escape_and_format():
    from qtaml_theory.report.rows import Column, Table

    table = Table("demo", "Demo", "A caption", (Column("a", "$a$", "a"), Column("b", "b", "b", "{:.1e}")),
                  [{"a": "x_1 & y", "b": 1.5e-7}, {"a": True, "b": None}])
    tex = latex.render_table(table)
    assert r"x\_1 \& y" in tex and r"$1.5\times10^{-7}$" in tex and "--" in tex
    assert "| x_1 & y | 1.5e-07 |" in markdown.render_table(table)


def test_a_failed_render_leaves_no_output(tmp_path, monkeypatch, capsys):
    """Also: ``--quiet`` leaves stderr empty (no progress bars)."""
    def broken(*arguments):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr("qtaml_theory.report.__main__.render", broken)
    with pytest.raises(RuntimeError):
        main(["--out", str(tmp_path / "out"), "--mc-size", "2000", "--allocation-configs", "2", "--quiet"])
    assert not (tmp_path / "out").exists()
    assert capsys.readouterr().err == ""


def test_cli_end_to_end_compiles_with_pdflatex(tmp_path):
    """Runs `python -m qtaml_theory.report`, then pdflatex on main.tex (CI installs TeX Live)."""
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing in CI: .ci/run installs texlive-latex-base and -recommended")
        pytest.skip("pdflatex not installed (apt-get install texlive-latex-base texlive-latex-recommended)")
    out = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "qtaml_theory.report", "--out", str(out), "--mc-size", "5000", "--allocation-configs", "2"],
                   check=True, capture_output=True, text=True)
    assert {"main.tex", "table_theorems.tex", "table_moments.tex", "table_msb_share.tex",
            "table_drifts.tex", "table_variances.tex", "table_table7.tex", "table_greedy.tex",
            "table_thickness.tex", "table_regimes.tex", "figure_log_p_thickness.pdf"} <= {p.name for p in out.iterdir()}
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"],
                            cwd=out, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
    assert (out / "main.pdf").stat().st_size > 10_000



# -- the command line, tried as a new user would, and its files ---------------------------------------------


@pytest.fixture
def no_work(monkeypatch):
    """Fail the test if the report starts computing (every check must come first)."""
    def refuse(*args, **kwargs):
        raise AssertionError("the report started before its arguments were checked")

    monkeypatch.setattr("qtaml_theory.report.__main__.build_tables", refuse)


def refused(argv, capsys):
    """Run this CLI on ``argv``; return its error message (exit status 2, nothing on stdout)."""
    return cli_error(main, argv, capsys)


def test_an_experiments_folder_without_results_is_refused(tmp_path, capsys, no_work):
    empty = tmp_path / "empty"
    empty.mkdir()
    message = refused(["--out", str(tmp_path / "report"), "--experiments", str(empty)], capsys)
    assert str(empty) in message and "results.json" in message and "python -m qtaml_tac.experiments" in message
    (empty / "results.json").write_text("[]")
    message = refused(["--out", str(tmp_path / "report"), "--experiments", str(empty)], capsys)
    assert "holds no records" in message and "has no results.json" not in message
    (empty / "results.json").write_text('[{"method": "tac"}]')
    assert "has no 'experiment' field" in refused(["--experiments", str(empty)], capsys)
    (empty / "results.json").write_text("[{")
    assert "cannot be read" in refused(["--experiments", str(empty)], capsys)
    message = refused(["--experiments", str(tmp_path / "missing")], capsys)
    assert "is not a folder" in message
    assert not (tmp_path / "report").exists()


def test_an_out_that_cannot_hold_files_is_refused_before_any_work(tmp_path, capsys, no_work, monkeypatch):
    a_file = tmp_path / "a_file"
    a_file.write_text("mine")
    assert "is a file" in refused(["--out", str(a_file)], capsys)
    assert "which is a file" in refused(["--out", str(a_file / "report")], capsys)
    assert a_file.read_text() == "mine"
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    if os.geteuid() == 0:  # root may write anywhere: let os.access answer as it does for a user
        real = os.access
        monkeypatch.setattr(os, "access", lambda path, mode, **kw: False if str(path) == str(locked)
                            else real(path, mode, **kw))
    assert "cannot write in" in refused(["--out", str(locked / "report")], capsys)


@pytest.mark.parametrize("seed", ["-1", "0.5", "x"])
def test_a_seed_that_is_not_a_non_negative_integer_is_refused_by_the_parser(capsys, no_work, seed):
    message = refused(["--seed", seed], capsys)
    assert "--seed" in message and "non-negative integer" in message


def test_the_studies_show_a_progress_bar_and_give_the_same_rows(capsys):
    """The bar (counts, time left) goes to stderr and changes nothing in the rows; off by default."""
    quiet = integer_correction_study(layer_counts=(2, 3), configs=2, seed=5)
    assert capsys.readouterr().err == ""
    assert integer_correction_study(layer_counts=(2, 3), configs=2, seed=5, progress=True) == quiet
    assert re.search(r"Table 7: " + FINISHED_BAR, capsys.readouterr().err).group(1) == "4"
    quiet = greedy_gap_study(layer_counts=(3,), instances=2, sweeps=1, budgets=4, seed=5)
    assert greedy_gap_study(layer_counts=(3,), instances=2, sweeps=1, budgets=4, seed=5, progress=True) == quiet
    assert re.search(r"greedy vs exact: " + FINISHED_BAR, capsys.readouterr().err).group(1) == str(2 * 2 + 3 * 4)


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_files_are_written_with_the_umask_permissions(tmp_path, umask):
    previous = os.umask(umask)
    try:
        write_atomically(tmp_path / "deep" / "table.tex", "text")
        write_atomically(tmp_path / "figure.pdf", b"%PDF")
    finally:
        os.umask(previous)
    assert (tmp_path / "deep" / "table.tex").read_text() == "text" and (tmp_path / "figure.pdf").read_bytes() == b"%PDF"
    assert {(path.stat().st_mode & 0o777) for path in (tmp_path / "deep" / "table.tex", tmp_path / "figure.pdf")} \
        == {0o666 & ~umask}


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    target = tmp_path / "main.tex"
    target.write_text("old")

    def broken(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, "new")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["main.tex"]
