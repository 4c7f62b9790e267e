"""Structured configs for plugin layers (``layers/plugin``) and dropout layers (``layers/dropout``).

Plugin configs leave out ``in_channels`` (the backbone passes it: ``plugin(in_channels)``);
dropout configs take no late size (``dropout()``). Both instantiate to factories. This module
does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from hydra_cnn.common import MISSING
from hydra_cnn.configs.base import confs_of, group_of, partial_of, target_of

__all__ = [
    "CONFS", "ContextBlockConf", "DropPathConf", "DropoutConf", "GeneralizedAttentionConf",
    "NonLocal1dConf", "NonLocal2dConf", "NonLocal3dConf",
]


@dataclass
class _PluginFamily:
    """The plugin family's config group, ``_target_`` and ``_partial_``, from the family table."""

    _group_: ClassVar[str] = group_of("plugin")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("plugin")
    _partial_: bool = partial_of("plugin")
    type: str = MISSING


@dataclass
class _DropoutFamily:
    """The dropout family's config group, ``_target_`` and ``_partial_``, from the family table."""

    _group_: ClassVar[str] = group_of("dropout")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("dropout")
    _partial_: bool = partial_of("dropout")
    type: str = MISSING


@dataclass
class ContextBlockConf(_PluginFamily):
    """``ContextBlock`` (GCNet): global context pooling fused by channel add and/or multiply."""

    _option_: ClassVar[str] = "context_block"
    type: str = "ContextBlock"
    ratio: float = MISSING
    pooling_type: str = "att"
    fusion_types: Any = field(default_factory=lambda: ["channel_add"])


@dataclass
class GeneralizedAttentionConf(_PluginFamily):
    """``GeneralizedAttention``: attention over positions with appearance/geometry terms."""

    _option_: ClassVar[str] = "generalized_attention"
    type: str = "GeneralizedAttention"
    spatial_range: int = -1
    num_heads: int = 9
    position_embedding_dim: int = -1
    position_magnitude: float = 1.0
    kv_stride: int = 2
    q_stride: int = 1
    attention_type: str = "1111"


@dataclass
class _NonLocalBase(_PluginFamily):
    sub_sample: bool = False
    conv_cfg: Any = MISSING
    reduction: int = 2
    use_scale: bool = True
    norm_cfg: Any = None
    mode: str = "embedded_gaussian"
    std: float = 0.01
    zeros_init: bool = True


@dataclass
class NonLocal1dConf(_NonLocalBase):
    """``NonLocal1d``: a non-local block on (N, C, L) inputs."""

    _option_: ClassVar[str] = "non_local1d"
    type: str = "NonLocal1d"
    conv_cfg: Any = field(default_factory=lambda: {"type": "Conv1d"})


@dataclass
class NonLocal2dConf(_NonLocalBase):
    """``NonLocal2d``: a non-local block on (N, C, H, W) inputs."""

    _option_: ClassVar[str] = "non_local2d"
    type: str = "NonLocal2d"
    conv_cfg: Any = field(default_factory=lambda: {"type": "Conv2d"})


@dataclass
class NonLocal3dConf(_NonLocalBase):
    """``NonLocal3d``: a non-local block on (N, C, T, H, W) inputs."""

    _option_: ClassVar[str] = "non_local3d"
    type: str = "NonLocal3d"
    conv_cfg: Any = field(default_factory=lambda: {"type": "Conv3d"})


@dataclass
class DropoutConf(_DropoutFamily):
    """``Dropout``: mmcv's ``nn.Dropout`` taking ``drop_prob``."""

    _option_: ClassVar[str] = "dropout"
    type: str = "Dropout"
    drop_prob: float = 0.5
    inplace: bool = False


@dataclass
class DropPathConf(_DropoutFamily):
    """``DropPath``: stochastic depth, drops whole samples of a residual branch."""

    _option_: ClassVar[str] = "drop_path"
    type: str = "DropPath"
    drop_prob: float = 0.1


CONFS: tuple[type, ...] = confs_of(__name__)
"""The option dataclasses of this module, in definition order."""
