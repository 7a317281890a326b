"""Bit-exact fault injection: the read-back code is the stored code XOR a random mask (Section 3, 5.7).

Each unprotected bit flips independently with the rate its fault model
(:mod:`qtaml_tac.faults`) gives it; the top ``k_l`` bits of layer ``l`` never
flip. Sampling is exact in distribution. Under a channel (the same rates for
every weight storing the same bits) the masks come from the lookup tables of
:class:`qtaml_tac.flip_law.FlipLaw`: every weight's whole mask from one random
word per group of 8 bits (dense), or only the weights with a flip, reached by
geometric jumps (sparse, when fewer than a fifth of the weights have one).
The tables are exact up to float64 rounding of their cumulative
probabilities. With numba installed, compiled kernels sample and write the
read-back in one pass (:mod:`qtaml_tac.kernel_dispatch`); without it, NumPy
gives the very same masks. Multi-level cells (a
:class:`~qtaml_theory.channels.MultiLevelChannel`) draw one level per cell
from its transition row and read it back by the level map, by the law's own
sampler. Per-cell rates and a :class:`~qtaml_tac.faults.Chip`
compare each (cell, bit)'s 53-bit uniform with its rate (so no ``2**-24`` grid
bias). All draws are seeded from a ``torch.Generator``: the one passed as
``generator`` (reproducible: the same generator state gives the same masks,
bit for bit), or, as in torch, the global generator when ``generator=None``,
so that unseeded draws differ from call to call and ``torch.manual_seed(s)``
makes them reproducible.

The draw API: :func:`sample_masks`, :func:`inject_`, :func:`deployed` and
:class:`FlipMask`. The fault models are importable from here too.
"""

from __future__ import annotations

import contextlib
import dataclasses
import numbers
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from qtaml_theory.channels import Channel, ProtectedChannel
from qtaml_theory.protection import IdealMSB, ProtectionScheme, Unprotected
from qtaml_theory.validation import check_integer

from .cell_codes import cell_coded_flips, cells_of
from .coded_injection import CODED_SCHEMES, coded_flips
from .faults import (
    BitRampFaults,
    CellVariationFaults,
    ChannelFaults,
    Chip,
    ClusteredFaults,
    FaultModel,
    LayerVariationFaults,
)
from .flip_law import FlipLaw
from .kernel_dispatch import (
    TensorWorkspace,
    compared_masks_into,
    compiled_kernels,
    dense_masks,
    fused_target,
    mask_buffer,
    sparse_flips,
)
from .plan import check_names
from .storage import Storage

__all__ = [
    "FaultModel",
    "ChannelFaults",
    "BitRampFaults",
    "CellVariationFaults",
    "ClusteredFaults",
    "LayerVariationFaults",
    "Chip",
    "FlipMask",
    "sample_masks",
    "inject_",
    "deployed",
    "compiled_kernels",
]

#: Draw seeds are uniform on ``0..SEED_BOUND - 1`` (the largest torch.randint bound for int64).
SEED_BOUND = 2**63 - 1

#: ``{storage: {name: TensorWorkspace}}``, created on a storage's first draw and gone with the storage.
_WORKSPACES = weakref.WeakKeyDictionary()
_WORKSPACES_LOCK = threading.Lock()


def _workspace(storage, tensor):
    """The :class:`~qtaml_tac.kernel_dispatch.TensorWorkspace` of ``tensor`` in ``storage`` (made on first use)."""
    with _WORKSPACES_LOCK:
        spaces = _WORKSPACES.setdefault(storage, {})
        space = spaces.get(tensor.name)
        if space is None or space.tensor is not tensor:
            space = spaces[tensor.name] = TensorWorkspace(tensor)
    return space


def _rates_by_stored_bit(channel, n_bits):
    """``rates[b][i]``: flip rate of bit i when it stores b (floats)."""
    return [np.asarray(channel.rates_for_bits(np.full((1, n_bits), b)), dtype=np.float64)[0] for b in (0, 1)]


