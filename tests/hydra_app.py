"""A Hydra app that opted in to every hydra_cnn group, for tests that compose options."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator


@contextlib.contextmanager
def opted_in() -> Iterator[None]:
    """``register_configs`` for every hydra_cnn group, then a Hydra context with no primary config."""
    from hydra import initialize
    from hydra.core.global_hydra import GlobalHydra

    from hydra_cnn.configs import option_table, register_configs

    register_configs(groups=sorted({g for g, _, _ in option_table()}))
    GlobalHydra.instance().clear()
    with initialize(version_base="1.3", config_path=None):
        yield
    GlobalHydra.instance().clear()
