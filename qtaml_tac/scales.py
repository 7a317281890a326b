"""Scale granularity: one scale per tensor, per output channel, or per group of weights (issue 15).

Deployed int8 weights carry a scale per output channel and int4 weights a
scale per group of ``G`` consecutive weights along the input dimension
(GPTQ, AWQ, torchao's int4 weight-only): the weight is viewed as
``[out, -1]`` (a 1-D parameter as one row) and each row is cut into groups
of ``G``. In the flattened weight every layout is the same thing, blocks of
``block`` consecutive weights sharing a scale (``block`` = the whole tensor,
a row, or ``G``), so weight ``i`` reads back with the scale of block
``i // block``.

Scales are symmetric (``Delta_b = max|W_b| / max_value``, the paper's rule
per block) or asymmetric, with a zero point ``z_b`` on the encoding's grid:
``Delta_b = (hi - lo) / (v_max - v_min)`` over ``[lo, hi] = [min(W_b, 0),
max(W_b, 0)]``, and the read-back is ``(decode(q) - z_b) * Delta_b``.

Where the scales live in the faulty memory they are stored as float16 raw
bits (:data:`SCALE_FORMATS`; E8M0 for microscaling), so their bits flip too:
:func:`scale_table` decodes a scale's 16 (or 8) bits.
"""

from __future__ import annotations

import numbers
from functools import cache

import ml_dtypes
import numpy as np
import torch

from qtaml_theory.encodings import get_encoding
from qtaml_theory.float_law import policy_table
from qtaml_theory.validation import check_integer

__all__ = ["GRANULARITIES", "UNEVEN_ROWS", "SCALE_FORMATS", "check_granularity", "block_size", "block_scales", "scale_table",
           "scale_codes"]

#: The scale layouts: ``"tensor"``, ``"channel"`` or ``("group", G)``.
GRANULARITIES = ("tensor", "channel", "group")

#: How a scale is stored in faulty memory: name -> (ml_dtypes dtype, bits).
SCALE_FORMATS = {"float16": (np.float16, 16), "e8m0": (ml_dtypes.float8_e8m0fnu, 8)}


def check_granularity(granularity) -> str | tuple:
    """``granularity`` checked: ``"tensor"``, ``"channel"`` or ``("group", G)`` with an integer ``G >= 1``.

    Raises
    ------
    ValueError
        For anything else, naming ``granularity`` and the allowed values.
    """
    if granularity in ("tensor", "channel"):
        return granularity
    if isinstance(granularity, (tuple, list)) and len(granularity) == 2 and granularity[0] == "group" \
            and isinstance(granularity[1], numbers.Integral) and not isinstance(granularity[1], bool):
        return ("group", check_integer(granularity[1], "granularity's group size G", 1))
    raise ValueError(f"granularity must be 'tensor', 'channel' or ('group', G) with an integer G >= 1, "
                     f"got {granularity!r}")


#: What to do with a row that the group size does not divide: refuse it, or give that parameter a scale per channel.
UNEVEN_ROWS = ("refuse", "channel")


def block_size(granularity, shape: tuple, name: str, uneven_rows: str = "refuse") -> int:
    """Weights per scale of a parameter of ``shape``, in its flattened order.

    Parameters
    ----------
    granularity : str or tuple
        As :func:`check_granularity` returns it.
    shape : tuple of int
        The parameter's shape; it is viewed as ``[shape[0], -1]`` (a 0-D or
        1-D parameter as one row).
    name : str
        The parameter's name, for the error message.
    uneven_rows : {"refuse", "channel"}
        A row length that ``G`` does not divide is refused (default), or that
        parameter gets one scale per output channel (as torchao leaves such
        layers out of group quantization; a short row is one group).

    Raises
    ------
    ValueError
        If a group size ``G`` does not divide the row length and
        ``uneven_rows="refuse"``: the remainder is never padded or split.
    """
    size = int(np.prod(shape, dtype=np.int64))
    rows = int(shape[0]) if len(shape) >= 2 else 1
    row = size // rows if rows else 0
    if granularity == "tensor":
        return max(size, 1)
    if granularity == "channel":
        return max(row, 1)
    group = granularity[1]
    if row % group and uneven_rows == "channel":
        return max(row, 1)
    if row % group:
        raise ValueError(f"granularity=('group', {group}): G = {group} does not divide the row length {row} of "
                         f"parameter {name!r} (viewed as [{rows}, {row}]); a remainder is refused, not padded: "
                         f"use a G that divides {row}, granularity='channel', or uneven_rows='channel'")
    return group


