"""Deprecated: moved to :mod:`qtaml_tac.zoo.models` (the paper's models and data serve its experiments only).

Importing this module warns (DeprecationWarning) and re-exports every name of
:mod:`qtaml_tac.zoo.models`, private ones included; import from there instead.
"""

import warnings

from .zoo import models as _moved
from .zoo.models import *  # noqa: F401,F403
from .zoo.models import __all__  # noqa: F401

warnings.warn("qtaml_tac.models moved to qtaml_tac.zoo.models; import it from there (this alias will be removed)",
              DeprecationWarning, stacklevel=2)


def __getattr__(name):
    """Names outside ``__all__`` (e.g. private helpers) come from :mod:`qtaml_tac.zoo.models`."""
    return getattr(_moved, name)
