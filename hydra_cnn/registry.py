"""Registries, and the one road from any config to a built object.

A :class:`Registry` is a named table of classes. Every way of building from one takes the same
road (:meth:`Registry.build`, :func:`build_from_cfg`, every ``build_*_layer`` and ``make_*``
target, and :func:`hydra_cnn.validate` for its checks)::

    config (dict, DictConfig, dataclass, instantiate-made factory)
      -> resolve: (bound args, type, keys); Hydra keys dropped; the caller's config untouched
      -> merge: default_args < config keys < the caller's keyword arguments
      -> check: a never-set ``???`` value, unknown keys (closest match), value types (from the
         type's structured config), meaningless values (channels <= 0, NaN eps...)
      -> the family's prepare hook (GroupNorm's groups, Upsample's mode...)
      -> call the class, errors re-raised naming registry and type, chained to the original

    >>> from hydra_cnn.registry import NORM_LAYERS
    >>> NORM_LAYERS.build(dict(type='GN', num_groups=2, num_channels=8))
    GroupNorm(2, 8, eps=1e-05, affine=True)

What a family does differently is data in :mod:`hydra_cnn.families`. This module imports
neither torch nor Hydra nor OmegaConf (nor :mod:`hydra_cnn.configs`): the built-in members of a
registry are imported the first time it is queried, and :mod:`hydra_cnn.configs` subscribes to
registrations (:func:`add_listener`) and supplies the value types
(:func:`set_schema_provider`) when it is imported.

Errors follow mmcv's exception classes with clearer messages: a config that is not a mapping
raises ``TypeError``; a missing ``type`` raises ``KeyError``; an unknown type raises ``KeyError``
listing the registered names and the closest match; bad constructor arguments raise
``TypeError`` (or ``ValueError`` for values of the right type the layer rejects) naming the
registry and type, chained to the original error.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import math
import numbers
import types
import typing
import warnings
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeVar

from hydra_cnn.common import (
    ConfigKeyError,
    InvalidArgumentError,
    InvalidTypeError,
    MissingValueError,
    brief,
    closest_match,
    did_you_mean,
    is_missing,
    to_plain,
)
from hydra_cnn.families import FAMILIES, Family, declare_family
from hydra_cnn.mmcv_ops import mmcv_ops_message

__all__ = [
    "ACTIVATION_LAYERS",
    "ATTENTION",
    "CONV_LAYERS",
    "DROPOUT_LAYERS",
    "FEEDFORWARD_NETWORK",
    "INITIALIZERS",
    "MODELS",
    "NORM_LAYERS",
    "PADDING_LAYERS",
    "PLUGIN_LAYERS",
    "POSITIONAL_ENCODING",
    "TRANSFORMER_LAYER",
    "TRANSFORMER_LAYER_SEQUENCE",
    "UPSAMPLE_LAYERS",
    "FACTORIES",
    "ConfigKeyError",
    "Registry",
    "Resolved",
    "add_listener",
    "build_family_member",
    "build_from_cfg",
    "build_model_from_cfg",
    "cfg_to_dict",
    "check_kwargs",
    "closest_match",
    "family_defaults",
    "family_registry",
    "group_registry",
    "layer_factory",
    "register_family",
    "set_schema_loader",
    "set_schema_provider",
]

T = TypeVar("T")

# Keys Hydra interprets itself; they never reach a constructor.
HYDRA_KEYS = frozenset({"_target_", "_partial_", "_convert_", "_recursive_", "_args_"})

# (registry, names, class, config_name) -> None: called for every registration by a user
Listener = Callable[["Registry", list[str], Any, "str | None"], None]
_LISTENERS: list[Listener] = []
_USER_REGISTRATIONS: list[tuple[Registry, list[str], Any, str | None]] = []
# (config group, type name) -> {field: annotation} of the type's structured config, or None
_SCHEMA_PROVIDER: list[Callable[[str, str], dict[str, Any] | None]] = []


def add_listener(listener: Listener) -> None:
    """Call ``listener(registry, names, cls, config_name)`` for every user registration.

    Registrations made before the listener was added are replayed to it, in order, so the
    order of imports does not matter. :mod:`hydra_cnn.configs` uses this to generate a config
    for each class a user registers.
    """
    if listener in _LISTENERS:
        return
    _LISTENERS.append(listener)
    for registration in list(_USER_REGISTRATIONS):
        listener(*registration)


def set_schema_provider(provider: Callable[[str, str], dict[str, Any] | None]) -> None:
    """Install the function that gives a type's config field annotations (``configs`` does)."""
    _SCHEMA_PROVIDER[:] = [provider]
    _rules_cached.cache_clear()


_SCHEMA_LOADER: list[Callable[[], object]] = []
# family name -> its registry (register_family and Registry(..., family=...) fill it)
_FAMILY_REGISTRIES: dict[str, Registry] = {}


def set_schema_loader(loader: Callable[[], object]) -> None:
    """Install what makes the schema provider available on the first build (``bricks`` imports
    :mod:`hydra_cnn.configs` that way), so registering a class imports no configs."""
    _SCHEMA_LOADER[:] = [loader]


