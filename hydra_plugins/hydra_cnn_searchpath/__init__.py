"""Hydra search-path plugin for hydra_cnn (torch-free: Hydra imports it in every app).

It makes ``pkg://hydra_cnn.conf`` (the ``layers/...`` YAML options) visible to any Hydra
application once hydra-cnn is installed, and stores the typed schemas those options extend,
so ``layers/norm=gn layers.norm.num_groups=abc`` fails at compose naming the field.
"""

from hydra.core.config_search_path import ConfigSearchPath
from hydra.plugins.search_path_plugin import SearchPathPlugin

from hydra_cnn.configs.store import store_schemas

store_schemas()


class HydraCnnSearchPathPlugin(SearchPathPlugin):
    """Appends ``pkg://hydra_cnn.conf`` to the config search path."""

    def manipulate_search_path(self, search_path: ConfigSearchPath) -> None:
        store_schemas()
        search_path.append(provider="hydra_cnn", path="pkg://hydra_cnn.conf")
