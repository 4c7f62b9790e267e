"""Structured configs (dataclasses) for every registered layer type.

Each class mirrors its layer's constructor (fields, types, defaults) with three documented
exceptions:

1. late sizes and the arguments a block passes are omitted: a conv config has no
   ``in_channels`` or ``out_channels``, and its ``kernel_size``, ``stride``, ``padding`` and
   ``dilation`` are ``None`` by default, meaning "the block decides" (set them where the config
   owns the geometry, as mmcls's ``PatchEmbed`` does); a norm config has no
   ``num_features``/``num_channels``/``normalized_shape``; a padding config has no
   ``padding``; an upsample config has no channels (``deconv``) and no ``mode`` (the type is
   the mode);
2. ``inplace: Optional[bool] = None`` means "the block decides" (the class default otherwise);
3. ``GNConf.num_groups: Optional[int] = None`` means automatic groups: 32, or the largest
   divisor of the channel count below 32 (an explicit count keeps mmcv's strict meaning).

Builder keys that are not constructor arguments are fields too: ``type`` everywhere and
``requires_grad`` on norms. Runtime-only arguments that cannot come from YAML
(``SyncBatchNorm.process_group``) are left out. ``device``/``dtype`` accept strings
(``'cpu'``, ``'bfloat16'``).

Every config instantiates to a factory: ``_partial_`` is true and ``_target_`` is the
family's ``make_*`` builder, which resolves ``type`` in the registry.

    >>> from hydra.utils import instantiate
    >>> norm = instantiate(GNConf(num_groups=4))     # doctest: +SKIP
    >>> norm(16)                                     # doctest: +SKIP
    GroupNorm(4, 16, eps=1e-05, affine=True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Optional

from hydra_cnn.common import MISSING
from hydra_cnn.configs.base import confs_of, group_of, partial_of, target_of

# ruff: noqa: UP045  (Optional[...] reads better in config schemas and OmegaConf supports it)


# --- one base per family: group, target and _partial_ come from the family table ----------
@dataclass
class _ConvFamily:
    _group_: ClassVar[str] = group_of("conv")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("conv")
    _partial_: bool = partial_of("conv")
    type: str = MISSING


@dataclass
class _NormFamily:
    _group_: ClassVar[str] = group_of("norm")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("norm")
    _partial_: bool = partial_of("norm")
    type: str = MISSING


@dataclass
class _ActFamily:
    _group_: ClassVar[str] = group_of("act")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("act")
    _partial_: bool = partial_of("act")
    type: str = MISSING


@dataclass
class _UpsampleFamily:
    _group_: ClassVar[str] = group_of("upsample")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("upsample")
    _partial_: bool = partial_of("upsample")
    type: str = MISSING


@dataclass
class _PaddingFamily:
    _group_: ClassVar[str] = group_of("padding")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("padding")
    _partial_: bool = partial_of("padding")
    type: str = MISSING


# --- conv -----------------------------------------------------------------------------------
@dataclass
class _ConvBase(_ConvFamily):
    # None: the block decides (ConvModule's kernel_size, ...); set them where the config
    # owns the geometry, as mmcls's PatchEmbed does with dict(type='Conv2d', kernel_size=16)
    kernel_size: Any = None
    stride: Any = None
    padding: Any = None
    dilation: Any = None
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    device: Any = None
    dtype: Any = None


@dataclass
class ConvConf(_ConvBase):
    """``Conv``: mmcv's ``Conv2d`` wrapper (a subclass of ``nn.Conv2d``)."""

    _option_: ClassVar[str] = "conv"
    type: str = "Conv"


@dataclass
class Conv1dConf(_ConvBase):
    """``nn.Conv1d``."""

    _option_: ClassVar[str] = "conv1d"
    type: str = "Conv1d"


@dataclass
class Conv2dConf(_ConvBase):
    """``nn.Conv2d``."""

    _option_: ClassVar[str] = "conv2d"
    type: str = "Conv2d"


@dataclass
class Conv3dConf(_ConvBase):
    """``Conv3d``: mmcv's ``Conv3d`` wrapper (a subclass of ``nn.Conv3d``)."""

    _option_: ClassVar[str] = "conv3d"
    type: str = "Conv3d"


