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

from hydra_cnn.bricks._build import build_layer, layer_factory, resolve_cfg
from hydra_cnn.bricks.torch_compat import adapt_norm_bias
from hydra_cnn.registry import NORM_LAYERS, ConfigKeyError

__all__ = ["LayerNorm2d", "build_norm_layer", "infer_abbr", "is_norm", "make_norm"]


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


_SIZE_NAMES = ("num_features", "num_channels", "normalized_shape")


@functools.lru_cache(maxsize=256)
def _late_size_name(cls: Any) -> str | None:
    """Which keyword of ``cls`` takes the channel count, or None to pass it positionally."""
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return None
    for name in _SIZE_NAMES:
        if name in params:
            return name
    return None


def _prepare(type_name: Any, cls: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
             ) -> tuple[tuple[Any, ...], dict[str, Any]]:
    num_features, rest = args[0], args[1:]
    kwargs = adapt_norm_bias(type_name, cls, kwargs)  # bias= only where this torch takes it
    key = _late_size_name(cls)
    if issubclass(cls, nn.GroupNorm) if inspect.isclass(cls) else False:
        groups = kwargs.get("num_groups", 32)
        if (isinstance(num_features, int) and isinstance(groups, int) and groups > 0
                and num_features % groups != 0):
            raise ValueError(
                f"norm layer {type_name!r}: num_groups={groups} does not divide "
                f"num_features={num_features}; choose a num_groups that divides every channel "
                f"count of the model (e.g. layers.norm.num_groups=...)"
            )
        kwargs.setdefault("num_groups", 32)
    if key is None or key in kwargs:
        return (num_features, *rest), kwargs
    kwargs[key] = num_features
    return rest, kwargs


def build_norm_layer(cfg: Any, num_features: int, postfix: int | str = "") -> tuple[str, nn.Module]:
    """Build a normalization layer and the name to register it under.

    Args:
        cfg: a dict with ``type`` (``BN``, ``BN1d``, ``BN2d``, ``BN3d``, ``SyncBN``, ``GN``,
            ``LN``, ``LN2d``, ``IN``, ``IN1d``, ``IN2d``, ``IN3d`` or a registered name) and
            constructor arguments, or any other accepted config form. ``requires_grad=False``
            freezes the layer's parameters. ``GN`` needs ``num_groups`` (32 when omitted).
        num_features: the channel count, passed as ``num_features``, ``num_channels`` (GN) or
            ``normalized_shape`` (LN).
        postfix: appended to the abbreviation in the returned name.

    Returns:
        ``(name, layer)``, e.g. ``('bn1', BatchNorm2d(...))``.
    """
    if not isinstance(postfix, int | str) or isinstance(postfix, bool):
        raise TypeError(f"postfix must be an int or a str, but got {postfix!r}")
    bound, type_name, data = resolve_cfg(NORM_LAYERS, cfg)
    if bound:
        raise TypeError("a norm factory must not bind positional arguments; call it as norm(num_features)")
    requires_grad = data.pop("requires_grad", True)
    if not isinstance(requires_grad, bool):
        raise TypeError(
            f"norm layer {type_name!r}: requires_grad must be a bool, got {requires_grad!r}"
        )
    cls = NORM_LAYERS.lookup(type_name)
    layer: nn.Module = build_layer(
        NORM_LAYERS, None, (num_features,), {}, prepare=_prepare, resolved=((), type_name, data)
    )
    if not requires_grad:
        for p in layer.parameters():
            p.requires_grad_(False)
    return infer_abbr(cls) + str(postfix), layer  # type: ignore[arg-type]


@layer_factory(NORM_LAYERS)
def make_norm(num_features: int, type: Any = None, **kwargs: Any) -> nn.Module:
    """Build the ``NORM_LAYERS`` member ``type`` for ``num_features`` channels: a ``_target_``.

    A ``layers/norm`` option instantiates to ``partial(make_norm, type=..., ...)``; calling it
    as ``norm(num_features)`` builds a new layer.
    """
    if type is None:
        raise ConfigKeyError(
            f"make_norm needs type= (one of {', '.join(NORM_LAYERS.names())})"
        )
    return build_norm_layer({"type": type, **kwargs}, num_features)[1]
