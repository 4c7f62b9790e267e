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
from hydra_cnn.common import brief, closest_match, is_missing, to_plain
from hydra_cnn.families import FAMILIES
from hydra_cnn.registry import Registry, check_kwargs, check_values

__all__ = ["ConfigValidationError", "ValidationResult", "validate"]



def _cfg_arg_registry(key: Any) -> Registry | None:
    """The registry an mmcv-style dict argument (``norm_cfg``, ``attn_cfg``...) is looked up in:
    the family whose ``cfg_args`` name it, from the family table (families declared later
    included)."""
    if not isinstance(key, str):
        return None
    for family in FAMILIES.values():
        if key in family.cfg_args:
            try:
                return reg_mod.family_registry(family)
            except KeyError:  # declared with declare_family alone: no registry to check in
                return None
    return None


def _is_family_key(key: Any) -> bool:
    """Whether ``key``'s value is read by the family checks (a ``cfg_args`` key, ``plugins``):
    its nested ``type=`` nodes are family configs, not mmcv model nodes."""
    return key == "plugins" or _cfg_arg_registry(key) is not None


# the families whose members build conv feature maps (an nn.LayerNorm norm there is refused)
_CONV_MAP_FAMILIES = ("model", "plugin")


def _builds_conv_maps(target: Any) -> bool:
    """Whether ``target`` (a located ``_target_``) is a model or a conv block: a member of the
    ``MODELS`` or ``PLUGIN_LAYERS`` registry (ConvModule and the block options' classes are
    plugin members), or those registries' factories. A class that normalises tokens (a
    transformer: ``normalises_tokens``) is not."""
    if getattr(target, "normalises_tokens", False):
        return False
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


class ValidationResult(int):
    """What :func:`validate` returns: the number of nodes checked (an ``int``, as before), with
    the details as attributes.

    Attributes:
        checked: nodes checked (``_target_`` nodes, ``norm_cfg``/``init_cfg``/... family nodes,
            and mmcv-style ``type=`` nodes of hydra_cnn's own models); the int value.
        skipped: mmcv-style ``type=`` nodes of types hydra_cnn does not know (other projects'
            detectors, heads, pipelines...), and family nodes that are not registry configs
            (mmdet's ``upsample_cfg=dict(mode='nearest')``): not checked.
        skipped_types: the distinct type names skipped, sorted.
    """

    checked: int
    skipped: int
    skipped_types: tuple[str, ...]

    def __new__(cls, checked: int, skipped: int = 0,
                skipped_types: tuple[str, ...] = ()) -> ValidationResult:
        obj = super().__new__(cls, checked)
        obj.checked = checked
        obj.skipped = skipped
        obj.skipped_types = skipped_types
        return obj

    @property
    def summary(self) -> str:
        """One line: ``validate: 12 nodes checked, 3 skipped (types not in hydra_cnn: FPN)``."""
        text = f"validate: {self.checked} node(s) checked, {self.skipped} skipped"
        if self.skipped_types:
            shown = ", ".join(self.skipped_types[:8])
            more = f", +{len(self.skipped_types) - 8} more" if len(self.skipped_types) > 8 else ""
            text += f" (types not in hydra_cnn: {shown}{more})"
        return text

    def __repr__(self) -> str:
        return (f"ValidationResult(checked={self.checked}, skipped={self.skipped}, "
                f"skipped_types={self.skipped_types!r})")


@dataclasses.dataclass
class _Walk:
    """What a walk found: problems, and the nodes checked and skipped."""

    problems: list[str] = dataclasses.field(default_factory=list)
    checked: int = 0
    skipped: int = 0
    skipped_types: set[str] = dataclasses.field(default_factory=set)

    def skip(self, type_name: Any = None) -> None:
        """Count a node not checked (of ``type_name``, when it has one)."""
        self.skipped += 1
        if type_name is not None:
            self.skipped_types.add(type_name if isinstance(type_name, str) else repr(type_name))


