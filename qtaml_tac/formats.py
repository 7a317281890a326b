"""The number formats a deployment stores its weights in: fixed point, floats and OCP microscaling (issue 15).

Three kinds, by :class:`qtaml_tac.storage.StorageConfig`'s ``encoding``:

``"fixed"``
    The paper's n-bit fixed point (:data:`qtaml_theory.encodings.ENCODINGS`),
    with a scale per tensor, channel or group (:mod:`qtaml_tac.scales`).
``"float"``
    ``float16``, ``bfloat16``, ``float8_e4m3fn``, ``float8_e5m2``,
    ``float6_e2m3fn``, ``float6_e3m2fn``, ``float4_e2m1fn``: the format's raw
    bits, no scale (:mod:`qtaml_theory.float_formats`).
``"mx"``
    ``mxfp8_e4m3``, ``mxfp8_e5m2``, ``mxfp6_e2m3``, ``mxfp6_e3m2``,
    ``mxfp4``, ``mxint8``: blocks of 32 consecutive weights along the input
    dimension sharing one E8M0 power-of-two scale, converted by the OCP MX
    v1.0 rule (:func:`qtaml_theory.float_formats.mx_format`).

References
----------
OCP Microscaling Formats (MX) Specification v1.0 (2023), Section 6.3;
OCP 8-bit Floating Point Specification (OFP8) rev. 1.0 (2023).
"""

from __future__ import annotations

import numpy as np
import torch

from qtaml_theory.channels import SymmetricChannel
from qtaml_theory.encodings import ENCODINGS, get_encoding
from qtaml_theory.float_formats import FLOAT_ENCODINGS, MX_FORMATS, mx_format
from qtaml_theory.float_law import protection_order

__all__ = ["FLOAT_FORMATS", "WEIGHT_FORMATS", "MX_BLOCK_SIZE", "format_kind", "check_format", "check_dtype",
           "mx_scales", "scale_bits", "stored_bit_order", "bit_permutation"]

#: Float formats stored as raw bits with no scale.
FLOAT_FORMATS = ("float16", "bfloat16", "float8_e4m3fn", "float8_e5m2", "float6_e2m3fn", "float6_e3m2fn",
                 "float4_e2m1fn")

#: Every ``encoding`` a weight can be stored in (E8M0 is a scale format only: unsigned powers of two).
WEIGHT_FORMATS = tuple(sorted(ENCODINGS)) + FLOAT_FORMATS + tuple(MX_FORMATS)


#: Weights per shared scale in every OCP MX format (OCP MX v1.0, Section 5).
MX_BLOCK_SIZE = mx_format("mxfp4").block_size


def format_kind(encoding: str) -> str:
    """``"fixed"``, ``"float"`` or ``"mx"`` for a name of :data:`WEIGHT_FORMATS`."""
    if encoding in MX_FORMATS:
        return "mx"
    return "float" if encoding in FLOAT_FORMATS else "fixed"


def check_format(encoding, n_bits: int, granularity, symmetric: bool) -> None:
    """Refuse a format, width and scale layout that do not go together.

    Raises
    ------
    ValueError
        An ``encoding`` outside :data:`WEIGHT_FORMATS`; ``n_bits`` other than
        a float or MX format's width (the message gives it); a float format
        with a granularity other than ``"tensor"`` (it has no scale); an MX
        format with a granularity other than ``"tensor"`` or ``("group",
        32)`` (its block is 32), or asymmetric (it has no zero point).
    """
    if not isinstance(encoding, str) or encoding not in WEIGHT_FORMATS:
        raise ValueError(f"encoding must be one of {list(WEIGHT_FORMATS)}, got {encoding!r}")
    kind = format_kind(encoding)
    if kind == "fixed":
        return
    width = FLOAT_ENCODINGS[encoding].width
    if n_bits != width:
        raise ValueError(f"n_bits must be {width} for the format {encoding!r}, got {n_bits!r}")
    if kind == "float" and granularity != "tensor":
        raise ValueError(f"granularity must be 'tensor' for the float format {encoding!r} (stored as its raw bits, "
                         f"with no scale), got {granularity!r}")
    if kind == "mx" and granularity not in ("tensor", ("group", MX_BLOCK_SIZE)):
        raise ValueError(f"granularity must be 'tensor' (the default) or ('group', {MX_BLOCK_SIZE}) for the MX "
                         f"format {encoding!r}, whose blocks are {MX_BLOCK_SIZE} weights, got {granularity!r}")
    if kind != "fixed" and not symmetric:
        raise ValueError(f"symmetric must be True for the format {encoding!r}: it has no zero point")


