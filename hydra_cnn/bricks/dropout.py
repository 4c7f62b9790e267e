"""Dropout layers: the ``DROPOUT_LAYERS`` registry's members (``Dropout``, ``DropPath``) and
their builders.

    >>> from hydra_cnn import build_dropout
    >>> build_dropout(dict(type='DropPath', drop_prob=0.2))
    DropPath(drop_prob=0.2)
    >>> build_dropout(dict(type='Dropout'), default_args=dict(drop_prob=0.1))
    Dropout(p=0.1, inplace=False)

Both take ``drop_prob`` (mmcv's name, also for ``nn.Dropout``'s ``p``). ``DropPath`` is
stochastic depth (Huang et al., 2016): in training it zeroes whole samples of a residual
branch and scales the kept ones by ``1 / (1 - drop_prob)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hydra_cnn.bricks._checks import check_bool, check_real
from hydra_cnn.registry import DROPOUT_LAYERS, build_from_cfg, layer_factory

__all__ = ["DropPath", "Dropout", "build_dropout", "drop_path", "make_dropout"]


def drop_path(x: torch.Tensor, drop_prob: float = 0.0, training: bool = False) -> torch.Tensor:
    """Stochastic depth on a batch: zero each sample with probability ``drop_prob``.

    Kept samples are divided by ``1 - drop_prob``, so the expectation is unchanged. Identity
    when not ``training`` or when ``drop_prob`` is 0; all zeros when it is 1.

    Args:
        x: a batch, samples along the first dimension (any number of other dimensions).
        drop_prob: probability of dropping a sample, in [0, 1]. Default 0.0.
        training: apply the drop (else return ``x``). Default False.

    Example:
        >>> drop_path(torch.ones(4, 3), 0.5, training=False).sum().item()
        12.0
    """
    if drop_prob == 0.0 or not training:
        return x
    keep_prob = 1.0 - drop_prob
    if keep_prob == 0.0:
        return torch.zeros_like(x)
    shape = (x.shape[0],) + (1,) * (x.dim() - 1)
    # floor(keep_prob + U[0, 1)) is 1 with probability keep_prob (mmcv's and timm's draw)
    keep = (keep_prob + torch.rand(shape, dtype=x.dtype, device=x.device)).floor_()
    return x.div(keep_prob) * keep


class DropPath(nn.Module):
    """Stochastic depth: drop whole samples of a residual branch in training.

    Registered in ``DROPOUT_LAYERS`` as ``DropPath``. Differs from mmcv 1.7 only at
    ``drop_prob=1``, where it returns zeros (mmcv returns NaN).

    Args:
        drop_prob: probability of zeroing a sample, in [0, 1]; kept samples are scaled by
            ``1 / (1 - drop_prob)``. Identity in eval mode. Default 0.1.

    Example:
        >>> layer = DropPath(0.25).eval()
        >>> torch.equal(layer(torch.ones(2, 3)), torch.ones(2, 3))
        True
    """

    def __init__(self, drop_prob: float = 0.1) -> None:
        super().__init__()
        self.drop_prob = check_real("DropPath", "drop_prob", drop_prob, 0.0, 1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return drop_path(x, self.drop_prob, self.training)

    def extra_repr(self) -> str:
        return f"drop_prob={self.drop_prob:g}"


class Dropout(nn.Dropout):
    """``nn.Dropout`` with mmcv's argument name ``drop_prob`` for ``p``.

    Registered in ``DROPOUT_LAYERS`` as ``Dropout``.

    Args:
        drop_prob: probability of zeroing an element, in [0, 1]. Default 0.5.
        inplace: zero in place. Default False.

    Example:
        >>> Dropout(0.1)
        Dropout(p=0.1, inplace=False)
    """

    def __init__(self, drop_prob: float = 0.5, inplace: bool = False) -> None:
        super().__init__(p=check_real("Dropout", "drop_prob", drop_prob, 0.0, 1.0),
                         inplace=check_bool("Dropout", "inplace", inplace))


DROPOUT_LAYERS.add_builtin("Dropout", Dropout)
DROPOUT_LAYERS.add_builtin("DropPath", DropPath)


def build_dropout(cfg: Any, default_args: dict[str, Any] | None = None) -> nn.Module:
    """Build a dropout layer from a config (mmcv's signature).

    Args:
        cfg: a dict with ``type`` (``Dropout``, ``DropPath`` or a registered name) and
            constructor arguments, or any other accepted config form (DictConfig, structured
            config, a factory made by ``instantiate``).
        default_args: arguments used where ``cfg`` does not set them (may supply ``type``).
            Default None.

    Returns:
        A new dropout module.

    Example:
        >>> build_dropout(dict(type='DropPath'), default_args=dict(drop_prob=0.3))
        DropPath(drop_prob=0.3)
    """
    return build_from_cfg(cfg, DROPOUT_LAYERS, default_args)


@layer_factory(DROPOUT_LAYERS)
def make_dropout(type: Any = "Dropout", **kwargs: Any) -> nn.Module:
    """Build the ``DROPOUT_LAYERS`` member ``type``: a Hydra ``_target_``.

    Args:
        type: a ``DROPOUT_LAYERS`` name (or class). Default ``'Dropout'``.
        **kwargs: its constructor arguments (``drop_prob``, ``inplace``).

    Example:
        >>> make_dropout(type='DropPath', drop_prob=0.2)
        DropPath(drop_prob=0.2)
    """
    return build_dropout({"type": type, **kwargs})
