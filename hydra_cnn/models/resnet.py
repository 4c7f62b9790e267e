"""ResNet (18/34/50/101/152), its v1c/v1d stems and ResNeXt widths, built from layer configs.

The network is mmdet's/mmcls's ``ResNet`` and its children carry torchvision's names, so with
the default arguments ``ResNet(depth=50, num_classes=1000).state_dict()`` has exactly the keys
of torchvision's ``resnet50`` and ``torchvision://resnet50`` loads without a missing or
unexpected key. Every conv, norm and activation comes from the layer builders, so any layer
config swaps them everywhere at once::

    >>> from hydra_cnn.models import ResNet
    >>> net = ResNet(depth=50, conv_cfg=dict(type='ConvWS'), norm_cfg=dict(type='GN', num_groups=32))
    >>> [k for k in net.state_dict() if k.startswith('layer1.0.gn')][:2]   # mmdet's GN+WS keys
    ['layer1.0.gn1.weight', 'layer1.0.gn1.bias']

Child names (state-dict keys): stem ``conv1``, ``bn1`` (the norm's abbreviation plus a
postfix, so ``gn1`` for GroupNorm, as in mmdet's GN checkpoints), ``relu``, ``maxpool``; with
``deep_stem`` the stem is ``stem.0 .. stem.8`` (conv, norm, act, three times). Stages
``layer1 .. layer4`` hold blocks with ``conv1``, ``bn1``, ``conv2``, ``bn2`` (``conv3``,
``bn3`` for Bottleneck) and ``downsample.0`` (conv), ``downsample.1`` (norm); with
``avg_down`` the downsample path is ``downsample.0`` (AvgPool), ``.1`` (conv), ``.2`` (norm),
as in mmdet. The optional head is ``avgpool`` and ``fc``.

Activations are built once per place they are applied, never shared: ``relu`` for the first
one, then ``relu_1``, ``relu_2`` (the names torch.fx gives torchvision's repeated ``relu`` call
nodes, so feature-extraction node names carry over). An activation config that does not set
``inplace`` (or sets it to None, the structured configs' default) gets ``inplace=True`` when
its class accepts the argument.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, ClassVar

import torch
import torch.utils.checkpoint as cp
from torch import nn

from hydra_cnn.bricks.block_layers import build_act, check_conv_map_norm
from hydra_cnn.bricks.conv import build_conv_layer
from hydra_cnn.bricks.norm import build_norm_layer
from hydra_cnn.common import InvalidArgumentError
from hydra_cnn.init.apply import prepare_inits
from hydra_cnn.init.base_module import BaseModule
from hydra_cnn.models.backbone import (
    as_int_tuple,
    check_depth,
    check_flag,
    check_stages,
    freeze,
    freeze_norm_params,
    norms_to_eval,
    with_pretrained,
)

__all__ = ["BasicBlock", "Bottleneck", "ResLayer", "ResNet", "ResNetV1c", "ResNetV1d"]


def _checkpointed(fn: Any, x: torch.Tensor, with_cp: bool) -> torch.Tensor:
    if with_cp and x.requires_grad:
        return cp.checkpoint(fn, x, use_reentrant=False)
    return fn(x)


# --- blocks -----------------------------------------------------------------------------------
class BasicBlock(nn.Module):
    """Two 3x3 convs with a residual connection (ResNet-18/34).

    Args:
        inplanes: input channels.
        planes: output channels (``planes * expansion``, expansion 1).
        stride: stride of the first conv. Default 1.
        dilation: dilation (and padding) of the first conv. Default 1.
        downsample: module applied to the input for the residual, or None (identity).
        style: ``'pytorch'`` or ``'caffe'``; the same for this block. Default ``'pytorch'``.
        with_cp: gradient checkpointing (saves memory, costs a second forward). Default False.
        conv_cfg: conv config, or None for ``nn.Conv2d``. Default None.
        norm_cfg: norm config. Default ``dict(type='BN')``; ``LN`` is refused (use ``LN2d``).
        act_cfg: activation config. Default ``dict(type='ReLU')``.
        groups: must be 1. base_width: must be 64 (BasicBlock has no ResNeXt form).

    Example:
        >>> BasicBlock(64, 64)(torch.randn(1, 64, 8, 8)).shape
        torch.Size([1, 64, 8, 8])
    """

    expansion: ClassVar[int] = 1

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = "pytorch",
        with_cp: bool = False,
        conv_cfg: Any = None,
        norm_cfg: Any = dict(type="BN"),  # noqa: B006 (never mutated; mmdet's signature)
        act_cfg: Any = dict(type="ReLU"),  # noqa: B006
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        if groups != 1 or base_width != 64:
            raise InvalidArgumentError(
                f"BasicBlock (ResNet-18/34) supports only groups=1 and base_width=64, but got "
                f"groups={groups}, base_width={base_width}; use depth 50, 101 or 152 for ResNeXt"
            )
        check_conv_map_norm(norm_cfg, "BasicBlock")
        self.style = style
        self.with_cp = with_cp
        self.stride = stride
        self.dilation = dilation
        self.conv1 = build_conv_layer(
            conv_cfg, inplanes, planes, 3, stride=stride, padding=dilation, dilation=dilation,
            bias=False,
        )
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, planes, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(conv_cfg, planes, planes, 3, padding=1, bias=False)
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, planes, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.relu = build_act(act_cfg)
        self.relu_1 = build_act(act_cfg)
        self.downsample = downsample

    @property
    def norm1(self) -> nn.Module:
        """The norm after ``conv1`` (``bn1``, ``gn1``, ...)."""
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        """The norm after ``conv2``: the block's last norm."""
        return getattr(self, self.norm2_name)

    @property
    def last_norm(self) -> nn.Module:
        """The norm before the residual sum (what ``zero_init_residual`` zeroes)."""
        return self.norm2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def _inner(x: torch.Tensor) -> torch.Tensor:
            out = self.relu(self.norm1(self.conv1(x)))
            out = self.norm2(self.conv2(out))
            identity = x if self.downsample is None else self.downsample(x)
            return out + identity

        return self.relu_1(_checkpointed(_inner, x, self.with_cp))


