"""A deployment plan: per-layer protected bits, compensation, scales, gains and scores (Algorithm 1).

A :class:`Plan` is plain data, serializable to versioned JSON and back, so
that a plan computed once (calibration is the expensive part) can be stored,
inspected and deployed elsewhere. Loading checks the whole schema and names
the first wrong field (``layers[3].bits must be an integer in 0..8, got
'2'``). :func:`storage_for` turns a plan into the stored tensors (Step 4) and
:func:`protection_for` into the per-layer protected bits that injection
respects; both check the plan again first, and :func:`storage_for` refuses a
plan made for another model, naming the layer that does not fit.

The argument checks shared by the planning side (:func:`check_integer`,
:func:`check_names`, :func:`check_bit_counts`) live here too: each raises
``ValueError`` naming the argument and the allowed range.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields

from torch import nn

from qtaml_theory.protection import IdealMSB, ProtectionScheme, scheme_from_dict
from qtaml_theory.validation import check_integer

from ._plan_schema import _choice, _fields_of, _number, channel_from_dict, channel_to_dict, nominal_rate
from .method_registry import METHODS
from .storage import Storage, StorageConfig, quantize

__all__ = ["COMPENSATIONS", "LayerPlan", "Plan", "storage_for", "protection_for", "PLAN_VERSION",
           "channel_to_dict", "channel_from_dict", "nominal_rate"]

#: Version of the plan JSON schema written by :meth:`Plan.to_json`.
PLAN_VERSION = 1

#: Per-layer compensation: none; Prop 4.1's w / (1 - 2p); the exact MMSE code table.
COMPENSATIONS = ("none", "mean", "mmse")

#: How a plan's bits were allocated (``None``: no allocation); a plan never records "continuous",
#: so this is not :data:`qtaml_theory.allocation.ALLOCATION_METHODS`.
PLAN_ALLOCATORS = ("exact", "greedy", "uniform")



def check_names(given: Iterable[str], argument: str, names: Sequence[str]) -> None:
    """Refuse names in ``given`` that are not among ``names`` (the stored parameters), listing both."""
    known = set(names)
    unknown = [name for name in given if name not in known]
    if unknown:
        raise ValueError(f"{argument} names parameters that are not stored: {unknown}; "
                         f"the stored parameters are {list(names)}")


def check_bit_counts(bits: Mapping, argument: str, names: Sequence[str], n_bits: int) -> dict[str, int]:
    """``{name: k}`` checked: every name among ``names``, every ``k`` an integer in ``0..n_bits``.

    Parameters
    ----------
    bits : Mapping
        Per-parameter bit counts (protected bits, floors).
    argument : str
        The argument's name, for the error message.
    names : sequence of str
        The stored parameters.
    n_bits : int
        Bits per stored weight.

    Returns
    -------
    dict
        ``{name: int}``.
    """
    if not isinstance(bits, Mapping):
        raise ValueError(f"{argument} must be a {{name: bits}} mapping, got {type(bits).__name__}")
    check_names(bits, argument, names)
    return {name: check_integer(k, f"{argument}[{name!r}]", 0, n_bits) for name, k in bits.items()}


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
    gain_standard_error : float or None
        The standard error of ``gain`` from its probes
        (:attr:`qtaml_tac.gain_estimators.Gains.standard_errors`), where known.
    score : float or None
        Per-weight score s_l = Delta_l**2 G_l / N_l (or the method's own signal).
    bits : int
        Protected top bits k_l (for a real code, the planes it guards).
    compensation : str
        One of :data:`COMPENSATIONS`.
    factor : float
        Storage pre-scaling, divided out at the read (weight scaling's c_l).
    correction : float
        A multiplier stored and *not* divided out (a drift pre-compensation, such as the cells' one-step
        charge-loss factor); the mean correction's own ``1/(1-2p)`` is applied from ``p`` on top
        (:func:`storage_for`).
    protection : dict or None
        The layer's protection scheme as data (:func:`qtaml_theory.protection.scheme_to_dict`);
        ``None`` is the paper's ``IdealMSB(bits)``.
    """

    name: str
    size: int
    scale: float
    gain: float | None = None
    score: float | None = None
    bits: int = 0
    compensation: str = "none"
    factor: float = 1.0
    protection: dict | None = None
    gain_standard_error: float | None = None
    correction: float = 1.0

    def __post_init__(self) -> None:
        if self.compensation not in COMPENSATIONS:
            raise ValueError(f"compensation must be one of {COMPENSATIONS}, got {self.compensation!r}")

    def scheme(self) -> ProtectionScheme:
        """The layer's protection scheme (:class:`~qtaml_theory.protection.IdealMSB` when :attr:`protection` is None)."""
        return IdealMSB(self.bits) if self.protection is None else scheme_from_dict(self.protection)

    def storage_bits(self, n_bits: int) -> int:
        """Extra stored bits of the layer's protection (``size * bits`` for the paper's)."""
        return self.scheme().storage_bits(self.size, n_bits)


