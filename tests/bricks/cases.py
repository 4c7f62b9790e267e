"""One case per registered layer type: how to call its builder and what input fits it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Case:
    group: str              # config group, e.g. "layers/norm"
    type: str               # registry name
    args: tuple[Any, ...]   # late positional arguments the caller passes
    shape: tuple[int, ...]  # a fitting input
    cfg: dict[str, Any] = field(default_factory=dict)  # extra config keys it needs
    kwargs: dict[str, Any] = field(default_factory=dict)  # late keyword arguments
    eval_only: bool = False  # SyncBN runs on CPU only in eval mode


C = 32  # channel count every norm accepts (GN's default 32 groups divide it)

# a small pre-norm transformer layer (batch first, 8 wide)
_LAYER = {
    "attn_cfgs": {"type": "MultiheadAttention", "embed_dims": 8, "num_heads": 2},
    "ffn_cfgs": {"embed_dims": 8, "feedforward_channels": 16},
    "operation_order": ("norm", "self_attn", "norm", "ffn"), "batch_first": True,
}

CASES: list[Case] = [
    Case("layers/conv", "Conv1d", (3, 8, 3), (2, 3, 9)),
    Case("layers/conv", "Conv2d", (3, 8, 3), (2, 3, 9, 9)),
    Case("layers/conv", "Conv", (3, 8, 3), (2, 3, 9, 9)),
    Case("layers/conv", "Conv3d", (3, 8, 3), (1, 3, 5, 5, 5)),
    Case("layers/conv", "ConvWS", (3, 8, 3), (2, 3, 9, 9)),
    Case("layers/conv", "ConvAWS", (3, 8, 3), (2, 3, 9, 9)),
    Case("layers/conv", "Conv2dAdaptivePadding", (3, 8, 3), (2, 3, 9, 9), kwargs={"stride": 2}),
    Case("layers/conv", "ConvTranspose2d", (3, 8, 3), (2, 3, 5, 5)),
    Case("layers/conv", "deconv", (3, 8, 3), (2, 3, 5, 5)),
    Case("layers/conv", "ConvTranspose3d", (3, 8, 3), (1, 3, 4, 4, 4)),
    Case("layers/conv", "deconv3d", (3, 8, 3), (1, 3, 4, 4, 4)),
    Case("layers/norm", "BN", (C,), (2, C, 5, 5)),
    Case("layers/norm", "BN1d", (C,), (2, C, 5)),
    Case("layers/norm", "BN2d", (C,), (2, C, 5, 5)),
    Case("layers/norm", "BN3d", (C,), (2, C, 3, 3, 3)),
    Case("layers/norm", "SyncBN", (C,), (2, C, 5, 5), eval_only=True),
    Case("layers/norm", "GN", (C,), (2, C, 5, 5), cfg={"num_groups": 8}),
    Case("layers/norm", "LN", (C,), (2, 5, C)),
    Case("layers/norm", "LN2d", (C,), (2, C, 5, 5)),
    Case("layers/norm", "IN", (C,), (2, C, 5, 5)),
    Case("layers/norm", "IN1d", (C,), (2, C, 5)),
    Case("layers/norm", "IN2d", (C,), (2, C, 5, 5)),
    Case("layers/norm", "IN3d", (C,), (2, C, 3, 3, 3)),
    *[
        Case("layers/act", t, (), (2, 4, 5, 5))
        for t in ("ReLU", "LeakyReLU", "PReLU", "RReLU", "ReLU6", "ELU", "Sigmoid", "Tanh",
                  "GELU", "SiLU", "Swish", "HSwish", "HSigmoid", "Mish", "Clamp", "Clip")
    ],
    Case("layers/upsample", "nearest", (), (1, 3, 4, 4), cfg={"scale_factor": 2}),
    Case("layers/upsample", "bilinear", (), (1, 3, 4, 4), cfg={"scale_factor": 2}),
    Case("layers/upsample", "deconv", (3, 8, 2), (1, 3, 4, 4), kwargs={"stride": 2}),
    Case("layers/upsample", "deconv3d", (3, 8, 2), (1, 3, 2, 2, 2), kwargs={"stride": 2}),
    Case("layers/upsample", "pixel_shuffle", (3, 8), (1, 3, 4, 4),
         cfg={"scale_factor": 2, "upsample_kernel": 3}),
    Case("layers/padding", "zero", (1,), (1, 3, 4, 4)),
    Case("layers/padding", "reflect", (1,), (1, 3, 4, 4)),
    Case("layers/padding", "replicate", (1,), (1, 3, 4, 4)),
    Case("layers/attention", "MultiheadAttention", (), (2, 5, 8),
         kwargs={"embed_dims": 8, "num_heads": 2, "batch_first": True}),
    Case("layers/ffn", "FFN", (), (2, 5, 8), kwargs={"embed_dims": 8, "feedforward_channels": 16}),
    Case("layers/transformer_layer", "BaseTransformerLayer", (), (2, 5, 8), kwargs=_LAYER),
    Case("layers/transformer_layer_sequence", "TransformerLayerSequence", (), (2, 5, 8),
         kwargs={"transformerlayers": {"type": "BaseTransformerLayer", **_LAYER}, "num_layers": 2}),
    Case("layers/dropout", "Dropout", (), (2, 4, 5, 5)),
    Case("layers/dropout", "DropPath", (), (2, 4, 5, 5)),
    Case("layers/plugin", "ContextBlock", (), (2, 16, 5, 5), cfg={"ratio": 0.25},
         kwargs={"in_channels": 16}),
    Case("layers/plugin", "GeneralizedAttention", (), (2, 36, 6, 6), kwargs={"in_channels": 36}),
    Case("layers/plugin", "NonLocal1d", (), (2, 8, 7), kwargs={"in_channels": 8}),
    Case("layers/plugin", "NonLocal2d", (), (2, 8, 5, 5), kwargs={"in_channels": 8}),
    Case("layers/plugin", "NonLocal3d", (), (1, 8, 3, 4, 4), kwargs={"in_channels": 8}),
]


def case_id(case: Case) -> str:
    return f"{case.group.split('/')[-1]}-{case.type}"


def build(case: Case, cfg: Any) -> Any:
    """Build ``cfg`` for ``case`` the way its family's factory does: the registry of the case's
    config group (from the family table), the late arguments, the family's defaults."""
    from hydra_cnn.registry import family_defaults, group_registry

    reg = group_registry(case.group)
    assert reg is not None, f"no family owns {case.group}"
    res = reg.resolve(cfg)
    defaults = family_defaults(reg, reg.lookup(res.type))
    return reg.build_layer(None, *case.args, default_args=defaults, resolved=res, **case.kwargs)

