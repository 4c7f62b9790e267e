"""Structured configs for the block options (``layers/block``): ``ConvModule`` and friends.

Block configs target the block class directly (no ``type`` field) and, like layer configs,
instantiate to a factory (``_partial_: true``); the caller passes the late sizes::

    >>> from hydra.utils import instantiate
    >>> block = instantiate(ConvModuleConf(norm_cfg=GNConf(num_groups=2)))  # doctest: +SKIP
    >>> block(3, 8, 3)                                   # a new ConvModule each call  # doctest: +SKIP

Fields mirror the constructor minus ``in_channels``, ``out_channels`` and ``kernel_size``.
The ``*_cfg`` fields are typed ``Any`` and take any layer config (``GNConf()``, a dict with
``type``, or a composed ``layers/norm`` option: ``+layers/norm@layers.block.norm_cfg=gn``).
This module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from hydra_cnn.common import MISSING
from hydra_cnn.configs.base import confs_of, group_of, partial_of

__all__ = ["CONFS", "ConvModuleConf", "DepthwiseSeparableConvModuleConf"]


def _relu() -> dict[str, Any]:
    """The default ``act_cfg``, ``dict(type='ReLU')`` as in the constructors.

    A plain dict, not a ``ReLUConf`` node, so that composing any activation option over it
    (``+layers/act@layers.block.act_cfg=leaky_relu``) works: OmegaConf refuses to merge a
    ``LeakyReLUConf`` into a node typed ``ReLUConf``. The merged node is typed by the chosen
    option's schema. (The model configs use the same pattern.)
    """
    return {"type": "ReLU"}


@dataclass
class _BlockFamily:
    """The block family's config group and ``_partial_``, from the family table (a block
    option's ``_target_`` is its class)."""

    _group_: ClassVar[str] = group_of("block")
    _option_: ClassVar[str] = ""
    _target_: str = MISSING
    _partial_: bool = partial_of("block")


@dataclass
class ConvModuleConf(_BlockFamily):
    """``ConvModule``: conv, norm and activation as one block (call as ``block(in, out, k)``)."""

    _option_: ClassVar[str] = "conv_module"
    type: ClassVar[str] = "ConvModule"  # its PLUGIN_LAYERS name; not a field
    _target_: str = "hydra_cnn.ConvModule"
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    groups: int = 1
    bias: Any = "auto"
    conv_cfg: Any = None
    norm_cfg: Any = None
    act_cfg: Any = field(default_factory=_relu)
    inplace: bool = True
    with_spectral_norm: bool = False
    padding_mode: str = "zeros"
    order: Any = field(default_factory=lambda: ["conv", "norm", "act"])
    efficient_conv_bn_eval: bool = False


@dataclass
class DepthwiseSeparableConvModuleConf(_BlockFamily):
    """``DepthwiseSeparableConvModule``: depthwise then pointwise ``ConvModule``."""

    _option_: ClassVar[str] = "dw_separable"
    type: ClassVar[str] = "DepthwiseSeparableConvModule"  # its PLUGIN_LAYERS name; not a field
    _target_: str = "hydra_cnn.DepthwiseSeparableConvModule"
    stride: Any = 1
    padding: Any = 0
    dilation: Any = 1
    norm_cfg: Any = None
    act_cfg: Any = field(default_factory=_relu)
    dw_norm_cfg: Any = "default"
    dw_act_cfg: Any = "default"
    pw_norm_cfg: Any = "default"
    pw_act_cfg: Any = "default"
    # ConvModule arguments passed to both convs (the constructor's **kwargs)
    conv_cfg: Any = None
    bias: Any = "auto"
    inplace: bool = True
    with_spectral_norm: bool = False
    padding_mode: str = "zeros"
    order: Any = field(default_factory=lambda: ["conv", "norm", "act"])
    efficient_conv_bn_eval: bool = False


CONFS: tuple[type, ...] = confs_of(__name__)
"""The option dataclasses of this module, in definition order."""
