"""Weight-standardised convolutions (``ConvWS``, ``ConvAWS``), as used by GN+WS zoo weights."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["ConvAWS2d", "ConvWS2d", "conv_ws_2d"]


def _standardise(weight: torch.Tensor, eps: float, *, unbiased_std: bool) -> torch.Tensor:
    flat = weight.flatten(1)
    mean = flat.mean(dim=1).view(-1, 1, 1, 1)
    if unbiased_std:
        std = flat.std(dim=1).view(-1, 1, 1, 1)
        return (weight - mean) / (std + eps)
    std = (flat.var(dim=1) + eps).sqrt().view(-1, 1, 1, 1)
    return (weight - mean) / std


def conv_ws_2d(
    input: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: Any = 1,
    padding: Any = 0,
    dilation: Any = 1,
    groups: int = 1,
    eps: float = 1e-5,
) -> torch.Tensor:
    """2-d convolution with each output filter standardised to zero mean and unit std.

    Args:
        input, weight, bias, stride, padding, dilation, groups: as :func:`torch.nn.functional.conv2d`.
        eps: added to the (unbiased) standard deviation. Default 1e-5.
    """
    w = _standardise(weight, eps, unbiased_std=True)
    return F.conv2d(input, w, bias, stride, padding, dilation, groups)


class ConvWS2d(nn.Conv2d):
    """Conv2d with weight standardisation (Qiao et al., 2019), registered as ``ConvWS``.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias:
            as :class:`torch.nn.Conv2d` (defaults 1, 0, 1, 1, True).
        eps: added to each filter's standard deviation. Default 1e-5.
        padding_mode, device, dtype: as :class:`torch.nn.Conv2d`.
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
        eps: float = 1e-5,
        padding_mode: Any = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
            device=device, dtype=dtype,
        )
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, _standardise(self.weight, self.eps, unbiased_std=True), self.bias)


class ConvAWS2d(nn.Conv2d):
    """Conv2d with adaptive weight standardisation, registered as ``ConvAWS``.

    The standardised weight is scaled by the buffer ``weight_gamma`` and shifted by
    ``weight_beta`` (per output channel). A checkpoint without these buffers (a plain conv's)
    loads by setting them to the loaded weight's std and mean, so the layer computes what the
    plain conv did; they are then not reported as missing.

    Args:
        in_channels, out_channels, kernel_size, stride, padding, dilation, groups, bias,
        padding_mode, device, dtype: as :class:`torch.nn.Conv2d`.
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
        padding_mode: Any = "zeros",
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=groups, bias=bias, padding_mode=padding_mode,
            device=device, dtype=dtype,
        )
        shape = (self.out_channels, 1, 1, 1)
        self.weight_gamma: torch.Tensor
        self.weight_beta: torch.Tensor
        self.register_buffer("weight_gamma", torch.ones(shape, device=device, dtype=dtype))
        self.register_buffer("weight_beta", torch.zeros(shape, device=device, dtype=dtype))

    def _get_weight(self, weight: torch.Tensor) -> torch.Tensor:
        return self.weight_gamma * _standardise(weight, 1e-5, unbiased_std=False) + self.weight_beta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self._conv_forward(x, self._get_weight(self.weight), self.bias)

    def _load_from_state_dict(
        self, state_dict: dict[str, Any], prefix: str, local_metadata: dict[str, Any],
        strict: bool, missing_keys: list[str], unexpected_keys: list[str], error_msgs: list[str],
    ) -> None:
        names = (prefix + "weight_gamma", prefix + "weight_beta")
        derive = all(n not in state_dict for n in names) and (prefix + "weight") in state_dict
        local_missing: list[str] = []
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, local_missing, unexpected_keys, error_msgs
        )
        if derive and not error_msgs:
            with torch.no_grad():
                flat = self.weight.flatten(1)
                self.weight_beta.copy_(flat.mean(dim=1).view_as(self.weight_beta))
                self.weight_gamma.copy_((flat.var(dim=1) + 1e-5).sqrt().view_as(self.weight_gamma))
            local_missing = [k for k in local_missing if k not in names]
        missing_keys.extend(local_missing)
