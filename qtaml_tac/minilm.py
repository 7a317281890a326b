"""Deprecated: moved to :mod:`qtaml_tac.zoo.minilm` (the paper's models and data serve its experiments only).

Importing this module warns (DeprecationWarning) and re-exports every name of
:mod:`qtaml_tac.zoo.minilm`, private ones included; import from there instead.
"""

import warnings

from .zoo import minilm as _moved
from .zoo.minilm import *  # noqa: F401,F403
from .zoo.minilm import __all__  # noqa: F401

warnings.warn("qtaml_tac.minilm moved to qtaml_tac.zoo.minilm; import it from there (this alias will be removed)",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    """Names outside ``__all__`` (e.g. private helpers) come from :mod:`qtaml_tac.zoo.minilm`."""
    return getattr(_moved, name)
