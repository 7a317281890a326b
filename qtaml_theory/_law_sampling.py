"""The Monte Carlo route of the law (:mod:`qtaml_theory.law`): read-back errors drawn bit by bit."""

from __future__ import annotations

from numbers import Real

import numpy as np
from numpy.typing import ArrayLike

from ._deprecation import keyword_only, renamed_argument
from ._law_arithmetic import check_size
from ._law_inputs import check_encoding, read_outcomes
from ._law_mixture import single_channel
from .channels import Channel, as_channel
from .encodings import Encoding
from .protection import ProtectionScheme, as_protection, draw_flips
from .validation import as_scale

__all__ = ["sample_errors"]


@renamed_argument("p", "channel")
@keyword_only("delta", 5)
def sample_errors(encoding: Encoding, codes: ArrayLike, channel: Channel | Real, size: int,
                  rng: int | np.random.Generator | None = None, *, delta: Real = 1.0,
                  protection: ProtectionScheme | None = None) -> np.ndarray:
    """Draw read-back errors ``w_hat - w`` of stored codes, ``size`` times.

    The channel draws the masks (:meth:`~qtaml_theory.channels.Channel.sample_masks`):
    each bit independently with its rate given its stored value, compared
    in float64 (no ``2**-24`` grid bias), or each multi-level cell by its
    level transitions; the read-back code is ``code XOR mask``. Schemes with codewords are simulated, not sampled
    from their law: copies are voted, block codewords encoded, flipped and
    decoded by the real decoder (:func:`qtaml_theory.protection.draw_flips`),
    so this route checks the law of
    :meth:`~qtaml_theory.protection.ProtectionScheme.read_outcomes`.

    Parameters
    ----------
    encoding : Encoding
    codes : int or array_like of int
        Stored codes; the draws are independent across codes.
    channel : float, Fraction, sympy.Rational or Channel
    size : int
        Number of draws (at least 2).
    rng : int or numpy.random.Generator, optional
    delta : float, optional
        Quantization step, keyword-only (its former place, sixth, still
        works with a DeprecationWarning): ``error_cumulants`` takes it fourth,
        so a positional ``delta`` could not mean the same in both.
    protection : ProtectionScheme, optional
        See :func:`error_cumulants` (``None``: unprotected).

    Returns
    -------
    ndarray
        Shape ``(size,) + codes.shape``, float64.
    """
    encoding = check_encoding(encoding)
    scheme = as_protection(protection)
    outcomes, _ = read_outcomes(encoding, channel, scheme)
    codes = np.asarray(encoding.check_code(codes))
    size = check_size(size)
    delta = float(as_scale(delta, "delta"))
    rng = np.random.default_rng(rng)
    bits = encoding.bits(codes)
    simulated = type(scheme)._draw_flips is not ProtectionScheme._draw_flips
    if simulated:
        flips, zeroed = draw_flips(scheme, rng, np.broadcast_to(bits, (size,) + bits.shape), as_channel(channel))
        masks = flips.astype(np.int64) @ (np.int64(1) << np.arange(encoding.n, dtype=np.int64))
    else:
        masks, zeroed = single_channel(outcomes).sample_masks(bits, size, rng), None
    errors = encoding.decode(codes ^ masks) - encoding.decode(codes)
    if zeroed is not None:
        errors = np.where(zeroed, -encoding.decode(codes), errors)
    return errors * delta
