"""Registries: map type names (``'GN'``, ``'Conv2d'``) to classes and build them from configs.

A :class:`Registry` is a named table of classes. Builders look a config's ``type`` up in one
and call the class with the remaining keys::

    >>> from hydra_cnn.registry import NORM_LAYERS
    >>> NORM_LAYERS.get('GN')
    <class 'torch.nn.modules.normalization.GroupNorm'>
    >>> NORM_LAYERS.build(dict(type='GN', num_groups=2, num_channels=8))
    GroupNorm(2, 8, eps=1e-05, affine=True)

The built-in members of each registry are imported the first time the registry is queried, so
``import hydra_cnn.registry`` stays free of torch. Registering a user class in a layer registry
also makes it a Hydra config option (``layers/upsample=my_upsample``): see
:mod:`hydra_cnn.configs`.

Errors follow mmcv's exception classes with clearer messages: a config that is not a mapping
raises ``TypeError``; a missing ``type`` raises ``KeyError``; an unknown type raises ``KeyError``
listing the registered names and the closest match; bad constructor arguments raise
``TypeError`` (or ``ValueError`` for values of the right type the layer rejects) naming the
registry and type, chained to the original error.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import importlib
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

__all__ = [
    "ACTIVATION_LAYERS",
    "CONV_LAYERS",
    "INITIALIZERS",
    "MODELS",
    "NORM_LAYERS",
    "PADDING_LAYERS",
    "PLUGIN_LAYERS",
    "UPSAMPLE_LAYERS",
    "Registry",
    "build_from_cfg",
    "cfg_to_dict",
    "closest_match",
]

T = TypeVar("T")

# Keys Hydra interprets itself; they never reach a constructor.
HYDRA_KEYS = frozenset({"_target_", "_partial_", "_convert_", "_recursive_", "_args_"})


class ConfigKeyError(KeyError):
    """A ``KeyError`` whose message prints as plain text (``KeyError`` quotes its message)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def closest_match(name: str, candidates: Iterable[str]) -> str | None:
    """Return the candidate closest to ``name`` (case-insensitive), or None when none is close."""
    cands = list(candidates)
    lowered = {c.lower(): c for c in cands}
    if name.lower() in lowered:
        return lowered[name.lower()]
    hits = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.5)
    return lowered[hits[0]] if hits else None


def _did_you_mean(name: str, candidates: Iterable[str]) -> str:
    hit = closest_match(name, candidates)
    return f" Did you mean {hit!r}?" if hit else ""


