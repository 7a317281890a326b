"""What a layer's shared scales and zero points add to its residual variance when they sit in faulty memory (issue 15).

With ``scales_in_faulty_memory=True`` a weight reads back as ``(x' - z') s'``:
its element, zero point and scale each flip (:mod:`qtaml_theory.scaled_law`).
The allocation protects element bits only, so what the scale and zero-point
flips add to a layer's variance is the same whatever it protects (computed
with the elements unprotected; their protection changes it only through the
cross term ``Var(e_x) Var(e_s)``, second order in the flip rates). It is a
constant of each layer's loss, reported in the allocation's objective and
predicted variances (:func:`qtaml_theory.allocation.allocate_protection`'s
``scale_variance``), never a reason to choose differently.
"""

from __future__ import annotations

import numpy as np

from qtaml_theory.encodings import get_encoding
from qtaml_theory.law import error_cumulants
from qtaml_theory.scaled_law import scaled_error_cumulants

from .scales import SCALE_FORMATS
from .storage import Storage

__all__ = ["scale_flip_variance"]


def scale_flip_variance(storage: Storage, name: str, channel) -> float:
    """Per-weight variance that flips of ``name``'s scales (and zero points) add, in units of its ``Delta**2``.

    ``mean_j [Var((x_j' - z_j') s_j') - s_j**2 Var(x_j')] / (factor Delta)**2``
    over the layer's weights, both from the laws of
    :func:`qtaml_theory.scaled_law.scaled_error_cumulants` and
    :func:`qtaml_theory.law.error_cumulants` (elements unprotected, the
    storage's ``on_nonfinite``); ``Delta`` is ``StoredTensor.scale``, the root
    mean square of the layer's scales. Zero when the scales are safe.

    Parameters
    ----------
    storage : Storage
    name : str
        A stored parameter.
    channel : float or Channel
        The cells' channel (scales and zero points flip through it too).

    Returns
    -------
    float
    """
    tensor = storage[name]
    if tensor.scale_format is None:
        return 0.0
    encoding = storage.encoding
    scale_encoding = get_encoding(tensor.scale_format, SCALE_FORMATS[tensor.scale_format][1])
    codes = tensor.format_codes().numpy().astype(np.int64).reshape(-1, tensor.block)
    scale_codes = tensor.scale_codes.numpy().astype(np.int64)[:, None]
    zero_point_codes = None if tensor.zero_point_codes is None else \
        tensor.zero_point_codes.numpy().astype(np.int64)[:, None]
    policy = tensor.on_nonfinite
    scaled = scaled_error_cumulants(encoding, codes, scale_encoding, scale_codes, channel, on_nonfinite=policy,
                                    zero_point_codes=zero_point_codes)[1]
    element = error_cumulants(encoding, codes, channel, on_nonfinite=policy)[1] * scale_encoding.table[scale_codes] ** 2
    return float(np.mean(scaled - element)) / (tensor.factor * tensor.scale) ** 2
