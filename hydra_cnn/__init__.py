"""hydra_cnn: mmcv's CNN building bricks as typed, composable Hydra configs.

Every public name is importable from here, lazily: ``import hydra_cnn`` imports neither torch,
hydra, omegaconf, requests nor tqdm; the first use of a name imports what it needs.

    >>> from hydra_cnn import build_norm_layer
    >>> build_norm_layer(dict(type='GN', num_groups=2), 8)
    ('gn', GroupNorm(2, 8, eps=1e-05, affine=True))

The public names are listed once, in :data:`EXPORTS` below (defining module -> names); adding
one is one line there plus its line in ``__init__.pyi``, which declares the same names for type
checkers (a test fails when the two disagree or a name does not import). Names that left the
top level are in :data:`MOVED`: they still work for one release, with a ``DeprecationWarning``
naming their new home. The structured configs (``GNConf``...) live in :mod:`hydra_cnn.configs`.
"""

from __future__ import annotations

from hydra_cnn.common import __version__, lazy_exports

_BY_MODULE: dict[str, tuple[str, ...]] = {
    "hydra_cnn.analysis.complexity": (
        "flops_to_string", "get_model_complexity_info", "params_to_string",
    ),
    "hydra_cnn.bricks.activation": (
        "build_activation_layer", "Clamp", "HSigmoid", "HSwish", "make_act", "Swish",
    ),
    "hydra_cnn.bricks.context_block": (
        "ContextBlock",
    ),
    "hydra_cnn.bricks.conv": (
        "build_conv_layer", "Conv2dAdaptivePadding", "make_conv",
    ),
    "hydra_cnn.bricks.conv_module": (
        "ConvModule", "DepthwiseSeparableConvModule",
    ),
    "hydra_cnn.bricks.conv_ws": (
        "conv_ws_2d", "ConvAWS2d", "ConvWS2d",
    ),
    "hydra_cnn.bricks.dropout": (
        "build_dropout", "Dropout", "DropPath", "make_dropout",
    ),
    "hydra_cnn.bricks.fusion": (
        "convert_sync_batchnorm", "fuse_conv_bn", "revert_sync_batchnorm",
    ),
    "hydra_cnn.bricks.generalized_attention": (
        "GeneralizedAttention",
    ),
    "hydra_cnn.bricks.non_local": (
        "NonLocal1d", "NonLocal2d", "NonLocal3d",
    ),
    "hydra_cnn.bricks.norm": (
        "build_norm_layer", "infer_abbr", "is_norm", "LayerNorm2d", "make_norm",
    ),
    "hydra_cnn.bricks.padding": (
        "build_padding_layer", "make_padding",
    ),
    "hydra_cnn.bricks.plugin": (
        "build_plugin_layer", "make_plugin",
    ),
    "hydra_cnn.bricks.scale": (
        "Scale",
    ),
    "hydra_cnn.bricks.transformer": (
        "AdaptivePadding", "BaseTransformerLayer", "build_attention",
        "build_feedforward_network", "build_positional_encoding", "build_transformer_layer",
        "build_transformer_layer_sequence", "FFN", "MultiheadAttention", "PatchEmbed",
        "PatchMerging", "TransformerLayerSequence",
    ),
    "hydra_cnn.bricks.upsample": (
        "build_upsample_layer", "make_upsample", "PixelShufflePack",
    ),
    "hydra_cnn.bricks.wrappers": (
        "Conv2d", "Conv3d", "ConvTranspose2d", "ConvTranspose3d", "Linear", "MaxPool2d",
        "MaxPool3d",
    ),
    "hydra_cnn.checkpoint.download": (
        "download_checkpoint", "DownloadSettings",
    ),
    "hydra_cnn.checkpoint.loader": (
        "CheckpointLoader", "load_checkpoint", "load_from_http", "load_from_local",
        "save_checkpoint",
    ),
    "hydra_cnn.checkpoint.state_dict": (
        "get_state_dict", "load_state_dict", "LoadReport",
    ),
    "hydra_cnn.checkpoint.zoo": (
        "get_deprecated_model_names", "get_external_models", "get_home", "get_mmcls_models",
        "get_torchvision_models",
    ),
    "hydra_cnn.common": (
        "ConfigKeyError", "InvalidArgumentError", "InvalidTypeError", "MissingValueError",
    ),
    "hydra_cnn.configs": (
        "register_configs",
    ),
    "hydra_cnn.init.base_module": (
        "BaseModule", "ModuleDict", "ModuleList", "Sequential",
    ),
    "hydra_cnn.init.functions": (
        "bias_init_with_prob", "caffe2_xavier_init", "constant_init", "kaiming_init", "normal_init",
        "trunc_normal_", "trunc_normal_init", "uniform_init", "xavier_init",
    ),
    "hydra_cnn.init.initializers": (
        "BaseInit", "Caffe2XavierInit", "ConstantInit", "initialize", "KaimingInit", "make_init",
        "NormalInit", "PretrainedInit", "TruncNormalInit", "UniformInit", "XavierInit",
    ),
    "hydra_cnn.init.meta": (
        "build_model",
    ),
    "hydra_cnn.init.report": (
        "init_report", "InitEntry", "InitReport", "update_init_info",
    ),
    "hydra_cnn.models": (
        "make_model", "ResNet", "ResNetV1c", "ResNetV1d", "SimpleViT", "VGG",
    ),
    "hydra_cnn.registry": (
        "ACTIVATION_LAYERS", "ATTENTION", "build_from_cfg", "build_model_from_cfg",
        "CONV_LAYERS", "DROPOUT_LAYERS", "FEEDFORWARD_NETWORK", "INITIALIZERS", "MODELS",
        "NORM_LAYERS", "PADDING_LAYERS", "PLUGIN_LAYERS", "POSITIONAL_ENCODING",
        "register_family", "Registry", "TRANSFORMER_LAYER", "TRANSFORMER_LAYER_SEQUENCE",
        "UPSAMPLE_LAYERS",
    ),
    "hydra_cnn.validation": (
        "ConfigValidationError", "validate", "ValidationResult",
    ),
}

