"""``ConvModule``: a conv, a norm and an activation as named children, run in a chosen order.

    >>> import torch
    >>> from hydra_cnn import ConvModule
    >>> block = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type='BN'))
    >>> [name for name, _ in block.named_children()]
    ['conv', 'bn', 'activate']
    >>> block(torch.randn(1, 3, 16, 16)).shape
    torch.Size([1, 8, 16, 16])

The children are named as in mmcv (``conv``, ``bn``/``gn``/``in``/``ln``, ``activate``), so
state-dict keys match mmcv checkpoints. Each ``*_cfg`` takes any config form the builders
accept: a dict with ``type``, a DictConfig, a structured config (``GNConf(num_groups=2)``), a
factory made by ``hydra.utils.instantiate``, or None.

Differences from mmcv 1.7 (all fixes): ``padding_mode='circular'`` reaches the conv (mmcv
silently zero-padded); activations that take no ``inplace`` (``Clamp``, ``Clip``, ``GELU``,
...) work; ``LN`` (``nn.LayerNorm``, which normalises the last dimension) is refused on conv
maps in favour of ``LN2d``; the block's ``inplace`` is not applied to an activation that runs
first (it would overwrite the caller's input); the conv bias warning is only given when the
norm follows the conv; ``fuse()`` and ``fuse_conv_bn`` respect ``order``. Added from mmcv 2.x:
``efficient_conv_bn_eval`` (with a cached folded weight, so it is never slower than the
unfused block).

Errors keep mmcv's exception classes, with messages that list what is accepted: a ``*_cfg``
that is no config, or a bad ``order``, raises an error that is also an ``AssertionError`` (as
mmcv's assertions); an unknown ``padding_mode`` a ``KeyError`` (mmcv looks it up in
``PADDING_LAYERS``).
"""

from __future__ import annotations

import dataclasses
import functools
import warnings
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, Literal

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from hydra_cnn.bricks.block_layers import build_act, check_conv_map_norm
from hydra_cnn.bricks.conv import build_conv_layer
from hydra_cnn.bricks.fusion import (
    FoldCache,
    conv_bn_eval,
    fold_bn_into_conv,
    has_running_stats,
    is_foldable_conv,
    why_not_foldable,
)
from hydra_cnn.bricks.norm import build_norm_layer
from hydra_cnn.bricks.padding import build_padding_layer
from hydra_cnn.common import ConfigKeyError, InvalidArgumentError, InvalidTypeError
from hydra_cnn.registry import PADDING_LAYERS, PLUGIN_LAYERS

__all__ = ["ConvModule", "DepthwiseSeparableConvModule"]

_ORDER_NAMES = frozenset({"conv", "norm", "act"})
_NATIVE_PADDING = ("zeros", "circular")
_CONV_ATTRS = ("in_channels", "out_channels", "kernel_size", "stride", "dilation", "transposed",
               "output_padding", "groups")


def _as_size(value: Any) -> Any:
    """Lists (YAML, ListConfig) become tuples, as torch's conv arguments expect."""
    if isinstance(value, Sequence) and not isinstance(value, str):
        return tuple(value)
    return value


def _check_order(order: Any) -> tuple[str, str, str]:
    valid = "a permutation of ('conv', 'norm', 'act') as a tuple or list"
    if isinstance(order, str) or not isinstance(order, Sequence):
        raise InvalidArgumentError(f"order must be {valid}, but got {order!r}")
    steps = tuple(order)
    if len(steps) != 3 or set(steps) != _ORDER_NAMES:
        raise InvalidArgumentError(f"order must be {valid}, but got {order!r}")
    return steps


def _check_cfg_form(owner: str, name: str, cfg: Any) -> None:
    """mmcv asserts each ``*_cfg`` is None or a dict; hydra_cnn takes every config form."""
    if cfg is None or isinstance(cfg, Mapping | functools.partial) or dataclasses.is_dataclass(cfg):
        return
    raise InvalidTypeError(
        f"{owner} {name} must be None, a dict with 'type', a DictConfig, a structured config "
        f"(e.g. GNConf(num_groups=2)) or a factory made by instantiate, but got "
        f"{type(cfg).__name__}: {cfg!r}"
    )


def _pad_layer_arg(padding: Any) -> Any:
    """mmcv-style ``(pad_h, pad_w)`` becomes the ``(left, right, top, bottom)`` of nn.*Pad2d."""
    if isinstance(padding, tuple) and len(padding) == 2:
        ph, pw = padding
        return (pw, pw, ph, ph)
    return padding


def _is_default(value: Any) -> bool:
    return isinstance(value, str) and value == "default"


