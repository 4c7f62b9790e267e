"""Interpreting init configs: :func:`initialize`, :func:`make_init` and the ``override`` rules.

An init config names an initializer by ``type`` and says where it applies::

    >>> initialize(model, dict(type='Kaiming', layer='Conv2d'))                # every Conv2d
    >>> initialize(model, dict(type='Normal', std=0.01, override=dict(name='fc')))  # model.fc
    >>> initialize(model, [dict(type='Constant', layer='Conv2d', val=1),         # in order
    ...                    dict(type='Constant', layer='BatchNorm2d', val=1, bias=0)])

Each config applies its initializer to the module (``layer`` chooses the layers), then its
``norm`` companions (hydra_cnn), then each ``override`` entry to the named submodule, every
layer with weights in it; a list applies config after config. Within one application the layers
are visited as ``nn.Module.apply`` visits them, children before their parent, so the same torch
seed draws the same values as mmcv 1.7.

Nothing is written before everything has been checked: every config of a list is built, every
``override`` target found, and every layer an initializer will reach checked (a fan-based
initializer such as ``Kaiming`` needs a weight with at least two dimensions) before the first
tensor changes. A bad value anywhere leaves the model as it was.

The initializer classes (:mod:`hydra_cnn.init.initializers`) implement :class:`Initializer`,
the interface this module applies.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import logging
import warnings
from collections.abc import Mapping
from typing import Any, ClassVar

from torch import nn

from hydra_cnn.common import ConfigKeyError, closest_match, to_plain
from hydra_cnn.init.tracking import CHECKPOINT, CONFIG, LOADED, InitTracker, Writer, tracking
from hydra_cnn.registry import INITIALIZERS, build_from_cfg, cfg_to_dict

__all__ = [
    "InitStep",
    "Initializer",
    "apply_inits",
    "apply_steps",
    "initialize",
    "loads_checkpoint",
    "make_init",
    "plan_inits",
    "prepare_inits",
    "to_plain",
]

logger = logging.getLogger("hydra_cnn.init")


def _type_name(cls: type) -> str:
    """The name ``cls`` is registered under in INITIALIZERS (its class name if none)."""
    for name, member in INITIALIZERS.module_dict.items():
        if member is cls:
            return name
    return cls.__name__


class Initializer:
    """What :func:`initialize` applies: the interface of every ``INITIALIZERS`` member.

    Subclasses are :class:`~hydra_cnn.init.initializers.BaseInit` (the random and constant
    initializers) and :class:`~hydra_cnn.init.initializers.PretrainedInit`.

    Attributes:
        loads_checkpoint: whether it writes tensors from a checkpoint (the report names the
            writer ``checkpoint``, and ``BaseModule`` applies it after the children).
        override: ``override`` entries (dicts with ``name``) applied after this initializer;
            set by :func:`make_init`.
        norm: initializers applied after this one (the ``norm`` key); set by :func:`make_init`.
        seed: keyed init for this config, its ``norm`` and its ``override`` entries (the
            ``seed`` key; None: the run's seed, if any); set by :func:`make_init`.
    """

    loads_checkpoint: ClassVar[bool] = False
    override: list[dict[str, Any]] | None = None
    norm: list[Initializer] | None = None
    seed: int | None = None

    @property
    def type_name(self) -> str:
        """The registry name of this initializer (``'Kaiming'``)."""
        return _type_name(type(self))

    def report_args(self) -> dict[str, Any]:
        """The arguments shown in the init report."""
        return {}

    def applies_by_itself(self) -> bool:
        """Whether calling it on a module writes anything without an ``override`` (True unless
        it selects layers and has none)."""
        return True

    def for_whole_module(self) -> Initializer:
        """A copy for an ``override`` target: it applies to every layer with a weight or bias
        in the target, and has no ``override``/``norm`` of its own."""
        clone = copy.copy(self)
        clone.override = None
        clone.norm = None
        return clone

    def check(self, module: nn.Module) -> None:
        """Raise if applying it to ``module`` would fail; writes nothing (default: no check)."""

    def touched(self, module: nn.Module) -> list[Any] | None:
        """The tensors calling it on ``module`` writes, when known (None: any tensor of
        ``module``'s subtree). A run that must be able to undo itself snapshots these."""
        return None

    def __call__(self, module: nn.Module) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__()")


# -- building ----------------------------------------------------------------------------------
def _override_items(override: Any) -> list[dict[str, Any]]:
    """Validate ``override`` and return it as a list of fresh dicts."""
    override = to_plain(override)
    if override is None:
        return []
    if isinstance(override, Mapping):
        raw = [override]
    elif isinstance(override, list | tuple):
        raw = list(override)
    else:
        raise TypeError(
            f"override must be a dict or a list of dicts, but got {type(override).__name__}: "
            f"{override!r}"
        )
    items: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise TypeError(f"each override must be a dict with a 'name' key, but got {item!r}")
        entry: dict[str, Any] = copy.deepcopy(dict(item))
        if "name" not in entry:
            raise ValueError(
                f"`override` must contain the key 'name' (the attribute to re-initialise), but "
                f"got {entry}"
            )
        if not isinstance(entry["name"], str):
            raise TypeError(f"override name must be a str, but got {entry['name']!r}")
        if not entry["name"].strip():
            raise ValueError(
                f"override name must name a submodule (an attribute such as 'fc' or a dotted "
                f"path such as 'head.fc'), but got the empty value {entry['name']!r} in "
                f"{entry}; to initialise the whole model, use the config itself without override"
            )
        if len(entry) > 1 and "type" not in entry:
            raise ValueError(
                f"`override` {entry} has arguments but no 'type': give type=... with them, or "
                "only name=... to reuse the parent's initializer and arguments"
            )
        items.append(entry)
    return items


def _as_items(init_cfg: Any, what: str = "init_cfg") -> list[Any]:
    if isinstance(init_cfg, Initializer | Mapping) or (
        dataclasses.is_dataclass(init_cfg) and not isinstance(init_cfg, type)
    ):
        return [init_cfg]
    if isinstance(init_cfg, list | tuple) or type(init_cfg).__name__ == "ListConfig":
        return list(init_cfg)
    raise TypeError(
        f"{what} must be a dict, a DictConfig, a structured init config (e.g. KaimingInitConf()),"
        f" an initializer object or a list of these, but got {type(init_cfg).__name__}: "
        f"{init_cfg!r}"
    )


def _prepare(item: Any) -> Initializer:
    """One config item -> an initializer object (with its override and norm attached)."""
    if isinstance(item, Initializer):
        return item
    if isinstance(item, list | tuple):
        raise TypeError(f"an init config list may not nest lists, but got {item!r}")
    _, data = cfg_to_dict(item, what="init config")
    return make_init(**data)


def make_init(type: Any = None, *, override: Any = None, norm: Any = None, seed: Any = None,
              **kwargs: Any) -> Initializer:
    """Build the ``INITIALIZERS`` member ``type`` from keyword arguments: the ``init`` options'
    Hydra ``_target_``.

    Args:
        type: registered name (``'Kaiming'``, ``'Constant'``, ..., ``'Pretrained'``) or class.
        override: ``override`` entries (a dict or list of dicts with ``name``) that
            :func:`initialize` applies after this initializer (default None).
        norm: further init configs (a dict, a structured config, an initializer or a list)
            applied after this one; the shipped options set norm layers to weight 1, bias 0
            here (default None).
        seed: keyed init for this config, its ``norm`` and ``override`` entries (default None:
            the seed passed to ``initialize``/``init_weights``, else the global RNG).
        **kwargs: the initializer's own arguments (``layer``, ``bias``, ``mode``, ...).

    Returns:
        The initializer object; :func:`initialize` and ``BaseModule(init_cfg=...)`` accept it.

    Example:
        >>> make_init(type='Kaiming', layer=['Conv2d'])
        KaimingInit(a=0, mode='fan_out', nonlinearity='relu', distribution='normal', bias=0, layer=['Conv2d'])
    """
    if type is None:
        raise ConfigKeyError(
            'init config must contain the key "type" (one of '
            f"{', '.join(INITIALIZERS.names())}), but got {kwargs!r}"
        )
    kwargs = {k: to_plain(v) for k, v in kwargs.items()}
    obj = build_from_cfg({"type": type, **kwargs}, INITIALIZERS)
    if not isinstance(obj, Initializer):
        raise TypeError(
            f"INITIALIZERS type {type!r} built {obj!r}, which is not an initializer (a subclass "
            "of hydra_cnn.init.BaseInit)"
        )
    from hydra_cnn.init.keyed import check_seed

    seed = check_seed(to_plain(seed))
    items = _override_items(override)
    norms = [_prepare(c) for c in _as_items(to_plain(norm), "norm")] if norm is not None else []
    obj.override = items or None
    obj.norm = norms or None
    obj.seed = seed
    return obj


def _seeded(obj: Initializer, seed: int | None) -> Initializer:
    """``obj``, or a copy that inherits ``seed`` when it has none of its own."""
    if seed is None or obj.seed is not None:
        return obj
    clone = copy.copy(obj)
    clone.seed = seed
    return clone


def prepare_inits(init_cfg: Any, what: str = "init_cfg") -> list[tuple[Initializer, str]]:
    """Turn any accepted init config into ``(initializer, via)`` pairs, building (and so
    validating) every one of them; ``via`` names the config in the report (``'init_cfg[1]'``).
    """
    items = _as_items(init_cfg, what)
    single = len(items) == 1
    return [(_prepare(x), what if single else f"{what}[{i}]") for i, x in enumerate(items)]


# -- planning and applying ---------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class InitStep:
    """One application: ``init`` applied to ``target`` (``via`` names the config).

    Attributes:
        init: the initializer.
        target: the module it is called on (the config's module, or an ``override`` target).
        via: how the report names the config: ``'init_cfg'``, ``'init_cfg[1].norm'``,
            ``'init_cfg.override[reg]'``, ...
    """

    init: Initializer
    target: nn.Module
    via: str


def _resolve(module: nn.Module, item: dict[str, Any]) -> nn.Module:
    name = item["name"]
    try:
        return module.get_submodule(name)
    except AttributeError:
        children = [n for n, _ in module.named_children()]
        hit = closest_match(name, children)
        raise RuntimeError(
            f"{type(module).__name__} has no submodule {name!r} to override (init_cfg override "
            f"{item}); its children are: {', '.join(children) or 'none'}."
            + (f" Did you mean {hit!r}?" if hit else "")
        ) from None


def plan_inits(module: nn.Module, inits: list[tuple[Initializer, str]], *,
               warn: bool = True, sources: list[int] | None = None) -> list[InitStep]:
    """The applications ``inits`` make on ``module``, in order, all checked; nothing written.

    Per config: the initializer itself (when it selects layers), its ``norm`` companions, then
    its ``override`` targets. Raises what applying them would raise (an unknown ``override``
    name, a weight a fan-based init cannot take, ...) before anything is written.

    Args:
        module: the module the configs belong to.
        inits: from :func:`prepare_inits`.
        warn: warn about a config that would do nothing (default True).
        sources: when given, gets the index in ``inits`` of the config each step comes from.
    """
    steps: list[InitStep] = []
    for index, (obj, via) in enumerate(inits):
        start = len(steps)
        overrides = obj.override or []
        targets = [(item, _resolve(module, item)) for item in overrides]
        applies = obj.applies_by_itself()
        if not applies and not overrides and not obj.norm:
            if warn:
                warnings.warn(
                    f"{obj.type_name} init config has neither 'layer' nor 'override', so it "
                    f"initialises nothing in {type(module).__name__}; set layer=<class names> or "
                    "override=dict(name=<attribute>)",
                    UserWarning, stacklevel=3,
                )
            continue
        if applies:
            steps.append(InitStep(obj, module, via))
        steps.extend(InitStep(_seeded(c, obj.seed), module, f"{via}.norm")
                     for c in obj.norm or [])
        for item, target in targets:
            if set(item) == {"name"}:  # only a name: the parent's initializer and arguments
                sub = obj
            else:
                sub = _seeded(make_init(**{k: v for k, v in item.items() if k != "name"}),
                              obj.seed)
            steps.append(InitStep(sub.for_whole_module(), target,
                                  f"{via}.override[{item['name']}]"))
        if sources is not None:
            sources.extend([index] * (len(steps) - start))
    for step in steps:
        step.init.check(step.target)
    return steps


def _writer(tracker: InitTracker, owner: nn.Module, obj: Initializer, via: str) -> Writer:
    if obj.loads_checkpoint:
        return tracker.writer_for(owner, LOADED, CHECKPOINT, obj.report_args(), via)
    return tracker.writer_for(owner, CONFIG, obj.type_name, obj.report_args(), via)


def apply_steps(owner: nn.Module, steps: list[InitStep], tracker: InitTracker) -> None:
    """Run planned steps in order, each in a tracked frame whose source is ``owner`` (the
    module whose config they come from)."""
    for step in steps:
        touched = step.init.touched(step.target) if tracker.transactional else None
        writer = _writer(tracker, owner, step.init, step.via)
        seed = step.init.seed
        with contextlib.ExitStack() as stack:
            if seed is not None:  # the config's own seed, for this step only
                stack.enter_context(tracking(tracker.root, seed=seed))
            with tracker.writing(step.target, writer, touched):
                step.init(step.target)


def loads_checkpoint(steps: list[InitStep]) -> bool:
    """Whether a planned step loads a checkpoint (the run must then be able to undo itself:
    the checkpoint can still fail to load after earlier steps wrote)."""
    return any(step.init.loads_checkpoint for step in steps)


def apply_inits(module: nn.Module, inits: list[tuple[Initializer, str]],
                tracker: InitTracker) -> None:
    """Plan (check) then apply prepared initializers to ``module``: used by ``BaseModule``."""
    apply_steps(module, plan_inits(module, inits), tracker)


def initialize(module: nn.Module, init_cfg: Any, *, seed: int | None = None,
               report: bool = True) -> None:
    """Initialise ``module`` with one init config or a list of them, applied in order.

    Every config is built and checked before the first tensor is written, so a bad value in
    any of them leaves the model unchanged; when a ``Pretrained`` checkpoint fails to load
    (missing, not a checkpoint), what the earlier configs wrote is put back before the error
    propagates.

    Args:
        module: the model.
        init_cfg: a dict with ``type`` (plus ``layer``, ``override``, ``norm`` and the
            initializer's arguments), a ``DictConfig``, a structured config, an initializer
            object, or a list of these. Never mutated.
        seed: keyed init (default None: the global RNG, mmcv's draw order). With an int,
            every random tensor's values depend only on the seed, the tensor's qualified name
            in ``module``, its shape and its initializer: the same on a normal build, a
            meta-device build, a model sharded over any number of ranks, and whatever the
            global RNG state (see :mod:`hydra_cnn.init.keyed`).
        report: kept for compatibility (default True): the init report is recorded either way
            and read back with ``init_report(module)`` (``BaseModule.init_report()``); a later
            call adds to the same report.

    Raises:
        TypeError: a config of the wrong type, a bad ``bias``/``bias_prob``/``layer``, a
            non-numeric argument.
        KeyError: no ``type``, or one not registered.
        ValueError: an ``override`` without ``name``, or with arguments but no ``type``; an
            argument out of range (``std < 0``, ``a > b``, ...); a weight a fan-based
            initializer cannot take.
        RuntimeError: an ``override`` naming no submodule.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 3, 3), nn.Linear(1, 2))
        >>> initialize(model, dict(type='Constant', layer=['Conv2d', 'Linear'], val=1))
        >>> model[1].weight
        Parameter containing:
        tensor([[1.],
                [1.]], requires_grad=True)
    """
    from hydra_cnn.init.keyed import check_seed

    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, but got {type(module).__name__}")
    seed = check_seed(seed)
    steps = plan_inits(module, prepare_inits(init_cfg))
    with tracking(module, report=report, seed=seed,
                  transactional=loads_checkpoint(steps)) as tracker:
        apply_steps(module, steps, tracker)
