"""Padding layers: the ``PADDING_LAYERS`` registry's members and its builders."""

from __future__ import annotations

from typing import Any

from torch import nn

from hydra_cnn.registry import PADDING_LAYERS, layer_factory

__all__ = ["build_padding_layer", "make_padding"]

PADDING_LAYERS.add_builtin("zero", nn.ZeroPad2d)
PADDING_LAYERS.add_builtin("reflect", nn.ReflectionPad2d)
PADDING_LAYERS.add_builtin("replicate", nn.ReplicationPad2d)


def build_padding_layer(cfg: Any, *args: Any, **kwargs: Any) -> nn.Module:
    """Build a padding layer from a config.

    Args:
        cfg: a dict with ``type`` (``zero``, ``reflect``, ``replicate`` or a registered name),
            or any other accepted config form.
        *args, **kwargs: the late arguments, usually ``padding`` (an int or a 4-tuple).

    Example:
        >>> build_padding_layer(dict(type='reflect'), 1)
        ReflectionPad2d((1, 1, 1, 1))
    """
    return PADDING_LAYERS.build_layer(cfg, *args, **kwargs)


@layer_factory(PADDING_LAYERS)
def make_padding(*args: Any, type: Any = None, **kwargs: Any) -> nn.Module:
    """Build the ``PADDING_LAYERS`` member ``type``: a Hydra ``_target_``; call as ``pad(padding)``."""
    return build_padding_layer({"type": type, **kwargs}, *args)