class ConvModule(nn.Module):
    """A conv, an optional norm and an optional activation, run in ``order``.

    ``in_channels``/``out_channels``/``kernel_size``/``stride``/``padding``/``dilation``/
    ``groups`` are the conv's; the conv's attributes are mirrored on the block
    (``self.padding`` is the argument, as in mmcv). The block initialises itself when built:
    kaiming-normal conv weights (``fan_out``, with the activation's nonlinearity), zero conv
    bias, norm weight 1 and bias 0 (see :meth:`init_weights`).

    Args:
        in_channels: input channels.
        out_channels: output channels.
        kernel_size: the conv's kernel size (int or tuple).
        stride: the conv's stride. Default 1.
        padding: the conv's padding, or the padding layer's for ``reflect``/``replicate``/
            ``zero`` modes. Default 0.
        dilation: the conv's dilation. Default 1.
        groups: the conv's groups. Default 1.
        bias: ``True``/``False``, or ``'auto'`` (default): a bias only when there is no norm.
            An explicit ``True`` with a batch/instance norm after the conv warns once.
        conv_cfg: conv config (``type`` from ``CONV_LAYERS``); None (default) is nn.Conv2d.
        norm_cfg: norm config (``type`` from ``NORM_LAYERS``); None (default) is no norm.
            ``LN`` is refused (it normalises the last dimension of a conv map): use ``LN2d``.
        act_cfg: activation config; default ``dict(type='ReLU')``; None is no activation.
        inplace: ``inplace`` for activations that take it, unless the config sets it (a
            structured config's ``inplace=None`` leaves it to the block). Not applied when the
            activation runs first. Default True.
        with_spectral_norm: wrap the conv in ``nn.utils.spectral_norm``. Default False.
        padding_mode: ``'zeros'`` (default) or ``'circular'`` are passed to the conv;
            ``'reflect'``, ``'replicate'``, ``'zero'`` (or any ``PADDING_LAYERS`` name) insert a
            padding layer before the conv, which then pads 0.
        order: a permutation of ``('conv', 'norm', 'act')`` (tuple or list). Default
            conv-norm-act. A norm before the conv normalises ``in_channels``.
        efficient_conv_bn_eval: in eval mode, run conv + batch norm as one conv with folded
            weights (cached between calls). Default False. See
            :meth:`turn_on_efficient_conv_bn_eval`.

    Raises:
        InvalidTypeError: a ``*_cfg`` that is not a config (``conv_cfg='conv'``); a
            ``TypeError`` and, as mmcv's assertion, an ``AssertionError``.
        InvalidArgumentError: an ``order`` that is not a permutation of the three steps; a
            ``ValueError`` and an ``AssertionError``.
        KeyError: an unknown ``padding_mode`` (the message lists the accepted ones) or layer
            type.
        ValueError: ``LN`` as the norm, or a bad ``bias``.

    Example:
        >>> block = ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type='GN', num_groups=2))
        >>> block(torch.randn(1, 3, 16, 16)).shape
        torch.Size([1, 8, 16, 16])
    """

    _abbr_ = "conv_block"
    folds_own_conv_bn: ClassVar[bool] = True  # fuse_conv_bn calls fuse(), which knows order

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] | str = 0,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        bias: bool | str = "auto",
        conv_cfg: Any = None,
        norm_cfg: Any = None,
        act_cfg: Any = dict(type="ReLU"),  # noqa: B006 (never mutated; mmcv's signature)
        inplace: bool = True,
        with_spectral_norm: bool = False,
        padding_mode: str = "zeros",
        order: Sequence[str] = ("conv", "norm", "act"),
        efficient_conv_bn_eval: bool = False,
    ) -> None:
        super().__init__()
        kernel_size, stride, padding, dilation = (
            _as_size(v) for v in (kernel_size, stride, padding, dilation)
        )
        self.order = _check_order(order)
        for name, cfg in (("conv_cfg", conv_cfg), ("norm_cfg", norm_cfg), ("act_cfg", act_cfg)):
            _check_cfg_form("ConvModule", name, cfg)
        self.conv_cfg = conv_cfg
        self.norm_cfg = norm_cfg
        self.act_cfg = act_cfg
        self.inplace = inplace
        self.with_spectral_norm = with_spectral_norm
        self.with_norm = norm_cfg is not None
        self.with_activation = act_cfg is not None
        norm_after_conv = self.order.index("norm") > self.order.index("conv")

        norm_cls = check_conv_map_norm(norm_cfg, "ConvModule")
        if isinstance(bias, str):
            if bias != "auto":
                raise ValueError(f"bias must be True, False or 'auto', but got {bias!r}")
            bias = not self.with_norm
        elif not isinstance(bias, bool):
            raise TypeError(f"bias must be a bool or 'auto', but got {type(bias).__name__}")
        self.with_bias = bias
        if (bias and norm_after_conv and isinstance(norm_cls, type)
                and issubclass(norm_cls, _BatchNorm | _InstanceNorm)):
            warnings.warn("Unnecessary conv bias before batch/instance norm", UserWarning,
                          stacklevel=2)

        # padding: native modes go to the conv, the others through a padding layer
        if not isinstance(padding_mode, str):
            raise TypeError(f"padding_mode must be a str, but got {padding_mode!r}")
        self.padding_mode = padding_mode
        conv_kwargs: dict[str, Any] = {}
        if padding_mode in _NATIVE_PADDING:
            conv_padding = padding
            if padding_mode == "circular":
                conv_kwargs["padding_mode"] = "circular"
        elif padding_mode in PADDING_LAYERS:
            self.padding_layer = build_padding_layer({"type": padding_mode},
                                                     _pad_layer_arg(padding))
            conv_padding = 0
        else:
            accepted = [*_NATIVE_PADDING, *PADDING_LAYERS.names()]
            raise ConfigKeyError(
                f"padding_mode {padding_mode!r} is not supported; accepted: "
                f"{', '.join(repr(m) for m in accepted)}"
            )
        self.with_explicit_padding = padding_mode not in _NATIVE_PADDING

        self.conv = build_conv_layer(
            conv_cfg, in_channels, out_channels, kernel_size, stride=stride, padding=conv_padding,
            dilation=dilation, groups=groups, bias=bias, **conv_kwargs,
        )
        for attr, fallback in zip(
            _CONV_ATTRS,
            (in_channels, out_channels, kernel_size, stride, dilation, False, 0, groups),
            strict=True,
        ):
            setattr(self, attr, getattr(self.conv, attr, fallback))
        self.padding = padding
        if with_spectral_norm:
            self.conv = nn.utils.spectral_norm(self.conv)

        self.norm_name: str | None = None
        if self.with_norm:
            norm_channels = out_channels if norm_after_conv else in_channels
            self.norm_name, norm = build_norm_layer(norm_cfg, norm_channels)
            self.add_module(self.norm_name, norm)

        if self.with_activation:
            act_first = self.order[0] == "act"
            self.activate = build_act(act_cfg, inplace=inplace and not act_first)

        self.efficient_conv_bn_eval = False
        self._fold_cache = FoldCache()
        self._build_plan()
        if efficient_conv_bn_eval:
            self.turn_on_efficient_conv_bn_eval(True)
        self.init_weights()

    # -- building helpers --------------------------------------------------------------------
    def _build_plan(self) -> None:
        """Precompute the names of the children ``forward`` calls, in order.

        Names (not module references) so that swapping a child (``revert_sync_batchnorm``,
        quantisation) keeps working. A norm replaced by ``nn.Identity`` (fused) is skipped.
        """
        mods = self._modules
        steps: list[tuple[str, str]] = []
        for step in self.order:
            if step == "conv":
                if self.with_explicit_padding:
                    steps.append(("padding_layer", "pad"))
                steps.append(("conv", "conv"))
            elif step == "norm":
                if self.norm_name is not None and not isinstance(mods[self.norm_name],
                                                                 nn.Identity):
                    if self.efficient_conv_bn_eval and steps and steps[-1][1] == "conv":
                        steps[-1] = (self.norm_name, "conv_bn")
                    else:
                        steps.append((self.norm_name, "norm"))
            elif self.with_activation:
                steps.append(("activate", "act"))
        self._steps: tuple[tuple[str, str], ...] = tuple(steps)
        self._plan: tuple[str, ...] = tuple(name for name, _ in steps)
        self._fast = all(kind != "conv_bn" for _, kind in steps)

    # -- public API --------------------------------------------------------------------------
    @property
    def norm(self) -> nn.Module | None:
        """The norm child (``self.bn``, ``self.gn``, ...), or None without a norm."""
        if self.norm_name is None:
            return None
        return getattr(self, self.norm_name)

    def init_weights(self) -> None:
        """Initialise as mmcv does: kaiming-normal conv, norm weight 1 and bias 0.

        The conv weight gets ``kaiming_normal_(mode='fan_out')`` with ``nonlinearity=
        'leaky_relu'`` and ``a=negative_slope`` when the activation is a LeakyReLU, else
        ``'relu'`` (``a=0``); its bias is zeroed. A conv with its own ``init_weights`` is left to
        it. With spectral norm, ``weight_orig`` is initialised. Called by ``__init__``; a
        ``BaseModule`` parent never lets this default undo its own ``init_cfg``.
        """
        conv = self.conv
        if not hasattr(conv, "init_weights"):
            act = getattr(self, "activate", None)
            nonlinearity: Literal["leaky_relu", "relu"] = "relu"
            a = 0.0
            if isinstance(act, nn.LeakyReLU):
                nonlinearity, a = "leaky_relu", float(act.negative_slope)
            weight = getattr(conv, "weight_orig", None)
            if weight is None:
                weight = getattr(conv, "weight", None)
            if isinstance(weight, torch.Tensor):
                nn.init.kaiming_normal_(weight, a=a, mode="fan_out", nonlinearity=nonlinearity)
            bias = getattr(conv, "bias", None)
            if isinstance(bias, torch.Tensor):
                nn.init.zeros_(bias)
        norm = self.norm
        if norm is not None:
            weight = getattr(norm, "weight", None)
            if isinstance(weight, torch.Tensor):
                nn.init.ones_(weight)
            bias = getattr(norm, "bias", None)
            if isinstance(bias, torch.Tensor):
                nn.init.zeros_(bias)

    def _conv_bn_foldable(self) -> bool:
        """Conv directly followed by a batch norm, with a conv whose weight can be folded."""
        if self.norm_name is None:
            return False
        conv_at = self.order.index("conv")
        if conv_at == 2 or self.order[conv_at + 1] != "norm":
            return False
        return isinstance(self.norm, _BatchNorm)

    def fuse(self) -> ConvModule:
        """Fold the batch norm into the conv, for inference; in place, returns ``self``.

        Only when the conv runs right before a batch norm that tracks running stats and the
        conv uses its weight as it is; otherwise nothing changes. The norm child becomes
        ``nn.Identity()`` (so ``bn.*`` keys leave the state dict) and ``forward`` skips it.

        Example:
            >>> m = ConvModule(3, 8, 3, norm_cfg=dict(type='BN')).eval().fuse()
            >>> m.bn
            Identity()
        """
        norm = self.norm
        if norm is None or not self._conv_bn_foldable() or not has_running_stats(norm):
            return self
        reason = why_not_foldable(self.conv)
        if reason is not None:
            warnings.warn(f"ConvModule.fuse: not folding {self.norm_name!r} into 'conv': {reason}",
                          UserWarning, stacklevel=2)
            return self
        fold_bn_into_conv(self.conv, norm)  # type: ignore[arg-type]
        setattr(self, self.norm_name, nn.Identity())  # type: ignore[arg-type]
        self.with_bias = True
        self.efficient_conv_bn_eval = False
        self._fold_cache.clear()
        self._build_plan()
        return self

    def turn_on_efficient_conv_bn_eval(self, efficient_conv_bn_eval: bool = True) -> None:
        """Switch the efficient conv-BN eval mode on (or off).

        In eval mode (the batch norm not training, running stats present) the conv and the
        batch norm run as one conv with weights folded on the fly (arXiv 2305.11624): less
        memory when training with frozen BN statistics, and no BN pass at inference. Under
        ``torch.no_grad``/``inference_mode`` the folded weight is cached and recomputed only
        when a parameter or statistic changes (tracked by tensor versions). In training mode
        the block runs as usual. Supported when a batch norm directly follows a stock
        ``nn.Conv1d/2d/3d`` (no spectral norm); otherwise this does nothing and
        ``self.efficient_conv_bn_eval`` stays False.

        Args:
            efficient_conv_bn_eval: True (default) to switch on, False to switch off.

        Example:
            >>> block = ConvModule(3, 8, 3, norm_cfg=dict(type='BN')).eval()
            >>> block.turn_on_efficient_conv_bn_eval()
            >>> block.efficient_conv_bn_eval
            True
        """
        self.efficient_conv_bn_eval = bool(
            efficient_conv_bn_eval and self._conv_bn_foldable()
            and is_foldable_conv(self.conv, on_the_fly=True)
        )
        self._fold_cache.clear()
        self._build_plan()

    # -- forward -----------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, activate: bool = True, norm: bool = True) -> torch.Tensor:
        """Run the block's steps in ``order``.

        Args:
            x: the input, ``(N, in_channels, ...)``.
            activate: run the activation. Default True; False skips it.
            norm: run the norm. Default True; False skips it.
        """
        if self._fast and activate and norm:
            mods = self._modules
            for name in self._plan:
                x = mods[name](x)  # type: ignore[misc]
            return x
        return self._forward_steps(x, activate, norm)

    def _forward_steps(self, x: torch.Tensor, activate: bool, norm: bool) -> torch.Tensor:
        mods = self._modules
        first = True
        for name, kind in self._steps:
            if kind == "conv_bn":
                x = self._conv_bn_eval(x, name) if norm else mods["conv"](x)  # type: ignore[misc]
            elif (kind == "norm" and not norm) or (kind == "act" and not activate):
                continue
            else:
                if first and kind == "act" and getattr(mods[name], "inplace", False) is True:
                    x = x.clone()  # norm=False made an in-place activation run on the input
                x = mods[name](x)  # type: ignore[misc]
            first = False
        return x

    def _conv_bn_eval(self, x: torch.Tensor, bn_name: str) -> torch.Tensor:
        mods = self._modules
        return conv_bn_eval(mods["conv"], mods[bn_name], x, self._fold_cache)

    def _apply(self, fn: Any, recurse: bool = True) -> ConvModule:
        self._fold_cache.clear()  # .to()/.half() may swap storage without a version bump
        return super()._apply(fn, recurse)