class Bottleneck(nn.Module):
    """1x1, 3x3, 1x1 convs with a residual connection (ResNet-50/101/152, ResNeXt).

    Args:
        inplanes: input channels.
        planes: base channels; the output has ``planes * 4``.
        stride: stride of the 3x3 conv (``'pytorch'``) or of the first 1x1 (``'caffe'``).
            Default 1.
        dilation: dilation (and padding) of the 3x3 conv. Default 1.
        downsample: module applied to the input for the residual, or None (identity).
        style: ``'pytorch'`` (default) or ``'caffe'``: where the stride goes.
        with_cp: gradient checkpointing. Default False.
        conv_cfg: conv config, or None for ``nn.Conv2d``. Default None.
        norm_cfg: norm config. Default ``dict(type='BN')``; ``LN`` is refused (use ``LN2d``).
        act_cfg: activation config. Default ``dict(type='ReLU')``.
        groups: groups of the 3x3 conv (ResNeXt cardinality). Default 1.
        base_width: channels per group at ``planes=64``; the 3x3 conv has
            ``floor(planes * base_width / 64) * groups`` channels (torchvision's rule, so
            ``groups=32, base_width=4`` is ResNeXt 32x4d and ``base_width=128`` is
            Wide-ResNet-2). Default 64.

    Example:
        >>> Bottleneck(256, 64)(torch.randn(1, 256, 8, 8)).shape
        torch.Size([1, 256, 8, 8])
    """

    expansion: ClassVar[int] = 4

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        style: str = "pytorch",
        with_cp: bool = False,
        conv_cfg: Any = None,
        norm_cfg: Any = dict(type="BN"),  # noqa: B006 (never mutated; mmdet's signature)
        act_cfg: Any = dict(type="ReLU"),  # noqa: B006
        groups: int = 1,
        base_width: int = 64,
    ) -> None:
        super().__init__()
        if style not in ("pytorch", "caffe"):
            raise InvalidArgumentError(
                f"Bottleneck: style must be 'pytorch' or 'caffe', but got {style!r}"
            )
        check_conv_map_norm(norm_cfg, "Bottleneck")
        self.style = style
        self.with_cp = with_cp
        self.stride = stride
        self.dilation = dilation
        self.conv1_stride, self.conv2_stride = (1, stride) if style == "pytorch" else (stride, 1)
        width = (planes * base_width // 64) * groups
        if width <= 0:
            raise InvalidArgumentError(
                f"Bottleneck width floor({planes} * {base_width} / 64) * {groups} is {width}; "
                "increase base_width or the channels"
            )
        out = planes * self.expansion
        self.conv1 = build_conv_layer(
            conv_cfg, inplanes, width, 1, stride=self.conv1_stride, bias=False
        )
        self.norm1_name, norm1 = build_norm_layer(norm_cfg, width, postfix=1)
        self.add_module(self.norm1_name, norm1)
        self.conv2 = build_conv_layer(
            conv_cfg, width, width, 3, stride=self.conv2_stride, padding=dilation,
            dilation=dilation, groups=groups, bias=False,
        )
        self.norm2_name, norm2 = build_norm_layer(norm_cfg, width, postfix=2)
        self.add_module(self.norm2_name, norm2)
        self.conv3 = build_conv_layer(conv_cfg, width, out, 1, bias=False)
        self.norm3_name, norm3 = build_norm_layer(norm_cfg, out, postfix=3)
        self.add_module(self.norm3_name, norm3)
        self.relu = build_act(act_cfg)
        self.relu_1 = build_act(act_cfg)
        self.relu_2 = build_act(act_cfg)
        self.downsample = downsample

    @property
    def norm1(self) -> nn.Module:
        """The norm after ``conv1`` (``bn1``, ``gn1``, ...)."""
        return getattr(self, self.norm1_name)

    @property
    def norm2(self) -> nn.Module:
        """The norm after ``conv2``."""
        return getattr(self, self.norm2_name)

    @property
    def norm3(self) -> nn.Module:
        """The norm after ``conv3``: the block's last norm."""
        return getattr(self, self.norm3_name)

    @property
    def last_norm(self) -> nn.Module:
        """The norm before the residual sum (what ``zero_init_residual`` zeroes)."""
        return self.norm3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        def _inner(x: torch.Tensor) -> torch.Tensor:
            out = self.relu(self.norm1(self.conv1(x)))
            out = self.relu_1(self.norm2(self.conv2(out)))
            out = self.norm3(self.conv3(out))
            identity = x if self.downsample is None else self.downsample(x)
            return out + identity

        return self.relu_2(_checkpointed(_inner, x, self.with_cp))


class ResLayer(nn.Sequential):
    """One ResNet stage: ``num_blocks`` blocks, the first one strided and downsampling.

    Args:
        block: ``BasicBlock`` or ``Bottleneck``.
        inplanes: input channels.
        planes: base channels of the blocks (output ``planes * block.expansion``).
        num_blocks: number of blocks.
        stride: stride of the first block. Default 1.
        dilation: dilation of every block. Default 1.
        contract_dilation: with ``dilation > 1``, the first block uses ``dilation // 2``
            (mmseg's dilated backbones). Default False.
        avg_down: downsample the residual with an ``AvgPool2d`` then a stride-1 1x1 conv
            (ResNet-D, mmdet's layout: the pool is always there, kernel ``stride``).
            Default False.
        conv_cfg, norm_cfg: configs for the downsample conv and norm (and the blocks).
        **kwargs: passed to every block (``style``, ``act_cfg``, ``groups``, ...).

    Example:
        >>> len(ResLayer(BasicBlock, 64, 128, 2, stride=2))
        2
    """

    def __init__(
        self,
        block: type[BasicBlock] | type[Bottleneck],
        inplanes: int,
        planes: int,
        num_blocks: int,
        stride: int = 1,
        dilation: int = 1,
        avg_down: bool = False,
        conv_cfg: Any = None,
        norm_cfg: Any = dict(type="BN"),  # noqa: B006 (never mutated)
        contract_dilation: bool = False,
        **kwargs: Any,
    ) -> None:
        check_conv_map_norm(norm_cfg, "ResLayer")
        out = planes * block.expansion
        downsample: nn.Module | None = None
        if stride != 1 or inplanes != out:
            layers: list[nn.Module] = []
            conv_stride = stride
            if avg_down:
                conv_stride = 1
                layers.append(
                    nn.AvgPool2d(kernel_size=stride, stride=stride, ceil_mode=True,
                                 count_include_pad=False)
                )
            layers.append(build_conv_layer(conv_cfg, inplanes, out, 1, stride=conv_stride,
                                           bias=False))
            layers.append(build_norm_layer(norm_cfg, out)[1])
            downsample = nn.Sequential(*layers)
        first_dilation = dilation // 2 if contract_dilation and dilation > 1 else dilation
        blocks = [
            block(inplanes, planes, stride=stride, dilation=first_dilation, downsample=downsample,
                  conv_cfg=conv_cfg, norm_cfg=norm_cfg, **kwargs)
        ]
        blocks += [
            block(out, planes, stride=1, dilation=dilation, conv_cfg=conv_cfg,
                  norm_cfg=norm_cfg, **kwargs)
            for _ in range(1, num_blocks)
        ]
        super().__init__(*blocks)


# --- the network ------------------------------------------------------------------------------
class ResNet(BaseModule):
    """ResNet backbone or classifier (He et al., 2016), as mmdet/mmcls build it.

    Args:
        depth: 18, 34 (BasicBlock), 50, 101 or 152 (Bottleneck).
        in_channels: input image channels. Default 3.
        stem_channels: stem output channels; None (default) means ``base_channels``.
        base_channels: channels of the first stage (doubling per stage). Default 64.
        num_stages: how many of the 4 stages to build (1-4). Default 4.
        strides: stride of each stage's first block. Default ``(1, 2, 2, 2)``.
        dilations: dilation of each stage. Default ``(1, 1, 1, 1)``.
        out_indices: stages whose outputs ``forward`` returns (without a head). Default
            ``(0, 1, 2, 3)``.
        style: ``'pytorch'`` (default: stride on the 3x3 conv) or ``'caffe'`` (stride on the
            first 1x1 conv of a Bottleneck).
        deep_stem: three 3x3 convs instead of the 7x7 one (ResNet-C, "v1c"). Default False.
        avg_down: AvgPool in the downsample path (ResNet-D, "v1d"). Default False.
        contract_dilation: in a stage with dilation > 1, the first block uses half the
            dilation (``dilation // 2``), as mmseg's dilated ``ResNetV1c`` backbones do.
            Default False.
        frozen_stages: freeze the stem (0) and stages ``1..frozen_stages``: no gradients, kept
            in eval mode by ``train()``. Default -1 (nothing frozen).
        conv_cfg: conv config for every conv (``dict(type='ConvWS')``, ``ConvWSConf()``, ...);
            None (default) is ``nn.Conv2d``.
        norm_cfg: norm config for every norm. Default ``dict(type='BN', requires_grad=True)``.
            ``LN`` (``nn.LayerNorm``) is refused when the model is built: use ``LN2d``.
        act_cfg: activation config for every activation. Default ``dict(type='ReLU')``.
        norm_eval: keep batch norms in eval mode in ``train()`` (frozen statistics). Default
            False.
        bn_eval: ``mmcv.cnn.ResNet``'s name for ``norm_eval``: either one keeps batch norms in
            eval mode. Default False (mmcv.cnn's default is True).
        bn_frozen: stop gradients to every batch norm's weight and bias, from construction on
            and again in ``train()`` (``mmcv.cnn.ResNet``'s meaning; there it only acts
            together with ``bn_eval``). Default False.
        with_cp: gradient checkpointing in the blocks. Default False.
        groups: ResNeXt cardinality (Bottleneck only). Default 1.
        base_width: ResNeXt channels per group (Bottleneck only). Default 64.
        zero_init_residual: zero the weight of each block's last norm, so every block starts
            as the identity. Done at construction and again after ``init_weights()`` (unless
            ``init_cfg`` loads a checkpoint, which then decides). Default False.
        num_classes: > 0 adds a classifier head (``avgpool`` + ``fc``) and ``forward`` returns
            logits; otherwise (default -1) ``forward`` returns the ``out_indices`` stage
            outputs as a tuple.
        pretrained: a checkpoint (path, URL or zoo name such as ``torchvision://resnet50``)
            loaded by ``init_weights()`` after ``init_cfg``: mmcv's ``pretrained`` argument,
            the same as appending ``dict(type='Pretrained', checkpoint=...)`` to ``init_cfg``;
            or a mapping of that entry's arguments (``checkpoint`` plus ``prefix``,
            ``revise_keys``, ``state_dict_key``, ``map_location``) to rename keys on the way.
            Default None.
        init_cfg: weight init config for ``init_weights()``; None (default) keeps PyTorch's
            default init. mmcv's usual choice is ``[dict(type='Kaiming', layer='Conv2d'),
            dict(type='Constant', val=1, layer=['_BatchNorm', 'GroupNorm'])]``.

    Raises:
        KeyError: an unknown ``depth`` (the message lists the valid ones), as mmcv.
        InvalidArgumentError: inconsistent stage arguments (``num_stages`` out of range,
            ``len(strides) != num_stages``, ``out_indices`` outside the stages, ...), an
            unknown ``style``, ResNeXt widths on a BasicBlock depth: a ``ValueError`` and, as
            mmcv's assertions, an ``AssertionError``.
        InvalidTypeError: a stage argument of the wrong type (a ``TypeError`` and an
            ``AssertionError``).
        ValueError: ``LN`` (``nn.LayerNorm``) as ``norm_cfg``: use ``LN2d``.

    Example:
        >>> net = ResNet(depth=18, out_indices=(1, 3))
        >>> [tuple(o.shape) for o in net(torch.randn(1, 3, 64, 64))]
        [(1, 128, 8, 8), (1, 512, 2, 2)]
    """

    arch_settings: ClassVar[dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, ...]]]] = {
        18: (BasicBlock, (2, 2, 2, 2)),
        34: (BasicBlock, (3, 4, 6, 3)),
        50: (Bottleneck, (3, 4, 6, 3)),
        101: (Bottleneck, (3, 4, 23, 3)),
        152: (Bottleneck, (3, 8, 36, 3)),
    }

    def __init__(
        self,
        depth: int,
        in_channels: int = 3,
        stem_channels: int | None = None,
        base_channels: int = 64,
        num_stages: int = 4,
        strides: Sequence[int] = (1, 2, 2, 2),
        dilations: Sequence[int] = (1, 1, 1, 1),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        style: str = "pytorch",
        deep_stem: bool = False,
        avg_down: bool = False,
        contract_dilation: bool = False,
        frozen_stages: int = -1,
        conv_cfg: Any = None,
        norm_cfg: Any = dict(type="BN", requires_grad=True),  # noqa: B006 (never mutated)
        act_cfg: Any = dict(type="ReLU"),  # noqa: B006 (never mutated)
        norm_eval: bool = False,
        bn_eval: bool = False,
        bn_frozen: bool = False,
        with_cp: bool = False,
        groups: int = 1,
        base_width: int = 64,
        zero_init_residual: bool = False,
        num_classes: int = -1,
        init_cfg: Any = None,
        pretrained: str | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(with_pretrained(init_cfg, pretrained))
        owner = type(self).__name__
        check_depth(owner, depth, self.arch_settings)
        if style not in ("pytorch", "caffe"):
            raise InvalidArgumentError(
                f"{owner}: style must be 'pytorch' or 'caffe', but got {style!r}"
            )
        strides = as_int_tuple(strides, "strides")
        dilations = as_int_tuple(dilations, "dilations")
        out_indices = as_int_tuple(out_indices, "out_indices")
        check_stages(owner, num_stages, 4, out_indices, frozen_stages,
                     {"strides": strides, "dilations": dilations})
        for name, flag in (("norm_eval", norm_eval), ("bn_eval", bn_eval),
                           ("bn_frozen", bn_frozen), ("contract_dilation", contract_dilation)):
            check_flag(owner, name, flag)
        check_conv_map_norm(norm_cfg, owner)
        block, stage_blocks = self.arch_settings[depth]
        if block is BasicBlock and (groups != 1 or base_width != 64):
            raise InvalidArgumentError(
                f"groups/base_width (ResNeXt) need a Bottleneck ResNet (depth 50, 101, 152), "
                f"but depth={depth} uses BasicBlock"
            )
        stem_channels = base_channels if stem_channels is None else stem_channels

        self.depth = depth
        self.block = block
        self.stage_blocks = stage_blocks[:num_stages]
        self.num_stages = num_stages
        self.strides = strides
        self.dilations = dilations
        self.out_indices = out_indices
        self.style = style
        self.deep_stem = deep_stem
        self.avg_down = avg_down
        self.contract_dilation = contract_dilation
        self.frozen_stages = frozen_stages
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.norm_eval = norm_eval
        self.bn_eval = bn_eval
        self.bn_frozen = bn_frozen
        self.with_cp = with_cp
        self.zero_init_residual = zero_init_residual
        self.num_classes = num_classes

        self._make_stem_layer(in_channels, stem_channels)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)

        self.res_layers: list[str] = []
        inplanes = stem_channels
        for i, num_blocks in enumerate(self.stage_blocks):
            planes = base_channels * 2**i
            layer = ResLayer(
                block, inplanes, planes, num_blocks, stride=strides[i], dilation=dilations[i],
                avg_down=avg_down, conv_cfg=conv_cfg, norm_cfg=norm_cfg, style=style,
                contract_dilation=contract_dilation,
                with_cp=with_cp, act_cfg=act_cfg, groups=groups, base_width=base_width,
            )
            inplanes = planes * block.expansion
            name = f"layer{i + 1}"
            self.add_module(name, layer)
            self.res_layers.append(name)
        self.feat_dim = inplanes  # channels of the last stage's output (the head's input)

        if num_classes > 0:
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(self.feat_dim, num_classes)

        if zero_init_residual:
            self._zero_init_residual()
        self._freeze_stages()
        if bn_frozen:
            freeze_norm_params(self)

    def _make_stem_layer(self, in_channels: int, stem_channels: int) -> None:
        if self.deep_stem:
            mid = stem_channels // 2
            self.stem = nn.Sequential(
                build_conv_layer(self.conv_cfg, in_channels, mid, 3, stride=2, padding=1,
                                 bias=False),
                build_norm_layer(self.norm_cfg, mid)[1],
                build_act(self.act_cfg),
                build_conv_layer(self.conv_cfg, mid, mid, 3, stride=1, padding=1, bias=False),
                build_norm_layer(self.norm_cfg, mid)[1],
                build_act(self.act_cfg),
                build_conv_layer(self.conv_cfg, mid, stem_channels, 3, stride=1, padding=1,
                                 bias=False),
                build_norm_layer(self.norm_cfg, stem_channels)[1],
                build_act(self.act_cfg),
            )
        else:
            self.conv1 = build_conv_layer(self.conv_cfg, in_channels, stem_channels, 7, stride=2,
                                          padding=3, bias=False)
            self.norm1_name, norm1 = build_norm_layer(self.norm_cfg, stem_channels, postfix=1)
            self.add_module(self.norm1_name, norm1)
            self.relu = build_act(self.act_cfg)

    @property
    def norm1(self) -> nn.Module:
        """The stem's norm (``bn1``, ``gn1``, ...); absent with ``deep_stem`` (see ``stem``)."""
        return getattr(self, self.norm1_name)

    def blocks(self) -> Iterator[BasicBlock | Bottleneck]:
        """Every residual block, stage by stage."""
        for name in self.res_layers:
            yield from getattr(self, name)

    def _zero_init_residual(self) -> None:
        with torch.no_grad():
            for blk in self.blocks():
                weight = getattr(blk.last_norm, "weight", None)
                if isinstance(weight, torch.Tensor):
                    weight.zero_()

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            if self.deep_stem:
                freeze(self.stem)
            else:
                freeze(self.conv1)
                freeze(self.norm1)
        for i in range(1, self.frozen_stages + 1):
            freeze(getattr(self, f"layer{i}"))

    def init_weights(self) -> None:
        """Apply ``init_cfg`` (see :class:`~hydra_cnn.init.base_module.BaseModule`), then
        re-zero the last norms when ``zero_init_residual`` is set and ``init_cfg`` loads no
        checkpoint (a ``Pretrained`` entry's weights are kept as they are).

        Example:
            >>> ResNet(depth=18, init_cfg=dict(type='Kaiming', layer='Conv2d')).init_weights()
        """
        super().init_weights()
        if self.zero_init_residual and not self._loads_checkpoint():
            self._zero_init_residual()

    def _loads_checkpoint(self) -> bool:
        if self.init_cfg is None:
            return False
        return any(init.loads_checkpoint for init, _ in prepare_inits(self.init_cfg))

    def train(self, mode: bool = True) -> ResNet:
        """Set training mode, keeping frozen stages (and, with ``norm_eval`` or ``bn_eval``,
        batch norms) in eval mode; with ``bn_frozen`` batch-norm parameters stay frozen."""
        super().train(mode)
        self._freeze_stages()
        if mode and (self.norm_eval or self.bn_eval):
            norms_to_eval(self)
        if self.bn_frozen:
            freeze_norm_params(self)
        return self

    def forward(self, x: torch.Tensor) -> Any:
        """Return the ``out_indices`` stage outputs as a tuple, or the logits with a head."""
        x = self.stem(x) if self.deep_stem else self.relu(self.norm1(self.conv1(x)))
        x = self.maxpool(x)
        outs = []
        for i, name in enumerate(self.res_layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
        if self.num_classes > 0:
            return self.fc(torch.flatten(self.avgpool(x), 1))
        return tuple(outs)


def _preset_signature(excluded: tuple[str, ...]) -> inspect.Signature:
    sig = inspect.signature(ResNet.__init__)
    params = [p for name, p in sig.parameters.items() if name != "self" and name not in excluded]
    return sig.replace(parameters=params)


class ResNetV1c(ResNet):
    """ResNet-C ("v1c"): ``ResNet`` with ``deep_stem=True`` (three 3x3 stem convs).

    Args:
        depth: 18, 34, 50, 101 or 152.
        **kwargs: every other :class:`ResNet` argument except ``deep_stem``.

    Example:
        >>> 'stem.0.weight' in ResNetV1c(depth=18).state_dict()
        True
    """

    def __init__(self, depth: int, **kwargs: Any) -> None:
        if "deep_stem" in kwargs:
            raise TypeError("ResNetV1c sets deep_stem=True itself; use ResNet to choose it")
        super().__init__(depth, deep_stem=True, **kwargs)


class ResNetV1d(ResNet):
    """ResNet-D ("v1d"): ``ResNet`` with ``deep_stem=True`` and ``avg_down=True``.

    Args:
        depth: 18, 34, 50, 101 or 152.
        **kwargs: every other :class:`ResNet` argument except ``deep_stem`` and ``avg_down``.

    Example:
        >>> 'layer1.0.downsample.1.weight' in ResNetV1d(depth=50).state_dict()
        True
    """

    def __init__(self, depth: int, **kwargs: Any) -> None:
        for key in ("deep_stem", "avg_down"):
            if key in kwargs:
                raise TypeError(f"ResNetV1d sets {key}=True itself; use ResNet to choose it")
        super().__init__(depth, deep_stem=True, avg_down=True, **kwargs)


# The presets' real argument lists, for inspect.signature (validate(), config checks).
ResNetV1c.__signature__ = _preset_signature(("deep_stem",))  # type: ignore[attr-defined]
ResNetV1d.__signature__ = _preset_signature(("deep_stem", "avg_down"))  # type: ignore[attr-defined]
