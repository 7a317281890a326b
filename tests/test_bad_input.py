"""Bad input raises ValueError naming the argument and the allowed range."""

import math
from fractions import Fraction

import numpy as np
import pytest
import sympy as sp

from qtaml_theory import DirectionalChannel, PerBitChannel, SymmetricChannel, WeightError, get_encoding
from qtaml_theory.law import error_cumulants, sample_errors

ENC = get_encoding("offset_binary", 4)

INVALID = [
    ("n below 1", lambda: get_encoding("offset_binary", 0), r"n must be an integer in 1\.\.32"),
    ("n above 32", lambda: get_encoding("twos_complement", 33), r"n must be an integer in 1\.\.32"),
    ("n not an integer", lambda: get_encoding("offset_binary", 4.0), r"n must be an integer"),
    ("unknown encoding", lambda: get_encoding("gray", 4), r"name must be one of"),
    ("p negative", lambda: SymmetricChannel(-0.1), r"p must be a probability in \[0, 1\]"),
    ("p above one", lambda: SymmetricChannel(Fraction(3, 2)), r"p must be a probability in \[0, 1\]"),
    ("p NaN", lambda: SymmetricChannel(math.nan), r"p must be a finite probability"),
    ("p infinite", lambda: WeightError(ENC, 3, math.inf), r"p must be a finite probability"),
    ("p symbolic", lambda: SymmetricChannel(sp.Symbol("x")), r"expected a number"),
    ("p a string", lambda: SymmetricChannel("0.1"), r"p must be a real number"),
    ("rate entry", lambda: PerBitChannel([0.1, 1.5]), r"rates\[1\] must be a probability"),
    ("rates length", lambda: WeightError(ENC, 3, PerBitChannel([0.1, 0.2])), r"rates must have one entry per bit \(length 4\)"),
    ("p01", lambda: DirectionalChannel(-1, 0.1), r"p01 must be a probability"),
    ("p10", lambda: DirectionalChannel(0.1, 2), r"p10 must be a probability"),
    ("code too large", lambda: WeightError(ENC, 16, 0.1), r"code must be an integer in 0\.\.15"),
    ("code negative", lambda: WeightError(ENC, -1, 0.1), r"code must be an integer in 0\.\.15"),
    ("code a float", lambda: WeightError(ENC, 3.0, 0.1), r"code must hold integers in 0\.\.15"),
    ("code array out of range", lambda: ENC.decode(np.array([1, 99])), r"code must hold integers in 0\.\.15"),
    ("encoding not an object", lambda: WeightError("offset_binary", 3, 0.1), r"encoding must be an object"),
    ("delta zero", lambda: WeightError(ENC, 3, 0.1, delta=0), r"delta must be a finite positive number"),
    ("delta NaN", lambda: WeightError(ENC, 3, 0.1, delta=math.nan), r"delta must be a finite positive number"),
    ("value NaN", lambda: ENC.encode([0.0, math.nan]), r"value must be finite"),
    ("value infinite", lambda: ENC.encode(math.inf), r"value must be finite"),
    ("unknown method", lambda: WeightError(ENC, 3, 0.1).mean(method="guess"), r"method must be one of"),
    ("montecarlo size", lambda: WeightError(ENC, 3, 0.1).var(method="montecarlo", size=1), r"size must be an integer >= 2"),
    ("sample size", lambda: sample_errors(ENC, 3, 0.1, size=0), r"size must be an integer >= 2"),
    ("enumeration too wide", lambda: WeightError(get_encoding("offset_binary", 21), 3, 0.1).pmf(), r"enumeration needs n <= 20"),
    ("cumulant codes", lambda: error_cumulants(ENC, [1, 2, 40], 0.1), r"code must hold integers in 0\.\.15"),
]


@pytest.mark.parametrize("case", INVALID, ids=[c[0] for c in INVALID])
def test_bad_input_raises_a_clear_value_error(case):
    _, call, message = case
    with pytest.raises(ValueError, match=message):
        call()
