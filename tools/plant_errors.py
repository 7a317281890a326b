"""Plant known errors in qtaml_theory, one at a time, and check that the fast tests catch every one.

An on-demand mutation check (not run in CI, not collected by pytest). Each
plant is a plausible bug: a closed form, a route of the law, a Monte Carlo
statistic or standard error, a compensation factor or a physics tail made 5%
wrong, or a sign swapped. The tool takes one snapshot of the repository at the
start (the work tree's files that git tracks or would track, or with
``--revision`` a commit's tree), so that edits made in the work tree during
the run change nothing; the repository itself is never touched. For each
plant it copies the snapshot into a temporary folder, applies the plant to
that copy, and runs the fast tests that should catch it there::

    python -m pytest -x -q -p no:cacheprovider -p no:tac_fixtures -p _plant_check <tests>

with ``PYTHONPATH`` at the copy. A small plugin written into the copy
(``_plant_check``) records which ``qtaml_theory`` the tests imported and
whether the planted module carries the plant's marker; a plant counts as
caught only if a test FAILED (an ERROR in setup does not count), the copy's
``qtaml_theory`` was the one imported, and the planted module was loaded.
``test_generated_closed_forms.py`` is never run: its text comparison of the
generated file would flag every plant in ``_closed_forms.py`` without
checking any formula. The ``tac_fixtures`` plugin (a trained model, which no
test listed here uses) is not loaded, to save its start-up time. Before any
plant, the same tests run once with nothing planted: they must pass (exit
status 2 otherwise), or a failure would say nothing about the plants.

Plants are appended redefinitions where possible (``_orig = f`` then ``def
f(*args): return 1.05 * _orig(*args)``), which survive a regeneration of
``_closed_forms.py``; where a line must be edited, the text to replace must
occur exactly once, or the plant is reported as not applied (and the run
fails). The closed forms are read from ``_closed_forms.py`` when the table
is built, so a newly generated function gets its plants without an edit here.

Usage::

    python tools/plant_errors.py                  # every plant; exit status 1 if any is not caught
    python tools/plant_errors.py --list           # the table: name, the error it plants, the tests to catch it
    python tools/plant_errors.py --only 'verify.*' --only law.stats.plain_kurtosis
    python tools/plant_errors.py --jobs 2         # plants in parallel (each runs its own pytest)
    python tools/plant_errors.py --revision HEAD  # plant in the last commit instead of the work tree

``--only`` takes shell-style patterns, matched against plant names. Progress
goes to stderr (tqdm); the result of each plant and a summary go to stdout.
Measured: a full run (135 plants) takes 9 minutes on two shared cores with ``--jobs 2``
(18 under load); all are caught. (The first run missed two,
``law.layer_output_cumulants.kappa1`` and ``kappa3``: the Remark 3.5 tests
compared the output's cumulants only with themselves;
``tests/test_law_reference.py`` now holds them against the reference.)
"""

from __future__ import annotations

import argparse
import ast
import fnmatch
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

ROOT = Path(__file__).resolve().parents[1]
CLOSED_FORMS = "qtaml_theory._closed_forms"

#: Seconds one plant's tests may run before the plant is reported as an error.
PLANT_TIMEOUT_S = 900

LAW_CLOSED_FORM_TESTS = ("tests/test_law_closed_forms.py", "tests/test_law_reference.py")
PHYSICS_TESTS = ("tests/test_physics.py",)
LAW_ROUTE_TESTS = ("tests/test_law_reference.py", "tests/test_law_routes.py")
MONTECARLO_TESTS = ("tests/test_law_reference.py::test_montecarlo_detects_a_five_percent_error_in_every_statistic",
                    "tests/test_law_reference.py::test_montecarlo_agrees_with_the_reference_within_standard_error")
STANDARD_ERROR_TESTS = ("tests/test_verify_standard_errors.py",)
COMPENSATION_TESTS = ("tests/test_law_closed_forms.py", "tests/test_compensation.py",
                      "tests/test_thm_3_2_mean_drift.py")

