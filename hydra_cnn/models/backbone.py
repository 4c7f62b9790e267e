"""What the backbones (``ResNet``, ``VGG``) share: checks of their stage arguments, mmcv's
``pretrained`` argument, frozen stages, and the batch-norm modes ``norm_eval``/``bn_eval`` and
``bn_frozen``.

Invalid stage arguments raise errors that are also ``AssertionError``\\ s, as mmcv's
assertions (``InvalidArgumentError`` for a bad value, ``InvalidTypeError`` for a bad type);
an unknown ``depth`` raises ``KeyError``, as in mmcv.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hydra_cnn.common import ConfigKeyError, InvalidArgumentError, InvalidTypeError

__all__ = [
    "as_int_tuple",
    "check_depth",
    "check_flag",
    "check_stages",
    "freeze",
    "freeze_norm_params",
    "norms_to_eval",
    "with_pretrained",
]


def check_depth(owner: str, depth: Any, table: Mapping[int, Any]) -> None:
    """Raise ``KeyError`` (as mmcv) for a ``depth`` that is not in ``table``, listing the valid
    depths."""
    if isinstance(depth, bool) or depth not in table:
        raise ConfigKeyError(
            f"invalid depth {depth!r} for {owner}; valid depths: {', '.join(map(str, table))}"
        )


def check_flag(owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool; ``InvalidTypeError`` otherwise."""
    if not isinstance(value, bool):
        raise InvalidTypeError(
            f"{owner}: {name} must be True or False, but got {type(value).__name__}: {value!r}"
        )
    return value


def as_int_tuple(value: Any, what: str) -> tuple[int, ...]:
    """``value`` (a list, tuple or ListConfig of ints, as YAML gives) as a tuple of ints.

    Raises:
        InvalidTypeError: for anything else (a ``TypeError`` and an ``AssertionError``).
    """
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise InvalidTypeError(f"{what} must be a sequence of ints, but got {value!r}")
    items = tuple(value)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in items):
        raise InvalidTypeError(f"{what} must be a sequence of ints, but got {value!r}")
    return items


def check_stages(
    owner: str,
    num_stages: Any,
    max_stages: int,
    out_indices: tuple[int, ...],
    frozen_stages: Any,
    per_stage: Mapping[str, tuple[int, ...]],
) -> None:
    """Check a backbone's stage arguments, as mmcv asserts them (with messages naming the value
    and the accepted range).

    Args:
        owner: the model's name, for messages.
        num_stages: stages to build; an int in ``[1, max_stages]``.
        max_stages: the architecture's stage count.
        out_indices: stage indices returned by ``forward``; each in ``[0, num_stages - 1]``.
        frozen_stages: in ``[-1, num_stages]``.
        per_stage: arguments with one entry per stage (``strides``, ``dilations``).

    Raises:
        InvalidTypeError: a non-int ``num_stages``/``frozen_stages``.
        InvalidArgumentError: a value out of range, or a per-stage argument of the wrong length.
    """
    for name, value in (("num_stages", num_stages), ("frozen_stages", frozen_stages)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidTypeError(
                f"{owner}: {name} must be an int, but got {type(value).__name__}: {value!r}"
            )
    if not 1 <= num_stages <= max_stages:
        raise InvalidArgumentError(
            f"{owner}: num_stages must be between 1 and {max_stages}, but got {num_stages}"
        )
    for name, values in per_stage.items():
        if len(values) != num_stages:
            raise InvalidArgumentError(
                f"{owner}: {name} {values} must have one entry per stage (num_stages="
                f"{num_stages}), but has {len(values)}"
            )
    if any(not 0 <= i < num_stages for i in out_indices):
        raise InvalidArgumentError(
            f"{owner}: out_indices {out_indices} must lie in [0, {num_stages - 1}] (num_stages="
            f"{num_stages})"
        )
    if not -1 <= frozen_stages <= num_stages:
        raise InvalidArgumentError(
            f"{owner}: frozen_stages must be between -1 and num_stages={num_stages}, but got "
            f"{frozen_stages}"
        )


def with_pretrained(init_cfg: Any, pretrained: Any) -> Any:
    """``init_cfg`` with a ``Pretrained`` entry for ``pretrained`` appended (mmcv's argument).

    ``pretrained`` is a path, URL or zoo name, or a mapping of the ``Pretrained`` entry's
    arguments (``checkpoint``, ``prefix``, ``revise_keys``, ``state_dict_key``, ...).
    """
    if pretrained is None:
        return init_cfg
    if isinstance(pretrained, Mapping):
        entry = {"type": "Pretrained", **pretrained}
        if "checkpoint" not in entry:
            raise TypeError(f"pretrained as a mapping needs a 'checkpoint' key, but got {dict(pretrained)!r}")
    elif isinstance(pretrained, str | os.PathLike):
        entry = {"type": "Pretrained", "checkpoint": os.fspath(pretrained)}
    else:
        raise TypeError(
            f"pretrained must be a path, URL or zoo name, or a mapping with 'checkpoint' (and "
            f"prefix, revise_keys, state_dict_key), but got {pretrained!r}"
        )
    if init_cfg is None:
        items: list[Any] = []
    elif isinstance(init_cfg, list | tuple) or type(init_cfg).__name__ == "ListConfig":
        items = list(init_cfg)
    else:
        items = [init_cfg]
    return [*items, entry]


def freeze(module: nn.Module) -> None:
    """Put ``module`` in eval mode and stop gradients to its parameters."""
    module.eval()
    for p in module.parameters():
        p.requires_grad_(False)


def norms_to_eval(module: nn.Module) -> None:
    """Put every batch norm (``_BatchNorm``: BN1d/2d/3d, SyncBN) under ``module`` in eval mode."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            m.eval()


def freeze_norm_params(module: nn.Module) -> None:
    """Stop gradients to the weight and bias of every batch norm under ``module`` (mmcv.cnn's
    ``bn_frozen``)."""
    for m in module.modules():
        if isinstance(m, _BatchNorm):
            for p in m.parameters(recurse=False):
                p.requires_grad_(False)
