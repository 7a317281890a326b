"""Models of the paper's experiments, trained deterministically in seconds on the CPU (Appendix B.2, Sec. 5.5-5.6).

The paper's widths were lost with its symbols; where a number is ours it is
stated here, and the architecture keeps the shape the paper describes.

* :class:`SmallCNN` (B.2): conv 3x3 1->16, BN, ReLU, 2x2 max-pool; conv 3x3 16->32, BN, ReLU;
  fc 512->64, ReLU; fc 64->10 (weight tensors 144, 4608, 32768, 640).
* :class:`WideCNN`: the same with fc1 512->256 (most weights in fc1: 131,072 of 138,384).
* :class:`DeepCNN`: four conv layers (1->16->16->32->32, pool after the second) and two FC (512->64->10).
* :class:`ResCNN`: a conv stem (1->16), two residual blocks of two 3x3 convs (16->16) with identity skips,
  2x2 max-pool, fc 256->64->10.
* :class:`SequenceTransformer` (Sec. 5.6): token embedding (vocabulary 16, width 48), fixed sinusoidal
  positions, 2 encoder blocks with 4 heads and feed-forward width 96, mean pooling, a linear head to 8
  classes: 38,016 weights in 10 tensors (39,080 parameters with biases and norms); the task needs the first and last tokens together
  (:func:`qtaml_tac.zoo.data.sequence_task`).

:func:`trained` returns a trained model from a checkpoint cache in the user's
cache directory (``$QTAML_CACHE``, else ``$XDG_CACHE_HOME/qtaml`` or
``~/.cache/qtaml``), rebuilt when missing or stale (the key hashes the
architecture, the training settings, the data seed and the torch version).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from .data import digits, sequence_task

__all__ = ["SmallCNN", "WideCNN", "DeepCNN", "ResCNN", "SequenceTransformer", "MODELS", "train_classifier",
           "trained", "cache_dir"]


class SmallCNN(nn.Module):
    """Appendix B.2's digit CNN (weight tensors of 144, 4608, 32768 and 640)."""

    def __init__(self, hidden=64, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(512, hidden)
        self.fc2 = nn.Linear(hidden, classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class WideCNN(SmallCNN):
    """SmallCNN with fc1 512->256: most weights sit in fc1."""

    def __init__(self, classes=10):
        super().__init__(hidden=256, classes=classes)


class DeepCNN(nn.Module):
    """Four 3x3 conv layers with BN (1->16->16->32->32, 2x2 pool after the second), fc 512->64->10."""

    def __init__(self, classes=10):
        super().__init__()
        widths = [(1, 16), (16, 16), (16, 32), (32, 32)]
        self.convs = nn.ModuleList([nn.Conv2d(a, b, 3, padding=1, bias=False) for a, b in widths])
        self.norms = nn.ModuleList([nn.BatchNorm2d(b) for _, b in widths])
        self.fc1 = nn.Linear(512, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        for index, (conv, norm) in enumerate(zip(self.convs, self.norms)):
            x = torch.relu(norm(conv(x)))
            if index == 1:
                x = torch.max_pool2d(x, 2)
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


class ResidualBlock(nn.Module):
    """Two 3x3 convs with BN and an identity skip."""

    def __init__(self, width):
        super().__init__()
        self.conv1 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(width)

    def forward(self, x):
        return torch.relu(x + self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x))))))


class ResCNN(nn.Module):
    """A conv stem, two residual blocks, 2x2 pool, fc 256->64->10."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.block1 = ResidualBlock(16)
        self.block2 = ResidualBlock(16)
        self.fc1 = nn.Linear(256, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        x = self.block2(self.block1(torch.relu(self.bn(self.stem(x)))))
        return self.fc2(torch.relu(self.fc1(torch.max_pool2d(x, 2).flatten(1))))


class SequenceTransformer(nn.Module):
    """A 2-block transformer encoder with fixed sinusoidal positions (Section 5.6)."""

    def __init__(self, vocabulary=16, length=10, width=48, heads=4, feedforward=96, blocks=2, classes=8):
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        angle = torch.arange(length)[:, None] * torch.exp(-math.log(10000.0) * torch.arange(0, width, 2) / width)
        positions = torch.zeros(length, width)
        positions[:, 0::2], positions[:, 1::2] = torch.sin(angle), torch.cos(angle)
        self.register_buffer("positions", positions)
        self.blocks = nn.ModuleList([nn.TransformerEncoderLayer(width, heads, feedforward, dropout=0.0,
                                                                batch_first=True) for _ in range(blocks)])
        self.head = nn.Linear(width, classes)

    def forward(self, tokens):
        hidden = self.embed(tokens) + self.positions
        for block in self.blocks:
            hidden = block(hidden)
        return self.head(hidden.mean(dim=1))


#: name -> (constructor, data loader, training settings)
MODELS = {
    "smallcnn": (SmallCNN, digits, {"epochs": 30, "lr": 3e-3}),
    "widecnn": (WideCNN, digits, {"epochs": 30, "lr": 3e-3}),
    "deepcnn": (DeepCNN, digits, {"epochs": 30, "lr": 3e-3}),
    "rescnn": (ResCNN, digits, {"epochs": 30, "lr": 3e-3}),
    "transformer": (SequenceTransformer, sequence_task, {"epochs": 20, "lr": 3e-3}),
}


@torch.enable_grad()
def train_classifier(model, split, epochs=30, lr=3e-3, batch_size=64, seed=0):
    """Adam with cosine decay and cross-entropy; returns the model in eval mode.

    Deterministic for a seed: the parameters are first re-initialized from
    ``seed`` (every module's ``reset_parameters``), then trained on shuffles
    drawn from a generator seeded with ``seed``.
    """
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters") and module is not model:
            module.reset_parameters()
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    steps = epochs * -(-len(split.x_train) // batch_size)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(split.x_train), generator=generator)
        for start in range(0, len(order), batch_size):
            index = order[start:start + batch_size]
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(split.x_train[index]), split.y_train[index])
            loss.backward()
            optimizer.step()
            schedule.step()
    return model.eval()


def cache_dir():
    """Where trained checkpoints live (created on demand)."""
    root = os.environ.get("QTAML_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "qtaml"
    return Path(root)


def _key(name, settings, seed):
    description = {"name": name, "settings": settings, "seed": seed, "torch": torch.__version__.split("+")[0],
                   "architecture": repr(MODELS[name][0]())}
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]


def trained(name, seed=0):
    """``(model, split)`` for one of :data:`MODELS`, trained once and cached.

    Raises
    ------
    ValueError
        For an unknown model name.
    """
    if name not in MODELS:
        raise ValueError(f"model must be one of {sorted(MODELS)}, got {name!r}")
    constructor, loader, settings = MODELS[name]
    split = loader(seed=seed)
    model = constructor()
    path = cache_dir() / f"{name}-{_key(name, settings, seed)}.pt"
    if path.exists():
        try:
            model.load_state_dict(torch.load(path, weights_only=True))
            return model.eval(), split
        except (RuntimeError, OSError, EOFError):
            path.unlink(missing_ok=True)  # stale or corrupt: rebuild
    train_classifier(model, split, seed=seed, **settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(handle)
    torch.save(model.state_dict(), temporary)
    os.replace(temporary, path)
    return model, split
