"""Shared fixtures and case tables for the theorem regression suite."""

import os
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, settings

from qtaml_theory import DirectionalChannel, PerBitChannel, SymmetricChannel
from qtaml_theory.encodings import ENCODINGS

settings.register_profile(
    "qtaml", deadline=None, derandomize=True, max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("qtaml")

ENCODING_NAMES = tuple(ENCODINGS)


def exact_channels(n):
    """One channel of each kind with rational rates, for an n-bit code."""
    return {
        "symmetric": SymmetricChannel(Fraction(1, 10)),
        "per_bit": PerBitChannel([Fraction(1, 3 + 2 * i) for i in range(n)]),
        "directional": DirectionalChannel(Fraction(1, 20), Fraction(2, 7)),
    }


def float_channels(n):
    """One channel of each kind with float rates, for an n-bit code."""
    return {
        "symmetric": SymmetricChannel(0.1),
        "per_bit": PerBitChannel([0.02 + 0.03 * i for i in range(n)]),
        "directional": DirectionalChannel(0.05, 0.2),
    }


@pytest.fixture(params=ENCODING_NAMES)
def encoding_name(request):
    return request.param


pytest_plugins = ["tac_fixtures"]

#: At most this many pytest-xdist workers for ``-n auto``: each imports torch and some start Dask clusters.
MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config):
    """The number of workers ``-n auto`` starts: one per usable core, at most :data:`MAX_WORKERS`."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(usable, MAX_WORKERS))
