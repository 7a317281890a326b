"""Private arithmetic of the law for channels whose cells couple bits (multi-level cells; issue 16).

A :class:`~qtaml_theory.channels.MultiLevelChannel` stores ``b`` bits per
cell; the cells fail independently, so the error ``delta / Delta`` of a
linear encoding is a sum over cells of independent finite variables ``X_j``
(the change of cell ``j``'s bits times their weights). Its characteristic
function is the product over cells of ``sum_m P_j(m) exp(i t x_j(m))`` and
its cumulants are the sums over cells of each cell's exact cumulants (the
generalization of Theorem 3.1 from bits to cells). Sign-magnitude is a
mixture over the outcomes of the top cell, which holds the sign bit (A.8).
"""

from __future__ import annotations

import numpy as np


def _mask_bits(width):
    """``(width, 2**width)`` 0/1 table: bit ``k`` of mask ``m``."""
    masks = np.arange(1 << width, dtype=np.int64)
    return (masks[None, :] >> np.arange(width, dtype=np.int64)[:, None]) & 1


def cell_outcomes(amplitudes, probabilities, width):
    """Values ``x_j(m)`` of every cell's masks: ``sum_k a_{jb+k} m_k`` for amplitudes ``a_i = s_i c_i``.

    Parameters
    ----------
    amplitudes : ndarray, shape (..., n)
    probabilities : ndarray, shape (..., n // width, 2**width)
    width : int
        Bits per cell.

    Returns
    -------
    ndarray, shape (..., n // width, 2**width)
    """
    cells = amplitudes.reshape(amplitudes.shape[:-1] + (-1, width))
    return cells @ _mask_bits(width).astype(probabilities.dtype)


def finite_cumulants(values, probabilities):
    """``kappa_1..kappa_4`` of a finite law along the last axis (exact for Fractions).

    Central moments about the mean ``mu_j = sum_m P(m) (x_m - kappa_1)**j``;
    ``kappa_2 = mu_2``, ``kappa_3 = mu_3``, ``kappa_4 = mu_4 - 3 mu_2**2``.
    """
    mean = np.sum(probabilities * values, axis=-1)
    deviations = values - np.asarray(mean, dtype=values.dtype)[..., None]
    mu2, mu3, mu4 = (np.sum(probabilities * deviations**j, axis=-1) for j in (2, 3, 4))
    return [mean, mu2, mu3, mu4 - 3 * mu2**2]


def _mixture_cumulants(weights, means, central):
    """Cumulants of a mixture over the last axis: component weights, means and central moments ``(c2, c3, c4)``."""
    mean = np.sum(weights * means, axis=-1)
    shift = means - np.asarray(mean, dtype=means.dtype)[..., None]
    c2, c3, c4 = central
    mu2 = np.sum(weights * (shift**2 + c2), axis=-1)
    mu3 = np.sum(weights * (shift**3 + 3 * shift * c2 + c3), axis=-1)
    mu4 = np.sum(weights * (shift**4 + 6 * shift**2 * c2 + 4 * shift * c3 + c4), axis=-1)
    return [mean, mu2, mu3, mu4 - 3 * mu2**2]


def _signed_parts(encoding, codes, channel, dtype):
    """The pieces of a sign-magnitude read-back: lower cells, and the top cell's outcomes.

    Returns ``(lower_values, lower_probabilities, signs, top_shifts,
    top_probabilities, magnitude, sigma)``: ``w_hat = signs[m] * (magnitude
    + top_shifts[m] + sum of lower cells)`` with probability
    ``top_probabilities[m]``.
    """
    width = channel.bits_per_cell
    bits = encoding.bits(codes)
    probabilities = channel.cell_mask_probabilities(bits)
    weights = np.array((*encoding.bit_weights, 0), dtype=dtype)
    amplitudes = (1 - 2 * bits).astype(dtype) * weights
    values = cell_outcomes(amplitudes, probabilities, width)
    sigma = np.asarray(1 - 2 * bits[..., -1]).astype(dtype)
    top_bit = _mask_bits(width)[width - 1]
    signs = sigma[..., None] * (1 - 2 * top_bit).astype(dtype)
    magnitude = np.asarray(bits[..., :-1].astype(dtype) @ np.array(encoding.bit_weights, dtype=dtype))
    return (values[..., :-1, :], probabilities[..., :-1, :], signs, values[..., -1, :], probabilities[..., -1, :],
            magnitude, sigma)


def cell_unit_cumulants(encoding, codes, channel):
    """``kappa_1..kappa_4`` of ``delta / Delta`` under a channel of multi-bit cells (formula route).

    Linear encodings: the sum over cells of each cell's exact cumulants.
    Sign-magnitude: a mixture over the top cell's ``2**b`` outcomes, each
    with the sign it reads back and the lower cells' summed cumulants
    (odd central moments change sign with the read-back sign).
    """
    dtype = object if channel.is_exact else np.float64
    bits = encoding.bits(codes)
    if encoding.is_linear:
        probabilities = channel.cell_mask_probabilities(bits)
        amplitudes = (1 - 2 * bits).astype(dtype) * np.array(encoding.bit_weights, dtype=dtype)
        values = cell_outcomes(amplitudes, probabilities, channel.bits_per_cell)
        return [np.sum(kappa, axis=-1) for kappa in finite_cumulants(values, probabilities)]
    lower_values, lower_probabilities, signs, shifts, top, magnitude, sigma = _signed_parts(
        encoding, codes, channel, dtype)
    k1, k2, k3, k4 = (np.asarray(np.sum(kappa, axis=-1), dtype=dtype)
                      for kappa in finite_cumulants(lower_values, lower_probabilities))

    def column(value):
        return np.asarray(value, dtype=dtype)[..., None]

    means = signs * (column(magnitude) + shifts + column(k1)) - column(sigma * magnitude)
    central = (column(k2), signs * column(k3), column(k4 + 3 * k2**2))
    return [np.asarray(kappa).item() if np.ndim(kappa) == 0 else kappa for kappa in _mixture_cumulants(top, means, central)]


def cell_cf(t, encoding, code, channel, delta):
    """Characteristic function of ``delta`` for one code under a channel of multi-bit cells (float)."""
    t = np.asarray(t, dtype=np.float64)
    bits = encoding.bits(code)
    probabilities = channel.cell_mask_probabilities(bits).astype(np.float64)

    def product(s, values, weights):
        return np.prod(np.sum(weights * np.exp(1j * s[..., None, None] * values), axis=-1), axis=-1)

    if encoding.is_linear:
        amplitudes = delta * (1 - 2 * bits) * np.array(encoding.bit_weights, dtype=np.float64)
        return product(t, cell_outcomes(amplitudes, probabilities, channel.bits_per_cell), probabilities)
    lower_values, lower_probabilities, signs, shifts, top, magnitude, sigma = (
        np.asarray(part, dtype=np.float64) for part in _signed_parts(encoding, code, channel, np.float64))
    result = np.zeros(t.shape, dtype=np.complex128)
    for weight, sign, shift in zip(top.tolist(), signs.tolist(), shifts.tolist()):
        lower = product(sign * t, delta * lower_values, lower_probabilities)
        result += weight * np.exp(1j * t * delta * (sign * (magnitude + shift) - sigma * magnitude)) * lower
    return result