@dataclass(frozen=True)
class FlipMask:
    """The flips of one tensor in one trial: XOR ``values`` at ``positions`` (sparse) or a whole ``dense_mask``.

    ``zeroed`` (int64 positions, or ``None``) are weights that read as zero
    whatever their code (a code's detected failure under ``on_failure="zero"``);
    they are among ``positions``. ``scale_mask`` and ``zero_point_mask``
    (int32, one per scale, or ``None``) flip the bits of the scales and zero
    points when they sit in the faulty memory
    (``StorageConfig(scales_in_faulty_memory=True)``).
    """

    size: int
    positions: torch.Tensor | None = None
    values: torch.Tensor | None = None
    dense_mask: torch.Tensor | None = None
    zeroed: torch.Tensor | None = None
    scale_mask: torch.Tensor | None = None
    zero_point_mask: torch.Tensor | None = None

    def dense(self) -> torch.Tensor:
        """The mask as a full int32 tensor."""
        if self.dense_mask is not None:
            return self.dense_mask.to(torch.int32)
        mask = torch.zeros(self.size, dtype=torch.int32)
        mask[self.positions] = self.values
        return mask


def _seed(generator):
    return int(torch.randint(SEED_BOUND, (), generator=generator))


def _finish(workspace, mask, fused, write):
    if fused:
        workspace.written_(mask)
    elif write:
        workspace.write_(mask)
    return mask


def _channel_mask(workspace, law, generator, reuse, write):
    """One draw of ``law`` (:class:`qtaml_tac.flip_law.FlipLaw`) for the workspace's tensor, seeded from ``generator``.

    With ``write`` the read-back is also written into the parameter: by the
    compiled kernel while it samples when it can, else afterwards by
    :meth:`~qtaml_tac.kernel_dispatch.TensorWorkspace.write_`.
    """
    tensor = workspace.tensor
    seed = _seed(generator)
    size = tensor.size
    if law.event_rate == 0:
        mask = FlipMask(size, torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int32))
        return _finish(workspace, mask, False, write)
    kernels = compiled_kernels()
    codes = tensor.codes.numpy()
    fused, lookup, out = fused_target(tensor, write, kernels)
    space = workspace.buffers if reuse else {}
    if law.dense_regime:
        masks = mask_buffer(space, size, law.n_bits)
        dense_masks(kernels, law, codes, seed, masks, fused, lookup, out)
        mask = FlipMask(size, dense_mask=torch.from_numpy(masks))
    elif kernels is None:
        flips = law.sparse(codes, seed)
        mask = FlipMask(size, torch.from_numpy(flips.positions), torch.from_numpy(flips.values))
    else:
        previous = workspace.patch_base_().numpy() if fused else np.zeros(0, dtype=np.int64)
        mask = FlipMask(size, *sparse_flips(kernels, law, codes, seed, space, fused, lookup, out, previous))
    return _finish(workspace, mask, fused, write)


def _compared_mask(workspace, key, n_bits, exposed, by_bit, cells, reuse, write):
    """Masks by comparing each (cell, bit)'s uniform of the stream ``key`` with its rate (per-cell rates, chips)."""
    tensor = workspace.tensor
    kernels = compiled_kernels()
    fused, lookup, out = fused_target(tensor, write, kernels)
    masks = mask_buffer(workspace.buffers if reuse else {}, tensor.size, n_bits)
    cell_rates = None if cells is None else np.ascontiguousarray(cells.numpy(), dtype=np.float64)
    compared_masks_into(kernels, tensor.codes.numpy(), key, n_bits, exposed, by_bit, cell_rates, masks, fused,
                        lookup, out)
    return _finish(workspace, FlipMask(tensor.size, dense_mask=torch.from_numpy(masks)), fused, write)


