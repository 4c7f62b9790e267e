"""Activation layers: the ``ACTIVATION_LAYERS`` registry's members and its builders.

    >>> from hydra_cnn import build_activation_layer
    >>> build_activation_layer(dict(type='LeakyReLU', negative_slope=0.2))
    LeakyReLU(negative_slope=0.2)
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hydra_cnn.common import InvalidArgumentError
from hydra_cnn.registry import ACTIVATION_LAYERS, layer_factory

__all__ = [
    "Clamp",
    "HSigmoid",
    "HSwish",
    "Swish",
    "build_activation_layer",
    "make_act",
]


class Swish(nn.Module):
    """``x * sigmoid(x)`` (Ramachandran et al., 2017); takes no arguments."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


class HSwish(nn.Module):
    """Hard swish, ``x * relu6(x + 3) / 6`` (MobileNetV3), as mmcv's: ``act`` is the ``ReLU6``.

    The registry name ``'HSwish'`` builds ``nn.Hardswish`` (as mmcv 1.7 does on torch >= 1.7,
    so MobileNetV3 configs give the same modules and state-dict keys); this class stays for
    code that constructs it directly.

    Args:
        inplace: whether ``act`` (the ``ReLU6``) works in place. Default False.
    """

    def __init__(self, inplace: bool = False) -> None:
        super().__init__()
        self.act = nn.ReLU6(inplace)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(x + 3) / 6


class HSigmoid(nn.Module):
    """Hard sigmoid: ``clamp((x + bias) / divisor, min_value, max_value)``.

    The defaults give MobileNetV3's ``relu6(x + 3) / 6``. Unlike mmcv 1.7 it does not warn
    on construction.

    Args:
        bias: added before dividing. Default 3.0.
        divisor: must not be 0. Default 6.0.
        min_value: lower clamp. Default 0.0.
        max_value: upper clamp. Default 1.0.
    """

    def __init__(
        self, bias: float = 3.0, divisor: float = 6.0, min_value: float = 0.0, max_value: float = 1.0
    ) -> None:
        super().__init__()
        if divisor == 0:
            raise InvalidArgumentError("HSigmoid: divisor must not be 0")
        self.bias = bias
        self.divisor = divisor
        self.min_value = min_value
        self.max_value = max_value

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x + self.bias) / self.divisor).clamp_(self.min_value, self.max_value)

    def extra_repr(self) -> str:
        return (f"bias={self.bias}, divisor={self.divisor}, min_value={self.min_value}, "
                f"max_value={self.max_value}")


class Clamp(nn.Module):
    """Clamp values to ``[min, max]`` (registered as ``Clamp`` and ``Clip``).

    Args:
        min: lower bound. Default -1.0.
        max: upper bound. Default 1.0.
    """

    def __init__(self, min: float = -1.0, max: float = 1.0) -> None:
        super().__init__()
        if min > max:
            raise InvalidArgumentError(f"Clamp: min={min} is greater than max={max}")
        self.min = min
        self.max = max

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.clamp(x, min=self.min, max=self.max)

    def extra_repr(self) -> str:
        return f"min={self.min}, max={self.max}"


for _cls in (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.RReLU, nn.ReLU6, nn.ELU, nn.Sigmoid, nn.Tanh,
             nn.GELU, nn.SiLU, nn.Mish):
    ACTIVATION_LAYERS.add_builtin(_cls.__name__, _cls)
ACTIVATION_LAYERS.add_builtin("Swish", Swish)
# mmcv 1.7 on torch >= 1.7 registers nn.Hardswish under 'HSwish' (its own class is not registered)
ACTIVATION_LAYERS.add_builtin("HSwish", nn.Hardswish)
ACTIVATION_LAYERS.add_builtin("HSigmoid", HSigmoid)
ACTIVATION_LAYERS.add_builtin(["Clamp", "Clip"], Clamp)


def build_activation_layer(cfg: Any) -> nn.Module:
    """Build an activation layer from a config.

    Args:
        cfg: a dict with ``type`` (``ReLU``, ``LeakyReLU``, ``PReLU``, ``RReLU``, ``ReLU6``,
            ``ELU``, ``Sigmoid``, ``Tanh``, ``GELU``, ``SiLU``, ``Swish``, ``HSwish``
            (``nn.Hardswish``),
            ``HSigmoid``, ``Mish``, ``Clamp``/``Clip`` or a registered name) and constructor
            arguments, or any other accepted config form. ``inplace=None`` (the structured
            configs' default) means the class's own default.

    Returns:
        A new activation module.
    """
    return ACTIVATION_LAYERS.build_layer(cfg)


@layer_factory(ACTIVATION_LAYERS)
def make_act(type: Any = "ReLU", **kwargs: Any) -> nn.Module:
    """Build the ``ACTIVATION_LAYERS`` member ``type``: a Hydra ``_target_``.

    A ``layers/act`` option instantiates to ``partial(make_act, type=..., ...)``; calling it as
    ``act()`` (or ``act(inplace=True)``) builds a new layer.
    """
    return build_activation_layer({"type": type, **kwargs})
