"""hydra_cnn: mmcv's CNN building bricks as typed, composable Hydra configs.

Every public name is importable from here, lazily: ``import hydra_cnn`` imports neither torch,
hydra, omegaconf, requests nor tqdm; the first use of a name imports what it needs.

    >>> from hydra_cnn import build_norm_layer
    >>> build_norm_layer(dict(type='GN', num_groups=2), 8)
    ('gn', GroupNorm(2, 8, eps=1e-05, affine=True))
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_LAZY: dict[str, str] = {}


def _add(module: str, *names: str) -> None:
    for name in names:
        _LAZY[name] = module


_add(
    "hydra_cnn.registry",
    "Registry", "build_from_cfg", "CONV_LAYERS", "NORM_LAYERS", "ACTIVATION_LAYERS",
    "UPSAMPLE_LAYERS", "PADDING_LAYERS", "PLUGIN_LAYERS", "INITIALIZERS", "MODELS",
)
_add("hydra_cnn.bricks.conv", "build_conv_layer", "make_conv", "Conv2dAdaptivePadding")
_add("hydra_cnn.bricks.conv_ws", "ConvWS2d", "ConvAWS2d", "conv_ws_2d")
_add("hydra_cnn.bricks.norm", "build_norm_layer", "make_norm", "infer_abbr", "is_norm",
     "LayerNorm2d")
_add("hydra_cnn.bricks.activation", "build_activation_layer", "make_act", "Clamp", "HSigmoid",
     "HSwish", "Swish")
_add("hydra_cnn.bricks.upsample", "build_upsample_layer", "make_upsample", "PixelShufflePack")
_add("hydra_cnn.bricks.padding", "build_padding_layer", "make_padding")
_add("hydra_cnn.bricks.plugin", "build_plugin_layer", "infer_plugin_abbr")
_add("hydra_cnn.bricks.context_block", "ContextBlock")
_add("hydra_cnn.bricks.generalized_attention", "GeneralizedAttention")
_add("hydra_cnn.bricks.non_local", "NonLocal1d", "NonLocal2d", "NonLocal3d")
_add("hydra_cnn.bricks.dropout", "Dropout", "DropPath", "build_dropout", "make_dropout")
_add("hydra_cnn.registry", "DROPOUT_LAYERS")
_add("hydra_cnn.bricks.scale", "Scale")
_add("hydra_cnn.bricks.conv_module", "ConvModule", "DepthwiseSeparableConvModule")
_add("hydra_cnn.bricks.fusion", "fuse_conv_bn", "revert_sync_batchnorm", "convert_sync_batchnorm")
_add("hydra_cnn.configs.blocks", "ConvModuleConf", "DepthwiseSeparableConvModuleConf")
_add("hydra_cnn.init.functions", "constant_init", "xavier_init", "normal_init", "trunc_normal_init",
     "uniform_init", "kaiming_init", "caffe2_xavier_init", "bias_init_with_prob", "trunc_normal_")
_add("hydra_cnn.init.initializers", "BaseInit", "ConstantInit", "XavierInit", "NormalInit",
     "TruncNormalInit", "UniformInit", "KaimingInit", "Caffe2XavierInit", "PretrainedInit",
     "initialize", "make_init")
_add("hydra_cnn.init.base_module", "BaseModule", "Sequential", "ModuleList", "ModuleDict")
_add("hydra_cnn.init.report", "InitReport", "InitEntry", "init_report", "update_init_info")
_add("hydra_cnn.init.meta", "build_model")
_add("hydra_cnn.configs.init", "ConstantInitConf", "XavierInitConf", "NormalInitConf",
     "TruncNormalInitConf", "UniformInitConf", "KaimingInitConf", "Caffe2XavierInitConf",
     "PretrainedInitConf")
_add("hydra_cnn.models", "ResNet", "ResNetV1c", "ResNetV1d", "VGG", "make_model")
_add("hydra_cnn.configs.models", "ResNetConf", "ResNetV1cConf", "ResNetV1dConf", "VGGConf",
     "ResNet18Conf", "ResNet34Conf", "ResNet50Conf", "ResNet101Conf", "ResNet152Conf",
     "VGG11Conf", "VGG13Conf", "VGG16Conf", "VGG19Conf")
_add("hydra_cnn.checkpoint.loader", "CheckpointLoader", "load_checkpoint", "save_checkpoint",
     "load_from_local", "load_from_http", "_load_checkpoint", "_load_checkpoint_with_prefix")
_add("hydra_cnn.checkpoint.state_dict", "load_state_dict", "get_state_dict", "LoadReport")
_add("hydra_cnn.checkpoint.zoo", "get_torchvision_models", "get_external_models",
     "get_mmcls_models", "get_deprecated_model_names", "get_home")
_add("hydra_cnn.checkpoint.download", "download_checkpoint", "DownloadSettings")
_add("hydra_cnn.checkpoint.errors", "DownloadError", "ChecksumError", "CorruptCacheError",
     "OfflineError", "UnsafeCheckpointError", "StrictLoadError", "ZooFileError",
     "UnverifiedDownloadWarning")
_add("hydra_cnn.validation", "validate", "ConfigValidationError")
_add("hydra_cnn.configs", "register_configs")
_CONF_NAMES = (
    "BNConf", "BN1dConf", "BN2dConf", "BN3dConf", "BilinearUpsampleConf", "ClampConf",
    "ClipConf", "Conv1dConf", "Conv2dAdaptivePaddingConf", "Conv2dConf", "Conv3dConf",
    "ConvAWSConf", "ConvConf", "ConvTranspose2dConf", "ConvTranspose3dConf", "ConvWSConf",
    "Deconv3dConf", "Deconv3dUpsampleConf", "DeconvConf", "DeconvUpsampleConf", "ELUConf",
    "GELUConf", "GNConf", "HSigmoidConf", "HSwishConf", "IN1dConf", "IN2dConf", "IN3dConf",
    "INConf", "LN2dConf", "LNConf", "LeakyReLUConf", "MishConf", "NearestUpsampleConf",
    "PReLUConf", "PixelShuffleConf", "RReLUConf", "ReLU6Conf", "ReLUConf", "ReflectPadConf",
    "ReplicatePadConf", "SiLUConf", "SigmoidConf", "SwishConf", "SyncBNConf", "TanhConf",
    "ZeroPadConf",
)
_add("hydra_cnn.configs", *_CONF_NAMES)

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hydra_cnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from hydra_cnn.bricks.activation import (
        Clamp,
        HSigmoid,
        HSwish,
        Swish,
        build_activation_layer,
        make_act,
    )
    from hydra_cnn.bricks.context_block import ContextBlock
    from hydra_cnn.bricks.conv import Conv2dAdaptivePadding, build_conv_layer, make_conv
    from hydra_cnn.bricks.conv_ws import ConvAWS2d, ConvWS2d, conv_ws_2d
    from hydra_cnn.bricks.dropout import Dropout, DropPath, build_dropout, make_dropout
    from hydra_cnn.bricks.generalized_attention import GeneralizedAttention
    from hydra_cnn.bricks.non_local import NonLocal1d, NonLocal2d, NonLocal3d
    from hydra_cnn.bricks.norm import (
        LayerNorm2d,
        build_norm_layer,
        infer_abbr,
        is_norm,
        make_norm,
    )
    from hydra_cnn.bricks.padding import build_padding_layer, make_padding
    from hydra_cnn.bricks.plugin import build_plugin_layer, infer_plugin_abbr
    from hydra_cnn.bricks.scale import Scale
    from hydra_cnn.bricks.upsample import PixelShufflePack, build_upsample_layer, make_upsample
    from hydra_cnn.configs import *  # noqa: F403
    from hydra_cnn.configs import register_configs
    from hydra_cnn.registry import (
        ACTIVATION_LAYERS,
        CONV_LAYERS,
        DROPOUT_LAYERS,
        INITIALIZERS,
        MODELS,
        NORM_LAYERS,
        PADDING_LAYERS,
        PLUGIN_LAYERS,
        UPSAMPLE_LAYERS,
        Registry,
        build_from_cfg,
    )
    from hydra_cnn.validation import validate
