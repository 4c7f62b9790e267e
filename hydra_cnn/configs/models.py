"""Structured configs for the models (config group ``model``): ``ResNetConf``, ``VGGConf``, ...

Unlike layer configs, model configs build modules: ``_partial_`` is false and ``_target_`` is
:func:`hydra_cnn.make_model`, which resolves ``type`` in ``MODELS``::

    >>> from hydra.utils import instantiate
    >>> net = instantiate(ResNetConf(depth=18, num_classes=10))          # doctest: +SKIP
    >>> net = instantiate(ResNetConf(depth=50, norm_cfg=GNConf()))        # GN everywhere  # doctest: +SKIP

Fields mirror the constructors (same names, same defaults). Tuples are lists typed ``Any``
(YAML has no tuples; the models accept lists). ``conv_cfg``, ``norm_cfg``, ``act_cfg`` and
``init_cfg`` are ``Any`` and take any config form: a dict with ``type``, a layer config
(``GNConf()``) or a composed option (``+layers/norm@model.norm_cfg=gn``). Their defaults are
plain dicts, so composing an option of any type over them works (OmegaConf refuses to merge
a ``GNConf`` into a node typed ``BNConf``).

Options: ``resnet``, ``resnet_v1c``, ``resnet_v1d``, ``vgg`` (``depth`` is required), and
presets with the depth set: ``resnet18``, ``resnet34``, ``resnet50``, ``resnet101``,
``resnet152``, ``vgg11``, ``vgg13``, ``vgg16``, ``vgg19``; ``simple_vit`` and its preset
``vit_tiny`` (a Vision Transformer from the transformer bricks). This module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from hydra_cnn.common import MISSING
from hydra_cnn.configs.base import confs_of, group_of, partial_of, target_of

# ruff: noqa: UP045  (Optional[...] reads better in config schemas and OmegaConf supports it)

__all__ = [
    "CONFS", "ResNetConf", "ResNetV1cConf", "ResNetV1dConf", "VGGConf",
    "ResNet18Conf", "ResNet34Conf", "ResNet50Conf", "ResNet101Conf", "ResNet152Conf",
    "VGG11Conf", "VGG13Conf", "VGG16Conf", "VGG19Conf", "SimpleViTConf", "ViTTinyConf",
]


def _bn() -> dict[str, Any]:
    return {"type": "BN", "requires_grad": True}


def _relu() -> dict[str, Any]:
    return {"type": "ReLU"}


@dataclass
class _ModelFamily:
    """The model family's config group, ``_target_`` and ``_partial_``, from the family table."""

    _group_: ClassVar[str] = group_of("model")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("model")
    _partial_: bool = partial_of("model")
    type: str = MISSING


# --- ResNet -----------------------------------------------------------------------------------
@dataclass
class _ResNetCommon(_ModelFamily):
    type: str = "ResNet"
    depth: int = MISSING
    in_channels: int = 3
    stem_channels: Optional[int] = None
    base_channels: int = 64
    num_stages: int = 4
    strides: Any = field(default_factory=lambda: [1, 2, 2, 2])
    dilations: Any = field(default_factory=lambda: [1, 1, 1, 1])
    out_indices: Any = field(default_factory=lambda: [0, 1, 2, 3])
    style: str = "pytorch"


@dataclass
class _DeepStem:
    deep_stem: bool = False


@dataclass
class _AvgDown:
    avg_down: bool = False


@dataclass
class _ResNetTail:
    contract_dilation: bool = False
    frozen_stages: int = -1
    conv_cfg: Any = None
    norm_cfg: Any = field(default_factory=_bn)
    act_cfg: Any = field(default_factory=_relu)
    norm_eval: bool = False
    bn_eval: bool = False
    bn_frozen: bool = False
    with_cp: bool = False
    groups: int = 1
    base_width: int = 64
    zero_init_residual: bool = False
    num_classes: int = -1
    init_cfg: Any = None
    # a path, URL or zoo name, or {checkpoint, prefix, revise_keys, state_dict_key, ...}
    pretrained: Any = None


# Dataclass fields are collected from the last base to the first, so these bases give the
# constructor's argument order.
@dataclass
class ResNetConf(_ResNetTail, _AvgDown, _DeepStem, _ResNetCommon):
    """``ResNet``: depth 18/34/50/101/152, v1c/v1d stems, ResNeXt widths, optional head."""

    _option_: ClassVar[str] = "resnet"
    type: str = "ResNet"


@dataclass
class ResNetV1cConf(_ResNetTail, _AvgDown, _ResNetCommon):
    """``ResNetV1c``: ResNet with the deep (three 3x3 convs) stem."""

    _option_: ClassVar[str] = "resnet_v1c"
    type: str = "ResNetV1c"


@dataclass
class ResNetV1dConf(_ResNetTail, _ResNetCommon):
    """``ResNetV1d``: ResNet with the deep stem and AvgPool downsampling."""

    _option_: ClassVar[str] = "resnet_v1d"
    type: str = "ResNetV1d"


