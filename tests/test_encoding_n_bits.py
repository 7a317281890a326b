"""The bit width of an encoding is ``n_bits`` (issue 13); the former spellings keep working."""

import warnings

import numpy as np
import pytest

from qtaml_theory import get_encoding
from qtaml_theory.encodings import ENCODINGS


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_n_bits_names_the_width_as_keyword_argument_and_attribute(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        encoding = get_encoding(name, n_bits=5)
        built = ENCODINGS[name](n_bits=5)
    assert encoding == built == get_encoding(name, 5)
    assert encoding.n_bits == encoding.n == 5
    assert encoding.n_codes == 2**5


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_the_former_keyword_n_still_works_with_a_deprecation_warning(name):
    with pytest.warns(DeprecationWarning, match=r"n= is now called n_bits="):
        former = get_encoding(name, n=6)
    current = get_encoding(name, n_bits=6)
    assert former == current and former.n == 6
    codes = np.arange(2**6)
    np.testing.assert_array_equal(former.decode(codes), current.decode(codes))
    with pytest.warns(DeprecationWarning, match=r"n= is now called n_bits="):
        assert ENCODINGS[name](n=6) == current
    with pytest.raises(ValueError, match="pass n_bits= only"):
        get_encoding(name, n=6, n_bits=6)


def test_a_bad_width_is_refused_under_either_name():
    with pytest.raises(ValueError, match="must be an integer in 1..32"):
        get_encoding("offset_binary", n_bits=0)
    with pytest.warns(DeprecationWarning), pytest.raises(ValueError, match="must be an integer in 1..32"):
        get_encoding("offset_binary", n=33)
