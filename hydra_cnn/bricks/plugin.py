"""Plugin layers: blocks inserted into backbones by config (``ConvModule`` and user plugins)."""

from __future__ import annotations

import inspect
import re
from typing import Any

from torch import nn

from hydra_cnn.bricks._build import build_layer, resolve_cfg
from hydra_cnn.registry import PLUGIN_LAYERS

__all__ = ["build_plugin_layer", "infer_plugin_abbr"]


def infer_plugin_abbr(class_type: type) -> str:
    """The plugin's ``_abbr_``, else its class name in snake_case (``FancyBlock`` -> ``fancy_block``)."""
    if not inspect.isclass(class_type):
        raise TypeError(f"class_type must be a type, but got {type(class_type).__name__}")
    abbr = getattr(class_type, "_abbr_", None)
    if isinstance(abbr, str):
        return abbr
    name = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", class_type.__name__)
    return re.sub(r"([a-z\d])([A-Z])", r"\1_\2", name).replace("-", "_").lower()


def build_plugin_layer(cfg: Any, postfix: int | str = "", **kwargs: Any) -> tuple[str, nn.Module]:
    """Build a plugin layer and the name to register it under.

    Args:
        cfg: a dict with ``type`` (a ``PLUGIN_LAYERS`` name such as ``ConvModule``) and keyword
            arguments, or any other accepted config form.
        postfix: appended to the abbreviation in the returned name.
        **kwargs: more keyword arguments for the constructor (they win over the config's).

    Returns:
        ``(name, layer)``.
    """
    if not isinstance(postfix, int | str) or isinstance(postfix, bool):
        raise TypeError(f"postfix must be an int or a str, but got {postfix!r}")
    _, type_name, _ = resolve_cfg(PLUGIN_LAYERS, cfg)
    cls = PLUGIN_LAYERS.lookup(type_name)
    layer = build_layer(PLUGIN_LAYERS, cfg, (), kwargs)
    return infer_plugin_abbr(cls) + str(postfix), layer  # type: ignore[arg-type]


# ConvModule and DepthwiseSeparableConvModule register themselves (PLUGIN_LAYERS.add_builtin)
import hydra_cnn.bricks.conv_module  # noqa: E402,F401
from hydra_cnn.bricks.context_block import ContextBlock  # noqa: E402
from hydra_cnn.bricks.generalized_attention import GeneralizedAttention  # noqa: E402
from hydra_cnn.bricks.non_local import NonLocal1d, NonLocal2d, NonLocal3d  # noqa: E402

# mmcv's plugin layers (mmcv 1.7 registers only NonLocal2d of the three non-local blocks).
# register_module, not add_builtin, until their structured configs ship: every built-in
# PLUGIN_LAYERS name needs one (tests/configs/test_consistency.py). Switch then.
for _cls in (ContextBlock, GeneralizedAttention, NonLocal1d, NonLocal2d, NonLocal3d):
    PLUGIN_LAYERS.register_module(module=_cls)