@dataclass
class Plan:
    """A deployment plan (Algorithm 1's output).

    ``p`` is the channel's nominal flip rate (:func:`nominal_rate`) and
    ``channel`` the channel itself as data (:func:`channel_to_dict`).
    ``excluded`` maps each parameter that is not stored in the faulty memory
    to the reason (:func:`qtaml_tac.storage.excluded_parameters`); plans
    saved before it existed load with an empty one. ``storage_options``
    holds the :class:`~qtaml_tac.storage.StorageConfig` fields of the scale
    layout that differ from the paper's (``granularity``, ``symmetric``,
    ``scales_in_faulty_memory``, ``uneven_rows``, ``on_nonfinite``; issue 15); empty for the paper's storage,
    and then absent from :meth:`to_dict`.
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
    excluded: dict = field(default_factory=dict)
    version: int = PLAN_VERSION
    storage_options: dict = field(default_factory=dict)

    @property
    def total_weights(self) -> int:
        return sum(layer.size for layer in self.layers)

    @property
    def overhead(self) -> float:
        """Extra stored bits of protection as a fraction of all stored data bits (the ECC overhead)."""
        return self.bits_spent / (self.n_bits * self.total_weights)

    def layer(self, name: str) -> LayerPlan:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def to_dict(self) -> dict:
        """The plan as JSON data; a layer's ``protection`` appears only when it is a real code.

        Plans of the paper's protection therefore serialize exactly as they
        did before real codes existed; likewise ``gain_standard_error``
        appears only where it is known, and ``correction`` only where it is not 1.
        """
        data = asdict(self)
        if not data["storage_options"]:
            del data["storage_options"]
        for layer in data["layers"]:
            for key in ("protection", "gain_standard_error"):
                if layer[key] is None:
                    del layer[key]
            if layer["correction"] == 1.0:
                del layer["correction"]
        return data

    def to_json(self, **kwargs: object) -> str:
        """The plan as JSON text (``version`` says which schema)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, data: Mapping) -> Plan:
        """A plan from :meth:`to_dict` data, every field checked.

        Raises
        ------
        ValueError
            Naming the first wrong field: a missing or unknown field, a wrong
            type or range (bits outside ``0..n_bits``, a factor or scale that
            is not positive, a method that is not registered, an unknown compensation or channel), a
            ``p`` that is not the channel's nominal rate, or ``bits_spent``
            that the layers do not add up to.
        """
        data = _checked_plan_data(data)
        data["layers"] = [LayerPlan(**layer) for layer in data["layers"]]
        return cls(**data)

    @classmethod
    def from_json(cls, text: str | bytes) -> Plan:
        """A plan from :meth:`to_json` text (see :meth:`from_dict` for the checks)."""
        return cls.from_dict(json.loads(text))