#: Closed forms of the device physics (the rest belong to the law and the allocation).
PHYSICS_FORMS = frozenset({"decay_constant", "wkb_log_transmission", "transmission_prefactor", "wkb_prefactor",
                           "rare_escape_probability", "rare_log_flip_probability"})
#: Closed forms used by the law's routes themselves.
LAW_ROUTE_FORMS = frozenset({"bernoulli_cumulant_1", "bernoulli_cumulant_2", "bernoulli_cumulant_3",
                             "bernoulli_cumulant_4", "sign_mixture_cumulants", "sign_mixture_error_mean"})
#: Closed forms (or tuple elements) of a quantity with a sign of its own, where a swapped sign is a plausible bug.
SIGNED_FORMS = {"bernoulli_cumulant_1": None, "bernoulli_cumulant_3": None, "bernoulli_cumulant_4": None,
                "sign_mixture_cumulants": (0, 2, 3), "sign_mixture_error_mean": None,
                "fourth_cumulant_symmetric": None, "protected_mean_drift": None, "drift_slope_directional": None,
                "mean_drift_offset_binary": None, "mean_drift_offset_binary_symmetric": None,
                "mean_drift_twos_complement": None, "wkb_log_transmission": None,
                "rare_log_flip_probability": None}
#: Closed forms that return the log of a probability: also planted 5% off in the probability.
LOG_FORMS = frozenset({"wkb_log_transmission", "rare_log_flip_probability"})
STATISTICS = ("mean", "var", "std", "skewness", "excess_kurtosis", "k3", "k4")
#: Gradient components (in the moments m1..m4 about the true mean) that are not identically zero at m1 = 0.
NONZERO_GRADIENT_COMPONENTS = {"mean": (0,), "var": (1,), "std": (1,), "skewness": (0, 1, 2),
                               "excess_kurtosis": (0, 1, 3), "k3": (0, 2), "k4": (0, 1, 3)}

SCALE = "_plant_scale(value)"
NEGATE = "-value"
LOG_SHIFT = "value + _plant_math.log(1.05)"


class PlantError(Exception):
    """A plant could not be applied (its text was not found exactly once)."""


@dataclass(frozen=True)
class Plant:
    """One planted error: text edits and appended code for one module of the copy.

    Attributes
    ----------
    name : str
        Unique, dotted (``--only`` matches it).
    module : str
        Dotted name of the module, or of a package whose modules are searched.
    description : str
        The error, in words.
    tests : tuple of str
        Test files (or node ids) that should catch it, run in this order.
    edits : tuple of (str, str)
        ``(old, new)``: ``old`` must occur exactly once in the module (or package).
    append : str
        Code appended (after the plant's marker and helpers) to the module that defines ``target``.
    target : str, optional
        Top-level function or class that ``append`` redefines or patches.
    """

    name: str
    module: str
    description: str
    tests: tuple
    edits: tuple = ()
    append: str = ""
    target: str | None = None

    def _files(self, root):
        folder = root / Path(*self.module.split("."))
        if folder.is_dir():
            return sorted(folder.rglob("*.py"))
        return [folder.with_suffix(".py")]

    def locate(self, root):
        """The file to plant in; :class:`PlantError` unless every edit and the target point to one file."""
        files = self._files(root)
        chosen = set()
        for old, _ in self.edits:
            counts = {path: path.read_text().count(old) for path in files}
            if sum(counts.values()) != 1:
                raise PlantError(f"expected {old!r} exactly once in {self.module}, found it {sum(counts.values())} "
                                 f"times")
            chosen |= {path for path, count in counts.items() if count}
        if self.target is not None:
            defining = [path for path in files if any(
                isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.name == self.target
                for node in ast.parse(path.read_text()).body)]
            if len(defining) != 1:
                raise PlantError(f"expected one module of {self.module} to define {self.target}, found {len(defining)}")
            chosen |= set(defining)
        if not chosen:
            chosen = {files[0].parent / "__init__.py" if len(files) > 1 else files[0]}
        if len(chosen) != 1:
            raise PlantError(f"the plant's edits and target lie in different files: {sorted(map(str, chosen))}")
        return chosen.pop()

    def apply(self, root):
        """Plant the error in the copy at ``root``; returns the dotted name of the module planted in."""
        path = self.locate(root)
        text = path.read_text()
        for old, new in self.edits:
            text = text.replace(old, new)
        path.write_text(text + _prelude(self.name) + self.append)
        parts = path.relative_to(root).with_suffix("").parts
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _prelude(name):
    """The plant's marker and helpers, appended to the planted module."""
    return f'''

# --- planted by tools/plant_errors.py: {name} ---
import functools as _plant_functools
import math as _plant_math
from fractions import Fraction as _PlantFraction

import numpy as _plant_np

_PLANTED = {name!r}


def _plant_scale(value):
    """``value`` 5% too large; exact numbers stay exact, float arrays stay float."""
    if isinstance(value, (_PlantFraction, int)) and not isinstance(value, bool):
        return value * _PlantFraction(21, 20)
    if isinstance(value, _plant_np.ndarray) and value.dtype == object:
        return value * _PlantFraction(21, 20)
    return value * 1.05


def _plant_element(value, index, change):
    """``value`` with element ``index`` (of a tuple or list, or along an array's first axis) changed."""
    if isinstance(value, (tuple, list)):
        return type(value)(change(v) if i == index else v for i, v in enumerate(value))
    value = _plant_np.array(value, copy=True)
    value[index] = change(value[index])
    return value
'''


