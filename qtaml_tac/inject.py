"""Bit-exact fault injection: the read-back code is the stored code XOR a random mask (Section 3, 5.7).

Each unprotected bit flips independently with the rate its fault model gives
it; the top ``k_l`` bits of layer ``l`` never flip. Sampling is exact in
distribution. Under a channel (the same rates for every weight storing the
same bits) the masks come from the lookup tables of
:class:`qtaml_tac.flip_law.FlipLaw`: every weight's whole mask from one random
word per group of 8 bits (dense), or only the weights with a flip, reached by
geometric jumps (sparse, when fewer than a fifth of the weights have one).
The tables are exact up to float64 rounding of their cumulative
probabilities. With numba installed, compiled kernels sample and write the
read-back in one pass; without it, NumPy gives the very same masks. Per-cell
rates compare each (cell, bit)'s 53-bit uniform with its rate (so no
``2**-24`` grid bias). All draws are seeded from a ``torch.Generator``: the
one passed as ``generator`` (reproducible: the same generator state gives the
same masks, bit for bit), or, as in torch, the global generator when
``generator=None``, so that unseeded draws differ from call to call and
``torch.manual_seed(s)`` makes them reproducible.

A :class:`Chip` fixes the uniform of every (cell, bit): a bit flips when its
uniform is below its rate, so the faults at a lower rate are a subset of those
at a higher rate (nested faults, one physical chip across ``p``).

Fault models (one interface, :class:`FaultModel`): :class:`ChannelFaults`
(symmetric, per-bit or directional channel of :mod:`qtaml_theory.channels`,
optionally per layer) and the non-uniform variants of Section 5.7 at a matched
average rate: :class:`BitRampFaults`, :class:`CellVariationFaults`,
:class:`ClusteredFaults`, :class:`LayerVariationFaults`.
"""

from __future__ import annotations

import contextlib
import math
import numbers
import os
import threading
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from qtaml_theory.validation import as_rate
from qtaml_theory.channels import Channel, PerBitChannel, SymmetricChannel, as_channel

from .flip_law import CHUNK, FlipLaw, cell_uniforms, compared_masks
from .plan import check_bit_counts, check_integer, check_names

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


class FaultModel:
    """Where and how often bits flip. Subclasses give, per stored tensor, either a channel or per-cell rates."""

    def channel_for(self, tensor, n_bits):
        """The flip channel of ``tensor`` (rates by bit position and stored bit), or ``None``."""
        return None

    def cell_rates(self, tensor, n_bits):
        """A float64 tensor of per-cell rates (the same for every bit of a cell), or ``None``."""
        return None

    def mean_rate(self, storage, protection=None):
        """Average flip rate over every unprotected stored bit (for matching variants)."""
        raise NotImplementedError


def _rate(value, name):
    """A probability in [0, 1] as a float (Python, NumPy and Fraction numbers, as :mod:`qtaml_theory` accepts)."""
    return float(as_rate(value, name))