def _checked_layer(data: Mapping, where: str, n_bits: int) -> dict:
    known = [f.name for f in fields(LayerPlan)]
    layer = _fields_of("layer", data, known, ("name", "size", "scale"), where)
    if not isinstance(layer["name"], str) or not layer["name"]:
        raise ValueError(f"{where}.name must be a non-empty string, got {layer['name']!r}")
    layer["size"] = check_integer(layer["size"], f"{where}.size", 1)
    layer["scale"] = _number(layer["scale"], f"{where}.scale", positive=True)
    for key in ("gain", "score", "gain_standard_error"):
        layer[key] = _number(layer.get(key), f"{where}.{key}", optional=True)
    layer["bits"] = check_integer(layer.get("bits", 0), f"{where}.bits", 0, n_bits)
    _choice(layer.get("compensation", "none"), f"{where}.compensation", COMPENSATIONS)
    layer["factor"] = _number(layer.get("factor", 1.0), f"{where}.factor", positive=True)
    layer["correction"] = _number(layer.get("correction", 1.0), f"{where}.correction", positive=True)
    if layer.get("protection") is not None:
        scheme = scheme_from_dict(layer["protection"], f"{where}.protection")
        scheme.check_width(n_bits)
        k = getattr(scheme, "k", 0)
        if k != layer["bits"]:
            raise ValueError(f"{where}.bits must be the planes its protection guards ({k}), got {layer['bits']}")
    return layer


def _checked_plan_data(data: Mapping) -> dict:
    """The plan's fields checked against the schema (see :meth:`Plan.from_dict`), with its layers as dicts."""
    known = [f.name for f in fields(Plan)]
    plan = _fields_of("plan", data, known, ("version", "method", "p", "n_bits", "encoding", "layers", "channel"), "")
    if plan["version"] != PLAN_VERSION:
        raise ValueError(f"plan version must be {PLAN_VERSION}, got {plan['version']!r}")
    _choice(plan["method"], "method", METHODS)
    plan["n_bits"] = check_integer(plan["n_bits"], "n_bits", 1)
    options = plan.get("storage_options", {})
    if not isinstance(options, Mapping) or not set(options) <= set(STORAGE_OPTIONS):
        raise ValueError(f"storage_options must be an object with keys among {STORAGE_OPTIONS}, got {options!r}")
    plan["storage_options"] = {key: tuple(value) if isinstance(value, list) else value
                               for key, value in options.items()}
    StorageConfig(n_bits=plan["n_bits"], encoding=plan["encoding"], **plan["storage_options"])  # named errors
    channel = channel_from_dict(plan["channel"])
    try:
        channel.check_width(plan["n_bits"])
    except ValueError as error:
        raise ValueError(f"channel.{error}") from error
    plan["p"] = _number(plan["p"], "p")
    if not math.isclose(plan["p"], nominal_rate(channel), rel_tol=1e-12):
        raise ValueError(f"p must be the channel's nominal rate {nominal_rate(channel)!r}, got {plan['p']!r}")
    if not isinstance(plan["layers"], list) or not plan["layers"]:
        raise ValueError(f"layers must be a non-empty list of layer objects, got {plan['layers']!r}")
    plan["layers"] = [_checked_layer(layer, f"layers[{i}]", plan["n_bits"]) for i, layer in enumerate(plan["layers"])]
    seen = set()
    for i, layer in enumerate(plan["layers"]):
        if layer["name"] in seen:
            raise ValueError(f"layers[{i}].name {layer['name']!r} appears twice")
        seen.add(layer["name"])
    plan["budget_bits"] = _number(plan.get("budget_bits", 0.0), "budget_bits")
    spent = sum(LayerPlan(**layer).storage_bits(plan["n_bits"]) for layer in plan["layers"])
    plan["bits_spent"] = check_integer(plan.get("bits_spent", 0), "bits_spent", 0)
    if plan["bits_spent"] != spent:
        raise ValueError(f"bits_spent must be the layers' protected bits (sum of size * bits, or of a real code's "
                         f"check bits, = {spent}), got {plan['bits_spent']}")
    if spent > plan["budget_bits"]:
        raise ValueError(f"the layers spend {spent} bits, above budget_bits = {plan['budget_bits']}")
    plan["predicted_rho"] = _number(plan.get("predicted_rho"), "predicted_rho", optional=True)
    _choice(plan.get("allocation_method"), "allocation_method", PLAN_ALLOCATORS, optional=True)
    if not isinstance(plan.get("notes", {}), Mapping):
        raise ValueError(f"notes must be an object, got {plan['notes']!r}")
    excluded = plan.get("excluded", {})
    if not isinstance(excluded, Mapping) or not all(isinstance(k, str) and isinstance(v, str)
                                                    for k, v in excluded.items()):
        raise ValueError(f"excluded must be an object mapping parameter names to reasons (strings), got {excluded!r}")
    plan["excluded"] = dict(excluded)
    return plan


