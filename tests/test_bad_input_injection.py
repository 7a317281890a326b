"""Bad input to qtaml_tac's storage, injection and evaluation, tried as a new user would (issue 12, section 4).

Each case must give a ``ValueError`` naming the argument (or the right
result) and leave the user's model untouched.
"""


import numpy as np
import pytest
import torch
from torch import nn

from qtaml_tac import StorageConfig, quantize, select_parameters


def test_storage_config_accepts_numpy_integers_and_one_name():
    config = StorageConfig(n_bits=np.int64(8))
    assert config.n_bits == 8 and type(config.n_bits) is int
    assert StorageConfig(n_bits=np.int64(8)) == StorageConfig()
    assert StorageConfig(names="0.weight").names == ("0.weight",)
    assert select_parameters(nn.Sequential(nn.Linear(2, 2)), StorageConfig(names="0.weight")) == ["0.weight"]


@pytest.mark.parametrize("kwargs, match", [
    ({"n_bits": 8.0}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": np.float64(8)}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": True}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": 40}, r"n_bits must be an integer in 1\.\.16"),
    ({"n_bits": "8"}, r"n_bits must be an integer in 1\.\.16"),
    ({"encoding": ["gray"]}, "encoding must be one of"),
    ({"include_bias": "yes"}, "include_bias must be True or False"),
    ({"include_norm": 1}, "include_norm must be True or False"),
    ({"names": ()}, "names must be one or more parameter names"),
    ({"names": ("a", 3)}, "names must be one or more parameter names"),
    ({"names": 3}, "names must be a parameter name or a sequence"),
    ({"filter_fn": "fc"}, "filter_fn must be a callable"),
])
def test_storage_config_refuses_bad_fields(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StorageConfig(**kwargs)


def test_unknown_names_list_the_available_parameters():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"names not found .*\['0\.weigth'\].*did you mean '0\.weight'.*"
                                         r"available: \['0\.weight', '0\.bias', '2\.weight', '2\.bias'\]"):
        select_parameters(model, StorageConfig(names=("0.weigth", "2.weight")))


def test_integer_weights_are_refused_by_name_and_dtype():
    model = nn.Linear(3, 2)
    model.weight = nn.Parameter(torch.tensor([[3, 1, 0], [2, 2, 1]]), requires_grad=False)
    before = model.weight.clone()
    with pytest.raises(ValueError, match=r"non-floating dtype cannot be stored: weight \(torch\.int64\)"):
        quantize(model)
    with pytest.raises(ValueError, match=r"weight \(torch\.int64\)"):
        select_parameters(model, StorageConfig(names="weight"))
    assert torch.equal(model.weight, before)
    from qtaml_tac.storage import excluded_parameters
    assert "not floating point" in excluded_parameters(model)["weight"]
    kept = StorageConfig(include_bias=True, filter_fn=lambda name, p: p.is_floating_point())
    assert select_parameters(model, kept) == ["bias"]
