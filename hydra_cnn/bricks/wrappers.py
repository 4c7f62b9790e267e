"""mmcv 1.7's layer wrappers: ``Conv2d``, ``Conv3d``, ``ConvTranspose2d``, ``ConvTranspose3d``,
``MaxPool2d``, ``MaxPool3d`` and ``Linear``, subclasses of the torch layers of the same name.

Old torch releases (1.4 and earlier for convs, 1.5 for ``Linear``, 1.9 for max pooling) failed
on an empty batch; these wrappers then return a correctly shaped empty output whose backward
gives empty input gradients and zero parameter gradients. On the torch releases hydra_cnn
supports, torch handles empty batches itself, and every wrapper is its torch parent: the same
constructor, state dict, output and gradients (``forward`` is the parent's ``forward``).

The names shadow ``torch.nn``'s on purpose (mmcv's ``mmcv.cnn.Conv2d`` is this wrapper):
``hydra_cnn.Conv2d`` is the wrapper, ``torch.nn.Conv2d`` is torch's. An ``isinstance`` check
against the torch class holds for the wrapper.

Registry names, as in mmcv 1.7: ``CONV_LAYERS`` ``'Conv'`` is :class:`Conv2d` (``'Conv2d'``
stays ``nn.Conv2d``), ``'Conv3d'`` is :class:`Conv3d`, ``'deconv'``/``'ConvTranspose2d'`` are
:class:`ConvTranspose2d`, ``'deconv3d'``/``'ConvTranspose3d'`` are :class:`ConvTranspose3d`;
``UPSAMPLE_LAYERS`` ``'deconv'``/``'deconv3d'`` are the transposed convs. ``MaxPool2d``,
``MaxPool3d`` and ``Linear`` are registered nowhere.

    >>> import torch
    >>> Conv2d(3, 8, 3)(torch.zeros(0, 3, 10, 10)).shape
    torch.Size([0, 8, 8, 8])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.modules.utils import _pair, _triple

__all__ = [
    "TORCH_VERSION", "Conv2d", "Conv3d", "ConvTranspose2d", "ConvTranspose3d", "Linear",
    "MaxPool2d", "MaxPool3d", "NewEmptyTensorOp", "obsolete_torch_version",
]


def _parse_version(version: str) -> tuple[int, ...] | str:
    if version == "parrots":
        return version
    return tuple(int(part) for part in re.findall(r"\d+", version)[:2])


#: The running torch's (major, minor), read once at import (mmcv's rule). The empty-batch path
#: below runs only where this is old enough; patching it (in a test) switches that path on.
TORCH_VERSION: tuple[int, ...] | str = _parse_version(torch.__version__)


def obsolete_torch_version(torch_version: tuple[int, ...] | str,
                           version_threshold: tuple[int, ...]) -> bool:
    """Whether ``torch_version`` is ``'parrots'`` or at most ``version_threshold``."""
    return isinstance(torch_version, str) or torch_version <= version_threshold


class NewEmptyTensorOp(torch.autograd.Function):
    """An empty tensor of ``new_shape`` from an empty input, differentiable back to its shape."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, new_shape: Sequence[int]) -> torch.Tensor:
        ctx.shape = x.shape
        return x.new_empty(new_shape)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return NewEmptyTensorOp.apply(grad, ctx.shape), None


def _empty_output(module: nn.Module, x: torch.Tensor, shape: list[int]) -> torch.Tensor:
    """The empty output; in training every parameter joins the graph (zero gradients)."""
    empty = NewEmptyTensorOp.apply(x, shape)
    if module.training:
        dummy = sum(p.view(-1)[0] for p in module.parameters()) * 0.0
        return empty + dummy
    return empty


