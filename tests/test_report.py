"""The report: data rows, renderers, and the CLI end to end (LaTeX compiled with pdflatex)."""

import os
import shutil
import subprocess
import sys

import pytest

from qtaml_theory.report import latex, markdown
from qtaml_theory.report.__main__ import main
from qtaml_theory.report.rows import encoding_drift_rows, moment_grid_rows, msb_share_rows
from qtaml_theory.theorems import THEOREMS
from qtaml_theory.verify import FALSE_ALARM, z_threshold

REPORT_MC_SIZE = 20_000


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


def test_cli_writes_markdown(tmp_path):
    assert main(["--out", str(tmp_path), "--format", "md", "--mc-size", "2000", "--allocation-configs", "2"]) == 0
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


def test_a_failed_render_leaves_no_output(tmp_path, monkeypatch):
    def broken(*arguments):
        raise RuntimeError("renderer failed")

    monkeypatch.setattr("qtaml_theory.report.__main__.render", broken)
    with pytest.raises(RuntimeError):
        main(["--out", str(tmp_path / "out"), "--mc-size", "2000", "--allocation-configs", "2"])
    assert not (tmp_path / "out").exists()


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

