"""Data that ships with the packages: sklearn's bundled digits (Appendix B.2). Nothing is downloaded."""

from __future__ import annotations

from dataclasses import dataclass

import torch

__all__ = ["Split", "digits", "sequence_task"]


@dataclass(frozen=True)
class Split:
    """Train and test tensors of one task."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    def calibration_batch(self, size=64):
        """The first ``size`` training inputs, unlabeled (Algorithm 1's calibration batch)."""
        return self.x_train[:size]


def digits(seed=0, test_size=360):
    """sklearn's 8x8 digits: 1437 train / 360 test, stratified and seeded; pixels scaled to [0, 1].

    Returns
    -------
    Split
        Inputs shaped ``(N, 1, 8, 8)`` float32, labels int64.
    """
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    images, labels = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(images, labels, test_size=test_size, stratify=labels,
                                                        random_state=seed)

    def tensor(x):
        return torch.tensor(x / 16.0, dtype=torch.float32).reshape(-1, 1, 8, 8)

    return Split(tensor(x_train), torch.tensor(y_train), tensor(x_test), torch.tensor(y_test))


def sequence_task(seed=0, train=4000, test=1000, length=10, vocabulary=16, classes=8):
    """The generated sequence task of Section 5.6: label = (first token + last token) mod ``classes``.

    Tokens are uniform over the vocabulary; nothing in between matters, so a
    model must combine the first and the last position (through attention).
    """
    generator = torch.Generator().manual_seed(seed)

    def draw(count):
        tokens = torch.randint(0, vocabulary, (count, length), generator=generator)
        return tokens, (tokens[:, 0] + tokens[:, -1]) % classes

    x_train, y_train = draw(train)
    x_test, y_test = draw(test)
    return Split(x_train, y_train, x_test, y_test)
