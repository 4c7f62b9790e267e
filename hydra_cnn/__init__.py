"""hydra_cnn: mmcv's CNN building bricks as typed, composable Hydra configs.

Every public name is importable from here, lazily: ``import hydra_cnn`` imports neither torch,
hydra, omegaconf, requests nor tqdm; the first use of a name imports what it needs.

    >>> from hydra_cnn import build_norm_layer
    >>> build_norm_layer(dict(type='GN', num_groups=2), 8)
    ('gn', GroupNorm(2, 8, eps=1e-05, affine=True))

The exported names are listed once, in ``__init__.pyi`` beside this file: type checkers read
it as this module's interface, and :func:`_exports` reads its ``from MODULE import NAME`` lines
to know where each name lives.
"""

from __future__ import annotations

import importlib
import os
import re
from typing import Any

from hydra_cnn.common import __version__


def _exports() -> dict[str, str]:
    """Public name -> defining module, from the ``from ... import`` lines of ``__init__.pyi``."""
    with open(os.path.splitext(__file__)[0] + ".pyi", encoding="utf-8") as f:
        text = f.read()
    return {
        name: module
        for module, names in re.findall(r"^from ([\w.]+) import \(([^)]*)\)", text, re.M)
        for name in re.findall(r"\b(\w+) as \1\b", names)
    }


_LAZY: dict[str, str] = _exports()

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hydra_cnn' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