class Registry:
    """A named table of classes that configs refer to by ``type``.

    Args:
        name: human-readable name used in messages, e.g. ``'norm layer'``.
        build_func: what :meth:`build` calls, as ``build_func(cfg, registry, default_args)``
            (mmcv's argument); default :func:`build_from_cfg`.
        family: the :class:`~hydra_cnn.families.Family` this registry holds (its loader,
            config group, late arguments, prepare hook). None for a registry of your own. A
            family not yet in the table is declared (as :func:`register_family` does), and one
            whose group another family uses is refused with a ``ValueError``.

    Printing a registry lists its members. Any class or plain function can be registered.

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
        family: Family | None = None,
    ) -> None:
        if not isinstance(name, str):
            raise TypeError(f"Registry name must be a str, but got {name!r}")
        if build_func is not None and not callable(build_func):
            raise TypeError(f"build_func must be callable, but got {build_func!r}")
        if family is not None:
            if not isinstance(family, Family):
                raise TypeError(f"family must be a hydra_cnn.families.Family, but got {family!r}")
            if family.target is None and family.group is not None and family.shares is None:
                family = dataclasses.replace(family, target=f"hydra_cnn.registry.FACTORIES.{family.name}")
            family = declare_family(family)
        self._name = name
        self._build_func = build_func
        self._module_dict: dict[str, Any] = {}
        self.family = family
        if family is not None:
            _FAMILY_REGISTRIES.setdefault(family.name, self)
        self._loaded = family is None or family.loader is None
        self._loading = False
        self._builtin_names: set[str] = set()
        self._prepare: Callable[..., Any] | None = None

    # -- loading -----------------------------------------------------------------------------
    def _ensure_loaded(self) -> None:
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            assert self.family is not None and self.family.loader is not None
            importlib.import_module(self.family.loader)
            self._loaded = True
        finally:
            self._loading = False

    # -- introspection -----------------------------------------------------------------------
    @property
    def name(self) -> str:
        """The registry's name, e.g. ``'norm layer'``."""
        return self._name

    @property
    def config_group(self) -> str | None:
        """The Hydra config group whose options select this registry's types, if any."""
        return self.family.group if self.family is not None else None

    @property
    def module_dict(self) -> dict[str, Any]:
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
        return f"{type(self).__name__}(name={self._name}, items={self._module_dict})"

    def get(self, name: str) -> Any:
        """Return the class registered as ``name``, or None when there is none."""
        self._ensure_loaded()
        return self._module_dict.get(name)

    def lookup(self, name: Any) -> Any:
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
            ops = mmcv_ops_message(name, self._name)
            if ops is not None:
                raise ConfigKeyError(ops)
            raise ConfigKeyError(
                f"{name!r} is not registered in the {self._name} registry. "
                f"Registered: {', '.join(self.names())}.{did_you_mean(name, self._module_dict)}"
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
        """Register a class (or a plain function), as a decorator or a call.

        Args:
            name: the name (or list of names) to register under; defaults to the class name.
            force: replace an existing entry instead of raising ``KeyError``.
            module: the class to register; when None, a decorator is returned.
            config_name: the Hydra option name for this class in the registry's config group;
                defaults to the snake_case of each registered name.

        mmcv's legacy forms ``register_module(Cls)``, ``register_module(Cls, force=True)`` and a
        bare ``@register_module`` still register, with a ``DeprecationWarning``.

        Example:
            >>> @UPSAMPLE_LAYERS.register_module()                    # doctest: +SKIP
            ... class MyUpsample:
            ...     def __init__(self, scale_factor): ...
        """
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, but got {type(force).__name__}")
        if inspect.isclass(name):  # mmcv's legacy form: the class as the first argument
            warnings.warn(
                "register_module(cls) is deprecated: use register_module() as a decorator or "
                "register_module(module=cls)",
                DeprecationWarning,
                stacklevel=2,
            )
            self._register(name, None, force, config_name)
            return name
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

    def deprecated_register_module(self, cls: Any = None, force: bool = False) -> Any:
        """mmcv 1.7's old registration API: ``deprecated_register_module(Cls, force=False)``.

        Warns with a ``DeprecationWarning`` on every call. With ``cls=None`` it returns a
        decorator (``@REG.deprecated_register_module`` and
        ``@REG.deprecated_register_module(force=True)`` both work); otherwise it registers
        ``cls`` under its class name and returns it. A name that is already registered raises
        ``KeyError`` unless ``force=True``.
        """
        warnings.warn(
            "deprecated_register_module(cls, force=False) is mmcv's old API: use "
            "register_module(name=None, force=False, module=None) instead",
            DeprecationWarning,
            stacklevel=2,
        )
        if not isinstance(force, bool):
            raise TypeError(f"force must be a bool, but got {type(force).__name__}")
        if cls is None:
            return functools.partial(self.deprecated_register_module, force=force)
        self._register(cls, None, force, None)
        return cls

    def add_builtin(self, name: str | list[str], module: Any) -> None:
        """Register one of hydra_cnn's own classes (it has a shipped config, none is generated)."""
        self._register(module, name, False, None, builtin=True)

    def _register(
        self, module: Any, name: str | list[str] | tuple[str, ...] | None, force: bool,
        config_name: str | None, builtin: bool = False,
    ) -> None:
        if not (inspect.isclass(module) or inspect.isfunction(module)):
            raise TypeError(
                f"only a class or a plain function can be registered in the {self._name} "
                f"registry, but got {type(module).__name__}: {module!r}"
            )
        if not builtin:
            self._ensure_loaded()
        names = [module.__name__] if name is None else [name] if isinstance(name, str) else list(name)
        for n in names:
            # mmcv's rule: a taken name is an error without force, even for the same class
            # (hydra_cnn's own members may be re-added, e.g. when their module is reloaded)
            taken = n in self._module_dict and not (builtin and n in self._builtin_names)
            if not force and taken:
                raise ConfigKeyError(
                    f"{n} is already registered in {self._name} "
                    f"(as {self._module_dict[n]!r}); pass force=True to replace it"
                )
        for n in names:
            self._module_dict[n] = module
            if builtin:
                self._builtin_names.add(n)
            else:
                self._builtin_names.discard(n)
        _rules_cached.cache_clear()
        if not builtin:
            registration = (self, names, module, config_name)
            _USER_REGISTRATIONS.append(registration)
            for listener in list(_LISTENERS):
                listener(*registration)

    # -- building ----------------------------------------------------------------------------
    def build(self, cfg: Any, **default_args: Any) -> Any:
        """Build an object from ``cfg`` with ``build_func`` (default :func:`build_from_cfg`).

        Keyword arguments fill what ``cfg`` does not set; mmcv's ``default_args=dict(...)``
        form is accepted too.
        """
        if set(default_args) == {"default_args"} and (
            default_args["default_args"] is None or isinstance(default_args["default_args"], Mapping)
        ):
            defaults = default_args["default_args"]
        else:
            defaults = default_args or None
        if self._build_func is not None:
            return self._build_func(cfg, self, defaults)
        return build_from_cfg(cfg, self, defaults)

    def resolve(self, cfg: Any, default_type: str | None = None) -> Resolved:
        """Normalise any accepted config form to :class:`Resolved`; never mutates ``cfg``.

        Accepted: a mapping (dict, OmegaConf DictConfig), a structured-config dataclass instance
        or class, or a factory made by ``instantiate`` on a hydra_cnn layer config (its keywords
        are unwrapped, so no Hydra machinery runs per call). ``None`` means ``default_type``
        when there is one. Hydra keys are dropped.

        Raises:
            TypeError: for anything else, naming what is accepted.
            KeyError: when there is no ``type`` (mmcv's phrase: must contain the key "type").
        """
        # the common mmcv case, kept cheap
        if type(cfg) is dict and "type" in cfg and all(
            type(k) is str and k not in HYDRA_KEYS for k in cfg
        ):
            data = dict(cfg)
            return Resolved((), data.pop("type"), data, None)
        what = f"{self._name} config"
        if cfg is None:
            if default_type is None:
                raise TypeError(f"{what} must not be None; pass e.g. dict(type=...)")
            return Resolved((), default_type, {}, None)
        if isinstance(cfg, functools.partial):
            owner = getattr(cfg.func, "_hydra_cnn_registry_", None)
            if owner is not None and owner is not self:
                raise TypeError(
                    f"{what} expected, but got a factory for the {owner.name} registry "
                    f"({getattr(cfg.func, '__name__', cfg.func)}). Check which config group it "
                    "came from."
                )
        args, data, path = _to_args_and_dict(cfg, what)
        if "type" not in data:
            raise ConfigKeyError(
                f'{what} must contain the key "type" (one of {", ".join(self.names())}), but '
                f"got {brief(data)}"
            )
        type_name = data.pop("type")
        return Resolved(args, type_name, data, path)

    def build_layer(
        self,
        cfg: Any,
        *args: Any,
        default_type: str | None = None,
        default_args: Mapping[str, Any] | None = None,
        resolved: Resolved | None = None,
        **kwargs: Any,
    ) -> Any:
        """Build ``cfg`` with the late ``args``/``kwargs`` a builder or block passes.

        Precedence: ``default_args`` < the config's keys < ``kwargs`` (calling a factory with a
        keyword overrides its config, as a ``functools.partial`` does). ``default_type`` is
        used when ``cfg`` is None. ``resolved`` is :meth:`resolve`'s result when the caller
        already has it (``cfg`` is then ignored).
        """
        res = resolved if resolved is not None else self.resolve(cfg, default_type)
        return _build(self, res, args, kwargs, default_args)


class Resolved(NamedTuple):
    """A config in normal form: positional args bound by a factory, type, keys, config path."""

    args: tuple[Any, ...]
    type: Any
    kwargs: dict[str, Any]
    path: str | None


# -- the road ---------------------------------------------------------------------------------
def _is_omegaconf(obj: Any) -> bool:
    return type(obj).__module__.startswith("omegaconf")


def _to_args_and_dict(cfg: Any, what: str) -> tuple[tuple[Any, ...], dict[str, Any], str | None]:
    args: tuple[Any, ...] = ()
    path: str | None = None
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
        if _is_omegaconf(cfg):
            data = dict(to_plain(cfg))
            path = cfg._get_full_key(None) or None  # type: ignore[attr-defined]
        else:
            data = dict(cfg)
    elif dataclasses.is_dataclass(cfg):
        inst = cfg() if isinstance(cfg, type) else cfg
        data = {f.name: to_plain(getattr(inst, f.name)) for f in dataclasses.fields(inst)}
    else:
        raise TypeError(
            f"{what} must be a dict with a 'type' key, a DictConfig, a structured config "
            f"dataclass (e.g. GNConf(num_groups=2)) or a factory made by instantiate, but got "
            f"{type(cfg).__name__}: {brief(cfg)}"
        )
    for key in HYDRA_KEYS & data.keys():
        del data[key]
    bad = [k for k in data if not isinstance(k, str)]
    if bad:
        raise TypeError(f"{what} keys must be strings, but got {bad!r}")
    return args, data, path


def cfg_to_dict(cfg: Any, what: str = "config") -> tuple[tuple[Any, ...], dict[str, Any]]:
    """``(bound args, keys)`` of any accepted config form (Hydra keys dropped), never mutating it.

    Raises:
        TypeError: for a form that is not accepted, naming the accepted ones.
    """
    args, data, _ = _to_args_and_dict(cfg, what)
    return args, data


def _label(type_name: Any) -> str:
    return type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "?")


