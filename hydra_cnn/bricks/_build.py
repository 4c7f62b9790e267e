"""The one road every layer builder takes: config -> registry lookup -> checked call.

``build_conv_layer(dict)``, ``make_conv(type=..)`` (the Hydra ``_target_``), a structured
config dataclass and a factory made by ``instantiate`` all end in :func:`build_layer`.
"""

from __future__ import annotations

import functools
import inspect
import numbers
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any

from hydra_cnn.registry import (
    HYDRA_KEYS,
    ConfigKeyError,
    Registry,
    _call_with_errors,
    cfg_to_dict,
    closest_match,
)

__all__ = ["build_layer", "check_kwargs", "layer_factory", "resolve_cfg"]

MISSING = "???"

# (type_name, cls, args, kwargs) -> (args, kwargs): a family's last word before the call
Prepare = Callable[[Any, Any, tuple[Any, ...], dict[str, Any]], tuple[tuple[Any, ...], dict[str, Any]]]


def resolve_cfg(
    registry: Registry, cfg: Any, default_type: str | None = None
) -> tuple[tuple[Any, ...], str | type, dict[str, Any]]:
    """Return ``(bound_args, type, kwargs)`` for any accepted config form; never mutates ``cfg``."""
    if type(cfg) is dict and "type" in cfg:  # the common mmcv case, kept cheap
        data = {k: v for k, v in cfg.items() if not (type(v) is str and v == MISSING)}
        if all(type(k) is str and k not in HYDRA_KEYS for k in data):
            return (), data.pop("type"), data
    what = f"{registry.name} config"
    if cfg is None:
        if default_type is None:
            raise TypeError(f"{what} must not be None; pass e.g. dict(type=...)")
        return (), default_type, {}
    if isinstance(cfg, functools.partial):
        owner = getattr(cfg.func, "_hydra_cnn_registry_", None)
        if owner is not None and owner is not registry:
            raise TypeError(
                f"{what} expected, but got a factory for the {owner.name} registry "
                f"({getattr(cfg.func, '__name__', cfg.func)}). Check which config group it came from."
            )
    args, data = cfg_to_dict(cfg, what=what)
    data = {k: v for k, v in data.items() if not (isinstance(v, str) and v == MISSING)}
    if "type" not in data:
        if default_type is None:
            raise ConfigKeyError(
                f"{what} must contain the key 'type' (one of {', '.join(registry.names())}), "
                f"but got {data!r}"
            )
        type_name: Any = default_type
    else:
        type_name = data.pop("type")
    return args, type_name, data


@functools.lru_cache(maxsize=1024)
def _accepted(cls: Any) -> tuple[frozenset[str], bool]:
    """Keyword names ``cls`` accepts and whether it takes ``**kwargs``."""
    try:
        sig = inspect.signature(cls)
    except (TypeError, ValueError):
        return frozenset(), True
    names = set()
    var_kw = False
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            var_kw = True
        elif p.kind is not p.VAR_POSITIONAL:
            names.add(p.name)
    return frozenset(names), var_kw


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


@functools.lru_cache(maxsize=1024)
def _rules_cached(group: str | None, label: str, by_name: bool, cls: Any
                  ) -> tuple[dict[str, Any] | None, frozenset[str], bool]:
    from hydra_cnn.configs import field_types

    hints = field_types(group, label) if by_name else None
    names, var_kw = _accepted(cls)
    return hints, names | (hints.keys() if hints is not None else frozenset()), var_kw


def _rules(group: str | None, label: str, by_name: bool, cls: Any
           ) -> tuple[dict[str, Any] | None, frozenset[str], bool]:
    try:
        return _rules_cached(group, label, by_name, cls)
    except TypeError:  # an unhashable class object: compute without the cache
        return _rules_cached.__wrapped__(group, label, by_name, cls)


def _bind_error(cls: Any, key: str, value: Any) -> TypeError | None:
    """The TypeError the constructor's signature gives for ``key`` (for chaining), if any."""
    try:
        inspect.signature(cls).bind_partial(**{key: value})
    except TypeError as exc:
        return exc
    except ValueError:
        return None
    return None


def check_kwargs(registry: Registry, type_name: Any, cls: Any, kwargs: Mapping[str, Any]) -> None:
    """Reject unknown keys and mistyped values before torch sees them.

    Raises:
        TypeError: naming the bad key (with the closest accepted one) or the bad value and the
            type the field accepts.
    """
    label = type_name if isinstance(type_name, str) else getattr(type_name, "__name__", "?")
    hints, accepted, var_kw = _rules(registry.config_group, label, isinstance(type_name, str), cls)
    for key, value in kwargs.items():
        if not var_kw and key not in accepted:
            hit = closest_match(key, accepted)
            raise TypeError(
                f"{registry.name} {label!r} got an unexpected key {key!r}. "
                f"Accepted: {', '.join(sorted(accepted)) or '(none)'}."
                + (f" Did you mean {hit!r}?" if hit else "")
            ) from _bind_error(cls, key, value)
        if hints is not None and key in hints and not _type_ok(value, hints[key]):
            raise TypeError(
                f"{registry.name} {label!r}: {key}={value!r} has type {type(value).__name__}, "
                f"expected {_type_name(hints[key])}"
            )


def _tuples(kwargs: dict[str, Any]) -> dict[str, Any]:
    # YAML and OmegaConf give lists where torch wants tuples (Upsample.scale_factor, padding).
    return {k: tuple(v) if type(v) is list else v for k, v in kwargs.items()}


def _dtype(registry: Registry, type_name: Any, name: str) -> Any:
    import torch

    dtype = getattr(torch, name.removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise TypeError(
            f"{registry.name} {type_name!r}: dtype={name!r} is not a torch dtype name "
            "(e.g. 'float32', 'bfloat16')"
        )
    return dtype


def build_layer(
    registry: Registry,
    cfg: Any,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    *,
    default_type: str | None = None,
    prepare: Prepare | None = None,
    resolved: tuple[tuple[Any, ...], Any, dict[str, Any]] | None = None,
) -> Any:
    """Resolve ``cfg`` in ``registry`` and call the class with ``args`` and the merged kwargs.

    Keys from the config come first; keyword arguments passed by the caller win over them (the
    semantics of calling a partial). ``resolved`` is :func:`resolve_cfg`'s result when the
    caller already has it (``cfg`` is then ignored).
    """
    bound, type_name, data = resolved or resolve_cfg(registry, cfg, default_type)
    cls = registry.lookup(type_name)
    merged = _tuples(data)
    merged.update(kwargs)
    check_kwargs(registry, type_name, cls, merged)
    if isinstance(merged.get("dtype"), str):
        merged["dtype"] = _dtype(registry, type_name, merged["dtype"])
    all_args = bound + tuple(args)
    if prepare is not None:
        all_args, merged = prepare(type_name, cls, all_args, merged)
    return _call_with_errors(registry, type_name, cls, *all_args, **merged)


def layer_factory(registry: Registry) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Mark a ``make_*`` builder as resolving ``type`` in ``registry`` (so builders unwrap it)."""

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        func._hydra_cnn_registry_ = registry  # type: ignore[attr-defined]
        return func

    return mark
