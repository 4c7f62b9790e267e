"""Conv-BN folding for inference, and conversion between BatchNorm and SyncBatchNorm.

``fuse_conv_bn`` folds every batch norm that directly follows a convolution (siblings, in
registration order, as in mmcv) into the convolution's weight and bias, in place::

    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8), nn.ReLU()).eval()
    >>> fuse_conv_bn(model)
    Sequential(
      (0): Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1))
      (1): Identity()
      (2): ReLU()
    )

``revert_sync_batchnorm`` turns ``nn.SyncBatchNorm`` layers back into batch norms that run on
CPU (for inference without a process group); ``convert_sync_batchnorm`` does the opposite for
distributed training.

Differences from mmcv 1.7: Conv1d and Conv3d are folded too (not only Conv2d); a batch norm
with ``affine=False`` folds (mmcv crashed); one without running statistics is skipped; inside a
``ConvModule`` the norm folds only when the conv runs right before it (``order``), and convs
whose forward transforms the weight (weight standardisation, spectral norm) are never folded.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.conv import _ConvNd

from hydra_cnn.bricks import wrappers

__all__ = [
    "FoldCache",
    "conv_bn_eval",
    "convert_sync_batchnorm",
    "fold_bn_into_conv",
    "fold_conv_bn_tensors",
    "fuse_conv_bn",
    "has_running_stats",
    "is_foldable_conv",
    "revert_sync_batchnorm",
    "why_not_foldable",
]

# torch's own conv forwards, and mmcv's wrappers (``Conv``/``Conv3d``), which call them
_STOCK_FORWARDS = (nn.Conv1d.forward, nn.Conv2d.forward, nn.Conv3d.forward,
                   wrappers.Conv2d.forward, wrappers.Conv3d.forward)


def _has_weight_hooks(conv: nn.Module) -> bool:
    """Whether something rewrites ``conv.weight`` at call time (spectral norm, parametrize)."""
    if hasattr(conv, "weight_orig") or hasattr(conv, "parametrizations"):
        return True
    return bool(conv._forward_pre_hooks)


def why_not_foldable(conv: nn.Module, *, on_the_fly: bool = False) -> str | None:
    """Why a batch norm after ``conv`` cannot be folded into it, or None when it can.

    ``conv`` must be a non-transposed convolution that uses ``weight`` and ``bias`` as they are
    (a stock ``nn.Conv1d/2d/3d`` forward, or ``Conv2dAdaptivePadding``). With ``on_the_fly``
    (efficient eval: ``conv._conv_forward`` is called with folded tensors), only the stock
    forward qualifies.
    """
    if not isinstance(conv, _ConvNd):
        return f"{type(conv).__name__} is not a torch convolution"
    if conv.transposed:
        return f"{type(conv).__name__} is a transposed convolution"
    if _has_weight_hooks(conv):
        return f"{type(conv).__name__} has its weight rewritten at call time (spectral norm?)"
    forward = type(conv).forward
    if forward in _STOCK_FORWARDS:
        return None
    if not on_the_fly:
        from hydra_cnn.bricks.conv import Conv2dAdaptivePadding

        if isinstance(conv, Conv2dAdaptivePadding) and forward is Conv2dAdaptivePadding.forward:
            return None
    return f"{type(conv).__name__}'s forward transforms its weight or input"


def is_foldable_conv(conv: nn.Module, *, on_the_fly: bool = False) -> bool:
    """Whether a batch norm after ``conv`` can be folded into it (see :func:`why_not_foldable`)."""
    return why_not_foldable(conv, on_the_fly=on_the_fly) is None


def has_running_stats(bn: nn.Module) -> bool:
    """Whether ``bn`` is a batch norm whose eval output depends only on its running stats."""
    return (
        isinstance(bn, _BatchNorm)
        and bn.track_running_stats
        and bn.running_mean is not None
        and bn.running_var is not None
    )


def fold_conv_bn_tensors(
    weight: torch.Tensor,
    bias: torch.Tensor | None,
    bn: _BatchNorm,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Return the conv ``(weight, bias)`` that equal ``bn(conv(x))`` with ``bn`` in eval mode.

    Computed in at least float32 and cast back to ``weight.dtype``. Differentiable, so it can
    run inside an autograd graph (efficient eval with frozen statistics).
    """
    assert bn.running_mean is not None and bn.running_var is not None
    dtype = torch.promote_types(weight.dtype, torch.float32)
    factor = torch.rsqrt(bn.running_var.to(dtype) + bn.eps)
    if bn.weight is not None:
        factor = factor * bn.weight.to(dtype)
    shift = -bn.running_mean.to(dtype)
    if bias is not None:
        shift = shift + bias.to(dtype)
    new_bias = shift * factor
    if bn.bias is not None:
        new_bias = new_bias + bn.bias.to(dtype)
    new_weight = weight.to(dtype) * factor.reshape([-1] + [1] * (weight.dim() - 1))
    return new_weight.to(weight.dtype), new_bias.to(weight.dtype)


