"""Bit-exact fault injection: the read-back code is the stored code XOR a random mask (Section 3, 5.7).

Each unprotected bit flips independently with the rate its fault model gives
it; the top ``k_l`` bits of layer ``l`` never flip. Sampling is exact in
distribution: for every bit position and stored-bit value the number of flips
is drawn from its binomial law and the flipped cells uniformly without
replacement (sparse rates), or each cell is compared with a float64 uniform
(per-cell rates; float64, so no ``2**-24`` grid bias), or, for dense channel
rates, each weight's whole mask is drawn from per-code alias tables with one
random word (exact up to float64 rounding of the table, ties resolved exactly).
All draws come from a ``torch.Generator``.

A :class:`Chip` fixes the uniforms of every (cell, bit) once: a bit flips when
its uniform is below its rate, so the faults at a lower rate are a subset of
those at a higher rate (nested faults, one physical chip across ``p``).

Fault models (one interface, :class:`FaultModel`): :class:`ChannelFaults`
(symmetric, per-bit or directional channel of :mod:`qtaml_theory.channels`,
optionally per layer) and the non-uniform variants of Section 5.7 at a matched
average rate: :class:`BitRampFaults`, :class:`CellVariationFaults`,
:class:`ClusteredFaults`, :class:`LayerVariationFaults`.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field

import numpy as np
import torch

from qtaml_theory.channels import Channel, PerBitChannel, SymmetricChannel, as_channel

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
    "DENSE_RATE",
]

#: Above this rate a bit position is sampled densely (one uniform per cell).
DENSE_RATE = 0.05


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


def _check_rate(value, name):
    if not (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= 1):
        raise ValueError(f"{name} must be a probability in [0, 1], got {value!r}")
    return float(value)


@dataclass(frozen=True)
class ChannelFaults(FaultModel):
    """Flips by a :mod:`qtaml_theory.channels` channel, the same for every layer or one per layer.

    Parameters
    ----------
    channel : Channel or float
        A number ``p`` means ``SymmetricChannel(p)``.
    per_layer : dict, optional
        ``{name: channel}`` overriding ``channel`` for some layers (per-layer ``p``).
    """

    channel: object = 0.0
    per_layer: dict = field(default_factory=dict)

    def __post_init__(self):
        object.__setattr__(self, "channel", as_channel(self.channel))
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
        _check_rate(self.p, "p")
        if not -1 <= self.slope <= 1:
            raise ValueError(f"slope must lie in [-1, 1], got {self.slope!r}")

    def channel_for(self, tensor, n_bits):
        if n_bits == 1:
            return PerBitChannel([self.p])
        rates = [self.p * (1 + self.slope * (2 * i / (n_bits - 1) - 1)) for i in range(n_bits)]
        return PerBitChannel([_check_rate(r, "bit-ramp rate") for r in rates])

    def mean_rate(self, storage, protection=None):
        return _mean_channel_rate(storage, protection, lambda tensor: self.channel_for(tensor, storage.config.n_bits))


def _chip_generator(seed, name):
    generator = torch.Generator()
    generator.manual_seed(int(np.random.SeedSequence([seed, *name.encode()]).generate_state(1)[0]))
    return generator


@dataclass(frozen=True)
class _LogNormalSpread(FaultModel):
    """Rates spread log-normally (``sigma``) about an average ``p``, fixed by ``seed``."""

    p: float
    sigma: float = 1.0
    seed: int = 0

    def __post_init__(self):
        _check_rate(self.p, "p")
        if not self.sigma >= 0:
            raise ValueError(f"sigma must be >= 0, got {self.sigma!r}")


@dataclass(frozen=True)
class CellVariationFaults(_LogNormalSpread):
    """Per-cell rates: each cell's ``p`` is log-normal with spread ``sigma``, scaled to average ``p``.

    The rates are a property of the chip: drawn once from ``seed`` (per tensor),
    then every trial samples flips with them. Rates are capped at 1/2.
    """

    def cell_rates(self, tensor, n_bits):
        generator = _chip_generator(self.seed, tensor.name)
        log_rates = torch.randn(tensor.size, dtype=torch.float64, generator=generator) * self.sigma
        rates = torch.exp(log_rates - self.sigma**2 / 2) * self.p  # mean p before the cap
        return rates.clamp(max=0.5)

    def mean_rate(self, storage, protection=None):
        rates = [self.cell_rates(t, storage.config.n_bits) for t in storage]
        return float(torch.cat(rates).mean())


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
        _check_rate(self.p, "p")
        if self.block < 1 or not 0 < self.fraction <= 1 or not self.hot >= 1:
            raise ValueError("block must be >= 1, fraction in (0, 1] and hot >= 1")

    def cell_rates(self, tensor, n_bits):
        generator = _chip_generator(self.seed, tensor.name)
        blocks = math.ceil(tensor.size / self.block)
        hot_blocks = torch.rand(blocks, dtype=torch.float64, generator=generator) < self.fraction
        level = torch.where(hot_blocks, self.hot, 1.0).repeat_interleave(self.block)[: tensor.size]
        return (self.p * level / level.mean()).clamp(max=0.5)

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
    """Fixed uniforms for every (cell, bit): faults nested across rates (one physical chip).

    Parameters
    ----------
    seed : int
    """

    def __init__(self, seed=0):
        self.seed = int(seed)
        self._uniforms = {}

    def uniforms(self, tensor, n_bits):
        """float64 uniforms of shape ``(n_bits, size)`` for ``tensor``, drawn once."""
        key = (tensor.name, n_bits)
        if key not in self._uniforms:
            generator = _chip_generator(self.seed, tensor.name)
            self._uniforms[key] = torch.rand((n_bits, tensor.size), dtype=torch.float64, generator=generator)
        return self._uniforms[key]


def _positions(count, rate, generator):
    """Indices of the successes among ``count`` Bernoulli(``rate``) trials: binomial count, uniform subset."""
    if rate <= 0 or count == 0:
        return torch.empty(0, dtype=torch.int64)
    successes = int(torch.binomial(torch.tensor([float(count)], dtype=torch.float64),
                                   torch.tensor([rate], dtype=torch.float64), generator=generator).item())
    chosen = torch.empty(0, dtype=torch.int64)
    while chosen.numel() < successes:
        draw = torch.randint(count, (successes - chosen.numel(),), generator=generator)
        chosen = torch.unique(torch.cat([chosen, draw]))
    return chosen


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
            return self.dense_mask
        mask = torch.zeros(self.size, dtype=torch.int32)
        mask[self.positions] = self.values
        return mask


def _sparse_mask(size, flips_by_bit):
    """Combine per-bit flip positions (each unique within its bit) into one sparse XOR mask."""
    if not flips_by_bit:
        empty = torch.empty(0, dtype=torch.int64)
        return FlipMask(size, empty, empty.to(torch.int32))
    positions = torch.cat([p for p, _ in flips_by_bit])
    bits = torch.cat([torch.full((p.numel(),), 1 << i, dtype=torch.int32) for p, i in flips_by_bit])
    unique, inverse = torch.unique(positions, return_inverse=True)
    values = torch.zeros(unique.numel(), dtype=torch.int32).scatter_add_(0, inverse, bits)  # distinct bits: sum = OR
    return FlipMask(size, unique, values)


#: Widths up to this many bits sample dense masks with per-code alias tables.
MAX_ALIAS_BITS = 10
_ALIAS_CACHE = {}


def _alias_tables(by_bit, exposed, n_bits):
    """Per stored code, Vose alias tables of the distribution of its whole flip mask.

    ``P(mask m | code c) = prod_{i < exposed} pi_i(c_i)**m_i (1 - pi_i(c_i))**(1 - m_i)`` (top bits never flip).
    Returns ``(thresholds, fractions, aliases)``: column ``j`` of row ``c`` is kept when a 32-bit
    uniform falls below ``thresholds + fractions`` (scaled by 2**32), else replaced by ``aliases``.
    """
    key = (by_bit[0].tobytes(), by_bit[1].tobytes(), exposed, n_bits)
    if key in _ALIAS_CACHE:
        return _ALIAS_CACHE[key]
    size = 1 << n_bits
    bits = (np.arange(size)[:, None] >> np.arange(n_bits)) & 1
    rates = np.where(bits == 1, by_bit[1], by_bit[0])  # (code, bit)
    rates[:, exposed:] = 0.0
    flips = bits[None, :, :] == 1  # (1, mask, bit)
    probs = np.prod(np.where(flips, rates[:, None, :], 1.0 - rates[:, None, :]), axis=2)  # (code, mask)
    keep = np.ones((size, size))
    aliases = np.tile(np.arange(size), (size, 1))
    for code in range(size):
        scaled = probs[code] * size / probs[code].sum()
        small = [j for j in range(size) if scaled[j] < 1.0]
        large = [j for j in range(size) if scaled[j] >= 1.0]
        while small and large:
            low, high = small.pop(), large.pop()
            keep[code, low], aliases[code, low] = scaled[low], high
            scaled[high] -= 1.0 - scaled[low]
            (small if scaled[high] < 1.0 else large).append(high)
    scaled = np.clip(keep, 0.0, 1.0) * 2.0**32
    whole = np.floor(scaled)
    tables = (torch.as_tensor(whole.astype(np.int64)).flatten(), torch.as_tensor(scaled - whole).flatten(),
              torch.as_tensor(aliases.astype(np.int64)).flatten())
    _ALIAS_CACHE[key] = tables
    return tables


def _alias_mask(tensor, by_bit, exposed, n_bits, generator, reuse):
    """Every weight's whole mask in one draw: one 63-bit random word per weight (n bits pick a column,
    32 bits compare against the column's threshold; exact ties, probability 2**-32, are settled by a
    float64 uniform against the threshold's fractional part).

    With ``reuse`` the temporaries live in the tensor's workspace across trials (no page faults on the
    hot path) and the returned mask is overwritten by the next draw.
    """
    thresholds, fractions, aliases = _alias_tables(by_bit, exposed, n_bits)
    size = tensor.size
    space = tensor.workspace if reuse else {}
    buffer = lambda key, dtype=torch.int64: space.setdefault(key, torch.empty(size, dtype=dtype))  # noqa: E731
    if "shifted_codes" not in tensor.workspace:
        tensor.workspace["shifted_codes"] = tensor.codes.long() << n_bits
    words = buffer("words").random_(generator=generator)
    column = torch.bitwise_and(words, (1 << n_bits) - 1, out=buffer("column"))
    uniform = torch.bitwise_right_shift(words, n_bits, out=buffer("uniform")).bitwise_and_(0xFFFFFFFF)
    slot = torch.add(tensor.workspace["shifted_codes"], column, out=buffer("slot"))
    limit = torch.index_select(thresholds, 0, slot, out=buffer("limit"))
    keep = torch.lt(uniform, limit, out=buffer("keep", torch.bool))
    ties = torch.nonzero(uniform == limit).flatten()
    if ties.numel():
        keep[ties] = torch.rand(ties.numel(), dtype=torch.float64, generator=generator) < fractions[slot[ties]]
    alias = torch.index_select(aliases, 0, slot, out=buffer("alias"))
    return torch.where(keep, column, alias, out=buffer("mask"))


def _tensor_mask(tensor, faults, n_bits, protected, generator, chip, reuse=False):
    codes = tensor.codes
    exposed = max(n_bits - protected, 0)
    channel = faults.channel_for(tensor, n_bits)
    cells = faults.cell_rates(tensor, n_bits) if channel is None else None
    if channel is None and cells is None:
        raise ValueError(f"fault model {faults!r} gives neither a channel nor cell rates")
    by_bit = _rates_by_stored_bit(channel, n_bits) if channel is not None else None
    if exposed == 0:
        return _sparse_mask(tensor.size, [])
    if chip is None and cells is None:
        dense_rates = max(by_bit[0][:exposed].max(), by_bit[1][:exposed].max()) >= DENSE_RATE
        if dense_rates and n_bits <= MAX_ALIAS_BITS:
            return FlipMask(tensor.size, dense_mask=_alias_mask(tensor, by_bit, exposed, n_bits, generator, reuse))
        if not dense_rates:
            return _sparse_mask(tensor.size, _sparse_flips(codes, by_bit, exposed, generator))
    mask = torch.zeros_like(codes)
    for i in range(exposed):
        if cells is not None:
            rate = cells
        else:
            rate = torch.where(((codes >> i) & 1).bool(), by_bit[1][i], by_bit[0][i])
        uniforms = chip.uniforms(tensor, n_bits)[i] if chip is not None else \
            torch.rand(tensor.size, dtype=torch.float64, generator=generator)
        mask[uniforms < rate] |= 1 << i
    return FlipMask(tensor.size, dense_mask=mask)


def _sparse_flips(codes, by_bit, exposed, generator):
    """Per bit position, the flipped cells: binomial counts and uniform subsets (by stored bit where rates differ)."""
    flips = []
    for i in range(exposed):
        if by_bit[0][i] == by_bit[1][i]:
            flips.append((_positions(codes.numel(), by_bit[0][i], generator), i))
            continue
        stored = (codes >> i) & 1
        for value in (0, 1):
            members = torch.nonzero(stored == value).flatten()
            flips.append((members[_positions(members.numel(), by_bit[value][i], generator)], i))
    return flips


def sample_masks(storage, faults, protection=None, generator=None, chip=None, reuse_buffers=False, names=None):
    """One draw of flip masks for every stored tensor.

    Parameters
    ----------
    storage : Storage
    faults : FaultModel, Channel or float
        A number or channel means ``ChannelFaults(...)``.
    protection : dict, optional
        ``{name: k}``: the top ``k`` bits of that tensor never flip.
    generator : torch.Generator, optional
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
    faults = _as_fault_model(faults, storage)
    n_bits = storage.config.n_bits
    generator = generator if generator is not None else torch.Generator().manual_seed(0)
    masks = {}
    wanted = None if names is None else set(names)
    for tensor in storage:
        if wanted is not None and tensor.name not in wanted:
            continue
        protected = (protection or {}).get(tensor.name, 0)
        if not 0 <= protected <= n_bits:
            raise ValueError(f"protection for {tensor.name} must be in 0..{n_bits}, got {protected}")
        masks[tensor.name] = _tensor_mask(tensor, faults, n_bits, protected, generator, chip, reuse_buffers)
    return masks


def _as_fault_model(faults, storage):
    if isinstance(faults, LayerVariationFaults):
        return faults.bind(storage)
    if isinstance(faults, FaultModel):
        return faults
    if isinstance(faults, (Channel, int, float)) or type(faults).__module__.startswith(("fractions", "sympy")):
        return ChannelFaults(faults)
    raise ValueError(f"faults must be a FaultModel, a channel or a flip probability, got {faults!r}")


def inject_(storage, faults, protection=None, generator=None, chip=None):
    """Write one noisy read-back of every stored tensor into the model, in place.

    Returns the masks; dense ones live in reused workspaces and are valid until the next injection.
    """
    masks = sample_masks(storage, faults, protection, generator, chip, reuse_buffers=True)
    storage.write_(masks)
    return masks


@contextlib.contextmanager
def deployed(storage, faults=None, protection=None, generator=None, chip=None):
    """A noisy deployment for the duration of a ``with`` block; the float weights come back after.

    With ``faults=None`` the model holds the clean quantized weights.

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
