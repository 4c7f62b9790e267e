"""Small models and data shared by the sharded-checkpoint tests and their worker processes."""

from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """Uneven first dimensions (5 rows over 2 ranks: 3 + 2; 3 rows: 2 + 1) and a buffer."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 3)
        self.norm = nn.GroupNorm(1, 5)
        self.fc = nn.Linear(5, 3)
        self.register_buffer("scale", torch.ones(3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.norm(self.conv(x)).mean((2, 3))) * self.scale


def batch(step: int, rank: int, world: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rank ``rank``'s part of the global batch of ``step`` (the same on every run)."""
    gen = torch.Generator().manual_seed(1000 * step + rank)
    return torch.randn(4, 3, 6, 6, generator=gen), torch.randn(4, 3, generator=gen)


def make_resnet(pretrained: str | None = None) -> nn.Module:
    """A tiny hydra_cnn ResNet-18 (a BaseModule with an init_cfg and BatchNorm buffers)."""
    from hydra_cnn.models import ResNet

    return ResNet(depth=18, base_channels=4, num_classes=3, pretrained=pretrained)
