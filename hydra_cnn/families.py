"""The family table: every kind of thing hydra_cnn builds from a config, described once.

A *family* is a registry plus everything the rest of the library needs to know about it:

- ``registry`` / ``label``: the :class:`~hydra_cnn.registry.Registry` attribute name in
  :mod:`hydra_cnn.registry` and the name its messages use (``'norm layer'``);
- ``loader``: the module that registers the built-in members (imported on the first query);
- ``group`` / ``target``: the Hydra config group of its options and the ``_target_`` those
  options instantiate (``layers/norm``, ``hydra_cnn.make_norm``); ``partial``: whether an
  option instantiates to a factory (layers) or to the object itself (init, models);
- ``late``: arguments the caller passes when it builds (channel counts, kernel size...):
  configs omit them and error messages never suggest them as config keys; for norms the order
  says which constructor argument takes the channel count;
- ``cfg_args``: mmcv-style keyword arguments (``norm_cfg``...) whose value is a config of this
  family, so :func:`hydra_cnn.validate` can check them;
- ``builder_keys``: config keys the builder consumes itself (``requires_grad``);
- ``prepare``: ``'module:function'`` run on ``(type, cls, args, kwargs)`` just before the
  call, for what a family does differently (GroupNorm's groups, Upsample's mode);
- ``block_decides_inplace``: ``inplace: None`` means "the class default, or the block's
  choice" (activations);
- ``block_decides``: config keys where ``None`` means "the block (or the class default)
  decides": the builder drops them, so the block's argument applies (a conv's
  ``kernel_size``/``stride``/``padding``/``dilation``).

Registries, structured configs, YAML generation, :func:`~hydra_cnn.validate` and the builders
all read this table. Adding a family is one entry here plus its registry line in
:mod:`hydra_cnn.registry` (see docs/architecture.md). This module imports nothing heavy.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FAMILIES", "Family", "family_for_group"]


@dataclass(frozen=True)
class Family:
    """One family of buildable types (see the module docstring for each field)."""

    name: str
    registry: str | None
    label: str
    loader: str | None
    group: str | None
    target: str | None
    partial: bool = True
    late: tuple[str, ...] = ()
    cfg_args: tuple[str, ...] = ()
    builder_keys: tuple[str, ...] = ()
    prepare: str | None = None
    block_decides_inplace: bool = False
    block_decides: tuple[str, ...] = ()


_CONV_LATE = ("in_channels", "out_channels", "kernel_size", "stride", "padding")
_CONV_GEOMETRY = ("kernel_size", "stride", "padding", "dilation")

_XFMR = "hydra_cnn.bricks.transformer"
_TRANSFORMER_FAMILIES = (
    Family("attention", "ATTENTION", "attention", _XFMR, "layers/attention",
           f"{_XFMR}.make_attention", late=("embed_dims", "num_heads", "batch_first"),
           cfg_args=("attn_cfgs", "attn_cfg")),
    Family("ffn", "FEEDFORWARD_NETWORK", "feed-forward Network", _XFMR, "layers/ffn",
           f"{_XFMR}.make_ffn", late=("embed_dims", "feedforward_channels"),
           cfg_args=("ffn_cfgs", "ffn_cfg")),
    Family("positional_encoding", "POSITIONAL_ENCODING", "position encoding", _XFMR,
           "layers/positional_encoding", f"{_XFMR}.make_positional_encoding",
           cfg_args=("positional_encoding",)),
    Family("transformer_layer", "TRANSFORMER_LAYER", "transformerLayer", _XFMR,
           "layers/transformer_layer", f"{_XFMR}.make_transformer_layer",
           cfg_args=("transformerlayers",)),
    Family("transformer_layer_sequence", "TRANSFORMER_LAYER_SEQUENCE",
           "transformer-layers sequence", _XFMR, "layers/transformer_layer_sequence",
           f"{_XFMR}.make_transformer_layer_sequence"),
)

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("conv", "CONV_LAYERS", "conv layer", "hydra_cnn.bricks.conv", "layers/conv",
               "hydra_cnn.make_conv", late=_CONV_LATE, cfg_args=("conv_cfg", "dw_conv_cfg",
                                                                  "pw_conv_cfg"),
               block_decides=_CONV_GEOMETRY),
        Family("norm", "NORM_LAYERS", "norm layer", "hydra_cnn.bricks.norm", "layers/norm",
               "hydra_cnn.make_norm", late=("num_features", "num_channels", "normalized_shape"),
               cfg_args=("norm_cfg", "dw_norm_cfg", "pw_norm_cfg"),
               builder_keys=("requires_grad",), prepare="hydra_cnn.bricks.norm:prepare_norm"),
        Family("act", "ACTIVATION_LAYERS", "activation layer", "hydra_cnn.bricks.activation",
               "layers/act", "hydra_cnn.make_act", cfg_args=("act_cfg", "dw_act_cfg",
                                                             "pw_act_cfg"),
               block_decides_inplace=True),
        Family("upsample", "UPSAMPLE_LAYERS", "upsample layer", "hydra_cnn.bricks.upsample",
               "layers/upsample", "hydra_cnn.make_upsample", late=_CONV_LATE,
               cfg_args=("upsample_cfg",), prepare="hydra_cnn.bricks.upsample:prepare_upsample",
               block_decides=_CONV_GEOMETRY),
        Family("padding", "PADDING_LAYERS", "padding layer", "hydra_cnn.bricks.padding",
               "layers/padding", "hydra_cnn.make_padding", late=("padding",),
               cfg_args=("pad_cfg", "padding_cfg")),
        Family("plugin", "PLUGIN_LAYERS", "plugin layer", "hydra_cnn.bricks.plugin",
               "layers/plugin", "hydra_cnn.make_plugin", late=("in_channels",),
               cfg_args=("plugin_cfg",)),
        Family("dropout", "DROPOUT_LAYERS", "dropout layer", "hydra_cnn.bricks.dropout",
               "layers/dropout", "hydra_cnn.make_dropout", cfg_args=("dropout_cfg",)),
        # blocks: options whose _target_ is the block class itself (ConvModule, ...)
        Family("block", None, "block", None, "layers/block", None,
               late=("in_channels", "out_channels", "kernel_size")),
        # --- transformer families (mmcv 1.7's cnn/bricks/transformer.py) ------------------
        # One block, for conversion to register_family(...) calls: name, registry, label
        # (mmcv's registry name), loader, group, target, late, cfg_args.
        *_TRANSFORMER_FAMILIES,
        # -------------------------------------------------------------------------------------
        Family("init", "INITIALIZERS", "initializer", "hydra_cnn.init.initializers", "init",
               "hydra_cnn.make_init", partial=False, cfg_args=("init_cfg",)),
        Family("model", "MODELS", "model", "hydra_cnn.models", "model", "hydra_cnn.make_model",
               partial=False),
    )
}


def family_for_group(group: str | None) -> Family | None:
    """The family whose config group is ``group`` (``'layers/norm'``), or None."""
    for family in FAMILIES.values():
        if family.group == group:
            return family
    return None
