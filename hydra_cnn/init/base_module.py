"""``BaseModule``: an ``nn.Module`` that initialises itself from ``init_cfg``; and the
``Sequential``, ``ModuleList`` and ``ModuleDict`` containers that take one too.

``model.init_weights()`` walks the model once (:func:`init_subtree` holds the order):

1. a module's own ``init_cfg`` applies to its whole subtree (``Pretrained`` entries wait);
2. then its children are visited, so an inner ``init_cfg`` wins over an outer one;
   a child with its own ``init_weights()`` override has it called (it usually calls
   ``super().init_weights()``); plain containers are walked through, so a ``BaseModule``
   inside an ``nn.Sequential`` still gets its config applied;
3. built-in default inits (``init_weights`` methods marked ``_is_default_init = True``, such as
   ``ConvModule``'s kaiming init) never undo what a config, a checkpoint or a user's
   ``init_weights`` wrote before them (mmcv issue #1685). They still run where mmcv's walk
   calls them, so their random draws keep a seeded run in step with mmcv's;
4. ``Pretrained`` entries load last, after the children.

Before anything is written, every ``init_cfg`` the walk will apply is built and checked
(:func:`check_init_tree`): a bad value anywhere leaves the model unchanged.

    >>> class Head(BaseModule):
    ...     def __init__(self, init_cfg=None):
    ...         super().__init__(init_cfg)
    ...         self.fc = nn.Linear(8, 2)
    >>> head = Head(init_cfg=dict(type='Normal', std=0.01, layer='Linear'))
    >>> head.init_weights()
    >>> head.init_report()['fc.weight'].writer
    'Normal'

A second ``init_weights()`` call warns and does nothing. ``init_weights(seed=1234)`` makes
the init keyed (:mod:`hydra_cnn.init.keyed`); the report is recorded with ``report=False``
too.
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import torch
from torch import nn

from hydra_cnn.init.apply import (
    Initializer,
    InitStep,
    apply_steps,
    loads_checkpoint,
    plan_inits,
    prepare_inits,
)
from hydra_cnn.init.keyed import check_seed
from hydra_cnn.init.report import InitReport, init_report
from hydra_cnn.init.tracking import (
    DEFAULT,
    USER,
    InitTracker,
    active_tracker,
    mark_uninitialized,
    materialize,
    tracking,
)

__all__ = [
    "BaseModule",
    "InitPlans",
    "ModuleDict",
    "ModuleList",
    "Sequential",
    "check_init_tree",
    "init_module_tree",
    "init_subtree",
    "visit_module",
]

logger = logging.getLogger("hydra_cnn.init")


def _is_default_init(fn: Any) -> bool:
    return bool(getattr(fn, "_is_default_init", False))


def _needs_args(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(
        p.default is p.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in sig.parameters.values()
    )


def _walks_into(module: nn.Module) -> bool:
    """Whether the init walk visits ``module``'s children itself: not for a module whose own
    ``init_weights()`` (not BaseModule's) takes charge of its subtree."""
    if isinstance(module, BaseModule):
        return True
    fn = getattr(module, "init_weights", None)
    return not callable(fn) or _needs_args(fn)


class InitPlans:
    """The checked plans of one init walk, by module: :func:`check_init_tree` makes them, and
    :func:`init_subtree` takes them instead of planning again (``build_model``'s rehearsal and
    real run plan once). A plan is kept only for a config held as plain dicts and lists (a copy
    of it tells a config changed since from the same one) that warns about nothing; and an
    init walk stops taking plans once a user's ``init_weights`` has run, since that code may
    change the model's structure."""

    def __init__(self) -> None:
        self._plans: dict[int, tuple[nn.Module, Any, Any, list[InitStep], list[InitStep]]] = {}

    def put(self, module: nn.Module, init_cfg: Any, inits: list[tuple[Initializer, str]]) -> bool:
        """Plan (and so check) ``inits``, ``module``'s ``init_cfg``, warning about nothing;
        keep the plan when it can be reused. Whether a step loads a checkpoint."""
        sources: list[int] = []
        steps = plan_inits(module, inits, warn=False, sources=sources)
        loads = loads_checkpoint(steps)
        quiet = all(o.applies_by_itself() or o.override or o.norm for o, _ in inits)
        if quiet and _plain_cfg(init_cfg):
            first = [s for s, i in zip(steps, sources, strict=True)
                     if not inits[i][0].loads_checkpoint]
            last = [s for s, i in zip(steps, sources, strict=True) if inits[i][0].loads_checkpoint]
            self._plans[id(module)] = (module, init_cfg, copy.deepcopy(init_cfg), first, last)
        return loads

    def get(self, module: nn.Module, init_cfg: Any) -> tuple[list[InitStep], list[InitStep]] | None:
        """The kept plan of ``module`` with ``init_cfg`` (None: plan it)."""
        got = self._plans.get(id(module))
        if got is None or got[0] is not module or got[1] is not init_cfg or got[2] != init_cfg:
            return None
        return got[3], got[4]


def _plain_cfg(cfg: Any) -> bool:
    """Whether ``cfg`` is made of dicts, lists and tuples of plain values only."""
    if isinstance(cfg, dict):
        return type(cfg) is dict and all(isinstance(k, str) and _plain_cfg(v)
                                         for k, v in cfg.items())
    if type(cfg) in (list, tuple):
        return all(_plain_cfg(v) for v in cfg)
    return cfg is None or type(cfg) in (str, int, float, bool)


def _plans_of(tracker: InitTracker) -> InitPlans | None:
    plans = getattr(tracker, "plans", None)
    return plans if isinstance(plans, InitPlans) else None


def init_subtree(module: nn.Module, init_cfg: Any, tracker: InitTracker,
                 walk: Callable[[], None]) -> None:
    """Initialise ``module``'s subtree in the one order every entry point uses.

    1. ``module``'s own ``init_cfg`` (all but ``Pretrained`` entries), on its whole subtree;
    2. ``walk()``: the children (their own configs and ``init_weights``, so inner wins);
    3. the ``Pretrained`` entries, last.

    Every config is built and checked (:func:`~hydra_cnn.init.apply.plan_inits`) before the
    first write.
    """
    plans = _plans_of(tracker)
    got = plans.get(module, init_cfg) if plans is not None and init_cfg is not None else None
    if got is not None:
        first, last = got
    else:
        inits = prepare_inits(init_cfg) if init_cfg is not None else []
        first = plan_inits(module, [(o, v) for o, v in inits if not o.loads_checkpoint])
        last = plan_inits(module, [(o, v) for o, v in inits if o.loads_checkpoint])
    apply_steps(module, first, tracker)
    walk()
    apply_steps(module, last, tracker)


def check_init_tree(root: nn.Module, init_cfg: Any = None,
                    plans: InitPlans | None = None) -> bool:
    """Build and check every ``init_cfg`` an ``init_weights()`` walk from ``root`` will apply
    (and ``init_cfg`` for ``root`` itself), so that a bad value anywhere raises before any
    tensor is written. Writes nothing and warns about nothing.

    Args:
        root: the model.
        init_cfg: a config for ``root`` itself, besides the modules' own (default None).
        plans: when given, keeps the checked plans for the walk (:class:`InitPlans`).

    Returns:
        Whether one of them loads a checkpoint (the walk must then be able to undo itself).
    """
    def check(m: nn.Module, cfg: Any) -> bool:
        if plans is not None:
            return plans.put(m, cfg, prepare_inits(cfg))
        return loads_checkpoint(plan_inits(m, prepare_inits(cfg), warn=False))

    loads = False
    if init_cfg is not None:
        loads = check(root, init_cfg)
    stack = [root]
    while stack:
        m = stack.pop()
        if isinstance(m, BaseModule):
            if m._is_init:
                continue
            if m.init_cfg is not None:
                loads = check(m, m.init_cfg) or loads
        if m is root or _walks_into(m):
            stack.extend(m.children())
    return loads


def _reached_by_mmcv(child: nn.Module, tracker: InitTracker) -> bool:
    """Whether mmcv 1.7's ``init_weights`` walk calls ``child.init_weights()``: that walk only
    goes down through ``BaseModule``s, so every module between the root and ``child`` must be
    one."""
    path = tracker.path_of(child)
    if not path:
        return True
    m = tracker.root
    for name in path.split(".")[:-1]:
        m = m._modules[name]  # type: ignore[assignment]
        if not isinstance(m, BaseModule):
            return False
    return True


def _run_default_init(child: nn.Module, fn: Callable[[], Any], tracker: InitTracker) -> None:
    """Run a built-in default init (``ConvModule``'s kaiming) without letting it undo a
    config, a checkpoint or a user's ``init_weights`` (mmcv #1685).

    On a model with real values it runs exactly where mmcv's walk calls it, so its random
    draws keep the random stream in step with mmcv's (the tensors it must not undo get their
    values back afterwards); elsewhere it is skipped: the module already holds what it gave it
    at construction. After ``to_empty`` it runs wherever something is left to fill.
    """
    name = type(child).__name__
    if not tracker.empty:
        if not _reached_by_mmcv(child, tracker):
            logger.debug("default %s.init_weights not re-run inside a plain container", name)
            return
    else:
        protected, params = tracker.protected(child)
        has_configs = any(isinstance(m, BaseModule) for m in child.modules())
        if params and len(protected) == len(params) and not has_configs:
            logger.debug("default %s.init_weights skipped: its parameters are set", name)
            return
    writer = tracker.writer_for(child, DEFAULT, f"{name}.init_weights", via="default")
    tracker.run_guarded(child, fn, writer)


def visit_module(child: nn.Module, tracker: InitTracker) -> None:
    """Initialise ``child``'s subtree inside an ancestor's ``init_weights`` (or as the root of
    ``build_model``): a ``BaseModule`` applies its configs, a module with its own
    ``init_weights()`` has it called, a plain module has its children visited."""
    if isinstance(child, BaseModule):
        if child._is_init:
            logger.debug("%s is already initialised; skipped", type(child).__name__)
            return
        if type(child).init_weights is BaseModule.init_weights:
            _init_base_module(child, tracker)
            return
    fn = getattr(child, "init_weights", None)
    if not callable(fn):
        init_module_tree(child, tracker)
        return
    name = type(child).__name__
    if _needs_args(fn):
        warnings.warn(
            f"{name}.init_weights{inspect.signature(fn)} needs arguments, so it is not called; "
            "its children are initialised instead.", UserWarning, stacklevel=3,
        )
        init_module_tree(child, tracker)
        return
    if _is_default_init(fn):
        _run_default_init(child, fn, tracker)
    else:
        if _plans_of(tracker) is not None:  # user code may change the structure: plan anew
            tracker.plans = None
        writer = tracker.writer_for(child, USER, f"{name}.init_weights", via="init_weights")
        with tracker.writing(child, writer):
            fn()
    if isinstance(child, BaseModule):
        child._is_init = True


def init_module_tree(module: nn.Module, tracker: InitTracker) -> None:
    """Visit ``module``'s children as ``BaseModule.init_weights`` does (for plain roots)."""
    for child in module.children():
        visit_module(child, tracker)


def _init_base_module(module: BaseModule, tracker: InitTracker) -> None:
    if module.init_cfg is not None:
        logger.debug("initialize %s with init_cfg %s", type(module).__name__, module.init_cfg)
    init_subtree(module, module.init_cfg, tracker, lambda: init_module_tree(module, tracker))
    module._is_init = True


def _top_level_guard(module: BaseModule) -> bool:
    """True (after warning) when a top-level init_weights() call must do nothing."""
    if module._is_init:
        warnings.warn(
            f"init_weights of {type(module).__name__} has been called more than once; the "
            "second call does nothing.", UserWarning, stacklevel=3,
        )
        return True
    return False


def _wrap_init_weights(fn: Callable[..., Any], user_frame: bool = True) -> Callable[..., Any]:
    """Give an ``init_weights`` the top-level behaviour (tracking, the report, the second-call
    warning) and a ``report`` keyword, whatever its signature. ``user_frame``: attribute writes
    the method makes itself (outside configs) to ``<Class>.init_weights``."""

    @functools.wraps(fn)
    def init_weights(self: BaseModule, *args: Any, report: bool | None = None,
                     seed: int | None = None, **kwargs: Any) -> Any:
        seed = check_seed(seed)
        if active_tracker() is not None:
            if seed is None:
                return fn(self, *args, **kwargs)
            with tracking(self, seed=seed):
                return fn(self, *args, **kwargs)
        if _top_level_guard(self):
            return None
        loads = check_init_tree(self)
        flag = self.init_report_enabled if report is None else report
        with tracking(self, report=bool(flag), seed=seed, transactional=loads) as tracker:
            if not user_frame:
                return fn(self, *args, **kwargs)
            writer = tracker.writer_for(self, USER, f"{type(self).__name__}.init_weights",
                                        via="init_weights")
            with tracker.writing(self, writer):
                result = fn(self, *args, **kwargs)
        self._is_init = True
        return result

    init_weights._hydra_cnn_wrapped_ = True  # type: ignore[attr-defined]
    return init_weights


class BaseModule(nn.Module):
    """An ``nn.Module`` with ``init_weights()`` driven by ``init_cfg`` (mmcv's BaseModule).

    Args:
        init_cfg: how to initialise this module's subtree (default None): a dict with
            ``type`` (``dict(type='Kaiming', layer='Conv2d')``), a structured config, an
            initializer object, or a list of these. Copied, never mutated.

    Attributes:
        init_report_enabled: class or instance switch for the init report (default True);
            ``init_weights(report=...)`` overrides it for one call.

    Example:
        >>> class Net(BaseModule):
        ...     def __init__(self, init_cfg=None):
        ...         super().__init__(init_cfg)
        ...         self.conv = nn.Conv2d(3, 8, 3)
        >>> net = Net(init_cfg=dict(type='Constant', layer='Conv2d', val=0.5))
        >>> net.init_weights()
        >>> float(net.conv.weight[0, 0, 0, 0])
        0.5
    """

    init_report_enabled: bool = True

    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__()
        self._is_init = False
        self.init_cfg = copy.deepcopy(init_cfg)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        own = cls.__dict__.get("init_weights")
        if inspect.isfunction(own) and not getattr(own, "_hydra_cnn_wrapped_", False):
            cls.init_weights = _wrap_init_weights(own)  # type: ignore[method-assign]

    @property
    def is_init(self) -> bool:
        """Whether ``init_weights()`` has run on this module."""
        return self._is_init

    @is_init.setter
    def is_init(self, value: bool) -> None:
        self._is_init = bool(value)

    def init_weights(self) -> None:
        """Initialise the subtree: own ``init_cfg``, then children, then ``Pretrained``.

        Also accepts (any override does too) ``seed=<int>``: keyed init, every random tensor's
        values depend only on the seed, its qualified name, its shape and its initializer
        (see :func:`hydra_cnn.init.initialize`); and ``report=False``, kept for
        compatibility (the report is recorded either way). If a ``Pretrained`` checkpoint
        fails to load, every tensor the call wrote is put back before the error propagates.

        Example:
            >>> model.init_weights()                      # doctest: +SKIP
            >>> print(model.init_report())                # doctest: +SKIP
        """
        tracker = active_tracker()
        if tracker is not None and not self._is_init:
            _init_base_module(self, tracker)

    def init_report(self) -> InitReport:
        """The report of the last ``init_weights()``: every parameter and buffer with its
        final writer. See :class:`hydra_cnn.init.report.InitReport`."""
        return init_report(self)

    def to_empty(self, *, device: Any, recurse: bool = True) -> BaseModule:
        """``nn.Module.to_empty``, then mark the module uninitialised: the next
        ``init_weights()`` runs again and resets whatever no init config writes.

        With ``recurse=True`` (the default) each tensor gets fresh memory directly
        (:func:`hydra_cnn.init.tracking.materialize`), which spares the first call in a process
        the import of torch's symbolic-shapes stack; sharded models go through torch's."""
        if recurse:
            materialize(self, torch.device(device))
        else:
            super().to_empty(device=device, recurse=recurse)
        for m in self.modules():
            if isinstance(m, BaseModule):
                m._is_init = False
        mark_uninitialized(self)
        return self

    def __repr__(self) -> str:
        s = super().__repr__()
        if self.init_cfg:
            s += f"\ninit_cfg={self.init_cfg}"
        return s


BaseModule.init_weights = _wrap_init_weights(  # type: ignore[method-assign]
    BaseModule.__dict__["init_weights"], user_frame=False
)


class Sequential(BaseModule, nn.Sequential):
    """``nn.Sequential`` with ``init_cfg`` and ``init_weights()``.

    Args:
        *args: the modules, in order (or one ``OrderedDict``).
        init_cfg: see :class:`BaseModule` (default None).

    Example:
        >>> seq = Sequential(nn.Conv2d(3, 3, 1), init_cfg=dict(type='Constant', layer='Conv2d', val=1))
        >>> seq.init_weights()
    """

    def __init__(self, *args: Any, init_cfg: Any = None) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.Sequential.__init__(self, *args)


class ModuleList(BaseModule, nn.ModuleList):
    """``nn.ModuleList`` with ``init_cfg`` and ``init_weights()``.

    Args:
        modules: the modules (default None: empty).
        init_cfg: see :class:`BaseModule` (default None).

    Example:
        >>> ml = ModuleList([nn.Linear(2, 2)], init_cfg=dict(type='Constant', layer='Linear', val=1))
        >>> ml.init_weights()
    """

    def __init__(self, modules: Iterable[nn.Module] | None = None, init_cfg: Any = None) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.ModuleList.__init__(self, modules)


class ModuleDict(BaseModule, nn.ModuleDict):
    """``nn.ModuleDict`` with ``init_cfg`` and ``init_weights()``.

    Args:
        modules: name -> module mapping (default None: empty).
        init_cfg: see :class:`BaseModule` (default None).

    Example:
        >>> md = ModuleDict(dict(fc=nn.Linear(2, 2)), init_cfg=dict(type='Constant', layer='Linear', val=1))
        >>> md.init_weights()
    """

    def __init__(self, modules: Mapping[str, nn.Module] | None = None,
                 init_cfg: Any = None) -> None:
        BaseModule.__init__(self, init_cfg)
        nn.ModuleDict.__init__(self, modules)

