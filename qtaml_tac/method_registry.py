"""Deployment methods as records in one registry (stage 5; Sections 4.4, 4.6, 5.8).

A :class:`Method` says how a plan is made: where the per-layer scores come
from, which allocator spends the budget on protected bits, which
compensation each layer gets, and whether weights are pre-scaled.
:func:`qtaml_tac.plan_deployment` looks the method up by name in
:data:`METHOD_REGISTRY` and follows the record; nothing branches on a
method's name. A user adds a method with :func:`register_method`.

=====================  ===========  ============  ============  =======  ============================
method                 score        allocator     compensation  scaling  protection
=====================  ===========  ============  ============  =======  ============================
``uncompensated``      none         (floors)      none
``mean_only``          none         (floors)      mean
``random_ecc``         random       configured    none
``magnitude_ecc``      magnitude    configured    none
``sensitivity_ecc``    sensitivity  configured    none
``uniform_msp``        none         uniform       none
``tac_alloc_only``     jacobian     configured    none
``tac``                jacobian     configured    decide
``weight_scaling``     none         (floors)      none          yes
``tac_exact_mean``     jacobian     configured    mmse
``tac_always_mean``    jacobian     configured    mean
``uniform_secded``     none         (fixed)       none                   SEC-DED (72,64), all planes
``uniform_bch``        none         (fixed)       none                   BCH (78,64) t=2, all planes
=====================  ===========  ============  ============  =======  ============================

Examples
--------
>>> from qtaml_tac.method_registry import Method, METHODS, register_method, unregister_method
>>> _ = register_method(Method("magnitude_mean", score="magnitude", allocator="configured",
...                            compensation="mean", description="magnitude scores, then w / (1 - 2p)"))
>>> METHODS[-1]
'magnitude_mean'
>>> unregister_method("magnitude_mean")
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from qtaml_theory.protection import scheme_from_dict

__all__ = ["Method", "METHOD_REGISTRY", "METHODS", "PAPER_METHODS", "CODE_BASELINES", "SCORES", "ALLOCATORS",
           "METHOD_COMPENSATIONS", "register_method", "unregister_method", "get_method"]

#: Built-in per-layer scores: Jacobian (Step 1, ``s_l = Delta_l**2 G_l / N_l``), magnitude
#: (``Delta_l**2``), uniform random, measured output deviation, or none.
SCORES = ("jacobian", "magnitude", "random", "sensitivity", "none")

#: ``None``: every layer keeps its floor; ``"uniform"``: the same k on every layer;
#: ``"configured"``: the allocator of :attr:`DeploymentConfig.allocation` ("exact" or "greedy").
ALLOCATORS = (None, "uniform", "configured")

#: A layer's compensation (:data:`qtaml_tac.plan.COMPENSATIONS`) or ``"decide"``: Step 3 chooses
#: ``"mean"`` or ``"none"`` per layer from measured output deviations.
METHOD_COMPENSATIONS = ("none", "mean", "mmse", "decide")


@dataclass(frozen=True)
class Method:
    """How a deployment is planned: score, allocator, compensation, pre-scaling (Algorithm 1 and baselines).

    Parameters
    ----------
    name : str
        The registry key, stored in the plan.
    score : str or callable
        One of :data:`SCORES`, or ``score(model, batch, storage, config)``
        returning one finite score ``>= 0`` per stored tensor, in storage order.
    allocator : {None, "uniform", "configured"}
        See :data:`ALLOCATORS`. ``"configured"`` needs a score.
    compensation : {"none", "mean", "mmse", "decide"}
        See :data:`METHOD_COMPENSATIONS`.
    weight_scaling : bool
        Store ``c_l W`` with ``c_l = t / max|W_l|`` (Fuengfusin & Tamukoh,
        arXiv 2411.18993), ``t`` from :attr:`DeploymentConfig.weight_scaling_target`.
    protection : dict or None
        ``None``: each layer's protection comes from the configured menu
        (:attr:`DeploymentConfig.protection`) by the allocator. A scheme as
        data without ``k`` (:func:`qtaml_theory.protection.scheme_to_dict`):
        that code over all ``n`` bit planes of every layer, whatever it costs
        (the ``uniform_<scheme>`` baselines).
    description : str
        One line for tables and help.

    Raises
    ------
    ValueError
        Naming the field and the allowed values.
    """

    name: str
    score: str | Callable = "none"
    allocator: str | None = None
    compensation: str = "none"
    weight_scaling: bool = False
    description: str = ""
    protection: dict | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"name must be a non-empty string, got {self.name!r}")
        if not callable(self.score) and not (isinstance(self.score, str) and self.score in SCORES):
            raise ValueError(f"score must be one of {SCORES} or a callable, got {self.score!r}")
        if not (self.allocator is None or (isinstance(self.allocator, str) and self.allocator in ALLOCATORS)):
            raise ValueError(f"allocator must be one of {ALLOCATORS}, got {self.allocator!r}")
        if self.allocator == "configured" and self.score == "none":
            raise ValueError("allocator 'configured' needs a score; use allocator=None or 'uniform' with score 'none'")
        if not isinstance(self.compensation, str) or self.compensation not in METHOD_COMPENSATIONS:
            raise ValueError(f"compensation must be one of {METHOD_COMPENSATIONS}, got {self.compensation!r}")
        if not isinstance(self.weight_scaling, bool):
            raise ValueError(f"weight_scaling must be True or False, got {self.weight_scaling!r}")
        if not isinstance(self.description, str):
            raise ValueError(f"description must be a string, got {self.description!r}")
        if self.protection is not None:
            if not isinstance(self.protection, Mapping) or "k" in self.protection:
                raise ValueError(f"protection must be None or a scheme as data without 'k' (it protects all n "
                                 f"planes), got {self.protection!r}")
            scheme_from_dict({**self.protection, "k": 1}, "protection")
            if self.allocator is not None:
                raise ValueError("a method with a fixed protection does not allocate: allocator must be None")

    @property
    def needs_mean_correction(self) -> bool:
        """True when some layer may be stored as ``w / (1 - 2p)`` (Prop 4.1), so ``p < 1/2`` is required."""
        return self.compensation in ("mean", "decide")

    @property
    def uses_jacobian_gains(self) -> bool:
        """True for Step 1's Jacobian scores: the plan records the gains and the predicted rho* (Thm 4.5)."""
        return self.score == "jacobian"


