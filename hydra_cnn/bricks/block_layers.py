"""How conv blocks and models build their layers: activations in place where the class allows
it, and norms that fit conv feature maps.

``ConvModule``, the ResNet blocks, ``ResNet`` and ``VGG`` all go through these two helpers, so
the in-place rule and the refusal of ``LN`` on conv maps are written once::

    >>> build_act(dict(type='ReLU'))
    ReLU(inplace=True)
    >>> build_act(dict(type='GELU'))              # takes no inplace: built as it is
    GELU(approximate='none')
    >>> check_conv_map_norm(dict(type='LN'), 'MyBlock')
    Traceback (most recent call last):
      ...
    ValueError: MyBlock: norm_cfg type 'LN' is nn.LayerNorm, ...
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

from torch import nn

from hydra_cnn.common import InvalidArgumentError
from hydra_cnn.registry import ACTIVATION_LAYERS, NORM_LAYERS

__all__ = ["build_act", "check_conv_map_norm"]


@functools.lru_cache(maxsize=256)
def _takes_inplace(cls: Any) -> bool:
    """Whether the activation class names an ``inplace`` parameter (checked once per class)."""
    try:
        return "inplace" in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False


def build_act(act_cfg: Any, inplace: bool = True) -> nn.Module:
    """Build a new activation from any accepted config form.

    Args:
        act_cfg: a dict with ``type`` (``ACTIVATION_LAYERS``), a DictConfig, a structured
            config or a factory from ``instantiate``. Never mutated.
        inplace: ``inplace`` for classes that take the argument, when the config does not set
            it (missing, or None as in the structured configs). An explicit True/False in the
            config wins. Default True. Classes without ``inplace`` (``GELU``, ``Clamp``) are
            built without it.

    Returns:
        The activation module.
    """
    res = ACTIVATION_LAYERS.resolve(act_cfg)
    if res.kwargs.get("inplace") is None and _takes_inplace(ACTIVATION_LAYERS.lookup(res.type)):
        res = res._replace(kwargs={**res.kwargs, "inplace": inplace})
    return ACTIVATION_LAYERS.build_layer(None, resolved=res)


def check_conv_map_norm(norm_cfg: Any, owner: str) -> Any:
    """Return the class ``norm_cfg`` builds, refusing ``nn.LayerNorm`` for conv feature maps.

    ``nn.LayerNorm(C)`` (type ``LN``) normalises the last dimension of its input, which on an
    ``(N, C, H, W)`` map is the width, so a block or model that normalises conv outputs fails
    at its first forward (or silently normalises the wrong axis when ``W == C``).
    ``LayerNorm2d`` (type ``LN2d``, option ``ln2d``) normalises the channels and is accepted.

    Args:
        norm_cfg: any norm config form, or None (no norm: returns None).
        owner: who asks, for the message (``'ResNet'``, ``'ConvModule'``, ...).

    Returns:
        The norm class, or None for ``norm_cfg=None``.

    Raises:
        ValueError: for ``nn.LayerNorm``, naming ``LN2d`` / ``ln2d`` as the fix.
    """
    if norm_cfg is None:
        return None
    type_name = NORM_LAYERS.resolve(norm_cfg).type
    cls = NORM_LAYERS.lookup(type_name)
    if cls is nn.LayerNorm:
        shown = type_name if isinstance(type_name, str) else "nn.LayerNorm"
        raise InvalidArgumentError(
            f"{owner}: norm_cfg type {shown!r} is nn.LayerNorm, which normalises the last "
            "dimension of its input (the width of a conv feature map), not the channels. Use "
            "type='LN2d' (LayerNorm2d; the config option ln2d, e.g. layers/norm=ln2d) for conv "
            "feature maps."
        )
    return cls