def wrap_function(function, expression):
    """Appended code redefining module function ``function`` to return ``expression`` of its ``value``."""
    return f'''
_plant_original = {function}


@_plant_functools.wraps(_plant_original)
def {function}(*args, **kwargs):
    value = _plant_original(*args, **kwargs)
    return {expression}
'''


def wrap_method(owner, method, expression, condition="True"):
    """Appended code redefining ``owner.method`` to return ``expression`` where ``condition`` holds.

    Both may use ``value`` (the original result), ``args`` and ``kwargs`` (without ``self``).
    """
    return f'''
_plant_original = {owner}.{method}


@_plant_functools.wraps(_plant_original)
def _plant_method(self, *args, **kwargs):
    value = _plant_original(self, *args, **kwargs)
    return ({expression}) if ({condition}) else value


{owner}.{method} = _plant_method
'''


def element(index, change):
    """Expression changing element ``index`` of ``value`` by ``change`` (a callable's source)."""
    return f"_plant_element(value, {index}, {change})"


# -- the table ---------------------------------------------------------------------------------------------------

def closed_form_plants(root):
    """Each function of ``root``'s ``_closed_forms.py``: 5% off (each tuple element), a sign swap where meaningful."""
    source = (root / Path(*CLOSED_FORMS.split("."))).with_suffix(".py").read_text()
    plants = []
    for node in ast.parse(source).body:
        if not isinstance(node, ast.FunctionDef):
            continue
        name = node.name
        tests = PHYSICS_TESTS if name in PHYSICS_FORMS else LAW_CLOSED_FORM_TESTS
        returned = [n.value for n in ast.walk(node) if isinstance(n, ast.Return)]
        width = len(returned[0].elts) if returned and isinstance(returned[0], ast.Tuple) else None

        def add(suffix, description, expression, name=name, tests=tests):
            plants.append(Plant(f"closed_forms.{name}.{suffix}", CLOSED_FORMS, f"{name}: {description}", tests,
                                append=wrap_function(name, expression), target=name))

        if width is None:
            add("x1.05", "return value times 1.05", SCALE)
        else:
            for index in range(width):
                add(f"element{index}.x1.05", f"element {index} of the returned tuple times 1.05",
                    element(index, "_plant_scale"))
        if name in SIGNED_FORMS:
            if width is None:
                add("sign", "sign of the return value swapped", NEGATE)
            else:
                for index in SIGNED_FORMS[name]:
                    add(f"element{index}.sign", f"sign of element {index} swapped", element(index, "lambda x: -x"))
        if name in LOG_FORMS:
            add("log+log1.05", "the probability whose log it returns 5% too large", LOG_SHIFT)
    plants.append(Plant("closed_forms.mean_correction_factor.1/(1+2p)", CLOSED_FORMS,
                        "mean_correction_factor: 1/(1 + 2p) instead of 1/(1 - 2p)", LAW_CLOSED_FORM_TESTS,
                        append=wrap_function("mean_correction_factor", "1 / (2 - 1 / value)"),
                        target="mean_correction_factor"))
    return plants


