"""Putting hydra_cnn's options into Hydra's ConfigStore (explicit and idempotent).

Nothing here runs on ``import hydra_cnn``. The search-path plugin calls
:func:`store_schemas` when a Hydra app starts, so each shipped YAML option
(``layers/norm/gn.yaml``) extends its typed schema (``_schema/layers/norm/gn``).
:func:`register_configs` stores the same options under an app's own group paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["SCHEMA_ROOT", "register_configs", "store_option", "store_schemas"]

SCHEMA_ROOT = "_schema"
PROVIDER = "hydra_cnn"

# (group, name) -> the class hydra_cnn stored there
_STORED: dict[tuple[str, str], tuple[type, str | None]] = {}
# library group -> {user group: package or None} that mirror it
_ALIASES: dict[str, dict[str, str | None]] = {}


def _existing(group: str, name: str) -> Any:
    from hydra.core.config_store import ConfigStore

    node: Any = ConfigStore.instance().repo
    for part in group.split("/"):
        node = node.get(part) if isinstance(node, dict) else None
        if node is None:
            return None
    return node.get(f"{name}.yaml") if isinstance(node, dict) else None


def _store(group: str, name: str, cls: type, package: str | None = None) -> None:
    from hydra.core.config_store import ConfigStore

    if _STORED.get((group, name)) == (cls, package):
        return
    prior = _existing(group, name)
    # a node from hydra_cnn in another process's store (launchers ship the ConfigStore to their
    # workers) is ours; anything else is someone else's and is never overwritten
    if prior is not None and (group, name) not in _STORED and prior.provider != PROVIDER:
        raise ValueError(
            f"cannot store hydra_cnn option {group}/{name}: the ConfigStore already has a node "
            f"there from provider {prior.provider!r}. Choose another group path."
        )
    ConfigStore.instance().store(
        group=group, name=name, node=cls, package=package, provider=PROVIDER
    )
    _STORED[(group, name)] = (cls, package)


class _SharedTree(dict):
    """The ``_schema`` subtree of the ConfigStore, shared instead of deep-copied.

    Hydra 1.3 deep-copies its whole config repository, ConfigStore contents included, on every
    ``compose`` (``CachingConfigRepository.__init__``): with ~70 typed schema nodes that was
    23 ms per compose, a third of its cost. The copy protects against mutation during source
    initialisation, which never touches these nodes, and ``ConfigStore.load`` still hands out
    a deep copy of each node it returns; so the subtree is shared. It stays a ``dict`` for
    Hydra (and pickles like one for launchers that ship the store to their workers).
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedTree:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_SharedTree, (dict(self),))


def _share_schema_tree() -> None:
    from hydra.core.config_store import ConfigStore

    repo = ConfigStore.instance().repo
    tree = repo.get(SCHEMA_ROOT)
    if isinstance(tree, dict) and not isinstance(tree, _SharedTree):
        repo[SCHEMA_ROOT] = _SharedTree(tree)


def store_schemas() -> None:
    """Store every shipped option's schema under ``_schema/<group>/<option>`` (idempotent)."""
    from hydra_cnn.configs import option_table

    for group, option, cls in option_table():
        _store(f"{SCHEMA_ROOT}/{group}", option, cls)
    _share_schema_tree()


def store_option(group: str, option: str, cls: type) -> None:
    """Make ``cls`` the option ``group/option`` (and its schema), also under alias groups.

    Used for classes users register after import: they have no YAML file, so the typed
    node itself is the option.
    """
    _store(f"{SCHEMA_ROOT}/{group}", option, cls)
    _store(group, option, cls)
    for alias, package in sorted(_ALIASES.get(group, {}).items()):
        _store(alias, option, cls, package)


def register_configs(aliases: Mapping[str, str] | None = None) -> None:
    """Store hydra_cnn's options under your own config groups, so ``model/norm=gn`` works.

    Args:
        aliases: maps your group path to a hydra_cnn group, e.g.
            ``{"model/norm": "layers/norm", "model/act": "layers/act"}``. Every option of the
            hydra_cnn group (``bn``, ``gn``, ..., and user-registered types, now or later) is
            stored under your group with the same typed schema. A key may name the package the
            options land in, Hydra-style: ``{"model/norm@model.norm_cfg": "layers/norm"}``
            keeps the command line ``model/norm=gn`` while the node goes to
            ``model.norm_cfg`` (where an mmcv-style model reads it).

    Calling it again with the same aliases does nothing. A (group, option) already stored by
    someone else raises ``ValueError`` instead of being silently overwritten.

    Example:
        >>> register_configs(aliases={"model/norm": "layers/norm"})      # doctest: +SKIP
        >>> # conf/config.yaml: defaults: [{model/norm: bn}]; CLI: model/norm=gn
    """
    from hydra_cnn.configs import option_table

    store_schemas()
    if aliases is None:
        return
    if not isinstance(aliases, Mapping):
        raise TypeError(f"aliases must be a mapping of group -> hydra_cnn group, got {aliases!r}")
    table = option_table()
    groups = sorted({g for g, _, _ in table})
    for key, lib_group in aliases.items():
        if not isinstance(key, str) or not key.strip("/") or not isinstance(lib_group, str):
            raise TypeError(f"aliases entries must be str -> str, got {key!r}: {lib_group!r}")
        user_group, _, package = key.partition("@")
        if lib_group not in groups:
            from hydra_cnn.registry import closest_match

            hit = closest_match(lib_group, groups)
            raise ValueError(
                f"unknown hydra_cnn config group {lib_group!r} in aliases; known groups: "
                f"{', '.join(groups)}." + (f" Did you mean {hit!r}?" if hit else "")
            )
        user_group = user_group.strip("/")
        _ALIASES.setdefault(lib_group, {})[user_group] = package or None
        for group, option, cls in table:
            if group == lib_group:
                _store(user_group, option, cls, package or None)
