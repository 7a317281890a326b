"""Experiment ``formats`` (issue 15): its points carry ``format``; the paper's points are what they were."""

import pytest

from qtaml_tac.experiments.formats import FORMAT_BUDGET_BITS, FORMAT_NAMES, _points
from qtaml_tac.experiments.runner import FORMAT_STORAGE, Point, format_storage
from qtaml_tac.experiments.sections import EXPERIMENTS, PAPER_EXPERIMENTS
from qtaml_tac.storage import StorageConfig


def test_format_points_carry_their_format_and_an_equal_budget_in_bits_per_weight():
    points = _points("smallcnn", (1e-3,), "")
    assert {p.format for p in points} == set(FORMAT_NAMES) and len(points) == 2 * len(FORMAT_NAMES)
    for point in points:
        assert point.fields()["format"] == point.format
        assert point.budget_fraction * FORMAT_STORAGE[point.format]["n_bits"] == pytest.approx(FORMAT_BUDGET_BITS)


def test_the_papers_points_keep_their_keys():
    assert "format" not in Point("5.2", "smallcnn", "tac", 0.05, 0.1).key(5, 0)
    with pytest.raises(ValueError, match="format must be one of"):
        Point("formats", "smallcnn", "tac", 0.05, 0.1, format="int3")


def test_every_format_is_a_storage_config_and_the_experiment_is_on_request():
    for name in FORMAT_STORAGE:
        assert isinstance(format_storage(StorageConfig(), name), StorageConfig)
    assert "formats" in EXPERIMENTS and "formats" not in PAPER_EXPERIMENTS
