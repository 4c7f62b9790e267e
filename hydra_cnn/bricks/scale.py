"""``Scale``: a learnable scalar multiplier."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

__all__ = ["Scale"]


class Scale(nn.Module):
    """Multiply the input by a learnable scalar (a 0-d parameter).

    Args:
        scale: the initial value. Default 1.0.
        device, dtype: for the parameter (dtype defaults to float32).
    """

    def __init__(self, scale: float = 1.0, device: Any = None, dtype: Any = None) -> None:
        super().__init__()
        self.scale = nn.Parameter(
            torch.tensor(scale, dtype=dtype or torch.float32, device=device)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