def _real(value, name, allowed, low, high=math.inf, low_open=False):
    """A finite real number in ``[low, high]`` (``(low, high]`` with ``low_open``) as a float, else ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be a real number {allowed}, got {value!r}")
    number = float(value)
    if not (math.isfinite(number) and (low < number if low_open else low <= number) and number <= high):
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")
    return number


@dataclass(frozen=True)
class ChannelFaults(FaultModel):
    """Flips by a :mod:`qtaml_theory.channels` channel, the same for every layer or one per layer.

    Parameters
    ----------
    channel : Channel or float
        A number ``p`` means ``SymmetricChannel(p)``.
    per_layer : dict, optional
        ``{name: channel}`` overriding ``channel`` for some layers (per-layer
        ``p``); a name that is not stored is an error when the faults are drawn.
    """

    channel: object = 0.0
    per_layer: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "channel", as_channel(self.channel))
        if not isinstance(self.per_layer, dict) or not all(isinstance(k, str) for k in self.per_layer):
            raise ValueError(f"per_layer must be a {{parameter name: channel}} dict, got {self.per_layer!r}")
        object.__setattr__(self, "per_layer", {k: as_channel(v) for k, v in self.per_layer.items()})

    def channel_for(self, tensor, n_bits):
        channel = self.per_layer.get(tensor.name, self.channel)
        channel.check_width(n_bits)
        return channel

    def mean_rate(self, storage, protection=None):
        return _mean_channel_rate(storage, protection, lambda tensor: self.channel_for(tensor, storage.config.n_bits))


def _mean_channel_rate(storage, protection, channel_of):
    total, weight = 0.0, 0
    for tensor in storage:
        exposed = storage.config.n_bits - (protection or {}).get(tensor.name, 0)
        if exposed <= 0:
            continue
        bits = ((tensor.codes[:, None] >> torch.arange(storage.config.n_bits)) & 1).numpy()
        rates = channel_of(tensor).rates_for_bits(bits)[:, :exposed]
        total += float(np.asarray(rates, dtype=np.float64).sum())
        weight += rates.size
    return total / weight if weight else 0.0


@dataclass(frozen=True)
class BitRampFaults(FaultModel):
    """Rates that ramp linearly with bit position, averaging ``p`` (Section 5.7).

    ``rate_i = p (1 + slope (2 i / (n - 1) - 1))``: ``slope = 1`` doubles the MSB's
    rate and spares the LSB; negative slopes favour the MSB. Must stay in [0, 1].
    """

    p: float
    slope: float = 0.5

    def __post_init__(self):
        object.__setattr__(self, "p", _rate(self.p, "p"))
        object.__setattr__(self, "slope", _real(self.slope, "slope", "in [-1, 1]", -1, 1))

    def channel_for(self, tensor, n_bits):
        if n_bits == 1:
            return PerBitChannel([self.p])
        rates = [self.p * (1 + self.slope * (2 * i / (n_bits - 1) - 1)) for i in range(n_bits)]
        return PerBitChannel([_rate(r, "bit-ramp rate") for r in rates])

    def mean_rate(self, storage, protection=None):
        return _mean_channel_rate(storage, protection, lambda tensor: self.channel_for(tensor, storage.config.n_bits))


def _chip_state(seed, name, dtype=np.uint32):
    """One word of entropy for a chip's seed and a tensor's name."""
    return int(np.random.SeedSequence([seed, *name.encode()]).generate_state(1, dtype)[0])


def _chip_generator(seed, name):
    return torch.Generator().manual_seed(_chip_state(seed, name))


@dataclass(frozen=True)
class _LogNormalSpread(FaultModel):
    """Rates spread log-normally (``sigma``) about an average ``p``, fixed by ``seed``."""

    p: float
    sigma: float = 1.0
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "p", _rate(self.p, "p"))
        object.__setattr__(self, "sigma", _real(self.sigma, "sigma", ">= 0", 0))
        object.__setattr__(self, "seed", check_integer(self.seed, "seed", 0))


@dataclass(frozen=True)
class CellVariationFaults(_LogNormalSpread):
    """Per-cell rates: each cell's ``p`` is log-normal with spread ``sigma``, scaled to average ``p``.

    The rates are a property of the chip: drawn once from ``seed`` (per tensor),
    then every trial samples flips with them. Rates are capped at 1/2.
    """

    def cell_rates(self, tensor, n_bits):
        return _lognormal_cell_rates(self.p, self.sigma, self.seed, tensor.name, tensor.size)

    def mean_rate(self, storage, protection=None):
        rates = [self.cell_rates(t, storage.config.n_bits) for t in storage]
        return float(torch.cat(rates).mean())


@lru_cache(maxsize=64)
def _lognormal_cell_rates(p, sigma, seed, name, size):
    """Drawn once per chip and tensor (cached: every trial reuses them; do not modify the result)."""
    generator = _chip_generator(seed, name)
    log_rates = torch.randn(size, dtype=torch.float64, generator=generator) * sigma
    rates = torch.exp(log_rates - sigma**2 / 2) * p  # mean p before the cap
    return rates.clamp(max=0.5)


@lru_cache(maxsize=64)
def _clustered_cell_rates(p, block, fraction, hot, seed, name, size):
    """Drawn once per chip and tensor (cached: every trial reuses them; do not modify the result)."""
    generator = _chip_generator(seed, name)
    hot_blocks = torch.rand(math.ceil(size / block), dtype=torch.float64, generator=generator) < fraction
    level = torch.where(hot_blocks, hot, 1.0).repeat_interleave(block)[:size]
    return (p * level / level.mean()).clamp(max=0.5)


@dataclass(frozen=True)
class ClusteredFaults(FaultModel):
    """Spatially clustered faults: blocks of ``block`` consecutive cells run ``hot`` times hotter.

    A share ``fraction`` of the blocks is hot; rates are scaled so that the
    average stays ``p`` (capped at 1/2). The hot blocks are fixed by ``seed``.
    """

    p: float
    block: int = 64
    fraction: float = 0.1
    hot: float = 10.0
    seed: int = 0

    def __post_init__(self):
        object.__setattr__(self, "p", _rate(self.p, "p"))
        object.__setattr__(self, "block", check_integer(self.block, "block", 1))
        object.__setattr__(self, "fraction", _real(self.fraction, "fraction", "in (0, 1]", 0, 1, low_open=True))
        object.__setattr__(self, "hot", _real(self.hot, "hot", ">= 1", 1))
        object.__setattr__(self, "seed", check_integer(self.seed, "seed", 0))

    def cell_rates(self, tensor, n_bits):
        return _clustered_cell_rates(self.p, self.block, self.fraction, self.hot, self.seed, tensor.name, tensor.size)

    def mean_rate(self, storage, protection=None):
        return float(torch.cat([self.cell_rates(t, storage.config.n_bits) for t in storage]).mean())


@dataclass(frozen=True)
class LayerVariationFaults(_LogNormalSpread):
    """Per-layer rates: log-normal with spread ``sigma`` across layers, size-weighted average ``p``."""

    def layer_rates(self, storage):
        rng = np.random.default_rng(self.seed)
        sizes = np.array([t.size for t in storage], dtype=np.float64)
        raw = np.exp(rng.normal(0.0, self.sigma, sizes.size))
        rates = np.minimum(self.p * raw * sizes.sum() / (raw @ sizes), 0.5)
        return dict(zip(storage.names, rates.tolist()))

    def bind(self, storage):
        """The equivalent :class:`ChannelFaults` for one storage."""
        return ChannelFaults(0.0, {name: SymmetricChannel(rate) for name, rate in self.layer_rates(storage).items()})

    def mean_rate(self, storage, protection=None):
        return self.bind(storage).mean_rate(storage, protection)


class Chip:
    """One physical chip: a fixed uniform for every (cell, bit), so that faults nest across rates.

    A bit flips when its uniform is below its rate: the faults at a lower rate
    are a subset of those at a higher rate, and protecting more bits removes
    only those bits' faults. The uniforms are not stored but recomputed from a
    stream keyed by the chip's seed and the tensor's name
    (:func:`qtaml_tac.flip_law.cell_uniforms`), so a chip costs no memory.

    Parameters
    ----------
    seed : int
        A non-negative integer (Python or NumPy).
    """

    def __init__(self, seed=0):
        self.seed = check_integer(seed, "seed", 0)

    def key(self, tensor):
        """The 64-bit stream key of ``tensor`` on this chip."""
        return _chip_state(self.seed, tensor.name, np.uint64)

    def uniforms(self, tensor, n_bits):
        """float64 uniforms of shape ``(n_bits, size)`` for ``tensor`` (recomputed on each call)."""
        cells = np.arange(tensor.size)
        return torch.from_numpy(np.stack([cell_uniforms(self.key(tensor), cells, n_bits, bit) for bit in range(n_bits)]))


def _rates_by_stored_bit(channel, n_bits):
    """``rates[b][i]``: flip rate of bit i when it stores b (floats)."""
    return [np.asarray(channel.rates_for_bits(np.full((1, n_bits), b)), dtype=np.float64)[0] for b in (0, 1)]


@dataclass(frozen=True)
class FlipMask:
    """The flips of one tensor in one trial: XOR ``values`` at ``positions`` (sparse) or a whole ``dense_mask``."""

    size: int
    positions: torch.Tensor | None = None
    values: torch.Tensor | None = None
    dense_mask: torch.Tensor | None = None

    def dense(self):
        """The mask as a full int32 tensor."""
        if self.dense_mask is not None:
            return self.dense_mask.to(torch.int32)
        mask = torch.zeros(self.size, dtype=torch.int32)
        mask[self.positions] = self.values
        return mask


def compiled_kernels():
    """The numba kernels in use (:class:`qtaml_tac.flip_kernels.Kernels`), or ``None`` for the NumPy twin.

    ``None`` when numba is missing or ``QTAML_COMPILED=0`` is set. The kernels
    follow ``torch.get_num_threads()``: with one thread the serial ones (no
    threading layer: safe in a forked child, e.g. a ``multiprocessing`` worker
    that sets one torch thread), else the parallel ones on that many threads.
    Every route gives the same masks; the compiled ones are faster and write
    the read-back values while they sample.
    """
    if os.environ.get("QTAML_COMPILED", "1") == "0":
        return None
    try:
        from . import flip_kernels
    except ImportError:
        return None
    import numba

    threads = min(torch.get_num_threads(), numba.config.NUMBA_NUM_THREADS)
    if threads <= 1:
        return flip_kernels.SERIAL
    numba.set_num_threads(threads)
    return flip_kernels.PARALLEL


#: Serializes kernel launches from several Python threads (numba's "workqueue" threading layer, where neither
#: TBB nor OpenMP is found, is not thread-safe); each launch is itself parallel.
_KERNEL_LOCK = threading.Lock()

#: Each chunk's slice of a compiled sparse draw holds this many standard deviations above the expected events.
SPARSE_SLACK = 12


def _buffer(space, key, size, dtype):
    if key not in space or space[key].size < size:
        space[key] = np.empty(size, dtype=dtype)
    return space[key][:size]


def _fused_target(tensor, write, kernels):
    """``(fused, lookup, out)``: whether a kernel can write the read-back into the parameter as it samples (a
    float32/float64 contiguous parameter on the CPU), with the NumPy views it writes through."""
    fused = write and kernels is not None and tensor.lookup.dtype in (torch.float32, torch.float64) \
        and tensor.parameter.device.type == "cpu" and tensor.parameter.is_contiguous()
    if not fused:
        return False, np.zeros(1), np.zeros(1)
    return True, tensor.lookup.numpy(), tensor.parameter.detach().view(-1).numpy()


def _finish(tensor, mask, fused, write):
    if fused:
        tensor.written_(mask)
    elif write:
        tensor.write_(mask)
    return mask


def _mask_buffer(space, size, n_bits):
    return _buffer(space, "masks", size, np.uint8 if n_bits <= 8 else np.int32)


def _channel_mask(tensor, law, generator, reuse, write):
    """One draw of ``law`` (:class:`qtaml_tac.flip_law.FlipLaw`) for ``tensor``, seeded from ``generator``.

    With ``write`` the read-back is also written into the parameter: by the
    compiled kernel while it samples when it can, else afterwards by
    :meth:`StoredTensor.write_`.
    """
    seed = int(torch.randint(2**63 - 1, (), generator=generator))
    size = tensor.size
    if law.event_rate == 0:
        mask = FlipMask(size, torch.empty(0, dtype=torch.int64), torch.empty(0, dtype=torch.int32))
        return _finish(tensor, mask, False, write)
    kernels = compiled_kernels()
    codes = tensor.codes.numpy()
    fused, lookup, out = _fused_target(tensor, write, kernels)
    space = tensor.workspace if reuse else {}
    if law.dense_regime:
        masks = _mask_buffer(space, size, law.n_bits)
        if kernels is None:
            masks[:] = law.dense(codes, seed)
        else:
            tables = law.kernel_arrays
            with _KERNEL_LOCK:
                kernels.dense_flips(codes, seed, tables["slots"], tables["cdfs"], tables["shifts"], law.n_bits,
                                    law.directional, masks, fused, lookup, out)
        mask = FlipMask(size, dense_mask=torch.from_numpy(masks))
    elif kernels is None:
        flips = law.sparse(codes, seed)
        mask = FlipMask(size, torch.from_numpy(flips.positions), torch.from_numpy(flips.values))
    else:
        previous = tensor.patch_base_().numpy() if fused else np.zeros(0, dtype=np.int64)
        mask = FlipMask(size, *_compiled_sparse(kernels, law, codes, seed, space, fused, lookup, out, previous))
    return _finish(tensor, mask, fused, write)


def _compared_mask(tensor, key, n_bits, exposed, by_bit, cells, reuse, write):
    """Masks by comparing each (cell, bit)'s uniform of the stream ``key`` with its rate (per-cell rates, chips)."""
    kernels = compiled_kernels()
    codes = tensor.codes.numpy()
    fused, lookup, out = _fused_target(tensor, write, kernels)
    masks = _mask_buffer(tensor.workspace if reuse else {}, tensor.size, n_bits)
    cell_rates = None if cells is None else np.ascontiguousarray(cells.numpy(), dtype=np.float64)
    if kernels is None:
        masks[:] = compared_masks(key, codes, n_bits, exposed, by_bit[0], by_bit[1], cell_rates)
    else:
        with _KERNEL_LOCK:
            kernels.compared_flips(codes, np.uint64(key), n_bits, exposed, by_bit[0], by_bit[1],
                                   np.zeros(1) if cell_rates is None else cell_rates, cell_rates is not None,
                                   masks, fused, lookup, out)
    return _finish(tensor, FlipMask(tensor.size, dense_mask=torch.from_numpy(masks)), fused, write)