def law_plants():
    """Every route of WeightError and the vectorized formula route, 5% off or otherwise plausibly wrong."""
    module = "qtaml_theory.law"
    plants = []

    def add(name, description, append="", edits=(), tests=LAW_ROUTE_TESTS, target="WeightError", where=module):
        plants.append(Plant(f"law.{name}", where, description, tests, edits=edits, append=append,
                            target=target if append else None))

    for method in ("mean", "var", "std", "skewness", "excess_kurtosis"):
        add(f"{method}.x1.05", f"WeightError.{method}() times 1.05 (every route)",
            wrap_method("WeightError", method, SCALE))
    add("excess_kurtosis.plain", "WeightError.excess_kurtosis() returns the plain kurtosis (+3)",
        wrap_method("WeightError", "excess_kurtosis", "value + 3"))
    for index, statistic in enumerate(("mean", "var", "skewness", "excess_kurtosis")):
        add(f"stats.{statistic}.x1.05", f"stats()'s {statistic} times 1.05 (every route)",
            wrap_method("WeightError", "stats", element(index, "_plant_scale")))
    add("stats.plain_kurtosis", "stats() returns the plain kurtosis (+3) instead of the excess kurtosis",
        wrap_method("WeightError", "stats", element(3, "lambda x: x + 3")))
    route = "(args[0] if args else kwargs.get('method')) == {!r}"
    for method in ("formula", "enumeration", "montecarlo"):
        for order in (1, 2, 3, 4):
            add(f"{method}.kappa{order}.x1.05", f"the {method} route's cumulant kappa_{order} times 1.05",
                wrap_method("WeightError", "_unit_cumulants", element(order - 1, "_plant_scale"),
                            route.format(method)),
                tests=MONTECARLO_TESTS if method == "montecarlo" else LAW_ROUTE_TESTS)
    cf_route = "(args[1] if len(args) > 1 else kwargs.get('method', 'formula')) == {!r}"
    for method, tests in (("formula", LAW_ROUTE_TESTS), ("enumeration", LAW_ROUTE_TESTS),
                          ("montecarlo", ("tests/test_law_routes.py::"
                                          "test_montecarlo_characteristic_function_within_standard_error",))):
        add(f"cf.{method}.x1.05", f"the characteristic function's {method} route times 1.05",
            wrap_method("WeightError", "cf", SCALE, cf_route.format(method)), tests=tests)
    add("cf.formula.conjugate", "the characteristic function's formula route conjugated (t -> -t)",
        wrap_method("WeightError", "_cf_formula", "_plant_np.conj(value)"))
    for order in (1, 2, 3, 4):
        add(f"error_cumulants.kappa{order}.x1.05", f"error_cumulants' kappa_{order} times 1.05 (scalar and arrays)",
            wrap_function("error_cumulants", element(order - 1, "_plant_scale")), target="error_cumulants")
    add("pmf.x1.05", "pmf() probabilities times 1.05",
        wrap_method("WeightError", "pmf", "{key: _plant_scale(q) for key, q in value.items()}"))
    add("sampler.rate.x1.05", "sample_errors flips each bit with its rate times 1.05",
        edits=(("flips = np.random.default_rng(rng).random((size,) + rates.shape) < rates",
                "flips = np.random.default_rng(rng).random((size,) + rates.shape) < rates * 1.05"),),
        tests=MONTECARLO_TESTS + ("tests/test_law_routes.py",), where="qtaml_theory.channels")
    for order in (1, 2, 3, 4):
        add(f"layer_output_cumulants.kappa{order}.x1.05", f"layer_output_cumulants' kappa_{order} times 1.05",
            wrap_function("layer_output_cumulants", element(order - 1, "_plant_scale")),
            tests=("tests/test_law_reference.py::test_layer_output_cumulants_are_the_input_weighted_sums_of_the_reference",
                   "tests/test_thm_3_4_lyapunov_remark_3_5.py"),
            target="layer_output_cumulants")
    return plants


