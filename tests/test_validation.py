"""qtaml_theory.validation: one check per kind, each naming the argument and its range."""

import importlib
import math
import sys
from fractions import Fraction

import numpy as np
import pytest

from qtaml_theory import validation


def test_old_private_name_warns_and_gives_the_same_checks():
    sys.modules.pop("qtaml_theory._validation", None)
    with pytest.warns(DeprecationWarning, match=r"qtaml_theory\.validation"):
        old = importlib.import_module("qtaml_theory._validation")
    for name in validation.__all__:
        assert getattr(old, name) is getattr(validation, name)


def test_array_checks_return_float64_and_keep_the_values():
    values = [1e-300, 0.5, 3.0]
    for check in (validation.check_finite_values, validation.check_positive_values):
        array = check(values, "x")
        assert array.dtype == np.float64 and array.tolist() == values
    assert validation.check_probability_values([0.0, 1.0], "x").tolist() == [0.0, 1.0]


def test_scalar_rate_keeps_exact_input_exact():
    assert validation.as_rate(Fraction(1, 3)) == Fraction(1, 3)
    assert isinstance(validation.as_rate(0.25), float)


INVALID = [
    ("finite", lambda: validation.check_finite_values([1.0, math.nan], "energy_ev"), r"energy_ev must be finite"),
    ("positive", lambda: validation.check_positive_values(0.0, "barrier_ev", " eV"), r"barrier_ev must be > 0 eV"),
    ("positive NaN", lambda: validation.check_positive_values(math.inf, "window_s"), r"window_s must be finite"),
    ("probability", lambda: validation.check_probability_values([0.5, 1.5], "t"), r"t must lie in \[0, 1\]"),
    ("rate", lambda: validation.as_rate(-0.1, "p01"), r"p01 must be a probability in \[0, 1\]"),
    ("bits", lambda: validation.check_bits(33, "bits"), r"bits must be an integer in 1\.\.32"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_each_check_names_the_argument_and_range(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()
