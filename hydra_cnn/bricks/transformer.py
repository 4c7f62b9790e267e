"""Transformer bricks (mmcv 1.7's ``mmcv/cnn/bricks/transformer.py``): attention, FFN, layers.

Five registries (in :mod:`hydra_cnn.registry`), each with its builder:

================================  ==================================  ===========================
registry (mmcv's name)            builder                             built-in members
================================  ==================================  ===========================
``ATTENTION``                     :func:`build_attention`             ``MultiheadAttention``
``FEEDFORWARD_NETWORK``           :func:`build_feedforward_network`   ``FFN``
``POSITIONAL_ENCODING``           :func:`build_positional_encoding`   (none; downstream packages)
``TRANSFORMER_LAYER``             :func:`build_transformer_layer`     ``BaseTransformerLayer``
``TRANSFORMER_LAYER_SEQUENCE``    :func:`build_transformer_layer_sequence`
                                                                      ``TransformerLayerSequence``
================================  ==================================  ===========================

plus :class:`PatchEmbed`, :class:`PatchMerging` and :class:`AdaptivePadding` (registered
nowhere, as in mmcv). Arguments, deprecated arguments (they warn with ``DeprecationWarning``),
state-dict keys and initialisation are mmcv's, so mmcv checkpoints load unchanged:

    >>> import torch
    >>> layer = BaseTransformerLayer(
    ...     attn_cfgs=dict(type='MultiheadAttention', embed_dims=8, num_heads=2),
    ...     ffn_cfgs=dict(embed_dims=8, feedforward_channels=16),
    ...     operation_order=('self_attn', 'norm', 'ffn', 'norm'), batch_first=True)
    >>> layer(torch.zeros(2, 5, 8)).shape
    torch.Size([2, 5, 8])
    >>> sorted(layer.state_dict())[:2]
    ['attentions.0.attn.in_proj_bias', 'attentions.0.attn.in_proj_weight']

Where mmcv 1.7 has a bug, these classes do what mmcv meant, and say so in their docstrings:
configs passed in are never mutated (mmcv writes into them and into its own default dicts, so
one ``dropout=`` leaked into later instances); a ``BaseTransformerLayer`` built with the default
``ffn_cfgs`` takes the attention's ``embed_dims`` (mmcv fails unless it is 256); unknown keyword
arguments of ``FFN`` and ``BaseTransformerLayer`` warn (mmcv ignores them silently); errors
name the bad value (mmcv's bare asserts); a wrong value still raises an ``AssertionError``
subclass where mmcv asserts.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar, cast

import torch
import torch.nn.functional as F
from torch import nn

from hydra_cnn.bricks._checks import check_choice, check_int
from hydra_cnn.bricks.activation import build_activation_layer
from hydra_cnn.bricks.conv import build_conv_layer
from hydra_cnn.bricks.dropout import build_dropout
from hydra_cnn.bricks.norm import build_norm_layer
from hydra_cnn.bricks.wrappers import Linear
from hydra_cnn.common import InvalidArgumentError, InvalidTypeError, brief
from hydra_cnn.init.base_module import BaseModule, ModuleList, Sequential
from hydra_cnn.registry import (
    ATTENTION,
    DROPOUT_LAYERS,
    FEEDFORWARD_NETWORK,
    POSITIONAL_ENCODING,
    TRANSFORMER_LAYER,
    TRANSFORMER_LAYER_SEQUENCE,
    Registry,
    build_from_cfg,
    layer_factory,
)

__all__ = [
    "plain_cfg", "FFN", "AdaptivePadding", "BaseTransformerLayer", "MultiheadAttention", "PatchEmbed",
    "PatchMerging", "TransformerLayerSequence", "build_attention", "build_feedforward_network",
    "build_positional_encoding", "build_transformer_layer", "build_transformer_layer_sequence",
    "make_attention", "make_ffn", "make_positional_encoding", "make_transformer_layer",
    "make_transformer_layer_sequence",
]

F_ = TypeVar("F_", bound=Callable[..., Any])



class _ReadOnlyDict(dict):
    """A default config that no instance can change for the next (copies are plain dicts)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise TypeError("a default config is read-only; copy it (dict(cfg)) to change it")

    __setitem__ = __delitem__ = __ior__ = _refuse
    update = pop = popitem = setdefault = clear = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return {k: copy.deepcopy(v, memo) for k, v in self.items()}

    def __reduce__(self) -> Any:
        return dict, (dict(self),)


_MHA_DROPOUT = _ReadOnlyDict(type="Dropout", drop_prob=0.0)
_RELU = _ReadOnlyDict(type="ReLU", inplace=True)
_LN = _ReadOnlyDict(type="LN")
_DEFAULT_FFN = _ReadOnlyDict({
    "type": "FFN", "embed_dims": 256, "feedforward_channels": 1024, "num_fcs": 2,
    "ffn_drop": 0.0, "act_cfg": _RELU,
})
_OPERATIONS = ("self_attn", "norm", "ffn", "cross_attn")
# BaseTransformerLayer's legacy FFN keywords -> the FFN argument each sets
_LEGACY_FFN_ARGS = {"feedforward_channels": "feedforward_channels", "ffn_dropout": "ffn_drop",
                    "ffn_num_fcs": "num_fcs"}


