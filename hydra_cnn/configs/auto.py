"""Structured configs generated for classes that users register.

``@UPSAMPLE_LAYERS.register_module() class MyUpsample`` calls :func:`on_register`, which makes
a dataclass from the constructor's signature (late sizes omitted, as for the shipped configs)
and stores it as the option ``layers/upsample/my_upsample``, so
``layers/upsample=my_upsample`` works from YAML and the command line with no dataclass written.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
import types
import typing
from typing import TYPE_CHECKING, Any, ClassVar, Optional

from hydra_cnn.common import MISSING, snake_case
from hydra_cnn.families import Family, family_for_group

if TYPE_CHECKING:
    from hydra_cnn.registry import Registry

__all__ = ["on_register", "snake_case", "user_conf", "user_confs"]

_USER: dict[tuple[str, str], type] = {}


_SIMPLE = (int, float, bool, str)


def _field_type(annotation: Any) -> Any:
    """A type OmegaConf 2.3 can validate, or Any."""
    if annotation in _SIMPLE:
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1 and args[0] in _SIMPLE and len(typing.get_args(annotation)) == 2:
            return Optional[args[0]]  # noqa: UP045
    return Any


def _yaml_safe(value: Any) -> bool:
    if value is None or isinstance(value, _SIMPLE):
        return True
    if isinstance(value, list | tuple):
        return all(_yaml_safe(v) for v in value)
    return False


def make_conf(group: str, type_name: str, cls: Any, option: str) -> type:
    """Build a dataclass config for ``cls`` registered as ``type_name`` in ``group``."""
    family = family_for_group(group)
    if family is None or family.target is None:
        raise ValueError(f"no family with a factory target owns config group {group!r}; declare "
                         "one with hydra_cnn.register_family")
    target, late, forced = family.target, set(family.late), dict(family.defaults)
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        params = ()  # type: ignore[assignment]
    try:
        hints = typing.get_type_hints(cls.__init__) if inspect.isclass(cls) else typing.get_type_hints(cls)
    except Exception:  # unresolvable string annotations: fall back to Any
        hints = {}
    fields: list[tuple[str, Any, Any]] = [
        ("_target_", str, dataclasses.field(default=target)),
        ("_partial_", bool, dataclasses.field(default=family.partial)),
        ("type", str, dataclasses.field(default=type_name)),
    ]
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) or p.name == "self":
            continue
        if p.name in family.block_decides:  # None: the block decides (a conv's kernel_size)
            fields.append((p.name, Any, dataclasses.field(default=None)))
            continue
        if p.name in late:
            continue
        if p.name in ("_target_", "_partial_", "type"):
            continue
        if p.name == "inplace" and family.block_decides_inplace:
            fields.append((p.name, Optional[bool], dataclasses.field(default=None)))  # noqa: UP045
            continue
        tp = _field_type(hints.get(p.name, Any))
        if p.name in forced:  # the family's builder default wins over the class's (norm eps)
            fields.append((p.name, tp, dataclasses.field(default=forced[p.name])))
        elif p.default is p.empty:
            fields.append((p.name, tp, dataclasses.field(default=MISSING)))
        elif _yaml_safe(p.default):
            default = list(p.default) if isinstance(p.default, tuple) else p.default
            if isinstance(default, list):
                factory: Any = functools.partial(list, default)
                fields.append((p.name, Any, dataclasses.field(default_factory=factory)))
            else:
                if default is None and tp is not Any:
                    tp = Optional[tp]  # noqa: UP045
                fields.append((p.name, tp, dataclasses.field(default=default)))
        # a default that YAML cannot express (an object) stays the class's own default
    name = f"{cls.__name__}Conf" if type_name == cls.__name__ else f"{type_name}Conf"
    conf = dataclasses.make_dataclass(
        re.sub(r"\W", "_", name), fields, namespace={
            "_group_": group, "_option_": option, "__doc__": f"Generated config for {type_name}.",
        }
    )
    conf.__annotations__["_group_"] = ClassVar[str]
    conf.__annotations__["_option_"] = ClassVar[str]
    conf.__module__ = getattr(cls, "__module__", __name__)
    return conf


def on_register(registry: Registry, names: list[str], cls: Any, config_name: str | None
                ) -> list[tuple[str, str, type]]:
    """Generate a config for each name a user just registered; return ``(group, option, conf)``."""
    family: Family | None = registry.family
    if family is None or family.group is None or family.target is None or not family.partial:
        return []
    group = family.group
    made = []
    for i, type_name in enumerate(names):
        option = config_name if (config_name and i == 0) else snake_case(type_name)
        conf = make_conf(group, type_name, cls, option)
        _USER[(group, type_name)] = conf
        made.append((group, option, conf))
    return made


def user_conf(group: str, type_name: str) -> type | None:
    """The generated config for a user-registered type, if any."""
    return _USER.get((group, type_name))


def user_confs() -> list[type]:
    """Every generated config, in registration order."""
    return list(_USER.values())
