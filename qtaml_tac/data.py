"""Deprecated: moved to :mod:`qtaml_tac.zoo.data` (the paper's models and data serve its experiments only).

Importing this module warns (DeprecationWarning) and re-exports every name of
:mod:`qtaml_tac.zoo.data`, private ones included; import from there instead.
"""

import warnings

from .zoo import data as _moved
from .zoo.data import *  # noqa: F401,F403
from .zoo.data import __all__  # noqa: F401

warnings.warn("qtaml_tac.data moved to qtaml_tac.zoo.data; import it from there (this alias will be removed)",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    """Names outside ``__all__`` (e.g. private helpers) come from :mod:`qtaml_tac.zoo.data`."""
    return getattr(_moved, name)
