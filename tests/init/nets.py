"""Small models shared by the init tests (the seed document's FooNet, a tiny ResNet, ...)."""

from __future__ import annotations

from typing import Any

from torch import nn

from hydra_cnn.init import BaseModule, Sequential, constant_init, kaiming_init


class FooNet(nn.Module):
    """The seed document's FooNet: Conv1d ``feat``, Conv2d ``reg``, Linear ``cls``."""

    def __init__(self) -> None:
        super().__init__()
        self.feat = nn.Conv1d(3, 1, 3)
        self.reg = nn.Conv2d(3, 3, 3)
        self.cls = nn.Linear(1, 2)


class FooNetSeq(nn.Module):
    """The seed document's override FooNet: ``cls`` is a Sequential(Conv1d, Linear)."""

    def __init__(self) -> None:
        super().__init__()
        self.feat = nn.Conv1d(3, 1, 3)
        self.reg = nn.Conv2d(3, 3, 3)
        self.cls = nn.Sequential(nn.Conv1d(3, 1, 3), nn.Linear(1, 2))


class FooConv1d(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.conv1d = nn.Conv1d(4, 1, 4)


class FooConv2d(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.conv2d = nn.Conv2d(3, 1, 3)


class FooLinear(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.linear = nn.Linear(1, 2)


class DefaultInitBlock(nn.Module):
    """A ConvModule stand-in: initialises itself with a built-in default marked as such."""

    def __init__(self, cin: int = 3, cout: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.calls = 0
        self.init_weights()

    def init_weights(self) -> None:
        self.calls += 1
        kaiming_init(self.conv)
        constant_init(self.bn, 1, bias=0)

    init_weights._is_default_init = True  # type: ignore[attr-defined]


class BasicBlock(BaseModule):
    """A ResNet basic block with named children (conv1, bn1, conv2, bn2, downsample)."""

    def __init__(self, cin: int, cout: int, stride: int = 1, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU()
        self.downsample = (
            Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout else None
        )

    def forward(self, x: Any) -> Any:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class TinyResNet(BaseModule):
    """A two-stage ResNet-like model: stem, ``layer1``/``layer2`` of BasicBlocks, ``fc``.

    The default ``init_cfg`` initialises convs (Kaiming) and batch norms (1/0) but not ``fc``;
    ``zero_init_residual`` gives every block an inner config zeroing ``bn2`` (inner wins).
    """

    def __init__(self, width: int = 8, num_classes: int = 10, zero_init_residual: bool = True,
                 init_cfg: Any = None) -> None:
        if init_cfg is None:
            init_cfg = [dict(type="Kaiming", layer="Conv2d"),
                        dict(type="Constant", layer="_BatchNorm", val=1, bias=0)]
        super().__init__(init_cfg)
        block_cfg = (
            dict(type="Constant", val=0, override=dict(name="bn2")) if zero_init_residual else None
        )
        self.conv1 = nn.Conv2d(3, width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.layer1 = Sequential(BasicBlock(width, width, init_cfg=block_cfg),
                                 BasicBlock(width, width, init_cfg=block_cfg))
        self.layer2 = Sequential(BasicBlock(width, 2 * width, 2, init_cfg=block_cfg),
                                 BasicBlock(2 * width, 2 * width, init_cfg=block_cfg))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, num_classes)

    def forward(self, x: Any) -> Any:
        x = self.layer2(self.layer1(self.bn1(self.conv1(x))))
        return self.fc(self.pool(x).flatten(1))