@functools.lru_cache(maxsize=256)
def _signature(cls: Any) -> inspect.Signature | None:
    try:
        return inspect.signature(cls)
    except (TypeError, ValueError):
        return None


@functools.lru_cache(maxsize=256)
def _positional_names_cached(cls: Any) -> tuple[str, ...]:
    sig = _signature_of(cls)
    if sig is None:
        return ()
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return tuple(p.name for p in sig.parameters.values() if p.kind in kinds)


def _positional_names(cls: Any) -> tuple[str, ...]:
    """The names positional arguments of ``cls`` bind to, in order (cached per class)."""
    try:
        return _positional_names_cached(cls)
    except TypeError:  # an unhashable class object
        return _positional_names_cached.__wrapped__(cls)


def _signature_of(cls: Any) -> inspect.Signature | None:
    try:
        return _signature(cls)
    except TypeError:  # an unhashable class object
        return _signature.__wrapped__(cls)


@functools.lru_cache(maxsize=1024)
def _rules_cached(family: Family | None, label: str, by_name: bool, cls: Any
                  ) -> tuple[dict[str, Any] | None, frozenset[str], bool]:
    """(field annotations or None, accepted keys, takes **kwargs) for ``cls`` as ``label``."""
    hints = None
    if by_name and family is not None and family.group is not None:
        if not _SCHEMA_PROVIDER and _SCHEMA_LOADER:
            _SCHEMA_LOADER[0]()
        if _SCHEMA_PROVIDER:
            hints = _SCHEMA_PROVIDER[0](family.group, label)
    sig = _signature_of(cls)
    names: set[str] = set()
    var_kw = sig is None
    for p in sig.parameters.values() if sig is not None else ():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind is not p.VAR_POSITIONAL:
            names.add(p.name)
    if var_kw and sig is not None and inspect.isclass(cls):
        var_kw = _forwards_to_strict_base(cls, names)
    if hints is not None:
        names |= hints.keys()
    if family is not None:
        names |= set(family.builder_keys)
    return hints, frozenset(names), var_kw