def verify_plants():
    """The Monte Carlo judge: exact values, estimates, and the delta-method standard errors, 5% off."""
    module = "qtaml_theory.verify"
    plants = []
    for statistic in STATISTICS:
        components = NONZERO_GRADIENT_COMPONENTS[statistic]
        variants = [("gradient", components, "every component")]
        if len(components) > 1:
            variants += [(f"gradient.m{j + 1}", (j,), f"d/dm{j + 1} only") for j in components]
        for label, planted, which in variants:
            append = f'''
_plant_original = _statistic_gradients


def _statistic_gradients():
    gradients = dict(_plant_original())
    original = gradients[{statistic!r}]
    gradients[{statistic!r}] = lambda *moments: [_plant_scale(g) if j in {planted!r} else g
                                             for j, g in enumerate(original(*moments))]
    return gradients
'''
            plants.append(Plant(f"verify.standard_error.{statistic}.{label}.x1.05", module,
                                f"the {statistic} standard error's gradient ({which}) times 1.05",
                                STANDARD_ERROR_TESTS, append=append, target="_statistic_gradients"))
        plants.append(Plant(f"verify.exact.{statistic}.x1.05", module,
                            f"montecarlo_standard_errors' exact {statistic} times 1.05",
                            STANDARD_ERROR_TESTS + MONTECARLO_TESTS,
                            append=wrap_function("montecarlo_standard_errors",
                                                 f"{{k: ((_plant_scale(v[0]), v[1]) if k == {statistic!r} else v) "
                                                 f"for k, v in value.items()}}"),
                            target="montecarlo_standard_errors"))
        plants.append(Plant(f"verify.estimate.{statistic}.x1.05", module,
                            f"montecarlo_zscores judges its {statistic} estimate times 1.05", MONTECARLO_TESTS,
                            edits=(("difference = float(estimate[name]) - exact",
                                    f"difference = float(estimate[name]) * (1.05 if name == {statistic!r} else 1) "
                                    f"- exact"),)))
    plants.append(Plant("verify.covariance.x1.05", module,
                        "the moments' covariance Sigma of the delta method times 1.05", STANDARD_ERROR_TESTS,
                        edits=(("    result = {}\n", "    covariance = covariance * 1.05\n    result = {}\n"),)))
    return plants


def compensation_plants():
    module = "qtaml_theory.compensation"
    return [
        Plant("compensation.directional.1/(1-slope)", module,
              "directional mean_correction_factor 1/(1 - slope) instead of 1/(1 + slope)", COMPENSATION_TESTS,
              edits=(("return 1 / (1 + slope)", "return 1 / (1 - slope)"),)),
        Plant("compensation.directional.x1.05", module, "directional mean_correction_factor times 1.05",
              COMPENSATION_TESTS, edits=(("return 1 / (1 + slope)", "return 1.05 / (1 + slope)"),)),
        Plant("compensation.symmetric.x1.05", module, "symmetric mean_correction_factor times 1.05",
              COMPENSATION_TESTS,
              edits=(("return cf.mean_correction_factor(channel.p)",
                      "return 1.05 * cf.mean_correction_factor(channel.p)"),)),
    ]