class Registry:
    """A named table of classes that configs refer to by ``type``.

    Args:
        name: human-readable name used in messages, e.g. ``'norm layer'``.
        loader: module path imported the first time the registry is queried; it registers the
            built-in members. None for registries filled only by users.
        config_group: Hydra config group whose options mirror this registry (e.g.
            ``'layers/norm'``). A class a user registers later gets an option there too.
        build_func: what :meth:`build` calls, as ``build_func(cfg, registry, default_args)``
            (mmcv's argument); default :func:`build_from_cfg`.

    Example:
        >>> FANCY = Registry('fancy layer')
        >>> @FANCY.register_module()
        ... class Fancy:
        ...     def __init__(self, k=1):
        ...         self.k = k
        >>> FANCY.build(dict(type='Fancy', k=2)).k
        2
    """

    def __init__(
        self,
        name: str,
        build_func: Callable[..., Any] | None = None,
        *,
        loader: str | None = None,
        config_group: str | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"Registry name must be a str, but got {name!r}")
        if build_func is not None and not callable(build_func):
            raise TypeError(f"build_func must be callable, but got {build_func!r}")
        self._name = name
        self._build_func = build_func
        self._module_dict: dict[str, Callable[..., Any]] = {}
        self._loader = loader
        self._loaded = loader is None
        self._loading = False
        self.config_group = config_group
        self._builtin_names: set[str] = set()

    # -- loading -----------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            assert self._loader is not None
            importlib.import_module(self._loader)
            self._loaded = True
        finally:
            self._loading = False

    # -- introspection -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The registry's name, e.g. ``'norm layer'``."""
        return self._name

    @property
    def module_dict(self) -> dict[str, Callable[..., Any]]:
        """A copy of the name -> class table."""
        self._ensure_loaded()
        return dict(self._module_dict)

    def names(self) -> list[str]:
        """Registered names, sorted case-insensitively."""
        self._ensure_loaded()
        return sorted(self._module_dict, key=str.lower)

    def is_builtin(self, name: str) -> bool:
        """Whether ``name`` was registered by hydra_cnn itself (not by a user)."""
        self._ensure_loaded()
        return name in self._builtin_names

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._module_dict)

    def __contains__(self, name: object) -> bool:
        self._ensure_loaded()
        return name in self._module_dict

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __repr__(self) -> str:
        self._ensure_loaded()
        items = ", ".join(
            f"{k}={getattr(v, '__qualname__', repr(v))}" for k, v in sorted(self._module_dict.items())
        )
        return f"Registry(name={self._name!r}, items={{{items}}})"

    def get(self, name: str) -> Callable[..., Any] | None:
        """Return the class registered as ``name``, or None when there is none."""
        self._ensure_loaded()
        return self._module_dict.get(name)

    def lookup(self, name: Any) -> Callable[..., Any]:
        """Return the class registered as ``name``; raise ``KeyError`` with close matches if none.

        A class (rather than a name) is returned as it is, as mmcv allows ``type=SomeClass``.
        """
        if inspect.isclass(name):
            return name
        if not isinstance(name, str):
            raise TypeError(
                f"{self._name} type must be a str or a class, but got {type(name).__name__}: "
                f"{name!r}. Registered: {', '.join(self.names())}"
            )
        obj = self.get(name)
        if obj is None:
            raise ConfigKeyError(
                f"{name!r} is not registered in the {self._name} registry. "
                f"Registered: {', '.join(self.names())}.{_did_you_mean(name, self._module_dict)}"
            )
        return obj

    # -- registration ------------------------------------------------------------------------
    def register_module(
        self,
        name: str | list[str] | None = None,
        force: bool = False,
        module: Any = None,
        config_name: str | None = None,
    ) -> Any:
        """Register a class, as a decorator or a call.

        Args:
            name: the name (or list of names) to register under; defaults to the class name.
            force: replace an existing entry instead of raising ``KeyError``.
            module: the class to register; when None, a decorator is returned.
            config_name: the Hydra option name for this class in the registry's config group;
                defaults to the snake_case of each registered name.

        Example:
            >>> @UPSAMPLE_LAYERS.register_module()                    # doctest: +SKIP
            ... class MyUpsample:
            ...     def __init__(self, scale_factor): ...
        """
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, but got {type(force).__name__}")
        if name is not None and not isinstance(name, str) and not (
            isinstance(name, list | tuple) and all(isinstance(n, str) for n in name)
        ):
            raise TypeError(f"name must be None, a str or a list of str, but got {name!r}")
        if module is not None:
            self._register(module, name, force, config_name)
            return module

        def _decorator(cls: T) -> T:
            self._register(cls, name, force, config_name)
            return cls

        return _decorator

    def add_builtin(self, name: str | list[str], module: Any) -> None:
        """Register one of hydra_cnn's own classes (it has a shipped config, none is generated)."""
        self._register(module, name, False, None, builtin=True)

    def _register(
        self, module: Any, name: str | list[str] | tuple[str, ...] | None, force: bool,
        config_name: str | None, builtin: bool = False,
    ) -> None:
        if not callable(module):
            raise TypeError(f"only classes and callables can be registered, got {module!r}")
        if not builtin:
            self._ensure_loaded()
        names = [module.__name__] if name is None else [name] if isinstance(name, str) else list(name)
        for n in names:
            if not force and n in self._module_dict and self._module_dict[n] is not module:
                raise ConfigKeyError(
                    f"{n!r} is already registered in the {self._name} registry "
                    f"(as {self._module_dict[n]!r}); pass force=True to replace it"
                )
        for n in names:
            self._module_dict[n] = module
            if builtin:
                self._builtin_names.add(n)
            else:
                self._builtin_names.discard(n)
        if not builtin and self.config_group is not None:
            from hydra_cnn.configs.auto import on_register

            on_register(self, names, module, config_name)

    # -- building ----------------------------------------------------------------------------
    def build(self, cfg: Any, **default_args: Any) -> Any:
        """Build an object from ``cfg`` with ``build_func`` (default :func:`build_from_cfg`)."""
        if self._build_func is not None:
            return self._build_func(cfg, self, default_args or None)
        return build_from_cfg(cfg, self, default_args or None)


def _is_omegaconf(obj: Any) -> bool:
    return type(obj).__module__.startswith("omegaconf")


def _plain(value: Any) -> Any:
    """Turn OmegaConf containers into plain Python values (leave everything else)."""
    if _is_omegaconf(value):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    return value


