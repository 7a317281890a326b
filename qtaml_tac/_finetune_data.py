"""The training set of :func:`qtaml_tac.finetune.finetune`: tensors shuffled into batches, or a loader's batches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import torch

# -- training data -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Tensors:
    """A training set given as ``(inputs, labels)`` tensors: shuffled into batches from a seeded generator."""

    inputs: torch.Tensor
    labels: torch.Tensor
    batch_size: int

    def batches(self, generator):
        order = torch.randperm(len(self.inputs), generator=generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start:start + self.batch_size]
            yield self.inputs[index], self.labels[index]

    def first_inputs(self, count):
        return self.inputs[:count]

    def steps(self):
        """Steps per epoch."""
        return -(-len(self.inputs) // self.batch_size)


@dataclass(frozen=True)
class _Batches:
    """A training set given as an iterable of ``(inputs, labels)`` batches (a ``DataLoader``), re-iterated each epoch."""

    loader: Iterable

    def batches(self, generator):
        return iter(self.loader)

    def first_inputs(self, count):
        return next(iter(self.loader))[0][:count]

    def steps(self):
        """Steps per epoch (``None`` for an iterable without a length)."""
        return len(self.loader) if hasattr(self.loader, "__len__") else None


def _training_set(train_data, batch_size):
    """``train_data`` as :class:`_Tensors` or :class:`_Batches`, refused when empty or of another shape."""
    if isinstance(train_data, tuple) and len(train_data) == 2 and all(isinstance(t, torch.Tensor) for t in train_data):
        inputs, labels = train_data
        if inputs.ndim == 0 or inputs.shape[0] == 0:
            raise ValueError(f"train_data must hold at least one example, got inputs of shape {tuple(inputs.shape)}")
        if labels.shape[:1] != inputs.shape[:1]:
            raise ValueError(f"train_data must hold one label per input: {inputs.shape[0]} inputs, labels of shape "
                             f"{tuple(labels.shape)}")
        return _Tensors(inputs, labels, batch_size)
    if isinstance(train_data, Iterable) and not isinstance(train_data, (str, bytes, Mapping, torch.Tensor)):
        if iter(train_data) is train_data:
            raise ValueError("train_data must be re-iterable for every epoch (a DataLoader or a list of batches), "
                             "got a one-shot iterator")
        first = next(iter(train_data), None)
        if first is None:
            raise ValueError("train_data must hold at least one example, got an iterable with no batch")
        if not (isinstance(first, (tuple, list)) and len(first) == 2):
            raise ValueError(f"train_data must yield (inputs, labels) batches, got a {type(first).__name__}")
        if len(first[0]) == 0:
            raise ValueError("train_data must hold at least one example, got an empty first batch")
        return _Batches(train_data)
    raise ValueError(f"train_data must be an (inputs, labels) pair of tensors or an iterable of (inputs, labels) "
                     f"batches (e.g. a DataLoader), got {type(train_data).__name__}")

