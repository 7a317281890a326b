"""The report's table of real codes: uncorrectable and residual error rates, exact against Monte Carlo.

For each scheme and flip rate ``p``: the probability that a codeword holds
more errors than the decoder corrects (exact binomial tail) and the residual
bit error rate of the decoded data (the exact law of
:func:`qtaml_theory.ecc.decoded_bits`, averaged over the data positions;
failed words keep their data), each beside its Monte Carlo estimate from
simulated codewords (random data encoded, every stored bit flipped with
probability ``p``, decoded by the real decoder) and the estimate's ``z``
against the exact value.
"""

from __future__ import annotations

import math

import numpy as np

from ..ecc import decoded_bits
from ..protection import BCH, SECDED, Repetition

__all__ = ["CODE_TABLE_SCHEMES", "code_rate_rows"]

#: The schemes of the table (one protected plane each; the rates are per codeword and per data bit).
CODE_TABLE_SCHEMES = (SECDED(1, 64), SECDED(1, 32), SECDED(1, 16), SECDED(1, 8), BCH(1, 64, 2), BCH(1, 16, 3),
                      Repetition(1))


def _name(scheme):
    if isinstance(scheme, Repetition):
        return f"repetition x{scheme.copies}"
    return scheme.code.name


def _simulated(scheme, p, words, rng):
    """Monte Carlo per word: whether it held more errors than corrected, and the share of its data bits read wrong."""
    if isinstance(scheme, Repetition):
        errors = (rng.random((words, scheme.copies)) < p).sum(axis=1)
        return errors > scheme.corrects, (errors > scheme.copies // 2).astype(np.float64)
    code = scheme.code
    data = rng.integers(0, 2, size=(words, code.data_bits), dtype=np.uint8)
    noise = rng.random((words, code.length)) < p
    decoded, _ = code.decode(code.encode(data) ^ noise)
    return noise.sum(axis=1) > code.corrects, (decoded != data).mean(axis=1)


def _exact_residual(scheme, p):
    if isinstance(scheme, Repetition):
        return scheme.uncorrectable_probability(p)
    return sum(decoded_bits(scheme.code, p).flip) / scheme.data_bits


def _z(samples, exact, spread):
    """``(mean - exact) / standard error``; 0 when the samples cannot vary (the exact value is then 0 or 1)."""
    error = spread / math.sqrt(samples.size)
    return float((samples.mean() - exact) / error) if error > 0 else 0.0


def code_rate_rows(rates=(1e-4, 1e-3, 1e-2, 0.1), words=20_000, seed=0):
    """One row per (scheme, p): exact and simulated uncorrectable and residual rates, with their ``z``.

    Both ``z`` are per word (words are independent; the bits of one word are
    not): the uncorrectable one with the exact Bernoulli spread, the residual
    one with the sample spread of each word's share of wrong bits.
    """
    rng = np.random.default_rng(seed)
    rows = []
    for scheme in CODE_TABLE_SCHEMES:
        for p in rates:
            uncorrectable = scheme.uncorrectable_probability(p)
            residual = _exact_residual(scheme, p)
            failed, wrong = _simulated(scheme, p, words, rng)
            rows.append({"scheme": _name(scheme), "overhead": float(scheme.cost_bits_per_weight(1)), "p": p,
                         "uncorrectable": uncorrectable, "uncorrectable_mc": float(failed.mean()),
                         "uncorrectable_z": _z(failed, uncorrectable, math.sqrt(uncorrectable * (1 - uncorrectable))),
                         "residual": residual, "residual_mc": float(wrong.mean()),
                         "residual_z": _z(wrong, residual, float(wrong.std(ddof=1)))})
    return rows
