"""The tracking engine behind the init report: who wrote each parameter and buffer.

While ``initialize`` or ``BaseModule.init_weights`` runs, an :class:`InitTracker` follows every
write. Each writer (an initializer from an ``init_cfg``, a checkpoint load, a module's own
``init_weights``, a default reset) runs inside a *frame*; when the frame ends, the tracker
compares each tensor's version counter (``tensor._version``, host-side metadata that every
in-place write bumps) with the last one it saw and records the frame as the tensor's writer.
Nothing reads tensor values, so recording costs no device sync. Writes made through
``tensor.data`` do not bump the version counter and are not seen.

The tracker records one :class:`InitEntry` per tensor and stores the list on the root module
at the end of the run; :mod:`hydra_cnn.init.report` presents it (``init_report(model)``).
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

__all__ = [
    "CHECKPOINT",
    "PYTORCH_DEFAULT",
    "UNINITIALIZED",
    "InitEntry",
    "InitTracker",
    "Writer",
    "active_tracker",
    "mark_uninitialized",
    "recorded_entries",
    "tracking",
    "update_init_info",
]

logger = logging.getLogger("hydra_cnn.init")

PYTORCH_DEFAULT = "PyTorch default"
"""Writer of a tensor no initializer touched: it keeps the value its constructor gave it."""
UNINITIALIZED = "uninitialized"
"""Writer of a tensor nothing wrote since ``to_empty``: its memory holds garbage."""
CHECKPOINT = "checkpoint"
"""Writer of a tensor a ``Pretrained`` config loaded."""

# origin of a write: who caused it
NONE, CONFIG, LOADED, USER, DEFAULT, RESET = "none", "config", "checkpoint", "user", "default", "reset"
_PROTECTING = frozenset({CONFIG, LOADED, USER})  # writes a built-in default init must not undo

_EMPTY_ATTR = "_hydra_cnn_empty_"
_RECORD_ATTR = "_hydra_cnn_init_record_"

_ACTIVE: contextvars.ContextVar[InitTracker | None] = contextvars.ContextVar(
    "hydra_cnn_init_tracker", default=None
)


@dataclasses.dataclass(frozen=True)
class Writer:
    """Who writes tensors inside a frame: the entry the report shows for them."""

    origin: str
    name: str
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str = ""
    source_type: str = ""
    via: str = ""


@dataclasses.dataclass
class InitEntry:
    """One row of the report: a parameter or buffer and its final writer.

    Attributes:
        name: full dotted name (``'layer1.0.conv1.weight'``).
        kind: ``'parameter'`` or ``'buffer'``.
        shape: the tensor's shape.
        dtype: its dtype, e.g. ``'float32'``.
        writer: the initializer's registry name (``'Kaiming'``), ``'checkpoint'``,
            ``'<Class>.init_weights'``, ``'reset_parameters'``, or :data:`PYTORCH_DEFAULT` /
            :data:`UNINITIALIZED` when nothing wrote it.
        args: the writer's arguments (``{'mode': 'fan_out', ...}``).
        source: dotted path of the module whose config or method wrote it (``''`` = the root).
        source_type: that module's class name.
        via: how the writer was reached: ``'init_cfg'``, ``'init_cfg[1]'``,
            ``'init_cfg.override[reg]'``, ``'init_cfg.norm'``, ``'init_weights'``, ...
        origin: ``'config'``, ``'checkpoint'``, ``'user'``, ``'default'``, ``'reset'`` or
            ``'none'``.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    dtype: str
    writer: str
    args: dict[str, Any] = dataclasses.field(default_factory=dict)
    source: str | None = None
    source_type: str = ""
    via: str = ""
    origin: str = NONE

    @property
    def initialized(self) -> bool:
        """Whether something wrote it during initialisation (buffers count as initialised by
        their constructor unless their memory is uninitialised)."""
        if self.origin != NONE:
            return True
        return self.kind == "buffer" and self.writer != UNINITIALIZED


def _version(t: torch.Tensor) -> int:
    try:
        return int(t._version)
    except RuntimeError:  # inference tensors have no version counter
        return -1


def _direct_tensors(m: nn.Module) -> Iterator[tuple[str, str, torch.Tensor]]:
    for n, p in m._parameters.items():
        if p is not None:
            yield n, "parameter", p
    for n, b in m._buffers.items():
        if b is not None:
            yield n, "buffer", b


