"""Shared fixtures: a clean Hydra global state and a compose helper over hydra_cnn's options."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def compose_option() -> Iterator[Callable[..., Any]]:
    """compose_option('layers/norm', 'gn', 'layers.norm.num_groups=4') -> the composed node.

    The app has opted in to every hydra_cnn group (``register_configs(groups=[...])``).
    """
    from hydra import compose, initialize
    from hydra.core.global_hydra import GlobalHydra

    from hydra_cnn.configs import option_table, register_configs

    register_configs(groups=sorted({g for g, _, _ in option_table()}))
    GlobalHydra.instance().clear()
    with initialize(version_base="1.3", config_path=None):

        def _compose(group: str, option: str, *overrides: str) -> Any:
            cfg = compose(overrides=[f"+{group}={option}", *overrides])
            node = cfg
            for part in group.split("/"):
                node = node[part]
            return node

        yield _compose
    GlobalHydra.instance().clear()


@pytest.fixture
def unregister() -> Iterator[Callable[[Any, str], None]]:
    """Remove names a test registered, so the global registries stay as shipped."""
    added: list[tuple[Any, str]] = []

    def _track(registry: Any, name: str) -> None:
        added.append((registry, name))

    yield _track
    for registry, name in added:
        registry._module_dict.pop(name, None)
