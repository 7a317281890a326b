"""The user's guide and API reference build with warnings as errors, and their examples run."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.parametrize("builder", ["html", "doctest"])
def test_docs_build_without_warnings(tmp_path, builder):
    result = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", builder, str(DOCS), str(tmp_path / builder)],
        capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


THEOREM_PAGE = DOCS / "theorems.rst"
ROOT = DOCS.parent


def test_the_theorem_table_names_every_proof_and_theorem_and_only_tests_that_exist():
    from qtaml_theory.theorems import THEOREMS

    page = THEOREM_PAGE.read_text()
    for proof in sorted((ROOT / "proofs").glob("*.py")):
        assert f"proofs/{proof.name}" in page, f"{proof.name} is missing from docs/theorems.rst"
    for theorem in THEOREMS:
        assert theorem.label in page or theorem.title in page, f"{theorem.label} is missing from docs/theorems.rst"
    references = re.findall(r"``(tests/[\w/]+\.py)::(test_\w+)``", page)
    assert len(references) >= 30
    for path, name in references:
        assert re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.MULTILINE), f"{path}::{name} does not exist"
