"""Beyond the paper (conclusion, future work; issue 16): the mean drift of multi-level cells under charge loss.

A cell stores b bits as one of 2^b levels; over the window a cell at level L >= 1 falls to L - 1 with
probability q_L (one-step charge loss) and level L reads back as m(L) = L (binary) or L ^ (L >> 1) (Gray).
The cell's drift is q_L (m(L-1) - m(L)); a code is q = sum_j 2^(jb) v_j over independent cells, so its drift
is the same weighted sum of cell drifts. Binary levels with loss proportional to stored charge (q_L = L q)
give an exactly affine drift, E[w_hat | w] = (1 - q) w - q 2^(n-1) Delta (offset binary), and the
compensation factor 1 / (1 - q), the analogue of Prop 4.1's 1 / (1 - 2p). Gray levels do not: a step down
from an odd level raises the read value, the drift is not affine, and its least-squares slope over
uniformly used levels is -4q/5 (b = 2) or -6q/7 (b = 3).

Run ``python proofs/multilevel_cell_drift.py`` to print the steps (the exit status is 1 when a step fails).
"""

import sympy as sp

from qtaml_theory import derive
from qtaml_theory.derive import Delta, cell_loss_rates, multilevel_cell_drift, multilevel_drift_slope, p10, w
from qtaml_theory.proof import Derivation, run


def derivation():
    d = Derivation("Multi-level cells (issue 16)",
                   "drift of one-step charge loss under binary and Gray level maps; compensation 1/(1 + slope)")
    q = sp.Symbol("q", nonnegative=True)
    u = sp.Symbol("u", real=True)
    for bits in (2, 3):
        rates = cell_loss_rates(bits)
        proportional = {rate: level * q for level, rate in enumerate(rates, start=1)}
        for level_map in ("binary", "gray"):
            values = [level ^ (level >> 1) if level_map == "gray" else level for level in range(1 << bits)]
            drifts = multilevel_cell_drift(bits, level_map)
            for level, rate in enumerate(rates, start=1):
                step = values[level - 1] - values[level]
                cf = 1 - rate + rate * sp.exp(sp.I * u * step)
                d.step(f"b = {bits}, {level_map}, level {level}: first cumulant of the cell's CF is "
                       f"q_{level} (m({level - 1}) - m({level})) = {step} q_{level}",
                       sp.simplify(-sp.I * sp.diff(sp.log(cf), u).subs(u, 0)), drifts[level])
            slope = multilevel_drift_slope(bits, level_map).subs(proportional)
            if level_map == "binary":
                d.step(f"b = {bits}, binary, q_L = L q: the drift -L q = -q v is affine in the value v",
                       sp.Matrix([drift.subs(proportional) for drift in drifts]),
                       sp.Matrix([-q * v for v in values]))
                d.step(f"b = {bits}, binary: least-squares slope is -q", slope, -q)
            else:
                expected = -sp.Rational(4, 5) * q if bits == 2 else -sp.Rational(6, 7) * q
                d.step(f"b = {bits}, Gray, q_L = L q: least-squares slope over uniform levels is {expected}",
                       slope, expected)
                residual = [drift.subs(proportional) - slope * v for drift, v in zip(drifts, values)]
                d.step(f"b = {bits}, Gray: the drift is not affine (a non-zero residual about its slope)",
                       sp.Integer(int(any(sp.simplify(r - residual[0]) != 0 for r in residual))), sp.Integer(1))
    cells = sp.symbols("v0:3", nonnegative=True)
    code = sum(2 ** (2 * j) * v for j, v in enumerate(cells))
    d.step("MLC code over 3 cells, binary, q_L = L q: sum_j 4^j (-q v_j) = -q q_code",
           sum(2 ** (2 * j) * (-q * v) for j, v in enumerate(cells)), -q * code)
    n_bits = 6
    drift = (-q * code).subs(cells[0], w / Delta + 2 ** (n_bits - 1) - code + cells[0])
    d.step("offset binary, n = 6: E[delta | w] = -q (w / Delta + 2^(n-1)) Delta",
           sp.expand(drift * Delta), sp.expand(-q * w - q * 2 ** (n_bits - 1) * Delta))
    d.step("E[w_hat | w] = (1 - q) w - q 2^(n-1) Delta: shrinkage by 1 - q",
           sp.expand(w + drift * Delta), sp.expand((1 - q) * w - q * 2 ** (n_bits - 1) * Delta))
    d.step("b = 1 is the directional channel's slope -(p01 + p10) with p01 = 0, p10 = q_1",
           multilevel_drift_slope(1, "binary").subs(cell_loss_rates(1)[0], p10),
           sp.diff(derive.mean_drift("offset_binary", "directional"), w).subs(derive.p01, 0))
    d.step("the compensation factor 1 / (1 + slope) is 1 / (1 - q) for binary levels, q_L = L q",
           derive.multilevel_correction_factor(2, "binary").subs(
               {rate: level * q for level, rate in enumerate(cell_loss_rates(2), start=1)}), 1 / (1 - q))
    return d


if __name__ == "__main__":
    run(derivation())
