"""``BaseModule``: an ``nn.Module`` that initialises itself from ``init_cfg``; and the
``Sequential``, ``ModuleList`` and ``ModuleDict`` containers that take one too.

``model.init_weights()`` walks the model once:

1. a module's own ``init_cfg`` applies to its whole subtree (``Pretrained`` entries wait);
2. then its children are visited, so an inner ``init_cfg`` wins over an outer one;
   a child with its own ``init_weights()`` override has it called (it usually calls
   ``super().init_weights()``); plain containers are walked through, so a ``BaseModule``
   inside an ``nn.Sequential`` still gets its config applied;
3. built-in default inits (``init_weights`` methods marked ``_is_default_init = True``, such as
   ``ConvModule``'s kaiming init) run too, but never undo what a config, a checkpoint or a
   user's ``init_weights`` wrote before them (mmcv issue #1685);
4. ``Pretrained`` entries load last, after the children.

    >>> class Head(BaseModule):
    ...     def __init__(self, init_cfg=None):
    ...         super().__init__(init_cfg)
    ...         self.fc = nn.Linear(8, 2)
    >>> head = Head(init_cfg=dict(type='Normal', std=0.01, layer='Linear'))
    >>> head.init_weights()
    >>> head.init_report()['fc.weight'].writer
    'Normal'

A second ``init_weights()`` call warns and does nothing. ``init_weights(report=False)`` skips
the report's table (the priority rules work the same).
"""

from __future__ import annotations

import copy
import functools
import inspect
import logging
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from torch import nn

from hydra_cnn.init.initializers import PretrainedInit, apply_inits, prepare_inits
from hydra_cnn.init.report import (
    DEFAULT,
    USER,
    InitReport,
    InitTracker,
    active_tracker,
    init_report,
    mark_uninitialized,
    tracking,
)

__all__ = ["BaseModule", "ModuleDict", "ModuleList", "Sequential", "init_module_tree"]

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


def _split_init_cfg(init_cfg: Any) -> tuple[list[Any], list[Any]]:
    """``(others, pretrained)``, each with its ``via`` label, validated."""
    if init_cfg is None:
        return [], []
    inits = prepare_inits(init_cfg)
    others = [(o, v) for o, v in inits if not isinstance(o, PretrainedInit)]
    pretrained = [(o, v) for o, v in inits if isinstance(o, PretrainedInit)]
    return others, pretrained


def _visit(child: nn.Module, tracker: InitTracker) -> None:
    """Initialise ``child``'s subtree inside an ancestor's ``init_weights``."""
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
        protected, params = tracker.protected(child)
        has_configs = any(isinstance(m, BaseModule) for m in child.modules())
        if params and len(protected) == len(params) and not has_configs:
            logger.debug("default %s.init_weights skipped: its parameters are set", name)
        else:
            writer = tracker.writer_for(child, DEFAULT, f"{name}.init_weights", via="default")
            tracker.run_guarded(child, fn, writer)
    else:
        writer = tracker.writer_for(child, USER, f"{name}.init_weights", via="init_weights")
        with tracker.writing(child, writer):
            fn()
    if isinstance(child, BaseModule):
        child._is_init = True


def init_module_tree(module: nn.Module, tracker: InitTracker) -> None:
    """Visit ``module``'s children as ``BaseModule.init_weights`` does (for plain roots)."""
    for child in module.children():
        _visit(child, tracker)


def _init_base_module(module: BaseModule, tracker: InitTracker) -> None:
    others, pretrained = _split_init_cfg(module.init_cfg)
    if module.init_cfg is not None:
        logger.debug("initialize %s with init_cfg %s", type(module).__name__, module.init_cfg)
    apply_inits(module, others, tracker)
    init_module_tree(module, tracker)
    apply_inits(module, pretrained, tracker)
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
                     **kwargs: Any) -> Any:
        if active_tracker() is not None:
            return fn(self, *args, **kwargs)
        if _top_level_guard(self):
            return None
        flag = self.init_report_enabled if report is None else report
        with tracking(self, report=bool(flag)) as tracker:
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

        Also accepts ``report=False`` (any override does too) to skip the report's table for
        this call; ``init_report_enabled = False`` does it for every call.

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
        ``init_weights()`` runs again and resets whatever no init config writes."""
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

