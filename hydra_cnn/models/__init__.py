"""Models built from layer configs: ``ResNet`` (and ``ResNetV1c``/``ResNetV1d``), ``VGG`` and
``SimpleViT`` (a small Vision Transformer from the transformer bricks).

Importing this package registers them in :data:`hydra_cnn.registry.MODELS` (which imports it
on first use), so a config names a model by ``type``, as in mmcv::

    >>> from hydra_cnn.registry import MODELS
    >>> MODELS.build(dict(type='ResNet', depth=18, num_classes=10)).fc.out_features
    10

:func:`make_model` is the Hydra ``_target_`` of the model configs
(:mod:`hydra_cnn.configs.models`): ``instantiate(ResNetConf(depth=50))`` returns the model.
"""

from __future__ import annotations

from typing import Any

from hydra_cnn.models.resnet import BasicBlock, Bottleneck, ResLayer, ResNet, ResNetV1c, ResNetV1d
from hydra_cnn.models.vgg import VGG
from hydra_cnn.models.vit import SimpleViT
from hydra_cnn.registry import MODELS, build_from_cfg

__all__ = [
    "VGG", "BasicBlock", "SimpleViT", "Bottleneck", "ResLayer", "ResNet", "ResNetV1c", "ResNetV1d",
    "make_model",
]

MODELS.add_builtin("ResNet", ResNet)
MODELS.add_builtin("ResNetV1c", ResNetV1c)
MODELS.add_builtin("ResNetV1d", ResNetV1d)
MODELS.add_builtin("VGG", VGG)
MODELS.add_builtin("SimpleViT", SimpleViT)


def make_model(type: Any, **kwargs: Any) -> Any:
    """Build the ``MODELS`` member ``type`` with ``kwargs``: the model configs' ``_target_``.

    Args:
        type: a registered model name (``'ResNet'``, ``'ResNetV1c'``, ``'ResNetV1d'``,
            ``'VGG'`` or a user's) or a class.
        **kwargs: the model's constructor arguments.

    Returns:
        The model.

    Raises:
        KeyError: an unknown ``type`` (listing the registered ones and the closest match).
        TypeError, ValueError: bad arguments, naming the model and chained to the original.

    Example:
        >>> make_model('VGG', depth=11).depth
        11
    """
    return build_from_cfg({"type": type, **kwargs}, MODELS)


make_model._hydra_cnn_registry_ = MODELS  # type: ignore[attr-defined]
