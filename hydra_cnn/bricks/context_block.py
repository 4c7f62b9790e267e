"""``ContextBlock``: GCNet's global context block (Cao et al., 2019, arXiv 1904.11492).

    >>> import torch
    >>> from hydra_cnn import build_plugin_layer
    >>> name, block = build_plugin_layer(dict(type='ContextBlock', in_channels=16, ratio=1/4))
    >>> name, block(torch.randn(2, 16, 8, 8)).shape
    ('context_block', torch.Size([2, 16, 8, 8]))

The block pools the feature map to one context vector per image (attention pooling: a softmax
over the positions of a 1x1 conv's logits; or a plain average), passes it through a bottleneck
(1x1 conv, LayerNorm, ReLU, 1x1 conv) and fuses it into every position by addition and/or by
multiplication with its sigmoid. Children and state-dict keys are mmcv 1.7's (``conv_mask``,
``channel_add_conv.0/1/3``, ``channel_mul_conv.0/1/3``), so mmdet/mmcls checkpoints load.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from hydra_cnn.bricks._checks import check_choice, check_int, check_real
from hydra_cnn.common import InvalidArgumentError, InvalidTypeError

__all__ = ["ContextBlock"]

_POOLING_TYPES = ("att", "avg")
_FUSION_TYPES = ("channel_add", "channel_mul")


def _fusion_types(value: Any) -> tuple[str, ...]:
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidTypeError(
            "ContextBlock: fusion_types must be a list or tuple of 'channel_add' and/or "
            f"'channel_mul', but got {value!r}"
        )
    if len(value) == 0:
        raise InvalidArgumentError(
            "ContextBlock: fusion_types must name at least one fusion ('channel_add', "
            "'channel_mul'), but got an empty sequence"
        )
    for item in value:
        check_choice("ContextBlock", "each fusion_types entry", item, _FUSION_TYPES)
    return tuple(value)


def _bottleneck(channels: int, planes: int) -> nn.Sequential:
    """1x1 conv down to ``planes``, LayerNorm over (planes, 1, 1), ReLU, 1x1 conv back up."""
    return nn.Sequential(
        nn.Conv2d(channels, planes, kernel_size=1),
        nn.LayerNorm([planes, 1, 1]),
        nn.ReLU(inplace=True),
        nn.Conv2d(planes, channels, kernel_size=1),
    )


class ContextBlock(nn.Module):
    """GCNet's global context block: pool a context vector, transform it, fuse it back.

    Registered in ``PLUGIN_LAYERS`` as ``ContextBlock`` (abbreviation ``context_block``). At
    construction the mask conv gets kaiming-normal weights (``fan_in``) and zero bias, and the
    last conv of each fusion branch is zeroed, so the block starts as the identity (mmcv's
    init).

    Args:
        in_channels: channels of the input feature map.
        ratio: bottleneck width as a fraction of ``in_channels``, in (0, 1] (no default, as
            mmcv); the bottleneck has ``int(in_channels * ratio)`` channels, at least 1.
        pooling_type: ``'att'`` (default; attention pooling) or ``'avg'`` (global average).
        fusion_types: a non-empty list/tuple of ``'channel_add'`` (add the transformed context)
            and ``'channel_mul'`` (multiply by its sigmoid). Default ``('channel_add',)``.

    Example:
        >>> block = ContextBlock(16, ratio=0.25, fusion_types=('channel_add', 'channel_mul'))
        >>> block(torch.randn(1, 16, 4, 4)).shape
        torch.Size([1, 16, 4, 4])
    """

    _abbr_ = "context_block"

    def __init__(
        self,
        in_channels: int,
        ratio: float,
        pooling_type: str = "att",
        fusion_types: Sequence[str] = ("channel_add",),
    ) -> None:
        super().__init__()
        owner = "ContextBlock"
        in_channels = check_int(owner, "in_channels", in_channels)
        ratio = check_real(owner, "ratio", ratio, 0.0, 1.0, low_open=True)
        self.pooling_type = check_choice(owner, "pooling_type", pooling_type, _POOLING_TYPES)
        self.fusion_types = _fusion_types(fusion_types)
        planes = int(in_channels * ratio)
        if planes < 1:
            raise InvalidArgumentError(
                f"{owner}: the bottleneck int(in_channels * ratio) = int({in_channels} * "
                f"{ratio:g}) has no channels; use ratio >= {1 / in_channels:g}"
            )
        self.in_channels = in_channels
        self.ratio = ratio
        self.planes = planes

        # children are created in mmcv's order, so the same seed gives the same weights
        if self.pooling_type == "att":
            self.conv_mask = nn.Conv2d(in_channels, 1, kernel_size=1)
            self.softmax = nn.Softmax(dim=2)
        else:
            self.avg_pool = nn.AdaptiveAvgPool2d(1)
        self.channel_add_conv: nn.Sequential | None = (
            _bottleneck(in_channels, planes) if "channel_add" in self.fusion_types else None
        )
        self.channel_mul_conv: nn.Sequential | None = (
            _bottleneck(in_channels, planes) if "channel_mul" in self.fusion_types else None
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """mmcv's init: kaiming-normal (``fan_in``, relu) mask conv with zero bias; the last
        conv of each fusion branch all zeros (the block starts as the identity)."""
        if self.pooling_type == "att":
            mask = self.conv_mask
            nn.init.kaiming_normal_(mask.weight, mode="fan_in", nonlinearity="relu")
            if mask.bias is not None:
                nn.init.zeros_(mask.bias)
            mask.inited = True  # type: ignore[assignment]  # mmcv's marker
        for branch in (self.channel_add_conv, self.channel_mul_conv):
            if branch is not None:
                for tensor in branch[-1].parameters():
                    nn.init.zeros_(tensor)

    def init_weights(self) -> None:
        """The default init (:meth:`reset_parameters`); never undoes a parent's ``init_cfg``."""
        self.reset_parameters()

    def spatial_pool(self, x: torch.Tensor) -> torch.Tensor:
        """The context vector of each image, shape ``(N, C, 1, 1)``."""
        if self.pooling_type == "avg":
            return self.avg_pool(x)
        n, c, h, w = x.shape
        # softmax over the H*W positions of the mask logits: (N, 1, HW)
        weights = self.softmax(self.conv_mask(x).view(n, 1, h * w))
        # attention-weighted sum over positions: (N, C, HW) @ (N, HW, 1) -> (N, C, 1)
        context = torch.matmul(x.reshape(n, c, h * w), weights.transpose(1, 2))
        return context.view(n, c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x * sigmoid(mul(context))`` and/or ``+ add(context)``, for an ``(N, C, H, W)`` map."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            raise ValueError(
                f"ContextBlock expects an (N, {self.in_channels}, H, W) input, but got shape "
                f"{tuple(x.shape)}"
            )
        context = self.spatial_pool(x)
        out = x
        if self.channel_mul_conv is not None:
            out = out * torch.sigmoid(self.channel_mul_conv(context))
        if self.channel_add_conv is not None:
            out = out + self.channel_add_conv(context)
        return out

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, ratio={self.ratio:g}, "
                f"pooling_type={self.pooling_type!r}, fusion_types={self.fusion_types!r}")


ContextBlock.init_weights._is_default_init = True  # type: ignore[attr-defined]
