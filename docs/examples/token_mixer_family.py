"""A downstream package declares its own family: token mixers (docs/architecture.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

import hydra_cnn

# 1. declare the family: its registry, config group, late size and mmcv-style argument
TOKEN_MIXERS = hydra_cnn.register_family(
    "token_mixer",
    label="token mixer",
    group="layers/token_mixer",
    late=("embed_dims",),  # the model passes it: mixer(embed_dims)
    cfg_args=("mixer_cfg",),  # validate() checks mixer_cfg=dict(type=...) arguments
)


# 2. register its types: each gets a typed option (simple_attention) from its signature
@TOKEN_MIXERS.register_module()
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
    mixer: Any = None  # layers/token_mixer=simple_attention lands here
    tags: list[str] = field(default_factory=list)


class Block(nn.Module):
    """A model that builds its token mixer from a factory (or an mmcv-style ``mixer_cfg``)."""

    def __init__(self, embed_dims: int, mixer: Any = None, mixer_cfg: Any = None) -> None:
        super().__init__()
        if mixer is not None:
            self.mixer = mixer(embed_dims)  # a factory from the config group
        else:
            self.mixer = TOKEN_MIXERS.build(mixer_cfg, embed_dims=embed_dims)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mixer(x)
