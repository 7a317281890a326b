"""The run-time closed forms are generated from the SymPy derivations, never typed twice."""

import inspect
from fractions import Fraction

import pytest
import sympy as sp

from qtaml_theory import _closed_forms, derive


def test_generated_closed_forms_match_derivation():
    """Regenerate qtaml_theory/_closed_forms.py and compare it with the file on disk."""
    assert derive.generate_closed_forms_module() == derive.closed_forms_path().read_text()


def test_generated_module_is_marked_as_generated():
    assert "Do not edit" in derive.closed_forms_path().read_text().splitlines()[0]


def _sample_point(args):
    values = {"n": 7, "k": 3, "p": Fraction(2, 9), "pi": Fraction(3, 11), "Delta": Fraction(5, 4),
              "w": Fraction(-7, 3), "sigma": -1, "r": Fraction(1, 6), "M": Fraction(9, 2),
              "k2": Fraction(3, 5), "k3": Fraction(-1, 7), "k4": Fraction(2, 3)}
    return {a: values[str(a)] for a in args}


@pytest.mark.parametrize("entry", derive._generated_functions(), ids=lambda e: e[0])
def test_each_generated_function_equals_its_expression_exactly(entry):
    name, args, expressions, _ = entry
    function = getattr(_closed_forms, name)
    assert [str(a) for a in args] == list(inspect.signature(function).parameters)
    point = _sample_point(args)
    if any(e.has(sp.sqrt(3)) or any(isinstance(a, sp.Pow) and not a.exp.is_Integer for a in e.atoms(sp.Pow))
           for e in expressions):
        got = function(*[float(v) for v in point.values()])
        expected = [float(e.subs({a: sp.Rational(v) for a, v in point.items()})) for e in expressions]
        assert (got if isinstance(got, tuple) else (got,)) == pytest.approx(tuple(expected), rel=1e-12)
        return
    got = function(*point.values())
    got = got if isinstance(got, tuple) else (got,)
    expected = tuple(Fraction(str(e.subs({a: sp.Rational(v) for a, v in point.items()}))) for e in expressions)
    assert got == expected
