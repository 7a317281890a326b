"""qtaml_tac: Tunneling-Aware Compensation (TAC) on torch models.

Applies the verified formulas of :mod:`qtaml_theory` to real models (paper
Section 4.4, Algorithm 1). The storage, injection, calibration and planning
modules arrive with their issues; this package is importable now so that
installs and imports are stable.
"""

__all__: list[str] = []
