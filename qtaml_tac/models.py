"""Models of the paper's experiments, trained deterministically in seconds on the CPU (Appendix B.2)."""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["SmallCNN", "train_classifier"]


class SmallCNN(nn.Module):
    """Appendix B.2: conv 3x3 1->16, BN, ReLU, 2x2 max-pool; conv 3x3 16->32, BN, ReLU; fc 512->64, ReLU; fc 64->10.

    Weight tensors of 144, 4608, 32768 and 640 entries.
    """

    def __init__(self, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.conv2 = nn.Conv2d(16, 32, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(32)
        self.fc1 = nn.Linear(512, 64)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, x):
        x = torch.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = torch.relu(self.bn2(self.conv2(x)))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))


@torch.enable_grad()
def train_classifier(model, split, epochs=30, lr=3e-3, batch_size=64, seed=0):
    """Adam with cosine decay and cross-entropy; returns the model in eval mode.

    Deterministic for a seed: the parameters are first re-initialized from
    ``seed`` (every module's ``reset_parameters``), then trained on shuffles
    drawn from a generator seeded with ``seed``.
    """
    torch.manual_seed(seed)
    for module in model.modules():
        if hasattr(module, "reset_parameters"):
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
