"""The run-time closed forms are generated from the SymPy derivations, never typed twice."""

import inspect
import subprocess
import sys
from fractions import Fraction

import pytest
import sympy as sp

from qtaml_theory import _closed_forms, closed_forms, codegen, derive


def test_generated_closed_forms_match_derivation():
    """Regenerate qtaml_theory/_closed_forms.py and compare it with the file on disk."""
    assert codegen.generate_closed_forms_module() == codegen.closed_forms_path().read_text()


def test_generated_module_is_marked_as_generated():
    assert "Do not edit" in codegen.closed_forms_path().read_text().splitlines()[0]


def test_derive_keeps_the_generator_names():
    """``derive.generate_closed_forms_module`` and ``derive.closed_forms_path`` predate the codegen module."""
    assert derive.generate_closed_forms_module is codegen.generate_closed_forms_module
    assert derive.closed_forms_path is codegen.closed_forms_path


def test_main_writes_the_generated_module(tmp_path, capsys):
    """The generator's ``main`` end to end: the file it writes is the one on disk."""
    target = tmp_path / "_closed_forms.py"
    codegen.main(["--out", str(target)])
    assert target.read_text() == codegen.closed_forms_path().read_text()
    assert str(target) in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("module", ["qtaml_theory.codegen", "qtaml_theory.derive"])
def test_the_command_line_regenerates_the_same_file(module, tmp_path):
    """``python -m qtaml_theory.codegen`` (and the older ``-m qtaml_theory.derive``), in a fresh interpreter."""
    target = tmp_path / "_closed_forms.py"
    subprocess.run([sys.executable, "-m", module, "--out", str(target)], check=True, capture_output=True)
    assert target.read_text() == codegen.closed_forms_path().read_text()


def test_public_closed_forms_are_every_generated_function():
    names = [name for name, *_ in codegen._generated_functions()]
    assert closed_forms.__all__ == names
    assert all(getattr(closed_forms, name) is getattr(_closed_forms, name) for name in names)


POINT = {"n": 7, "k": 3, "p": Fraction(2, 9), "pi": Fraction(3, 11), "Delta": Fraction(5, 4), "w": Fraction(-7, 3),
         "sigma": -1, "r": Fraction(1, 6), "M": Fraction(9, 2), "k2": Fraction(3, 5), "k3": Fraction(-1, 7),
         "k4": Fraction(2, 3), "V0": Fraction(3), "E": Fraction(1, 2), "m": Fraction(2), "hbar": Fraction(1, 3),
         "kappa": Fraction(5), "d": Fraction(1, 3), "T": Fraction(1, 100), "A": Fraction(7), "log_lam": Fraction(-3),
         "K": Fraction(4), "p01": Fraction(1, 20), "p10": Fraction(2, 7), "m0": Fraction(11, 2), "drift": Fraction(-1, 9),
         **{f"q{level}": Fraction(level, 3 * level + 8) for level in range(1, 8)}}


def _is_rational_function(expression):
    """True when the expression has no functions and only integer powers (exact in Fractions)."""
    return not expression.atoms(sp.Function) and all(
        power.exp.is_Integer or power.exp.is_Symbol for power in expression.atoms(sp.Pow))


@pytest.mark.parametrize("entry", codegen._generated_functions(), ids=lambda e: e[0])
def test_each_generated_function_equals_its_expression_exactly(entry):
    """Exact (Fractions) for rational expressions; to 1e-13 in floats where sqrt, log or gammaln appear."""
    name, args, expressions, _ = entry
    function = getattr(_closed_forms, name)
    assert [str(a) for a in args] == list(inspect.signature(function).parameters)
    point = {a: POINT[str(a)] for a in args}
    substitution = {a: sp.Rational(v) for a, v in point.items()}
    if all(_is_rational_function(e) for e in expressions):
        got = function(*point.values())
        expected = tuple(Fraction(str(e.subs(substitution))) for e in expressions)
    else:
        got = function(*[float(v) for v in point.values()])
        expected = pytest.approx(tuple(float(e.subs(substitution)) for e in expressions), rel=1e-13)
    assert (got if isinstance(got, tuple) else (got,)) == expected
