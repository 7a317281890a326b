"""Per-tensor n-bit storage of selected parameters of any ``nn.Module`` (Appendix B.1, B.4, B.5).

:func:`select_parameters` picks what is stored in tunneling-prone memory:
by default the weights of ``Conv1d/2d/3d``, ``Linear``, ``Embedding`` and the
projections of ``nn.MultiheadAttention``; biases and normalization parameters
only on request (B.5); or any parameters by name or predicate.

:func:`quantize` stores each selected tensor once, after any compensation
(B.4): per-tensor scale ``Delta = max|W| / max_value`` (``max_value`` the
encoding's largest value, ``2**(n-1) - 1`` for offset binary), codes from the
:mod:`qtaml_theory.encodings` encoder, and a decode table from the same
encoding, so that the read-back value of a code is ``table[code] * Delta``.
The float weights are kept so that :meth:`Storage.restore_` puts the model
back exactly.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn

from qtaml_theory.channels import Channel, as_channel
from qtaml_theory.compensation import mmse_codes, readback_table
from qtaml_theory.encodings import get_encoding
from qtaml_theory.float_formats import NONFINITE_POLICIES
from qtaml_theory.float_law import policy_table
from qtaml_theory.validation import as_scale, check_bits

from ._stored_tensors import Storage, StoredTensor
from .formats import (
    MX_BLOCK_SIZE,
    bit_permutation,
    check_dtype,
    check_format,
    format_kind,
    mx_scales,
    stored_bit_order,
)
from .scales import UNEVEN_ROWS, block_scales, block_size, check_granularity, scale_codes

__all__ = ["StorageConfig", "StoredTensor", "Storage", "select_parameters", "excluded_parameters", "quantize",
           "MAX_STORAGE_BITS"]

#: Widths up to this many bits are stored with a decode lookup table.
MAX_STORAGE_BITS = 16

_NORM_MODULES = tuple(module for module in (nn.modules.batchnorm._BatchNorm, nn.LayerNorm, nn.GroupNorm,
                                             nn.modules.instancenorm._InstanceNorm, getattr(nn, "RMSNorm", None))
                      if module is not None)


@dataclass(frozen=True)
class StorageConfig:
    """What is stored, and how.

    Parameters
    ----------
    n_bits : int
        Bits per stored weight, 1..16 (default 8); Python or NumPy integers.
    encoding : str
        A :func:`qtaml_theory.get_encoding` name (default the paper's ``"offset_binary"``).
    include_bias : bool
        Also store biases (parameters whose name contains ``bias``, outside
        normalization layers; B.5; default off).
    include_norm : bool
        Also store normalization weights and biases (default off).
    names : str or tuple of str, optional
        Store exactly these parameters (full names from ``named_parameters``);
        a single string is one name. A name the model lacks is an error at
        selection.
    filter_fn : callable, optional
        ``filter_fn(name, parameter) -> bool``; keeps only the parameters it accepts.
    granularity : str or tuple
        Where the scales sit (:mod:`qtaml_tac.scales`): ``"tensor"`` (one per
        tensor, the paper's; default), ``"channel"`` (one per output channel)
        or ``("group", G)`` (one per ``G`` consecutive weights along the input
        dimension, torchao's and GPTQ's layout). A ``G`` that does not divide a
        stored row is refused at storage.
    symmetric : bool
        Scales from ``max|W|`` with no zero point (default), or asymmetric
        scales from ``[min(W, 0), max(W, 0)]`` with a zero point per scale.
    uneven_rows : {"refuse", "channel"}
        A stored row that the group size ``G`` (or MX's 32) does not divide:
        refused (default), or that parameter gets a scale per output channel.
    on_nonfinite : {"keep", "zero", "clamp"}
        How a float code (or a float16/E8M0 scale) that reads back as NaN or
        infinity is read: as it is (default), as 0, or as the format's largest
        finite value with the code's sign (the laws' read policies,
        :data:`qtaml_theory.float_formats.NONFINITE_POLICIES`); a clamped
        scale times an element may still overflow the parameter's dtype.
    scales_in_faulty_memory : bool
        Store the scales and zero points as float16 raw bits in the same
        faulty memory, so that their bits flip too (a scale rounded up to the
        next float16); default ``False``: they are safe, as in the paper.

    Raises
    ------
    ValueError
        For a width outside 1..16 or not an integer, an unknown encoding,
        flags that are not booleans, names that are not strings, a
        ``filter_fn`` that is not callable, or a granularity that is not
        ``"tensor"``, ``"channel"`` or ``("group", G)``.
    """

    n_bits: int = 8
    encoding: str = "offset_binary"
    include_bias: bool = False
    include_norm: bool = False
    names: tuple | None = None
    filter_fn: Callable | None = field(default=None, compare=False)
    granularity: str | tuple = "tensor"
    symmetric: bool = True
    scales_in_faulty_memory: bool = False
    uneven_rows: str = "refuse"
    on_nonfinite: str = "keep"

    def __post_init__(self) -> None:
        try:
            n_bits = check_bits(self.n_bits, "n_bits")
        except ValueError:
            n_bits = None
        if n_bits is None or n_bits > MAX_STORAGE_BITS:
            raise ValueError(f"n_bits must be an integer in 1..{MAX_STORAGE_BITS}, got {self.n_bits!r}")
        object.__setattr__(self, "n_bits", n_bits)
        object.__setattr__(self, "granularity", check_granularity(self.granularity))
        for flag in ("include_bias", "include_norm", "symmetric", "scales_in_faulty_memory"):
            value = getattr(self, flag)
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{flag} must be True or False, got {value!r}")
            object.__setattr__(self, flag, bool(value))
        check_format(self.encoding, self.n_bits, self.granularity, self.symmetric)
        if self.uneven_rows not in UNEVEN_ROWS:
            raise ValueError(f"uneven_rows must be one of {UNEVEN_ROWS}, got {self.uneven_rows!r}")
        if self.on_nonfinite not in NONFINITE_POLICIES:
            raise ValueError(f"on_nonfinite must be one of {NONFINITE_POLICIES}, got {self.on_nonfinite!r}")
        if not get_encoding(self.encoding, self.n_bits).max_value > 0:
            raise ValueError(f"encoding {self.encoding!r} has no positive level at n_bits={self.n_bits}, so "
                             "max|W| cannot be stored; use n_bits >= 2 or 'offset_binary_symmetric'")
        if self.names is not None:
            names = (self.names,) if isinstance(self.names, str) else self.names
            try:
                names = tuple(names)
            except TypeError:
                raise ValueError(f"names must be a parameter name or a sequence of them, got {self.names!r}") from None
            bad = [name for name in names if not isinstance(name, str)]
            if bad or not names:
                raise ValueError(f"names must be one or more parameter names (strings), got {self.names!r}")
            object.__setattr__(self, "names", names)
        if self.filter_fn is not None and not callable(self.filter_fn):
            raise ValueError(f"filter_fn must be a callable filter_fn(name, parameter) -> bool, got {self.filter_fn!r}")


def select_parameters(model: nn.Module, config: StorageConfig = StorageConfig()) -> list[str]:
    """Names of the parameters stored in tunneling-prone memory, in ``named_parameters`` order.

    By default a parameter is stored when it is a floating-point tensor of at
    least two dimensions outside a normalization layer and its name does not
    contain ``bias``: every weight matrix or kernel, whatever the layer type
    (convolutions, ``Linear``, embeddings, attention projections, the
    ``weight_ih_l*``, ``weight_hh_l*`` and ``weight_hr_l*`` matrices of
    recurrent layers, custom layers). ``config.include_bias`` adds biases,
    ``config.include_norm`` the parameters of normalization layers;
    ``config.names`` replaces the rule by a list; ``config.filter_fn`` then
    keeps what it accepts. :func:`excluded_parameters` gives the reason for
    every parameter left out.

    Raises
    ------
    ValueError
        If a requested name does not exist (the message lists the model's
        parameter names), a parameter to store is not floating point (its
        read-back ``table[code] * Delta`` cannot be held exactly), or nothing
        is eligible.
    """
    chosen, _, refused = _classify(model, config)
    if refused:
        listed = ", ".join(f"{name} ({dtype})" for name, dtype in refused.items())
        raise ValueError(f"parameters of a non-floating dtype cannot be stored: {listed}; leave them out with "
                         "StorageConfig(filter_fn=...) or names=...")
    if not chosen:
        raise ValueError("the model has no eligible parameters to store (check names, filter_fn and the layer types)")
    return chosen


def excluded_parameters(model: nn.Module, config: StorageConfig = StorageConfig()) -> dict[str, str]:
    """The parameters that :func:`select_parameters` leaves out, each with the reason.

    Parameters
    ----------
    model : nn.Module
    config : StorageConfig

    Returns
    -------
    dict
        ``{name: reason}`` in ``named_parameters`` order, the reason a
        human-readable sentence such as ``"bias (1-D): not stored by default
        (StorageConfig(include_bias=True) stores it)"``. Parameters that
        cannot be stored at all (a non-floating dtype, refused by
        :func:`select_parameters`) are listed too.

    Raises
    ------
    ValueError
        If ``config.names`` names a parameter the model lacks.

    Examples
    --------
    >>> from torch import nn
    >>> from qtaml_tac.storage import excluded_parameters
    >>> excluded_parameters(nn.Sequential(nn.Linear(2, 2), nn.LayerNorm(2)))
    ... # doctest: +NORMALIZE_WHITESPACE
    {'0.bias': 'bias (1-D): not stored by default (StorageConfig(include_bias=True) stores it)',
     '1.weight': 'parameter of normalization layer LayerNorm: not stored by default (StorageConfig(include_norm=True) stores it)',
     '1.bias': 'parameter of normalization layer LayerNorm: not stored by default (StorageConfig(include_norm=True) stores it)'}
    """
    _, excluded, refused = _classify(model, config)
    for name, dtype in refused.items():
        excluded[name] = f"dtype {dtype} is not floating point: cannot be stored (quantize refuses it until left out)"
    parameters = dict(model.named_parameters())
    return {name: excluded[name] for name in parameters if name in excluded}


def _classify(model: nn.Module, config: StorageConfig) -> tuple[list[str], dict[str, str], dict[str, torch.dtype]]:
    """``(stored names, {left out: reason}, {refused: dtype})`` under ``config``; see :func:`select_parameters`."""
    if not isinstance(model, nn.Module):
        raise ValueError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, StorageConfig):
        raise ValueError(f"config must be a StorageConfig, got {type(config).__name__}")
    parameters = dict(model.named_parameters())
    if config.names is not None:
        missing = [name for name in config.names if name not in parameters]
        if missing:
            hints = {name: difflib.get_close_matches(name, parameters, n=1) for name in missing}
            hint = "; ".join(f"{name!r}: did you mean {close[0]!r}?" for name, close in hints.items() if close)
            raise ValueError(f"names not found in the model's parameters: {missing}"
                             f"{' (' + hint + ')' if hint else ''}; available: {list(parameters)}")
    owners = {}
    for module_name, module in model.named_modules():
        prefix = f"{module_name}." if module_name else ""
        for key, _parameter in module.named_parameters(recurse=False):
            owners.setdefault(prefix + key, (module, key))
    chosen, excluded, refused = [], {}, {}
    for name, parameter in parameters.items():
        module, key = owners[name]
        if config.names is not None:
            reason = None if name in config.names else "not in StorageConfig(names=...)"
        else:
            reason = _default_reason(module, key, parameter, config)
        if reason is None and config.filter_fn is not None and not config.filter_fn(name, parameter):
            reason = "refused by StorageConfig(filter_fn=...)"
        if reason is not None:
            excluded[name] = reason
        elif not parameter.is_floating_point():
            refused[name] = parameter.dtype
        else:
            chosen.append(name)
    return chosen, excluded, refused


def _default_reason(module: nn.Module, key: str, parameter: nn.Parameter, config: StorageConfig) -> str | None:
    """Why the default rule leaves a parameter out, or ``None`` if it stores it."""
    if isinstance(module, _NORM_MODULES):
        if config.include_norm:
            return None
        return (f"parameter of normalization layer {type(module).__name__}: not stored by default "
                "(StorageConfig(include_norm=True) stores it)")
    if "bias" in key:
        if config.include_bias:
            return None
        return f"bias ({parameter.dim()}-D): not stored by default (StorageConfig(include_bias=True) stores it)"
    if parameter.dim() < 2:
        return (f"{parameter.dim()}-D parameter, not a weight matrix: not stored by default "
                "(name it in StorageConfig(names=...) to store it)")
    return None


def _check_finite(name: str, weight: torch.Tensor) -> None:
    if not torch.isfinite(weight).all():
        raise ValueError(f"parameter {name} has non-finite weights (NaN or infinity); refusing to store it")


@torch.no_grad()
def quantize(model: nn.Module, config: StorageConfig = StorageConfig(), *, factors: dict[str, float] | None = None,
             channels: dict[str, Channel | float] | None = None,
             corrections: dict[str, float] | None = None) -> Storage:
    """Store the selected parameters of ``model`` as n-bit codes (the model is not changed).

    Parameters
    ----------
    model : nn.Module
    config : StorageConfig
    factors : dict, optional
        ``{name: c}``: store ``c * W`` and divide the read-out by ``c``
        (weight scaling's pre-scaling: a finer step, the same drift). Default 1.
        The scale Delta is taken from ``W`` before the factor (Algorithm 1
        Step 4), so a factor above 1 can clip; the count is kept in ``clipped``.
    corrections : dict, optional
        ``{name: m}``: store ``m * W`` and read it back as stored (Prop 4.1's
        mean correction ``m = 1/(1-2p)``: the channel's shrinkage ``1 - 2p``
        brings the read-back's mean back to ``W``). Default 1; combines with
        ``factors`` (``m * c * W`` stored, the read-out divided by ``c``), and
        clips like a factor.
    channels : dict, optional
        ``{name: channel}``: store the code minimizing the expected squared
        read-back error under that channel instead of the nearest code
        (:func:`qtaml_theory.compensation.mmse_codes`).

    Returns
    -------
    Storage

    Raises
    ------
    ValueError
        See :func:`select_parameters`; also for non-finite weights, and for
        ``factors``, ``channels`` or ``corrections`` naming parameters that are
        not stored, or holding a factor that is not a finite positive number.
    """
    from .plan import check_names  # plan imports this module

    encoding = get_encoding(config.encoding, config.n_bits)
    names = select_parameters(model, config)
    parameters = dict(model.named_parameters())
    factors = {} if factors is None else factors
    channels = {} if channels is None else channels
    corrections = {} if corrections is None else corrections
    for argument, given in (("factors", factors), ("channels", channels), ("corrections", corrections)):
        if not isinstance(given, dict):
            raise ValueError(f"{argument} must be a {{parameter name: value}} dict, got {type(given).__name__}")
        check_names(given, argument, names)
    factors = {name: float(as_scale(factor, f"factors[{name!r}]")) for name, factor in factors.items()}
    corrections = {name: float(as_scale(value, f"corrections[{name!r}]")) for name, value in corrections.items()}
    channels = {name: as_channel(channel) for name, channel in channels.items()}
    table = torch.as_tensor(encoding.decode(np.arange(encoding.n_codes)), dtype=torch.float64)
    low, high = float(encoding.min_value), float(encoding.max_value)
    kind = format_kind(config.encoding)
    granularity = {"fixed": config.granularity, "float": "tensor", "mx": ("group", MX_BLOCK_SIZE)}[kind]
    blocks = {name: block_size(granularity, tuple(parameters[name].shape), name, config.uneven_rows)
              for name in names}
    for name in names:
        check_dtype(name, parameters[name].dtype, config.encoding)
    tensors = {}
    for name in names:
        parameter = parameters[name]
        weight = parameter.detach()
        _check_finite(name, weight)
        factor = factors.get(name, 1.0)
        scales, zero_points, values, faulty = _scales_and_values(weight, blocks[name],
                                                                 factor * corrections.get(name, 1.0), low, high,
                                                                 config, name)
        values = values.numpy()
        if name in channels:
            codes = mmse_codes(values, readback_table(encoding, channels[name]))
            clipped = int(np.count_nonzero((values < encoding.min_value) | (values > encoding.max_value)))
        else:
            codes, clipped = encoding.encode(values, return_clipped=True)
        scale = float(scales[0]) if scales.numel() == 1 else math.sqrt(float((scales**2).mean()))
        order = stored_bit_order(encoding, codes)
        stored_table = table if order is None else torch.from_numpy(policy_table(encoding, config.on_nonfinite))
        if order is not None:  # store the format's bits in the law's protection order (formats.stored_bit_order)
            stored = bit_permutation(order, config.n_bits)
            codes = stored[codes]
            stored_table = torch.empty_like(table).index_copy_(0, torch.from_numpy(stored), stored_table)
        tensors[name] = StoredTensor(name, parameter, torch.as_tensor(codes, dtype=torch.int32), scale, factor,
                                     stored_table, weight.clone(), clipped, scales=scales, block=blocks[name],
                                     zero_points=zero_points, bit_order=order, on_nonfinite=config.on_nonfinite,
                                     **faulty)
    return Storage(model, config, tensors)


def _scales_and_values(weight, block, factor, low, high, config, name):
    """Scales, zero points and values in scale units of one parameter; with the scales in faulty memory, their
    float16 bits (a scale rounded up to the next float16, so that no weight clips), or E8M0 bits for MX."""
    flat = weight.double().flatten()
    kind = format_kind(config.encoding)
    if kind == "float":
        return torch.ones(1, dtype=torch.float64), None, flat * factor, {}
    if kind == "mx":
        scales, codes, values = mx_scales(flat, block, factor, config.encoding)
        faulty = {"scale_format": "e8m0", "scale_codes": codes} if config.scales_in_faulty_memory else {}
        return scales, None, values, faulty
    scales, zero_points, values = block_scales(flat, block, factor, low, high, config.symmetric)
    if not config.scales_in_faulty_memory:
        return scales, zero_points, values, {}
    codes, scales = scale_codes(scales, "float16", name, round_up=True)
    # the weights in units of the stored (rounded-up) scales, and the zero points on them
    _, zero_points, values = block_scales(flat, block, factor, low, high, config.symmetric, scales=scales)
    faulty = {"scale_format": "float16", "scale_codes": codes}
    if zero_points is not None:
        faulty["zero_point_codes"] = scale_codes(zero_points, "float16", name, round_up=False)[0]
    return scales, zero_points, values, faulty
