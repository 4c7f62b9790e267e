"""The family table: every kind of thing hydra_cnn builds from a config, described once.

A *family* is a registry plus everything the rest of the library needs to know about it. It is
declared with :func:`hydra_cnn.register_family` (hydra_cnn's own families are declared that way
in :mod:`hydra_cnn.registry`; a downstream package declares its own in its code), which puts a
:class:`Family` row into :data:`FAMILIES` and returns the family's registry. The fields:

- ``name`` / ``label``: the family's key (``'norm'``) and the name its messages use
  (``'norm layer'``);
- ``loader``: the module that registers the built-in members (imported on the first query);
- ``group`` / ``target``: the Hydra config group of its options and the ``_target_`` those
  options instantiate (``layers/norm``, ``hydra_cnn.make_norm``); ``partial``: whether an
  option instantiates to a factory (layers) or to the object itself (init, models);
- ``late``: arguments the caller passes when it builds (channel counts, kernel size...):
  configs omit them and error messages never suggest them as config keys; for norms the order
  says which constructor argument takes the channel count;
- ``cfg_args``: mmcv-style keyword arguments (``norm_cfg``...) whose value is a config of this
  family, so :func:`hydra_cnn.validate` can check them;
- ``builder_keys``: config keys the builder consumes itself (``requires_grad``);
- ``defaults``: values the family's builder uses when a config leaves them out (norms:
  ``eps=1e-5``, mmcv's rule); the configs generated for registered classes default to them
  too, so every route gives the same layer;
- ``prepare``: ``'module:function'`` run on ``(type, cls, args, kwargs)`` just before the
  call, for what a family does differently (GroupNorm's groups, Upsample's mode);
- ``block_decides_inplace``: ``inplace: None`` means "the class default, or the block's
  choice" (activations);
- ``block_decides``: config keys where ``None`` means "the block (or the class default)
  decides": the builder drops them, so the block's argument applies (a conv's
  ``kernel_size``/``stride``/``padding``/``dilation``);
- ``shares``: the family whose registry holds this family's types (blocks: ``ConvModule`` is a
  ``PLUGIN_LAYERS`` member), or None for a family with a registry of its own.

Registries, structured configs, YAML generation, :func:`~hydra_cnn.validate`, the CLI, the
package data and the table-driven tests all read this table. This module imports nothing
heavy and nothing from hydra_cnn but :mod:`hydra_cnn.common`.
"""

from __future__ import annotations

import re
from dataclasses import KW_ONLY, dataclass
from typing import Any

__all__ = ["FAMILIES", "Family", "declare_family", "family_for_group"]

_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")
_GROUP = re.compile(r"[a-z][a-z0-9_]*(/[a-z][a-z0-9_]*)*\Z")


@dataclass(frozen=True)
class Family:
    """One family of buildable types (see the module docstring for each field)."""

    name: str
    _: KW_ONLY
    label: str
    group: str | None = None
    target: str | None = None
    loader: str | None = None
    partial: bool = True
    late: tuple[str, ...] = ()
    cfg_args: tuple[str, ...] = ()
    builder_keys: tuple[str, ...] = ()
    defaults: tuple[tuple[str, Any], ...] = ()
    prepare: str | None = None
    block_decides_inplace: bool = False
    block_decides: tuple[str, ...] = ()
    shares: str | None = None


#: name -> Family, in declaration order. Filled by :func:`declare_family` (which
#: :func:`hydra_cnn.register_family` calls); importing :mod:`hydra_cnn.registry` declares the
#: built-in families.
FAMILIES: dict[str, Family] = {}


def _check(family: Family) -> None:
    if not isinstance(family.name, str) or not _NAME.match(family.name):
        raise ValueError(f"a family name must be a lower-case identifier such as 'token_mixer', "
                         f"but got {family.name!r}")
    if not isinstance(family.label, str) or not family.label:
        raise ValueError(f"family {family.name!r}: label must be a non-empty str such as "
                         f"'attention layer', but got {family.label!r}")
    if family.group is not None and (not isinstance(family.group, str) or not _GROUP.match(family.group)):
        raise ValueError(f"family {family.name!r}: group must be a config group path such as "
                         f"'layers/token_mixer', but got {family.group!r}")
    for field in ("late", "cfg_args", "builder_keys", "block_decides"):
        value = getattr(family, field)
        if not isinstance(value, tuple) or not all(isinstance(v, str) for v in value):
            raise TypeError(f"family {family.name!r}: {field} must be a tuple of str, but got "
                            f"{value!r}")
    if family.target is not None and (not isinstance(family.target, str) or "." not in family.target):
        raise ValueError(f"family {family.name!r}: target must be a dotted path such as "
                         f"'mypkg.make_attention', but got {family.target!r}")
    if family.prepare is not None and ":" not in str(family.prepare):
        raise ValueError(f"family {family.name!r}: prepare must be 'module:function', but got "
                         f"{family.prepare!r}")
    if family.shares is not None and family.shares not in FAMILIES:
        raise ValueError(f"family {family.name!r} shares the registry of {family.shares!r}, "
                         f"which is not declared; declared: {', '.join(FAMILIES)}")


def declare_family(family: Family) -> Family:
    """Put ``family`` into :data:`FAMILIES`; declaring the same row again does nothing.

    Raises:
        ValueError: for a malformed row, a name already declared differently, or a config
            group another family already uses (naming that family).
    """
    if not isinstance(family, Family):
        raise TypeError(f"declare_family takes a Family, but got {type(family).__name__}")
    _check(family)
    known = FAMILIES.get(family.name)
    if known is not None:
        if known == family:
            return known
        raise ValueError(f"family {family.name!r} is already declared differently ({known}); "
                         "choose another name")
    other = family_for_group(family.group) if family.group is not None else None
    if other is not None:
        raise ValueError(f"config group {family.group!r} already belongs to family "
                         f"{other.name!r}; choose another group for {family.name!r}")
    FAMILIES[family.name] = family
    return family


def family_for_group(group: str | None) -> Family | None:
    """The family whose config group is ``group`` (``'layers/norm'``), or None."""
    for family in FAMILIES.values():
        if family.group == group:
            return family
    return None
