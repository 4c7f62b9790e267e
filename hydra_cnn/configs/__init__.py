"""Typed structured configs for every layer type, and their Hydra config groups.

This package never imports torch (an app composes configs without paying for it), and Hydra
only when an app opts in. What it holds:

- one dataclass per registered type (``GNConf``, ``LeakyReLUConf``, ...; see
  :mod:`hydra_cnn.configs.layers` for the field rules); each instantiates to a factory;
- the option table (:mod:`hydra_cnn.configs.table`): every dataclass is an option of its group
  (``layers/norm/gn``), rendered as YAML under the repository's ``conf/``;
- :func:`register_configs`, which opts an app in: it stores the options, typed, under
  hydra_cnn's groups or the app's own group paths (``model/norm=gn``);
- configs generated from the signature of any class a user registers.

In your own structured config, leave a layer field at ``None`` (typed ``Any``) and let a config
group fill it, so the type can be swapped from the command line::

    @dataclass
    class MyNetConf:
        norm: Any = None   # the model/norm option (bn, gn, ...) lands here
        act: Any = None
"""

from __future__ import annotations

from typing import Any

import hydra_cnn.registry as _registry
from hydra_cnn.configs.auto import on_register

# Blocks, initializers and models have their own modules (no torch either); re-exported here so
# ``from hydra_cnn.configs import ConvModuleConf, KaimingInitConf, ResNetConf`` works.
from hydra_cnn.configs.blocks import ConvModuleConf, DepthwiseSeparableConvModuleConf
from hydra_cnn.configs.init import (
    Caffe2XavierInitConf,
    ConstantInitConf,
    KaimingInitConf,
    NormalInitConf,
    PretrainedInitConf,
    TruncNormalInitConf,
    UniformInitConf,
    XavierInitConf,
    init_conf_from_mmcv,
)
from hydra_cnn.configs.layers import *  # noqa: F403
from hydra_cnn.configs.layers import LAYER_CONFS, MISSING
from hydra_cnn.configs.models import (
    ResNet18Conf,
    ResNet34Conf,
    ResNet50Conf,
    ResNet101Conf,
    ResNet152Conf,
    ResNetConf,
    ResNetV1cConf,
    ResNetV1dConf,
    SimpleViTConf,
    VGG11Conf,
    VGG13Conf,
    VGG16Conf,
    VGG19Conf,
    VGGConf,
    ViTTinyConf,
)
from hydra_cnn.configs.plugins import (
    ContextBlockConf,
    DropoutConf,
    DropPathConf,
    GeneralizedAttentionConf,
    NonLocal1dConf,
    NonLocal2dConf,
    NonLocal3dConf,
)
from hydra_cnn.configs.store import register_configs, store_option
from hydra_cnn.configs.table import (
    builtin_confs,
    field_types,
    option_table,
    schema_for,
)
from hydra_cnn.configs.transformer import (
    BaseTransformerLayerConf,
    FFNConf,
    MultiheadAttentionConf,
    TransformerLayerSequenceConf,
)

__all__ = [  # noqa: F405 (the dataclasses come from layers.py)
    "LAYER_CONFS", "MISSING", "builtin_confs", "field_types", "option_table",
    "register_configs", "schema_for", "init_conf_from_mmcv",
    "BNConf", "BN1dConf", "BN2dConf", "BN3dConf", "BilinearUpsampleConf", "ClampConf",
    "ClipConf", "Conv1dConf", "Conv2dAdaptivePaddingConf", "Conv2dConf", "Conv3dConf",
    "ConvAWSConf", "ConvConf", "ConvTranspose2dConf", "ConvTranspose3dConf", "ConvWSConf",
    "Deconv3dConf", "Deconv3dUpsampleConf", "DeconvConf", "DeconvUpsampleConf", "ELUConf",
    "GELUConf", "GNConf", "HSigmoidConf", "HSwishConf", "IN1dConf", "IN2dConf", "IN3dConf",
    "INConf", "LN2dConf", "LNConf", "LeakyReLUConf", "MishConf", "NearestUpsampleConf",
    "PReLUConf", "PixelShuffleConf", "RReLUConf", "ReLU6Conf", "ReLUConf", "ReflectPadConf",
    "ReplicatePadConf", "SiLUConf", "SigmoidConf", "SwishConf", "SyncBNConf", "TanhConf",
    "ZeroPadConf",
    "ConvModuleConf", "DepthwiseSeparableConvModuleConf",
    "ContextBlockConf", "DropPathConf", "DropoutConf", "GeneralizedAttentionConf", "NonLocal1dConf",
    "NonLocal2dConf", "NonLocal3dConf",
    "Caffe2XavierInitConf", "ConstantInitConf", "KaimingInitConf", "NormalInitConf",
    "PretrainedInitConf", "TruncNormalInitConf", "UniformInitConf", "XavierInitConf",
    "ResNet18Conf", "ResNet34Conf", "ResNet50Conf", "ResNet101Conf", "ResNet152Conf",
    "ResNetConf", "ResNetV1cConf", "ResNetV1dConf", "VGG11Conf", "VGG13Conf", "VGG16Conf",
    "VGG19Conf", "VGGConf", "SimpleViTConf", "ViTTinyConf",
    "BaseTransformerLayerConf", "FFNConf", "MultiheadAttentionConf", "TransformerLayerSequenceConf",
]

def _on_register(registry: Any, names: list[str], cls: Any, config_name: str | None) -> None:
    for group, option, conf in on_register(registry, names, cls, config_name):
        store_option(group, option, conf)


# Subscribe to the registries: value types for the one road, and a generated config for every
# class a user registers (replayed for classes registered before this import), stored wherever
# an app opted in to its group.
_registry.set_schema_provider(field_types)
_registry.add_listener(_on_register)