def block_scales(weight: torch.Tensor, block: int, factor: float, low: float, high: float, symmetric: bool,
                 scales: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Each block's scale (and zero point), and the weights in units of their scale.

    Parameters
    ----------
    weight : torch.Tensor
        float64, flattened.
    block : int
        Weights per scale (:func:`block_size`).
    factor : float
        Storage pre-scaling (the stored value is ``factor * W``; the scale is
        taken from ``W``, Algorithm 1 Step 4).
    low, high : float
        The encoding's smallest and largest level.
    symmetric : bool
        ``Delta_b = max|W_b| / high`` and no zero point (a block of zeros gets
        ``1 / max(|low|, high)``); else asymmetric with a zero point on the grid.
    scales : torch.Tensor, optional
        Use these scales (no smaller than the rule's: float16 scales rounded
        up) instead of the rule's.

    Returns
    -------
    scales : torch.Tensor
        float64, one per block.
    zero_points : torch.Tensor or None
        float64 levels ``z_b`` (``None`` when symmetric).
    values : torch.Tensor
        ``factor * W / Delta_b + z_b``, flattened: what the encoder rounds.
    """
    blocks = weight.view(-1, block)
    empty = 1.0 / max(abs(low), high)
    if symmetric:
        if scales is None:
            magnitude = blocks.abs().amax(1)
            scales = torch.where(magnitude > 0, magnitude / high, empty)
        return scales, None, (blocks * factor / scales[:, None]).flatten()
    lo = blocks.amin(1).clamp(max=0.0)
    if scales is None:
        hi = blocks.amax(1).clamp(min=0.0)
        scales = torch.where(hi > lo, (hi - lo) / (high - low), empty)
    zero_points = torch.round(-lo / scales) + low  # on the grid of levels low + k
    return scales, zero_points, (blocks * factor / scales[:, None] + zero_points[:, None]).flatten()


@cache
def scale_table(scale_format: str, on_nonfinite: str = "keep") -> torch.Tensor:
    """float64 value of every bit pattern of a scale format (``2**bits`` entries), read under ``on_nonfinite``.

    Decoded by ``ml_dtypes`` (:func:`qtaml_theory.get_encoding`; no
    hand-written bit tables): ``"float16"`` (IEEE binary16) or ``"e8m0"``
    (OCP MX's 8-bit power-of-two scale); NaN and infinities kept, read as 0,
    or clamped to the largest finite value with the code's sign
    (:func:`qtaml_theory.float_law.policy_table`).
    """
    encoding = get_encoding(scale_format, SCALE_FORMATS[scale_format][1])
    return torch.from_numpy(policy_table(encoding, on_nonfinite))


def scale_codes(values: torch.Tensor, scale_format: str, name: str, round_up: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """Bit patterns of ``values`` in ``scale_format`` and the values they hold.

    With ``round_up`` a value that the format does not hold is rounded up to
    the next one (a scale rounded up never clips a weight); else it must be
    held exactly (zero points, E8M0 powers of two).

    Raises
    ------
    ValueError
        If a value overflows the format (a float16 scale above 65504), naming
        the parameter ``name``.
    """
    dtype, bits = SCALE_FORMATS[scale_format]
    wide = values.numpy()
    narrow = wide.astype(dtype)
    if round_up:
        below = narrow.astype(np.float64) < wide
        narrow[below] = np.nextafter(narrow[below], np.array(np.inf, dtype=dtype))
    held = narrow.astype(np.float64)
    if not np.all(np.isfinite(held)) or (not round_up and not np.array_equal(held, wide)):
        raise ValueError(f"parameter {name!r}: its scales or zero points cannot be stored as {scale_format} "
                         f"(largest {np.abs(wide).max():g}); use scales_in_faulty_memory=False")
    codes = narrow.view(np.uint16 if bits == 16 else np.uint8).astype(np.int32)
    return torch.from_numpy(codes), torch.from_numpy(held)