def _storage_config(plan: Plan) -> StorageConfig:
    return StorageConfig(n_bits=plan.n_bits, encoding=plan.encoding, names=tuple(layer.name for layer in plan.layers),
                         **plan.storage_options)


#: The StorageConfig fields a plan carries beyond n_bits and encoding (the scale layout, issue 15).
STORAGE_OPTIONS = ("granularity", "symmetric", "scales_in_faulty_memory", "uneven_rows", "on_nonfinite")


def storage_options(config: StorageConfig) -> dict:
    """The fields of :data:`STORAGE_OPTIONS` where ``config`` differs from the default (the paper's storage)."""
    default = StorageConfig()
    return {key: getattr(config, key) for key in STORAGE_OPTIONS if getattr(config, key) != getattr(default, key)}


def protection_for(plan: Plan) -> dict[str, int | ProtectionScheme]:
    """``{name: protected bits or scheme}`` for injection (the plan is checked first, see :meth:`Plan.from_dict`).

    The paper's protection gives the count of top bits that never flip; a
    real code gives its :mod:`qtaml_theory.protection` scheme.
    """
    _checked_plan_data(plan.to_dict())
    return {layer.name: layer.bits if layer.protection is None else layer.scheme() for layer in plan.layers}


def _check_fits(model: nn.Module, plan: Plan) -> None:
    parameters = dict(model.named_parameters())
    for layer in plan.layers:
        parameter = parameters.get(layer.name)
        if parameter is None:
            raise ValueError(f"the plan's layer {layer.name!r} is not a parameter of the model: the plan was made "
                             f"for another model (the model's parameters are {list(parameters)})")
        if parameter.numel() != layer.size:
            raise ValueError(f"the plan's layer {layer.name!r} has {layer.size} weights but the model's parameter "
                             f"has {parameter.numel()} (shape {tuple(parameter.shape)}): the plan was made for "
                             "another model")


def storage_for(model: nn.Module, plan: Plan) -> Storage:
    """Step 4: store the model's tensors as the plan says (compensation, then quantization).

    The compensation is computed for the plan's channel: mean correction by
    :func:`qtaml_theory.compensation.mean_correction_factor`, the exact table
    under the residual channel of the layer's protection
    (:meth:`qtaml_theory.protection.ProtectionScheme.residual_channel`: exact
    for the paper's protected bits and repetition, the per-bit rates after
    decoding for a block code).

    Raises
    ------
    ValueError
        A plan that fails its schema (:meth:`Plan.from_dict`), or one made for
        another model: a layer that is not among the model's parameters, or
        whose size differs from the parameter's (the message names it).
    """
    from qtaml_theory.compensation import mean_correction_factor

    _checked_plan_data(plan.to_dict())
    _check_fits(model, plan)
    channel = channel_from_dict(plan.channel)
    factors, channels, corrections = {}, {}, {}
    for layer in plan.layers:
        correction = layer.correction
        if layer.compensation == "mean":
            correction *= float(mean_correction_factor(channel))
        elif layer.compensation == "mmse":
            channels[layer.name] = layer.scheme().residual_channel(channel, plan.n_bits)
        if not math.isclose(layer.factor, 1.0):
            factors[layer.name] = layer.factor
        if not math.isclose(correction, 1.0):
            corrections[layer.name] = correction
    return quantize(model, _storage_config(plan), factors=factors, channels=channels, corrections=corrections)
