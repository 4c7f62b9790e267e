"""The public API of hydra_cnn, for type checkers: the names of ``EXPORTS`` in ``__init__.py``.

A test fails when this file and ``EXPORTS`` disagree.
"""

__version__: str

from hydra_cnn.analysis.complexity import (
    flops_to_string as flops_to_string,
)
from hydra_cnn.analysis.complexity import (
    get_model_complexity_info as get_model_complexity_info,
)
from hydra_cnn.analysis.complexity import (
    params_to_string as params_to_string,
)
from hydra_cnn.bricks.activation import (
    Clamp as Clamp,
)
from hydra_cnn.bricks.activation import (
    HSigmoid as HSigmoid,
)
from hydra_cnn.bricks.activation import (
    HSwish as HSwish,
)
from hydra_cnn.bricks.activation import (
    Swish as Swish,
)
from hydra_cnn.bricks.activation import (
    build_activation_layer as build_activation_layer,
)
from hydra_cnn.bricks.activation import (
    make_act as make_act,
)
from hydra_cnn.bricks.context_block import (
    ContextBlock as ContextBlock,
)
from hydra_cnn.bricks.conv import (
    Conv2dAdaptivePadding as Conv2dAdaptivePadding,
)
from hydra_cnn.bricks.conv import (
    build_conv_layer as build_conv_layer,
)
from hydra_cnn.bricks.conv import (
    make_conv as make_conv,
)
from hydra_cnn.bricks.conv_module import (
    ConvModule as ConvModule,
)
from hydra_cnn.bricks.conv_module import (
    DepthwiseSeparableConvModule as DepthwiseSeparableConvModule,
)
from hydra_cnn.bricks.conv_ws import (
    ConvAWS2d as ConvAWS2d,
)
from hydra_cnn.bricks.conv_ws import (
    ConvWS2d as ConvWS2d,
)
from hydra_cnn.bricks.conv_ws import (
    conv_ws_2d as conv_ws_2d,
)
from hydra_cnn.bricks.dropout import (
    Dropout as Dropout,
)
from hydra_cnn.bricks.dropout import (
    DropPath as DropPath,
)
from hydra_cnn.bricks.dropout import (
    build_dropout as build_dropout,
)
from hydra_cnn.bricks.dropout import (
    make_dropout as make_dropout,
)
from hydra_cnn.bricks.fusion import (
    convert_sync_batchnorm as convert_sync_batchnorm,
)
from hydra_cnn.bricks.fusion import (
    fuse_conv_bn as fuse_conv_bn,
)
from hydra_cnn.bricks.fusion import (
    revert_sync_batchnorm as revert_sync_batchnorm,
)
from hydra_cnn.bricks.generalized_attention import (
    GeneralizedAttention as GeneralizedAttention,
)
from hydra_cnn.bricks.non_local import (
    NonLocal1d as NonLocal1d,
)
from hydra_cnn.bricks.non_local import (
    NonLocal2d as NonLocal2d,
)
from hydra_cnn.bricks.non_local import (
    NonLocal3d as NonLocal3d,
)
from hydra_cnn.bricks.norm import (
    LayerNorm2d as LayerNorm2d,
)
from hydra_cnn.bricks.norm import (
    build_norm_layer as build_norm_layer,
)
from hydra_cnn.bricks.norm import (
    infer_abbr as infer_abbr,
)
from hydra_cnn.bricks.norm import (
    is_norm as is_norm,
)
from hydra_cnn.bricks.norm import (
    make_norm as make_norm,
)
from hydra_cnn.bricks.padding import (
    build_padding_layer as build_padding_layer,
)
from hydra_cnn.bricks.padding import (
    make_padding as make_padding,
)
from hydra_cnn.bricks.plugin import (
    build_plugin_layer as build_plugin_layer,
)
from hydra_cnn.bricks.plugin import (
    make_plugin as make_plugin,
)
from hydra_cnn.bricks.scale import (
    Scale as Scale,
)
from hydra_cnn.bricks.transformer import (
    FFN as FFN,
)
from hydra_cnn.bricks.transformer import (
    AdaptivePadding as AdaptivePadding,
)
from hydra_cnn.bricks.transformer import (
    BaseTransformerLayer as BaseTransformerLayer,
)
from hydra_cnn.bricks.transformer import (
    MultiheadAttention as MultiheadAttention,
)
from hydra_cnn.bricks.transformer import (
    PatchEmbed as PatchEmbed,
)
from hydra_cnn.bricks.transformer import (
    PatchMerging as PatchMerging,
)
from hydra_cnn.bricks.transformer import (
    TransformerLayerSequence as TransformerLayerSequence,
)
from hydra_cnn.bricks.transformer import (
    build_attention as build_attention,
)
from hydra_cnn.bricks.transformer import (
    build_feedforward_network as build_feedforward_network,
)
from hydra_cnn.bricks.transformer import (
    build_positional_encoding as build_positional_encoding,
)
from hydra_cnn.bricks.transformer import (
    build_transformer_layer as build_transformer_layer,
)
from hydra_cnn.bricks.transformer import (
    build_transformer_layer_sequence as build_transformer_layer_sequence,
)
from hydra_cnn.bricks.upsample import (
    PixelShufflePack as PixelShufflePack,
)
from hydra_cnn.bricks.upsample import (
    build_upsample_layer as build_upsample_layer,
)
from hydra_cnn.bricks.upsample import (
    make_upsample as make_upsample,
)
from hydra_cnn.bricks.wrappers import (
    Conv2d as Conv2d,
)
from hydra_cnn.bricks.wrappers import (
    Conv3d as Conv3d,
)
from hydra_cnn.bricks.wrappers import (
    ConvTranspose2d as ConvTranspose2d,
)
from hydra_cnn.bricks.wrappers import (
    ConvTranspose3d as ConvTranspose3d,
)
from hydra_cnn.bricks.wrappers import (
    Linear as Linear,
)
from hydra_cnn.bricks.wrappers import (
    MaxPool2d as MaxPool2d,
)
from hydra_cnn.bricks.wrappers import (
    MaxPool3d as MaxPool3d,
)
from hydra_cnn.checkpoint.download import (
    DownloadSettings as DownloadSettings,
)
from hydra_cnn.checkpoint.download import (
    download_checkpoint as download_checkpoint,
)
from hydra_cnn.checkpoint.loader import (
    CheckpointLoader as CheckpointLoader,
)
from hydra_cnn.checkpoint.loader import (
    load_checkpoint as load_checkpoint,
)
from hydra_cnn.checkpoint.loader import (
    load_from_http as load_from_http,
)
from hydra_cnn.checkpoint.loader import (
    load_from_local as load_from_local,
)
from hydra_cnn.checkpoint.loader import (
    save_checkpoint as save_checkpoint,
)
from hydra_cnn.checkpoint.state_dict import (
    LoadReport as LoadReport,
)
from hydra_cnn.checkpoint.state_dict import (
    get_state_dict as get_state_dict,
)
from hydra_cnn.checkpoint.state_dict import (
    load_state_dict as load_state_dict,
)
from hydra_cnn.checkpoint.zoo import (
    get_deprecated_model_names as get_deprecated_model_names,
)
from hydra_cnn.checkpoint.zoo import (
    get_external_models as get_external_models,
)
from hydra_cnn.checkpoint.zoo import (
    get_home as get_home,
)
from hydra_cnn.checkpoint.zoo import (
    get_mmcls_models as get_mmcls_models,
)
from hydra_cnn.checkpoint.zoo import (
    get_torchvision_models as get_torchvision_models,
)
from hydra_cnn.common import (
    ConfigKeyError as ConfigKeyError,
)
from hydra_cnn.common import (
    InvalidArgumentError as InvalidArgumentError,
)
from hydra_cnn.common import (
    InvalidTypeError as InvalidTypeError,
)
from hydra_cnn.common import (
    MissingValueError as MissingValueError,
)
from hydra_cnn.configs import (
    register_configs as register_configs,
)
from hydra_cnn.init.base_module import (
    BaseModule as BaseModule,
)
from hydra_cnn.init.base_module import (
    ModuleDict as ModuleDict,
)
from hydra_cnn.init.base_module import (
    ModuleList as ModuleList,
)
from hydra_cnn.init.base_module import (
    Sequential as Sequential,
)
from hydra_cnn.init.functions import (
    bias_init_with_prob as bias_init_with_prob,
)
from hydra_cnn.init.functions import (
    caffe2_xavier_init as caffe2_xavier_init,
)
from hydra_cnn.init.functions import (
    constant_init as constant_init,
)
from hydra_cnn.init.functions import (
    kaiming_init as kaiming_init,
)
from hydra_cnn.init.functions import (
    normal_init as normal_init,
)
from hydra_cnn.init.functions import (
    trunc_normal_ as trunc_normal_,
)
from hydra_cnn.init.functions import (
    trunc_normal_init as trunc_normal_init,
)
from hydra_cnn.init.functions import (
    uniform_init as uniform_init,
)
from hydra_cnn.init.functions import (
    xavier_init as xavier_init,
)
from hydra_cnn.init.initializers import (
    BaseInit as BaseInit,
)
from hydra_cnn.init.initializers import (
    Caffe2XavierInit as Caffe2XavierInit,
)
from hydra_cnn.init.initializers import (
    ConstantInit as ConstantInit,
)
from hydra_cnn.init.initializers import (
    KaimingInit as KaimingInit,
)
from hydra_cnn.init.initializers import (
    NormalInit as NormalInit,
)
from hydra_cnn.init.initializers import (
    PretrainedInit as PretrainedInit,
)
from hydra_cnn.init.initializers import (
    TruncNormalInit as TruncNormalInit,
)
from hydra_cnn.init.initializers import (
    UniformInit as UniformInit,
)
from hydra_cnn.init.initializers import (
    XavierInit as XavierInit,
)
from hydra_cnn.init.initializers import (
    initialize as initialize,
)
from hydra_cnn.init.initializers import (
    make_init as make_init,
)
from hydra_cnn.init.meta import (
    build_model as build_model,
)
from hydra_cnn.init.report import (
    InitEntry as InitEntry,
)
from hydra_cnn.init.report import (
    InitReport as InitReport,
)
from hydra_cnn.init.report import (
    init_report as init_report,
)
from hydra_cnn.init.report import (
    update_init_info as update_init_info,
)
from hydra_cnn.models import (
    VGG as VGG,
)
from hydra_cnn.models import (
    ResNet as ResNet,
)
from hydra_cnn.models import (
    ResNetV1c as ResNetV1c,
)
from hydra_cnn.models import (
    ResNetV1d as ResNetV1d,
)
from hydra_cnn.models import (
    SimpleViT as SimpleViT,
)
from hydra_cnn.models import (
    make_model as make_model,
)
from hydra_cnn.registry import (
    ACTIVATION_LAYERS as ACTIVATION_LAYERS,
)
from hydra_cnn.registry import (
    ATTENTION as ATTENTION,
)
from hydra_cnn.registry import (
    CONV_LAYERS as CONV_LAYERS,
)
from hydra_cnn.registry import (
    DROPOUT_LAYERS as DROPOUT_LAYERS,
)
from hydra_cnn.registry import (
    FEEDFORWARD_NETWORK as FEEDFORWARD_NETWORK,
)
from hydra_cnn.registry import (
    INITIALIZERS as INITIALIZERS,
)
from hydra_cnn.registry import (
    MODELS as MODELS,
)
from hydra_cnn.registry import (
    NORM_LAYERS as NORM_LAYERS,
)
from hydra_cnn.registry import (
    PADDING_LAYERS as PADDING_LAYERS,
)
from hydra_cnn.registry import (
    PLUGIN_LAYERS as PLUGIN_LAYERS,
)
from hydra_cnn.registry import (
    POSITIONAL_ENCODING as POSITIONAL_ENCODING,
)
from hydra_cnn.registry import (
    TRANSFORMER_LAYER as TRANSFORMER_LAYER,
)
from hydra_cnn.registry import (
    TRANSFORMER_LAYER_SEQUENCE as TRANSFORMER_LAYER_SEQUENCE,
)
from hydra_cnn.registry import (
    UPSAMPLE_LAYERS as UPSAMPLE_LAYERS,
)
from hydra_cnn.registry import (
    Registry as Registry,
)
from hydra_cnn.registry import (
    build_from_cfg as build_from_cfg,
)
from hydra_cnn.registry import (
    build_model_from_cfg as build_model_from_cfg,
)
from hydra_cnn.registry import (
    register_family as register_family,
)
from hydra_cnn.validation import (
    ConfigValidationError as ConfigValidationError,
)
from hydra_cnn.validation import (
    ValidationResult as ValidationResult,
)
from hydra_cnn.validation import (
    validate as validate,
)

__all__: list[str]
