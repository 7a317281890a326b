"""Renamed arguments keep working for a release, with a DeprecationWarning.

The public API uses one name per concept (``n_bits`` for a code's width,
``channel`` for the cells' flip channel); the former spellings of earlier
releases (``n``, ``p``) are still accepted as keywords. An argument that
moved behind the ``*`` (``delta`` of :func:`qtaml_theory.law.sample_errors`)
is still accepted in its former position (:func:`keyword_only`).
"""

from __future__ import annotations

import functools
import warnings

__all__ = ["renamed_argument", "keyword_only"]


def renamed_argument(old: str, new: str):
    """Accept the keyword ``old`` as ``new``, warning that ``old`` is deprecated.

    Examples
    --------
    >>> import warnings
    >>> @renamed_argument("n", "n_bits")
    ... def width(n_bits):
    ...     return n_bits
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     width(n=8), caught[0].category.__name__
    (8, 'DeprecationWarning')
    """
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise ValueError(f"pass {new}= only: {old}= is its former name")
                warnings.warn(f"{function.__qualname__}: the argument {old}= is now called {new}=; "
                              f"{old}= will be removed in a later release", DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)
        return wrapper
    return decorate


def keyword_only(name: str, position: int):
    """Accept ``name``, now keyword-only, at its former 0-based ``position`` too, warning that it is deprecated.

    Examples
    --------
    >>> import warnings
    >>> @keyword_only("delta", 2)
    ... def scaled(x, y, *, delta=1.0):
    ...     return (x + y) * delta
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     scaled(1, 2, 0.5), caught[0].category.__name__
    (1.5, 'DeprecationWarning')
    """
    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if len(args) > position:
                if len(args) > position + 1 or name in kwargs:
                    raise TypeError(f"{function.__qualname__}: pass {name}= by keyword")
                warnings.warn(f"{function.__qualname__}: pass {name}= by keyword; its position will be removed in "
                              f"a later release", DeprecationWarning, stacklevel=2)
                kwargs[name] = args[position]
                args = args[:position]
            return function(*args, **kwargs)
        return wrapper
    return decorate
