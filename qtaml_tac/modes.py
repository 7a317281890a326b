"""Running a user's model for calibration and evaluation without changing it.

Calibration (Steps 1 and 3) and evaluation measure the deployed network, so
they run it in eval mode: BatchNorm uses its running statistics instead of the
batch's and updates nothing, and dropout is off. :func:`evaluation_mode`
switches a model to eval mode for the duration of a block and gives every
module back the training flag it had, whatever the block raised.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from torch import nn

__all__ = ["evaluation_mode"]


@contextlib.contextmanager
def evaluation_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode inside the block; restore each module's own mode afterwards.

    Each submodule's ``training`` flag is saved and restored separately, so a
    model that the caller left partly in train mode comes back exactly so.

    Examples
    --------
    >>> from torch import nn
    >>> from qtaml_tac.modes import evaluation_mode
    >>> model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).train()
    >>> with evaluation_mode(model):
    ...     model[1].training
    False
    >>> model[1].training
    True
    """
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for module, training in modes:
            module.training = training
