"""A deployment plan: per-layer protected bits, compensation, scales, gains and scores (Algorithm 1).

A :class:`Plan` is plain data, serializable to versioned JSON and back, so
that a plan computed once (calibration is the expensive part) can be stored,
inspected and deployed elsewhere. :func:`storage_for` turns it into the
stored tensors (Step 4) and :func:`protection_for` into the per-layer
protected bits that injection respects.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

from qtaml_theory.channels import DirectionalChannel, PerBitChannel, ProtectedChannel, SymmetricChannel, as_channel

from .storage import StorageConfig, quantize

__all__ = ["COMPENSATIONS", "LayerPlan", "Plan", "storage_for", "protection_for", "PLAN_VERSION",
           "channel_to_dict", "channel_from_dict", "nominal_rate"]

PLAN_VERSION = 1

#: Per-layer compensation: none; Prop 4.1's w / (1 - 2p); the exact MMSE code table.
COMPENSATIONS = ("none", "mean", "mmse")


def channel_to_dict(channel):
    """A channel as JSON-ready data."""
    channel = as_channel(channel)
    if isinstance(channel, SymmetricChannel):
        return {"kind": "symmetric", "p": float(channel.p)}
    if isinstance(channel, DirectionalChannel):
        return {"kind": "directional", "p01": float(channel.p01), "p10": float(channel.p10)}
    if isinstance(channel, PerBitChannel):
        return {"kind": "per_bit", "rates": [float(r) for r in channel.rates]}
    raise ValueError(f"cannot serialize channel {channel!r}")


def channel_from_dict(data):
    """Inverse of :func:`channel_to_dict`."""
    kinds = {"symmetric": lambda d: SymmetricChannel(d["p"]), "directional": lambda d: DirectionalChannel(d["p01"], d["p10"]),
             "per_bit": lambda d: PerBitChannel(d["rates"])}
    if data.get("kind") not in kinds:
        raise ValueError(f"channel kind must be one of {sorted(kinds)}, got {data.get('kind')!r}")
    return kinds[data["kind"]](data)


def nominal_rate(channel):
    """The average flip probability of a bit that is 0 or 1 with equal odds (``p`` for the symmetric channel)."""
    channel = as_channel(channel)
    if isinstance(channel, SymmetricChannel):
        return float(channel.p)
    if isinstance(channel, DirectionalChannel):
        return (float(channel.p01) + float(channel.p10)) / 2
    return float(sum(channel.rates)) / len(channel.rates)


@dataclass
class LayerPlan:
    """One stored tensor's part of the plan.

    Attributes
    ----------
    name : str
        Parameter name.
    size : int
        Weights N_l.
    scale : float
        Per-tensor quantization step Delta_l.
    gain : float or None
        Jacobian gain G_l (Step 1), where calibrated.
    score : float or None
        Per-weight score s_l = Delta_l**2 G_l / N_l (or the method's own signal).
    bits : int
        Protected top bits k_l.
    compensation : str
        One of :data:`COMPENSATIONS`.
    factor : float
        Storage pre-scaling (weight scaling's c_l; the mean correction's factor is applied from ``p``).
    """

    name: str
    size: int
    scale: float
    gain: float | None = None
    score: float | None = None
    bits: int = 0
    compensation: str = "none"
    factor: float = 1.0

    def __post_init__(self):
        if self.compensation not in COMPENSATIONS:
            raise ValueError(f"compensation must be one of {COMPENSATIONS}, got {self.compensation!r}")


@dataclass
class Plan:
    """A deployment plan (Algorithm 1's output).

    ``p`` is the channel's nominal flip rate (:func:`nominal_rate`) and
    ``channel`` the channel itself as data (:func:`channel_to_dict`).
    """

    method: str
    p: float
    n_bits: int
    encoding: str
    layers: list
    channel: dict = field(default_factory=dict)
    budget_bits: float = 0.0
    bits_spent: int = 0
    predicted_rho: float | None = None
    allocation_method: str | None = None
    notes: dict = field(default_factory=dict)
    version: int = PLAN_VERSION

    @property
    def total_weights(self):
        return sum(layer.size for layer in self.layers)

    @property
    def overhead(self):
        """Protected bits as a fraction of all stored bits (the ECC overhead)."""
        return self.bits_spent / (self.n_bits * self.total_weights)

    def layer(self, name):
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def to_dict(self):
        return asdict(self)

    def to_json(self, **kwargs):
        """The plan as JSON text (``version`` says which schema)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data):
        data = dict(data)
        if data.get("version") != PLAN_VERSION:
            raise ValueError(f"plan version must be {PLAN_VERSION}, got {data.get('version')!r}")
        data["layers"] = [LayerPlan(**layer) for layer in data["layers"]]
        return cls(**data)

    @classmethod
    def from_json(cls, text):
        return cls.from_dict(json.loads(text))


def _storage_config(plan):
    return StorageConfig(n_bits=plan.n_bits, encoding=plan.encoding, names=tuple(layer.name for layer in plan.layers))


def protection_for(plan):
    """``{name: protected bits}`` for injection."""
    return {layer.name: layer.bits for layer in plan.layers}


def storage_for(model, plan):
    """Step 4: store the model's tensors as the plan says (compensation, then quantization).

    The compensation is computed for the plan's channel: mean correction by
    :func:`qtaml_theory.compensation.mean_correction_factor`, the exact table
    under the channel with the layer's protected bits.
    """
    from qtaml_theory.compensation import mean_correction_factor

    channel = channel_from_dict(plan.channel)
    factors, channels = {}, {}
    for layer in plan.layers:
        factor = layer.factor
        if layer.compensation == "mean":
            factor *= mean_correction_factor(channel)
        elif layer.compensation == "mmse":
            channels[layer.name] = ProtectedChannel(channel, layer.bits)
        if not math.isclose(factor, 1.0):
            factors[layer.name] = factor
    return quantize(model, _storage_config(plan), factors=factors, channels=channels)