#: public name -> defining module
EXPORTS: dict[str, str] = {name: module for module, names in _BY_MODULE.items() for name in names}

#: a name that left the top level -> where it lives now (deprecated here for one release)
MOVED: dict[str, str] = {
    **{name: "hydra_cnn.configs" for name in (
        "BN1dConf", "BN2dConf", "BN3dConf", "BNConf",
        "BilinearUpsampleConf", "Caffe2XavierInitConf", "ClampConf", "ClipConf",
        "ConstantInitConf", "ContextBlockConf", "Conv1dConf", "Conv2dAdaptivePaddingConf",
        "Conv2dConf", "Conv3dConf", "ConvAWSConf", "ConvConf",
        "ConvModuleConf", "ConvTranspose2dConf", "ConvTranspose3dConf", "ConvWSConf",
        "Deconv3dConf", "Deconv3dUpsampleConf", "DeconvConf", "DeconvUpsampleConf",
        "DepthwiseSeparableConvModuleConf", "DropPathConf", "DropoutConf", "ELUConf",
        "GELUConf", "GNConf", "GeneralizedAttentionConf", "HSigmoidConf",
        "HSwishConf", "IN1dConf", "IN2dConf", "IN3dConf",
        "INConf", "KaimingInitConf", "LN2dConf", "LNConf",
        "LeakyReLUConf", "MishConf", "NearestUpsampleConf", "NonLocal1dConf",
        "NonLocal2dConf", "NonLocal3dConf", "NormalInitConf", "PReLUConf",
        "PixelShuffleConf", "PretrainedInitConf", "RReLUConf", "ReLU6Conf",
        "ReLUConf", "ReflectPadConf", "ReplicatePadConf", "ResNet101Conf",
        "ResNet152Conf", "ResNet18Conf", "ResNet34Conf", "ResNet50Conf",
        "ResNetConf", "ResNetV1cConf", "ResNetV1dConf", "SiLUConf",
        "SigmoidConf", "SwishConf", "SyncBNConf", "TanhConf",
        "TruncNormalInitConf", "UniformInitConf", "VGG11Conf", "VGG13Conf",
        "VGG16Conf", "VGG19Conf", "VGGConf", "XavierInitConf",
        "ZeroPadConf",
    )},
    "CheckpointFormatError": "hydra_cnn.checkpoint",
    "ChecksumError": "hydra_cnn.checkpoint",
    "ContentError": "hydra_cnn.checkpoint",
    "CorruptCacheError": "hydra_cnn.checkpoint",
    "DownloadError": "hydra_cnn.checkpoint",
    "OfflineError": "hydra_cnn.checkpoint",
    "StateDictError": "hydra_cnn.checkpoint",
    "StrictLoadError": "hydra_cnn.checkpoint",
    "UnsafeCheckpointError": "hydra_cnn.checkpoint",
    "UnverifiedDownloadWarning": "hydra_cnn.checkpoint",
    "ZooFileError": "hydra_cnn.checkpoint",
    "_load_checkpoint": "hydra_cnn.checkpoint.loader",
    "_load_checkpoint_with_prefix": "hydra_cnn.checkpoint.loader",
    "drop_path": "hydra_cnn.bricks.dropout",
    "infer_plugin_abbr": "hydra_cnn.bricks.plugin",
}

__all__ = sorted(EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS, MOVED)