def physics_plants():
    """The escape probability (each branch of its exact routes) and the flip tails, 5% off."""
    module = "qtaml_theory.physics"
    log_shift = " + math.log(1.05)"

    def plant(name, description, *edits):
        return Plant(f"physics.{name}", module, description, PHYSICS_TESTS, edits=edits)

    binomial_above = ("total = _scaled_sum(rho, lambda i: n - k - i, lambda i: k + i + 1, n - k)\n"
                      "                return log_pmf(k) + mpmath.log(total) - _SUM_BITS * mpmath.log(2)")
    binomial_below = ("total = _scaled_sum(1 / rho, lambda i: k - 1 - i, lambda i: n - k + 2 + i, k - 1)\n"
                      "            lower = mpmath.exp(log_pmf(k - 1)) * total / mpmath.mpf(2) ** _SUM_BITS\n"
                      "            return mpmath.log1p(-lower)")
    poisson_above = ("total = _scaled_sum(lam, lambda i: 1, lambda i: k + i + 1, None)\n"
                     "            return log_pmf(k) + mpmath.log(total) - _SUM_BITS * mpmath.log(2)")
    poisson_below = ("total = _scaled_sum(1 / lam, lambda i: k - 1 - i, lambda i: 1, k - 1)\n"
                     "        lower = mpmath.exp(log_pmf(k - 1)) * total / mpmath.mpf(2) ** _SUM_BITS\n"
                     "        return mpmath.log1p(-lower)")
    exact_escape = "value = -np.expm1(attempts * np.log1p(-t))"
    return [
        plant("escape.exact.x1.05", "escape_probability's exact route times 1.05",
              (exact_escape, "value = 1.05 * -np.expm1(attempts * np.log1p(-t))")),
        plant("escape.exact.tiny_T.x1.05", "escape_probability's exact route times 1.05 where T < 1e-30",
              (exact_escape, "value = np.where(t < 1e-30, 1.05, 1.0) * -np.expm1(attempts * np.log1p(-t))")),
        plant("escape.rare.x1.05", "escape_probability's rare route times 1.05",
              ("value = cf.rare_escape_probability(t, attempts)",
               "value = 1.05 * cf.rare_escape_probability(t, attempts)")),
        plant("log_escape.large_x.x1.05", "log_escape_probability, exact route, |x| > log 2 branch: P_esc times 1.05",
              ("np.where(log_x > _LOG_LN2, np.log1p(-np.exp(-size)),",
               f"np.where(log_x > _LOG_LN2, np.log1p(-np.exp(-size)){log_shift},")),
        plant("log_escape.middle_x.x1.05", "log_escape_probability, exact route, 1e-10 < |x| < log 2: P_esc times 1.05",
              ("np.where(log_x > _LOG_SMALL_X, np.log(-np.expm1(-size)), log_x - size / 2)",
               f"np.where(log_x > _LOG_SMALL_X, np.log(-np.expm1(-size)){log_shift}, log_x - size / 2)")),
        plant("log_escape.small_x.x1.05", "log_escape_probability, exact route, |x| < 1e-10: P_esc times 1.05",
              ("np.log(-np.expm1(-size)), log_x - size / 2)",
               f"np.log(-np.expm1(-size)), log_x - size / 2{log_shift})")),
        plant("log_escape.tiny_T.x1.05", "log_escape_probability, exact route, T < 1e-17: -log(1 - T) times 1.05",
              ("np.where(log_t < _LOG_TINY_T, log_t, np.log(-log_1mt))",
               f"np.where(log_t < _LOG_TINY_T, log_t{log_shift}, np.log(-log_1mt))")),
        plant("log_escape.near_one_T.x1.05", "log_escape_probability, exact route, T > 1/2: log(1 - T) times 1.05",
              ("np.where(log_t > -math.log(2.0), np.log(-np.expm1(log_t)),",
               f"np.where(log_t > -math.log(2.0), np.log(-np.expm1(log_t)){log_shift},")),
        plant("log_escape.rare.x1.05", "log_escape_probability's rare route: P_esc times 1.05",
              ("result = _rare_escape_log(log_t, attempts)", f"result = _rare_escape_log(log_t, attempts){log_shift}")),
        plant("tail.binomial_above_mode.x1.05", "binomial flip tail above the mode times 1.05",
              (binomial_above, binomial_above + " + mpmath.log(1.05)")),
        plant("tail.binomial_below_mode.x1.05", "binomial flip tail below the mode: 1 - 1.05 * (sum below K_th)",
              (binomial_below, binomial_below.replace("log1p(-lower)", "log1p(-1.05 * lower)"))),
        plant("tail.poisson_above_mode.x1.05", "Poisson flip tail above the mode times 1.05",
              (poisson_above, poisson_above + " + mpmath.log(1.05)")),
        plant("tail.poisson_below_mode.x1.05", "Poisson flip tail below the mode: 1 - 1.05 * (sum below K_th)",
              (poisson_below, poisson_below.replace("log1p(-lower)", "log1p(-1.05 * lower)"))),
        plant("tail.zero_below_1e-200", "flip_probability's tails return 0 below 1e-200",
              ("return float(mpmath.exp(log_tail))",
               "return 0.0 if log_tail < math.log(1e-200) else float(mpmath.exp(log_tail))")),
        plant("tail.rare.x1.05", "flip_probability's rare form times 1.05",
              ("log_p = cf.rare_log_flip_probability(log_lam, threshold)",
               f"log_p = cf.rare_log_flip_probability(log_lam, threshold){log_shift}")),
    ]


