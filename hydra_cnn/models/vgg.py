"""VGG (11/13/16/19, with or without batch norm), built from layer configs.

``features`` is one flat ``nn.Sequential`` laid out as torchvision's (3x3 conv, [norm], act per
conv, a max-pool closing each stage), and the optional head is torchvision's ``avgpool``
(``AdaptiveAvgPool2d(7)``) and ``classifier`` (``Linear``, act, ``Dropout``, ``Linear``, act,
``Dropout``, ``Linear``), so ``VGG(depth=16, num_classes=1000)`` has exactly the state-dict
keys of torchvision's ``vgg16`` (and ``with_bn=True`` those of ``vgg16_bn``)::

    >>> from hydra_cnn.models import VGG
    >>> list(VGG(depth=11, num_classes=10).state_dict())[:2]
    ['features.0.weight', 'features.0.bias']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import torch
from torch import nn

from hydra_cnn.bricks.block_layers import build_act, check_conv_map_norm
from hydra_cnn.bricks.conv import build_conv_layer
from hydra_cnn.bricks.norm import build_norm_layer
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

__all__ = ["VGG"]


class VGG(BaseModule):
    """VGG backbone or classifier (Simonyan and Zisserman, 2015), as mmcv and torchvision.

    Args:
        depth: 11, 13, 16 or 19 (convs per stage 1-1-2-2-2, 2-2-2-2-2, 2-2-3-3-3, 2-2-4-4-4).
        with_bn: a norm (``norm_cfg``) after every conv, as torchvision's ``vgg*_bn``.
            Default False.
        num_classes: > 0 adds torchvision's head (``avgpool`` + ``classifier``) and
            ``forward`` returns logits; otherwise (default -1) ``forward`` returns the
            ``out_indices`` stage outputs as a tuple.
        in_channels: input image channels. Default 3.
        num_stages: how many of the 5 stages to build (1-5). Default 5.
        dilations: dilation (and padding) of each stage's convs. Default ``(1, 1, 1, 1, 1)``.
        out_indices: stages whose outputs ``forward`` returns (without a head). Default
            ``(0, 1, 2, 3, 4)``.
        frozen_stages: freeze stages ``0 .. frozen_stages - 1`` (mmcv's VGG meaning): no
            gradients, kept in eval mode by ``train()``. Default -1 (nothing frozen).
        norm_eval: keep batch norms in eval mode in ``train()``. Default False.
        bn_eval: ``mmcv.cnn.VGG``'s name for ``norm_eval``: either one keeps batch norms in
            eval mode. Default False (mmcv.cnn's default is True).
        bn_frozen: stop gradients to every batch norm's weight and bias, from construction on
            and again in ``train()`` (``mmcv.cnn.VGG``'s meaning; there it only acts together
            with ``bn_eval``). Default False.
        ceil_mode: ``ceil_mode`` of the max-pools. Default False.
        with_last_pool: keep the max-pool that ends the last stage. Default True.
        dropout: dropout probability in the classifier. Default 0.5.
        conv_cfg: conv config for the 3x3 convs (they keep their bias, as torchvision's);
            None (default) is ``nn.Conv2d``.
        norm_cfg: norm config, used when ``with_bn``. Default ``dict(type='BN',
            requires_grad=True)``. ``LN`` is refused (use ``LN2d``).
        act_cfg: activation config (features and classifier). Default ``dict(type='ReLU')``.
        pretrained: a checkpoint (path, URL or zoo name such as ``torchvision://resnet50``)
            loaded by ``init_weights()`` after ``init_cfg``: mmcv's ``pretrained`` argument,
            the same as appending ``dict(type='Pretrained', checkpoint=...)`` to ``init_cfg``;
            or a mapping of that entry's arguments (``checkpoint`` plus ``prefix``,
            ``revise_keys``, ``state_dict_key``, ``map_location``) to rename keys on the way.
            Default None.
        init_cfg: weight init config for ``init_weights()``; None (default) keeps PyTorch's
            default init.

    Raises:
        KeyError: an unknown ``depth`` (the message lists the valid ones), as mmcv.
        InvalidArgumentError: inconsistent stage arguments (``num_stages`` out of range,
            ``len(dilations) != num_stages``, ``out_indices`` outside the stages, ...): a
            ``ValueError`` and, as mmcv's assertions, an ``AssertionError``.
        InvalidTypeError: a stage argument of the wrong type.
        ValueError: ``LN`` (``nn.LayerNorm``) as ``norm_cfg`` with ``with_bn``: use ``LN2d``.

    Example:
        >>> net = VGG(depth=11, out_indices=(4,))
        >>> net(torch.randn(1, 3, 64, 64))[0].shape
        torch.Size([1, 512, 2, 2])
    """

    arch_settings: ClassVar[dict[int, tuple[int, ...]]] = {
        11: (1, 1, 2, 2, 2),
        13: (2, 2, 2, 2, 2),
        16: (2, 2, 3, 3, 3),
        19: (2, 2, 4, 4, 4),
    }

    def __init__(
        self,
        depth: int,
        with_bn: bool = False,
        num_classes: int = -1,
        in_channels: int = 3,
        num_stages: int = 5,
        dilations: Sequence[int] = (1, 1, 1, 1, 1),
        out_indices: Sequence[int] = (0, 1, 2, 3, 4),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        bn_eval: bool = False,
        bn_frozen: bool = False,
        ceil_mode: bool = False,
        with_last_pool: bool = True,
        dropout: float = 0.5,
        conv_cfg: Any = None,
        norm_cfg: Any = dict(type="BN", requires_grad=True),  # noqa: B006 (never mutated)
        act_cfg: Any = dict(type="ReLU"),  # noqa: B006 (never mutated)
        init_cfg: Any = None,
        pretrained: str | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(with_pretrained(init_cfg, pretrained))
        check_depth("VGG", depth, self.arch_settings)
        dilations = as_int_tuple(dilations, "dilations")
        out_indices = as_int_tuple(out_indices, "out_indices")
        check_stages("VGG", num_stages, 5, out_indices, frozen_stages, {"dilations": dilations})
        for name, flag in (("with_bn", with_bn), ("norm_eval", norm_eval), ("bn_eval", bn_eval),
                           ("bn_frozen", bn_frozen)):
            check_flag("VGG", name, flag)
        if with_bn:
            check_conv_map_norm(norm_cfg, "VGG")
        self.depth = depth
        self.with_bn = with_bn
        self.num_classes = num_classes
        self.stage_blocks = self.arch_settings[depth][:num_stages]
        self.num_stages = num_stages
        self.dilations = dilations
        self.out_indices = out_indices
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.bn_eval = bn_eval
        self.bn_frozen = bn_frozen
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg

        layers: list[nn.Module] = []
        # [start, end) indices in ``features`` of each stage, as mmcv's range_sub_modules
        self.range_sub_modules: list[tuple[int, int]] = []
        inplanes = in_channels
        for i, num_convs in enumerate(self.stage_blocks):
            planes = 64 * 2**i if i < 4 else 512
            start = len(layers)
            for _ in range(num_convs):
                layers.append(build_conv_layer(
                    conv_cfg, inplanes, planes, 3, padding=dilations[i], dilation=dilations[i],
                    bias=True,
                ))
                if with_bn:
                    layers.append(build_norm_layer(norm_cfg, planes)[1])
                layers.append(build_act(act_cfg))
                inplanes = planes
            if with_last_pool or i < num_stages - 1:
                layers.append(nn.MaxPool2d(kernel_size=2, stride=2, ceil_mode=ceil_mode))
            self.range_sub_modules.append((start, len(layers)))
        self.features = nn.Sequential(*layers)
        self.feat_dim = inplanes  # channels of the last stage's output

        if num_classes > 0:
            self.avgpool = nn.AdaptiveAvgPool2d((7, 7))
            self.classifier = nn.Sequential(
                nn.Linear(inplanes * 7 * 7, 4096),
                build_act(act_cfg),
                nn.Dropout(p=dropout),
                nn.Linear(4096, 4096),
                build_act(act_cfg),
                nn.Dropout(p=dropout),
                nn.Linear(4096, num_classes),
            )
        self._freeze_stages()
        if bn_frozen:
            freeze_norm_params(self)

    def _freeze_stages(self) -> None:
        for i in range(max(self.frozen_stages, 0)):
            start, end = self.range_sub_modules[i]
            for j in range(start, end):
                freeze(self.features[j])

    def train(self, mode: bool = True) -> VGG:
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
        outs = []
        for i, (start, end) in enumerate(self.range_sub_modules):
            for j in range(start, end):
                x = self.features[j](x)
            if i in self.out_indices:
                outs.append(x)
        if self.num_classes > 0:
            return self.classifier(torch.flatten(self.avgpool(x), 1))
        return tuple(outs)
