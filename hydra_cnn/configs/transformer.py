"""Structured configs for the transformer families: ``layers/attention`` and ``layers/ffn``.

What a transformer layer (or a model) passes itself is left out, as the family table's
``late`` says: the attention's ``embed_dims``, ``num_heads`` and ``batch_first``; the FFN's
``embed_dims`` and ``feedforward_channels``. An option instantiates to a factory; calling it
builds the module::

    >>> from hydra.utils import instantiate
    >>> attn = instantiate(MultiheadAttentionConf(attn_drop=0.1))      # doctest: +SKIP
    >>> attn(embed_dims=64, num_heads=4, batch_first=True)             # doctest: +SKIP

Options: ``layers/attention/mha`` (``MultiheadAttention``), ``layers/ffn/ffn`` (``FFN``),
``layers/transformer_layer/base_transformer_layer`` and
``layers/transformer_layer_sequence/transformer_layer_sequence`` (their layer lists are
required: set them). ``POSITIONAL_ENCODING`` has the group ``layers/positional_encoding``,
whose options come from the classes a user registers. This module does not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from hydra_cnn.common import MISSING
from hydra_cnn.configs.base import confs_of, group_of, partial_of, target_of

__all__ = ["CONFS", "BaseTransformerLayerConf", "FFNConf", "MultiheadAttentionConf",
           "TransformerLayerSequenceConf"]


# --- one base per family: group, target and _partial_ come from the family table ----------
@dataclass
class _AttentionFamily:
    _group_: ClassVar[str] = group_of("attention")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("attention")
    _partial_: bool = partial_of("attention")
    type: str = MISSING


@dataclass
class _FFNFamily:
    _group_: ClassVar[str] = group_of("ffn")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("ffn")
    _partial_: bool = partial_of("ffn")
    type: str = MISSING


@dataclass
class _TransformerLayerFamily:
    _group_: ClassVar[str] = group_of("transformer_layer")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("transformer_layer")
    _partial_: bool = partial_of("transformer_layer")
    type: str = MISSING


@dataclass
class _TransformerLayerSequenceFamily:
    _group_: ClassVar[str] = group_of("transformer_layer_sequence")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("transformer_layer_sequence")
    _partial_: bool = partial_of("transformer_layer_sequence")
    type: str = MISSING


@dataclass
class MultiheadAttentionConf(_AttentionFamily):
    """``MultiheadAttention``: torch's attention plus identity shortcut, positions and dropout."""

    _option_: ClassVar[str] = "mha"
    type: str = "MultiheadAttention"
    attn_drop: float = 0.0
    proj_drop: float = 0.0
    dropout_layer: Any = field(default_factory=lambda: {"type": "Dropout", "drop_prob": 0.0})
    init_cfg: Any = None


@dataclass
class FFNConf(_FFNFamily):
    """``FFN``: linear layers with activation and dropout, plus the identity shortcut."""

    _option_: ClassVar[str] = "ffn"
    type: str = "FFN"
    num_fcs: int = 2
    act_cfg: Any = field(default_factory=lambda: {"type": "ReLU", "inplace": True})
    ffn_drop: float = 0.0
    dropout_layer: Any = None
    add_identity: bool = True
    init_cfg: Any = None


def _default_ffn() -> dict[str, Any]:
    return {"type": "FFN", "embed_dims": 256, "feedforward_channels": 1024, "num_fcs": 2,
            "ffn_drop": 0.0, "act_cfg": {"type": "ReLU", "inplace": True}}


@dataclass
class BaseTransformerLayerConf(_TransformerLayerFamily):
    """``BaseTransformerLayer``: attentions, FFNs and norms in ``operation_order`` (set it)."""

    _option_: ClassVar[str] = "base_transformer_layer"
    type: str = "BaseTransformerLayer"
    attn_cfgs: Any = None
    ffn_cfgs: Any = field(default_factory=_default_ffn)
    operation_order: Any = None
    norm_cfg: Any = field(default_factory=lambda: {"type": "LN"})
    init_cfg: Any = None
    batch_first: bool = False


@dataclass
class TransformerLayerSequenceConf(_TransformerLayerSequenceFamily):
    """``TransformerLayerSequence``: ``num_layers`` transformer layers (set both fields)."""

    _option_: ClassVar[str] = "transformer_layer_sequence"
    type: str = "TransformerLayerSequence"
    transformerlayers: Any = None
    num_layers: Optional[int] = None  # noqa: UP045
    init_cfg: Any = None


CONFS: tuple[type, ...] = confs_of(__name__)
"""The option dataclasses of this module, in definition order."""