def _forwards_to_strict_base(cls: type, names: set[str]) -> bool:
    """For a class whose ``__init__`` takes ``**kwargs``: add the named parameters of every
    ``__init__`` in its MRO to ``names``, and tell whether any key is accepted (False when a
    base's ``__init__`` takes no ``**kwargs``: the keys end there, as ``NormalInit(**kwargs)``
    passing ``layer``/``bias`` to ``BaseInit``). ``nn.Module``'s catch-all ``__init__`` and
    ``object``'s do not count as accepting keys."""
    any_key = True
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object or (
            klass.__name__ == "Module" and klass.__module__.startswith("torch.nn")
        ):
            continue
        try:
            params = inspect.signature(init).parameters.values()
        except (TypeError, ValueError):
            return True
        takes_kw = False
        for p in params:
            if p.kind is p.VAR_KEYWORD:
                takes_kw = True
            elif p.kind is not p.VAR_POSITIONAL and p.name != "self":
                names.add(p.name)
        any_key = any_key and takes_kw
    return any_key


def _rules(family: Family | None, label: str, by_name: bool, cls: Any
           ) -> tuple[dict[str, Any] | None, frozenset[str], bool]:
    try:
        return _rules_cached(family, label, by_name, cls)
    except TypeError:  # an unhashable class object: compute without the cache
        return _rules_cached.__wrapped__(family, label, by_name, cls)


def _type_ok(value: Any, tp: Any) -> bool:
    if tp is Any or tp is object or type(value) is tp:
        return tp is not int or type(value) is not bool
    if value is None and tp is type(None):
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is not None:
        return isinstance(value, origin)
    return isinstance(value, tp) if isinstance(tp, type) else True


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    return "None" if tp is type(None) else getattr(tp, "__name__", str(tp))


def _bind_error(cls: Any, key: str, value: Any) -> TypeError | None:
    """The TypeError the constructor's signature gives for ``key`` (for chaining), if any."""
    sig = _signature_of(cls)
    if sig is None:
        return None
    try:
        sig.bind_partial(**{key: value})
    except TypeError as exc:
        return exc
    return None


def check_kwargs(registry: Registry, type_name: Any, cls: Any, kwargs: Mapping[str, Any],
                 path: str | None = None) -> None:
    """Reject never-set values, unknown keys and mistyped values before the class sees them.

    Args:
        registry: where ``type_name`` was looked up (its family says what is late).
        type_name: the registered name (or the class itself).
        cls: the class ``type_name`` resolved to.
        kwargs: the keyword arguments about to be passed.
        path: the config's dotted path (a DictConfig node's full key), named in messages.

    Raises:
        MissingValueError: a ``???`` value (a ``ValueError``), naming the field and path.
        TypeError: naming the bad key (with the closest config key) or the bad value and the
            type the field accepts.
    """
    label = _label(type_name)
    family = registry.family
    hints, accepted, var_kw = _rules(family, label, isinstance(type_name, str), cls)
    late = set(family.late) - set(family.block_decides) if family is not None else set()
    for key, value in kwargs.items():
        if is_missing(value):
            where = f"{path}.{key}" if path else key
            raise MissingValueError(
                f"{registry.name} {label!r}: {key!r} is mandatory ('???') but was never set; "
                f"set it, e.g. {where}=..."
            )
        if not var_kw and key not in accepted:
            keys = sorted(accepted - late)
            raise TypeError(
                f"{registry.name} {label!r} got an unexpected key {key!r}. "
                f"Accepted config keys: {', '.join(keys) or '(none)'}."
                + did_you_mean(key, keys)
            ) from _bind_error(cls, key, value)
        if hints is not None and key in hints and not _type_ok(value, hints[key]):
            raise TypeError(
                f"{registry.name} {label!r}: {key}={brief(value)} has type {type(value).__name__}, "
                f"expected {_type_name(hints[key])}"
            )


# Arguments whose meaningless values torch accepts (or fails on deep inside): name -> minimum.
# A float is refused for them as for a bool (Conv2d(stride=1.5) fails only in forward).
_INT_MIN = {"in_channels": 1, "out_channels": 1, "num_features": 1, "num_channels": 1,
            "num_groups": 1, "groups": 1, "kernel_size": 1, "stride": 1, "dilation": 1,
            "upsample_kernel": 1, "padding": 0, "output_padding": 0, "num_parameters": 1}