def _coded_mask(workspace, faults, n_bits, scheme, generator, chip, reuse, write):
    """One draw through a real code (:mod:`qtaml_tac.coded_injection`); the mask is sparse.

    Multi-level and directional cells store the check bits and copies in cells of their own
    (:mod:`qtaml_tac.cell_codes`).
    """
    tensor = workspace.tensor
    channel = faults.channel_for(tensor, n_bits)
    if channel is None or chip is not None:
        raise ValueError(f"protection[{tensor.name!r}] = {scheme!r} needs a channel fault model (a rate, a channel "
                         f"or ChannelFaults) and no chip: its check bits' and copies' cells are drawn from the "
                         f"channel")
    cells = cells_of(channel, n_bits)
    if cells is not None:
        positions, values, zeroed = cell_coded_flips(tensor.codes.numpy(), n_bits, scheme, cells,
                                                     np.random.default_rng(_seed(generator)), workspace.coded)
    else:
        law = FlipLaw.from_rates(*_rates_by_stored_bit(channel, n_bits), n_bits)
        raw = _channel_mask(workspace, law, generator, reuse, write=False)
        rng = np.random.default_rng(_seed(generator))
        positions, values, zeroed = coded_flips(tensor.codes.numpy(), n_bits, scheme, channel, raw, rng,
                                                cache=workspace.coded)
    if zeroed.size:
        positions, index = np.unique(np.concatenate([positions, zeroed]), return_index=True)
        values = np.concatenate([values, np.zeros(zeroed.size, dtype=np.int64)])[index]
    mask = FlipMask(tensor.size, torch.from_numpy(positions), torch.from_numpy(values.astype(np.int32)),
                    zeroed=torch.from_numpy(zeroed) if zeroed.size else None)
    if write:
        workspace.patch_(mask)
    return mask


def _cell_mask(workspace, channel, n_bits, protected, generator, chip, write):
    """Masks of multi-level cells: each cell lands on a level drawn from its transition row (issue 16).

    The channel draws them from the codes (:meth:`~qtaml_theory.channels.MultiLevelChannel.sample_code_masks`),
    the protected top bits cleared (:class:`~qtaml_theory.channels.ProtectedChannel`),
    from a NumPy generator seeded by ``generator``: the law's own sampler.
    """
    if chip is not None:
        raise ValueError("chip (fixed uniforms per bit) cannot drive multi-level cells, whose bits fail together; "
                         "pass chip=None")
    tensor = workspace.tensor
    masks = ProtectedChannel(channel, protected).sample_code_masks(tensor.codes.numpy(), n_bits, 1,
                                                                    _seed(generator))[0]
    mask = FlipMask(tensor.size, dense_mask=torch.from_numpy(masks.astype(np.int32)))
    return _finish(workspace, mask, False, write)


def _tensor_mask(workspace, faults, n_bits, protected, generator, chip, reuse=False, write=False):
    """One draw of a tensor's flip mask; with ``write`` its read-back is written into the parameter too."""
    if isinstance(protected, CODED_SCHEMES):
        return _coded_mask(workspace, faults, n_bits, protected, generator, chip, reuse, write)
    tensor = workspace.tensor
    exposed = max(n_bits - protected, 0)
    channel = faults.channel_for(tensor, n_bits)
    if channel is not None and channel.bits_per_cell > 1:
        return _cell_mask(workspace, channel, n_bits, protected, generator, chip, write)
    cells = faults.cell_rates(tensor, n_bits) if channel is None else None
    if channel is None and cells is None:
        raise ValueError(f"fault model {faults!r} gives neither a channel nor cell rates")
    if chip is None and cells is None:
        law = FlipLaw.from_rates(*_rates_by_stored_bit(channel, n_bits), exposed)
        return _channel_mask(workspace, law, generator, reuse, write)
    by_bit = _rates_by_stored_bit(channel, n_bits) if channel is not None else [np.zeros(n_bits)] * 2
    key = chip.key(tensor) if chip is not None else _seed(generator)
    return _compared_mask(workspace, key, n_bits, exposed, by_bit, cells, reuse, write)


def sample_masks(storage: Storage, faults, protection: dict | None = None, generator: torch.Generator | None = None,
                 chip: Chip | None = None, reuse_buffers: bool = False, names=None) -> dict:
    """One draw of flip masks for every stored tensor.

    Parameters
    ----------
    storage : Storage
    faults : FaultModel, Channel or float
        A number or channel means ``ChannelFaults(...)``.
    protection : dict, optional
        ``{name: k}``: the top ``k`` bits of that tensor never flip (``k`` an
        integer in ``0..n_bits``, every name a stored parameter); or ``{name:
        scheme}``, a :mod:`qtaml_theory.protection` scheme: ``IdealMSB(k)``
        is ``k``, and real codes (``Repetition``, ``SECDED``, ``BCH``) are
        simulated bit for bit (:mod:`qtaml_tac.coded_injection`; they need a
        channel fault model).
    generator : torch.Generator, optional
        The source of the draw's seeds: the same generator state gives the
        same masks. Default: torch's global generator, as every torch
        sampler does, so unseeded draws differ from call to call and
        ``torch.manual_seed(s)`` makes them reproducible.
    chip : Chip, optional
        Use the chip's fixed uniforms (nested faults) instead of fresh draws.
    reuse_buffers : bool
        Draw dense masks into per-tensor workspaces (faster on repeated
        trials); the masks are then overwritten by the next draw.
    names : iterable of str, optional
        Sample only these tensors (default: all).

    Returns
    -------
    dict
        ``{name: FlipMask}`` (``.dense()`` gives the int32 XOR mask).
    """
    return _draw(storage, faults, protection, generator, chip, reuse_buffers, names, write=False)