@dataclass
class ConvWSConf(_ConvBase):
    """``ConvWS2d``: weight-standardised conv (GN+WS models)."""

    _option_: ClassVar[str] = "conv_ws"
    type: str = "ConvWS"
    eps: float = 1e-5


@dataclass
class ConvAWSConf(_ConvBase):
    """``ConvAWS2d``: adaptive weight-standardised conv."""

    _option_: ClassVar[str] = "conv_aws"
    type: str = "ConvAWS"


@dataclass
class Conv2dAdaptivePaddingConf(_ConvFamily):
    """``Conv2dAdaptivePadding``: TensorFlow "SAME" padding."""

    _option_: ClassVar[str] = "conv2d_adaptive_padding"
    type: str = "Conv2dAdaptivePadding"
    # None: the block decides (ConvModule's kernel_size, ...); set them where the config
    # owns the geometry, as mmcls's PatchEmbed does with dict(type='Conv2d', kernel_size=16)
    kernel_size: Any = None
    stride: Any = None
    padding: Any = None
    dilation: Any = None
    groups: int = 1
    bias: bool = True
    device: Any = None
    dtype: Any = None


@dataclass
class _DeconvBase(_ConvFamily):
    # None: the block decides (ConvModule's kernel_size, ...); set them where the config
    # owns the geometry, as mmcls's PatchEmbed does with dict(type='Conv2d', kernel_size=16)
    kernel_size: Any = None
    stride: Any = None
    padding: Any = None
    dilation: Any = None
    output_padding: Any = 0
    groups: int = 1
    bias: bool = True
    padding_mode: str = "zeros"
    device: Any = None
    dtype: Any = None


@dataclass
class DeconvConf(_DeconvBase):
    """``deconv``: mmcv's ``ConvTranspose2d`` wrapper as a conv layer."""

    _option_: ClassVar[str] = "deconv"
    type: str = "deconv"


@dataclass
class Deconv3dConf(_DeconvBase):
    """``deconv3d``: mmcv's ``ConvTranspose3d`` wrapper as a conv layer."""

    _option_: ClassVar[str] = "deconv3d"
    type: str = "deconv3d"


@dataclass
class ConvTranspose2dConf(_DeconvBase):
    """``ConvTranspose2d``: mmcv's wrapper (a subclass of ``nn.ConvTranspose2d``)."""

    _option_: ClassVar[str] = "conv_transpose2d"
    type: str = "ConvTranspose2d"


@dataclass
class ConvTranspose3dConf(_DeconvBase):
    """``ConvTranspose3d``: mmcv's wrapper (a subclass of ``nn.ConvTranspose3d``)."""

    _option_: ClassVar[str] = "conv_transpose3d"
    type: str = "ConvTranspose3d"


# --- norm -----------------------------------------------------------------------------------
@dataclass
class _BatchNormBase(_NormFamily):
    eps: float = 1e-5
    momentum: Optional[float] = 0.1
    affine: bool = True
    track_running_stats: bool = True
    device: Any = None
    dtype: Any = None
    bias: bool = True
    requires_grad: bool = True


@dataclass
class BNConf(_BatchNormBase):
    """``BN`` (= ``nn.BatchNorm2d``)."""

    _option_: ClassVar[str] = "bn"
    type: str = "BN"


@dataclass
class BN1dConf(_BatchNormBase):
    """``nn.BatchNorm1d``."""

    _option_: ClassVar[str] = "bn1d"
    type: str = "BN1d"


@dataclass
class BN2dConf(_BatchNormBase):
    """``nn.BatchNorm2d``."""

    _option_: ClassVar[str] = "bn2d"
    type: str = "BN2d"


@dataclass
class BN3dConf(_BatchNormBase):
    """``nn.BatchNorm3d``."""

    _option_: ClassVar[str] = "bn3d"
    type: str = "BN3d"


@dataclass
class SyncBNConf(_BatchNormBase):
    """``nn.SyncBatchNorm`` (``process_group`` is a runtime object, not a config field)."""

    _option_: ClassVar[str] = "sync_bn"
    type: str = "SyncBN"