# name -> (low, high, low is excluded): finite reals in that range
_REAL_RANGES = {"eps": (0.0, math.inf, True), "momentum": (0.0, 1.0, False),
                "p": (0.0, 1.0, False), "drop_prob": (0.0, 1.0, False),
                "negative_slope": (-math.inf, math.inf, False),
                "alpha": (-math.inf, math.inf, False), "lower": (-math.inf, math.inf, False),
                "upper": (-math.inf, math.inf, False)}
# name -> (low, low is excluded): a real or a tuple of reals (None is left to the class)
_REAL_OR_TUPLE = {"scale_factor": (0.0, True)}
# name -> accepted strings, where torch only refuses a bad one in forward
_CHOICES = {"approximate": ("none", "tanh")}


def _refuse(registry: Registry, label: str, key: str, value: Any, accepted: str) -> None:
    raise InvalidArgumentError(
        f"{registry.name} {label!r}: {key}={brief(value)} is not accepted; it takes {accepted}"
    )


def _check_int(registry: Registry, label: str, key: str, value: Any, minimum: int) -> None:
    items = value if isinstance(value, tuple | list) else (value,)
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral) or item < minimum:
            _refuse(registry, label, key, value,
                    f"{'an int' if not isinstance(value, tuple | list) else 'ints'} >= {minimum}"
                    + (" (a bool is not a count)" if isinstance(item, bool) else "")
                    + (" (not a float)" if isinstance(item, float) else ""))


def _real_range_text(lo: float, hi: float, low_open: bool) -> str:
    if math.isfinite(lo) and math.isfinite(hi):
        return f"a finite number in {'(' if low_open else '['}{lo}, {hi}]"
    if math.isfinite(lo):
        return f"a finite number {'>' if low_open else '>='} {lo}"
    return "a finite number"


def _in_range(value: float, lo: float, hi: float, low_open: bool) -> bool:
    return math.isfinite(value) and (lo < value if low_open else lo <= value) and value <= hi


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_one(registry: Registry, label: str, key: str, value: Any) -> None:
    """The checks of one argument on its own (ranges, ints, choices)."""
    minimum = _INT_MIN.get(key)
    if minimum is not None:
        if value is None or isinstance(value, str):
            return  # padding may be 'same'/'valid'; None is left to the class
        items = value if isinstance(value, tuple | list) else (value,)
        if all(_is_real(v) or isinstance(v, bool) for v in items):
            _check_int(registry, label, key, value, minimum)
        return
    bounds = _REAL_RANGES.get(key)
    if bounds is not None:
        if _is_real(value) and not _in_range(float(value), *bounds):
            _refuse(registry, label, key, value, _real_range_text(*bounds))
        return
    real = _REAL_OR_TUPLE.get(key)
    if real is not None and value is not None:
        lo, low_open = real
        items = value if isinstance(value, tuple | list) else (value,)
        if all(_is_real(v) or isinstance(v, bool) for v in items) and not all(
            _is_real(v) and _in_range(float(v), lo, math.inf, low_open) for v in items
        ):
            _refuse(registry, label, key, value,
                    _real_range_text(lo, math.inf, low_open) + " (or one per dimension)")
        return
    choices = _CHOICES.get(key)
    if choices is not None and value not in choices:
        _refuse(registry, label, key, value, "one of " + ", ".join(repr(c) for c in choices))


def _per_dim(value: Any, n: int) -> list[Any]:
    return list(value) if isinstance(value, tuple | list) else [value] * n


def _check_together(registry: Registry, label: str, cls: Any, named: Mapping[str, Any],
                    complete: bool) -> None:
    """Checks of arguments against each other; with ``complete``, absent ones take the class
    default (a build), otherwise only present ones are compared (``validate``: the caller may
    pass the rest)."""
    def value(key: str) -> Any:
        if key in named:
            return named[key]
        if not complete:
            return None
        sig = _signature_of(cls)
        param = sig.parameters.get(key) if sig is not None else None
        return None if param is None or param.default is param.empty else param.default

    lower, upper = value("lower"), value("upper")
    if _is_real(lower) and _is_real(upper) and lower > upper:
        _refuse(registry, label, "lower", lower, f"a number <= upper={brief(upper)}")
    output_padding = named.get("output_padding")
    if output_padding is None or isinstance(output_padding, str):
        return
    stride, dilation = value("stride"), value("dilation")
    if stride is None or dilation is None:
        return
    ops = _per_dim(output_padding, 1)
    n = max(len(ops), len(_per_dim(stride, 1)), len(_per_dim(dilation, 1)))
    for op, st, di in zip(_per_dim(output_padding, n), _per_dim(stride, n),
                          _per_dim(dilation, n), strict=False):
        if _is_real(op) and _is_real(st) and _is_real(di) and op >= st and op >= di:
            _refuse(registry, label, "output_padding", output_padding,
                    f"values smaller than stride={brief(stride)} or dilation={brief(dilation)} "
                    "(torch's rule for transposed convs)")


def check_values(registry: Registry, label: str, cls: Any, args: tuple[Any, ...],
                 kwargs: Mapping[str, Any], complete: bool = True) -> None:
    """Refuse values torch would accept but that mean nothing, or that fail only in forward.

    Channels, groups, kernel sizes, strides, dilations and PReLU's ``num_parameters`` must be
    ints >= 1 (paddings >= 0), never bools or floats; ``eps`` must be a finite number > 0,
    probabilities and momentum in [0, 1], ``scale_factor`` > 0, GELU's ``approximate``
    ``'none'`` or ``'tanh'``; RReLU's ``lower`` <= ``upper``; a transposed conv's
    ``output_padding`` smaller than its stride or its dilation.

    Args:
        registry, label, cls: what is being built (named in messages).
        args, kwargs: the arguments about to be passed.
        complete: whether these are all the arguments (a build); ``validate`` passes False,
            so checks of arguments against each other use only the ones present.

    Raises:
        InvalidArgumentError: naming the field, the value and what is accepted.
    """
    named: Mapping[str, Any] = kwargs
    if args:
        names = _positional_names(cls)
        named = {**dict(zip(names, args, strict=False)), **kwargs}
    for key, value in named.items():
        _check_one(registry, label, key, value)
    _check_together(registry, label, cls, named, complete)


