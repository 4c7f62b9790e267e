"""Layer building bricks: builders, registries' members and small layer classes.

The first build imports :mod:`hydra_cnn.configs` (torch-free dataclasses), which gives the one
road the value types of every registered type's config, so a builder refuses
``dict(type='GN', num_groups='abc')`` before torch sees it, whatever the caller imported.
Registering a class alone imports no configs.
"""

import importlib

import hydra_cnn.registry as _registry

_registry.set_schema_loader(lambda: importlib.import_module("hydra_cnn.configs"))
