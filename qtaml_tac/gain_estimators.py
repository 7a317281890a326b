"""Step 1's two estimators of the Jacobian gains, each with its standard error (Algorithm 1 Step 1, Lemma 4.3).

Both estimate the same quantity, the Jacobian gain of Lemma 4.3 per input,

.. math::

    G_l = \\frac{1}{B}\\,\\|J_l\\|_F^2, \\qquad J_l = \\frac{\\partial f(X)}{\\partial W_l},

where ``f(X)`` is the model's whole output on the calibration batch of
``B`` inputs (``B`` its first dimension) in eval mode, so that ``G_l`` is
the mean over the batch of each input's ``||J_l(x)||_F**2`` (in eval mode
the inputs do not interact; if they do, both estimators still estimate
the same ``||J_l||_F**2 / B``).

``"finite_difference"`` (:func:`finite_difference_gains`, the paper's)
    ``q = ||f(W_l + eps) - f(W_l)||**2 / (B sigma_l**2)`` with
    ``eps ~ N(0, sigma_l**2 I)`` on layer ``l`` alone, ``sigma_l =
    probe_scale * max|W_l|``: one forward pass per probe *and per layer*
    (``L K`` in all). It needs no gradients, so it serves models that are not
    differentiable; it carries an ``O(sigma_l)`` bias from the curvature.
``"hutchinson"`` (:func:`hutchinson_gains`)
    ``q = ||J_l^T v||**2 / B`` with ``v`` a random sign (Rademacher) vector
    over the batch's outputs: one forward pass, then one backward pass per
    probe gives ``J_l^T v`` for every stored layer at once (``1 + K``
    passes whatever the number of layers). ``E[v v^T] = I``, so
    ``E ||J_l^T v||**2 = tr(J_l J_l^T) = ||J_l||_F**2`` (the cross terms
    between inputs vanish in expectation). Unbiased.

**Variance and probes.** With ``A = J_l J_l^T`` (the outputs' Gram matrix), one probe's variance is,
in units of ``1/B**2``,

* Gaussian probes (finite difference, in its linear regime):
  ``2 ||A||_F**2``;
* Rademacher probes (Hutchinson): ``2 (||A||_F**2 - sum_i A_ii**2)``, never
  more than the Gaussian one (Hutchinson 1990; Avron & Toledo 2011).

With the effective rank ``r = tr(A)**2 / ||A||_F**2`` (between 1 and the
number of outputs), the relative standard error of ``K`` probes is at most
``sqrt(2 / (r K))``: a target relative error ``e`` needs at most
``K = ceil(2 / (r e**2))`` probes (:func:`probes_for_relative_error`), and
``K = 2 / e**2`` in the worst case ``r = 1`` (e.g. one output). Each
estimator reports the sample standard error of its ``K`` probes,
``std(q, ddof=1) / sqrt(K)``, beside each gain (``None`` for ``K = 1``).

Memory: the finite-difference route keeps a float copy of one layer at a
time (to restore it bit for bit); the Hutchinson route changes no
weight and reduces each layer's gradient to its squared norm as soon as
backward has accumulated it (``register_post_accumulate_grad_hook``), so at
most one layer's gradient is alive at a time; the computation graph of one
forward pass (activations) is held across the ``K`` backward passes.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from qtaml_theory.validation import as_scale

__all__ = ["GAIN_ESTIMATORS", "Gains", "finite_difference_gains", "hutchinson_gains", "probes_for_relative_error"]

#: Step 1's estimators (:attr:`qtaml_tac.CalibrationConfig.gain_estimator`).
GAIN_ESTIMATORS = ("hutchinson", "finite_difference")


class Gains(dict):
    """``{name: G_l}`` with each gain's standard error and how it was estimated.

    A ``dict`` of floats (so it goes wherever Step 1's gains went before),
    with the attributes

    Attributes
    ----------
    standard_errors : dict
        ``{name: standard error of G_l}``, ``None`` where one probe gives none.
    estimator : str
        One of :data:`GAIN_ESTIMATORS`.
    probes : int
        Probes per estimate.
    """

    def __init__(self, gains: dict, standard_errors: dict, estimator: str, probes: int) -> None:
        super().__init__(gains)
        self.standard_errors = standard_errors
        self.estimator = estimator
        self.probes = probes


def probes_for_relative_error(relative_error: float, effective_rank: float = 1.0) -> int:
    """Probes that bound the relative standard error of a gain by ``relative_error``: ``ceil(2 / (r e**2))``.

    Holds for both estimators (Rademacher probes never need more than
    Gaussian ones); ``effective_rank`` ``r = tr(A)**2 / ||A||_F**2 >= 1``
    (module docstring), 1 the worst case.

    Raises
    ------
    ValueError
        A relative error or effective rank that is not a finite positive number, or a rank below 1.
    """
    error = float(as_scale(relative_error, "relative_error"))
    rank = float(as_scale(effective_rank, "effective_rank"))
    if rank < 1:
        raise ValueError(f"effective_rank must be >= 1 (tr(A)**2 / ||A||_F**2), got {effective_rank!r}")
    return max(1, math.ceil(2 / (rank * error**2)))


def _gains(samples: dict, gains: dict, estimator: str, probes: int) -> Gains:
    """``Gains`` from per-probe samples ``{name: [q_1..q_K]}``, every gain checked finite."""
    for name, gain in gains.items():
        if not math.isfinite(gain):
            raise ValueError(f"the Jacobian gain of {name} is not finite ({gain}): the model's output or its "
                             f"gradient is not finite on that layer ({estimator} estimator)")
    errors = {name: float(np.std(values, ddof=1) / math.sqrt(probes)) if probes > 1 else None
              for name, values in samples.items()}
    return Gains(gains, errors, estimator, probes)


@torch.no_grad()
def finite_difference_gains(model: nn.Module, batch: object, parameters: dict, probes: int, probe_scale: float,
                            seed: int) -> Gains:
    """Gaussian probes on each layer alone, one forward pass each (the paper's Step 1; module docstring).

    ``parameters`` maps the checked names to the model's parameters; each is
    put back bit for bit after its probes (also on error), so only one
    layer's float copy is held at a time.
    """
    from .calibrate import forward, reference_output

    generator = torch.Generator().manual_seed(seed)
    gains, samples = {}, {}
    clean, per_input = reference_output(model, batch)
    for name, parameter in parameters.items():
        original = parameter.detach().clone()
        sigma = probe_scale * float(original.abs().max() or 1.0)
        total, samples[name] = 0.0, []
        try:
            for _ in range(probes):
                probe = torch.randn(original.shape, generator=generator, dtype=original.dtype) * sigma
                parameter.copy_(original + probe)
                deviation = float(((forward(model, batch) - clean) ** 2).sum())
                total += deviation
                samples[name].append(deviation / (per_input * sigma**2))
        finally:
            parameter.copy_(original)
        gains[name] = total / (probes * per_input * sigma**2)
    return _gains(samples, gains, "finite_difference", probes)


def _check_differentiable(parameters: dict) -> None:
    frozen = [name for name, parameter in parameters.items()
              if not parameter.is_floating_point() or not parameter.requires_grad]
    if frozen:
        raise ValueError(f"gain_estimator='hutchinson' needs gradients, but these stored parameters are frozen "
                         f"(requires_grad=False) or not floating point: {frozen}; unfreeze them "
                         "(parameter.requires_grad_(True)) or use CalibrationConfig(gain_estimator='finite_difference')")


def _check_batch(batch: object) -> None:
    from .calibrate import batch_tensors

    if any(tensor.is_inference() for tensor in batch_tensors(batch)):
        raise ValueError("batch holds tensors made under torch.inference_mode(), which autograd cannot use, but "
                         "gain_estimator='hutchinson' needs a backward pass: make the batch outside inference mode "
                         "(or clone it there), or use CalibrationConfig(gain_estimator='finite_difference')")


def hutchinson_gains(model: nn.Module, batch: object, parameters: dict, probes: int, seed: int) -> Gains:
    """Rademacher output probes, one backward pass each for every layer at once (module docstring).

    No weight is changed; each parameter's ``.grad`` is put back as it was.

    Raises
    ------
    ValueError
        Stored parameters that are frozen, not floating point, or that the
        output does not depend on through autograd (detached), named, with
        the finite-difference estimator suggested; a batch of inference-mode
        tensors; a gain that is not finite.
    """
    from .calibrate import reference_output

    _check_differentiable(parameters)
    _check_batch(batch)
    generator = torch.Generator().manual_seed(seed)
    squares = {name: np.zeros(probes) for name in parameters}  # filled by the hooks
    reached, probe = set(), 0

    def record(name):
        def hook(parameter):
            squares[name][probe] = float(torch.linalg.vector_norm(parameter.grad)) ** 2
            reached.add(name)
            parameter.grad = None  # only one layer's gradient alive at a time
        return hook

    saved = {name: parameter.grad for name, parameter in parameters.items()}
    handles = []
    try:
        for name, parameter in parameters.items():
            parameter.grad = None
            handles.append(parameter.register_post_accumulate_grad_hook(record(name)))
        with torch.enable_grad():
            output, per_input = reference_output(model, batch)
            for probe in range(probes):
                reached.clear()
                if output.requires_grad:
                    signs = torch.randint(0, 2, output.shape, generator=generator).to(output.dtype) * 2 - 1
                    torch.autograd.backward(output, signs, inputs=list(parameters.values()),
                                            retain_graph=probe < probes - 1)
                unreached = [name for name in parameters if name not in reached]
                if unreached:
                    raise ValueError(f"the model's output has no gradient path to these stored parameters: "
                                     f"{unreached} (detached, or computed without autograd); use "
                                     "CalibrationConfig(gain_estimator='finite_difference')")
    finally:
        for handle in handles:
            handle.remove()
        for name, parameter in parameters.items():
            parameter.grad = saved[name]
    samples = {name: values / per_input for name, values in squares.items()}
    return _gains(samples, {name: float(values.mean()) for name, values in samples.items()}, "hutchinson", probes)