def _conv_sizes(x: torch.Tensor, conv: nn.modules.conv._ConvNd, dims: int) -> list[int]:
    sizes = []
    for i, k, p, s, d in zip(x.shape[-dims:], conv.kernel_size, conv.padding, conv.stride,
                             conv.dilation, strict=True):
        sizes.append((i + 2 * int(p) - (d * (k - 1) + 1)) // s + 1)  # type: ignore[call-overload]
    return sizes


def _deconv_sizes(x: torch.Tensor, conv: nn.modules.conv._ConvTransposeNd, dims: int) -> list[int]:
    sizes = []
    for i, k, p, s, d, op in zip(x.shape[-dims:], conv.kernel_size, conv.padding, conv.stride,
                                 conv.dilation, conv.output_padding, strict=True):
        sizes.append((i - 1) * s - 2 * int(p) + (d * (k - 1) + 1) + op)
    return sizes


def _pool_sizes(x: torch.Tensor, pool: nn.modules.pooling._MaxPoolNd, dims: int) -> list[int]:
    expand = _pair if dims == 2 else _triple
    rounding = math.ceil if pool.ceil_mode else math.floor
    sizes = []
    for i, k, p, s, d in zip(x.shape[-dims:], expand(pool.kernel_size), expand(pool.padding),
                             expand(pool.stride), expand(pool.dilation), strict=True):
        sizes.append(int(rounding((i + 2 * p - (d * (k - 1) + 1)) / s + 1)))
    return sizes


class Conv2d(nn.Conv2d):
    """``nn.Conv2d`` that also accepts an empty batch on old torch (``CONV_LAYERS`` ``'Conv'``).

    Arguments, parameters and output are :class:`torch.nn.Conv2d`'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0 and obsolete_torch_version(TORCH_VERSION, (1, 4)):
            return _empty_output(self, x, [x.shape[0], self.out_channels, *_conv_sizes(x, self, 2)])
        return super().forward(x)


class Conv3d(nn.Conv3d):
    """``nn.Conv3d`` that also accepts an empty batch on old torch (``CONV_LAYERS`` ``'Conv3d'``).

    Arguments, parameters and output are :class:`torch.nn.Conv3d`'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0 and obsolete_torch_version(TORCH_VERSION, (1, 4)):
            return _empty_output(self, x, [x.shape[0], self.out_channels, *_conv_sizes(x, self, 3)])
        return super().forward(x)


class ConvTranspose2d(nn.ConvTranspose2d):
    """``nn.ConvTranspose2d`` that also accepts an empty batch on old torch (``'deconv'``).

    Arguments, parameters and output are :class:`torch.nn.ConvTranspose2d`'s.
    """

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if x.numel() == 0 and obsolete_torch_version(TORCH_VERSION, (1, 4)):
            return _empty_output(self, x, [x.shape[0], self.out_channels, *_deconv_sizes(x, self, 2)])
        return super().forward(x, output_size)


class ConvTranspose3d(nn.ConvTranspose3d):
    """``nn.ConvTranspose3d`` that also accepts an empty batch on old torch (``'deconv3d'``).

    Arguments, parameters and output are :class:`torch.nn.ConvTranspose3d`'s.
    """

    def forward(self, x: torch.Tensor, output_size: list[int] | None = None) -> torch.Tensor:
        if x.numel() == 0 and obsolete_torch_version(TORCH_VERSION, (1, 4)):
            return _empty_output(self, x, [x.shape[0], self.out_channels, *_deconv_sizes(x, self, 3)])
        return super().forward(x, output_size)


class MaxPool2d(nn.MaxPool2d):
    """``nn.MaxPool2d`` that also accepts an empty batch on old torch (not registered).

    Arguments and output are :class:`torch.nn.MaxPool2d`'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0 and obsolete_torch_version(TORCH_VERSION, (1, 9)):
            return NewEmptyTensorOp.apply(x, [*x.shape[:2], *_pool_sizes(x, self, 2)])
        return super().forward(x)


class MaxPool3d(nn.MaxPool3d):
    """``nn.MaxPool3d`` that also accepts an empty batch on old torch (not registered).

    Arguments and output are :class:`torch.nn.MaxPool3d`'s.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0 and obsolete_torch_version(TORCH_VERSION, (1, 9)):
            return NewEmptyTensorOp.apply(x, [*x.shape[:2], *_pool_sizes(x, self, 3)])
        return super().forward(x)


class Linear(nn.Linear):
    """``nn.Linear`` that also accepts an empty batch on old torch (not registered).

    Arguments, parameters and output are :class:`torch.nn.Linear`'s. (On old torch the empty
    output is ``(N, out_features)`` whatever the input's rank, as in mmcv.)
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.numel() == 0 and obsolete_torch_version(TORCH_VERSION, (1, 5)):
            return _empty_output(self, x, [x.shape[0], self.out_features])
        return super().forward(x)
