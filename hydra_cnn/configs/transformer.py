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

__all__ = ["CONFS", "BaseTransformerLayerConf", "FFNConf", "MultiheadAttentionConf",
           "TransformerLayerSequenceConf"]


@dataclass
class MultiheadAttentionConf:
    """``MultiheadAttention``: torch's attention plus identity shortcut, positions and dropout."""

    _group_: ClassVar[str] = "layers/attention"
    _option_: ClassVar[str] = "mha"
    _target_: str = "hydra_cnn.bricks.transformer.make_attention"
    _partial_: bool = True
    type: str = "MultiheadAttention"
    attn_drop: float = 0.0
    proj_drop: float = 0.0
    dropout_layer: Any = field(default_factory=lambda: {"type": "Dropout", "drop_prob": 0.0})
    init_cfg: Any = None


@dataclass
class FFNConf:
    """``FFN``: linear layers with activation and dropout, plus the identity shortcut."""

    _group_: ClassVar[str] = "layers/ffn"
    _option_: ClassVar[str] = "ffn"
    _target_: str = "hydra_cnn.bricks.transformer.make_ffn"
    _partial_: bool = True
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
class BaseTransformerLayerConf:
    """``BaseTransformerLayer``: attentions, FFNs and norms in ``operation_order`` (set it)."""

    _group_: ClassVar[str] = "layers/transformer_layer"
    _option_: ClassVar[str] = "base_transformer_layer"
    _target_: str = "hydra_cnn.bricks.transformer.make_transformer_layer"
    _partial_: bool = True
    type: str = "BaseTransformerLayer"
    attn_cfgs: Any = None
    ffn_cfgs: Any = field(default_factory=_default_ffn)
    operation_order: Any = None
    norm_cfg: Any = field(default_factory=lambda: {"type": "LN"})
    init_cfg: Any = None
    batch_first: bool = False


@dataclass
class TransformerLayerSequenceConf:
    """``TransformerLayerSequence``: ``num_layers`` transformer layers (set both fields)."""

    _group_: ClassVar[str] = "layers/transformer_layer_sequence"
    _option_: ClassVar[str] = "transformer_layer_sequence"
    _target_: str = "hydra_cnn.bricks.transformer.make_transformer_layer_sequence"
    _partial_: bool = True
    type: str = "TransformerLayerSequence"
    transformerlayers: Any = None
    num_layers: Optional[int] = None  # noqa: UP045
    init_cfg: Any = None


CONFS: tuple[type, ...] = (MultiheadAttentionConf, FFNConf, BaseTransformerLayerConf,
                           TransformerLayerSequenceConf)
