"""Plans saved beside results.json: a resumed run reads them back and gives the same records."""

import json

import pytest

from qtaml_tac.experiments import run_experiments, runner
from qtaml_tac.experiments.plan_store import PlanStore


def test_a_resumed_run_reads_its_saved_plans_and_gives_the_same_records(tmp_path, monkeypatch):
    first = run_experiments(["5.8"], tmp_path, quick=True, trials=2, seed=3, progress=False)
    keys = {runner._plan_key(point) for point in runner_points(first.records)}
    store = PlanStore(tmp_path)
    assert {path.name for path in store.folder.iterdir()} == {store.path(key).name for key in keys}
    (tmp_path / "results.json").unlink()
    runner.plan_for.cache_clear()  # nothing may come from this process's memory either

    def refuse(key):
        raise AssertionError(f"the saved plan of {key!r} was made again")

    monkeypatch.setattr(runner, "_plan_alone", refuse)
    again = run_experiments(["5.8"], tmp_path, quick=True, trials=2, seed=3, progress=False)
    assert again.records == first.records


def runner_points(records):
    """The points of the records (the fields that make a plan key)."""
    return [runner.Point(r["experiment"], r["model"], r["method"], r["p"], r["budget_fraction"],
                         faults=r["faults"], calibrate_p=r["calibrate_p"], data=r["data"]) for r in records]


@pytest.fixture(scope="module")
def plan():
    return runner.plan_for("smallcnn", "uniform_msp", 0.1, 0.15)


KEY = ("smallcnn", "uniform_msp", 0.1, 0.15, "symmetric", "", "ideal_msb", "")


def test_a_saved_plan_loads_as_the_same_plan(tmp_path, plan):
    store = PlanStore(tmp_path)
    assert store.load(KEY) is None
    store.save(KEY, plan)
    assert store.load(KEY) == plan
    assert store.load(KEY[:-1] + ("mxfp4",)) is None  # another key has its own file


@pytest.mark.parametrize("content", ["{not json", '{"key": "()", "plan": {}}', "[1, 2]", '{"key": "%s"}'],
                         ids=["corrupt", "another key", "not an object", "no plan"])
def test_a_file_that_is_not_a_saved_plan_is_reported_and_replaced(tmp_path, plan, content):
    store = PlanStore(tmp_path)
    store.save(KEY, plan)
    path = store.path(KEY)
    path.write_text(content.replace("%s", repr(KEY).replace('"', '\\"')))
    with pytest.warns(RuntimeWarning, match="is not a saved plan of .* made again and the file replaced"):
        assert store.load(KEY) is None
    store.save(KEY, plan)
    assert json.loads(path.read_text())["key"] == repr(KEY) and store.load(KEY) == plan
