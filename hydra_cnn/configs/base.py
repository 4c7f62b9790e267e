"""What every structured config takes from the family table: its group and its ``_target_``.

Each family's configs derive from one base class whose ``_group_``, ``_target_`` and
``_partial_`` are read from the family's row (:func:`hydra_cnn.register_family`), so no
dataclass repeats them.
"""

from __future__ import annotations

import dataclasses
import sys

import hydra_cnn.registry  # noqa: F401  (declares the built-in families)
from hydra_cnn.families import FAMILIES, Family

__all__ = ["confs_of", "family_of", "group_of", "partial_of", "target_of"]


def confs_of(module: str) -> tuple[type, ...]:
    """The option dataclasses module ``module`` defines (those with an ``_option_`` name), in
    definition order: a new one is an option and a YAML file with no list to edit."""
    return tuple(
        obj for obj in vars(sys.modules[module]).values()
        if isinstance(obj, type) and dataclasses.is_dataclass(obj)
        and obj.__module__ == module and bool(getattr(obj, "_option_", None))
    )


def family_of(name: str) -> Family:
    """The declared family ``name`` (KeyError listing the declared ones)."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise KeyError(f"no family {name!r}; declared: {', '.join(FAMILIES)}") from None


def group_of(name: str) -> str:
    """The config group of family ``name`` (``'layers/norm'``)."""
    group = family_of(name).group
    if group is None:
        raise ValueError(f"family {name!r} has no config group")
    return group


def target_of(name: str) -> str:
    """The ``_target_`` of family ``name``'s options (``'hydra_cnn.make_norm'``)."""
    target = family_of(name).target
    if target is None:
        raise ValueError(f"family {name!r} has no factory target (its options name their class)")
    return target


def partial_of(name: str) -> bool:
    """Whether family ``name``'s options instantiate to a factory."""
    return family_of(name).partial
