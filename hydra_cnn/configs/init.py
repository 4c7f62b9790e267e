"""Structured configs for the initializers: the options of the ``init`` config group.

Each dataclass mirrors its initializer's constructor (``KaimingInitConf`` <-> ``KaimingInit``)
and adds two keys that :func:`hydra_cnn.make_init` (the ``_target_``) handles:

- ``override``: mmcv's ``override`` entries (``dict(name='fc', type='Normal', std=0.01)``);
- ``norm``: init configs applied after the main one. The shipped options use it to keep
  normalization layers at weight 1, bias 0.

Defaults make an option useful on its own: ``layer`` lists every conv, transposed conv and
linear class (:data:`DEFAULT_INIT_LAYERS`; subclasses match too, since ``layer`` is matched
against each module's MRO), and ``norm`` is ``Constant(val=1, bias=0)`` on every norm class
(:data:`DEFAULT_NORM_LAYERS`). So ``model/init=xavier`` re-initialises a whole model and the report
shows it. ``PretrainedInitConf`` has neither (it loads every key the checkpoint has).

``instantiate`` returns the initializer object (``_partial_`` is false)::

    >>> from hydra.utils import instantiate
    >>> init = instantiate(KaimingInitConf(mode='fan_in'))    # doctest: +SKIP
    >>> initialize(model, init)                               # doctest: +SKIP

This module never imports torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from hydra_cnn.common import MISSING
from hydra_cnn.configs.base import confs_of, group_of, partial_of, target_of

# ruff: noqa: UP045  (Optional[...] reads better in config schemas and OmegaConf supports it)

__all__ = [
    "CONFS",
    "DEFAULT_INIT_LAYERS",
    "DEFAULT_NORM_LAYERS",
    "Caffe2XavierInitConf",
    "ConstantInitConf",
    "KaimingInitConf",
    "NormalInitConf",
    "PretrainedInitConf",
    "TruncNormalInitConf",
    "UniformInitConf",
    "XavierInitConf",
]

DEFAULT_INIT_LAYERS: tuple[str, ...] = (
    "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d",
    "Linear",
)
"""The default ``layer`` of the shipped init options (subclasses such as ``ConvWS2d`` match)."""

DEFAULT_NORM_LAYERS: tuple[str, ...] = (
    "BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "SyncBatchNorm", "GroupNorm", "LayerNorm",
    "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d",
)
"""The norm classes the shipped options' ``norm`` companion sets to weight 1, bias 0."""

def _conv_linear() -> list[str]:
    return list(DEFAULT_INIT_LAYERS)


def _norm_ones() -> dict[str, Any]:
    return {"type": "Constant", "val": 1.0, "bias": 0.0, "layer": list(DEFAULT_NORM_LAYERS)}


@dataclass
class _InitFamily:
    """The init family's config group, ``_target_`` and ``_partial_``, from the family table."""

    _group_: ClassVar[str] = group_of("init")
    _option_: ClassVar[str] = ""
    _target_: str = target_of("init")
    _partial_: bool = partial_of("init")
    type: str = MISSING


@dataclass
class ConstantInitConf(_InitFamily):
    """Constant init: weights = val, biases = bias (norms 1/0)."""

    _option_: ClassVar[str] = "constant"
    type: str = "Constant"
    val: float = MISSING
    bias: float = 0.0
    bias_prob: Optional[float] = None
    layer: Any = field(default_factory=_conv_linear)
    override: Any = None
    norm: Any = field(default_factory=_norm_ones)


@dataclass
class XavierInitConf(_InitFamily):
    """Xavier (Glorot) init of conv and linear weights (norms 1/0)."""

    _option_: ClassVar[str] = "xavier"
    type: str = "Xavier"
    gain: float = 1.0
    distribution: str = "normal"
    bias: float = 0.0
    bias_prob: Optional[float] = None
    layer: Any = field(default_factory=_conv_linear)
    override: Any = None
    norm: Any = field(default_factory=_norm_ones)


@dataclass
class NormalInitConf(_InitFamily):
    """Normal init N(mean, std^2) of conv and linear weights (norms 1/0)."""

    _option_: ClassVar[str] = "normal"
    type: str = "Normal"
    mean: float = 0.0
    std: float = 1.0
    bias: float = 0.0
    bias_prob: Optional[float] = None
    layer: Any = field(default_factory=_conv_linear)
    override: Any = None
    norm: Any = field(default_factory=_norm_ones)


@dataclass
class TruncNormalInitConf(_InitFamily):
    """Truncated normal init of conv and linear weights (norms 1/0)."""

    _option_: ClassVar[str] = "trunc_normal"
    type: str = "TruncNormal"
    mean: float = 0.0
    std: float = 1.0
    a: float = -2.0
    b: float = 2.0
    bias: float = 0.0
    bias_prob: Optional[float] = None
    layer: Any = field(default_factory=_conv_linear)
    override: Any = None
    norm: Any = field(default_factory=_norm_ones)


@dataclass
class UniformInitConf(_InitFamily):
    """Uniform init U(a, b) of conv and linear weights (norms 1/0)."""

    _option_: ClassVar[str] = "uniform"
    type: str = "Uniform"
    a: float = 0.0
    b: float = 1.0
    bias: float = 0.0
    bias_prob: Optional[float] = None
    layer: Any = field(default_factory=_conv_linear)
    override: Any = None
    norm: Any = field(default_factory=_norm_ones)


@dataclass
class KaimingInitConf(_InitFamily):
    """Kaiming (He) init of conv and linear weights, fan_out/relu as mmcv (norms 1/0)."""

    _option_: ClassVar[str] = "kaiming"
    type: str = "Kaiming"
    a: float = 0.0
    mode: str = "fan_out"
    nonlinearity: str = "relu"
    distribution: str = "normal"
    bias: float = 0.0
    bias_prob: Optional[float] = None
    layer: Any = field(default_factory=_conv_linear)
    override: Any = None
    norm: Any = field(default_factory=_norm_ones)


@dataclass
class Caffe2XavierInitConf(_InitFamily):
    """Caffe2 "xavier" (kaiming uniform, a=1, fan_in) of conv and linear weights (norms 1/0)."""

    _option_: ClassVar[str] = "caffe2_xavier"
    type: str = "Caffe2Xavier"
    bias: float = 0.0
    bias_prob: Optional[float] = None
    layer: Any = field(default_factory=_conv_linear)
    override: Any = None
    norm: Any = field(default_factory=_norm_ones)


@dataclass
class PretrainedInitConf(_InitFamily):
    """Load weights from a checkpoint (path, URL or zoo name such as torchvision://resnet50)."""

    _option_: ClassVar[str] = "pretrained"
    type: str = "Pretrained"
    checkpoint: str = MISSING
    prefix: Optional[str] = None
    map_location: Optional[str] = "cpu"
    zoo: Any = None
    revise_keys: Any = None
    state_dict_key: Optional[str] = None
    override: Any = None


CONFS: tuple[type, ...] = confs_of(__name__)
"""The option dataclasses of this module, in definition order."""
"""Every init option's dataclass, for :func:`hydra_cnn.configs.builtin_confs`."""
