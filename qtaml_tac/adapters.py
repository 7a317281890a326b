"""Bring your own codes: store the integer codes, scales and zero points another quantizer produced (issue 15).

:func:`from_codes` takes plain tensors (GPTQ, AWQ, a deployment's own
export); :func:`from_torchao` takes a model quantized in place by torchao's
``quantize_`` (int8 weight-only, per channel; intx weight-only, such as int4
with groups of 32). Either way the flips land in the user's real codes, not
in a re-quantization: a signed code is stored as its two's complement bits,
an unsigned one as its plain binary bits, and weight ``i`` reads back as
``(q_i - zp_b) * s_b`` with ``b`` its block of the scale layout ``[out,
groups]`` (:mod:`qtaml_tac.scales`), exactly the user's dequantization when
no bit flips.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qtaml_theory.encodings import get_encoding
from qtaml_theory.validation import check_bits

from ._stored_tensors import Storage, StoredTensor
from .scales import scale_codes
from .storage import MAX_STORAGE_BITS, StorageConfig

__all__ = ["from_codes", "from_torchao"]


@torch.no_grad()
def from_codes(model: nn.Module, codes: dict, scales: dict, zero_points: dict | None = None, *, n_bits: int = 8,
               signed: bool = True, scales_in_faulty_memory: bool = False) -> Storage:
    """A :class:`~qtaml_tac.storage.Storage` of codes another quantizer produced.

    Parameters
    ----------
    model : nn.Module
        Holds a floating-point parameter of each named shape; it receives the
        read-back (``restore_`` puts back what it held).
    codes : dict
        ``{name: integer tensor}`` shaped like the parameter: signed codes in
        ``-2**(n-1)..2**(n-1)-1`` (stored as two's complement) or unsigned
        ones in ``0..2**n - 1`` (stored as plain binary).
    scales : dict
        ``{name: tensor}``: one scale (a number or a one-element tensor), one
        per output channel (``[out]`` or ``[out, 1]``) or one per group
        (``[out, in / G]``, groups of ``G`` consecutive weights along the
        input dimension, viewed ``[out, -1]``), finite and positive.
    zero_points : dict, optional
        ``{name: tensor}`` shaped like its scales, in the codes' integer
        units: ``w = (q - zp) * s``. Default: none (symmetric).
    n_bits : int
        Bits per code, 1..16.
    signed : bool
        Whether the codes are signed.
    scales_in_faulty_memory : bool
        Store the scales and zero points as float16 raw bits in the faulty
        memory; they must then be float16 numbers already.

    Returns
    -------
    Storage
        Its ``config`` names the parameters, the encoding (``"twos_complement"``
        or ``"offset_binary"``) and the first tensor's granularity.

    Raises
    ------
    ValueError
        Names that the model lacks or that ``scales`` misses; codes that are
        not integers in range or not shaped like their parameter; scales not
        finite and positive, or of a shape that is not a layout above; zero
        points not shaped like their scales; scales in faulty memory that are
        not float16 numbers.
    """
    n_bits = check_bits(n_bits, "n_bits")
    if n_bits > MAX_STORAGE_BITS:
        raise ValueError(f"n_bits must be an integer in 1..{MAX_STORAGE_BITS}, got {n_bits}")
    zero_points = {} if zero_points is None else zero_points
    for argument, given in (("codes", codes), ("scales", scales), ("zero_points", zero_points)):
        if not isinstance(given, dict):
            raise ValueError(f"{argument} must be a {{parameter name: tensor}} dict, got {type(given).__name__}")
    parameters = dict(model.named_parameters())
    unknown = [name for name in codes if name not in parameters]
    missing = [name for name in codes if name not in scales]
    stray = [name for name in (*scales, *zero_points) if name not in codes]
    if unknown or missing or stray or not codes:
        raise ValueError(f"codes must name parameters of the model (unknown: {unknown}), each with scales "
                         f"(missing: {missing}); scales and zero_points only those of codes (extra: {stray})")
    encoding = "twos_complement" if signed else "offset_binary"
    table = torch.as_tensor(get_encoding(encoding, n_bits).decode(np.arange(1 << n_bits)), dtype=torch.float64)
    offset = 0 if signed else 1 << (n_bits - 1)  # table[c] = q - offset
    tensors, layouts = {}, []
    for name, given in codes.items():
        parameter = parameters[name]
        stored = _codes(name, given, parameter, n_bits, signed)
        block, layout = _layout(name, scales[name], parameter.shape)
        scale = _scales(name, scales[name])
        zero = None if name not in zero_points else _zero_points(name, zero_points[name], scale, offset)
        faulty = {}
        if scales_in_faulty_memory:
            faulty = {"scale_format": "float16", "scale_codes": scale_codes(scale, "float16", name, False)[0]}
            if zero is not None:
                faulty["zero_point_codes"] = scale_codes(zero, "float16", name, False)[0]
        delta = float(scale[0]) if scale.numel() == 1 else float((scale**2).mean().sqrt())
        tensors[name] = StoredTensor(name, parameter, stored, delta, 1.0, table, parameter.detach().clone(), 0,
                                     scales=scale, block=block, zero_points=zero, **faulty)
        layouts.append(layout)
    config = StorageConfig(n_bits=n_bits, encoding=encoding, names=tuple(codes), granularity=layouts[0],
                           symmetric=not zero_points, scales_in_faulty_memory=scales_in_faulty_memory)
    return Storage(model, config, tensors)


def _codes(name, given, parameter, n_bits, signed):
    given = torch.as_tensor(given)
    if given.is_floating_point() or given.is_complex() or given.dtype == torch.bool:
        raise ValueError(f"codes[{name!r}] must be an integer tensor, got dtype {given.dtype}")
    if not parameter.is_floating_point() or tuple(given.shape) != tuple(parameter.shape):
        raise ValueError(f"codes[{name!r}] must be shaped like a floating-point parameter {tuple(parameter.shape)}, "
                         f"got shape {tuple(given.shape)} for a {parameter.dtype} parameter")
    low, high = (-(1 << (n_bits - 1)), (1 << (n_bits - 1)) - 1) if signed else (0, (1 << n_bits) - 1)
    values = given.long().flatten()
    if values.numel() and (int(values.min()) < low or int(values.max()) > high):
        raise ValueError(f"codes[{name!r}] must be {'signed' if signed else 'unsigned'} {n_bits}-bit integers in "
                         f"{low}..{high}, got {int(values.min())}..{int(values.max())}")
    return (values & ((1 << n_bits) - 1)).to(torch.int32)  # the stored bits: two's complement or plain binary


def _layout(name, scales, shape):
    """Weights per scale and the granularity of a scale tensor for a parameter of ``shape``."""
    scales = torch.as_tensor(scales)
    size = int(np.prod(tuple(shape), dtype=np.int64))
    rows = int(shape[0]) if len(shape) >= 2 else 1
    row = size // rows
    count = scales.numel()
    if count == 1:
        return size, "tensor"
    if count == rows and scales.dim() <= 2 and (scales.dim() < 2 or scales.shape[1] == 1):
        return row, "channel"
    if scales.dim() == 2 and scales.shape[0] == rows and row % scales.shape[1] == 0:
        return row // scales.shape[1], ("group", row // scales.shape[1])
    raise ValueError(f"scales[{name!r}] must hold one scale, one per output channel ([{rows}]) or one per group "
                     f"([{rows}, {row} / G]) for a parameter of shape {tuple(shape)}, got shape {tuple(scales.shape)}")


def _scales(name, scales):
    scale = torch.as_tensor(scales).detach().to(torch.float64).flatten()
    if not bool(torch.all(torch.isfinite(scale) & (scale > 0))):
        raise ValueError(f"scales[{name!r}] must be finite and positive")
    return scale


def _zero_points(name, zero_points, scale, offset):
    zero = torch.as_tensor(zero_points).detach().to(torch.float64).flatten()
    if zero.shape != scale.shape or not bool(torch.all(torch.isfinite(zero))):
        raise ValueError(f"zero_points[{name!r}] must be finite and shaped like its scales ({scale.numel()} "
                         f"values), got {zero.numel()}")
    return zero - offset  # in levels of the table


@torch.no_grad()
def from_torchao(model: nn.Module, *, scales_in_faulty_memory: bool = False) -> Storage:
    """A :class:`~qtaml_tac.storage.Storage` of the codes of a model quantized by torchao's ``quantize_``.

    Every parameter holding a torchao weight-only tensor with ``qdata``,
    ``scale`` and ``zero_point`` (``Int8Tensor`` of ``Int8WeightOnlyConfig``,
    ``IntxUnpackedToInt8Tensor`` of ``IntxWeightOnlyConfig``, e.g. int4 with
    groups of 32) is replaced, in place, by a float parameter holding its
    dequantized weights; the storage holds the torchao codes, scales and
    zero points (:func:`from_codes`; zero points that are all zero are not
    stored).

    Raises
    ------
    ValueError
        If the model holds no such tensor, or their bit widths differ.
    """
    codes, scales, zeros, widths = {}, {}, {}, set()
    for module_name, module in model.named_modules():
        for key, parameter in list(module.named_parameters(recurse=False)):
            data = getattr(parameter, "qdata", None)
            if data is None or getattr(parameter, "scale", None) is None:
                continue
            name = f"{module_name}.{key}" if module_name else key
            widths.add(_torchao_bits(parameter))
            codes[name], scales[name] = data, parameter.scale
            zero = getattr(parameter, "zero_point", None)
            if zero is not None and bool(torch.any(zero != 0)):
                zeros[name] = zero
            setattr(module, key, nn.Parameter(parameter.dequantize(), requires_grad=False))
    if not codes or len(widths) != 1:
        raise ValueError(f"model must hold torchao weight-only tensors (qdata, scale, zero_point) of one bit width, "
                         f"found {len(codes)} of widths {sorted(widths)}")
    return from_codes(model, codes, scales, zeros or None, n_bits=widths.pop(),
                      scales_in_faulty_memory=scales_in_faulty_memory)


def _torchao_bits(parameter):
    """Bits of a torchao tensor's codes: its ``target_dtype`` (``torch.int1`` .. ``torch.int8``), else ``qdata``'s."""
    target = getattr(parameter, "target_dtype", parameter.qdata.dtype)
    widths = {getattr(torch, f"int{bits}"): bits for bits in range(1, 9) if hasattr(torch, f"int{bits}")}
    if target not in widths:
        raise ValueError(f"torchao codes of dtype {target} are not supported (signed 1..8-bit integers are)")
    return widths[target]
