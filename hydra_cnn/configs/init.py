"""Structured configs for the initializers: the options of the ``init`` config group.

Each dataclass mirrors its initializer's constructor (``KaimingInitConf`` <-> ``KaimingInit``)
and adds keys that :func:`hydra_cnn.make_init` (the ``_target_``) handles:

- ``override``: mmcv's ``override`` entries (``dict(name='fc', type='Normal', std=0.01)``);
- ``norm``: init configs applied after the main one. The shipped options use it to keep
  normalization layers at weight 1, bias 0;
- ``seed``: keyed init for this config, its ``norm`` and its ``override`` entries (default
  null: the global RNG, or the seed the caller passed to ``initialize``/``init_weights``).

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

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

from hydra_cnn.common import MISSING, ConfigKeyError, brief, did_you_mean
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
    "init_conf_from_mmcv",
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
    seed: Optional[int] = None
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
    seed: Optional[int] = None
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
    seed: Optional[int] = None
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
    seed: Optional[int] = None
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
    seed: Optional[int] = None
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
    seed: Optional[int] = None
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
    seed: Optional[int] = None
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
    weights_only: bool = True
    override: Any = None


CONFS: tuple[type, ...] = confs_of(__name__)
"""The option dataclasses of this module, in definition order."""


def _conf_for(type_name: Any) -> type:
    by_type = {conf.type: conf for conf in CONFS}  # type: ignore[attr-defined]
    if isinstance(type_name, str) and type_name in by_type:
        return by_type[type_name]
    raise ConfigKeyError(
        f"init type {type_name!r} has no structured config. Known: "
        f"{', '.join(sorted(by_type))}.{did_you_mean(str(type_name), by_type)}"
    )


def init_conf_from_mmcv(cfg: Any) -> Any:
    """The structured init config that means exactly what an mmcv init dict means.

    Copying an mmcv ``init_cfg`` into a shipped option field by field changes its meaning,
    because the options' defaults are made to be useful on their own: ``layer`` covers every
    conv and linear class, and ``norm`` sets every norm to 1/0 afterwards. In mmcv a dict
    without ``layer`` initialises nothing but its ``override`` children, and there is no
    ``norm``. This converter sets those two fields to mmcv's meaning (``layer`` as given, or
    ``[]``; ``norm=None``) and copies every other key, so the seeded weights are mmcv's::

        >>> init_conf_from_mmcv(dict(type='Normal', std=0.01, override=dict(name='conv_seg')))
        ... # doctest: +NORMALIZE_WHITESPACE
        NormalInitConf(_target_='hydra_cnn.make_init', _partial_=False, type='Normal',
                       mean=0.0, std=0.01, bias=0.0, bias_prob=None, layer=[],
                       override={'name': 'conv_seg'}, seed=None, norm=None)

    Args:
        cfg: an mmcv init dict (``dict(type='Kaiming', layer='Conv2d', ...)``, any mapping),
            or a list of them.

    Returns:
        The dataclass instance (``KaimingInitConf(...)``), or a list of them for a list;
        ``instantiate`` / ``initialize`` / ``init_cfg=`` take them as they take the options.

    Raises:
        TypeError: ``cfg`` is not a mapping or a list of them, or has a key the type does not
            take (naming the closest one).
        KeyError: no ``type``, or a type without a structured config.
    """
    if isinstance(cfg, list | tuple):
        return [init_conf_from_mmcv(item) for item in cfg]
    if not isinstance(cfg, Mapping):
        raise TypeError(f"init_conf_from_mmcv takes an mmcv init dict or a list of them, but "
                        f"got {type(cfg).__name__}: {brief(cfg)}")
    data = {k: v for k, v in cfg.items() if not (isinstance(k, str) and k.startswith("_"))}
    if "type" not in data:
        raise ConfigKeyError(f'an init config must contain the key "type", but got {brief(data)}')
    conf = _conf_for(data.pop("type"))
    names = [f.name for f in dataclasses.fields(conf) if not f.name.startswith("_")]
    for key in data:
        if key not in names or key == "norm":  # ``norm`` is hydra_cnn's, not mmcv's
            keys = [n for n in names if n not in ("type", "norm")]
            raise TypeError(
                f"init type {conf.type!r} has no key {key!r} in mmcv. Accepted: "  # type: ignore[attr-defined]
                f"{', '.join(keys)}.{did_you_mean(str(key), keys)}"
            )
    if "layer" in names:
        layer = data.get("layer")
        data["layer"] = [] if layer is None else [layer] if isinstance(layer, str) else list(layer)
    if "norm" in names:
        data["norm"] = None
    return conf(**data)
