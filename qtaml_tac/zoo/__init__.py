"""The paper's models and data, kept for its experiments and benchmarks (Appendix B.2, Sections 5.5-5.6).

Nothing in the deployment API (:mod:`qtaml_tac`) needs this package: it holds
what the reproduction runs on, so that a user's own model plugs in exactly
where these do.

* :mod:`qtaml_tac.zoo.data`: sklearn's bundled digits and the generated sequence task.
* :mod:`qtaml_tac.zoo.models`: the digit CNNs and the sequence transformer, trained
  deterministically and cached.
* :mod:`qtaml_tac.zoo.minilm`: all-MiniLM-L6-v2 (optional extra ``qtaml[models]``)
  and its offline quality measures.

The submodules are imported on demand (``from qtaml_tac.zoo.models import trained``):
importing this package loads neither torch models nor sklearn.
"""

__all__ = ["data", "models", "minilm"]