def _compiled_sparse(kernels, law, codes, seed, space, write, lookup, out, previous):
    """Positions and values of a sparse draw by the compiled kernel (each chunk fills its own slice)."""
    n_chunks = -(-codes.size // CHUNK)
    expected = law.event_rate * min(CHUNK, codes.size)
    capacity = min(CHUNK, max(1, int(expected + SPARSE_SLACK * math.sqrt(expected) + 32)))
    if previous.size and np.any(previous[1:] < previous[:-1]):
        previous = np.sort(previous)
    previous_start = np.searchsorted(previous, np.arange(n_chunks + 1, dtype=np.int64) * CHUNK)
    tables = law.kernel_arrays
    while True:
        positions = _buffer(space, "positions", n_chunks * capacity, np.int64)
        values = _buffer(space, "values", n_chunks * capacity, np.int32)
        counts = np.empty(n_chunks, dtype=np.int64)
        with _KERNEL_LOCK:
            kernels.sparse_flips(codes, seed, law.gaps.slots, law.gaps.cdf, law.gap_skip, tables["slots"],
                                 tables["cdfs"], tables["given_slots"], tables["given_cdfs"], tables["shifts"],
                                 law.n_bits, law.directional, positions, values, counts, capacity, write, lookup,
                                 out, previous, previous_start)
        if counts.min() >= 0:
            break
        capacity = CHUNK  # a slice overflowed (beyond SPARSE_SLACK standard deviations): redraw the same stream
    slices = [slice(c * capacity, c * capacity + counts[c]) for c in range(n_chunks)]
    return (torch.from_numpy(np.concatenate([positions[s] for s in slices])),
            torch.from_numpy(np.concatenate([values[s] for s in slices])))


def _tensor_mask(tensor, faults, n_bits, protected, generator, chip, reuse=False, write=False):
    """One draw of ``tensor``'s flip mask; with ``write`` its read-back is written into the parameter too."""
    exposed = max(n_bits - protected, 0)
    channel = faults.channel_for(tensor, n_bits)
    cells = faults.cell_rates(tensor, n_bits) if channel is None else None
    if channel is None and cells is None:
        raise ValueError(f"fault model {faults!r} gives neither a channel nor cell rates")
    if chip is None and cells is None:
        law = FlipLaw.from_rates(*_rates_by_stored_bit(channel, n_bits), exposed)
        return _channel_mask(tensor, law, generator, reuse, write)
    by_bit = _rates_by_stored_bit(channel, n_bits) if channel is not None else [np.zeros(n_bits)] * 2
    key = chip.key(tensor) if chip is not None else int(torch.randint(2**63 - 1, (), generator=generator))
    return _compared_mask(tensor, key, n_bits, exposed, by_bit, cells, reuse, write)


def sample_masks(storage, faults, protection=None, generator=None, chip=None, reuse_buffers=False, names=None):
    """One draw of flip masks for every stored tensor.

    Parameters
    ----------
    storage : Storage
    faults : FaultModel, Channel or float
        A number or channel means ``ChannelFaults(...)``.
    protection : dict, optional
        ``{name: k}``: the top ``k`` bits of that tensor never flip (``k`` an
        integer in ``0..n_bits``, every name a stored parameter).
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
    faults = _as_fault_model(faults, storage)
    n_bits = storage.config.n_bits
    _check_generator(generator)
    if chip is not None and not isinstance(chip, Chip):
        raise ValueError(f"chip must be a qtaml_tac.Chip or None, got {chip!r}")
    if isinstance(faults, ChannelFaults):
        check_names(faults.per_layer, "per_layer", storage.names)
    protection = {} if protection is None else check_bit_counts(protection, "protection", storage.names, n_bits)
    if names is not None:
        names = [names] if isinstance(names, str) else list(names)
        check_names(names, "names", storage.names)
    wanted = None if names is None else set(names)
    targets = [(tensor, protection.get(tensor.name, 0)) for tensor in storage
               if wanted is None or tensor.name in wanted]
    for tensor, _ in targets:
        faults.channel_for(tensor, n_bits)  # raises on a channel of the wrong width
    return {tensor.name: _tensor_mask(tensor, faults, n_bits, protected, generator, chip, reuse, write)
            for tensor, protected in targets}


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


def _as_fault_model(faults, storage):
    if isinstance(faults, LayerVariationFaults):
        return faults.bind(storage)
    if isinstance(faults, FaultModel):
        return faults
    if isinstance(faults, Channel) or (isinstance(faults, numbers.Real) and not isinstance(faults, bool)) \
            or type(faults).__module__.startswith("sympy"):
        return ChannelFaults(faults)
    raise ValueError(f"faults must be a FaultModel, a channel or a flip probability, got {faults!r}")


def inject_(storage, faults, protection=None, generator=None, chip=None):
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
def deployed(storage, faults=None, protection=None, generator=None, chip=None):
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
