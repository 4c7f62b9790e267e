"""``SimpleViT``: a small Vision Transformer built from the transformer bricks.

Patch tokens (:class:`~hydra_cnn.bricks.transformer.PatchEmbed`) plus a learned position
embedding, a :class:`~hydra_cnn.bricks.transformer.TransformerLayerSequence` of pre-norm
:class:`~hydra_cnn.bricks.transformer.BaseTransformerLayer` s, a final norm, the mean over the
tokens and a linear head ``fc``. The norm, the FFN's activation, the attention and the FFN are
configs, so a Hydra app swaps them from the command line (``model/norm=ln model/act=gelu``).

It is an example of the bricks, not a port of mmcls' or mmseg's ``VisionTransformer``
(no class token; its state-dict keys are its own).

    >>> import torch
    >>> net = SimpleViT(img_size=32, patch_size=8, embed_dims=16, num_layers=2, num_heads=2,
    ...                 num_classes=3)
    >>> net(torch.zeros(2, 3, 32, 32)).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from hydra_cnn.bricks.norm import LayerNorm2d, build_norm_layer
from hydra_cnn.bricks.transformer import PatchEmbed, TransformerLayerSequence, plain_cfg
from hydra_cnn.common import InvalidArgumentError, InvalidTypeError
from hydra_cnn.init.base_module import BaseModule
from hydra_cnn.models.backbone import check_flag, with_pretrained
from hydra_cnn.registry import ATTENTION, FEEDFORWARD_NETWORK

__all__ = ["SimpleViT"]

_CHANNEL_NORMS = (_BatchNorm, _InstanceNorm, nn.GroupNorm, LayerNorm2d)


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidTypeError(f"SimpleViT: {name} must be an int, but got {value!r}")
    if value < 1:
        raise InvalidArgumentError(f"SimpleViT: {name} must be >= 1, but got {value}")
    return value


def _rate(name: str, value: Any, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidTypeError(f"SimpleViT: {name} must be a number, but got {value!r}")
    if not low <= value <= high:
        raise InvalidArgumentError(f"SimpleViT: {name} must be in [{low:g}, {high:g}], but got {value}")
    return float(value)



class PositionEmbedding(nn.Module):
    """A learned position embedding added to ``(B, L, C)`` tokens of a ``grid`` of patches.

    Its ``weight`` is ``(1, grid_h * grid_w, C)``; tokens of another grid size get the
    embedding resized bilinearly (as ViTs fine-tuned at another resolution do).
    """

    def __init__(self, grid: tuple[int, int], embed_dims: int) -> None:
        super().__init__()
        self.grid = (int(grid[0]), int(grid[1]))
        self.weight = nn.Parameter(torch.zeros(1, self.grid[0] * self.grid[1], embed_dims))
        nn.init.trunc_normal_(self.weight, std=0.02)

    def forward(self, tokens: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
        """``tokens`` plus the embedding for a ``hw`` grid of patches."""
        if tuple(hw) == self.grid:
            return tokens + self.weight
        pos = self.weight.reshape(1, self.grid[0], self.grid[1], -1).permute(0, 3, 1, 2)
        pos = F.interpolate(pos, size=tuple(hw), mode="bilinear", align_corners=False)
        return tokens + pos.flatten(2).transpose(1, 2)

class SimpleViT(BaseModule):
    """A Vision Transformer classifier (or feature extractor) from hydra_cnn's bricks.

    Args:
        in_channels: image channels. Default 3.
        img_size: the image size the position embedding is made for (other sizes interpolate
            it). Default 224.
        patch_size: patch size and stride. Default 16.
        embed_dims: token width. Default 768.
        num_layers: transformer layers. Default 12.
        num_heads: attention heads (divides ``embed_dims``). Default 12.
        mlp_ratio: FFN hidden width / ``embed_dims``. Default 4.0.
        drop_path_rate: stochastic depth, rising linearly to this over the layers (it replaces
            the attention's and FFN's ``dropout_layer`` when > 0). Default 0.0.
        attn_cfg: the ``ATTENTION`` config of every layer, without ``embed_dims``,
            ``num_heads`` and ``batch_first``. Default ``dict(type='MultiheadAttention')``.
        ffn_cfg: the ``FEEDFORWARD_NETWORK`` config, without ``embed_dims`` and
            ``feedforward_channels``; its ``act_cfg`` is replaced by ``act_cfg``.
            Default ``dict(type='FFN')``.
        norm_cfg: the token norm of every layer and the final norm: a norm of the last
            dimension (``LN``); channel norms (``BN``, ``GN``, ``IN``, ``LN2d``) are refused.
            Default ``dict(type='LN')``.
        act_cfg: the FFN's activation. Default ``dict(type='GELU')``.
        final_norm: norm the tokens after the last layer. Default True.
        num_classes: classes of the head ``fc``; <= 0 for none (``forward`` then returns the
            pooled ``(B, embed_dims)`` features). Default -1.
        init_cfg: initialisation config. Default None.
        pretrained: a checkpoint loaded by ``init_weights()`` after ``init_cfg``. Default None.
    """

    #: its norms see ``(B, L, C)`` tokens: ``validate`` accepts ``nn.LayerNorm`` norms here
    normalises_tokens = True

    def __init__(self, in_channels: int = 3, img_size: int = 224, patch_size: int = 16,
                 embed_dims: int = 768, num_layers: int = 12, num_heads: int = 12,
                 mlp_ratio: float = 4.0, drop_path_rate: float = 0.0,
                 attn_cfg: Any = None, ffn_cfg: Any = None, norm_cfg: Any = None,
                 act_cfg: Any = None, final_norm: bool = True, num_classes: int = -1,
                 init_cfg: Any = None, pretrained: Any = None) -> None:
        super().__init__(with_pretrained(init_cfg, pretrained))
        self.img_size = _count("img_size", img_size)
        self.patch_size = _count("patch_size", patch_size)
        self.embed_dims = _count("embed_dims", embed_dims)
        self.num_layers = _count("num_layers", num_layers)
        num_heads = _count("num_heads", num_heads)
        mlp_ratio = _rate("mlp_ratio", mlp_ratio, 1e-6, 1e6)
        drop_path_rate = _rate("drop_path_rate", drop_path_rate, 0.0, 1.0)
        self.num_classes = num_classes
        norm_cfg = {"type": "LN"} if norm_cfg is None else norm_cfg
        self.patch_embed = PatchEmbed(in_channels, embed_dims, kernel_size=patch_size,
                                      stride=patch_size, input_size=img_size)
        grid = self.patch_embed.init_out_size
        assert grid is not None
        self.pos_embed = PositionEmbedding(grid, embed_dims)
        layers = [self._layer_cfg(i, num_heads, mlp_ratio, drop_path_rate, attn_cfg, ffn_cfg,
                                  norm_cfg, act_cfg) for i in range(self.num_layers)]
        self.encoder = TransformerLayerSequence(layers, self.num_layers)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if check_flag(
            "SimpleViT", "final_norm", final_norm) else None
        for module in (self.norm, *self.encoder.modules()):
            if isinstance(module, _CHANNEL_NORMS):
                raise InvalidArgumentError(
                    f"SimpleViT normalises (B, L, C) tokens, but norm_cfg builds "
                    f"{type(module).__name__}, a norm of (N, C, ...) channels; use a norm of the "
                    "last dimension such as type 'LN' (option ln)")
        self.fc = nn.Linear(embed_dims, num_classes) if num_classes > 0 else None

    def _layer_cfg(self, index: int, num_heads: int, mlp_ratio: float, drop_path_rate: float,
                   attn_cfg: Any, ffn_cfg: Any, norm_cfg: Any, act_cfg: Any) -> dict[str, Any]:
        attn = plain_cfg(ATTENTION, attn_cfg if attn_cfg is not None
                         else {"type": "MultiheadAttention"})
        ffn = plain_cfg(FEEDFORWARD_NETWORK, ffn_cfg if ffn_cfg is not None else {"type": "FFN"},
                        "FFN")
        attn.update(embed_dims=self.embed_dims, num_heads=num_heads, batch_first=True)
        ffn.update(embed_dims=self.embed_dims,
                   feedforward_channels=max(1, round(self.embed_dims * mlp_ratio)),
                   act_cfg=act_cfg if act_cfg is not None else {"type": "GELU"})
        rate = drop_path_rate * index / max(self.num_layers - 1, 1)
        if rate > 0:
            attn["dropout_layer"] = ffn["dropout_layer"] = {"type": "DropPath", "drop_prob": rate}
        return {"type": "BaseTransformerLayer", "attn_cfgs": attn, "ffn_cfgs": ffn,
                "operation_order": ("norm", "self_attn", "norm", "ffn"), "norm_cfg": norm_cfg,
                "batch_first": True}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` images -> ``(B, num_classes)`` logits (or ``(B, embed_dims)``)."""
        tokens, hw = self.patch_embed(x)
        tokens = self.encoder(self.pos_embed(tokens, hw))
        if self.norm is not None:
            tokens = self.norm(tokens)
        pooled = tokens.mean(dim=1)
        return self.fc(pooled) if self.fc is not None else pooled

