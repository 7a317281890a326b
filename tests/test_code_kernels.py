"""The compiled decoding of coded injection (qtaml_tac.code_kernels) against the NumPy route, bit for bit.

Both routes take the same raw flips and the same random stream of check-bit
flips; the NumPy route encodes the stored words, flips and decodes them with
the real decoder (qtaml_theory.ecc.SyndromeCode.decode_packed / decode), the
compiled one works from the flips' syndromes alone. Their read-back masks and
zeroed weights must be identical arrays.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("numba")

from qtaml_tac import coded_injection  # noqa: E402
from qtaml_tac.flip_kernels import PARALLEL, SERIAL  # noqa: E402
from qtaml_tac.inject import FlipMask  # noqa: E402
from qtaml_theory.channels import PerBitChannel, as_channel  # noqa: E402
from qtaml_theory.protection import BCH, SECDED  # noqa: E402


def _routes(monkeypatch, codes, n_bits, scheme, channel, mask):
    results = {}
    for name, kernels in (("numpy", None), ("serial", SERIAL), ("parallel", PARALLEL)):
        monkeypatch.setattr(coded_injection, "compiled_kernels", lambda kernels=kernels: kernels)
        results[name] = coded_injection.coded_flips(codes, n_bits, scheme, channel, mask, np.random.default_rng(5),
                                                    cache={})
    return results


@pytest.mark.parametrize("scheme", [
    SECDED(8), SECDED(3, 16, on_failure="zero"), BCH(4, 64, 2), BCH(8, 64, 2, on_failure="zero"),
    SECDED(5, 128), BCH(2, 100, 2, on_failure="zero"), SECDED(8, 8), BCH(6, 16, 3, on_failure="zero"),
    BCH(3, 256, 2, on_failure="zero"),
])
@pytest.mark.parametrize("size, p", [(6401, 1e-3), (6401, 0.03), (1000, 0.15), (131, 0.3), (0, 0.1)])
def test_compiled_decoding_equals_the_real_decoder(monkeypatch, scheme, size, p):
    """Same positions, values and zeroed weights from both routes (partial last words, k < n, sparse and dense)."""
    rng = np.random.default_rng(size)
    codes = rng.integers(0, 256, size=size)
    flips = (rng.random((size, 8)) < p) * (1 << np.arange(8))
    values = flips.sum(axis=1)
    positions = np.flatnonzero(values)
    sparse = FlipMask(size, torch.from_numpy(positions), torch.from_numpy(values[positions].astype(np.int32)))
    dense = FlipMask(size, dense_mask=torch.from_numpy(values.astype(np.uint8)))
    channel = as_channel(p) if size != 131 else PerBitChannel([p / 2] * 4 + [p] * 4)
    for mask in (sparse, dense):
        results = _routes(monkeypatch, codes, 8, scheme, channel, mask)
        for name in ("serial", "parallel"):
            for got, expected in zip(results[name], results["numpy"]):
                assert got.dtype == expected.dtype and np.array_equal(got, expected), name


def test_compiled_patch_writes_the_numpy_read_back():
    """patch_read_back: the clean value at the previous positions, table[code ^ value] at the new, zero at zeroed."""
    from qtaml_tac.code_kernels import patch_read_back

    rng = np.random.default_rng(0)
    codes = rng.integers(0, 256, size=500).astype(np.uint8)
    lookup = rng.normal(size=256).astype(np.float32)
    out = rng.normal(size=500).astype(np.float32)
    previous, positions = np.arange(0, 500, 7), np.sort(rng.choice(500, 60, replace=False))
    values, zeroed = rng.integers(1, 256, size=60).astype(np.int32), positions[::5].copy()
    expected = out.copy()
    expected[previous] = lookup[codes[previous]]
    expected[positions] = lookup[codes[positions] ^ values]
    expected[zeroed] = 0
    patch_read_back(out, lookup, codes, previous, positions, values, zeroed)
    assert np.array_equal(out, expected)
