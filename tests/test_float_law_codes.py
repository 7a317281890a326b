"""The law of a float (and an MX element) guarded by a real code (issue 15): SEC-DED and BCH over the stored bit order.

Held three ways: against a brute force written from the definition (every error pattern of every protected
plane's word, decoded by the real decoder, with random data around the weight), against the full 2**16-mask sum
inside the truncation bound for 16 bits, and against qtaml_tac's bit-exact coded injection on a float8 tensor.
"""

import itertools

import numpy as np
import pytest
import torch
from float_checks import assert_cumulants_close
from torch import nn

from qtaml_tac import StorageConfig
from qtaml_tac.inject import inject_
from qtaml_tac.storage import quantize
from qtaml_theory import WeightError, error_cumulants, get_encoding
from qtaml_theory._law_arithmetic import moment_cumulants
from qtaml_theory.allocation import residual_variance
from qtaml_theory.channels import DirectionalChannel
from qtaml_theory.ecc import DETECTED
from qtaml_theory.float_law import float_law_table, policy_table, protection_order
from qtaml_theory.protection import BCH, SECDED, IdealBits, IdealMSB


def _plane_outcomes(scheme, bit, position, p, rng):
    """``{(read bit, detected): probability}`` of one protected plane's word, by every error pattern of the word.

    The weight's bit sits at ``position`` of a word whose other data bits are random.
    """
    code = scheme.code
    data = rng.integers(0, 2, scheme.data_bits, dtype=np.uint8)
    data[position] = bit
    word = code.encode(data[None])[0]
    patterns = np.array(list(itertools.product((0, 1), repeat=code.length)), dtype=np.uint8)
    weights = p ** patterns.sum(1) * (1 - p) ** (code.length - patterns.sum(1))
    decoded, status = code.decode(word ^ patterns)
    outcomes = {}
    for read, detected, weight in zip(decoded[:, position], status == DETECTED, weights):
        outcomes[(int(read), bool(detected))] = outcomes.get((int(read), bool(detected)), 0.0) + weight
    return outcomes


def brute_force(encoding, code, p, scheme, bit_order, policy, seed=0):
    """Errors and probabilities of one weight's read-back, from the definition (module docstring).

    Stored position ``n - 1 - j`` holds the format's bit ``bit_order[j]``; the top ``k`` stored planes are coded;
    the weight's position in its words is uniform; a detected failure under ``on_failure="zero"`` reads 0.
    """
    rng = np.random.default_rng(seed)
    n, k = encoding.n, scheme.k
    bits = encoding.bits(code)
    guarded = [bit_order[j] for j in range(k)]
    free = [i for i in range(n) if i not in guarded]
    table = policy_table(encoding, policy)
    errors, probabilities, raw_nonfinite = [], [], []
    for position in range(scheme.data_bits):
        planes = [_plane_outcomes(scheme, bits[g], position, p, rng) for g in guarded]
        for reads in itertools.product(*(plane.items() for plane in planes)):
            weight = np.prod([q for _, q in reads]) / scheme.data_bits
            zeroed = scheme.on_failure == "zero" and any(detected for (_, detected), _ in reads)
            for flips in itertools.product((0, 1), repeat=len(free)):
                read = bits.copy()
                for g, ((value, _), _) in zip(guarded, reads):
                    read[g] = value
                for i, flip in zip(free, flips):
                    read[i] ^= flip
                q = weight * np.prod([p if f else 1 - p for f in flips])
                read_code = int(read @ (1 << np.arange(n)))
                errors.append((0.0 if zeroed else table[read_code]) - encoding.table[code])
                probabilities.append(q)
                raw_nonfinite.append(not zeroed and encoding.nonfinite[read_code])
    errors, probabilities = np.array(errors), np.array(probabilities)
    finite = np.isfinite(errors)
    nonfinite = probabilities[np.array(raw_nonfinite, dtype=bool)].sum()  # before the read policy
    return errors[finite], probabilities[finite] / probabilities[finite].sum(), nonfinite


CASES = [("float8_e5m2", 0.75, SECDED(2, 4), "keep"),
         ("float8_e5m2", -3.0, SECDED(2, 4, on_failure="zero"), "clamp"),
         ("float8_e5m2", 49152.0, SECDED(2, 4, on_failure="zero"), "keep"),  # one flip from infinity
         ("mxfp4", 1.5, BCH(2, 4, 2, on_failure="zero"), "keep"),
         ("float6_e3m2fn", 0.375, SECDED(3, 4), "zero")]


@pytest.mark.parametrize(("name", "value", "scheme", "policy"), CASES)
def test_a_coded_float_matches_the_brute_force_over_every_error_pattern(name, value, scheme, policy):
    encoding = get_encoding(name, {"float8_e5m2": 8, "mxfp4": 4, "float6_e3m2fn": 6}[name])
    code = int(encoding.encode(value))
    order = tuple(range(encoding.n - 2, -1, -1)) + (encoding.n - 1,)  # the sign stored last: not the top bits
    errors, probabilities, nonfinite = brute_force(encoding, code, 0.05, scheme, order, policy)
    truth = moment_cumulants(errors, probabilities, False)
    law = WeightError(encoding, code, 0.05, protection=scheme, on_nonfinite=policy, bit_order=order)
    assert_cumulants_close(law.cumulants(), truth, 1e-10)
    assert_cumulants_close(law.cumulants("enumeration"), truth, 1e-10)
    assert law.nonfinite_probability() == pytest.approx(nonfinite, rel=1e-9, abs=1e-15)
    assert law.nonfinite_probability("enumeration") == pytest.approx(nonfinite, rel=1e-9, abs=1e-15)
    # the bit order matters: guarding the format's own top bits is another law
    other = WeightError(encoding, code, 0.05, protection=scheme, on_nonfinite=policy).cumulants()
    assert abs(other[1] - truth[1]) > 1e-3 * truth[1]


