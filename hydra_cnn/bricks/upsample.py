"""Upsampling layers: the ``UPSAMPLE_LAYERS`` registry's members and its builders."""

from __future__ import annotations

import inspect
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hydra_cnn.bricks.wrappers import ConvTranspose2d, ConvTranspose3d
from hydra_cnn.registry import UPSAMPLE_LAYERS, layer_factory

__all__ = ["PixelShufflePack", "build_upsample_layer", "make_upsample", "prepare_upsample"]


class PixelShufflePack(nn.Module):
    """Upsample by a conv to ``out_channels * scale_factor**2`` channels, then pixel shuffle.

    The conv is xavier-uniform initialised (bias 0), as in mmcv.

    Args:
        in_channels: input channels.
        out_channels: output channels.
        scale_factor: the upsampling ratio (an int).
        upsample_kernel: the conv's kernel size; padding keeps the spatial size.
        device, dtype: for the conv's parameters.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        scale_factor: int,
        upsample_kernel: int,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.scale_factor = scale_factor
        self.upsample_kernel = upsample_kernel
        self.upsample_conv = nn.Conv2d(
            in_channels, out_channels * scale_factor * scale_factor, upsample_kernel,
            padding=(upsample_kernel - 1) // 2, device=device, dtype=dtype,
        )
        self.init_weights()

    def init_weights(self) -> None:
        """Xavier-uniform weight, zero bias."""
        nn.init.xavier_uniform_(self.upsample_conv.weight)
        assert self.upsample_conv.bias is not None
        nn.init.zeros_(self.upsample_conv.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.upsample_conv(x), self.scale_factor)


UPSAMPLE_LAYERS.add_builtin("nearest", nn.Upsample)
UPSAMPLE_LAYERS.add_builtin("bilinear", nn.Upsample)
UPSAMPLE_LAYERS.add_builtin("deconv", ConvTranspose2d)  # mmcv's wrappers (subclasses of torch's)
UPSAMPLE_LAYERS.add_builtin("deconv3d", ConvTranspose3d)
UPSAMPLE_LAYERS.add_builtin("pixel_shuffle", PixelShufflePack)


def prepare_upsample(type_name: Any, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                     ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The upsample family's prepare hook: ``nearest``/``bilinear`` are ``nn.Upsample`` modes.

    Raises:
        TypeError: when a ``mode`` is passed that contradicts the type (mmcv fails there too).
    """
    if inspect.isclass(cls) and issubclass(cls, nn.Upsample) and isinstance(type_name, str):
        if kwargs.get("mode", type_name) != type_name:
            raise TypeError(
                f"upsample layer {type_name!r} is nn.Upsample(mode={type_name!r}), but "
                f"mode={kwargs['mode']!r} was passed too; choose the type "
                f"{kwargs['mode']!r} instead of passing mode"
            )
        kwargs["mode"] = type_name
    return args, kwargs


def build_upsample_layer(cfg: Any, *args: Any, **kwargs: Any) -> nn.Module:
    """Build an upsampling layer from a config.

    Args:
        cfg: a dict with ``type`` (``nearest``, ``bilinear`` (``nn.Upsample`` in that mode),
            ``deconv``, ``deconv3d``, ``pixel_shuffle`` or a registered name) and constructor
            arguments, or any other accepted config form.
        *args, **kwargs: the late arguments (channels for ``deconv``/``pixel_shuffle``).

    Example:
        >>> build_upsample_layer(dict(type='bilinear', scale_factor=2))
        Upsample(scale_factor=2.0, mode='bilinear')
    """
    return UPSAMPLE_LAYERS.build_layer(cfg, *args, **kwargs)


@layer_factory(UPSAMPLE_LAYERS)
def make_upsample(*args: Any, type: Any = None, **kwargs: Any) -> nn.Module:
    """Build the ``UPSAMPLE_LAYERS`` member ``type``: a Hydra ``_target_``; call as ``upsample(*args)``."""
    return build_upsample_layer({"type": type, **kwargs}, *args)
