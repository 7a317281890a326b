"""Every file in proofs/ is a step-by-step derivation whose every step SymPy checks."""

import importlib.util
from pathlib import Path

import pytest
import sympy as sp

from qtaml_theory.proof import Derivation, DerivationError

PROOFS = sorted((Path(__file__).resolve().parents[1] / "proofs").glob("*.py"))


def load(path):
    spec = importlib.util.spec_from_file_location(f"proofs.{path.stem}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_there_is_a_proof_for_every_theorem_family():
    names = {path.stem for path in PROOFS}
    expected = {"thm_3_1_characteristic_function", "thm_3_2_mean_drift", "thm_3_4_lyapunov", "thm_a11_variance",
                "prop_a12_msb_share", "thm_a13_skewness", "thm_a14_kurtosis", "a8_alternative_encodings",
                "prop_4_1_mean_correction", "lemma_4_2_protected_variance", "directional_channel",
                "remark_3_5_layer_gaussianity", "thm_4_6_saturation", "a13_integer_rounding",
                "lemma_a7_transmission", "prop_a10_rare_event"}
    assert expected <= names


@pytest.mark.parametrize("path", PROOFS, ids=[p.stem for p in PROOFS])
def test_every_step_of_the_derivation_holds(path):
    derivation = load(path).derivation()
    assert len(derivation.steps) >= 3
    derivation.verify()


def test_a_wrong_step_is_caught():
    x = sp.Symbol("x")
    derivation = Derivation("demo", "a false claim")
    derivation.step("true", (x + 1) ** 2, x**2 + 2 * x + 1)
    derivation.step("false", (x + 1) ** 2, x**2 + 1)
    with pytest.raises(DerivationError, match="false"):
        derivation.verify()
