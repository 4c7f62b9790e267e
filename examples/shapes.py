"""A deterministic, learnable image dataset generated on the fly: coloured shapes.

Each image is a ``3 x size x size`` float tensor in [0, 1] with one shape drawn at a random
position, scale and colour on a noisy background; the label is the shape's kind. The same
``seed`` always gives the same dataset, on any machine, with no download.

    >>> train = make_shapes(512, size=32, seed=0)
    >>> train.tensors[0].shape, train.tensors[1][:5]          # doctest: +SKIP
    (torch.Size([512, 3, 32, 32]), tensor([3, 0, 4, 1, 5]))
"""

from __future__ import annotations

import torch
from torch.utils.data import TensorDataset

__all__ = ["CLASSES", "make_shapes"]

CLASSES = ("disc", "square", "triangle", "cross", "ring", "bars")


def _masks(kind: torch.Tensor, cx: torch.Tensor, cy: torch.Tensor, r: torch.Tensor,
           size: int) -> torch.Tensor:
    """Boolean masks (N, size, size) of each sample's shape."""
    coords = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    y = coords.view(1, size, 1)
    x = coords.view(1, 1, size)
    dx = x - cx.view(-1, 1, 1)
    dy = y - cy.view(-1, 1, 1)
    rr = r.view(-1, 1, 1)
    dist = (dx**2 + dy**2).sqrt()
    shapes = torch.stack([
        dist <= rr,                                                       # disc
        (dx.abs() <= rr * 0.85) & (dy.abs() <= rr * 0.85),                # square
        (dy <= rr * 0.8) & (dy >= -rr * 0.8) & (dx.abs() <= (dy + rr * 0.8) * 0.6),  # triangle
        ((dx.abs() <= rr * 0.25) | (dy.abs() <= rr * 0.25))
        & (dx.abs() <= rr) & (dy.abs() <= rr),                            # cross
        (dist <= rr) & (dist >= rr * 0.6),                                # ring
        ((torch.remainder((dy + 1.0) / (rr * 0.5), 2.0) < 1.0)
         & (dx.abs() <= rr) & (dy.abs() <= rr)),                          # bars
    ], dim=1)
    return shapes[torch.arange(kind.numel()), kind]


def make_shapes(n: int, size: int = 32, seed: int = 0, noise: float = 0.1) -> TensorDataset:
    """Generate ``n`` images of ``len(CLASSES)`` shape kinds, reproducibly from ``seed``.

    Args:
        n: number of images.
        size: image height and width in pixels. Default 32.
        seed: the generator's seed; train and test sets use different seeds. Default 0.
        noise: std of the Gaussian background noise. Default 0.1.

    Returns:
        A ``TensorDataset`` of ``(images (n, 3, size, size), labels (n,))``.
    """
    g = torch.Generator().manual_seed(seed)
    kind = torch.randint(len(CLASSES), (n,), generator=g)
    r = 0.18 + 0.14 * torch.rand(n, generator=g)
    cx = r + (1 - 2 * r) * torch.rand(n, generator=g)
    cy = r + (1 - 2 * r) * torch.rand(n, generator=g)
    mask = _masks(kind, cx, cy, r, size).unsqueeze(1).float()
    colour = 0.35 + 0.65 * torch.rand(n, 3, 1, 1, generator=g)
    background = 0.3 * torch.rand(n, 3, 1, 1, generator=g)
    images = background + mask * (colour - background)
    images = images + noise * torch.randn(n, 3, size, size, generator=g)
    return TensorDataset(images.clamp_(0, 1), kind)
