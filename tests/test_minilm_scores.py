"""How one noisy deployment of a sentence embedder is scored, non-finite embeddings included (issue 15).

A float weight read back as NaN or infinity (``on_nonfinite="keep"``) makes embeddings that are not finite; such
an embedding fails every measure: cosine 0, never retrieved nor retrieving, a wrong probe answer.
"""

import math

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from qtaml_tac.zoo.minilm import CleanReference, _scores


def _reference():
    generator = torch.Generator().manual_seed(0)
    documents = torch.nn.functional.normalize(torch.randn(12, 5, generator=generator, dtype=torch.float64), dim=1)
    queries = documents[[1, 4, 7, 10]] + 0.01
    labels = np.array([0, 1] * 6)
    probe = LogisticRegression().fit(documents[:6].numpy(), labels[:6])
    return CleanReference({}, {}, documents, queries, (queries @ documents.T).argmax(dim=1), probe,
                          float(probe.score(documents[6:].numpy(), labels[6:]))), labels


def test_finite_embeddings_are_scored_as_before():
    reference, labels = _reference()
    documents, queries = reference.clean_documents, reference.clean_queries
    scores = dict(_scores(documents, queries, reference, 6, labels[6:]))
    assert scores == {"cosine": float((documents * documents).sum(dim=1).mean()), "retrieval": 1.0,
                      "probe": reference.probe_clean}


def test_a_non_finite_embedding_fails_every_measure():
    reference, labels = _reference()
    documents, queries = reference.clean_documents.clone(), reference.clean_queries.clone()
    documents[4, 2] = math.nan      # a retrieved document, in the probe's training rows
    documents[9, 0] = math.inf      # a held-out document
    queries[2, 1] = math.nan        # the third query cannot answer
    scores = dict(_scores(documents, queries, reference, 6, labels[6:]))
    finite = [i for i in range(12) if i not in (4, 9)]
    assert math.isclose(scores["cosine"], float((documents[finite] ** 2).sum()) / 12)
    assert scores["retrieval"] == 2 / 4  # query 1 lost its document, query 2 its embedding
    held_out = reference.probe.predict(reference.clean_documents[6:].numpy()) == labels[6:]
    held_out[9 - 6] = False
    assert scores["probe"] == float(held_out.mean())


def test_all_documents_non_finite_score_zero():
    reference, labels = _reference()
    documents = torch.full_like(reference.clean_documents, math.nan)
    scores = dict(_scores(documents, reference.clean_queries, reference, 6, labels[6:]))
    assert scores == {"cosine": 0.0, "retrieval": 0.0, "probe": 0.0}
