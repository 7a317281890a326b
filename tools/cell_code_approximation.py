"""Measure the planning approximation of codes over cells against the bit-exact injection (docs/lifetime.rst).

On demand (not collected by pytest)::

    python tools/cell_code_approximation.py [--trials 20] [--layer fc1.weight]

For SmallCNN's layer (8-bit offset binary), the cells of the lifetime
experiment (SiO2-like preset, SLC, MLC-Gray, MLC-binary) at a few retention
times and a few codes, it prints the layer's mean read-back error and mean
squared error (units of Delta): by Monte Carlo through
:func:`qtaml_tac.cell_codes.cell_coded_flips` (``trials`` draws; standard
error over trials), from the law of the code over the cells given the layer's
data (:func:`qtaml_theory.protection.cell_code_law`, with its ``J`` and its
total-variation bound), and from the exact code law at two approximations:
:func:`qtaml_theory.protection.independent_planes` (a rate per plane) and the
lifetime planner's symmetric surrogate (one rate for every bit).
"""

from __future__ import annotations

import argparse

import numpy as np

from qtaml_tac import quantize
from qtaml_tac.cell_codes import cell_coded_flips
from qtaml_tac.experiments.figures import YEAR_S
from qtaml_tac.experiments.runner import _model
from qtaml_tac.lifetime import average_flip_rate, retention_device
from qtaml_theory.channels import SymmetricChannel
from qtaml_theory.law import error_cumulants
from qtaml_theory.physics import retention_channel
from qtaml_theory.protection import BCH, SECDED, Repetition, cell_code_law, independent_planes

CELLS = ((1, "gray"), (2, "gray"), (2, "binary"))
YEARS = (10, 12, 15)
SCHEMES = (Repetition(3), SECDED(8, data_bits=64), BCH(8, 64, 2))


def law_moments(encoding, codes, channel, scheme):
    """Mean error and mean squared error over the layer from the exact code law at ``channel``."""
    values, counts = np.unique(codes, return_counts=True)
    kappa = error_cumulants(encoding, values, channel, protection=scheme)
    mean, variance = np.asarray(kappa[0], dtype=float), np.asarray(kappa[1], dtype=float)
    return float(counts @ mean / codes.size), float(counts @ (variance + mean**2) / codes.size)


def injected_moments(encoding, codes, cells, scheme, trials):
    """Mean error and mean squared error (with standard errors over trials) by the bit-exact injection."""
    stored = encoding.decode(codes).astype(float)
    means, squares = [], []
    cache = {}
    for trial in range(trials):
        positions, values, zeroed = cell_coded_flips(codes, 8, scheme, cells, np.random.default_rng(trial), cache)
        read = codes.copy()
        read[positions] ^= values
        error = encoding.decode(read).astype(float) - stored
        error[zeroed] = -stored[zeroed]
        means.append(error.mean())
        squares.append(np.mean(error**2))
    spread = np.sqrt(trials)
    return (float(np.mean(means)), float(np.std(means, ddof=1) / spread), float(np.mean(squares)),
            float(np.std(squares, ddof=1) / spread))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--layer", default="fc1.weight")
    parser.add_argument("--years", type=float, nargs="+", default=YEARS)
    args = parser.parse_args()
    storage = quantize(_model("smallcnn")[0])
    tensor = next(t for t in storage if t.name == args.layer)
    codes, encoding = tensor.codes.numpy().astype(np.int64), storage.encoding
    device = retention_device("sio2")
    print("cells, years, rate, scheme: MSE injected (se) | cells law [J, bound] | independent planes | symmetric; "
          "mean injected (se) | cells law | independent planes | symmetric")
    for bits, level_map in CELLS:
        for years in args.years:
            cells = retention_channel(device, years * YEAR_S, bits, level_map)
            rate = average_flip_rate(cells, 8)
            planes, symmetric = independent_planes(cells, 8), SymmetricChannel(rate)
            for scheme in SCHEMES:
                mean, mean_se, mse, mse_se = injected_moments(encoding, codes, cells, scheme, args.trials)
                plane_mean, plane_mse = law_moments(encoding, codes, planes, scheme)
                sym_mean, sym_mse = law_moments(encoding, codes, symmetric, scheme)
                law = cell_code_law(encoding, codes, cells, scheme)
                law_mean, law_mse = float(np.mean(law.mean)), float(np.mean(law.var + law.mean**2))
                print(f"{bits}-{level_map} {years:g}y {rate:.2e} {scheme!r}: MSE {mse:.4g} ({mse_se:.2g}) | "
                      f"{law_mse:.4g} [{law.moved_cells}, {law.bound.max():.2g}] | {plane_mse:.4g} | {sym_mse:.4g}; "
                      f"mean {mean:.4g} ({mean_se:.2g}) | {law_mean:.4g} | {plane_mean:.4g} | {sym_mean:.4g}",
                      flush=True)


if __name__ == "__main__":
    main()