class InitTracker:
    """Follows every write to a model's tensors during one initialisation run.

    Made by :func:`tracking`; initializers and ``BaseModule`` use it through
    :func:`active_tracker`. Users rarely need it directly.

    Args:
        root: the model being initialised.
        report: keep per-tensor entries for the init report (False keeps only what the
            priority rules need: which tensors were written, and by what kind of writer).
        empty: the model's memory is uninitialised (``to_empty``): unwritten tensors are reset
            with their module's ``reset_parameters``/``reset_running_stats`` at the end.
        dry_run: a rehearsal on a meta-device model (``build_model``): checkpoints are not read.
    """

    def __init__(
        self, root: nn.Module, *, report: bool = True, empty: bool = False, dry_run: bool = False
    ) -> None:
        self.root = root
        self.report_enabled = report
        self.empty = empty
        self.dry_run = dry_run
        self._paths: dict[int, str] = {}
        self._names: dict[int, str] = {}  # id(tensor) -> canonical name
        self._seen: dict[str, tuple[int, int]] = {}  # name -> (id(tensor), version)
        self._origin: dict[str, str] = {}  # name -> origin of its last write
        self._stack: list[Writer] = []
        # guards of running default inits: name -> (tensor, value to keep)
        self._guards: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = []
        self.entries: dict[str, InitEntry] = {}
        initial = UNINITIALIZED if empty else PYTORCH_DEFAULT
        previous = None if empty else root.__dict__.get(_RECORD_ATTR)
        for path, m in root.named_modules(remove_duplicate=False):
            self._paths.setdefault(id(m), path)
        for path, m in root.named_modules():
            for n, kind, t in _direct_tensors(m):
                if id(t) in self._names:
                    continue  # a tensor shared by two modules is listed once
                name = f"{path}.{n}" if path else n
                self._names[id(t)] = name
                self._seen[name] = (id(t), _version(t))
                self._origin[name] = NONE
                if report:
                    self.entries[name] = InitEntry(
                        name, kind, tuple(t.shape), str(t.dtype).replace("torch.", ""), initial
                    )
        if previous is not None:  # continue the history of an earlier run
            for e in previous:
                if e.name in self._origin and e.origin != NONE:
                    self._origin[e.name] = e.origin
                    if report:
                        self.entries[e.name] = dataclasses.replace(e)

    # -- queries -------------------------------------------------------------------------------
    def path_of(self, module: nn.Module) -> str | None:
        """Dotted path of ``module`` in the root (``''`` for the root), None if outside it."""
        return self._paths.get(id(module))

    def written(self, name: str) -> bool:
        """Whether ``name`` has been written by anything so far."""
        return self._origin.get(name, NONE) != NONE

    def _iter(self, module: nn.Module) -> Iterator[tuple[str, str, torch.Tensor]]:
        base = self._paths.get(id(module))
        if base is None:
            return
        for path, m in module.named_modules(prefix=base):
            for n, kind, t in _direct_tensors(m):
                name = self._names.get(id(t))
                if name is None:  # a tensor created or replaced during init
                    name = f"{path}.{n}" if path else n
                    self._names[id(t)] = name
                yield name, kind, t

    def protected(self, module: nn.Module) -> tuple[list[str], list[str]]:
        """``(protected, all)`` parameter names in ``module``'s subtree, where protected ones
        were written by a config, a checkpoint or a user's ``init_weights``."""
        names = [n for n, kind, _ in self._iter(module) if kind == "parameter"]
        return [n for n in names if self._origin.get(n, NONE) in _PROTECTING], names

    # -- recording -----------------------------------------------------------------------------
    def sweep(self, module: nn.Module, writer: Writer | None) -> None:
        """Attribute every tensor of ``module`` changed since last seen to ``writer``.

        Inside :meth:`run_guarded`, a default writer's change to a guarded tensor is undone
        instead; a config's change to one becomes the value to keep.
        """
        for name, kind, t in self._iter(module):
            state = (id(t), _version(t))
            if self._seen.get(name) == state:
                continue
            if writer is not None and self._guards:
                guarded = [g[name] for g in self._guards if name in g and g[name][0] is t]
                if guarded and writer.origin in (DEFAULT, RESET):
                    with torch.no_grad():
                        t.copy_(guarded[-1][1])
                    self._seen[name] = (id(t), _version(t))
                    continue
                with torch.no_grad():
                    for _, keep in guarded:
                        keep.copy_(t)
            self._seen[name] = state
            if writer is None:
                continue
            self._origin[name] = writer.origin
            if self.report_enabled:
                self.entries[name] = InitEntry(
                    name, kind, tuple(t.shape), str(t.dtype).replace("torch.", ""),
                    writer.name, dict(writer.args), writer.source, writer.source_type,
                    writer.via, writer.origin,
                )

    def writer_for(
        self, module: nn.Module, origin: str, name: str, args: dict[str, Any] | None = None,
        via: str = "",
    ) -> Writer:
        """A :class:`Writer` whose source is ``module``."""
        path = self.path_of(module)
        return Writer(origin, name, dict(args or {}), "" if path is None else path,
                      type(module).__name__, via)

    @contextlib.contextmanager
    def writing(self, module: nn.Module, writer: Writer) -> Iterator[None]:
        """A frame: writes to ``module``'s tensors inside it are attributed to ``writer``."""
        self.sweep(module, self._stack[-1] if self._stack else None)
        self._stack.append(writer)
        try:
            yield
        finally:
            self._stack.pop()
            self.sweep(module, writer)

    def run_guarded(self, module: nn.Module, fn: Any, writer: Writer) -> None:
        """Run ``fn()`` (a default init or a reset) in a frame for ``writer`` without letting
        it undo what a config, a checkpoint or a user's init wrote under ``module``: such
        tensors are copied first and restored if the default overwrote them."""
        guard = {
            name: (t, t.detach().clone()) for name, _, t in self._iter(module)
            if self._origin.get(name, NONE) in _PROTECTING
        }
        self.sweep(module, self._stack[-1] if self._stack else None)
        self._guards.append(guard)
        self._stack.append(writer)
        try:
            fn()
        finally:
            self._stack.pop()
            try:
                self.sweep(module, writer)
            finally:
                self._guards.pop()

    # -- end of run ----------------------------------------------------------------------------
    def finish(self) -> None:
        """Reset what nothing wrote in an uninitialised (``to_empty``) model; warn about the rest."""
        if not self.empty:
            return
        for _, m in self.root.named_modules():
            for kind, method in (("parameter", "reset_parameters"), ("buffer", "reset_running_stats")):
                fn = getattr(m, method, None)
                if callable(fn) and any(
                    k == kind and not self.written(self._names.get(id(t), ""))
                    for _, k, t in _direct_tensors(m)
                ):
                    self.run_guarded(m, fn, self.writer_for(m, RESET, method))
        left = [n for n, o in self._origin.items() if o == NONE]
        if left and not self.dry_run:
            shown = ", ".join(left[:8]) + (f", ... ({len(left)} in all)" if len(left) > 8 else "")
            warnings.warn(
                f"{type(self.root).__name__} was built with uninitialised memory (to_empty) and "
                f"nothing initialised {shown}: add them to an init config or give their module "
                "a reset_parameters() method.",
                stacklevel=4,
            )

    def recorded(self) -> list[InitEntry]:
        """The entries of this run, in module order (empty when ``report=False``)."""
        return list(self.entries.values())


