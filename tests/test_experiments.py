"""The experiments runner: a quick run of every experiment, as a smoke test asserting the paper's qualitative claims.

Runs ``python -m qtaml_tac.experiments all --quick`` once (about half a minute,
models trained into a temporary cache) and checks the records, figures and
tables, then resumption and reproducibility on one experiment.
"""

import json
import math
import os
import subprocess
import sys

import pytest

from qtaml_tac.experiments import EXPERIMENTS, run_experiments
from qtaml_tac.experiments import runner

FIELDS = {"experiment", "model", "method", "p", "budget_fraction", "allocation", "accuracy_mean", "accuracy_std",
          "ci95", "trials", "clean_accuracy"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiments")
    environment = {**os.environ, "QTAML_CACHE": str(tmp_path_factory.mktemp("cache"))}
    subprocess.run([sys.executable, "-m", "qtaml_tac.experiments", "all", "--quick", "--out", str(out)],
                   check=True, capture_output=True, text=True, env=environment)
    return out, json.loads((out / "results.json").read_text())


def model_records(records):
    return [r for r in records if "method" in r]


def test_every_model_record_has_the_public_fields(quick_run):
    _, records = quick_run
    points = model_records(records)
    assert {r["experiment"] for r in points} == {"5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "5.8", "5.9", "directional"}
    for record in points:
        assert FIELDS <= set(record)
        assert record["model"] in {"smallcnn", "widecnn", "deepcnn", "rescnn", "transformer"}
        assert record["ci95"][0] <= record["accuracy_mean"] <= record["ci95"][1]


def test_uncompensated_accuracy_collapses_at_p_0_10(quick_run):
    _, records = quick_run
    collapsed = [r for r in model_records(records) if r["method"] == "uncompensated" and r["p"] == 0.10
                 and r["faults"] == "symmetric"]
    assert collapsed
    assert all(r["accuracy_mean"] < 0.5 * r["clean_accuracy"] for r in collapsed)


def test_tac_is_at_least_uniform_msp_at_equal_budget(quick_run):
    """Within two standard errors of the paired difference's parts (5 trials per point)."""
    _, records = quick_run
    pairs = 0
    for experiment in ("5.2", "5.5", "5.6"):
        points = [r for r in model_records(records) if r["experiment"] == experiment]
        for tac in (r for r in points if r["method"] == "tac"):
            uniform = [r for r in points if r["method"] == "uniform_msp" and r["model"] == tac["model"]
                       and r["budget_fraction"] == tac["budget_fraction"]]
            for other in uniform:
                pairs += 1
                error = math.sqrt((tac["accuracy_std"] ** 2 + other["accuracy_std"] ** 2) / tac["trials"])
                assert tac["accuracy_mean"] >= other["accuracy_mean"] - 2 * error - 1e-9, (tac, other)
    assert pairs >= 20


def test_rho_star_is_below_one_for_every_architecture(quick_run):
    _, records = quick_run
    rho = [r for r in records if r.get("experiment") == "rho"]
    assert {r["model"] for r in rho} == {"smallcnn", "widecnn", "deepcnn", "rescnn", "transformer"}
    assert all(0 < r["rho_star"] < 1 and r["rho_star"] <= r["rho_integer"] * (1 + 1e-9) for r in rho)


def test_figures_and_tables_are_written(quick_run):
    out, _ = quick_run
    for name in ("exp_5_1_distribution", "exp_5_2_accuracy_vs_overhead", "exp_5_3_allocation", "exp_5_4_mismatch",
                 "exp_5_6_transformer_pareto", "exp_5_9_scoring"):
        assert (out / f"{name}.png").stat().st_size > 1000 and (out / f"{name}.pdf").stat().st_size > 1000
    assert len(list(out.glob("table_exp_*.tex"))) >= 12


def test_reruns_resume_and_reproduce(tmp_path, monkeypatch):
    first = run_experiments(["5.8"], tmp_path / "a", quick=True, trials=2, seed=3)
    again = run_experiments(["5.8"], tmp_path / "b", quick=True, trials=2, seed=3)
    strip = lambda records: [{k: v for k, v in r.items()} for r in records]  # noqa: E731
    assert strip(first.records) == strip(again.records)

    def refuse(*args):
        raise AssertionError("a finished point was recomputed")

    monkeypatch.setattr(runner, "evaluate_point", refuse)
    resumed = run_experiments(["5.8"], tmp_path / "a", quick=True, trials=2, seed=3)
    assert resumed.records == first.records


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="experiment must be one of"):
        run_experiments(["5.10"], tmp_path)
    with pytest.raises(ValueError, match="trials must be at least 2"):
        run_experiments(["5.8"], tmp_path, trials=1)
    assert set(EXPERIMENTS) == {"5.1", "5.2", "5.3", "5.4", "5.5", "5.6", "5.7", "5.8", "5.9", "rho", "directional",
                                "minilm"}


def test_the_report_includes_the_experiment_tables(quick_run, tmp_path):
    import shutil

    out, _ = quick_run
    report = tmp_path / "report"
    subprocess.run([sys.executable, "-m", "qtaml_theory.report", "--out", str(report), "--experiments", str(out),
                    "--mc-size", "2000", "--allocation-configs", "2"], check=True, capture_output=True, text=True)
    main = (report / "main.tex").read_text()
    assert "\\input{table_exp_5_5_budget}" in main and (report / "table_exp_rho.tex").exists()
    if shutil.which("pdflatex") is None:
        if os.environ.get("CI"):
            pytest.fail("pdflatex is missing in CI")
        pytest.skip("pdflatex not installed")
    result = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "main.tex"], cwd=report,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
