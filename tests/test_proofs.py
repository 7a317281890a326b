"""Every file in proofs/ is a step-by-step derivation whose every step SymPy checks, and a script that fails.

``python proofs/X.py`` prints the steps and exits with status 1 when any step
does not hold (:func:`qtaml_theory.proof.run`): tested on a script with a
deliberately wrong step in a subprocess, and on every proof file through its
own ``__main__`` block.
"""

import runpy
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sympy as sp

import qtaml_theory.proof as proof
from qtaml_theory.proof import Derivation, DerivationError, run

ROOT = Path(__file__).resolve().parents[1]
PROOFS = sorted((ROOT / "proofs").glob("*.py"))


def test_there_is_a_proof_for_every_theorem_family():
    names = {path.stem for path in PROOFS}
    expected = {"thm_3_1_characteristic_function", "thm_3_2_mean_drift", "thm_3_4_lyapunov", "thm_a11_variance",
                "prop_a12_msb_share", "thm_a13_skewness", "thm_a14_kurtosis", "a8_alternative_encodings",
                "prop_4_1_mean_correction", "lemma_4_2_protected_variance", "directional_channel",
                "remark_3_5_layer_gaussianity", "thm_4_6_saturation", "a13_integer_rounding",
                "lemma_a7_transmission", "prop_a10_rare_event", "real_codes"}
    assert expected <= names


@pytest.mark.parametrize("path", PROOFS, ids=[p.stem for p in PROOFS])
def test_every_step_of_the_derivation_holds_and_the_script_exits_by_it(path, monkeypatch, capsys):
    """The script run as ``__main__``: its derivation holds, goes through ``run``, and would fail with a wrong step."""
    seen = []

    def spy(derivation):
        seen.append(derivation)
        run(derivation)  # a failed step would raise SystemExit(1) here and fail the test

    monkeypatch.setattr(proof, "run", spy)
    runpy.run_path(str(path), run_name="__main__")
    (derivation,) = seen
    assert len(derivation.steps) >= 3
    derivation.verify()
    assert f"all {len(derivation.steps)} steps hold" in capsys.readouterr().out
    x = sp.Symbol("x")
    derivation.step("a deliberately wrong step", (x + 1) ** 2, x**2 + 1)
    with pytest.raises(SystemExit) as exit_info:
        run(derivation)
    assert exit_info.value.code == 1
    assert "a deliberately wrong step" in capsys.readouterr().err


def test_a_wrong_step_is_caught():
    x = sp.Symbol("x")
    derivation = Derivation("demo", "a false claim")
    derivation.step("true", (x + 1) ** 2, x**2 + 2 * x + 1)
    derivation.step("false", (x + 1) ** 2, x**2 + 1)
    with pytest.raises(DerivationError, match="false"):
        derivation.verify()


SCRIPT = '''
import sympy as sp
from qtaml_theory.proof import Derivation, run

x = sp.Symbol("x")
d = Derivation("Demo 1.1", "a square")
d.step("expand the square", (x + 1) ** 2, x**2 + 2 * x + 1)
{extra}
run(d)
'''


@pytest.mark.parametrize("extra, code", [
    ("", 0),
    ('d.step("a deliberately wrong step", (x + 1) ** 2, x**2 + 1)', 1),
])
def test_a_proof_script_exits_non_zero_when_a_step_fails(tmp_path, extra, code):
    script = tmp_path / "demo_proof.py"
    script.write_text(textwrap.dedent(SCRIPT.format(extra=extra)))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == code, done.stderr
    if code:
        assert "FAILED: Demo 1.1: 1 step(s) did not hold" in done.stderr
        assert "a deliberately wrong step" in done.stderr
    else:
        assert "Demo 1.1: all 1 steps hold" in done.stdout


def test_an_empty_derivation_fails_too(capsys):
    with pytest.raises(SystemExit) as exit_info:
        run(Derivation("Demo 1.2", "nothing"))
    assert exit_info.value.code == 1 and "no steps" in capsys.readouterr().err
