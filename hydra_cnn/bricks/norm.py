"""Normalization layers: the ``NORM_LAYERS`` registry's members and its builders.

    >>> from hydra_cnn import build_norm_layer
    >>> build_norm_layer(dict(type='GN', num_groups=2), 8)
    ('gn', GroupNorm(2, 8, eps=1e-05, affine=True))
"""

from __future__ import annotations

import functools
import inspect
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from hydra_cnn.bricks.torch_compat import adapt_norm_bias
from hydra_cnn.common import ConfigKeyError, InvalidArgumentError, InvalidTypeError
from hydra_cnn.families import FAMILIES
from hydra_cnn.registry import NORM_LAYERS, family_defaults, layer_factory

__all__ = ["LayerNorm2d", "build_norm_layer", "infer_abbr", "is_norm", "make_norm", "prepare_norm"]

NORM_FAMILY = FAMILIES["norm"]


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channels of ``(N, C, H, W)`` maps, at every position (``LN2d``).

    ``nn.LayerNorm`` normalises the trailing dimensions, which for conv maps is the spatial
    ones; this layer normalises ``C`` instead (as in ConvNeXt).

    Args:
        num_channels: ``C``.
        eps, elementwise_affine, bias, device, dtype: as :class:`torch.nn.LayerNorm`.
    """

    _abbr_ = "ln"

    def __init__(
        self,
        num_channels: int,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: Any = None,
        dtype: Any = None,
    ) -> None:
        super().__init__(num_channels, eps, elementwise_affine, bias, device=device, dtype=dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() < 3:
            raise ValueError(
                f"LayerNorm2d expects (N, C, ...) input with C={self.normalized_shape[0]}, "
                f"got shape {tuple(x.shape)}"
            )
        return super().forward(x.movedim(1, -1)).movedim(-1, 1)


NORM_LAYERS.add_builtin(["BN", "BN2d"], nn.BatchNorm2d)
NORM_LAYERS.add_builtin("BN1d", nn.BatchNorm1d)
NORM_LAYERS.add_builtin("BN3d", nn.BatchNorm3d)
NORM_LAYERS.add_builtin("SyncBN", nn.SyncBatchNorm)
NORM_LAYERS.add_builtin("GN", nn.GroupNorm)
NORM_LAYERS.add_builtin("LN", nn.LayerNorm)
NORM_LAYERS.add_builtin("LN2d", LayerNorm2d)
NORM_LAYERS.add_builtin(["IN", "IN2d"], nn.InstanceNorm2d)
NORM_LAYERS.add_builtin("IN1d", nn.InstanceNorm1d)
NORM_LAYERS.add_builtin("IN3d", nn.InstanceNorm3d)


def infer_abbr(class_type: type) -> str:
    """Return the abbreviation used to name a norm layer (``bn``, ``gn``, ``ln``, ``in``).

    Rules, first match wins: the class's ``_abbr_`` attribute; the torch base class
    (instance norm, batch norm, group norm, layer norm); a keyword in the lower-cased class
    name (``batch``, ``group``, ``layer``, ``instance``); otherwise ``'norm_layer'``.

    Raises:
        TypeError: when ``class_type`` is not a class.
    """
    if not inspect.isclass(class_type):
        raise TypeError(f"class_type must be a type, but got {type(class_type).__name__}")
    abbr = getattr(class_type, "_abbr_", None)
    if isinstance(abbr, str):
        return abbr
    for base, short in ((_InstanceNorm, "in"), (_BatchNorm, "bn"), (nn.GroupNorm, "gn"),
                        (nn.LayerNorm, "ln")):
        if issubclass(class_type, base):
            return short
    name = class_type.__name__.lower()
    for word, short in (("batch", "bn"), ("group", "gn"), ("layer", "ln"), ("instance", "in")):
        if word in name:
            return short
    return "norm_layer"


_NORM_TYPES = (_BatchNorm, _InstanceNorm, nn.GroupNorm, nn.LayerNorm)


def is_norm(layer: nn.Module, exclude: type | tuple[type, ...] | None = None) -> bool:
    """Whether ``layer`` is a batch, instance, group or layer norm (and not of ``exclude``).

    Raises:
        TypeError: when ``exclude`` is not None, a type or a tuple of types.
    """
    if exclude is not None:
        if not isinstance(exclude, tuple):
            exclude = (exclude,)
        if not all(inspect.isclass(e) for e in exclude):
            raise TypeError(
                f'"exclude" must be either None or type or a tuple of types, but got {exclude!r}'
            )
        if isinstance(layer, exclude):
            return False
    return isinstance(layer, _NORM_TYPES)


def _auto_groups(num_features: int) -> int:
    """32, or the largest divisor of ``num_features`` below 32 (``num_groups: null``)."""
    return next(g for g in range(min(32, num_features), 0, -1) if num_features % g == 0)


@functools.lru_cache(maxsize=256)
def _late_size_name(cls: Any) -> str | None:
    """Which keyword of ``cls`` takes the channel count (the family's late names, in order)."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    return next((name for name in NORM_FAMILY.late if name in params), None)


def prepare_norm(type_name: Any, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                 ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """The norm family's prepare hook: place the channel count, settle GroupNorm's groups.

    The channel count (the first positional argument) goes to the class's ``num_features``,
    ``num_channels`` (GroupNorm) or ``normalized_shape`` (LayerNorm). For GroupNorm,
    ``num_groups=None`` means automatic (:func:`_auto_groups`); an explicit count must divide
    the channels; no ``num_groups`` at all is an error, as in mmcv.

    Raises:
        InvalidArgumentError: for a missing or non-dividing ``num_groups``.
    """
    label = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "?")
    kwargs = adapt_norm_bias(type_name, cls, kwargs)  # bias= only where this torch takes it
    key = _late_size_name(cls)
    if args and key is not None and key not in kwargs:
        kwargs[key] = args[0]
        args = args[1:]
    if inspect.isclass(cls) and issubclass(cls, nn.GroupNorm):
        channels = kwargs.get("num_channels")
        if "num_groups" not in kwargs:
            raise InvalidArgumentError(
                f"norm layer {label!r} needs num_groups (as in mmcv); give a count that divides "
                "the channels, or num_groups=None for 32 or the largest divisor below 32"
            )
        groups = kwargs["num_groups"]
        if groups is None and isinstance(channels, int) and channels > 0:
            kwargs["num_groups"] = _auto_groups(channels)
        elif (isinstance(channels, int) and isinstance(groups, int) and not isinstance(groups, bool)
              and groups > 0 and channels % groups != 0):
            raise InvalidArgumentError(
                f"norm layer {label!r}: num_groups={groups} does not divide "
                f"num_channels={channels}; set num_groups to a divisor of every channel count "
                "of the model, or to None (null) for automatic groups"
            )
    return args, kwargs


def build_norm_layer(cfg: Any, num_features: int, postfix: int | str = "") -> tuple[str, nn.Module]:
    """Build a normalization layer and the name to register it under.

    Args:
        cfg: a dict with ``type`` (``BN``, ``BN1d``, ``BN2d``, ``BN3d``, ``SyncBN``, ``GN``,
            ``LN``, ``LN2d``, ``IN``, ``IN1d``, ``IN2d``, ``IN3d`` or a registered name) and
            constructor arguments, or any other accepted config form. ``requires_grad=False``
            freezes the layer's parameters. ``GN`` needs ``num_groups`` (an int that divides
            ``num_features``, or None for automatic groups). ``eps`` is 1e-5 unless the config
            sets it (mmcv's rule, also for registered classes whose own default differs).
        num_features: the channel count, passed as ``num_features``, ``num_channels`` (GN) or
            ``normalized_shape`` (LN).
        postfix: appended to the abbreviation in the returned name.

    Returns:
        ``(name, layer)``, e.g. ``('bn1', BatchNorm2d(...))``.

    Raises:
        InvalidTypeError: when ``postfix`` is not an int or a str (also an AssertionError).
    """
    if not isinstance(postfix, int | str) or isinstance(postfix, bool):
        raise InvalidTypeError(f"postfix must be an int or a str, but got {postfix!r}")
    res = NORM_LAYERS.resolve(cfg)
    if res.args:
        raise TypeError("a norm factory must not bind positional arguments; call it as norm(num_features)")
    cls = NORM_LAYERS.lookup(res.type)
    defaults = family_defaults(NORM_LAYERS, cls)  # eps=1e-5 (the family table's defaults)
    layer: nn.Module = NORM_LAYERS.build_layer(None, num_features, default_args=defaults, resolved=res)
    return infer_abbr(cls) + str(postfix), layer


@layer_factory(NORM_LAYERS)
def make_norm(num_features: int, type: Any = None, **kwargs: Any) -> nn.Module:
    """Build the ``NORM_LAYERS`` member ``type`` for ``num_features`` channels: a ``_target_``.

    A ``layers/norm`` option instantiates to ``partial(make_norm, type=..., ...)``; calling it
    as ``norm(num_features)`` builds a new layer.
    """
    if type is None:
        raise ConfigKeyError(
            f'make_norm needs the key "type" (one of {", ".join(NORM_LAYERS.names())})'
        )
    return build_norm_layer({"type": type, **kwargs}, num_features)[1]
