"""Shared leaf helpers: error classes, the ``???`` sentinel, closest-name matching.

This module imports nothing from hydra_cnn and nothing heavy (no torch, Hydra or OmegaConf), so
every other module may import it: it is the bottom of the import stack
(common <- registry <- configs <- bricks <- init <- models, checkpoint <- cli).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

__all__ = [
    "MISSING",
    "__version__",
    "ConfigKeyError",
    "InvalidArgumentError",
    "InvalidTypeError",
    "MissingValueError",
    "brief",
    "closest_match",
    "conf_dir",
    "did_you_mean",
    "is_missing",
    "lazy_exports",
    "snake_case",
    "to_plain",
]

__version__ = "0.1.0"

#: OmegaConf's marker for a mandatory value that was never set (``???``). Defined here as the
#: plain string so that no OmegaConf import is needed to recognise it.
MISSING: Any = "???"


def is_missing(value: Any) -> bool:
    """Whether ``value`` is the ``???`` marker of a mandatory value that was never set."""
    return type(value) is str and value == MISSING


class ConfigKeyError(KeyError):
    """A ``KeyError`` whose message prints as plain text (``KeyError`` quotes its message)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidArgumentError(ValueError, AssertionError):
    """An argument value is invalid.

    It is a ``ValueError`` and, because mmcv 1.7 raises ``AssertionError`` in the same places,
    also an ``AssertionError``: code and tests written against mmcv keep catching it.
    """


class InvalidTypeError(TypeError, AssertionError):
    """An argument has the wrong type; also an ``AssertionError``, as mmcv 1.7 raises there."""


class MissingValueError(InvalidArgumentError):
    """A mandatory config value (``???``) was never set. Names the field and its config path."""


def closest_match(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (case-insensitive), or None when none is close."""
    import difflib

    lowered = {c.lower(): c for c in candidates}
    if name.lower() in lowered:
        return lowered[name.lower()]
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[hits[0]] if hits else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" Did you mean 'X'?"`` for the closest candidate, or ``""`` when none is close."""
    hit = closest_match(name, candidates)
    return f" Did you mean {hit!r}?" if hit else ""


# acronyms that mix cases, kept in one piece (ReLU, not re_lu), as the shipped options name them
_WORDS = ("PReLU", "RReLU", "ReLU", "GELU", "SiLU", "ELU")


def snake_case(name: str) -> str:
    """The snake_case of a class name, as hydra_cnn's option names and plugin names use it.

    ``MyUpsample`` -> ``my_upsample``, ``FancyReLU`` -> ``fancy_relu`` (acronyms that mix
    cases stay whole, as in the shipped ``leaky_relu``), ``GN2`` -> ``gn2``,
    ``ConvWS`` -> ``conv_ws``.
    """
    import re

    for word in _WORDS:
        name = name.replace(word, word.capitalize())
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", name)
    s = re.sub(r"([a-z\d])([A-Z])", r"\1_\2", s)
    return re.sub(r"[^0-9a-zA-Z]+", "_", s).strip("_").lower()


def to_plain(value: Any, *, structured: bool = False) -> Any:
    """An OmegaConf container as plain Python data (resolved; ``???`` kept); anything else as it
    is. With ``structured``, a dataclass instance or class is converted too."""
    import dataclasses

    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True, throw_on_missing=False)
    if structured and dataclasses.is_dataclass(value):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(OmegaConf.structured(value), resolve=True,
                                      throw_on_missing=False)
    return value


def conf_dir() -> Path:
    """The folder of the shipped data: YAML options (``layers/``, ``init/``, ``model/``), ``zoo/``.

    It is the repository's top-level ``conf/`` in a source checkout or an editable install, and
    the package data ``hydra_cnn/conf`` in an installed wheel.
    """
    here = Path(__file__).resolve().parent
    packaged = here / "conf"
    return packaged if packaged.is_dir() else here.parent / "conf"


def brief(value: Any, limit: int = 80) -> str:
    """A short ``repr`` for messages: bounded in length and depth, so a value nested thousands
    of levels deep (a hostile config or checkpoint) cannot raise ``RecursionError``."""
    import reprlib

    shorter = reprlib.Repr()
    shorter.maxlevel, shorter.maxstring, shorter.maxother = 3, limit, limit
    shorter.maxdict = shorter.maxlist = shorter.maxtuple = 6
    return shorter.repr(value)


def lazy_exports(
    package: str, exports: Mapping[str, str], moved: Mapping[str, str] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose public names are imported on first use.

    Args:
        package: the package's dotted name (for messages and the cache).
        exports: public name -> the module that defines it.
        moved: a name that left the package's surface -> the module it lives in now; using it
            still works for one release, with a ``DeprecationWarning`` naming the new home.
    """
    import importlib
    import importlib.util
    import sys

    moved = dict(moved or {})

    def __getattr__(name: str) -> Any:
        module = exports.get(name)
        if module is not None:
            value = getattr(importlib.import_module(module), name)
            setattr(sys.modules[package], name, value)  # later lookups skip __getattr__
            return value
        home = moved.get(name)
        if home is not None:
            import warnings

            warnings.warn(
                f"{package}.{name} is deprecated and will be removed in the next release; "
                f"import it from {home} instead",
                DeprecationWarning,
                stacklevel=2,
            )
            return getattr(importlib.import_module(home), name)
        if not name.startswith("_") and importlib.util.find_spec(f"{package}.{name}") is not None:
            return importlib.import_module(f"{package}.{name}")  # a subpackage: hydra_cnn.configs
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(set(vars(sys.modules[package])) | set(exports))

    return __getattr__, __dir__

