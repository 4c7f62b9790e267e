"""Plugin layers: blocks inserted into backbones by config (``ConvModule`` and user plugins)."""

from __future__ import annotations

import inspect
from typing import Any

from torch import nn

from hydra_cnn.common import InvalidTypeError, snake_case
from hydra_cnn.registry import PLUGIN_LAYERS, layer_factory

__all__ = ["build_plugin_layer", "infer_plugin_abbr", "make_plugin"]


def infer_plugin_abbr(class_type: type) -> str:
    """The plugin's ``_abbr_``, else its class name in snake_case (``FancyBlock`` -> ``fancy_block``,
    ``FancyReLU`` -> ``fancy_relu``: :func:`hydra_cnn.common.snake_case`, the one rule hydra_cnn
    names things by; mmcv 1.7 splits mixed-case acronyms, ``fancy_re_lu``)."""
    if not inspect.isclass(class_type):
        raise TypeError(f"class_type must be a type, but got {type(class_type).__name__}")
    abbr = getattr(class_type, "_abbr_", None)
    if isinstance(abbr, str):
        return abbr
    return snake_case(class_type.__name__)


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
        raise InvalidTypeError(f"postfix must be an int or a str, but got {postfix!r}")
    res = PLUGIN_LAYERS.resolve(cfg)
    cls = PLUGIN_LAYERS.lookup(res.type)
    layer = PLUGIN_LAYERS.build_layer(None, resolved=res, **kwargs)
    return infer_plugin_abbr(cls) + str(postfix), layer


@layer_factory(PLUGIN_LAYERS)
def make_plugin(*args: Any, type: Any = None, **kwargs: Any) -> nn.Module:
    """Build the ``PLUGIN_LAYERS`` member ``type``: a Hydra ``_target_``.

    A ``layers/plugin`` option instantiates to ``partial(make_plugin, type=..., ...)``; calling
    it as ``plugin(in_channels)`` builds a new layer.
    """
    return build_plugin_layer({"type": type, **kwargs}, **({"in_channels": args[0]} if args else {}))[1]


# ConvModule and DepthwiseSeparableConvModule register themselves (PLUGIN_LAYERS.add_builtin)
import hydra_cnn.bricks.conv_module  # noqa: E402,F401
from hydra_cnn.bricks.context_block import ContextBlock  # noqa: E402
from hydra_cnn.bricks.generalized_attention import GeneralizedAttention  # noqa: E402
from hydra_cnn.bricks.non_local import NonLocal1d, NonLocal2d, NonLocal3d  # noqa: E402

# mmcv's plugin layers (mmcv 1.7 registers only NonLocal2d of the three non-local blocks; all
# three are registered here). Their configs are in hydra_cnn.configs.plugins.
for _cls in (ContextBlock, GeneralizedAttention, NonLocal1d, NonLocal2d, NonLocal3d):
    PLUGIN_LAYERS.add_builtin(_cls.__name__, _cls)