def all_plants(root):
    """The table, its closed forms read from the repository (or snapshot) at ``root``."""
    plants = closed_form_plants(root) + law_plants() + verify_plants() + compensation_plants() + physics_plants()
    names = [plant.name for plant in plants]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise RuntimeError(f"plant names must be unique, repeated: {duplicates}")
    return plants


# -- running -----------------------------------------------------------------------------------------------------

#: Written into each copy and loaded with ``-p _plant_check``: which qtaml_theory ran, and was the plant loaded.
CHECK_PLUGIN = '''"""Which qtaml_theory the tests imported, and the planted module's marker (tools/plant_errors.py)."""
import json
import os
import sys


def pytest_sessionfinish(session, exitstatus):
    package = sys.modules.get("qtaml_theory")
    planted = sys.modules.get(os.environ["QTAML_PLANT_MODULE"])
    report = {"qtaml_theory": getattr(package, "__file__", None),
              "marker": getattr(planted, "_PLANTED", None)}
    with open(os.environ["QTAML_PLANT_REPORT"], "w") as handle:
        json.dump(report, handle)
'''


@dataclass(frozen=True)
class Result:
    """``status`` is ``"caught"``, ``"missed"``, ``"not applied"`` or ``"error"``; ``detail`` says by what or why."""

    plant: Plant
    status: str
    detail: str
    seconds: float