def _interpolation_problems(cfg: Any) -> list[str]:
    """Each interpolation of an OmegaConf config that cannot be resolved: key, text, reason."""
    from omegaconf import DictConfig, ListConfig
    from omegaconf.errors import OmegaConfBaseException

    problems: list[str] = []

    def visit(node: Any, where: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            return
        keys: Any = node.keys() if isinstance(node, DictConfig) else range(len(node))
        for key in keys:
            child = node._get_node(key)
            path = f"{where}.{key}" if isinstance(node, DictConfig) and where else (
                str(key) if isinstance(node, DictConfig) else f"{where}[{key}]")
            if child is None:
                continue
            if child._is_interpolation():
                try:
                    node[key]
                except OmegaConfBaseException as exc:
                    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                    problems.append(
                        f"{path}: the interpolation {child._value()!r} cannot be resolved "
                        f"({type(exc).__name__}: {reason})"
                    )
                continue
            if isinstance(child, DictConfig | ListConfig) and not child._is_none() \
                    and not child._is_missing():
                visit(child, path, depth + 1)

    if isinstance(cfg, DictConfig | ListConfig) and not cfg._is_none() and not cfg._is_missing():
        visit(cfg, "", 0)
    return problems


def _to_plain(cfg: Any) -> Any:
    """:func:`hydra_cnn.common.to_plain`, with each interpolation that cannot be resolved named."""
    if type(cfg).__module__.startswith("omegaconf") or dataclasses.is_dataclass(cfg):
        from omegaconf import OmegaConf
        from omegaconf.errors import OmegaConfBaseException

        try:
            return to_plain(cfg, structured=True)
        except OmegaConfBaseException as exc:
            node = OmegaConf.structured(cfg) if dataclasses.is_dataclass(cfg) else cfg
            problems = _interpolation_problems(node)
            if not problems:
                problems = [f"<root>: the config cannot be read: {type(exc).__name__}: {exc}"]
            raise ConfigValidationError(problems) from None
    return cfg


@functools.lru_cache(maxsize=256)
def _locate(path: str) -> Callable[..., Any]:
    from hydra.utils import get_object

    return get_object(path)


def _check_registry_node(registry: Registry, node: Mapping[str, Any], where: str,
                         problems: list[str], skip: frozenset[str] = frozenset()) -> Any:
    """Check one ``type=`` node against ``registry``; the class it names (None if unknown)."""
    type_name = node.get("type")
    if type_name is None:
        problems.append(f"{where}: missing 'type' (one of {', '.join(registry.names())})")
        return None
    try:
        cls = registry.lookup(type_name)
    except (KeyError, TypeError) as exc:
        problems.append(f"{where}.type: {exc}")
        return None
    kwargs = {
        k: v for k, v in node.items()
        if k != "type" and not k.startswith("_") and k not in skip
        and not (isinstance(v, Mapping) and "_target_" in v)
    }
    try:
        check_kwargs(registry, type_name, cls, kwargs, path=where)
        check_values(registry, type_name if isinstance(type_name, str) else str(type_name), cls,
                     (), {k: v for k, v in kwargs.items() if not isinstance(v, Mapping)},
                     complete=False)
    except (TypeError, ValueError) as exc:
        problems.append(f"{where}: {exc}")
    return cls


# -- init configs ------------------------------------------------------------------------------
_INIT_EXTRAS = frozenset({"override", "norm"})  # read by make_init/initialize, not initializers


def _check_override(value: Any, parent: Mapping[str, Any], where: str, walk: _Walk) -> None:
    """``override`` entries: a ``name``, and keys of their own type or (without one) the
    parent's."""
    if value is None:
        return
    entries = list(enumerate(value)) if isinstance(value, list | tuple) else [(None, value)]
    for i, entry in entries:
        at = where if i is None else f"{where}[{i}]"
        if not isinstance(entry, Mapping):
            walk.problems.append(f"{at}: an override entry must be a dict with 'name', but got "
                                 f"{entry!r}")
            continue
        if "_target_" in entry:
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            walk.problems.append(f"{at}: an override entry needs a non-empty 'name' (the child "
                                 f"module it initialises), but got {brief(dict(entry))}")
        if "type" not in entry and len(set(entry) - {"name"}) == 0:
            continue  # the parent's config, applied to that child
        typed = dict(entry) if "type" in entry else {**dict(entry), "type": parent.get("type")}
        if typed.get("type") is None:
            continue  # the parent has no type either: reported on the parent
        _check_registry_node(reg_mod.INITIALIZERS, typed, at, walk.problems,
                             skip=frozenset({"name"}))


def _check_init(value: Any, where: str, walk: _Walk, depth: int = 0) -> None:
    """An ``init_cfg`` value: a dict, a list of them, or None (``_target_`` nodes are walked)."""
    if depth > MAX_DEPTH or value is None:
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_init(item, f"{where}[{i}]", walk, depth + 1)
        return
    if not isinstance(value, Mapping) or "_target_" in value:
        return
    walk.checked += 1
    _check_init_body(value, where, walk, depth)


def _check_init_body(value: Mapping[str, Any], where: str, walk: _Walk, depth: int) -> None:
    _check_registry_node(reg_mod.INITIALIZERS, value, where, walk.problems, skip=_INIT_EXTRAS)
    _check_override(value.get("override"), value, f"{where}.override", walk)
    _check_init(value.get("norm"), f"{where}.norm", walk, depth + 1)


# -- family nodes (norm_cfg=..., init_cfg=..., plugins=[...]) ----------------------------------
def _check_plugins(value: Any, where: str, walk: _Walk) -> None:
    """mmdet's ``plugins=[dict(cfg=dict(type=...), stages=..., position=...)]``."""
    if not isinstance(value, list | tuple):
        return
    for i, entry in enumerate(value):
        at = f"{where}[{i}]"
        if not isinstance(entry, Mapping) or "_target_" in entry:
            continue
        cfg = entry.get("cfg")
        if not isinstance(cfg, Mapping):
            walk.problems.append(f"{at}: a plugin entry needs 'cfg' (the plugin layer config), "
                                 f"but got {brief(dict(entry))}")
            continue
        if "_target_" in cfg:
            continue
        walk.checked += 1
        _check_registry_node(reg_mod.PLUGIN_LAYERS, cfg, f"{at}.cfg", walk.problems)


def _check_family_args(node: Mapping[str, Any], where: str, walk: _Walk) -> None:
    """Check the family-config arguments of ``node`` (``norm_cfg``, ``init_cfg``, ...)."""
    for key, value in node.items():
        at = f"{where}.{key}" if where else str(key)
        if key == "plugins":
            _check_plugins(value, at, walk)
            continue
        reg = _cfg_arg_registry(key)
        if reg is None:
            continue
        if reg is reg_mod.INITIALIZERS:
            _check_init(value, at, walk)
            continue
        if not isinstance(value, Mapping) or "_target_" in value:
            continue
        if "type" not in value and reg is reg_mod.UPSAMPLE_LAYERS:
            walk.skip()  # mmdet's FPN: F.interpolate arguments, not a layer config
            continue
        walk.checked += 1
        _check_registry_node(reg, value, at, walk.problems)


# -- _target_ nodes and mmcv-style type= nodes -------------------------------------------------
def _is_make_init(target: Any) -> bool:
    """Whether ``target`` is the init family's ``_target_`` (``hydra_cnn.make_init``), located
    the way Hydra locates it (the init layer sits above this module)."""
    path = FAMILIES["init"].target
    return path is not None and target is _locate(path)


def _check_target(node: Mapping[str, Any], where: str, walk: _Walk) -> None:
    problems = walk.problems
    path = node["_target_"]
    if not isinstance(path, str):
        return  # a class or callable object: nothing to locate
    try:
        target = _locate(path)
    except Exception as exc:  # hydra raises ImportError or its own error types
        problems.append(f"{where}._target_: cannot locate {path!r} ({exc})")
        return
    if _is_make_init(target):
        _check_init_body(node, where, walk, 0)
        return
    registry = getattr(target, "_hydra_cnn_registry_", None)
    if isinstance(registry, Registry):
        _check_registry_node(registry, node, where, problems)
        if _builds_conv_maps(target) and not _normalises_tokens(node):
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
    if _builds_conv_maps(target):
        _check_no_layernorm(present, where, problems)


def _normalises_tokens(node: Mapping[str, Any]) -> bool:
    """Whether the model ``node`` builds applies its norms to tokens (``normalises_tokens``:
    a transformer, where ``nn.LayerNorm`` is the right norm)."""
    type_name = node.get("type")
    cls = reg_mod.MODELS.get(type_name) if isinstance(type_name, str) else type_name
    return bool(getattr(cls, "normalises_tokens", False))


def _check_mmcv_node(node: Mapping[str, Any], where: str, walk: _Walk) -> None:
    """An mmcv-style ``dict(type=...)`` node outside a family argument: hydra_cnn's own model
    types are bound to their signatures; other projects' types are skipped (counted)."""
    type_name = node["type"]
    cls = reg_mod.MODELS.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        walk.skip(type_name)
        return
    walk.checked += 1
    family_keys = frozenset(k for k in node if _is_family_key(k))
    if _check_registry_node(reg_mod.MODELS, node, where, walk.problems) is None:
        return
    if not _normalises_tokens(node):
        _check_no_layernorm(node, where, walk.problems)
    try:
        sig: inspect.Signature | None = inspect.signature(cls)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        required = [n for n, p in sig.parameters.items() if p.default is p.empty
                    and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
        for name in required:
            if name not in node and name not in family_keys:
                walk.problems.append(f"{where}: model {type_name!r} needs {name!r} "
                                     f"(e.g. {where}.{name}=...)")


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


def _walk(node: Any, where: str, walk: _Walk, depth: int = 0, in_family: bool = False) -> None:
    if depth > MAX_DEPTH:
        walk.problems.append(
            f"{where}: the config nests deeper than {MAX_DEPTH} levels; not checked")
        return
    if isinstance(node, Mapping):
        is_init = False
        if "_target_" in node:
            _check_target(node, where or "<root>", walk)
            walk.checked += 1
            is_init = isinstance(node["_target_"], str) and node["_target_"].endswith("make_init")
        elif not in_family and "type" in node:
            _check_mmcv_node(node, where or "<root>", walk)
        _check_family_args(node, where, walk)
        for key, value in node.items():
            child_in_family = in_family or _is_family_key(key) or (is_init and key in _INIT_EXTRAS)
            _walk(value, f"{where}.{key}" if where else str(key), walk, depth + 1,
                  child_in_family)
    elif isinstance(node, list | tuple):
        for i, value in enumerate(node):
            _walk(value, f"{where}[{i}]", walk, depth + 1, in_family)


def validate(cfg: Any) -> ValidationResult:
    """Check a config tree against its targets' signatures and hydra_cnn's registries.

    Checked, building nothing:

    - every ``_target_`` node: for hydra_cnn's layer factories (``make_norm``...) and
      ``make_init``, ``type`` is resolved in the registry and the keys and value types are
      checked against the type's structured config; other targets' keys are bound to their
      signature (``bind_partial`` for ``_partial_`` nodes);
    - every family argument, in any node: ``conv_cfg``, ``norm_cfg``, ``act_cfg``,
      ``upsample_cfg``, ``plugins`` (mmdet's ``dict(cfg=...)`` entries), ``init_cfg`` (a dict or
      a list; ``override`` entries too), ... (type, keys, values, with the closest match);
    - mmcv-style ``dict(type=...)`` nodes: hydra_cnn's own model types (``ResNet``, ``VGG``,
      ``ResNetV1c``, ...) are bound to their signatures; types of other projects are skipped
      and counted;
    - an OmegaConf interpolation that cannot be resolved is named with its key.

    Args:
        cfg: a DictConfig (e.g. from ``@hydra.main``), a dict (an mmcv config too), or a
            structured config.

    Returns:
        A :class:`ValidationResult`: an ``int``, the number of nodes checked, with
        ``checked``, ``skipped``, ``skipped_types`` and a one-line ``summary``.

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
        plain = _to_plain(cfg)
    except RecursionError:
        raise ConfigValidationError(["<root>: the config nests too deeply to read"]) from None
    walk = _Walk()
    _walk(plain, "", walk)
    if walk.problems:
        raise ConfigValidationError(walk.problems)
    return ValidationResult(walk.checked, walk.skipped, tuple(sorted(walk.skipped_types)))
