"""A model's stored tensors: codes, scale, decode table, and their read-back (Appendix B.1, B.4).

:class:`StoredTensor` holds one parameter's codes with its scale, storage
factor and decode table, writes the read-back weights (optionally with a flip
mask) into the parameter and restores the float original; :class:`Storage`
holds the stored tensors of one model. Built by
:func:`qtaml_tac.storage.quantize`, and re-exported by
:mod:`qtaml_tac.storage`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from torch import nn

from qtaml_theory.encodings import get_encoding

if TYPE_CHECKING:  # for the type hints only: both modules import this one
    from .inject import FlipMask
    from .storage import StorageConfig

__all__ = ["StoredTensor", "Storage"]


@dataclass
class StoredTensor:
    """One stored tensor: codes, scale and the float original.

    Attributes
    ----------
    name : str
    parameter : torch.nn.Parameter
        The model's parameter, overwritten in place on injection.
    codes : torch.Tensor
        int32 codes, flattened.
    scale : float
        Delta: the read-back value of code ``c`` is ``table[c] * scale / factor``.
    factor : float
        Storage pre-scaling (1, ``1/(1-2p)`` for mean correction, or weight scaling's ``c_l``).
    table : torch.Tensor
        float64 decode table of the encoding, ``2**n`` entries.
    original : torch.Tensor
        The float weights before storage, for :meth:`Storage.restore_`.
    clipped : int
        How many weights were clipped at storage.
    """

    name: str
    parameter: nn.Parameter
    codes: torch.Tensor
    scale: float
    factor: float
    table: torch.Tensor
    original: torch.Tensor
    clipped: int
    lookup: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        # Read-back value of every code in the parameter's dtype: decoding is one index_select.
        self.lookup = (self.table * (self.scale / self.factor)).to(self.parameter.dtype)

    @property
    def size(self) -> int:
        return self.codes.numel()

    def decode(self, codes: torch.Tensor | None = None) -> torch.Tensor:
        """Read-back float weights of ``codes`` (default: the stored codes), shaped like the parameter."""
        codes = self.codes if codes is None else codes
        return self.lookup.index_select(0, codes).reshape(self.parameter.shape)

    @torch.no_grad()
    def write_(self, mask: FlipMask | None = None) -> None:
        """Write the read-back weights of the codes, XOR ``mask`` if given, into the parameter, in place.

        ``mask`` is a :class:`qtaml_tac.inject.FlipMask` (its ``dense()``
        XOR mask is applied); the whole tensor is rewritten. Repeated noisy
        trials go through :func:`qtaml_tac.inject.inject_`, which patches only
        what changed.
        """
        codes = self.codes if mask is None else torch.bitwise_xor(self.codes, mask.dense())
        torch.index_select(self.lookup, 0, codes, out=self.parameter.view(-1))
        if mask is not None and mask.zeroed is not None:
            self.parameter.view(-1)[mask.zeroed] = 0

    @torch.no_grad()
    def restore_(self) -> None:
        """Put the float original back into the parameter, bit for bit."""
        self.parameter.copy_(self.original)


class Storage:
    """The stored tensors of one model (see :func:`quantize`)."""

    def __init__(self, model: nn.Module, config: StorageConfig, tensors: dict[str, StoredTensor]) -> None:
        self.model = model
        self.config = config
        self.encoding = get_encoding(config.encoding, config.n_bits)
        self.tensors = tensors

    def __iter__(self) -> Iterator[StoredTensor]:
        return iter(self.tensors.values())

    def __getitem__(self, name: str) -> StoredTensor:
        return self.tensors[name]

    @property
    def names(self) -> list[str]:
        return list(self.tensors)

    def write_(self, masks: Mapping[str, FlipMask] | None = None) -> None:
        """Write the read-back weights (``codes XOR masks``) into the model, in place.

        ``masks`` maps names to :class:`qtaml_tac.inject.FlipMask`; tensors
        without a mask get their clean read-back.
        """
        for tensor in self:
            tensor.write_(None if masks is None else masks.get(tensor.name))

    def restore_(self) -> None:
        """Put the original float weights back, bit for bit."""
        for tensor in self:
            tensor.restore_()