@dataclass
class ResNet18Conf(ResNetConf):
    """``ResNet`` with ``depth=18`` (``num_classes=1000`` is torchvision's resnet18)."""

    _option_: ClassVar[str] = "resnet18"
    depth: int = 18


@dataclass
class ResNet34Conf(ResNetConf):
    """``ResNet`` with ``depth=34`` (``num_classes=1000`` is torchvision's resnet34)."""

    _option_: ClassVar[str] = "resnet34"
    depth: int = 34


@dataclass
class ResNet50Conf(ResNetConf):
    """``ResNet`` with ``depth=50`` (``num_classes=1000`` is torchvision's resnet50)."""

    _option_: ClassVar[str] = "resnet50"
    depth: int = 50


@dataclass
class ResNet101Conf(ResNetConf):
    """``ResNet`` with ``depth=101`` (``num_classes=1000`` is torchvision's resnet101)."""

    _option_: ClassVar[str] = "resnet101"
    depth: int = 101


@dataclass
class ResNet152Conf(ResNetConf):
    """``ResNet`` with ``depth=152`` (``num_classes=1000`` is torchvision's resnet152)."""

    _option_: ClassVar[str] = "resnet152"
    depth: int = 152


# --- VGG --------------------------------------------------------------------------------------
@dataclass
class VGGConf(_ModelFamily):
    """``VGG``: depth 11/13/16/19, optional batch norm and torchvision's head."""

    _option_: ClassVar[str] = "vgg"
    type: str = "VGG"
    depth: int = MISSING
    with_bn: bool = False
    num_classes: int = -1
    in_channels: int = 3
    num_stages: int = 5
    dilations: Any = field(default_factory=lambda: [1, 1, 1, 1, 1])
    out_indices: Any = field(default_factory=lambda: [0, 1, 2, 3, 4])
    frozen_stages: int = -1
    norm_eval: bool = False
    bn_eval: bool = False
    bn_frozen: bool = False
    ceil_mode: bool = False
    with_last_pool: bool = True
    dropout: float = 0.5
    conv_cfg: Any = None
    norm_cfg: Any = field(default_factory=_bn)
    act_cfg: Any = field(default_factory=_relu)
    init_cfg: Any = None
    # a path, URL or zoo name, or {checkpoint, prefix, revise_keys, state_dict_key, ...}
    pretrained: Any = None


@dataclass
class VGG11Conf(VGGConf):
    """``VGG`` with ``depth=11`` (``with_bn=true`` for vgg11_bn)."""

    _option_: ClassVar[str] = "vgg11"
    depth: int = 11


@dataclass
class VGG13Conf(VGGConf):
    """``VGG`` with ``depth=13`` (``with_bn=true`` for vgg13_bn)."""

    _option_: ClassVar[str] = "vgg13"
    depth: int = 13


@dataclass
class VGG16Conf(VGGConf):
    """``VGG`` with ``depth=16`` (``with_bn=true`` for vgg16_bn)."""

    _option_: ClassVar[str] = "vgg16"
    depth: int = 16


@dataclass
class VGG19Conf(VGGConf):
    """``VGG`` with ``depth=19`` (``with_bn=true`` for vgg19_bn)."""

    _option_: ClassVar[str] = "vgg19"
    depth: int = 19


# --- SimpleViT --------------------------------------------------------------------------------
@dataclass
class SimpleViTConf(_ModelFamily):
    """``SimpleViT``: patch tokens, pre-norm transformer layers, mean pooling, linear head."""

    _option_: ClassVar[str] = "simple_vit"
    type: str = "SimpleViT"
    in_channels: int = 3
    img_size: int = 224
    patch_size: int = 16
    embed_dims: int = 768
    num_layers: int = 12
    num_heads: int = 12
    mlp_ratio: float = 4.0
    drop_path_rate: float = 0.0
    # None: MultiheadAttention, FFN, LN, GELU (as the constructor); a layers/attention,
    # layers/ffn, layers/norm or layers/act option composes over them
    attn_cfg: Any = None
    ffn_cfg: Any = None
    norm_cfg: Any = None
    act_cfg: Any = None
    final_norm: bool = True
    num_classes: int = -1
    init_cfg: Any = None
    pretrained: Any = None


@dataclass
class ViTTinyConf(SimpleViTConf):
    """``SimpleViT`` at DeiT-Tiny's size: 192 wide, 12 layers, 3 heads, 16x16 patches."""

    _option_: ClassVar[str] = "vit_tiny"
    embed_dims: int = 192
    num_heads: int = 3


# Presets first: where a lookup keys configs by (group, type), the general class, listed
# after its presets, is the one kept.
CONFS: tuple[type, ...] = confs_of(__name__)
"""The option dataclasses of this module, in definition order."""
