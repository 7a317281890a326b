"""The user's guide and API reference build with warnings as errors, and their examples run."""

import importlib
import inspect
import pkgutil
import posixpath
import re
import subprocess
import sys
import warnings
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
    if builder == "html":
        undocumented = _undocumented_public_names(tmp_path / builder / "objects.inv")
        assert not undocumented, f"public names missing from the API reference: {undocumented}"


def _public_modules():
    for package in ("qtaml_theory", "qtaml_tac"):
        root = importlib.import_module(package)
        yield root
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            if not any(part.startswith("_") for part in info.name.split(".")):
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", DeprecationWarning)  # the deprecated alias modules
                    yield importlib.import_module(info.name)


def _undocumented_public_names(inventory_path):
    """Every name in a public module's ``__all__`` has an entry in the built API reference (here or at its home)."""
    from sphinx.util.inventory import InventoryFile

    with open(inventory_path, "rb") as stream:
        inventory = InventoryFile.load(stream, "", posixpath.join)
    documented = {name for entries in inventory.values() for name in entries}
    by_name = {}
    for entry in documented:
        by_name.setdefault(entry.rpartition(".")[2], []).append(entry)
    missing = []
    for module in _public_modules():
        for name in getattr(module, "__all__", ()):
            value = getattr(module, name)
            if inspect.ismodule(value):
                continue
            home = getattr(value, "__module__", None)
            places = {f"{module.__name__}.{name}"} | ({f"{home}.{name}"} if isinstance(home, str) else set())
            if not places & documented and not any(_documented_as(entry, value) for entry in by_name.get(name, ())):
                missing.append(f"{module.__name__}.{name}")
    return missing


def _documented_as(entry, value):
    """Whether the documented ``module.name`` ``entry`` is this very object (a re-exported constant)."""
    module_name, _, name = entry.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return False
    return getattr(module, name, None) is value


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
