"""Protection schemes: what guards which bits of a stored weight, at what cost (stage 3; paper Section 4.2).

A stored n-bit code reaches the cells through a protection scheme. The scheme
says which bit positions it guards (:meth:`ProtectionScheme.protected_bits`),
how many extra bits it stores (:meth:`ProtectionScheme.cost_bits_per_weight`,
:meth:`ProtectionScheme.storage_bits`), how often a codeword holds more errors
than it corrects (:meth:`ProtectionScheme.uncorrectable_probability`), and the
exact law of what it leaves (:meth:`ProtectionScheme.read_outcomes`), which
the law of the read-back error (:mod:`qtaml_theory.law`) mixes.

:class:`Unprotected`
    Nothing is guarded: the residual channel is the cells' channel.
:class:`IdealMSB`
    The paper's selective ECC (Lemma 4.2): the top ``k`` bits never flip, at
    a cost of ``k`` stored bits per weight.
:class:`IdealBits`
    The same guard on named bit positions (:mod:`.positions`): for floats,
    whose variance is not carried most significant bit first.
:class:`Repetition`, :class:`SECDED`, :class:`BCH`
    Real codes over the top ``k`` bit planes (:mod:`.codes`): they cost a
    fraction of a bit per protected bit and sometimes fail.

Codes over multi-level cells: their law given the stored data (:mod:`.cell_code_law`), and for planning a
named approximation (:mod:`.cells`).
Menus of schemes for allocation and the schemes as JSON data: :mod:`.menus`.
"""

from .base import IdealMSB, ProtectionScheme, ReadOutcome, Unprotected, as_protection, draw_flips
from .cell_code_law import CellCodeLaw, cell_code_law, uniform_cell_code_law
from .cells import independent_planes
from .codes import BCH, FAILURE_POLICIES, SECDED, SECDED_DATA_BITS, Repetition
from .menus import PROTECTION_MENUS, protection_menu, scheme_from_dict, scheme_to_dict
from .positions import IdealBits

__all__ = ["ProtectionScheme", "Unprotected", "IdealMSB", "IdealBits", "Repetition", "SECDED", "BCH", "ReadOutcome",
           "FAILURE_POLICIES", "SECDED_DATA_BITS", "PROTECTION_MENUS", "as_protection", "draw_flips",
           "protection_menu", "scheme_to_dict", "scheme_from_dict", "independent_planes",
           "CellCodeLaw", "cell_code_law", "uniform_cell_code_law"]
