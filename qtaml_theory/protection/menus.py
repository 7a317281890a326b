"""Menus of protection schemes for allocation, and schemes as plain data (issue: real codes).

A *menu* is the tuple of schemes each layer may pick one of
(:func:`qtaml_theory.allocation.allocate_protection`). Named menus:

``"ideal_msb"``
    The paper's: ``IdealMSB(k)`` for ``k = 0..n_bits`` (top bits that never
    flip, one stored bit each).
``"codes"``
    Real schemes over the top ``k`` planes, ``k = 1..n_bits``: SEC-DED (72,64)
    (1/8 bit per protected bit), BCH (78,64) correcting two errors (7/32 bit),
    SEC-DED (22,16) (3/8 bit), SEC-DED (13,8) (5/8 bit) and triple
    repetition (two bits per protected bit), with :class:`Unprotected`:
    ``1 + 5 n_bits`` schemes. Failed words keep their data as read (the
    default policy).

:func:`scheme_to_dict` and :func:`scheme_from_dict` turn a scheme into JSON data
and back (plans store them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from .base import IdealMSB, ProtectionScheme, Unprotected
from .codes import BCH, SECDED, Repetition
from .positions import IdealBits

__all__ = ["PROTECTION_MENUS", "protection_menu", "scheme_to_dict", "scheme_from_dict", "SCHEME_KINDS"]

#: The named menus of :func:`protection_menu`.
PROTECTION_MENUS = ("ideal_msb", "codes")

#: Scheme classes by the ``kind`` of their data (:func:`scheme_to_dict`).
SCHEME_KINDS = {"unprotected": Unprotected, "ideal_msb": IdealMSB, "repetition": Repetition, "secded": SECDED,
                "bch": BCH, "ideal_bits": IdealBits}
_FIELDS = {"unprotected": (), "ideal_msb": ("k",), "ideal_bits": ("positions",), "repetition": ("k", "copies"),
           "secded": ("k", "data_bits", "on_failure"), "bch": ("k", "data_bits", "t", "on_failure")}


def protection_menu(menu, n_bits: int) -> tuple[ProtectionScheme, ...]:
    """The schemes of ``menu`` for ``n_bits`` codes: a name of :data:`PROTECTION_MENUS` or a sequence of schemes.

    Raises
    ------
    ValueError
        An unknown name, an empty sequence, an entry that is not a scheme,
        or a scheme that does not fit ``n_bits`` (its message names it).
    """
    if isinstance(menu, str):
        if menu == "ideal_msb":
            return tuple(IdealMSB(k) for k in range(n_bits + 1))
        if menu == "codes":
            schemes = [Unprotected()]
            schemes += [SECDED(k, 64) for k in range(1, n_bits + 1)]
            schemes += [BCH(k, 64, 2) for k in range(1, n_bits + 1)]
            schemes += [SECDED(k, 16) for k in range(1, n_bits + 1)]
            schemes += [SECDED(k, 8) for k in range(1, n_bits + 1)]
            schemes += [Repetition(k) for k in range(1, n_bits + 1)]
            return tuple(schemes)
        raise ValueError(f"menu must be one of {PROTECTION_MENUS} or a sequence of protection schemes, got {menu!r}")
    if not isinstance(menu, Sequence) or len(menu) == 0:
        raise ValueError(f"menu must be one of {PROTECTION_MENUS} or a non-empty sequence of protection schemes, "
                         f"got {menu!r}")
    for index, scheme in enumerate(menu):
        if not isinstance(scheme, ProtectionScheme):
            raise ValueError(f"menu[{index}] must be a protection scheme, got {scheme!r}")
        try:
            scheme.check_width(n_bits)
        except ValueError as error:
            raise ValueError(f"menu[{index}] = {scheme!r} does not fit {n_bits}-bit codes: {error}") from error
    return tuple(menu)


def scheme_to_dict(scheme: ProtectionScheme) -> dict:
    """``{"kind": ..., <fields>}``: the scheme as JSON data."""
    for kind, cls in SCHEME_KINDS.items():
        if type(scheme) is cls:
            return {"kind": kind, **{name: getattr(scheme, name) for name in _FIELDS[kind]}}
    raise ValueError(f"scheme must be one of {[c.__name__ for c in SCHEME_KINDS.values()]}, got {scheme!r}")


def scheme_from_dict(data: Mapping, where: str = "protection") -> ProtectionScheme:
    """The scheme of :func:`scheme_to_dict` data, every field checked (errors name ``where`` and the field)."""
    if not isinstance(data, Mapping) or data.get("kind") not in SCHEME_KINDS:
        raise ValueError(f"{where}.kind must be one of {sorted(SCHEME_KINDS)}, got {data!r}")
    kind = data["kind"]
    unknown = sorted(set(data) - {"kind", *_FIELDS[kind]})
    if unknown:
        raise ValueError(f"{where} has unknown fields {unknown}; a {kind} scheme has {list(_FIELDS[kind])}")
    try:
        return SCHEME_KINDS[kind](**{name: data[name] for name in _FIELDS[kind] if name in data})
    except ValueError as error:
        raise ValueError(f"{where}.{error}") from error
