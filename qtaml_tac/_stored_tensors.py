"""A model's stored tensors: codes, scales, decode table, and their read-back (Appendix B.1, B.4; issue 15).

:class:`StoredTensor` holds one parameter's codes with its scales (one per
tensor, channel or group: :mod:`qtaml_tac.scales`), zero points, storage
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

import numpy as np
import torch
from torch import nn

from qtaml_theory.encodings import get_encoding

from .formats import scale_bits
from .kernel_dispatch import block_readback_into

if TYPE_CHECKING:  # for the type hints only: both modules import this one
    from .inject import FlipMask
    from .storage import StorageConfig

__all__ = ["StoredTensor", "Storage"]


@dataclass
class StoredTensor:
    """One stored tensor: codes, scales and the float original.

    Attributes
    ----------
    name : str
    parameter : torch.nn.Parameter
        The model's parameter, overwritten in place on injection.
    codes : torch.Tensor
        int32 codes, flattened.
    scale : float
        Delta: the read-back value of code ``c`` is ``table[c] * scale / factor``
        with one scale per tensor; with several (``scales``), the root mean
        square of the weights' scales (a layer's ``Delta**2`` averaged over its
        weights, what Step 1's score uses).
    factor : float
        Storage pre-scaling (1, ``1/(1-2p)`` for mean correction, or weight scaling's ``c_l``).
    table : torch.Tensor
        float64 decode table of the encoding, ``2**n`` entries.
    original : torch.Tensor
        The float weights before storage, for :meth:`Storage.restore_`.
    clipped : int
        How many weights were clipped at storage.
    scales : torch.Tensor, optional
        float64, one per block of ``block`` consecutive weights (channels,
        groups, MX blocks): weight ``i`` reads back as
        ``(table[c_i] - zero_points[i // block]) * scales[i // block] / factor``.
        Default: ``[scale]`` over the whole tensor.
    block : int, optional
        Weights per scale (default: the whole tensor).
    zero_points : torch.Tensor, optional
        float64 levels, one per block (asymmetric storage), or ``None``.
    scale_format : str, optional
        ``"float16"`` or ``"e8m0"`` when the scales (and zero points) sit in
        the faulty memory as these raw bits (``scale_codes``,
        ``zero_point_codes``); ``None`` when they are safe.
    scale_codes, zero_point_codes : torch.Tensor, optional
        int32 bit patterns of the scales and zero points in ``scale_format``.
    bit_order : tuple of int, optional
        For float and MX formats: stored position ``n - 1 - j`` holds the
        format's bit ``bit_order[j]`` (the law's protection order,
        :func:`qtaml_tac.formats.stored_bit_order`), and ``table`` is indexed
        by the stored word; ``None``: the codes are stored as they are.
    on_nonfinite : str
        How a scale that reads back as NaN or infinity is read (``"keep"``,
        ``"zero"``, ``"clamp"``); a float code's policy is already in ``table``.
    """

    name: str
    parameter: nn.Parameter
    codes: torch.Tensor
    scale: float
    factor: float
    table: torch.Tensor
    original: torch.Tensor
    clipped: int
    scales: torch.Tensor | None = None
    block: int | None = None
    zero_points: torch.Tensor | None = None
    scale_format: str | None = None
    scale_codes: torch.Tensor | None = None
    zero_point_codes: torch.Tensor | None = None
    bit_order: tuple | None = None
    on_nonfinite: str = "keep"
    lookup: torch.Tensor | None = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.scales is None:
            self.scales = torch.tensor([float(self.scale)], dtype=torch.float64)
        if self.block is None:
            self.block = max(self.size, 1)
        # One scale, safe: the read-back value of every code in the parameter's dtype (decoding is one
        # index_select). Else the scales of the blocks are applied at decode (None).
        single = self.scales.numel() == 1 and self.zero_points is None and self.scale_format is None
        self.lookup = (self.table * (self.scale / self.factor)).to(self.parameter.dtype) if single else None

    @property
    def size(self) -> int:
        return self.codes.numel()

    def format_codes(self) -> torch.Tensor:
        """The codes as the format writes them (its own bit order): ``codes`` with ``bit_order`` undone."""
        if self.bit_order is None:
            return self.codes
        n_bits = len(self.bit_order)
        raw = torch.zeros_like(self.codes)
        for j, position in enumerate(self.bit_order):
            raw |= ((self.codes >> (n_bits - 1 - j)) & 1) << position
        return raw

    def scales_read(self, scale_mask: torch.Tensor | None = None,
                    zero_point_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The scales and zero points read back with their bits XOR the masks (the stored ones without).

        Only the flipped ones are decoded: an unflipped code reads back as
        the stored value, bit for bit (a finite float16 or E8M0 value held
        exactly, :func:`qtaml_tac.scales.scale_codes`).
        """
        if scale_mask is None and zero_point_mask is None:
            return self.scales, self.zero_points
        from .scales import scale_table  # scales imports nothing of this module; kept lazy for the safe path

        table = scale_table(self.scale_format, self.on_nonfinite)
        scales = _flipped_read(table, self.scales, self.scale_codes, scale_mask)
        zeros = self.zero_points
        if zeros is not None:
            zeros = _flipped_read(table, zeros, self.zero_point_codes, zero_point_mask)
        return scales, zeros

    def multipliers(self, scales: torch.Tensor | None = None) -> torch.Tensor:
        """``scales / factor`` (float64, one per block): what a block's codes are multiplied by at decode.

        The stored scales' (the default) are divided once and kept while
        ``scales`` and ``factor`` stay as they are; other scales are divided
        on each call.
        """
        if scales is not None and scales is not self.scales:
            return scales / self.factor
        cached = self.__dict__.get("_multipliers")  # (scales, their version, factor, multipliers)
        if cached is None or cached[0] is not self.scales or cached[1:3] != (self.scales._version, self.factor):
            cached = self.__dict__["_multipliers"] = (self.scales, self.scales._version, self.factor,
                                                      self.scales / self.factor)
        return cached[3]

    def read_blocks(self, blocks: torch.Tensor, scale_mask: torch.Tensor | None,
                    zero_point_mask: torch.Tensor | None, out: tuple | None = None,
                    previous: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The multipliers and zero points of every block with ``blocks``' read back through the masks.

        The same values as :meth:`scales_read` followed by :meth:`multipliers`
        when ``blocks`` holds every block that a mask flips (an unflipped code
        reads back as its stored value, bit for bit), at the cost of the
        flipped blocks: only ``blocks`` are decoded and divided again. Into
        the stored ones' copies, or into ``out`` (the multipliers and zero
        points of an earlier call, whose ``previous`` blocks are put back
        first).
        """
        from .scales import scale_table  # scales imports nothing of this module; kept lazy for the safe path

        table = scale_table(self.scale_format, self.on_nonfinite)
        stored = self.multipliers()
        if out is None:
            multipliers = stored.clone()
            zeros = None if self.zero_points is None else self.zero_points.clone()
        else:
            multipliers, zeros = out
            multipliers[previous] = stored[previous]
            if zeros is not None:
                zeros[previous] = self.zero_points[previous]
        multipliers[blocks] = _read_at(table, self.scale_codes, scale_mask, blocks) / self.factor
        if zeros is not None:
            zeros[blocks] = _read_at(table, self.zero_point_codes, zero_point_mask, blocks)
        return multipliers, zeros

    def readback(self, codes: torch.Tensor, positions: torch.Tensor | None = None,
                 scales: torch.Tensor | None = None, zero_points: torch.Tensor | None = None) -> torch.Tensor:
        """Read-back values (parameter dtype, flat) of ``codes`` at ``positions`` (default: every weight).

        ``(table[c] - z_b) * (Delta_b / factor)`` in float64, rounded once to the
        parameter's dtype, with the stored scales unless ``scales`` (and
        ``zero_points``) are given.
        """
        if self.lookup is not None and (scales is None or scales is self.scales):
            return self.lookup.index_select(0, codes)
        if scales is None:
            scales, zero_points = self.scales, self.zero_points
        return self._multiplied(codes, positions, self.multipliers(scales), zero_points)

    def _multiplied(self, codes, positions, multipliers, zero_points) -> torch.Tensor:
        """:meth:`readback` with the blocks' multipliers given."""
        values = self.table.index_select(0, codes)
        if positions is None:
            values = values.view(-1, self.block)
            if zero_points is not None:
                values -= zero_points[:, None]
            values *= multipliers[:, None]
        else:
            blocks = torch.div(positions, self.block, rounding_mode="floor")
            if zero_points is not None:
                values -= zero_points.index_select(0, blocks)
            values *= multipliers.index_select(0, blocks)
        return values.reshape(-1).to(self.parameter.dtype)

    @torch.no_grad()
    def write_readback_(self, codes: torch.Tensor, positions: torch.Tensor | None = None,
                        scales: torch.Tensor | None = None, zero_points: torch.Tensor | None = None, *,
                        multipliers: torch.Tensor | None = None) -> None:
        """Write :meth:`readback` into the parameter (at ``positions``, or everywhere), in place.

        ``multipliers`` (from :meth:`read_blocks`) stand for ``scales / factor``
        when given; ``zero_points`` go with them.
        """
        flat = self.parameter.view(-1)
        if multipliers is None and self.lookup is not None and (scales is None or scales is self.scales):
            if positions is None:
                torch.index_select(self.lookup, 0, codes, out=flat)
            else:
                flat[positions] = self.lookup.index_select(0, codes)
            return
        if multipliers is None:
            if scales is None:
                scales, zero_points = self.scales, self.zero_points
            multipliers = self.multipliers(scales)
        if block_readback_into(codes, None, self.table, multipliers, zero_points, self.block, self.parameter,
                               positions):
            return
        values = self._multiplied(codes, positions, multipliers, zero_points)
        if positions is None:
            flat.copy_(values)
        else:
            flat[positions] = values

    def decode(self, codes: torch.Tensor | None = None) -> torch.Tensor:
        """Read-back float weights of ``codes`` (default: the stored codes), shaped like the parameter."""
        codes = self.codes if codes is None else codes
        return self.readback(codes).reshape(self.parameter.shape)

    @torch.no_grad()
    def write_(self, mask: FlipMask | None = None) -> None:
        """Write the read-back weights of the codes, XOR ``mask`` if given, into the parameter, in place.

        ``mask`` is a :class:`qtaml_tac.inject.FlipMask` (its ``dense()``
        XOR mask is applied, and its scale masks to the scales); the whole
        tensor is rewritten. Repeated noisy trials go through
        :func:`qtaml_tac.inject.inject_`, which patches only what changed.
        """
        codes = self.codes if mask is None else torch.bitwise_xor(self.codes, mask.dense())
        scales, zero_points = (None, None) if mask is None else self.scales_read(mask.scale_mask,
                                                                                  mask.zero_point_mask)
        self.write_readback_(codes, None, scales, zero_points)
        if mask is not None and mask.zeroed is not None:
            self.parameter.view(-1)[mask.zeroed] = 0

    @torch.no_grad()
    def restore_(self) -> None:
        """Put the float original back into the parameter, bit for bit."""
        self.parameter.copy_(self.original)


def _read_at(table, codes, mask, blocks):
    """``table[codes ^ mask]`` at ``blocks`` (``mask`` may be ``None``: no flips)."""
    read = codes[blocks] if mask is None else codes[blocks] ^ mask[blocks]
    return table[read]


def _flipped_read(table, stored, codes, mask):
    """``table[codes ^ mask]``, decoded where ``mask`` flips a bit and ``stored`` (``table[codes]``) elsewhere."""
    if mask is None:
        return stored
    flipped = torch.from_numpy(np.flatnonzero(mask.numpy() != 0))
    read = stored.clone()
    read[flipped] = table[codes[flipped] ^ mask[flipped]]
    return read


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
    def stored_bits(self) -> int:
        """Bits the stored tensors take: codes, and scales and zero points (16 bits each, 8 for MX's E8M0,
        none for a float format), whether or not they sit in the faulty memory."""
        per_scale = scale_bits(self.config.encoding)
        return sum(tensor.size * self.config.n_bits
                   + tensor.scales.numel() * per_scale * (1 + (tensor.zero_points is not None)) for tensor in self)

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