ConvModule.init_weights._is_default_init = True  # type: ignore[attr-defined]


class DepthwiseSeparableConvModule(nn.Module):
    """A depthwise ``ConvModule`` (``groups=in_channels``) then a pointwise 1x1 ``ConvModule``.

    Args:
        in_channels: input channels (also the depthwise conv's output channels).
        out_channels: output channels of the pointwise conv.
        kernel_size: the depthwise conv's kernel size.
        stride: the depthwise conv's stride. Default 1.
        padding: the depthwise conv's padding. Default 0.
        dilation: the depthwise conv's dilation. Default 1.
        norm_cfg: norm config for both convs; None (default) is no norm.
        act_cfg: activation config for both convs; default ``dict(type='ReLU')``.
        dw_norm_cfg: the depthwise conv's norm config; ``'default'`` (default) uses
            ``norm_cfg``.
        dw_act_cfg: the depthwise conv's activation; ``'default'`` (default) uses ``act_cfg``.
        pw_norm_cfg: the pointwise conv's norm config; ``'default'`` (default) uses
            ``norm_cfg``.
        pw_act_cfg: the pointwise conv's activation; ``'default'`` (default) uses ``act_cfg``.
        **kwargs: other :class:`ConvModule` arguments for both convs (``conv_cfg``, ``bias``,
            ``inplace``, ``order``, ``padding_mode``, ...). ``groups`` is refused with
            ``InvalidTypeError`` (a ``TypeError`` and, as mmcv's assertion, an
            ``AssertionError``).

    Example:
        >>> m = DepthwiseSeparableConvModule(8, 16, 3, padding=1, norm_cfg=dict(type='BN'))
        >>> m(torch.randn(1, 8, 8, 8)).shape
        torch.Size([1, 16, 8, 8])
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        dilation: int | tuple[int, ...] = 1,
        norm_cfg: Any = None,
        act_cfg: Any = dict(type="ReLU"),  # noqa: B006 (never mutated; mmcv's signature)
        dw_norm_cfg: Any = "default",
        dw_act_cfg: Any = "default",
        pw_norm_cfg: Any = "default",
        pw_act_cfg: Any = "default",
        **kwargs: Any,
    ) -> None:
        super().__init__()
        if "groups" in kwargs:
            raise InvalidTypeError(
                f"DepthwiseSeparableConvModule got groups={kwargs['groups']!r}, which it does "
                "not accept: the depthwise conv always uses groups=in_channels and the "
                "pointwise conv groups=1"
            )
        dw_norm_cfg = norm_cfg if _is_default(dw_norm_cfg) else dw_norm_cfg
        dw_act_cfg = act_cfg if _is_default(dw_act_cfg) else dw_act_cfg
        pw_norm_cfg = norm_cfg if _is_default(pw_norm_cfg) else pw_norm_cfg
        pw_act_cfg = act_cfg if _is_default(pw_act_cfg) else pw_act_cfg
        self.depthwise_conv = ConvModule(
            in_channels, in_channels, kernel_size, stride=stride, padding=padding,
            dilation=dilation, groups=in_channels, norm_cfg=dw_norm_cfg, act_cfg=dw_act_cfg,
            **kwargs,
        )
        self.pointwise_conv = ConvModule(
            in_channels, out_channels, 1, norm_cfg=pw_norm_cfg, act_cfg=pw_act_cfg, **kwargs
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Depthwise then pointwise."""
        return self.pointwise_conv(self.depthwise_conv(x))


PLUGIN_LAYERS.add_builtin("ConvModule", ConvModule)
PLUGIN_LAYERS.add_builtin("DepthwiseSeparableConvModule", DepthwiseSeparableConvModule)