def _dtype(registry: Registry, type_name: Any, name: str) -> Any:
    import torch

    dtype = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"{registry.name} {type_name!r}: dtype={name!r} is not a torch dtype name "
            "(e.g. 'float32', 'bfloat16')"
        )
    return dtype


@functools.lru_cache(maxsize=32)
def _hook(spec: str) -> Callable[..., Any]:
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def _call_with_errors(reg: Registry, type_name: Any, obj_cls: Any, *args: Any, **kwargs: Any
                      ) -> Any:
    """Call ``obj_cls``; re-raise its errors as TypeError/ValueError naming registry and type."""
    try:
        return obj_cls(*args, **kwargs)
    except (TypeError, ValueError, RuntimeError, AssertionError, ZeroDivisionError,
            OverflowError, AttributeError, IndexError, KeyError) as exc:
        shown = ", ".join([*(brief(a) for a in args), *(f"{k}={brief(v)}" for k, v in kwargs.items())])
        if isinstance(exc, AssertionError):  # mmcv's contract: stays an AssertionError
            err_cls: type[Exception] = (InvalidTypeError if isinstance(exc, TypeError)
                                        else InvalidArgumentError)
        elif isinstance(exc, TypeError | AttributeError):
            err_cls = TypeError
        else:
            err_cls = ValueError
        raise err_cls(
            f"{reg.name} {_label(type_name)!r} could not be built from ({shown}): {exc}"
        ) from exc


def _build(registry: Registry, res: Resolved, args: tuple[Any, ...], kwargs: Mapping[str, Any],
           default_args: Mapping[str, Any] | None) -> Any:
    type_name = res.type
    cls = registry.lookup(type_name)
    merged = {**default_args, **res.kwargs} if default_args else dict(res.kwargs)
    family = registry.family
    if family is not None:
        for key in family.block_decides:  # None: the block's argument (or the default) applies
            if key in merged and merged[key] is None:
                del merged[key]
    for key, value in merged.items():
        if type(value) is list:  # YAML gives lists where torch wants tuples
            merged[key] = tuple(value)
    merged.update(kwargs)
    check_kwargs(registry, type_name, cls, merged, res.path)
    label = _label(type_name)
    extras: dict[str, Any] = {}
    if family is not None:
        for key in family.builder_keys:
            if key in merged:
                extras[key] = merged.pop(key)
        if family.block_decides_inplace and "inplace" in merged and merged["inplace"] is None:
            del merged["inplace"]
    if isinstance(merged.get("dtype"), str):
        merged["dtype"] = _dtype(registry, type_name, merged["dtype"])
    all_args = res.args + tuple(args)
    if family is not None and family.prepare is not None:
        try:
            all_args, merged = _hook(family.prepare)(type_name, cls, all_args, merged)
        except InvalidArgumentError as exc:
            if res.path is None:
                raise
            raise type(exc)(f"{exc} (config: {res.path})") from exc
    try:
        check_values(registry, label, cls, all_args, merged)
    except InvalidArgumentError as exc:
        if res.path is None:
            raise
        raise type(exc)(f"{exc} (config: {res.path})") from exc
    obj = _call_with_errors(registry, type_name, cls, *all_args, **merged)
    requires_grad = extras.get("requires_grad", True)
    if requires_grad is not True:
        if not isinstance(requires_grad, bool):
            raise TypeError(f"{registry.name} {label!r}: requires_grad must be a bool, got "
                            f"{requires_grad!r}")
        for p in obj.parameters():
            p.requires_grad_(False)
    return obj


