"""A trained digit classifier shared by the qtaml_tac tests (trained once per session, ~3 s)."""

import pytest

from qtaml_tac.zoo.data import digits
from qtaml_tac.zoo.models import SmallCNN, train_classifier


@pytest.fixture(scope="session")
def digit_task():
    split = digits(seed=0)
    model = train_classifier(SmallCNN(), split, epochs=20, seed=0)
    return model, split