def active_tracker() -> InitTracker | None:
    """The tracker of the initialisation running now, or None."""
    return _ACTIVE.get()


@contextlib.contextmanager
def tracking(
    root: nn.Module, *, report: bool = True, dry_run: bool = False
) -> Iterator[InitTracker]:
    """Track one initialisation run of ``root`` (reuses the running one when nested).

    At the end of the outermost run, unwritten tensors of a ``to_empty`` model are reset, and
    the entries are stored on ``root`` (:func:`recorded_entries` reads them back).
    """
    running = _ACTIVE.get()
    if running is not None:
        yield running
        return
    tracker = InitTracker(root, report=report, empty=bool(getattr(root, _EMPTY_ATTR, False)),
                          dry_run=dry_run)
    token = _ACTIVE.set(tracker)
    try:
        yield tracker
        tracker.finish()
    finally:
        _ACTIVE.reset(token)
    root.__dict__[_EMPTY_ATTR] = False
    root.__dict__[_RECORD_ATTR] = tracker.recorded() if report else None


def mark_uninitialized(module: nn.Module) -> None:
    """Record that ``module``'s memory is uninitialised (after ``to_empty``), so the next
    ``init_weights``/``initialize`` resets what no config writes. ``BaseModule.to_empty``
    calls it."""
    module.__dict__[_EMPTY_ATTR] = True
    module.__dict__[_RECORD_ATTR] = None


def recorded_entries(module: nn.Module) -> list[InitEntry]:
    """The entries of the last ``init_weights``/``initialize`` run on ``module``.

    Before any run (or after one with ``report=False``), every tensor is listed with writer
    :data:`PYTORCH_DEFAULT` (:data:`UNINITIALIZED` after ``to_empty``).
    """
    stored = module.__dict__.get(_RECORD_ATTR)
    if stored is not None:
        return list(stored)
    empty = bool(module.__dict__.get(_EMPTY_ATTR, False))
    return InitTracker(module, report=True, empty=empty).recorded()


def update_init_info(module: nn.Module, init_info: str) -> None:
    """Record ``init_info`` as the writer of every tensor of ``module`` changed since the last
    record (mmcv compatibility; detection uses version counters, not parameter means).

    Outside an initialisation run it does nothing.

    Args:
        module: the module just initialised.
        init_info: a description, e.g. ``'ConstantInit: val=1, bias=0'``.

    Example:
        >>> update_init_info(self.head, 'zero-init of the last layer')   # doctest: +SKIP
    """
    tracker = _ACTIVE.get()
    if tracker is None:
        return
    tracker.sweep(module, tracker.writer_for(module, USER, init_info, via="update_init_info"))