def build_from_cfg(cfg: Any, registry: Registry, default_args: Mapping[str, Any] | None = None
                   ) -> Any:
    """Build an object from a config with a ``type`` key (mmcv's function).

    Args:
        cfg: a dict-like config (see :meth:`Registry.resolve` for every accepted form).
            ``type`` is a registered name or a class; the other keys are constructor arguments.
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
    if default_args and "type" in default_args:
        rest = {k: v for k, v in default_args.items() if k != "type"}
        args, data, path = _to_args_and_dict({} if cfg is None else cfg, f"{registry.name} config")
        type_name = data.pop("type", default_args["type"])
        return _build(registry, Resolved(args, type_name, data, path), (), {}, rest)
    return _build(registry, registry.resolve(cfg), (), {}, default_args)


def build_model_from_cfg(cfg: Any, registry: Registry, default_args: Mapping[str, Any] | None = None
                         ) -> Any:
    """Build a model from a config, or an ``nn.Sequential`` from a list of configs (mmcv's).

    Args:
        cfg: one config, or a list of them (each built with ``default_args``).
        registry: where each ``type`` is looked up.
        default_args: arguments used when a config does not set them.

    Example:
        >>> MY_MODELS = Registry('my model', build_func=build_model_from_cfg)   # doctest: +SKIP
        >>> MY_MODELS.build([dict(type='Conv2d', ...), dict(type='ReLU')])      # doctest: +SKIP
    """
    if isinstance(cfg, list | tuple) or (_is_omegaconf(cfg) and not isinstance(cfg, Mapping)):
        from torch import nn

        return nn.Sequential(*(build_from_cfg(c, registry, default_args) for c in cfg))
    return build_from_cfg(cfg, registry, default_args)


def layer_factory(registry: Registry) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a ``make_*`` target as resolving ``type`` in ``registry`` (builders unwrap it)."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func._hydra_cnn_registry_ = registry  # type: ignore[attr-defined]
        return func

    return mark


# -- the family table -------------------------------------------------------------------------
def register_family(
    name: str,
    *,
    label: str,
    group: str | None,
    late: tuple[str, ...] | list[str] = (),
    cfg_args: tuple[str, ...] | list[str] = (),
    partial: bool = True,
    target: str | None = None,
    loader: str | None = None,
    builder_keys: tuple[str, ...] | list[str] = (),
    defaults: Mapping[str, Any] | None = None,
    prepare: str | None = None,
    block_decides_inplace: bool = False,
    block_decides: tuple[str, ...] | list[str] = (),
    build_func: Callable[..., Any] | None = None,
    shares: Registry | None = None,
) -> Registry:
    """Declare a family of buildable types and return its :class:`Registry`.

    The family then gets what hydra_cnn's own families get: build errors with close matches,
    a generated typed option in ``group`` for every class registered in it (stored once an app
    calls ``register_configs(groups=[group])`` or aliases it), ``validate`` of its
    ``cfg_args`` (``mixer_cfg=dict(type=...)``), the ``python -m hydra_cnn list`` listing and,
    for built-in families, YAML generation and the wheel's package data.

    Args:
        name: the family's key, a lower-case identifier (``'token_mixer'``).
        label: the name messages use (``'token mixer'``); also the registry's name.
        group: the config group of its options (``'layers/token_mixer'``), or None for none.
        late: arguments the caller passes at build time (sizes): configs omit them.
        cfg_args: mmcv-style arguments whose value is a config of this family (``mixer_cfg``).
        partial: options instantiate to a factory (layers, True) or to the object (False).
        target: the options' ``_target_``; default ``hydra_cnn.registry.FACTORIES.<name>``,
            a factory that builds ``type`` from this registry (no function to write).
        loader: a module that registers the built-in members, imported on the first query.
        builder_keys: config keys the builder consumes itself (not constructor arguments).
        defaults: values used when a config leaves them out (:func:`build_family_member`),
            also the defaults of the generated options.
        prepare: ``'module:function'`` hook run on ``(type, cls, args, kwargs)`` before the call.
        block_decides_inplace: ``inplace=None`` means the class default (activations).
        block_decides: config keys whose ``None`` means "the block decides": the builder drops
            them so the block's argument applies (a conv's ``kernel_size``/``stride``...).
        build_func: what :meth:`Registry.build` calls (mmcv's argument).
        shares: an existing family registry that holds this family's types (blocks); it is
            returned instead of a new registry.

    Declaring the same family again returns the same registry.

    Raises:
        ValueError: for a malformed declaration, a name declared differently or a group that
            another family uses.

    Example:
        >>> TOKEN_MIXERS = register_family('token_mixer', label='token mixer',  # doctest: +SKIP
        ...                                group='layers/token_mixer', late=('embed_dims',))
    """
    family = Family(
        name, label=label, group=group, target=target or (
            f"hydra_cnn.registry.FACTORIES.{name}" if group is not None and shares is None else None),
        loader=loader, partial=partial, late=tuple(late), cfg_args=tuple(cfg_args),
        builder_keys=tuple(builder_keys), defaults=tuple(sorted((defaults or {}).items())),
        prepare=prepare, block_decides_inplace=block_decides_inplace,
        block_decides=tuple(block_decides),
        shares=shares.family.name if shares is not None and shares.family is not None else None,
    )
    if shares is not None and shares.family is None:
        raise ValueError(f"family {name!r}: shares must be a family registry, but got {shares!r}")
    declare_family(family)
    known = _FAMILY_REGISTRIES.get(name)
    if known is not None:
        return known
    reg = shares if shares is not None else Registry(label, build_func, family=family)
    _FAMILY_REGISTRIES[name] = reg
    return reg


def family_registry(family: str | Family) -> Registry:
    """The registry of a declared family (by name or row); blocks give ``PLUGIN_LAYERS``.

    Raises:
        KeyError: for an undeclared family, listing the declared ones and the closest.
    """
    name = family.name if isinstance(family, Family) else family
    reg = _FAMILY_REGISTRIES.get(name)
    if reg is None:
        raise ConfigKeyError(
            f"no family {name!r} is declared (declare it with hydra_cnn.register_family, or "
            f"import the package that does); declared: {', '.join(_FAMILY_REGISTRIES)}."
            + did_you_mean(str(name), _FAMILY_REGISTRIES)
        )
    return reg


def group_registry(group: str | None) -> Registry | None:
    """The registry whose types the options of config group ``group`` select, if any."""
    for name, family in FAMILIES.items():
        if family.group == group and name in _FAMILY_REGISTRIES:
            return _FAMILY_REGISTRIES[name]
    return None


def build_family_member(registry: Registry, *args: Any, type: Any = None, **kwargs: Any) -> Any:
    """Build ``type`` from ``registry`` with the late ``args`` and config ``kwargs``.

    The family's ``defaults`` fill what ``kwargs`` leave out. This is what a family's default
    ``_target_`` (``hydra_cnn.registry.FACTORIES.<name>``) calls.
    """
    if type is None:
        raise ConfigKeyError(
            f'{registry.name} config must contain the key "type" (one of '
            f'{", ".join(registry.names())})'
        )
    res = registry.resolve({"type": type, **kwargs})
    defaults = family_defaults(registry, registry.lookup(res.type))
    return registry.build_layer(None, *args, default_args=defaults, resolved=res)


def family_defaults(registry: Registry, cls: Any) -> dict[str, Any] | None:
    """The family's ``defaults`` that ``cls`` accepts (norms: ``eps=1e-5``), or None."""
    family = registry.family
    if family is None or not family.defaults:
        return None
    sig = _signature_of(cls)
    if sig is None:
        return None
    params = sig.parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    return {k: v for k, v in family.defaults if var_kw or k in params} or None


class _Factories:
    """``FACTORIES.<family>``: the default ``_target_`` of a family's options.

    Hydra locates ``hydra_cnn.registry.FACTORIES.token_mixer`` by attribute, so a family declared
    by :func:`register_family` has a target without writing a ``make_*`` function.
    """

    def __getattr__(self, name: str) -> Callable[..., Any]:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            reg = family_registry(name)
        except KeyError as exc:
            raise AttributeError(str(exc)) from None
        factory = _FACTORY_CACHE.get(name)
        if factory is None:
            factory = functools.update_wrapper(
                lambda *args, **kwargs: build_family_member(reg, *args, **kwargs),
                build_family_member)
            factory.__name__ = factory.__qualname__ = f"make_{name}"
            factory._hydra_cnn_registry_ = reg  # type: ignore[attr-defined]
            _FACTORY_CACHE[name] = factory
        return factory

    def __dir__(self) -> list[str]:
        return sorted(_FAMILY_REGISTRIES)


_FACTORY_CACHE: dict[str, Callable[..., Any]] = {}
FACTORIES = _Factories()

_CONV_LATE = ("in_channels", "out_channels", "kernel_size", "stride", "padding")
# conv geometry a config may leave to the block: None drops the key, so the block's value applies
_CONV_GEOMETRY = ("kernel_size", "stride", "padding", "dilation")

CONV_LAYERS = register_family(
    "conv", label="conv layer", group="layers/conv", target="hydra_cnn.make_conv",
    loader="hydra_cnn.bricks.conv", late=_CONV_LATE,
    cfg_args=("conv_cfg", "dw_conv_cfg", "pw_conv_cfg"), block_decides=_CONV_GEOMETRY)
NORM_LAYERS = register_family(
    "norm", label="norm layer", group="layers/norm", target="hydra_cnn.make_norm",
    loader="hydra_cnn.bricks.norm", late=("num_features", "num_channels", "normalized_shape"),
    cfg_args=("norm_cfg", "dw_norm_cfg", "pw_norm_cfg"), builder_keys=("requires_grad",),
    defaults={"eps": 1e-5}, prepare="hydra_cnn.bricks.norm:prepare_norm")
ACTIVATION_LAYERS = register_family(
    "act", label="activation layer", group="layers/act", target="hydra_cnn.make_act",
    loader="hydra_cnn.bricks.activation", cfg_args=("act_cfg", "dw_act_cfg", "pw_act_cfg"),
    block_decides_inplace=True)
UPSAMPLE_LAYERS = register_family(
    "upsample", label="upsample layer", group="layers/upsample", target="hydra_cnn.make_upsample",
    loader="hydra_cnn.bricks.upsample", late=_CONV_LATE, cfg_args=("upsample_cfg",),
    prepare="hydra_cnn.bricks.upsample:prepare_upsample", block_decides=_CONV_GEOMETRY)
PADDING_LAYERS = register_family(
    "padding", label="padding layer", group="layers/padding", target="hydra_cnn.make_padding",
    loader="hydra_cnn.bricks.padding", late=("padding",), cfg_args=("pad_cfg", "padding_cfg"))
PLUGIN_LAYERS = register_family(
    "plugin", label="plugin layer", group="layers/plugin", target="hydra_cnn.make_plugin",
    loader="hydra_cnn.bricks.plugin", late=("in_channels",), cfg_args=("plugin_cfg",))
DROPOUT_LAYERS = register_family(
    "dropout", label="dropout layer", group="layers/dropout", target="hydra_cnn.make_dropout",
    loader="hydra_cnn.bricks.dropout", cfg_args=("dropout_cfg",))
# transformer families (mmcv 1.7's cnn/bricks/registry.py; labels are mmcv's registry names),
# members in hydra_cnn.bricks.transformer
_XFMR = "hydra_cnn.bricks.transformer"
ATTENTION = register_family(
    "attention", label="attention", group="layers/attention", target=f"{_XFMR}.make_attention",
    loader=_XFMR, late=("embed_dims", "num_heads", "batch_first"),
    cfg_args=("attn_cfgs", "attn_cfg"))
FEEDFORWARD_NETWORK = register_family(
    "ffn", label="feed-forward Network", group="layers/ffn", target=f"{_XFMR}.make_ffn",
    loader=_XFMR, late=("embed_dims", "feedforward_channels"), cfg_args=("ffn_cfgs", "ffn_cfg"))
POSITIONAL_ENCODING = register_family(
    "positional_encoding", label="position encoding", group="layers/positional_encoding",
    target=f"{_XFMR}.make_positional_encoding", loader=_XFMR,
    cfg_args=("positional_encoding",))
TRANSFORMER_LAYER = register_family(
    "transformer_layer", label="transformerLayer", group="layers/transformer_layer",
    target=f"{_XFMR}.make_transformer_layer", loader=_XFMR, cfg_args=("transformerlayers",))
TRANSFORMER_LAYER_SEQUENCE = register_family(
    "transformer_layer_sequence", label="transformer-layers sequence",
    group="layers/transformer_layer_sequence", target=f"{_XFMR}.make_transformer_layer_sequence",
    loader=_XFMR)
# blocks: options whose _target_ is the block class itself (ConvModule, ...), a plugin member
register_family("block", label="block", group="layers/block", shares=PLUGIN_LAYERS,
                late=("in_channels", "out_channels", "kernel_size"))
INITIALIZERS = register_family(
    "init", label="initializer", group="init", target="hydra_cnn.make_init",
    loader="hydra_cnn.init.initializers", partial=False, cfg_args=("init_cfg",))
MODELS = register_family(
    "model", label="model", group="model", target="hydra_cnn.make_model",
    loader="hydra_cnn.models", partial=False, build_func=build_model_from_cfg)
