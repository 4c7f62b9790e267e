"""Layer building bricks: builders, registries' members and small layer classes.

Importing this package imports :mod:`hydra_cnn.configs` (torch-free dataclasses), which gives
the one road the value types of every registered type's config: a builder refuses
``dict(type='GN', num_groups='abc')`` before torch sees it, whatever the caller imported.
"""

import hydra_cnn.configs  # noqa: F401  (installs the registries' schema provider)
