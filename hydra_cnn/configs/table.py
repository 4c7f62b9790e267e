"""The option table: every shipped and generated structured config, by group and type."""

from __future__ import annotations

import dataclasses
import functools
import typing
from typing import Any

from hydra_cnn.configs import blocks, init, models, plugins, transformer
from hydra_cnn.configs.auto import user_conf, user_confs
from hydra_cnn.configs.layers import LAYER_CONFS
from hydra_cnn.families import FAMILIES

__all__ = ["GROUP_REGISTRY", "builtin_confs", "field_types", "option_table", "schema_for"]

# config group -> name of the registry (in hydra_cnn.registry) whose types its options select,
# read from the family table
GROUP_REGISTRY: dict[str, str] = {
    f.group: f.registry for f in FAMILIES.values() if f.group is not None and f.registry is not None
}

def builtin_confs() -> list[type]:
    """Every shipped structured config class: layers, blocks, initializers, models."""
    return [*LAYER_CONFS, *plugins.CONFS, *transformer.CONFS, *blocks.CONFS, *init.CONFS,
            *models.CONFS]


def option_table() -> list[tuple[str, str, type]]:
    """``(group, option, dataclass)`` for every option: shipped ones, then user-registered ones."""
    confs: list[Any] = [*builtin_confs(), *user_confs()]
    rows = [(c._group_, c._option_, c) for c in confs]
    return rows


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