# -- helpers -----------------------------------------------------------------------------------
def _renamed_kwargs(renames: Mapping[str, str], where: str) -> Callable[[F_], F_]:
    """Accept the old keyword names in ``renames`` with a ``DeprecationWarning`` (mmcv's
    ``deprecated_api_warning``); passing an old name and its new name together is an error."""

    def decorate(fn: F_) -> F_:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            for old, new in renames.items():
                if old not in kwargs:
                    continue
                if new in kwargs:
                    raise InvalidArgumentError(
                        f"{where}: {old!r} is the deprecated name of {new!r}; pass only {new!r}, "
                        f"not both ({old}={brief(kwargs[old])}, {new}={brief(kwargs[new])})"
                    )
                warnings.warn(f'"{old}" is deprecated in `{where}`, please use "{new}" instead',
                              DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def _warn_ignored(owner: str, kwargs: Mapping[str, Any], accepted: Iterable[str] = ()) -> None:
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        warnings.warn(f"{owner} ignores the keyword arguments {', '.join(unknown)} (mmcv 1.7 "
                      "accepts and ignores them too); remove them", UserWarning, stacklevel=3)


def plain_cfg(registry: Registry, cfg: Any, default_type: str | None = None) -> dict[str, Any]:
    """A private plain-dict copy (``type`` included) of any accepted config form of ``registry``.

    Building from the copy never mutates the caller's config.
    """
    if default_type is not None and isinstance(cfg, Mapping) and "type" not in cfg:
        cfg = {**cfg, "type": default_type}
    res = registry.resolve(cfg)
    if res.args:
        raise TypeError(f"a {registry.name} config must not bind positional arguments, but got "
                        f"{brief(res.args)}")
    return {"type": res.type, **copy.deepcopy(res.kwargs)}


def _is_one_cfg(cfg: Any) -> bool:
    """Whether ``cfg`` is a single config (not a sequence of them)."""
    import dataclasses

    return isinstance(cfg, Mapping | functools.partial) or dataclasses.is_dataclass(cfg)


def _cfg_list(owner: str, name: str, cfgs: Any, count: int) -> list[Any]:
    """``count`` configs: copies of one config, or a sequence of exactly ``count``."""
    if _is_one_cfg(cfgs):
        return [cfgs] * count
    if cfgs is None or isinstance(cfgs, str) or not isinstance(cfgs, Sequence | Iterable):
        raise InvalidTypeError(f"{owner}: {name} must be a config or a sequence of {count} "
                               f"configs, but got {brief(cfgs)}")
    items = list(cfgs)
    if len(items) != count:
        raise InvalidArgumentError(
            f"{owner}: {name} has {len(items)} configs, but {count} are needed (one per "
            f"operation in operation_order, or num_layers)"
        )
    return items


def _to_2tuple(owner: str, name: str, value: Any) -> tuple[Any, Any]:
    """mmcv's ``to_2tuple``: a scalar ``v`` -> ``(v, v)``; a pair stays (as a tuple)."""
    if isinstance(value, Iterable) and not isinstance(value, str):
        pair = tuple(value)
        if len(pair) != 2:
            raise InvalidArgumentError(f"{owner}: {name} must be an int or a pair, but got {value!r}")
        return pair
    return value, value


# -- builders ----------------------------------------------------------------------------------
def build_positional_encoding(cfg: Any, default_args: Mapping[str, Any] | None = None) -> Any:
    """Build a positional encoding from ``POSITIONAL_ENCODING`` (mmcv's builder).

    hydra_cnn ships no positional encoding (nor does mmcv 1.7); register your own.
    """
    return build_from_cfg(cfg, POSITIONAL_ENCODING, default_args)


def build_attention(cfg: Any, default_args: Mapping[str, Any] | None = None) -> Any:
    """Build an attention module from ``ATTENTION`` (``MultiheadAttention`` or a registered one).

    Example:
        >>> build_attention(dict(type='MultiheadAttention', embed_dims=8, num_heads=2)).num_heads
        2
    """
    return build_from_cfg(cfg, ATTENTION, default_args)


def build_feedforward_network(cfg: Any, default_args: Mapping[str, Any] | None = None) -> Any:
    """Build a feed-forward network from ``FEEDFORWARD_NETWORK`` (``FFN`` or a registered one)."""
    return build_from_cfg(cfg, FEEDFORWARD_NETWORK, default_args)


def build_transformer_layer(cfg: Any, default_args: Mapping[str, Any] | None = None) -> Any:
    """Build a transformer layer from ``TRANSFORMER_LAYER`` (``BaseTransformerLayer``, ...)."""
    return build_from_cfg(cfg, TRANSFORMER_LAYER, default_args)


def build_transformer_layer_sequence(cfg: Any, default_args: Mapping[str, Any] | None = None) -> Any:
    """Build a layer sequence from ``TRANSFORMER_LAYER_SEQUENCE`` (``TransformerLayerSequence``)."""
    return build_from_cfg(cfg, TRANSFORMER_LAYER_SEQUENCE, default_args)


@layer_factory(ATTENTION)
def make_attention(*args: Any, type: Any = "MultiheadAttention", **kwargs: Any) -> nn.Module:
    """Build the ``ATTENTION`` member ``type``: the ``layers/attention`` options' ``_target_``.

    An option instantiates to ``partial(make_attention, type=..., num_heads=...)``; calling it
    as ``attn(embed_dims)`` (or ``attn(embed_dims=...)``) builds a new module.
    """
    return ATTENTION.build_layer({"type": type, **kwargs}, *args)


@layer_factory(FEEDFORWARD_NETWORK)
def make_ffn(*args: Any, type: Any = "FFN", **kwargs: Any) -> nn.Module:
    """Build the ``FEEDFORWARD_NETWORK`` member ``type``: the ``layers/ffn`` options' ``_target_``;
    call the factory as ``ffn(embed_dims)``."""
    return FEEDFORWARD_NETWORK.build_layer({"type": type, **kwargs}, *args)


@layer_factory(POSITIONAL_ENCODING)
def make_positional_encoding(*args: Any, type: Any = None, **kwargs: Any) -> nn.Module:
    """Build the ``POSITIONAL_ENCODING`` member ``type``: a Hydra ``_target_``."""
    return POSITIONAL_ENCODING.build_layer({"type": type, **kwargs}, *args)


@layer_factory(TRANSFORMER_LAYER)
def make_transformer_layer(type: Any = "BaseTransformerLayer", **kwargs: Any) -> nn.Module:
    """Build the ``TRANSFORMER_LAYER`` member ``type``: a Hydra ``_target_``."""
    return build_transformer_layer({"type": type, **kwargs})


@layer_factory(TRANSFORMER_LAYER_SEQUENCE)
def make_transformer_layer_sequence(type: Any = "TransformerLayerSequence", **kwargs: Any
                                    ) -> nn.Module:
    """Build the ``TRANSFORMER_LAYER_SEQUENCE`` member ``type``: a Hydra ``_target_``."""
    return build_transformer_layer_sequence({"type": type, **kwargs})


# -- patches -----------------------------------------------------------------------------------
class AdaptivePadding(nn.Module):
    """Zero-pad a map so that a window of ``kernel_size``/``stride``/``dilation`` covers it all.

    Per axis the padded size gives exactly ``ceil(size / stride)`` windows (TensorFlow's
    ``"SAME"``). ``'corner'`` puts all padding bottom/right; ``'same'`` splits it, the odd pixel
    bottom/right. Nothing is padded (the input is returned) when no padding is needed.

    Args:
        kernel_size, stride, dilation: an int or an ``(h, w)`` pair each. Default 1.
        padding: ``'corner'`` (default) or ``'same'``.

    Example:
        >>> AdaptivePadding(kernel_size=16, stride=16)(torch.zeros(1, 3, 20, 33)).shape
        torch.Size([1, 3, 32, 48])
    """

    def __init__(self, kernel_size: Any = 1, stride: Any = 1, dilation: Any = 1,
                 padding: str = "corner") -> None:
        super().__init__()
        self.padding = check_choice("AdaptivePadding", "padding", padding, ("same", "corner"))
        self.kernel_size = _to_2tuple("AdaptivePadding", "kernel_size", kernel_size)
        self.stride = _to_2tuple("AdaptivePadding", "stride", stride)
        self.dilation = _to_2tuple("AdaptivePadding", "dilation", dilation)

    def get_pad_shape(self, input_shape: Sequence[int]) -> tuple[int, int]:
        """``(pad_h, pad_w)`` for an ``(H, W)`` input."""
        pads = []
        for size, k, s, d in zip(input_shape, self.kernel_size, self.stride, self.dilation,
                                 strict=True):
            out = math.ceil(size / s)
            pads.append(max((out - 1) * s + (k - 1) * d + 1 - size, 0))
        return pads[0], pads[1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pad_h, pad_w = self.get_pad_shape(x.shape[-2:])
        if pad_h > 0 or pad_w > 0:
            if self.padding == "corner":
                x = F.pad(x, [0, pad_w, 0, pad_h])
            else:
                x = F.pad(x, [pad_w // 2, pad_w - pad_w // 2, pad_h // 2, pad_h - pad_h // 2])
        return x


def _out_size(size: Sequence[int], padding: Sequence[int], dilation: Sequence[int],
              kernel: Sequence[int], stride: Sequence[int]) -> tuple[int, int]:
    h, w = ((i + 2 * p - d * (k - 1) - 1) // s + 1
            for i, p, d, k, s in zip(size, padding, dilation, kernel, stride, strict=True))
    return h, w



def _patch_geometry(owner: str, kernel_size: Any, stride: Any, dilation: Any, padding: Any
                    ) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int],
                               AdaptivePadding | None]:
    """Pairs of ``kernel_size``/``stride``/``dilation``/``padding`` for a patch layer; a string
    ``padding`` (``'corner'``/``'same'``) becomes an :class:`AdaptivePadding` and zero padding."""
    kernel_size = _to_2tuple(owner, "kernel_size", kernel_size)
    stride = _to_2tuple(owner, "stride", stride)
    dilation = _to_2tuple(owner, "dilation", dilation)
    adaptive = None
    if isinstance(padding, str):
        adaptive = AdaptivePadding(kernel_size, stride, dilation, padding)
        padding = 0
    return kernel_size, stride, dilation, _to_2tuple(owner, "padding", padding), adaptive

class PatchEmbed(BaseModule):
    """Image to patch tokens: a strided conv, flattened to ``(B, h*w, embed_dims)``, then a norm.

    Args:
        in_channels: input channels. Default 3.
        embed_dims: token width (the conv's out channels). Default 768.
        conv_type: a ``CONV_LAYERS`` name for the projection. Default ``'Conv2d'``.
        kernel_size: patch size. Default 16.
        stride: patch stride; None means ``kernel_size``. Default 16.
        padding: a string (``'corner'``, ``'same'``) pads adaptively (:class:`AdaptivePadding`)
            so that no pixel is dropped; an int or pair is the conv's own padding.
            Default ``'corner'``.
        dilation: the conv's dilation. Default 1.
        bias: the conv's bias. Default True.
        norm_cfg: a token norm (``dict(type='LN')``) or None (default).
        input_size: an image size (int or pair); when given, ``init_out_size`` is the token grid
            it gives (else None). Default None.
        init_cfg: initialisation config (:class:`~hydra_cnn.BaseModule`). Default None.

    ``forward(x)`` returns ``(tokens, (h, w))``. State dict: ``projection.*``, ``norm.*``.

    Example:
        >>> tokens, hw = PatchEmbed(3, 32, kernel_size=4, stride=4)(torch.zeros(2, 3, 30, 30))
        >>> tokens.shape, hw
        (torch.Size([2, 64, 32]), (8, 8))
    """

    def __init__(self, in_channels: int = 3, embed_dims: int = 768, conv_type: str = "Conv2d",
                 kernel_size: Any = 16, stride: Any = 16, padding: Any = "corner",
                 dilation: Any = 1, bias: bool = True, norm_cfg: Any = None,
                 input_size: Any = None, init_cfg: Any = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.embed_dims = embed_dims
        if stride is None:
            stride = kernel_size
        kernel_size, stride, dilation, padding, self.adaptive_padding = _patch_geometry(
            "PatchEmbed", kernel_size, stride, dilation, padding)
        self.projection = build_conv_layer(
            dict(type=conv_type), in_channels=in_channels, out_channels=embed_dims,
            kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, bias=bias)
        self.norm = build_norm_layer(norm_cfg, embed_dims)[1] if norm_cfg is not None else None
        if input_size:
            size = _to_2tuple("PatchEmbed", "input_size", input_size)
            self.init_input_size: tuple[int, int] | None = size
            if self.adaptive_padding is not None:
                pad_h, pad_w = self.adaptive_padding.get_pad_shape(size)
                size = (size[0] + pad_h, size[1] + pad_w)
            self.init_out_size: tuple[int, int] | None = _out_size(
                size, padding, dilation, kernel_size, stride)
        else:
            self.init_input_size = None
            self.init_out_size = None

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        """``(B, C, H, W)`` -> ``((B, h*w, embed_dims), (h, w))``."""
        if self.adaptive_padding is not None:
            x = self.adaptive_padding(x)
        x = self.projection(x)
        out_size = (int(x.shape[2]), int(x.shape[3]))
        x = x.flatten(2).transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return x, out_size


class PatchMerging(BaseModule):
    """Merge each ``kernel_size`` group of neighbouring tokens into one (Swin's downsampling).

    The group is gathered by ``nn.Unfold`` (so each merged vector is channel-major: all kernel
    positions of channel 0, then channel 1, ...: mmcv's order, not the original Swin
    concatenation), normed, then reduced by a linear layer.

    Args:
        in_channels: token width in.
        out_channels: token width out.
        kernel_size: the merged group's size. Default 2.
        stride: the group stride; None (or 0) means ``kernel_size``. Default None.
        padding: ``'corner'``/``'same'`` pads adaptively (odd sizes keep their last row and
            column); an int or pair is the unfold's padding. Default ``'corner'``.
        dilation: the unfold's dilation. Default 1.
        bias: the reduction's bias. Default False.
        norm_cfg: norm of the gathered ``k*k*in_channels`` vectors, or None.
            Default ``dict(type='LN')``.
        init_cfg: initialisation config. Default None.

    ``forward(x, input_size)`` takes ``(B, H*W, C)`` tokens and ``(H, W)`` and returns
    ``(merged, (h, w))``. State dict: ``norm.*``, ``reduction.weight`` (+ ``bias``).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any = 2,
                 stride: Any = None, padding: Any = "corner", dilation: Any = 1,
                 bias: bool = False, norm_cfg: Any = _LN, init_cfg: Any = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        if not stride:
            stride = kernel_size
        kernel_size, stride, dilation, padding, self.adaptive_padding = _patch_geometry(
            "PatchMerging", kernel_size, stride, dilation, padding)
        self.sampler = nn.Unfold(kernel_size=kernel_size, dilation=dilation, padding=padding,
                                 stride=stride)
        sample_dim = kernel_size[0] * kernel_size[1] * in_channels
        self.norm = build_norm_layer(norm_cfg, sample_dim)[1] if norm_cfg is not None else None
        self.reduction = nn.Linear(sample_dim, out_channels, bias=bias)

    def forward(self, x: torch.Tensor, input_size: Sequence[int]
                ) -> tuple[torch.Tensor, tuple[int, int]]:
        """``(B, H*W, C)`` tokens of an ``(H, W)`` grid -> ``((B, h*w, out_channels), (h, w))``."""
        if not isinstance(input_size, Sequence) or len(input_size) != 2:
            raise InvalidTypeError(f"PatchMerging: input_size must be a sequence (H, W), but got "
                                   f"{brief(input_size)}")
        batch, length, channels = x.shape
        h, w = int(input_size[0]), int(input_size[1])
        if length != h * w:
            raise InvalidArgumentError(
                f"PatchMerging: input feature has wrong size: {length} tokens for input_size "
                f"{(h, w)} ({h * w} expected)")
        x = x.view(batch, h, w, channels).permute(0, 3, 1, 2)
        if self.adaptive_padding is not None:
            x = self.adaptive_padding(x)
            h, w = x.shape[-2:]
        x = self.sampler(x)
        unfold = self.sampler
        out_size = _out_size((h, w), unfold.padding, unfold.dilation,  # type: ignore[arg-type]
                             unfold.kernel_size, unfold.stride)  # type: ignore[arg-type]
        x = x.transpose(1, 2)
        if self.norm is not None:
            x = self.norm(x)
        return self.reduction(x), out_size


# -- attention and FFN -------------------------------------------------------------------------
class MultiheadAttention(BaseModule):
    """``nn.MultiheadAttention`` with an identity shortcut, positional encodings and dropout.

    ``forward`` returns ``identity + dropout_layer(proj_drop(attn(q + query_pos, k + key_pos,
    v)))``. Registered in ``ATTENTION``.

    Args:
        embed_dims: the width; divisible by ``num_heads``.
        num_heads: attention heads.
        attn_drop: dropout on the attention weights. Default 0.0.
        proj_drop: dropout after the output projection. Default 0.0.
        dropout_layer: a ``DROPOUT_LAYERS`` config applied to the attention's output before the
            shortcut (``DropPath`` for stochastic depth), or None. Default
            ``dict(type='Dropout', drop_prob=0.)``.
        init_cfg: initialisation config. Default None (torch's own init of the attention).
        batch_first: inputs are ``(batch, n, embed_dims)``; else ``(n, batch, embed_dims)``.
            Default False.
        **kwargs: passed to :class:`torch.nn.MultiheadAttention` (``bias``, ``kdim``, ``vdim``,
            ``add_bias_kv``, ...). The deprecated ``dropout=p`` sets ``attn_drop`` and the
            dropout layer's ``drop_prob`` (with a ``DeprecationWarning``).

    State dict (torch's): ``attn.in_proj_weight``, ``attn.in_proj_bias``,
    ``attn.out_proj.weight``, ``attn.out_proj.bias``.
    """

    def __init__(self, embed_dims: int, num_heads: int, attn_drop: float = 0.0,
                 proj_drop: float = 0.0, dropout_layer: Any = _MHA_DROPOUT, init_cfg: Any = None,
                 batch_first: bool = False, **kwargs: Any) -> None:
        super().__init__(init_cfg)
        if "dropout" in kwargs:
            warnings.warn(
                "The argument `dropout` in MultiheadAttention has been deprecated; set "
                "`attn_drop` (float), `proj_drop` (float) and `dropout_layer` (dict) separately",
                DeprecationWarning, stacklevel=2)
            attn_drop = kwargs.pop("dropout")
            if dropout_layer is None:
                raise InvalidTypeError(
                    "MultiheadAttention: the deprecated dropout= sets dropout_layer's drop_prob, "
                    "but dropout_layer is None; pass attn_drop= instead")
            dropout_layer = {**plain_cfg(DROPOUT_LAYERS, dropout_layer), "drop_prob": attn_drop}
        embed_dims = check_int("MultiheadAttention", "embed_dims", embed_dims)
        num_heads = check_int("MultiheadAttention", "num_heads", num_heads)
        if embed_dims % num_heads:
            raise InvalidArgumentError(f"MultiheadAttention: embed_dims={embed_dims} must be "
                                       f"divisible by num_heads={num_heads}")
        self.embed_dims = embed_dims
        self.num_heads = num_heads
        self.batch_first = batch_first
        self.attn = nn.MultiheadAttention(embed_dims, num_heads, attn_drop, **kwargs)
        self.proj_drop = nn.Dropout(proj_drop)
        self.dropout_layer = build_dropout(dropout_layer) if dropout_layer else nn.Identity()

    @_renamed_kwargs({"residual": "identity"}, "MultiheadAttention.forward")
    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, identity: torch.Tensor | None = None,
                query_pos: torch.Tensor | None = None, key_pos: torch.Tensor | None = None,
                attn_mask: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Attend ``query`` to ``key``/``value`` and add ``identity``.

        Args:
            query: ``(num_queries, bs, embed_dims)``, or ``(bs, num_queries, embed_dims)`` when
                ``batch_first``.
            key: default ``query``. value: default ``key`` (no positional encoding is added).
            identity: the shortcut; default ``query`` (before ``query_pos``).
            query_pos: added to ``query``; also to ``key`` when ``key_pos`` is None and the
                shapes agree (else a warning, and the key gets none).
            key_pos: added to ``key``.
            attn_mask: ``(num_queries, num_keys)`` (or per head), as torch's.
            key_padding_mask: ``(bs, num_keys)``, True where a key is padding.
            **kwargs: ignored (a transformer layer passes its extra arguments to every
                attention).

        Returns:
            The same layout as ``query``.
        """
        if key is None:
            key = query
        if value is None:
            value = key
        if identity is None:
            identity = query
        if key_pos is None and query_pos is not None:
            if query_pos.shape == key.shape:
                key_pos = query_pos
            else:
                warnings.warn(f"position encoding of key is missing in {type(self).__name__}.",
                              UserWarning, stacklevel=2)
        if query_pos is not None:
            query = query + query_pos
        if key_pos is not None:
            key = key + key_pos
        if self.batch_first:
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        out = self.attn(query=query, key=key, value=value, attn_mask=attn_mask,
                        key_padding_mask=key_padding_mask, need_weights=False)[0]
        if self.batch_first:
            out = out.transpose(0, 1)
        return identity + self.dropout_layer(self.proj_drop(out))


class FFN(BaseModule):
    """Feed-forward network: ``num_fcs`` linear layers with activation and dropout, plus identity.

    Registered in ``FEEDFORWARD_NETWORK``. Layout (mmcv's, so its checkpoints load):
    ``layers.0`` ... ``layers.{num_fcs-2}`` are ``Sequential(Linear, act, Dropout)``,
    ``layers.{num_fcs-1}`` the last ``Linear`` and ``layers.{num_fcs}`` a ``Dropout``; for
    ``num_fcs=2`` the keys are ``layers.0.0.weight/bias`` and ``layers.1.weight/bias``. One
    activation module is shared by every block and is also the child ``activate`` (so a
    parametric activation's one tensor appears under each name, as in mmcv).

    Args:
        embed_dims: input and output width. Default 256.
        feedforward_channels: hidden width. Default 1024.
        num_fcs: linear layers, >= 2. Default 2.
        act_cfg: the activation config. Default ``dict(type='ReLU', inplace=True)``.
        ffn_drop: dropout after each block. Default 0.0 (deprecated name: ``dropout``).
        dropout_layer: a ``DROPOUT_LAYERS`` config applied before the shortcut, or None.
        add_identity: add the input (or ``identity``) to the output. Default True
            (deprecated name: ``add_residual``).
        init_cfg: initialisation config. Default None.
        **kwargs: accepted for mmcv configs; a warning names them (they are not used).

    Example:
        >>> FFN(8, 32)(torch.zeros(2, 5, 8)).shape
        torch.Size([2, 5, 8])
    """

    @_renamed_kwargs({"dropout": "ffn_drop", "add_residual": "add_identity"}, "FFN.__init__")
    def __init__(self, embed_dims: int = 256, feedforward_channels: int = 1024, num_fcs: int = 2,
                 act_cfg: Any = _RELU, ffn_drop: float = 0.0, dropout_layer: Any = None,
                 add_identity: bool = True, init_cfg: Any = None, **kwargs: Any) -> None:
        super().__init__(init_cfg)
        _warn_ignored("FFN", kwargs)
        num_fcs = check_int("FFN", "num_fcs", num_fcs, minimum=None)
        if num_fcs < 2:
            raise InvalidArgumentError(f"FFN: num_fcs should be no less than 2. got {num_fcs}.")
        self.embed_dims = check_int("FFN", "embed_dims", embed_dims)
        self.feedforward_channels = check_int("FFN", "feedforward_channels", feedforward_channels)
        self.num_fcs = num_fcs
        self.act_cfg = act_cfg
        self.activate = build_activation_layer(act_cfg)
        layers: list[nn.Module] = []
        in_channels = embed_dims
        for _ in range(num_fcs - 1):
            layers.append(Sequential(Linear(in_channels, feedforward_channels), self.activate,
                                     nn.Dropout(ffn_drop)))
            in_channels = feedforward_channels
        layers.append(Linear(feedforward_channels, embed_dims))
        layers.append(nn.Dropout(ffn_drop))
        self.layers = Sequential(*layers)
        self.dropout_layer = build_dropout(dropout_layer) if dropout_layer else nn.Identity()
        self.add_identity = add_identity

    @_renamed_kwargs({"residual": "identity"}, "FFN.forward")
    def forward(self, x: torch.Tensor, identity: torch.Tensor | None = None) -> torch.Tensor:
        """``identity + dropout_layer(layers(x))`` (``identity`` defaults to ``x``); without
        ``add_identity`` just ``dropout_layer(layers(x))``."""
        out = self.layers(x)
        if not self.add_identity:
            return self.dropout_layer(out)
        if identity is None:
            identity = x
        return identity + self.dropout_layer(out)


# -- layers ------------------------------------------------------------------------------------
class BaseTransformerLayer(BaseModule):
    """A transformer layer: attentions, FFNs and norms run in ``operation_order``.

    Registered in ``TRANSFORMER_LAYER``. ``operation_order`` is a sequence of
    ``'self_attn'``, ``'cross_attn'``, ``'norm'`` and ``'ffn'`` (any order and count, at least
    one attention): ``('self_attn', 'norm', 'ffn', 'norm')`` is post-norm (DETR's encoder),
    ``('norm', 'self_attn', 'norm', 'ffn')`` pre-norm (ViT). In pre-norm layers every attention
    and FFN adds the input of the block (before its norm) as its shortcut.

    Args:
        attn_cfgs: one ``ATTENTION`` config (copied for every attention) or one per attention,
            in order. A config without ``batch_first`` gets the layer's; one with a different
            ``batch_first`` is an error.
        ffn_cfgs: one ``FEEDFORWARD_NETWORK`` config (``type`` defaults to ``'FFN'``) or one
            per ``'ffn'``. Their ``embed_dims`` must be the attentions' (left out, it is set).
            The default (mmcv's ``FFN(embed_dims=256, feedforward_channels=1024, num_fcs=2,
            ffn_drop=0., act_cfg=ReLU)``) takes the attention's ``embed_dims`` (mmcv 1.7
            refuses any other than 256 there).
        operation_order: the operations; required (None, the default, is an error).
        norm_cfg: the norm of every ``'norm'``. Default ``dict(type='LN')``.
        init_cfg: initialisation config. Default None.
        batch_first: inputs are ``(batch, n, embed_dims)``. Default False.
        **kwargs: mmcv's deprecated FFN arguments ``feedforward_channels``, ``ffn_dropout`` and
            ``ffn_num_fcs`` set the FFN configs' ``feedforward_channels``, ``ffn_drop`` and
            ``num_fcs`` (with a ``DeprecationWarning``); other names warn that they are ignored.

    State dict: ``attentions.<i>.*``, ``ffns.<i>.*``, ``norms.<i>.*`` (indexed by occurrence).
    """

    def __init__(self, attn_cfgs: Any = None, ffn_cfgs: Any = _DEFAULT_FFN,
                 operation_order: Any = None, norm_cfg: Any = _LN, init_cfg: Any = None,
                 batch_first: bool = False, **kwargs: Any) -> None:
        owner = type(self).__name__
        ffn_default = ffn_cfgs is _DEFAULT_FFN
        legacy = {old: kwargs[old] for old in _LEGACY_FFN_ARGS if old in kwargs}
        _warn_ignored(owner, kwargs, _LEGACY_FFN_ARGS)
        super().__init__(init_cfg)
        self.batch_first = batch_first
        if operation_order is None or isinstance(operation_order, str):
            raise InvalidTypeError(
                f"{owner}: operation_order must be a sequence of {', '.join(_OPERATIONS)}, e.g. "
                f"('self_attn', 'norm', 'ffn', 'norm'), but got {operation_order!r}")
        operation_order = tuple(operation_order)
        bad = [op for op in operation_order if op not in _OPERATIONS]
        if bad:
            raise InvalidArgumentError(
                f"{owner}: operation_order {operation_order!r} has {bad!r}; its operations must be "
                f"among {', '.join(repr(o) for o in _OPERATIONS)}")
        num_attn = operation_order.count("self_attn") + operation_order.count("cross_attn")
        if num_attn == 0:
            raise InvalidArgumentError(f"{owner}: operation_order {operation_order!r} has no "
                                       "'self_attn' or 'cross_attn'; a layer needs one")
        attn_list = _cfg_list(owner, "attn_cfgs", attn_cfgs, num_attn)
        self.num_attn = num_attn
        self.operation_order = operation_order
        self.norm_cfg = norm_cfg
        self.pre_norm = operation_order[0] == "norm"
        self.attentions = ModuleList()
        ops = iter(op for op in operation_order if op in ("self_attn", "cross_attn"))
        for cfg, op in zip(attn_list, ops, strict=True):
            cfg = plain_cfg(ATTENTION, cfg)
            if "batch_first" in cfg and cfg["batch_first"] != batch_first:
                raise InvalidArgumentError(
                    f"{owner}: attention config batch_first={cfg['batch_first']!r} differs from "
                    f"the layer's batch_first={batch_first!r}; leave it out or make them agree")
            cfg.setdefault("batch_first", batch_first)
            attention = build_attention(cfg)
            attention.operation_name = op
            self.attentions.append(attention)
        self.embed_dims: int = cast(int, self.attentions[0].embed_dims)
        self.ffns = ModuleList()
        for cfg in self._ffn_cfgs(owner, ffn_cfgs, ffn_default, legacy,
                                  operation_order.count("ffn")):
            self.ffns.append(build_feedforward_network(cfg, dict(type="FFN")))
        self.norms = ModuleList()
        for _ in range(operation_order.count("norm")):
            self.norms.append(build_norm_layer(norm_cfg, self.embed_dims)[1])

    def _ffn_cfgs(self, owner: str, ffn_cfgs: Any, ffn_default: bool, legacy: Mapping[str, Any],
                  count: int) -> list[dict[str, Any]]:
        cfgs = [plain_cfg(FEEDFORWARD_NETWORK, c, "FFN")
                for c in _cfg_list(owner, "ffn_cfgs", ffn_cfgs, count)]
        for old, value in legacy.items():
            new = _LEGACY_FFN_ARGS[old]
            warnings.warn(
                f"The argument `{old}` in {owner} has been deprecated; set `{new}` in a dict "
                f"named `ffn_cfgs` instead", DeprecationWarning, stacklevel=3)
            for cfg in cfgs:
                cfg[new] = value
        for cfg in cfgs:
            if ffn_default:
                cfg["embed_dims"] = self.embed_dims
            elif cfg.setdefault("embed_dims", self.embed_dims) != self.embed_dims:
                raise InvalidArgumentError(
                    f"{owner}: ffn_cfgs embed_dims={cfg['embed_dims']!r} differs from the "
                    f"attention's embed_dims={self.embed_dims}; leave it out or make them agree")
        return cfgs

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, query_pos: torch.Tensor | None = None,
                key_pos: torch.Tensor | None = None, attn_masks: Any = None,
                query_key_padding_mask: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Run ``operation_order`` on ``query``.

        Self-attention attends the current ``query`` to itself (``query_pos`` for both, mask
        ``query_key_padding_mask``); cross-attention attends it to ``key``/``value``
        (``key_pos``, ``key_padding_mask``). ``attn_masks`` is one mask per attention, or one
        tensor for all (with a warning), or None. Extra ``kwargs`` go to every attention.

        Returns:
            The new ``query``, in the input's layout.
        """
        if attn_masks is None:
            masks: list[Any] = [None] * self.num_attn
        elif isinstance(attn_masks, torch.Tensor):
            warnings.warn(f"Use same attn_mask in all attentions in {type(self).__name__} ",
                          UserWarning, stacklevel=2)
            masks = [attn_masks] * self.num_attn
        else:
            masks = list(attn_masks)
            if len(masks) != self.num_attn:
                raise InvalidArgumentError(
                    f"The length of attn_masks {len(masks)} must be equal to the number of "
                    f"attention in operation_order {self.num_attn}")
        norm_i = attn_i = ffn_i = 0
        identity = query
        for op in self.operation_order:
            if op == "norm":
                query = self.norms[norm_i](query)
                norm_i += 1
            elif op == "ffn":
                query = self.ffns[ffn_i](query, identity if self.pre_norm else None)
                ffn_i += 1
            else:
                self_attn = op == "self_attn"
                query = self.attentions[attn_i](
                    query, query if self_attn else key, query if self_attn else value,
                    identity if self.pre_norm else None, query_pos=query_pos,
                    key_pos=query_pos if self_attn else key_pos, attn_mask=masks[attn_i],
                    key_padding_mask=query_key_padding_mask if self_attn else key_padding_mask,
                    **kwargs)
                attn_i += 1
                identity = query
        return query


class TransformerLayerSequence(BaseModule):
    """``num_layers`` transformer layers applied in turn (no final norm).

    Registered in ``TRANSFORMER_LAYER_SEQUENCE``.

    Args:
        transformerlayers: one ``TRANSFORMER_LAYER`` config (copied ``num_layers`` times) or a
            list of ``num_layers`` configs; each needs its ``type``.
        num_layers: the number of layers (>= 1).
        init_cfg: initialisation config. Default None.

    State dict: ``layers.<i>.*``. ``embed_dims`` and ``pre_norm`` are the first layer's.
    """

    def __init__(self, transformerlayers: Any = None, num_layers: Any = None,
                 init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        owner = type(self).__name__
        if num_layers is None:
            raise InvalidTypeError(f"{owner}: num_layers must be an int >= 1 (the number of "
                                   "transformerlayers configs), but got None")
        num_layers = check_int(owner, "num_layers", num_layers)
        cfgs = _cfg_list(owner, "transformerlayers", transformerlayers, num_layers)
        self.num_layers = num_layers
        self.layers = ModuleList()
        for cfg in cfgs:
            self.layers.append(build_transformer_layer(cfg))
        self.embed_dims = self.layers[0].embed_dims
        self.pre_norm = self.layers[0].pre_norm

    def forward(self, query: torch.Tensor, key: torch.Tensor | None = None,
                value: torch.Tensor | None = None, query_pos: torch.Tensor | None = None,
                key_pos: torch.Tensor | None = None,
                attn_masks: Any = None, query_key_padding_mask: torch.Tensor | None = None,
                key_padding_mask: torch.Tensor | None = None, **kwargs: Any) -> torch.Tensor:
        """Apply every layer (each gets the same ``key``, ``value``, encodings and masks).

        ``key`` and ``value`` (needed by cross-attention only) default to None here; mmcv 1.7
        makes them required positional arguments.
        """
        for layer in self.layers:
            query = layer(query, key, value, query_pos=query_pos, key_pos=key_pos,
                          attn_masks=attn_masks, query_key_padding_mask=query_key_padding_mask,
                          key_padding_mask=key_padding_mask, **kwargs)
        return query


ATTENTION.add_builtin("MultiheadAttention", MultiheadAttention)
FEEDFORWARD_NETWORK.add_builtin("FFN", FFN)
TRANSFORMER_LAYER.add_builtin("BaseTransformerLayer", BaseTransformerLayer)
TRANSFORMER_LAYER_SEQUENCE.add_builtin("TransformerLayerSequence", TransformerLayerSequence)