def snapshot(target, revision=None):
    """Copy the repository into ``target``: the work tree's files that git tracks or would track, or a commit's tree.

    Taken once per run, so that edits made in the work tree during the run
    change nothing.
    """
    if revision is not None:
        archive = subprocess.run(["git", "archive", "--format=tar", revision], cwd=ROOT, check=True,
                                 capture_output=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(target, filter="data")
        return
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


def run_plant(plant, base, python):
    """Apply ``plant`` to a fresh copy of the snapshot ``base`` and run its tests there."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="qtaml-plant-") as folder:
        copy = Path(folder) / "repo"
        shutil.copytree(base, copy)
        try:
            planted_module = plant.apply(copy)
        except PlantError as error:
            return Result(plant, "not applied", str(error), time.monotonic() - start)
        (copy / "_plant_check.py").write_text(CHECK_PLUGIN)
        report = copy / "_plant_report.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(copy), os.environ.get("PYTHONPATH")])),
                   PYTHONDONTWRITEBYTECODE="1", QTAML_PLANT_MODULE=planted_module, QTAML_PLANT_REPORT=str(report))
        command = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "no:tac_fixtures",
                   "-p", "_plant_check", *plant.tests]
        try:
            completed = subprocess.run(command, cwd=copy, env=env, capture_output=True, text=True,
                                       timeout=PLANT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            return Result(plant, "error", f"tests ran past {PLANT_TIMEOUT_S} s", time.monotonic() - start)
        seconds = time.monotonic() - start
        output = completed.stdout + completed.stderr
        if not report.is_file():
            return Result(plant, "error", f"pytest exited {completed.returncode} without a session: "
                          f"{_tail(output)}", seconds)
        imported = json.loads(report.read_text())
        if not str(imported["qtaml_theory"] or "").startswith(str(copy)):
            return Result(plant, "error", f"the tests imported qtaml_theory from {imported['qtaml_theory']}, "
                          f"not from the planted copy", seconds)
        if imported["marker"] != plant.name:
            return Result(plant, "error", f"{planted_module} was not imported by the tests (or carries no marker)",
                          seconds)
        failed = [line.split(" - ")[0][len("FAILED "):] for line in output.splitlines() if line.startswith("FAILED ")]
        if completed.returncode == 0:
            return Result(plant, "missed", f"should be caught by {', '.join(plant.tests)}", seconds)
        if completed.returncode == 1 and failed:
            return Result(plant, "caught", failed[0], seconds)
        return Result(plant, "error", f"pytest exited {completed.returncode} with no failed test: {_tail(output)}",
                      seconds)


def _tail(output, lines=5):
    return " | ".join(output.strip().splitlines()[-lines:])


def baselines(plants):
    """Nothing planted (only the marker, in ``qtaml_theory``): one run per test entry the plants use; all must pass."""
    tests = list(dict.fromkeys(test for plant in plants for test in plant.tests))
    files = {test for test in tests if "::" not in test}
    tests = [test for test in tests if "::" not in test or test.split("::")[0] not in files]
    return [Plant(f"baseline:{test}", "qtaml_theory", "nothing planted: the tests must pass", (test,))
            for test in tests]


def select(plants, patterns):
    if not patterns:
        return plants
    chosen = [plant for plant in plants if any(fnmatch.fnmatchcase(plant.name, p) for p in patterns)]
    if not chosen:
        raise SystemExit(f"--only {patterns} matches no plant; see --list")
    return chosen


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", metavar="NAME",
                        help="run only the plants whose name matches this shell-style pattern (repeatable)")
    parser.add_argument("--list", action="store_true", help="print the table of plants and exit")
    parser.add_argument("--jobs", type=int, default=1, help="plants run in parallel (default 1)")
    parser.add_argument("--revision", metavar="REV",
                        help="plant in this commit's tree (default: the work tree as it is at the start)")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs the tests")
    args = parser.parse_args(argv)
    if args.jobs < 1:
        parser.error(f"--jobs must be a positive integer, got {args.jobs}")
    with tempfile.TemporaryDirectory(prefix="qtaml-plant-base-") as folder:
        base = Path(folder) / "repo"
        snapshot(base, args.revision)
        plants = select(all_plants(base), args.only)
        if args.list:
            for plant in plants:
                print(f"{plant.name}\n    {plant.description}\n    tests: {' '.join(plant.tests)}")
            print(f"{len(plants)} plants")
            return 0
        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            unplanted = list(tqdm(pool.map(lambda plant: run_plant(plant, base, args.python), baselines(plants)),
                                  total=len(baselines(plants)), desc="baseline", unit="file", file=sys.stderr))
        failing = [result for result in unplanted if result.status != "missed"]
        for result in failing:
            print(f"with nothing planted, {result.plant.tests[0]} does not pass ({result.status}): {result.detail}")
        if failing:
            print("fix these first: a plant counts as caught only where the tests pass without it")
            return 2
        print(f"baseline: with nothing planted, the {len(unplanted)} test entries pass "
              f"({(time.monotonic() - start) / 60:.1f} min)")
        results = []
        with ThreadPoolExecutor(max_workers=args.jobs) as pool, \
                tqdm(total=len(plants), desc="plants", unit="plant", file=sys.stderr) as progress:
            futures = [pool.submit(run_plant, plant, base, args.python) for plant in plants]
            for future in as_completed(futures):
                results.append(future.result())
                progress.update()
                progress.set_postfix(not_caught=sum(r.status != "caught" for r in results))
    order = {plant.name: index for index, plant in enumerate(plants)}
    results.sort(key=lambda r: order[r.plant.name])
    for result in results:
        print(f"{result.status.upper():12s} {result.plant.name}  ({result.seconds:.0f} s)\n"
              f"             {result.plant.description}\n             {result.detail}")
    caught = sum(result.status == "caught" for result in results)
    elapsed = time.monotonic() - start
    print(f"\n{caught} of {len(results)} plants caught in {elapsed / 60:.1f} min (--jobs {args.jobs})")
    for result in results:
        if result.status != "caught":
            print(f"  {result.status}: {result.plant.name}: {result.detail}")
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
