"""Codes over multi-level cells for planning: the independent-planes APPROXIMATION (issues 14 and 16).

The law of a code over multi-level cells depends on the data: a cell holds
``b`` bits of one weight (its planes fail together), and a cell of check bits
stores values that depend on every weight of its words. It is computed given
the stored codes by :func:`qtaml_theory.protection.cell_code_law`; the codes'
laws of :mod:`qtaml_theory.protection.codes` need planes whose bits flip
independently at one rate each. :func:`independent_planes` gives them
that channel, stated as an approximation: each plane flips independently at
the cells' marginal flip rate of its position, averaged over equally likely
stored codes. It is never substituted silently: a code at a
:class:`~qtaml_theory.channels.MultiLevelChannel` raises a ``ValueError``
that names it (:func:`qtaml_theory.protection.base.plane_rates`).
Its error against the bit-exact injection (:mod:`qtaml_tac.cell_codes`) is
measured in the docs (``docs/lifetime.rst``, "Codes over cells").
"""

from __future__ import annotations

import numpy as np

from ..channels import Channel, PerBitChannel, as_channel
from ..validation import check_integer

__all__ = ["independent_planes", "MAX_APPROXIMATED_BITS"]

#: Widest code averaged over all its values (2**n codes).
MAX_APPROXIMATED_BITS = 16


def independent_planes(channel: Channel, n_bits: int) -> PerBitChannel:
    """APPROXIMATION for planning: the planes of ``channel`` as independent bits at their average marginal rates.

    Parameters
    ----------
    channel : Channel or number
        The cells (a :class:`~qtaml_theory.channels.MultiLevelChannel`, a
        directional channel, or any channel).
    n_bits : int
        Code width, ``1..MAX_APPROXIMATED_BITS``, a multiple of the cells' bits.

    Returns
    -------
    PerBitChannel
        Bit ``j`` flips with the mean over all ``2**n_bits`` equally likely
        codes of its marginal rate (:meth:`~qtaml_theory.channels.Channel.rates_for_bits`),
        exact Fractions for an exact channel. What it drops: the correlation
        of the bits of one cell, the dependence of a bit's rate on the value
        it and its cell store (data, check bits, copies), and the layer's
        actual code histogram.

    Examples
    --------
    >>> from qtaml_theory.protection import independent_planes
    >>> from qtaml_theory.channels import DirectionalChannel
    >>> independent_planes(DirectionalChannel(0.0, 0.2), 2).rates
    (0.1, 0.1)
    """
    channel = as_channel(channel)
    n_bits = check_integer(n_bits, "n_bits", 1, MAX_APPROXIMATED_BITS)
    channel.check_width(n_bits)
    codes = np.arange(1 << n_bits, dtype=np.int64)
    rates = channel.rates_for_bits((codes[:, None] >> np.arange(n_bits, dtype=np.int64)) & 1)
    return PerBitChannel([sum(rates[:, j].tolist()) / codes.size for j in range(n_bits)])
