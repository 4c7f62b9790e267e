"""A downstream package declares its own family: attention layers (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

import hydra_cnn

# 1. declare the family: its registry, config group, late size and mmcv-style argument
ATTENTION = hydra_cnn.register_family(
    "attention",
    label="attention layer",
    group="layers/attention",
    late=("embed_dims",),  # the model passes it: attn(embed_dims)
    cfg_args=("attn_cfg",),  # validate() checks attn_cfg=dict(type=...) arguments
)


# 2. register its types: each gets a typed option (simple_attention) from its signature
@ATTENTION.register_module()
class SimpleAttention(nn.Module):
    """Multi-head self-attention over ``(N, L, embed_dims)`` tokens."""

    def __init__(self, embed_dims: int, num_heads: int = 1, dropout: float = 0.0) -> None:
        super().__init__()
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, dropout=dropout, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attn(x, x, x, need_weights=False)[0]


# 3. the app's own typed config: a layer field left at None, filled by the option group
@dataclass
class BlockConf:
    embed_dims: int = 16
    attn: Any = None  # layers/attention=simple_attention lands here
    tags: list[str] = field(default_factory=list)


class Block(nn.Module):
    """A model that builds its attention from a factory (or an mmcv-style ``attn_cfg``)."""

    def __init__(self, embed_dims: int, attn: Any = None, attn_cfg: Any = None) -> None:
        super().__init__()
        if attn is not None:
            self.attn = attn(embed_dims)  # a factory from the config group
        else:
            self.attn = ATTENTION.build(attn_cfg, embed_dims=embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.attn(x)