@dataclass
class GNConf(_NormFamily):
    """``nn.GroupNorm``; ``num_groups: null`` = 32 or the largest divisor of the channels below 32."""

    _option_: ClassVar[str] = "gn"
    type: str = "GN"
    num_groups: Optional[int] = None
    eps: float = 1e-5
    affine: bool = True
    device: Any = None
    dtype: Any = None
    bias: bool = True
    requires_grad: bool = True


@dataclass
class _LayerNormBase(_NormFamily):
    eps: float = 1e-5
    elementwise_affine: bool = True
    bias: bool = True
    device: Any = None
    dtype: Any = None
    requires_grad: bool = True


@dataclass
class LNConf(_LayerNormBase):
    """``nn.LayerNorm`` over the trailing dimension (for token features, not conv maps)."""

    _option_: ClassVar[str] = "ln"
    type: str = "LN"


@dataclass
class LN2dConf(_LayerNormBase):
    """``LayerNorm2d``: LayerNorm over the channels of NCHW maps."""

    _option_: ClassVar[str] = "ln2d"
    type: str = "LN2d"


@dataclass
class _InstanceNormBase(_NormFamily):
    eps: float = 1e-5
    momentum: float = 0.1
    affine: bool = False
    track_running_stats: bool = False
    device: Any = None
    dtype: Any = None
    bias: bool = True
    requires_grad: bool = True


@dataclass
class INConf(_InstanceNormBase):
    """``IN`` (= ``nn.InstanceNorm2d``)."""

    _option_: ClassVar[str] = "in"
    type: str = "IN"


@dataclass
class IN1dConf(_InstanceNormBase):
    """``nn.InstanceNorm1d``."""

    _option_: ClassVar[str] = "in1d"
    type: str = "IN1d"


@dataclass
class IN2dConf(_InstanceNormBase):
    """``nn.InstanceNorm2d``."""

    _option_: ClassVar[str] = "in2d"
    type: str = "IN2d"


@dataclass
class IN3dConf(_InstanceNormBase):
    """``nn.InstanceNorm3d``."""

    _option_: ClassVar[str] = "in3d"
    type: str = "IN3d"


# --- activation -----------------------------------------------------------------------------
_ActBase = _ActFamily


@dataclass
class ReLUConf(_ActBase):
    """``nn.ReLU``."""

    _option_: ClassVar[str] = "relu"
    type: str = "ReLU"
    inplace: Optional[bool] = None


@dataclass
class LeakyReLUConf(_ActBase):
    """``nn.LeakyReLU``."""

    _option_: ClassVar[str] = "leaky_relu"
    type: str = "LeakyReLU"
    negative_slope: float = 0.01
    inplace: Optional[bool] = None


@dataclass
class PReLUConf(_ActBase):
    """``nn.PReLU`` (one learnable slope per ``num_parameters``)."""

    _option_: ClassVar[str] = "prelu"
    type: str = "PReLU"
    num_parameters: int = 1
    init: float = 0.25
    device: Any = None
    dtype: Any = None


@dataclass
class RReLUConf(_ActBase):
    """``nn.RReLU``."""

    _option_: ClassVar[str] = "rrelu"
    type: str = "RReLU"
    lower: float = 0.125
    upper: float = 1.0 / 3.0
    inplace: Optional[bool] = None


@dataclass
class ReLU6Conf(_ActBase):
    """``nn.ReLU6``."""

    _option_: ClassVar[str] = "relu6"
    type: str = "ReLU6"
    inplace: Optional[bool] = None


@dataclass
class ELUConf(_ActBase):
    """``nn.ELU``."""

    _option_: ClassVar[str] = "elu"
    type: str = "ELU"
    alpha: float = 1.0
    inplace: Optional[bool] = None


@dataclass
class SigmoidConf(_ActBase):
    """``nn.Sigmoid``."""

    _option_: ClassVar[str] = "sigmoid"
    type: str = "Sigmoid"


@dataclass
class TanhConf(_ActBase):
    """``nn.Tanh``."""

    _option_: ClassVar[str] = "tanh"
    type: str = "Tanh"


@dataclass
class GELUConf(_ActBase):
    """``nn.GELU`` (``approximate``: ``'none'`` or ``'tanh'``)."""

    _option_: ClassVar[str] = "gelu"
    type: str = "GELU"
    approximate: str = "none"


