"""Zero points and shared scales in faulty memory (issue 15): their law, and their term in the allocation."""

import numpy as np
import pytest
import torch
from float_checks import assert_cumulants_close
from torch import nn

from qtaml_tac.adapters import from_codes
from qtaml_tac.inject import inject_
from qtaml_tac.scale_variance import scale_flip_variance
from qtaml_theory import get_encoding
from qtaml_theory.allocation import allocate_protection
from qtaml_theory.channels import DirectionalChannel
from qtaml_theory.protection import SECDED, IdealMSB, Unprotected
from qtaml_theory.scaled_law import scaled_error_cumulants, scaled_weight_error

E8M0 = get_encoding("e8m0", 8)
F16 = get_encoding("float16", 16)


@pytest.mark.parametrize("policy", ["keep", "zero", "clamp"])
def test_a_zero_point_s_law_matches_the_joint_enumeration_of_all_three_parts(policy):
    """int4 element, E8M0 scale and E8M0 zero point (8 = 2**3): all 2**20 masks against the exact combination."""
    law = scaled_weight_error(get_encoding("offset_binary", 4), 11, E8M0, 120, 0.03, zero_point_code=130,
                              on_nonfinite=policy)
    assert law.stored_value == (3 - 8) * 2.0**-7
    assert_cumulants_close(law.cumulants(), law.cumulants("enumeration"), 1e-9)
    assert law.nonfinite_probability() == pytest.approx(law.nonfinite_probability("enumeration"), rel=1e-12)
    alone = scaled_weight_error(get_encoding("offset_binary", 4), 11, E8M0, 120, 0.03, on_nonfinite=policy)
    assert law.nonfinite_probability() > alone.nonfinite_probability()  # the zero point can read NaN too


def _layer():
    """64 groups of 32 weights, each group every unsigned int4 code twice (so the layer's codes are uniform and
    the allocation's code-averaged variance is the layer's), a float16 scale and zero point per group."""
    rng = np.random.default_rng(4)
    codes = torch.from_numpy(np.stack([rng.permutation(np.arange(32) % 16) for _ in range(64)]))
    scales = torch.from_numpy(np.float16(rng.uniform(0.01, 0.02, (64, 1))).astype(np.float64))
    zero_points = torch.from_numpy(rng.choice([3.0, 6.0, 9.0, 12.0], (64, 1)))
    model = nn.Linear(32, 64, bias=False)
    storage = from_codes(model, {"weight": codes}, {"weight": scales}, {"weight": zero_points}, n_bits=4,
                         signed=False, scales_in_faulty_memory=True)
    return model, storage


def test_scales_and_zero_points_in_the_law_and_the_allocation_match_coded_injection():
    """Monte Carlo against qtaml_tac's injection, which flips codes, scales and zero points.

    The channel only empties cells (1 -> 0, rate 0.05): a float16 scale or zero point can then only shrink, so
    every error is bounded and 60 trials estimate the moments well. Per trial the layer means of the error and
    of its square are i.i.d.; each is held at 5 standard errors of the trials (false alarm about 6e-7 under the
    normal approximation). The second moment is the allocation's reported variance (its scheme's v plus the
    layer's scale term) times Delta**2, plus the law's squared drift. Power (measured over these 60 trials):
    leaving the zero points' flips out of the law moves the mean by about 8 standard errors and the second
    moment by about 10; leaving the scale term out of the reported variance moves it by about 11 (each fails
    with probability near 1).
    """
    model, storage = _layer()
    tensor = storage["weight"]
    channel = DirectionalChannel(0.0, 0.05)
    encoding = storage.encoding
    codes = tensor.codes.numpy().astype(np.int64).reshape(64, 32)
    scale_codes = tensor.scale_codes.numpy().astype(np.int64)[:, None]
    zero_codes = tensor.zero_point_codes.numpy().astype(np.int64)[:, None]
    clean = tensor.decode().double().flatten()
    stored = (encoding.decode(codes) - F16.table[zero_codes]) * F16.table[scale_codes]
    assert np.array_equal(stored.ravel(), clean.numpy())
    law = scaled_error_cumulants(encoding, codes, F16, scale_codes, channel, zero_point_codes=zero_codes)
    term = scale_flip_variance(storage, "weight", channel)
    result = allocate_protection([tensor.size], [1.0], [Unprotected(), IdealMSB(1)], 0, 4, channel,
                                 scale_variance=[term])
    assert result.protection == (Unprotected(),)
    reported = result.variances[0] * tensor.scale**2
    assert reported == pytest.approx(float(law[1].mean()), rel=1e-9)  # the allocation reports the layer's law
    generator = torch.Generator().manual_seed(7)
    trials = 60
    first, second = np.empty(trials), np.empty(trials)
    try:
        for trial in range(trials):
            inject_(storage, channel, None, generator)
            error = model.weight.detach().double().flatten() - clean
            first[trial], second[trial] = error.mean().item(), (error**2).mean().item()
    finally:
        storage.restore_()
    for draws, want in ((first, law[0].mean()), (second, reported + (law[0] ** 2).mean())):
        assert abs(draws.mean() - want) <= 5 * draws.std(ddof=1) / np.sqrt(trials), (draws.mean(), want)


def test_the_scale_term_shifts_the_objective_not_the_choice():
    menu = [Unprotected(), SECDED(1, 64), SECDED(2, 64), SECDED(4, 64)]
    args = ([640, 6400], [5.0, 1.0], menu, 700, 4, 1e-3)
    plain = allocate_protection(*args)
    shifted = allocate_protection(*args, scale_variance=[0.25, 2.0])
    assert shifted.protection == plain.protection
    assert shifted.objective == pytest.approx(plain.objective + 640 * 5.0 * 0.25 + 6400 * 1.0 * 2.0, rel=1e-12)
    assert np.allclose(np.subtract(shifted.variances, plain.variances), [0.25, 2.0], rtol=0, atol=1e-15)
    for bad in ([0.1], [-0.1, 0.0], [float("nan"), 0.0]):
        with pytest.raises(ValueError, match="scale_variance must hold 2 finite numbers >= 0"):
            allocate_protection(*args, scale_variance=bad)