@pytest.mark.parametrize(("name", "failure"), [("bfloat16", "keep"), ("float16", "zero")])
def test_a_coded_16_bit_float_lies_within_its_truncation_bound_of_every_mask(name, failure):
    """The 3-flip sum over the masks of the two guarded positions' reads is within its bound of all 65,536 masks
    mixed over the code's 51 word positions (a different order of summation over the same outcomes)."""
    encoding = get_encoding(name, 16)
    codes = encoding.encode(np.array([0.02, -0.1, 3.0]))
    order = protection_order(encoding, encoding.encode(np.random.default_rng(1).normal(0, 0.05, 500)), 0.25)
    scheme = SECDED(2, 64, on_failure=failure)
    table = float_law_table(encoding, codes, 1e-3, protection=scheme, on_nonfinite="clamp", bit_order=order)
    for column, code in enumerate(codes):
        law = WeightError(encoding, int(code), 1e-3, protection=scheme, on_nonfinite="clamp", bit_order=order)
        every = np.array(law.cumulants("enumeration"))
        bound = table.cumulant_bounds[:, column]
        assert np.all(np.abs(table.cumulants[:, column] - every) <= bound + 1e-9 * np.abs(every))
    # and the bound means something for a typical weight (3.0's is loose: masks of many exponent flips)
    assert np.all(table.cumulant_bounds[:2, 0] <= 1e-4 * np.abs(table.cumulants[:2, 0]))


def test_ideal_top_bits_in_the_stored_order_are_ideal_bits_at_the_order_s_positions():
    """Under a channel whose rates depend on the stored bit, the stored order carries each bit's value along:
    IdealMSB(k) over the stored word is exactly IdealBits(bit_order[:k]) over the format's bits."""
    encoding = get_encoding("float8_e4m3fn", 8)
    order = (6, 3, 7, 0, 5, 1, 4, 2)
    channel = DirectionalChannel(0.01, 0.3)
    codes = np.flatnonzero(~encoding.nonfinite)
    stored = error_cumulants(encoding, codes, channel, protection=IdealMSB(3), bit_order=order)
    assert np.array_equal(stored, error_cumulants(encoding, codes, channel, protection=IdealBits(order[:3])))
    assert not np.allclose(stored, error_cumulants(encoding, codes, channel, protection=IdealMSB(3)))


def _latin_model():
    """A 64 x 8 float8 weight whose rows are the 8 rotations of one vector (8 times): each value sits at every
    position of the 8-bit words equally often, so the tensor's average law is the average of the weights' laws."""
    base = torch.tensor([0.3, -1.5, 0.02, 7.0, -0.11, 2.5, 0.75, -40.0])
    model = nn.Linear(8, 64, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.stack([torch.roll(base, r) for r in range(8)] * 8))
    return model


@pytest.mark.parametrize("scheme", [SECDED(3, 8), BCH(2, 8, 2, on_failure="zero")], ids=str)
def test_the_coded_float_law_matches_bit_exact_coded_injection(scheme):
    """Monte Carlo: 200 injections through the real encoder and decoder (qtaml_tac.coded_injection) into an
    E4M3 tensor stored in its protection order. Trials are independent, so the per-trial tensor means of the
    error and of its square are i.i.d.; each is held at 5 standard errors (from the trials' spread): a false
    alarm rate of about 6e-7 per check under the normal approximation. Power: the law that ignores the stored
    bit order (guarding the format's top bits) is 5-25 standard errors away on these checks (rejected with
    probability > 0.5, near 1 for the zeroing code); a 5% error in the law's moments is left to the exact
    tests above, which it fails by orders of magnitude."""
    model = _latin_model()
    storage = quantize(model, StorageConfig(encoding="float8_e4m3fn", n_bits=8, on_nonfinite="zero"))
    tensor = storage["weight"]
    clean = tensor.decode().double().flatten()
    p, trials = 0.02, 200
    law = error_cumulants(get_encoding("float8_e4m3fn", 8), tensor.format_codes().numpy().astype(np.int64), p,
                          protection=scheme, on_nonfinite="zero", bit_order=tensor.bit_order)
    generator = torch.Generator().manual_seed(5)
    first, second = np.empty(trials), np.empty(trials)
    try:
        for trial in range(trials):
            inject_(storage, p, {"weight": scheme}, generator)
            error = model.weight.detach().double().flatten() - clean
            first[trial], second[trial] = error.mean().item(), (error**2).mean().item()
    finally:
        storage.restore_()
    for draws, want in ((first, law[0].mean()), (second, (law[1] + law[0] ** 2).mean())):
        assert abs(draws.mean() - want) <= 5 * draws.std(ddof=1) / np.sqrt(trials), (draws.mean(), want)


def test_the_allocation_s_residual_variance_of_a_coded_float_averages_its_finite_codes_in_the_stored_order():
    encoding = get_encoding("float8_e4m3fn", 8)
    finite = np.flatnonzero(~encoding.nonfinite)
    order = protection_order(encoding, finite, 0.25)  # stored as qtaml_tac stores them
    want = error_cumulants(encoding, finite, 1e-3, protection=SECDED(2, 64), bit_order=order)[1].mean()
    assert residual_variance(SECDED(2, 64), 1e-3, 8, "float8_e4m3fn") == pytest.approx(want, rel=1e-12)
