"""The option table: every shipped and generated structured config, by group and type."""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
import typing
from typing import Any

from hydra_cnn.configs.auto import user_conf, user_confs
from hydra_cnn.configs.base import confs_of

__all__ = ["builtin_confs", "field_types", "option_table", "schema_for"]

# the modules of this package that hold only machinery, no options
_MACHINERY = frozenset({"auto", "base", "store", "table", "yaml_files"})
# the order the options are listed in (any other module of the package follows, by name)
_ORDER = ("layers", "plugins", "transformer", "blocks", "init", "models")


def _option_modules() -> list[str]:
    """Every module of :mod:`hydra_cnn.configs` that may define options (a new one, e.g. for a
    new built-in family, is picked up without a list to edit)."""
    here = __name__.rpartition(".")[0]
    found = {m.name for m in pkgutil.iter_modules(importlib.import_module(here).__path__)}
    names = [n for n in _ORDER if n in found] + sorted(found - _MACHINERY - set(_ORDER))
    return [f"{here}.{n}" for n in names]


@functools.cache
def _builtin() -> tuple[type, ...]:
    confs: list[type] = []
    for module in _option_modules():
        importlib.import_module(module)
        confs.extend(confs_of(module))
    return tuple(confs)


def builtin_confs() -> list[type]:
    """Every shipped structured config class: layers, blocks, initializers, models (each module's
    dataclasses with an ``_option_`` name, so a new one needs no list edited)."""
    return list(_builtin())


def option_table() -> list[tuple[str, str, type]]:
    """``(group, option, dataclass)`` for every option: shipped ones, then user-registered ones."""
    confs: list[Any] = [*builtin_confs(), *user_confs()]
    return [(c._group_, c._option_, c) for c in confs]


@functools.cache
def _builtin_by_type() -> dict[tuple[str, str], type]:
    confs: list[Any] = builtin_confs()
    return {(c._group_, c.type): c for c in confs if isinstance(getattr(c, "type", None), str)}


def schema_for(group: str | None, type_name: str) -> type | None:
    """The structured config class for registry type ``type_name`` in ``group``, if any."""
    if group is None:
        return None
    return user_conf(group, type_name) or _builtin_by_type().get((group, type_name))


@functools.lru_cache(maxsize=512)
def _hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name]
        for f in dataclasses.fields(cls)
        if f.name not in ("_target_", "_partial_", "type")
    }


def field_types(group: str | None, type_name: str) -> dict[str, Any] | None:
    """Field name -> annotation of ``type_name``'s config (None when it has no config)."""
    cls = schema_for(group, type_name)
    return None if cls is None else _hints(cls)