def _draw(storage, faults, protection, generator, chip, reuse, names, write):
    """Masks of the wanted tensors; every argument is checked before the first tensor is drawn or written."""
    faults = _as_fault_model(faults)
    n_bits = storage.config.n_bits
    _check_generator(generator)
    if chip is not None and not isinstance(chip, Chip):
        raise ValueError(f"chip must be a qtaml_tac.Chip or None, got {chip!r}")
    faults = faults.bind(storage)
    protection = {} if protection is None else check_protection(protection, storage.names, n_bits)
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        check_names(names, "names", storage.names)
    wanted = None if names is None else set(names)
    targets = [(tensor, protection.get(tensor.name, 0)) for tensor in storage
               if wanted is None or tensor.name in wanted]
    for tensor, _ in targets:
        faults.channel_for(tensor, n_bits)  # raises on a channel of the wrong width
        if tensor.scale_format is not None:
            _scale_law(faults, tensor, n_bits, chip)
    masks = {}
    for tensor, protected in targets:
        workspace = _workspace(storage, tensor)
        faulty = tensor.scale_format is not None
        mask = _tensor_mask(workspace, faults, n_bits, protected, generator, chip, reuse, write and not faulty)
        if faulty:
            law = _scale_law(faults, tensor, n_bits, chip)
            flips = {key: _scale_flips(law, codes, generator) for key, codes in (
                ("scale_mask", tensor.scale_codes), ("zero_point_mask", tensor.zero_point_codes)) if codes is not None}
            mask = dataclasses.replace(mask, **flips)
            if write:
                workspace.write_(mask)
        masks[tensor.name] = mask
    return masks


def _scale_flips(law, codes, generator):
    """int32 XOR masks of scale (or zero point) codes: one draw of ``law``, by the compiled kernel if any.

    Dense in the dense regime, else sparse (gaps between flipped codes), as
    the weights' own masks are drawn (:func:`_channel_mask`).
    """
    seed, codes, kernels = _seed(generator), codes.numpy(), compiled_kernels()
    if law.dense_regime:
        masks = mask_buffer({}, codes.size, law.n_bits)
        dense_masks(kernels, law, codes, seed, masks, False, np.zeros(1), np.zeros(1))
        return torch.from_numpy(masks.astype(np.int32, copy=False))
    masks = torch.zeros(codes.size, dtype=torch.int32)
    if law.event_rate == 0:
        return masks
    if kernels is None:
        flips = law.sparse(codes, seed)
        positions, values = torch.from_numpy(flips.positions), torch.from_numpy(flips.values)
    else:
        positions, values = sparse_flips(kernels, law, codes, seed, {}, False, np.zeros(1), np.zeros(1),
                                         np.zeros(0, dtype=np.int64))
    masks[positions] = values.to(torch.int32)
    return masks


def _scale_law(faults, tensor, n_bits, chip):
    """The flip law of a tensor's scales and zero points in faulty memory: its channel's rates at their width."""
    from .scales import SCALE_FORMATS

    width = SCALE_FORMATS[tensor.scale_format][1]
    channel = faults.channel_for(tensor, n_bits)
    if channel is None or chip is not None or channel.bits_per_cell > 1:
        raise ValueError(f"scales_in_faulty_memory=True needs a channel fault model of one bit per cell (a rate, "
                         f"a channel or ChannelFaults) and no chip: the {width}-bit scales of {tensor.name!r} flip "
                         f"by the channel's rates; got faults {faults!r}")
    try:
        rates = _rates_by_stored_bit(channel, width)
    except ValueError as error:
        raise ValueError(f"scales_in_faulty_memory=True: the channel of {tensor.name!r} has no rates for the "
                         f"{width}-bit scales ({error}); use a channel whose rates do not depend on the bit "
                         "position (SymmetricChannel, DirectionalChannel)") from None
    return FlipLaw.from_rates(*rates, width)


