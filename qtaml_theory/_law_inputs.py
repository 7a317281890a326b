"""Checked inputs of the law (:mod:`qtaml_theory.law`): the encoding, the read outcomes and Delta."""

from __future__ import annotations

from fractions import Fraction

from .channels import as_channel
from .encodings import Encoding
from .protection import as_protection
from .validation import as_scale

__all__ = ["check_encoding", "read_outcomes", "scale_for"]


def check_encoding(encoding):
    if not isinstance(encoding, Encoding):
        raise ValueError(
            f"encoding must be an object from qtaml_theory.get_encoding(name, n), got {encoding!r}"
        )
    return encoding


def read_outcomes(encoding, channel, protection):
    """The read outcomes of a code under ``channel`` and ``protection`` (stage 3), and whether they are exact.

    Most schemes leave one outcome, a residual channel; block codes leave a
    mixture (:mod:`qtaml_theory._law_mixture`).
    """
    channel = as_channel(channel)
    return as_protection(protection).read_outcomes(channel, encoding.n), channel.is_exact


def scale_for(delta, exact):
    """Delta as a Fraction when the arithmetic is exact (a float converts exactly)."""
    delta = as_scale(delta, "delta")
    if exact:
        return Fraction(delta)
    return float(delta)
