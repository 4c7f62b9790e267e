"""``validate(cfg)``: check a config tree against its targets' signatures, building nothing.

Hydra's typed configs catch wrong value types and unknown keys of structured nodes at compose
time. What they cannot catch (keys force-added with ``+key=``, plain YAML without a schema, an
unknown registry ``type``, a wrong argument for a ``_partial_`` factory that would only fail
when the model calls it) is caught here, before anything is built::

    >>> validate({"_target_": "hydra_cnn.make_norm", "_partial_": True, "type": "GN",
    ...           "num_grups": 2})                                      # doctest: +SKIP
    ConfigValidationError: layers.norm: GN got an unexpected key 'num_grups' ... 'num_groups'?
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import hydra_cnn.configs  # noqa: F401  (value types for the checks)
import hydra_cnn.registry as reg_mod
from hydra_cnn.common import closest_match, is_missing, to_plain
from hydra_cnn.families import FAMILIES
from hydra_cnn.registry import Registry, check_kwargs, check_values

__all__ = ["ConfigValidationError", "validate"]



def _cfg_arg_registry(key: str) -> Registry | None:
    """The registry an mmcv-style dict argument (``norm_cfg``, ``attn_cfg``...) is looked up in:
    the family whose ``cfg_args`` name it, from the family table (families declared later
    included)."""
    for family in FAMILIES.values():
        if key in family.cfg_args:
            return reg_mod.family_registry(family)
    return None


# the families whose members build conv feature maps (an nn.LayerNorm norm there is refused)
_CONV_MAP_FAMILIES = ("model", "plugin")


def _builds_conv_maps(target: Any) -> bool:
    """Whether ``target`` (a located ``_target_``) is a model or a conv block: a member of the
    ``MODELS`` or ``PLUGIN_LAYERS`` registry (ConvModule and the block options' classes are
    plugin members), or those registries' factories."""
    for name in _CONV_MAP_FAMILIES:
        reg = reg_mod.family_registry(name)
        if getattr(target, "_hydra_cnn_registry_", None) is reg:
            return True
        if any(member is target for member in reg.module_dict.values()):
            return True
    return False