@dataclass
class SiLUConf(_ActBase):
    """``nn.SiLU``."""

    _option_: ClassVar[str] = "silu"
    type: str = "SiLU"
    inplace: Optional[bool] = None


@dataclass
class SwishConf(_ActBase):
    """``Swish``: ``x * sigmoid(x)``."""

    _option_: ClassVar[str] = "swish"
    type: str = "Swish"


@dataclass
class HSwishConf(_ActBase):
    """``HSwish``: ``nn.Hardswish``, ``x * relu6(x + 3) / 6`` (``inplace`` acts in place)."""

    _option_: ClassVar[str] = "hswish"
    type: str = "HSwish"
    inplace: Optional[bool] = None


@dataclass
class HSigmoidConf(_ActBase):
    """``HSigmoid``: ``clamp((x + bias) / divisor, min_value, max_value)``."""

    _option_: ClassVar[str] = "hsigmoid"
    type: str = "HSigmoid"
    bias: float = 3.0
    divisor: float = 6.0
    min_value: float = 0.0
    max_value: float = 1.0


@dataclass
class MishConf(_ActBase):
    """``nn.Mish``."""

    _option_: ClassVar[str] = "mish"
    type: str = "Mish"
    inplace: Optional[bool] = None


@dataclass
class ClampConf(_ActBase):
    """``Clamp``: clamp to ``[min, max]``."""

    _option_: ClassVar[str] = "clamp"
    type: str = "Clamp"
    min: float = -1.0
    max: float = 1.0


@dataclass
class ClipConf(ClampConf):
    """``Clip`` (= ``Clamp``)."""

    _option_: ClassVar[str] = "clip"
    type: str = "Clip"


# --- upsample -------------------------------------------------------------------------------
@dataclass
class _UpsampleBase(_UpsampleFamily):
    size: Any = None
    scale_factor: Any = None
    align_corners: Optional[bool] = None
    recompute_scale_factor: Optional[bool] = None


@dataclass
class NearestUpsampleConf(_UpsampleBase):
    """``nn.Upsample(mode='nearest')``; set ``scale_factor`` or ``size``."""

    _option_: ClassVar[str] = "nearest"
    type: str = "nearest"


@dataclass
class BilinearUpsampleConf(_UpsampleBase):
    """``nn.Upsample(mode='bilinear')``; set ``scale_factor`` or ``size``."""

    _option_: ClassVar[str] = "bilinear"
    type: str = "bilinear"


@dataclass
class PixelShuffleConf(_UpsampleFamily):
    """``PixelShufflePack``: conv to ``out * s**2`` channels, then pixel shuffle."""

    _option_: ClassVar[str] = "pixel_shuffle"
    type: str = "pixel_shuffle"
    scale_factor: int = MISSING
    upsample_kernel: int = MISSING
    device: Any = None
    dtype: Any = None


@dataclass
class DeconvUpsampleConf(_UpsampleFamily, _DeconvBase):
    """``deconv``: mmcv's ``ConvTranspose2d`` wrapper as an upsampling layer."""

    _option_: ClassVar[str] = "deconv"
    type: str = "deconv"


@dataclass
class Deconv3dUpsampleConf(_UpsampleFamily, _DeconvBase):
    """``deconv3d``: mmcv's ``ConvTranspose3d`` wrapper as an upsampling layer."""

    _option_: ClassVar[str] = "deconv3d"
    type: str = "deconv3d"


# --- padding --------------------------------------------------------------------------------
_PadBase = _PaddingFamily


@dataclass
class ZeroPadConf(_PadBase):
    """``nn.ZeroPad2d``; call as ``pad(padding)``."""

    _option_: ClassVar[str] = "zero"
    type: str = "zero"


@dataclass
class ReflectPadConf(_PadBase):
    """``nn.ReflectionPad2d``; call as ``pad(padding)``."""

    _option_: ClassVar[str] = "reflect"
    type: str = "reflect"


@dataclass
class ReplicatePadConf(_PadBase):
    """``nn.ReplicationPad2d``; call as ``pad(padding)``."""

    _option_: ClassVar[str] = "replicate"
    type: str = "replicate"


LAYER_CONFS: tuple[type, ...] = confs_of(__name__)
"""The option dataclasses of this module, in definition order."""