def cfg_to_dict(cfg: Any, what: str = "config") -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Normalise any accepted config form to ``(args, kwargs)``, never touching the original.

    Accepted: a mapping (dict, OmegaConf DictConfig), a structured-config dataclass instance or
    class, or a ``functools.partial`` made by ``instantiate`` on a hydra_cnn layer config (its
    keywords are unwrapped, so no Hydra machinery runs per call). Hydra keys (``_target_``,
    ``_partial_``, ...) are dropped.

    Raises:
        TypeError: for anything else, naming what is accepted.
    """
    args: tuple[Any, ...] = ()
    if isinstance(cfg, functools.partial):
        if getattr(cfg.func, "_hydra_cnn_registry_", None) is None:
            raise TypeError(
                f"{what} must be a mapping with a 'type' key, a structured config or a factory "
                f"made by instantiate on a hydra_cnn layer config, but got a partial of "
                f"{getattr(cfg.func, '__qualname__', cfg.func)!r}"
            )
        data = dict(cfg.keywords)
        args = tuple(cfg.args)
    elif isinstance(cfg, Mapping):
        data = dict(_plain(cfg)) if _is_omegaconf(cfg) else dict(cfg)
    elif dataclasses.is_dataclass(cfg):
        inst = cfg() if isinstance(cfg, type) else cfg
        data = {f.name: _plain(getattr(inst, f.name)) for f in dataclasses.fields(inst)}
    else:
        raise TypeError(
            f"{what} must be a dict with a 'type' key, a DictConfig, a structured config "
            f"dataclass (e.g. GNConf(num_groups=2)) or a factory made by instantiate, but got "
            f"{type(cfg).__name__}: {cfg!r}"
        )
    for key in HYDRA_KEYS & data.keys():
        del data[key]
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{what} keys must be strings, but got {bad!r}")
    return args, data


def _call_with_errors(reg: Registry, type_name: Any, obj_cls: Callable[..., Any], *args: Any,
                      **kwargs: Any) -> Any:
    """Call ``obj_cls``; re-raise its errors as TypeError/ValueError naming registry and type."""
    try:
        return obj_cls(*args, **kwargs)
    except (TypeError, ValueError, RuntimeError, AssertionError, ZeroDivisionError,
            OverflowError, AttributeError, IndexError, KeyError) as exc:
        shown = ", ".join([*(repr(a) for a in args), *(f"{k}={v!r}" for k, v in kwargs.items())])
        label = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "?")
        err_cls = TypeError if isinstance(exc, TypeError | AttributeError) else ValueError
        raise err_cls(
            f"{reg.name} {label!r} could not be built from ({shown}): {exc}"
        ) from exc


def build_from_cfg(cfg: Any, registry: Registry, default_args: Mapping[str, Any] | None = None
                   ) -> Any:
    """Build an object from a config with a ``type`` key.

    Args:
        cfg: a dict-like config (see :func:`cfg_to_dict` for every accepted form). ``type`` is a
            registered name or a class; the other keys are constructor arguments.
        registry: where ``type`` is looked up.
        default_args: arguments used when ``cfg`` does not set them (may supply ``type``).

    Returns:
        The built object.

    Example:
        >>> build_from_cfg(dict(type='ReLU', inplace=True), ACTIVATION_LAYERS)   # doctest: +SKIP
        ReLU(inplace=True)
    """
    if not isinstance(registry, Registry):
        raise TypeError(f"registry must be a Registry, but got {type(registry).__name__}")
    if default_args is not None and not isinstance(default_args, Mapping):
        raise TypeError(f"default_args must be a mapping or None, but got {default_args!r}")
    args, data = cfg_to_dict(cfg, what=f"{registry.name} config")
    merged = dict(default_args or {})
    merged.update(data)
    if "type" not in merged:
        raise ConfigKeyError(
            f"{registry.name} config must contain the key 'type' (one of "
            f"{', '.join(registry.names())}), but got {data!r}"
        )
    type_name = merged.pop("type")
    obj_cls = registry.lookup(type_name)
    return _call_with_errors(registry, type_name, obj_cls, *args, **merged)


CONV_LAYERS = Registry("conv layer", loader="hydra_cnn.bricks.conv", config_group="layers/conv")
NORM_LAYERS = Registry("norm layer", loader="hydra_cnn.bricks.norm", config_group="layers/norm")
ACTIVATION_LAYERS = Registry(
    "activation layer", loader="hydra_cnn.bricks.activation", config_group="layers/act"
)
UPSAMPLE_LAYERS = Registry(
    "upsample layer", loader="hydra_cnn.bricks.upsample", config_group="layers/upsample"
)
PADDING_LAYERS = Registry(
    "padding layer", loader="hydra_cnn.bricks.padding", config_group="layers/padding"
)
PLUGIN_LAYERS = Registry("plugin layer", loader="hydra_cnn.bricks.plugin")
DROPOUT_LAYERS = Registry("dropout layer", loader="hydra_cnn.bricks.dropout")
INITIALIZERS = Registry("initializer", loader="hydra_cnn.init.initializers", config_group="init")
MODELS = Registry("model", loader="hydra_cnn.models")
