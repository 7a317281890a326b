"""The parts of a plan's JSON schema (:mod:`qtaml_tac.plan`; paper Algorithm 1, Step 4).

The channel as JSON data and back (:func:`channel_to_dict`,
:func:`channel_from_dict`) with its nominal rate (:func:`nominal_rate`, a
plan's ``p``), and the checks of one field of a loaded plan: an object's
fields (``_fields_of``), a number (``_number``) and a choice among names
(``_choice``), each naming the field on failure. Re-exported by
:mod:`qtaml_tac.plan`, which checks a whole plan with them.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from fractions import Fraction

import numpy as np

from qtaml_theory.channels import Channel, DirectionalChannel, MultiLevelChannel, PerBitChannel, SymmetricChannel, as_channel

__all__ = ["channel_to_dict", "channel_from_dict", "nominal_rate"]

_CHANNEL_FIELDS = {"symmetric": ("p",), "directional": ("p01", "p10"), "per_bit": ("rates",),
                   "multilevel": ("bits_per_cell", "transition", "level_map")}


def channel_to_dict(channel: Channel | float) -> dict:
    """A channel as JSON-ready data."""
    channel = as_channel(channel)
    if isinstance(channel, SymmetricChannel):
        return {"kind": "symmetric", "p": float(channel.p)}
    if isinstance(channel, DirectionalChannel):
        return {"kind": "directional", "p01": float(channel.p01), "p10": float(channel.p10)}
    if isinstance(channel, PerBitChannel):
        return {"kind": "per_bit", "rates": [float(r) for r in channel.rates]}
    if isinstance(channel, MultiLevelChannel):
        # An exact transition (Fractions) travels as "numerator/denominator" strings, so that it loads back equal.
        entry = str if channel.is_exact else float
        return {"kind": "multilevel", "bits_per_cell": channel.bits_per_cell,
                "transition": [[entry(rate) for rate in row] for row in channel.transition],
                "level_map": channel.level_map}
    raise ValueError(f"cannot serialize channel {channel!r}")


def channel_from_dict(data: Mapping) -> Channel:
    """Inverse of :func:`channel_to_dict`; a wrong kind, a missing or extra field, or a bad rate is a ValueError."""
    if not isinstance(data, Mapping):
        raise ValueError(f"channel must be an object with a 'kind', got {data!r}")
    kind = data.get("kind")
    if kind not in _CHANNEL_FIELDS:
        raise ValueError(f"channel.kind must be one of {sorted(_CHANNEL_FIELDS)}, got {kind!r}")
    expected = {"kind", *_CHANNEL_FIELDS[kind]}
    missing, extra = sorted(expected - set(data)), sorted(set(data) - expected)
    if missing or extra:
        raise ValueError(f"a {kind} channel has the fields {sorted(expected)}; "
                         f"missing {missing}, unknown {extra}")
    constructor = {"symmetric": SymmetricChannel, "directional": DirectionalChannel, "per_bit": PerBitChannel,
                   "multilevel": _multilevel_from_data}[kind]
    try:
        return constructor(*(data[key] for key in _CHANNEL_FIELDS[kind]))
    except ValueError as error:
        raise ValueError(f"channel.{error}") from error


def nominal_rate(channel: Channel | float) -> float:
    """The average flip probability of a bit that is 0 or 1 with equal odds (``p`` for the symmetric channel)."""
    channel = as_channel(channel)
    if isinstance(channel, SymmetricChannel):
        return float(channel.p)
    if isinstance(channel, DirectionalChannel):
        return (float(channel.p01) + float(channel.p10)) / 2
    if isinstance(channel, MultiLevelChannel):
        # Equally likely bits make every cell value equally likely: average each bit's marginal rate over them.
        values = np.arange(channel.levels, dtype=np.int64)
        bits = (values[:, None] >> np.arange(channel.bits_per_cell, dtype=np.int64)) & 1
        return float(np.mean(np.asarray(channel.rates_for_bits(bits), dtype=np.float64)))
    return float(sum(channel.rates)) / len(channel.rates)


def _multilevel_from_data(bits_per_cell, transition, level_map) -> MultiLevelChannel:
    """A :class:`MultiLevelChannel` from its JSON fields; rates written as strings are exact fractions."""
    if isinstance(transition, Sequence) and not isinstance(transition, str):
        transition = [[Fraction(rate) if isinstance(rate, str) else rate for rate in row]
                      if isinstance(row, Sequence) and not isinstance(row, str) else row for row in transition]
    return MultiLevelChannel(bits_per_cell, transition, level_map)


def _fields_of(kind: str, data: Mapping, known: Sequence[str], required: Sequence[str], where: str) -> dict:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where or kind} must be an object (a JSON dict), got {type(data).__name__}")
    prefix = f"{where}." if where else ""
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"{prefix}{missing[0]} is missing: a {kind} needs the fields {list(required)}")
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise ValueError(f"{where or kind} has unknown fields {unknown}; the fields of a {kind} are {list(known)}")
    return dict(data)


def _number(value: object, where: str, *, positive: bool = False, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) \
            or value < 0 or (positive and value == 0):
        kind = "positive" if positive else "non-negative"
        raise ValueError(f"{where} must be a finite {kind} number{' or null' if optional else ''}, got {value!r}")
    return float(value)


def _choice(value: object, where: str, choices: Sequence[str], optional: bool = False) -> str | None:
    if (value is None and optional) or (isinstance(value, str) and value in choices):
        return value
    raise ValueError(f"{where} must be one of {list(choices)}{' or null' if optional else ''}, got {value!r}")
