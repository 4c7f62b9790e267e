"""Convolution layers: the ``CONV_LAYERS`` registry's members and its builders.

    >>> from hydra_cnn import build_conv_layer
    >>> build_conv_layer(dict(type='Conv3d'), in_channels=3, out_channels=8, kernel_size=3)
    Conv3d(3, 8, kernel_size=(3, 3, 3), stride=(1, 1, 1))
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hydra_cnn.bricks.conv_ws import ConvAWS2d, ConvWS2d
from hydra_cnn.bricks.wrappers import Conv2d, Conv3d, ConvTranspose2d, ConvTranspose3d
from hydra_cnn.registry import CONV_LAYERS, layer_factory

__all__ = ["Conv2dAdaptivePadding", "build_conv_layer", "make_conv"]


class Conv2dAdaptivePadding(nn.Conv2d):
    """Conv2d with TensorFlow's ``"SAME"`` padding: the output size is ``ceil(input / stride)``.

    The padding is computed from each input's size at forward time (extra pixel on the
    bottom/right when the total is odd), so the ``padding`` argument is ignored (always 0).

    Args:
        in_channels, out_channels, kernel_size, stride, dilation, groups, bias, device, dtype:
            as :class:`torch.nn.Conv2d`.
        padding: accepted for signature compatibility; not used.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: Any,
        stride: Any = 1,
        padding: Any = 0,
        dilation: Any = 1,
        groups: int = 1,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride, 0, dilation, groups, bias,
            device=device, dtype=dtype,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        for dim in (1, 0):  # F.pad wants the last dimension (width) first
            size = x.shape[-2 + dim]
            stride, dil = self.stride[dim], self.dilation[dim]
            k = self.weight.shape[-2 + dim]
            total = max((math.ceil(size / stride) - 1) * stride + (k - 1) * dil + 1 - size, 0)
            pads += [total // 2, total - total // 2]
        if any(pads):
            x = F.pad(x, pads)
        return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)


CONV_LAYERS.add_builtin("Conv1d", nn.Conv1d)
# mmcv 1.7's table: 'Conv2d' is torch's class, 'Conv' and the 3d/transposed names are the
# empty-batch wrappers (subclasses of the torch classes; hydra_cnn.bricks.wrappers)
CONV_LAYERS.add_builtin("Conv2d", nn.Conv2d)
CONV_LAYERS.add_builtin("Conv", Conv2d)
CONV_LAYERS.add_builtin("Conv3d", Conv3d)
CONV_LAYERS.add_builtin("ConvWS", ConvWS2d)
CONV_LAYERS.add_builtin("ConvAWS", ConvAWS2d)
CONV_LAYERS.add_builtin("Conv2dAdaptivePadding", Conv2dAdaptivePadding)
CONV_LAYERS.add_builtin(["ConvTranspose2d", "deconv"], ConvTranspose2d)
CONV_LAYERS.add_builtin(["ConvTranspose3d", "deconv3d"], ConvTranspose3d)


def build_conv_layer(cfg: Any, *args: Any, **kwargs: Any) -> nn.Module:
    """Build a convolution layer from a config.

    Args:
        cfg: a dict with ``type`` (a ``CONV_LAYERS`` name: ``Conv1d``, ``Conv2d``, ``Conv``,
            ``Conv3d``, ``ConvWS``, ``ConvAWS``, ``Conv2dAdaptivePadding``, ``deconv``, ...) and
            constructor arguments; a DictConfig, a structured config (``Conv2dConf()``), a
            factory from ``instantiate``, or None for a plain ``nn.Conv2d``.
        *args, **kwargs: the late arguments (``in_channels, out_channels, kernel_size, ...``);
            keywords given here win over the config's.

    Returns:
        A new convolution module.

    Example:
        >>> build_conv_layer(None, 3, 8, 3)
        Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
    """
    return CONV_LAYERS.build_layer(cfg, *args, default_type="Conv2d", **kwargs)


@layer_factory(CONV_LAYERS)
def make_conv(*args: Any, type: Any = "Conv2d", **kwargs: Any) -> nn.Module:
    """Build the ``CONV_LAYERS`` member ``type`` with ``args``/``kwargs``: a Hydra ``_target_``.

    A ``layers/conv`` option instantiates to ``partial(make_conv, type=..., ...)``; calling it
    as ``conv(in_channels, out_channels, kernel_size, **kw)`` builds a new layer.
    """
    return build_conv_layer({"type": type, **kwargs}, *args)
