"""Typed structured configs for every layer type, and their Hydra config groups.

This package never imports torch (Hydra imports it through hydra_cnn's search-path plugin in
every app). What it holds:

- one dataclass per registered type (``GNConf``, ``LeakyReLUConf``, ...; see
  :mod:`hydra_cnn.configs.layers` for the field rules); each instantiates to a factory;
- the option table: every dataclass is the schema of a YAML option in ``conf/<group>/``
  (``layers/norm/gn.yaml``), typed at compose time with no extra call;
- :func:`register_configs`, which stores the same options under a user's group paths
  (``model/norm=gn``);
- configs generated from the signature of any class a user registers later.

Use them in your own structured configs through an ``Any`` field with a default factory::

    @dataclass
    class MyNetConf:
        norm: Any = field(default_factory=GNConf)
        act: Any = field(default_factory=ReLUConf)
"""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from hydra_cnn import registry as _registry
from hydra_cnn.configs import auto as _auto

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
    VGG11Conf,
    VGG13Conf,
    VGG16Conf,
    VGG19Conf,
    VGGConf,
)
from hydra_cnn.configs.store import register_configs
from hydra_cnn.families import FAMILIES

__all__ = [  # noqa: F405 (the dataclasses come from layers.py)
    "GROUP_REGISTRY", "LAYER_CONFS", "MISSING", "builtin_confs", "field_types", "option_table",
    "register_configs", "schema_for",
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
    "Caffe2XavierInitConf", "ConstantInitConf", "KaimingInitConf", "NormalInitConf",
    "PretrainedInitConf", "TruncNormalInitConf", "UniformInitConf", "XavierInitConf",
    "ResNet18Conf", "ResNet34Conf", "ResNet50Conf", "ResNet101Conf", "ResNet152Conf",
    "ResNetConf", "ResNetV1cConf", "ResNetV1dConf", "VGG11Conf", "VGG13Conf", "VGG16Conf",
    "VGG19Conf", "VGGConf",
]

# config group -> name of the registry (in hydra_cnn.registry) whose types its options select,
# read from the family table
GROUP_REGISTRY: dict[str, str] = {
    f.group: f.registry for f in FAMILIES.values() if f.group is not None and f.registry is not None
}

def builtin_confs() -> list[type]:
    """Every shipped structured config class: layers, blocks, initializers, models."""
    from hydra_cnn.configs import blocks, init, models

    return [*LAYER_CONFS, *blocks.CONFS, *init.CONFS, *models.CONFS]


def option_table() -> list[tuple[str, str, type]]:
    """``(group, option, dataclass)`` for every option: shipped ones, then user-registered ones."""
    from hydra_cnn.configs.auto import user_confs

    confs: list[Any] = [*builtin_confs(), *user_confs()]
    rows = [(c._group_, c._option_, c) for c in confs]
    return rows


@functools.cache
def _builtin_by_type() -> dict[tuple[str, str], type]:
    confs: list[Any] = builtin_confs()
    return {(c._group_, c.type): c for c in confs if isinstance(getattr(c, "type", None), str)}


def schema_for(group: str | None, type_name: str) -> type | None:
    """The structured config class for registry type ``type_name`` in ``group``, if any."""
    if group is None:
        return None
    from hydra_cnn.configs.auto import user_conf

    return user_conf(group, type_name) or _builtin_by_type().get((group, type_name))


@functools.lru_cache(maxsize=512)
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(cls)
        if f.name not in ("_target_", "_partial_", "type")
    }


def field_types(group: str | None, type_name: str) -> dict[str, Any] | None:
    """Field name -> annotation of ``type_name``'s config (None when it has no config)."""
    cls = schema_for(group, type_name)
    return None if cls is None else _hints(cls)


def _schema_hints(group: str, type_name: str) -> dict[str, Any] | None:
    return field_types(group, type_name)


# Subscribe to the registries: value types for the one road, and a generated config for every
# class a user registers (replayed for classes registered before this import).
_registry.set_schema_provider(_schema_hints)
_registry.add_listener(_auto.on_register)
