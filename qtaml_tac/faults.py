"""Fault models: where and how often stored bits flip (stage 2, cells and channel; Section 3, 5.7).

One interface, :class:`FaultModel`: per stored tensor, either a channel (the
same rates for every weight storing the same bits) or per-cell rates, and the
average rate over the unprotected bits (to match variants). A model first
binds to a storage (:meth:`FaultModel.bind`): most return themselves, a model
whose rates depend on the whole storage fixes them there.

- :class:`ChannelFaults`: a symmetric, per-bit or directional channel of
  :mod:`qtaml_theory.channels`, optionally one per layer; or a
  :class:`~qtaml_theory.channels.MultiLevelChannel`, whose cells of ``b``
  bits land on levels drawn from their transitions and read back by the
  level map (issue 16);
- the non-uniform variants of Section 5.7 at a matched average rate:
  :class:`BitRampFaults`, :class:`CellVariationFaults`,
  :class:`ClusteredFaults`, :class:`LayerVariationFaults`.

A :class:`Chip` fixes the uniform of every (cell, bit): a bit flips when its
uniform is below its rate, so the faults at a lower rate are a subset of those
at a higher rate (nested faults, one physical chip across ``p``).

:mod:`qtaml_tac.inject` draws the flips of any of them.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import torch

from qtaml_theory.channels import Channel, PerBitChannel, SymmetricChannel, as_channel
from qtaml_theory.validation import as_rate, check_integer

from .flip_law import cell_uniforms
from .plan import check_names

__all__ = [
    "MAX_CELL_RATE",
    "FaultModel",
    "ChannelFaults",
    "BitRampFaults",
    "CellVariationFaults",
    "ClusteredFaults",
    "LayerVariationFaults",
    "Chip",
]

#: Spread rates (per cell, per layer) are capped here: past 1/2 a flip would be likelier than no flip (Section 5.7).
MAX_CELL_RATE = 0.5


class FaultModel:
    """Where and how often bits flip. Subclasses give, per stored tensor, either a channel or per-cell rates."""

    def bind(self, storage) -> FaultModel:
        """The model for one :class:`qtaml_tac.storage.Storage`, checked against it (default: itself).

        Raises
        ------
        ValueError
            If the model names parameters that ``storage`` does not hold.
        """
        return self

    def channel_for(self, tensor, n_bits: int) -> Channel | None:
        """The flip channel of ``tensor`` (rates by bit position and stored bit), or ``None``."""
        return None

    def cell_rates(self, tensor, n_bits: int) -> torch.Tensor | None:
        """A float64 tensor of per-cell rates (the same for every bit of a cell), or ``None``."""
        return None

    def mean_rate(self, storage, protection: dict | None = None) -> float:
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

    def bind(self, storage):
        check_names(self.per_layer, "per_layer", storage.names)
        return self

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
    """Per-cell rates: each cell's ``p`` is log-normal with spread ``sigma``, scaled to average ``p`` (Section 5.7).

    The rates are a property of the chip: drawn once from ``seed`` (per tensor),
    then every trial samples flips with them. Rates are capped at
    :data:`MAX_CELL_RATE`.
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
    return rates.clamp(max=MAX_CELL_RATE)


@lru_cache(maxsize=64)
def _clustered_cell_rates(p, block, fraction, hot, seed, name, size):
    """Drawn once per chip and tensor (cached: every trial reuses them; do not modify the result)."""
    generator = _chip_generator(seed, name)
    hot_blocks = torch.rand(math.ceil(size / block), dtype=torch.float64, generator=generator) < fraction
    level = torch.where(hot_blocks, hot, 1.0).repeat_interleave(block)[:size]
    return (p * level / level.mean()).clamp(max=MAX_CELL_RATE)


@dataclass(frozen=True)
class ClusteredFaults(FaultModel):
    """Spatially clustered faults: blocks of ``block`` consecutive cells run ``hot`` times hotter (Section 5.7).

    A share ``fraction`` of the blocks is hot; rates are scaled so that the
    average stays ``p`` (capped at :data:`MAX_CELL_RATE`). The hot blocks are
    fixed by ``seed``.
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
    """Per-layer rates: log-normal with spread ``sigma`` across layers, size-weighted average ``p`` (Section 5.7).

    The rates depend on the layers' sizes, so the model binds to a storage
    (:meth:`bind`) before its flips are drawn. Rates are capped at
    :data:`MAX_CELL_RATE`.
    """

    def layer_rates(self, storage) -> dict:
        """``{name: rate}`` for every tensor of ``storage`` (fixed by ``seed``)."""
        rng = np.random.default_rng(self.seed)
        sizes = np.array([t.size for t in storage], dtype=np.float64)
        raw = np.exp(rng.normal(0.0, self.sigma, sizes.size))
        rates = np.minimum(self.p * raw * sizes.sum() / (raw @ sizes), MAX_CELL_RATE)
        return dict(zip(storage.names, rates.tolist()))

    def bind(self, storage):
        """The equivalent :class:`ChannelFaults` for one storage."""
        return ChannelFaults(0.0, {name: SymmetricChannel(rate) for name, rate in self.layer_rates(storage).items()})

    def mean_rate(self, storage, protection=None):
        return self.bind(storage).mean_rate(storage, protection)


class Chip:
    """One physical chip: a fixed uniform for every (cell, bit), so that faults nest across rates (Section 5.7).

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

    def __init__(self, seed: int = 0):
        self.seed = check_integer(seed, "seed", 0)

    def key(self, tensor) -> int:
        """The 64-bit stream key of ``tensor`` on this chip."""
        return _chip_state(self.seed, tensor.name, np.uint64)

    def uniforms(self, tensor, n_bits: int) -> torch.Tensor:
        """float64 uniforms of shape ``(n_bits, size)`` for ``tensor`` (recomputed on each call)."""
        cells = np.arange(tensor.size)
        return torch.from_numpy(np.stack([cell_uniforms(self.key(tensor), cells, n_bits, bit) for bit in range(n_bits)]))