class ConfigValidationError(TypeError, ValueError, KeyError):
    """A config does not fit its targets. Lists every problem as ``path: message``.

    It is a ``TypeError`` (unknown keys, wrong types), a ``ValueError`` (bad values) and a
    ``KeyError`` (unknown registry types), so code that catches the builders' own exception
    classes catches it too.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in the config:\n" + "\n".join(f"  {p}" for p in problems)
        )

    def __str__(self) -> str:
        return str(self.args[0])


@functools.lru_cache(maxsize=256)
def _locate(path: str) -> Callable[..., Any]:
    from hydra.utils import get_object

    return get_object(path)


def _check_registry_node(registry: Registry, node: Mapping[str, Any], where: str,
                         problems: list[str], skip: frozenset[str] = frozenset()) -> None:
    type_name = node.get("type")
    if type_name is None:
        problems.append(f"{where}: missing 'type' (one of {', '.join(registry.names())})")
        return
    try:
        cls = registry.lookup(type_name)
    except (KeyError, TypeError) as exc:
        problems.append(f"{where}.type: {exc}")
        return
    kwargs = {
        k: v for k, v in node.items()
        if k != "type" and not k.startswith("_") and k not in skip
        and not (isinstance(v, Mapping) and "_target_" in v)
    }
    try:
        check_kwargs(registry, type_name, cls, kwargs, path=where)
        check_values(registry, type_name if isinstance(type_name, str) else str(type_name), cls,
                     (), {k: v for k, v in kwargs.items() if not isinstance(v, Mapping)})
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: {exc}")


def _check_target(node: Mapping[str, Any], where: str, problems: list[str]) -> None:
    path = node["_target_"]
    if not isinstance(path, str):
        return  # a class or callable object: nothing to locate
    try:
        target = _locate(path)
    except Exception as exc:  # hydra raises ImportError or its own error types
        problems.append(f"{where}._target_: cannot locate {path!r} ({exc})")
        return
    registry = getattr(target, "_hydra_cnn_registry_", None)
    if isinstance(registry, Registry):
        _check_registry_node(registry, node, where, problems)
        if _builds_conv_maps(target):
            _check_no_layernorm(node, where, problems)
        return
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return
    params = sig.parameters
    var_kw = any(p.kind is p.VAR_KEYWORD for p in params.values())
    names = [n for n, p in params.items() if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    kwargs = {k: v for k, v in node.items() if not k.startswith("_")}
    for key in kwargs:
        if not var_kw and key not in params:
            hit = closest_match(key, names)
            problems.append(
                f"{where}: {path} has no argument {key!r}. Accepted: {', '.join(names)}."
                + (f" Did you mean {hit!r}?" if hit else "")
            )
    present = {k: v for k, v in kwargs.items() if not is_missing(v)}
    args = node.get("_args_") or []
    binder = sig.bind_partial if node.get("_partial_") else sig.bind
    try:
        binder(*args, **{k: v for k, v in present.items() if var_kw or k in params})
    except TypeError as exc:
        problems.append(f"{where}: {path}: {exc}")
    for key, value in present.items():
        reg = _cfg_arg_registry(key)
        if reg is not None and isinstance(value, Mapping) and "_target_" not in value:
            _check_registry_node(reg, value, f"{where}.{key}", problems)
    if _builds_conv_maps(target):
        _check_no_layernorm(present, where, problems)


def _check_no_layernorm(node: Mapping[str, Any], where: str, problems: list[str]) -> None:
    """An ``nn.LayerNorm`` norm in a conv model or block normalises widths: refuse it (LN2d)."""
    for key, value in node.items():
        if not (key.endswith("norm_cfg") or key == "norm") or not isinstance(value, Mapping):
            continue
        type_name = value.get("type")
        if not isinstance(type_name, str):
            continue
        from torch import nn

        if reg_mod.NORM_LAYERS.get(type_name) is nn.LayerNorm:
            problems.append(
                f"{where}.{key}: type {type_name!r} is nn.LayerNorm, which normalises the last "
                "dimension (the width of a conv map), not the channels; use type 'LN2d' "
                "(option ln2d) for conv feature maps"
            )


MAX_DEPTH = 100  # levels of nesting a config may have; deeper is refused, not recursed into


def _walk(node: Any, where: str, problems: list[str], depth: int = 0) -> int:
    if depth > MAX_DEPTH:
        problems.append(f"{where}: the config nests deeper than {MAX_DEPTH} levels; not checked")
        return 0
    count = 0
    if isinstance(node, Mapping):
        if "_target_" in node:
            _check_target(node, where or "<root>", problems)
            count += 1
        for key, value in node.items():
            count += _walk(value, f"{where}.{key}" if where else str(key), problems, depth + 1)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            count += _walk(value, f"{where}[{i}]", problems, depth + 1)
    return count


def validate(cfg: Any) -> int:
    """Check every ``_target_`` node of ``cfg`` against its target's signature.

    For hydra_cnn's layer factories (``make_norm``...), ``type`` is resolved in the registry
    and the keys and value types are checked against the layer's structured config; for other
    targets the keys are bound to the signature (``bind_partial`` for ``_partial_`` nodes).
    mmcv-style ``norm_cfg``/``act_cfg``/``conv_cfg`` dict arguments are checked against their
    registries too. Nothing is instantiated.

    Args:
        cfg: a DictConfig (e.g. from ``@hydra.main``), a dict, or a structured config.

    Returns:
        The number of ``_target_`` nodes checked.

    Raises:
        ConfigValidationError: listing each problem with its dotted path, the bad key or
            value, and the closest valid one.
    """
    if not (isinstance(cfg, Mapping) or dataclasses.is_dataclass(cfg)
            or type(cfg).__module__.startswith("omegaconf")):
        raise TypeError(
            f"validate() takes a config (a DictConfig, a dict or a structured config dataclass), "
            f"but got {type(cfg).__name__}: {cfg!r}"
        )
    try:
        plain = to_plain(cfg, structured=True)
    except RecursionError:
        raise ConfigValidationError(["<root>: the config nests too deeply to read"]) from None
    problems: list[str] = []
    count = _walk(plain, "", problems)
    if problems:
        raise ConfigValidationError(problems)
    return count
