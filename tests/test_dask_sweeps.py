"""Sweeps on Dask: identical results in-process and on local clusters, a worker killed mid-sweep, bad input."""

import os
import signal

import pytest
from distributed import Client, LocalCluster

from qtaml_tac.experiments import run_experiments
from qtaml_tac.experiments.runner import Point, Results, run_points


def points():
    return [Point("5.8", "smallcnn", method, 0.1, budget) for method in ("uncompensated", "uniform_msp", "tac")
            for budget in (0.1, 0.2)]


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("in_process")
    run_experiments(["5.8"], out, quick=True, trials=2, seed=7)
    return (out / "results.json").read_text()


@pytest.mark.parametrize("workers", [pytest.param(1, marks=pytest.mark.slow), 2])  # one worker: the same path
def test_local_clusters_give_identical_results(tmp_path, in_process, workers):
    run_experiments(["5.8"], tmp_path, quick=True, trials=2, seed=7, workers=workers)
    assert (tmp_path / "results.json").read_text() == in_process


def test_a_worker_killed_mid_sweep_loses_nothing(tmp_path):
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        undisturbed = Results(tmp_path / "undisturbed")
        run_points(points(), undisturbed, 2, 5, client, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        pids = client.run(os.getpid)
        killed = []

        def kill_one(done, total):
            if not killed:
                pid = next(iter(pids.values()))
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)

        disturbed = Results(tmp_path / "disturbed")
        run_points(points(), disturbed, 2, 5, client, progress=False, on_record=kill_one)
    assert killed
    assert disturbed.records == undisturbed.records


def test_bad_input_fails_before_any_work(tmp_path):
    with pytest.raises(ValueError, match="cannot reach the Dask scheduler"):
        run_experiments(["5.8"], tmp_path, quick=True, scheduler="tcp://127.0.0.1:9")
    with pytest.raises(ValueError, match="workers must be a positive integer"):
        run_experiments(["5.8"], tmp_path, quick=True, workers=0)
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        with pytest.raises(ValueError, match="a sweep with no points"):
            run_points([], Results(tmp_path), 2, 0, client)
    assert not (tmp_path / "results.json").exists()


def test_retention_points_give_identical_records_in_process_and_on_a_cluster(tmp_path):
    """Issue 16's lifetime points: the cells' channel and the end-of-life plan travel to worker processes."""
    from qtaml_tac.experiments.runner import RETENTION

    retention = [Point("lifetime", "smallcnn", "uncompensated", 0.0, 0.0, faults=RETENTION, time_s=time_s,
                       bits_per_cell=bits, level_map="gray", device="sio2", cell_compensation=compensation)
                 for bits in (1, 2) for time_s in (1e8, 3.2e8) for compensation in ("none", "drift")]
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        in_process = run_points(retention, Results(tmp_path / "in_process"), 2, 5, client, progress=False)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        on_cluster = run_points(retention, Results(tmp_path / "cluster"), 2, 5, client, progress=False)
    assert on_cluster == in_process
    assert {(r["time_s"], r["bits_per_cell"], r["level_map"]) for r in in_process} == {
        (t, b, "gray") for t in (1e8, 3.2e8) for b in (1, 2)}