def check_protection(protection, names, n_bits: int) -> dict:
    """``{name: k or scheme}`` checked: stored names; counts in ``0..n_bits``; schemes that fit ``n_bits``.

    ``IdealMSB(k)`` becomes ``k`` and ``Unprotected()`` 0, so the paper's
    protection draws exactly as before; real codes stay schemes.
    """
    if not isinstance(protection, Mapping):
        raise ValueError(f"protection must be a {{name: bits or scheme}} mapping, got {type(protection).__name__}")
    check_names(protection, "protection", names)
    checked = {}
    for name, value in protection.items():
        if isinstance(value, IdealMSB):
            value.check_width(n_bits)
            value = value.k
        elif isinstance(value, Unprotected):
            value = 0
        elif isinstance(value, ProtectionScheme):
            if not isinstance(value, CODED_SCHEMES):
                raise ValueError(f"protection[{name!r}] must be bits, IdealMSB, Unprotected or one of "
                                 f"{[c.__name__ for c in CODED_SCHEMES]}, got {value!r}")
            value.check_width(n_bits)
            checked[name] = value
            continue
        checked[name] = check_integer(value, f"protection[{name!r}]", 0, n_bits)
    return checked


def _check_generator(generator):
    """Refuse anything but ``None`` or a CPU ``torch.Generator`` (an int is not taken as a seed)."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise ValueError(f"generator must be a torch.Generator or None, got {generator!r}; to seed a draw, pass "
                         "generator=torch.Generator().manual_seed(seed)")
    if generator.device.type != "cpu":
        raise ValueError(f"generator must be a CPU torch.Generator (the masks are drawn on the CPU), got one on "
                         f"{generator.device}")


def _as_fault_model(faults):
    if isinstance(faults, FaultModel):
        return faults
    if isinstance(faults, Channel) or (isinstance(faults, numbers.Real) and not isinstance(faults, bool)) \
            or type(faults).__module__.startswith("sympy"):
        return ChannelFaults(faults)
    raise ValueError(f"faults must be a FaultModel, a channel or a flip probability, got {faults!r}")


def inject_(storage: Storage, faults, protection: dict | None = None, generator: torch.Generator | None = None,
            chip: Chip | None = None) -> dict:
    """Write one noisy read-back of every stored tensor into the model, in place.

    Returns the masks; they live in reused workspaces and are valid until the next injection.
    Channel faults are sampled and written in one pass by the compiled kernels when numba is
    installed (:func:`compiled_kernels`); the masks are the same either way. The arguments
    are those of :func:`sample_masks`; without a ``generator`` the seeds come from torch's
    global generator (seed it with ``torch.manual_seed`` for reproducible unseeded calls).

    Raises
    ------
    ValueError
        For faults that are not a fault model, channel or probability;
        ``protection`` or ``per_layer`` naming parameters that are not stored,
        or protected bits that are not integers in ``0..n_bits``; a
        ``generator`` that is not a CPU ``torch.Generator``; a ``chip`` that
        is not a :class:`Chip`. Nothing is written then.
    """
    return _draw(storage, faults, protection, generator, chip, reuse=True, names=None, write=True)


@contextlib.contextmanager
def deployed(storage: Storage, faults=None, protection: dict | None = None, generator: torch.Generator | None = None,
             chip: Chip | None = None):
    """A noisy deployment for the duration of a ``with`` block; the float weights come back after.

    With ``faults=None`` the model holds the clean quantized weights. The other
    arguments are those of :func:`inject_` (without a ``generator``, torch's
    global generator seeds the draw).

    Examples
    --------
    >>> import torch
    >>> from qtaml_tac.storage import quantize
    >>> from qtaml_tac.inject import deployed
    >>> model = torch.nn.Linear(4, 2)
    >>> before = model.weight.detach().clone()
    >>> with deployed(quantize(model), faults=0.1, generator=torch.Generator().manual_seed(0)):
    ...     noisy = model.weight.detach().clone()
    >>> torch.equal(model.weight, before)
    True
    """
    try:
        if faults is None:
            storage.write_()
            yield None
        else:
            yield inject_(storage, faults, protection, generator, chip)
    finally:
        storage.restore_()
