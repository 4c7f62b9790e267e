"""Opting a Hydra app in: putting hydra_cnn's typed options into Hydra's ConfigStore.

Nothing here runs on ``import hydra_cnn``, and installing hydra-cnn adds nothing to a Hydra
app: an app opts in with one call before ``@hydra.main`` runs::

    hydra_cnn.register_configs()                                   # layers/norm=gn, init=xavier
    hydra_cnn.register_configs(aliases={"model/norm": "layers/norm"})   # model/norm=gn

Each option is stored as its dataclass (``layers/norm/gn`` is :class:`GNConf`), so composing
it is typed (a wrong value fails at compose, naming the field) and ``--help`` lists it. The
YAML files under ``conf/`` are the same options in readable form; a test keeps them equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hydra_cnn.common import closest_match

__all__ = ["register_configs", "registered_groups", "store_option"]

PROVIDER = "hydra_cnn"

# (group, name) -> (class, package) hydra_cnn stored there
_STORED: dict[tuple[str, str], tuple[type, str | None]] = {}
# library group -> {app group: package or None} that holds its options
_TARGETS: dict[str, dict[str, str | None]] = {}


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

    if _STORED.get((group, name)) == (cls, package) and _existing(group, name) is not None:
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
    _share(group)


class _SharedGroup(dict):
    """A ConfigStore group folder holding hydra_cnn's options, shared instead of deep-copied.

    Hydra 1.3 deep-copies its whole config repository, ConfigStore contents included, on every
    ``compose``; with a few dozen typed option nodes that is tens of milliseconds per compose.
    The copy protects against mutation during source initialisation, which never touches
    these nodes, and ``ConfigStore.load`` still hands out a deep copy of each node it returns,
    so the folder is shared. It stays a ``dict`` for Hydra, and pickles like one for launchers
    that ship the store to their workers.
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> _SharedGroup:
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        return (_SharedGroup, (dict(self),))


def _share(group: str) -> None:
    from hydra.core.config_store import ConfigStore

    parent: Any = ConfigStore.instance().repo
    *path, last = group.split("/")
    for part in path:
        parent = parent.get(part)
        if not isinstance(parent, dict):
            return
    folder = parent.get(last)
    if type(folder) is dict:
        parent[last] = _SharedGroup(folder)


def store_option(group: str, option: str, cls: type) -> None:
    """Store a newly generated option (a class a user registered) wherever its group is opted in."""
    for app_group, package in sorted(_TARGETS.get(group, {}).items()):
        _store(app_group, option, cls, package)


def registered_groups() -> dict[str, dict[str, str | None]]:
    """Library group -> {app group: package} that :func:`register_configs` has stored so far."""
    return {k: dict(v) for k, v in _TARGETS.items()}


def _library_groups() -> list[str]:
    from hydra_cnn.configs.table import option_table

    return sorted({g for g, _, _ in option_table()})


def _check_group(group: Any, groups: list[str], what: str) -> str:
    if not isinstance(group, str) or group not in groups:
        hit = closest_match(group, groups) if isinstance(group, str) else None
        raise ValueError(
            f"unknown hydra_cnn config group {group!r} in {what}; known groups: "
            f"{', '.join(groups)}." + (f" Did you mean {hit!r}?" if hit else "")
        )
    return group


def register_configs(
    aliases: Mapping[str, str] | None = None, *, groups: Iterable[str] | None = None
) -> None:
    """Opt a Hydra app in: store hydra_cnn's typed options in Hydra's ConfigStore.

    Call it once before ``@hydra.main`` runs (at module level of your app). Until it is
    called, no Hydra app sees any hydra_cnn option.

    Args:
        aliases: your group path -> a hydra_cnn group, e.g.
            ``{"model/norm": "layers/norm", "model/act": "layers/act"}``: every option of the
            hydra_cnn group (``bn``, ``gn``, ..., and types users register, now or later) is
            stored under your group. A key may name the package the option lands in,
            Hydra-style: ``{"model/norm@model.norm_cfg": "layers/norm"}`` keeps the command
            line ``model/norm=gn`` while the node goes to ``model.norm_cfg``.
        groups: hydra_cnn groups to store under their own names (``layers/norm``, ``init``,
            ``model``...). Default: every ``layers/*`` group and ``init`` when no ``aliases``
            are given, none when they are (so your ``--help`` lists only your groups). Add
            ``"model"`` for the ResNet/VGG options.

    Calling it again with the same arguments does nothing. A (group, option) already stored
    by someone else raises ``ValueError`` instead of being silently overwritten.

    Example:
        >>> register_configs(aliases={"model/norm": "layers/norm"})      # doctest: +SKIP
        >>> # conf/config.yaml: defaults: [{model/norm: bn}]; CLI: model/norm=gn
    """
    from hydra_cnn.configs.table import option_table

    if aliases is not None and not isinstance(aliases, Mapping):
        raise TypeError(f"aliases must be a mapping of group -> hydra_cnn group, got {aliases!r}")
    lib_groups = _library_groups()
    if groups is None:
        chosen = [] if aliases else [g for g in lib_groups if g.startswith("layers/") or g == "init"]
    elif isinstance(groups, str):
        raise TypeError(f"groups must be a list of hydra_cnn groups, got the str {groups!r}")
    else:
        chosen = [_check_group(g, lib_groups, "groups") for g in groups]
    targets: list[tuple[str, str, str | None]] = [(g, g, None) for g in chosen]
    for key, lib_group in (aliases or {}).items():
        if not isinstance(key, str) or not key.split("@")[0].strip("/") or not isinstance(lib_group, str):
            raise TypeError(f"aliases entries must be str -> str, got {key!r}: {lib_group!r}")
        user_group, _, package = key.partition("@")
        targets.append((_check_group(lib_group, lib_groups, "aliases"), user_group.strip("/"),
                        package or None))
    table = option_table()
    for lib_group, app_group, where in targets:
        _TARGETS.setdefault(lib_group, {})[app_group] = where
        for group, option, cls in table:
            if group == lib_group:
                _store(app_group, option, cls, where)
    _enable_preflight()


def _enable_preflight() -> None:
    """Make ``hydra/launcher=preflight`` work where Hydra's plugin scan misses the plugin (an
    editable install of hydra_cnn); with a normal install the scan finds it by itself."""
    try:
        from hydra_plugins.hydra_cnn_preflight import register
    except ImportError:  # hydra_cnn's files without its plugin package
        return
    register()