_REGISTRY: dict[str, Method] = {}

#: ``{name: Method}``, read-only, in registration order; change it with :func:`register_method`.
METHOD_REGISTRY = MappingProxyType(_REGISTRY)


class _MethodNames(Sequence):
    """The registered methods' names, read from :data:`METHOD_REGISTRY` each time (a live view).

    Compares equal to the tuple of the same names, and prints as one.
    """

    def __getitem__(self, index):
        return tuple(_REGISTRY)[index]

    def __len__(self):
        return len(_REGISTRY)

    def __contains__(self, name):
        return isinstance(name, str) and name in _REGISTRY

    def __eq__(self, other):
        if isinstance(other, (tuple, _MethodNames)):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return repr(tuple(self))


#: Names of the registered methods, in registration order: a live view, so a method added
#: by :func:`register_method` appears here (and in ``qtaml_tac.METHODS``) at once.
METHODS = _MethodNames()


def register_method(method: Method, *, replace: bool = False) -> Method:
    """Add ``method`` to :data:`METHOD_REGISTRY` under ``method.name``.

    Parameters
    ----------
    method : Method
    replace : bool
        Allow replacing a registered method of the same name (it keeps its place).

    Returns
    -------
    Method
        ``method``.

    Raises
    ------
    ValueError
        ``method`` that is not a :class:`Method`, or a name already registered
        without ``replace=True``.
    """
    if not isinstance(method, Method):
        raise ValueError(f"method must be a Method record, got {type(method).__name__}")
    if method.name in _REGISTRY and not replace:
        raise ValueError(f"a method named {method.name!r} is already registered; pass replace=True to replace it")
    _REGISTRY[method.name] = method
    return method


def unregister_method(name: str) -> None:
    """Remove the method ``name`` from :data:`METHOD_REGISTRY` (``ValueError`` if it is not registered)."""
    get_method(name)
    del _REGISTRY[name]


def get_method(name: str) -> Method:
    """The registered method called ``name``; ``ValueError`` listing :data:`METHODS` otherwise."""
    if not isinstance(name, str) or name not in _REGISTRY:
        raise ValueError(f"method must be one of {METHODS}, got {name!r}")
    return _REGISTRY[name]


for _method in (
    Method("uncompensated", description="no protection, no compensation"),
    Method("mean_only", compensation="mean", description="w / (1 - 2p) on every layer (Prop 4.1)"),
    Method("random_ecc", score="random", allocator="configured", description="allocation with random scores"),
    Method("magnitude_ecc", score="magnitude", allocator="configured",
           description="allocation with s_l = Delta_l**2"),
    Method("sensitivity_ecc", score="sensitivity", allocator="configured",
           description="allocation with measured per-layer output deviation"),
    Method("uniform_msp", allocator="uniform", description="the same protected top bits on every layer"),
    Method("tac_alloc_only", score="jacobian", allocator="configured",
           description="TAC Steps 1-2: allocation with Jacobian scores"),
    Method("tac", score="jacobian", allocator="configured", compensation="decide",
           description="TAC (Algorithm 1): Jacobian allocation, Step 3 mean correction per layer"),
    Method("weight_scaling", weight_scaling=True, description="store c_l W, c_l = t / max|W_l|"),
    Method("tac_exact_mean", score="jacobian", allocator="configured", compensation="mmse",
           description="Jacobian allocation, the exact MMSE code table"),
    Method("tac_always_mean", score="jacobian", allocator="configured", compensation="mean",
           description="Jacobian allocation, w / (1 - 2p) on every layer (Table 9's 'always')"),
):
    register_method(_method)

#: The paper's eleven methods, in the order of Section 5.8's table (what Section 5.8 ranks).
PAPER_METHODS = tuple(METHOD_REGISTRY)

for _method in (
    Method("uniform_secded", protection={"kind": "secded", "data_bits": 64},
           description="SEC-DED (72,64) over every bit plane of every layer"),
    Method("uniform_bch", protection={"kind": "bch", "data_bits": 64, "t": 2},
           description="BCH (78,64), two errors corrected, over every bit plane of every layer"),
):
    register_method(_method)
del _method

#: The uniform real-code baselines (one code over every bit plane of every layer).
CODE_BASELINES = tuple(name for name in METHOD_REGISTRY if name not in PAPER_METHODS)