def fold_bn_into_conv(conv: _ConvNd, bn: _BatchNorm) -> None:
    """Fold ``bn``'s eval-mode transform into ``conv``'s parameters, in place.

    The weight Parameter keeps its identity (its values change); a conv without bias gains a
    new bias Parameter.
    """
    new_weight, new_bias = fold_conv_bn_tensors(conv.weight, conv.bias, bn)
    with torch.no_grad():
        conv.weight.copy_(new_weight)
        if conv.bias is not None:
            conv.bias.copy_(new_bias)
        else:
            conv.bias = nn.Parameter(new_bias, requires_grad=conv.weight.requires_grad)


class FoldCache:
    """The folded ``(weight, bias)`` of one conv + batch norm pair, for no-grad eval, reused
    while the tensors it was computed from are unchanged.

    Validity is checked by the identity and version counter of each of the six tensors (conv
    weight and bias, norm weight and bias, running mean and variance) and ``eps``: every
    in-place write (optimizer step, ``load_state_dict``, init) bumps a version counter, so a
    stale entry is never used. A module that holds one clears it in ``_apply`` (``.to()``,
    ``.half()``, ...), which may swap a tensor's storage without a version bump.

    Example:
        >>> cache = FoldCache()
        >>> conv, bn = nn.Conv2d(3, 4, 1), nn.BatchNorm2d(4).eval()
        >>> w, b = cache.folded(conv, bn)
        >>> cache.folded(conv, bn)[0] is w
        True
    """

    __slots__ = ("bias", "key", "weight")

    def __init__(self) -> None:
        self.key: tuple[Any, ...] | None = None
        self.weight: torch.Tensor | None = None
        self.bias: torch.Tensor | None = None

    def clear(self) -> None:
        """Forget the cached tensors."""
        self.key = self.weight = self.bias = None

    def folded(self, conv: Any, bn: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """The folded weight and bias of ``conv`` followed by ``bn`` (eval mode)."""
        # Unrolled: this runs on every call of an efficient-eval block.
        cp, bp, bb = conv._parameters, bn._parameters, bn._buffers
        w, b, g, beta = cp["weight"], cp.get("bias"), bp.get("weight"), bp.get("bias")
        mean, var = bb["running_mean"], bb["running_var"]
        try:
            key = (
                id(w), w._version, id(mean), mean._version, id(var), var._version,
                -1 if b is None else (id(b), b._version),
                -1 if g is None else (id(g), g._version),
                -1 if beta is None else (id(beta), beta._version),
                bn.eps,
            )
        except RuntimeError:  # inference tensors have no version counter
            return fold_conv_bn_tensors(conv.weight, conv.bias, bn)
        if self.key == key and self.weight is not None and self.bias is not None:
            return self.weight, self.bias
        weight, bias = fold_conv_bn_tensors(conv.weight, conv.bias, bn)
        self.key, self.weight, self.bias = key, weight, bias
        return weight, bias


def conv_bn_eval(conv: Any, bn: Any, x: torch.Tensor, cache: FoldCache) -> torch.Tensor:
    """``bn(conv(x))`` computed as one conv with folded weights when ``bn`` is in eval mode
    with running statistics (efficient conv-BN eval, arXiv 2305.11624); otherwise as it is.

    Under ``torch.no_grad`` the folded tensors come from ``cache``; with gradients they are
    folded in the graph (so fine-tuning with frozen statistics gets the right gradients); in
    a compiled inference graph the conv and norm run as they are (the compiler fuses them).

    Args:
        conv: a convolution with a stock forward (see :func:`is_foldable_conv`).
        bn: the batch norm that follows it.
        x: the conv's input.
        cache: the pair's :class:`FoldCache`.
    """
    buffers = bn._buffers
    if bn.training or buffers.get("running_var") is None or buffers.get("running_mean") is None:
        return bn(conv(x))
    if torch.compiler.is_compiling():
        if not torch.is_grad_enabled():
            # a compiled inference graph fuses BN into the conv's epilogue itself, while
            # folding in the graph would recompute the weights on every call (no cache)
            return bn(conv(x))
        weight, bias = fold_conv_bn_tensors(conv.weight, conv.bias, bn)
    elif torch.is_grad_enabled():
        weight, bias = fold_conv_bn_tensors(conv.weight, conv.bias, bn)  # in the graph
    else:
        weight, bias = cache.folded(conv, bn)
    return conv._conv_forward(x, weight, bias)


def fuse_conv_bn(model: nn.Module) -> nn.Module:
    """Fold every batch norm that follows a convolution into it, for inference; in place.

    Walks ``named_children()`` recursively. A batch norm (``BatchNorm1d/2d/3d``,
    ``SyncBatchNorm``, affine or not) registered right after a ``Conv1d/2d/3d`` sibling is folded
    into that conv and replaced by ``nn.Identity()``. A block that knows the order its layers run
    in declares ``folds_own_conv_bn = True`` and folds itself with its ``fuse()`` method: in a
    ``ConvModule`` the norm folds only when the block runs the conv right before it (see
    :meth:`ConvModule.fuse`). Skipped, with no
    error: a batch norm without running statistics (``track_running_stats=False``) or with no
    conv before it. A conv whose forward rewrites its weight (``ConvWS2d``, spectral norm) is not
    folded and a ``UserWarning`` names it. Call it on a model in eval mode: the folded model
    computes what the eval-mode model computed.

    Args:
        model: the module to fuse. It is modified and returned (not copied).

    Returns:
        ``model`` itself.

    Example:
        >>> m = nn.Sequential(nn.Conv1d(2, 4, 3), nn.BatchNorm1d(4)).eval()
        >>> fuse_conv_bn(m)[1]
        Identity()
    """
    if getattr(type(model), "folds_own_conv_bn", False):
        return model.fuse()  # type: ignore[operator]
    last_conv: tuple[str, nn.Module] | None = None
    for name, child in list(model.named_children()):
        if isinstance(child, _BatchNorm) and last_conv is not None:
            conv_name, conv = last_conv
            last_conv = None
            if not has_running_stats(child):
                continue
            reason = why_not_foldable(conv)
            if reason is not None:
                warnings.warn(f"fuse_conv_bn: not folding {name!r} into {conv_name!r}: {reason}",
                              UserWarning, stacklevel=2)
                continue
            fold_bn_into_conv(conv, child)  # type: ignore[arg-type]
            setattr(model, name, nn.Identity())
        elif isinstance(child, _ConvNd) and not child.transposed:
            last_conv = (name, child)
        else:
            last_conv = None
            fuse_conv_bn(child)
    return model


class _BatchNormXd(_BatchNorm):
    """A batch norm that accepts input of any dimension (what SyncBatchNorm reverts to)."""

    def _check_input_dim(self, input: torch.Tensor) -> None:
        return None


def revert_sync_batchnorm(model: nn.Module) -> nn.Module:
    """Replace every ``nn.SyncBatchNorm`` by a batch norm that runs without a process group.

    The replacement accepts input of any dimension (as SyncBatchNorm does) and shares the
    original's Parameter and buffer objects (weight, bias, running stats), so optimizers and
    other references stay valid; ``training`` and ``qconfig`` are kept.

    Args:
        model: the module to convert (in place for children).

    Returns:
        ``model``, or the new layer when ``model`` itself is a SyncBatchNorm.

    Example:
        >>> m = revert_sync_batchnorm(nn.Sequential(nn.SyncBatchNorm(4)))
        >>> type(m[0]).__name__
        '_BatchNormXd'
    """
    if isinstance(model, nn.SyncBatchNorm):
        return _reverted(model)
    for name, child in list(model.named_children()):
        new = revert_sync_batchnorm(child)
        if new is not child:
            setattr(model, name, new)
    return model


def _reverted(sync: nn.SyncBatchNorm) -> _BatchNormXd:
    new = _BatchNormXd(
        sync.num_features, sync.eps, sync.momentum, sync.affine, sync.track_running_stats,
        device="meta",
    )
    # share, not copy: the meta placeholders are dropped
    if sync.affine:
        new.weight = sync.weight
        new.bias = sync.bias
    for buf in ("running_mean", "running_var", "num_batches_tracked"):
        setattr(new, buf, getattr(sync, buf))
    new.train(sync.training)
    if hasattr(sync, "qconfig"):
        new.qconfig = sync.qconfig
    return new


def convert_sync_batchnorm(model: nn.Module, process_group: Any = None) -> nn.Module:
    """Replace every batch norm by ``nn.SyncBatchNorm`` (for distributed training).

    Uses :meth:`torch.nn.SyncBatchNorm.convert_sync_batchnorm`, which shares the original
    Parameters and buffers.

    Args:
        model: the module to convert (in place for children).
        process_group: the group to synchronise statistics over; None (default) means the
            whole world.

    Returns:
        ``model``, or the new layer when ``model`` itself is a batch norm.

    Example:
        >>> type(convert_sync_batchnorm(nn.BatchNorm2d(4))).__name__
        'SyncBatchNorm'
    """
    return nn.SyncBatchNorm.convert_sync_batchnorm(model, process_group)