def check_dtype(name: str, dtype: torch.dtype, encoding: str) -> None:
    """Refuse a parameter whose dtype cannot hold every finite value of a float or MX element format.

    A bfloat16 weight stored as ``float16`` (or the reverse) would be read
    back rounded, not as the stored bits; float32 and float64 hold every
    format here.

    Raises
    ------
    ValueError
        Naming ``encoding``, the parameter, its dtype and the formats it can hold.
    """
    if format_kind(encoding) == "fixed" or _holds(dtype, encoding):
        return
    allowed = [other for other in FLOAT_FORMATS + tuple(MX_FORMATS) if _holds(dtype, other)]
    raise ValueError(f"encoding {encoding!r} does not match the dtype {dtype} of parameter {name!r}: its values "
                     f"would not read back exactly; for {dtype} weights use one of {allowed} (or a fixed-point "
                     f"encoding, or convert the model with model.float())")


def _holds(dtype, encoding):
    table = get_encoding(encoding, FLOAT_ENCODINGS[encoding].width).table
    finite = torch.from_numpy(table[np.isfinite(table)])
    return bool(torch.equal(finite.to(dtype).double(), finite))


def mx_scales(weight: torch.Tensor, block: int, factor: float,
              encoding: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The E8M0 scale of every block and the weights in units of their scale (OCP MX v1.0, Section 6.3).

    Parameters
    ----------
    weight : torch.Tensor
        float64, flattened, its length a multiple of ``block``.
    block : int
        32, the specification's; a row's length for a parameter whose rows
        are not whole blocks (``StorageConfig(uneven_rows="channel")``).
    factor : float
        Storage pre-scaling; the shared exponent is taken from ``W`` before it
        (as Delta is, Algorithm 1 Step 4).
    encoding : str
        An MX format name.

    Returns
    -------
    scales : torch.Tensor
        float64 ``2**shared_exp``, one per block.
    scale_codes : torch.Tensor
        int32 E8M0 codes ``shared_exp + 127``.
    values : torch.Tensor
        ``factor * W / 2**shared_exp``: what the element encoder rounds (clamped
        to the element's largest normal, as the specification says).
    """
    fmt = mx_format(encoding)
    blocks = weight.view(-1, block)
    exponent = torch.from_numpy(fmt.shared_exponent(blocks.abs().amax(1).numpy()))
    scales = torch.ldexp(torch.ones(exponent.shape, dtype=torch.float64), exponent)
    values = (blocks * factor / scales[:, None]).flatten()
    return scales, (exponent + 127).to(torch.int32), values


def scale_bits(encoding: str) -> int:
    """Bits of one stored scale (or zero point): 0 for a float format (none), 8 for MX (E8M0), else 16 (float16)."""
    return {"float": 0, "mx": 8, "fixed": 16}[format_kind(encoding)]


def stored_bit_order(encoding, codes: np.ndarray) -> tuple | None:
    """Which of the format's bits each stored position holds, top first; ``None`` for fixed point (as is).

    A float's most harmful bits are not at the top of its word (the
    exponent's top bit comes first, the sign later): the stored word holds
    the format's bits in :func:`qtaml_theory.float_law.protection_order`, by
    decreasing share of the read-back variance of these ``codes``, so that
    protecting a layer's top ``k`` stored bits (``IdealMSB(k)``, every
    method's allocation) guards its ``k`` most harmful bits. The shares are
    those of a symmetric channel, where the rate cancels out (any rate in
    ``(0, 1)`` gives the same order).
    """
    if format_kind(encoding.name) == "fixed":
        return None
    return protection_order(encoding, codes, SymmetricChannel(0.25))


def bit_permutation(order: tuple, n_bits: int) -> np.ndarray:
    """``stored[c]``: the stored word of the format's code ``c`` when position ``n - 1 - j`` holds bit ``order[j]``."""
    raw = np.arange(1 << n_bits, dtype=np.int64)
    stored = np.zeros_like(raw)
    for j, position in enumerate(order):
        stored |= ((raw >> position) & 1) << (n_bits - 1 - j)
    return stored
