"""The tracking engine behind the init report: who wrote each parameter and buffer.

While ``initialize`` or ``BaseModule.init_weights`` runs, an :class:`InitTracker` follows every
write. Each writer (an initializer from an ``init_cfg``, a checkpoint load, a module's own
``init_weights``, a default reset) runs inside a *frame*; when the frame ends, the tracker
compares each tensor's version counter (``tensor._version``, host-side metadata that every
in-place write bumps) with the last one it saw and records the frame as the tensor's writer.
Nothing reads tensor values, so recording costs no device sync. Writes made through
``tensor.data`` do not bump the version counter and are not seen.

The tracker lists the model's tensors once per run, each module's subtree as a range of that
list (a frame costs what its module holds), records the last writer of each tensor, and
stores the entries on the root module at the end of the run, with or without ``report=``;
:mod:`hydra_cnn.init.report` presents them (``init_report(model)``). A run with a ``seed``
(or on a model holding DTensors) routes random fills through
:class:`~hydra_cnn.init.keyed.KeyedFill`; a run that loads a checkpoint snapshots what each
writer touches and puts it back if the run fails.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import logging
import warnings
from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

__all__ = [
    "CHECKPOINT",
    "PYTORCH_DEFAULT",
    "UNINITIALIZED",
    "InitEntry",
    "InitTracker",
    "Writer",
    "active_tracker",
    "mark_uninitialized",
    "materialize",
    "recorded_entries",
    "recorded_seed",
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

_NORM_STATS = ("running_mean", "running_var", "num_batches_tracked")  # what _NormBase resets

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
        seed: the keyed-init seed its writer ran under (None: the global RNG).
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
    seed: int | None = None

    @property
    def initialized(self) -> bool:
        """Whether something wrote it during initialisation (buffers count as initialised by
        their constructor unless their memory is uninitialised)."""
        if self.origin != NONE:
            return True
        return self.kind == "buffer" and self.writer != UNINITIALIZED


def _plain_version(t: torch.Tensor) -> int:
    try:
        return int(t._version)
    except RuntimeError:  # inference tensors have no version counter
        return -1


def _version(t: torch.Tensor) -> int:
    try:
        local = getattr(t, "_local_tensor", None)  # a DTensor: its shard is what is written
        if isinstance(local, torch.Tensor):
            return int(t._version) + int(local._version)
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


def _preorder(root: nn.Module) -> tuple[list[tuple[str, nn.Module]], dict[int, tuple[int, int]],
                                         bool]:
    """The modules of ``root`` in ``named_modules()`` order, each module's subtree as a range
    ``(start, stop)`` of that list, and whether some module is reachable twice (shared)."""
    order: list[tuple[str, nn.Module]] = []
    spans: dict[int, tuple[int, int]] = {}
    seen: set[int] = set()
    shared = False
    stack: list[tuple[str, nn.Module, Iterator[tuple[str, nn.Module | None]] | None]] = [
        ("", root, None)]
    while stack:
        path, m, children = stack[-1]
        if children is None:
            seen.add(id(m))
            spans[id(m)] = (len(order), -1)
            order.append((path, m))
            children = iter(m._modules.items())
            stack[-1] = (path, m, children)
        for name, child in children:
            if child is None:
                continue
            if id(child) in seen:
                shared = True
                continue
            stack.append((f"{path}.{name}" if path else name, child, None))
            break
        else:
            stack.pop()
            spans[id(m)] = (spans[id(m)][0], len(order))
    return order, spans, shared


class _Slot:
    """Where a tracked tensor lives: ``owner._parameters[attr]`` or ``owner._buffers[attr]``
    (``table``: that dict itself, so a tensor replaced in it during init is seen). ``dup``: a
    second owner of a shared tensor (listed once, under its first name)."""

    __slots__ = ("attr", "dup", "kind", "name", "owner", "table")

    def __init__(self, name: str, kind: str, owner: nn.Module, attr: str,
                 table: dict[str, Any], dup: bool = False) -> None:
        self.name = name
        self.kind = kind
        self.owner = owner
        self.attr = attr
        self.table = table
        self.dup = dup

    def tensor(self) -> torch.Tensor | None:
        return self.table.get(self.attr)


class InitTracker:
    """Follows every write to a model's tensors during one initialisation run.

    Made by :func:`tracking`; initializers and ``BaseModule`` use it through
    :func:`active_tracker`. Users rarely need it directly.

    Args:
        root: the model being initialised.
        report: kept for compatibility: the tracker always records every tensor's writer
            (the report is truthful after ``report=False`` too); recording is lazy, so it
            costs the same either way.
        empty: the model's memory is uninitialised (``to_empty``): unwritten tensors are reset
            with their module's ``reset_parameters``/``reset_running_stats`` at the end.
        dry_run: a rehearsal on a meta-device model (``build_model``): checkpoints are not read.
        seed: keyed init (see :mod:`hydra_cnn.init.keyed`): random fills of the model's
            tensors depend on this seed and each tensor's name, not on the global RNG.

    Attributes:
        transactional: snapshot what each writer will touch before it writes, so a failure
            later in the run (a checkpoint that cannot be read) restores the model
            (:func:`tracking` does it); set when the run loads a checkpoint.
    """

    def __init__(
        self, root: nn.Module, *, report: bool = True, empty: bool = False, dry_run: bool = False,
        seed: int | None = None,
    ) -> None:
        self.root = root
        self.report_enabled = report
        self.empty = empty
        self.dry_run = dry_run
        self.seed = seed
        self.transactional = False
        self.mode_active = False
        self.plans: Any = None  # checked plans to reuse (base_module.InitPlans), if any
        self._saved: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._paths: dict[int, str] = {}
        self._names: dict[int, str] = {}  # id(tensor) -> canonical name
        self._seen: dict[str, tuple[int, int]] = {}  # name -> (id(tensor), version)
        self._origin: dict[str, str] = {}  # name -> origin of its last write
        self._writer: dict[str, tuple[Writer, int | None]] = {}  # name -> last writer, its seed
        self._stack: list[Writer] = []
        # guards of running default inits: name -> (tensor, value to keep)
        self._guards: list[dict[str, tuple[torch.Tensor, torch.Tensor]]] = []
        self._initial = UNINITIALIZED if empty else PYTORCH_DEFAULT
        self._previous: dict[str, InitEntry] = {}
        self.has_dtensor = False
        stored = None if empty else root.__dict__.get(_RECORD_ATTR)
        earlier = stored.pending() if isinstance(stored, _Record) else None
        previous = stored.entries() if isinstance(stored, _Record) and earlier is None else None
        order, self._spans, self._shared = _preorder(root)
        # a module's first path in named_modules(remove_duplicate=False) is its path in the
        # preorder, which visits a shared module's subtree once, at its first occurrence
        self._paths = {id(m): path for path, m in order}
        self._slots: list[_Slot] = []
        self._slot_start: list[int] = []  # module index -> first slot index
        names, seen, origins, slots = self._names, self._seen, self._origin, self._slots
        for path, m in order:
            self._slot_start.append(len(slots))
            for kind, table in (("parameter", m._parameters), ("buffer", m._buffers)):
                for n, t in table.items():
                    if t is None:
                        continue
                    if id(t) in names:  # a tensor shared by two modules is listed once
                        slots.append(_Slot(names[id(t)], kind, m, n, table, dup=True))
                        continue
                    name = f"{path}.{n}" if path else n
                    names[id(t)] = name
                    if hasattr(t, "_local_tensor"):
                        self.has_dtensor = True
                        seen[name] = (id(t), _version(t))
                    else:
                        seen[name] = (id(t), _plain_version(t))
                    origins[name] = NONE
                    slots.append(_Slot(name, kind, m, n, table))
        self._slot_start.append(len(slots))
        self._version = _version if self.has_dtensor else _plain_version
        if earlier is not None:  # continue an earlier run nobody read: take over its writers
            origin = self._origin
            self._previous = {n: e for n, e in earlier._previous.items() if n in origin}
            self._writer = {n: w for n, w in earlier._writer.items() if n in origin}
            for n, (w, _) in self._writer.items():
                origin[n] = w.origin
            for n, e in self._previous.items():
                if n not in self._writer:
                    origin[n] = e.origin
        elif previous is not None:  # continue the history of an earlier run
            for e in previous:
                if e.name in self._origin and e.origin != NONE:
                    self._origin[e.name] = e.origin
                    self._previous[e.name] = e

    # -- queries -------------------------------------------------------------------------------
    def path_of(self, module: nn.Module) -> str | None:
        """Dotted path of ``module`` in the root (``''`` for the root), None if outside it."""
        return self._paths.get(id(module))

    def name_of(self, t: torch.Tensor) -> str | None:
        """The qualified name of a tensor of the model (None for any other tensor)."""
        return self._names.get(id(t))

    def origin(self, name: str) -> str:
        """The origin of the last write to ``name`` (``'none'`` if nothing wrote it)."""
        return self._origin.get(name, NONE)

    def tensor_owners(self) -> Iterator[tuple[str, str, nn.Module]]:
        """``(name, kind, owning module)`` of every tensor of the model, once each."""
        for slot in self._slots:
            if not slot.dup:
                yield slot.name, slot.kind, slot.owner

    def written(self, name: str) -> bool:
        """Whether ``name`` has been written by anything so far."""
        return self._origin.get(name, NONE) != NONE

    def _iter(self, module: nn.Module) -> Iterator[tuple[str, str, torch.Tensor]]:
        span = None if self._shared else self._spans.get(id(module))
        if span is not None and span[1] >= 0:
            names = self._names
            for slot in self._slots[self._slot_start[span[0]]:self._slot_start[span[1]]]:
                t = slot.table.get(slot.attr)
                if t is None:
                    continue
                if not slot.dup and id(t) not in names:  # replaced during init
                    names[id(t)] = slot.name
                yield slot.name, slot.kind, t
            return
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

    # -- failure safety ------------------------------------------------------------------------
    def save(self, tensors: Iterable[torch.Tensor]) -> None:
        """Snapshot ``tensors`` (those not saved yet in this run) for :meth:`rollback`."""
        for t in tensors:
            if id(t) not in self._saved and not t.is_meta:
                self._saved[id(t)] = (t, t.detach().clone())

    def rollback(self) -> None:
        """Put every snapshot back (the run failed)."""
        with torch.no_grad():
            for t, copy in self._saved.values():
                t.copy_(copy)
        self._saved.clear()

    # -- recording -----------------------------------------------------------------------------
    def sweep(self, module: nn.Module, writer: Writer | None,
              items: list[tuple[str, str, torch.Tensor]] | None = None) -> None:
        """Attribute every tensor of ``module`` changed since last seen to ``writer``.

        Inside :meth:`run_guarded`, a default writer's change to a guarded tensor is undone
        instead; a config's change to one becomes the value to keep. ``items``: ``module``'s
        tensors as :meth:`_iter` lists them, when the caller has just listed them.
        """
        seen, version = self._seen, self._version
        for name, _kind, t in self._iter(module) if items is None else items:
            state = (id(t), version(t))
            if seen.get(name) == state:
                continue
            if writer is not None and self._guards:
                guarded = [g[name] for g in self._guards if name in g and g[name][0] is t]
                if guarded and writer.origin in (DEFAULT, RESET):
                    with torch.no_grad():
                        t.copy_(guarded[-1][1])
                    seen[name] = (id(t), version(t))
                    continue
                with torch.no_grad():
                    for _, keep in guarded:
                        keep.copy_(t)
            seen[name] = state
            if writer is None:
                continue
            self._origin[name] = writer.origin
            self._writer[name] = (writer, self.seed)

    def writer_for(
        self, module: nn.Module, origin: str, name: str, args: dict[str, Any] | None = None,
        via: str = "",
    ) -> Writer:
        """A :class:`Writer` whose source is ``module``."""
        path = self.path_of(module)
        return Writer(origin, name, dict(args or {}), "" if path is None else path,
                      type(module).__name__, via)

    @contextlib.contextmanager
    def writing(self, module: nn.Module, writer: Writer,
                touched: list[torch.Tensor] | None = None) -> Iterator[None]:
        """A frame: writes to ``module``'s tensors inside it are attributed to ``writer``.

        ``touched``: the tensors the writer will write, when known (a transactional run
        snapshots those only; otherwise every tensor of ``module``).

        Changes since the last frame are first attributed to the enclosing frame's writer;
        at the top level (no enclosing frame) nothing runs between frames, so there is
        nothing to attribute and the walk is skipped.
        """
        if self._stack:
            self.sweep(module, self._stack[-1])
        if self.transactional:
            self.save(touched if touched is not None else (t for _, _, t in self._iter(module)))
        self._stack.append(writer)
        try:
            yield
        finally:
            self._stack.pop()
            self.sweep(module, writer)

    def run_guarded(self, module: nn.Module, fn: Any, writer: Writer,
                    kind: str | None = None) -> None:
        """Run ``fn()`` (a default init or a reset) in a frame for ``writer`` without letting
        it undo what a config, a checkpoint or a user's init wrote under ``module``: such
        tensors are copied first and restored if the default overwrote them. ``kind``
        (``'buffer'``, for ``reset_running_stats``): only tensors of that kind can change."""
        items = list(self._iter(module))  # one listing for the guard, the sweep and the save
        origin = self._origin
        guard = {
            name: (t, t.detach().clone()) for name, k, t in items
            if (kind is None or k == kind) and origin.get(name, NONE) in _PROTECTING
        }
        self.sweep(module, self._stack[-1] if self._stack else None, items)
        if self.transactional:
            self.save(t for _, _, t in items)
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
        stats = self._left_norm_stats() if self.dry_run else None
        if stats is not None:  # a rehearsal: what torch's own reset would write, without it
            for m, names in stats:
                writer = self.writer_for(m, RESET, "reset_running_stats")
                for name in names:
                    self._origin[name] = RESET
                    self._writer[name] = (writer, self.seed)
            return
        for _, m in self.root.named_modules():
            for kind, method in (("parameter", "reset_parameters"), ("buffer", "reset_running_stats")):
                if not any(k == kind and not self.written(self._names.get(id(t), ""))
                           for _, k, t in _direct_tensors(m)):
                    continue  # looked up only where something is left (a miss costs)
                fn = getattr(m, method, None)
                if callable(fn):
                    self.run_guarded(m, fn, self.writer_for(m, RESET, method),
                                     kind="buffer" if kind == "buffer" else None)
        left = [n for n, o in self._origin.items() if o == NONE]
        if left and not self.dry_run:
            shown = ", ".join(left[:8]) + (f", ... ({len(left)} in all)" if len(left) > 8 else "")
            warnings.warn(
                f"{type(self.root).__name__} was built with uninitialised memory (to_empty) and "
                f"nothing initialised {shown}: add them to an init config or give their module "
                "a reset_parameters() method.",
                stacklevel=4,
            )

    def _left_norm_stats(self) -> list[tuple[nn.Module, list[str]]] | None:
        """When all that nothing wrote are norm layers' running statistics that torch's own
        ``reset_running_stats`` writes: those layers with the names of the statistics left;
        otherwise None.

        A rehearsal (meta tensors, no values) then records the reset :meth:`finish` would run
        as the writer of those statistics instead of running it: the coverage it proves is the
        same, at a fraction of the cost.
        """
        out: list[tuple[nn.Module, list[str]]] = []
        written = self.written
        for _, m in self.root.named_modules():
            left = [(n, kind, self._names.get(id(t))) for n, kind, t in _direct_tensors(m)
                    if not written(self._names.get(id(t), ""))]
            if not left:
                continue
            stock = (isinstance(m, _NormBase) and m.track_running_stats
                     and type(m).reset_running_stats is _NormBase.reset_running_stats
                     and "reset_running_stats" not in m.__dict__
                     and all(m._buffers.get(s) is not None for s in _NORM_STATS))
            if not stock or any(kind != "buffer" or n not in _NORM_STATS or name is None
                                for n, kind, name in left):
                return None
            out.append((m, [name for _, _, name in left if name is not None]))
        return out

    def recorded(self) -> list[InitEntry]:
        """The entries of this run, in module order."""
        out: list[InitEntry] = []
        for slot in self._slots:
            if slot.dup:
                continue
            t = slot.tensor()
            shape = tuple(t.shape) if t is not None else ()
            dtype = str(t.dtype).replace("torch.", "") if t is not None else ""
            got = self._writer.get(slot.name)
            if got is not None:
                w, seed = got
                out.append(InitEntry(slot.name, slot.kind, shape, dtype, w.name, dict(w.args),
                                     w.source, w.source_type, w.via, w.origin, seed))
            elif slot.name in self._previous:
                out.append(dataclasses.replace(self._previous[slot.name]))
            else:
                out.append(InitEntry(slot.name, slot.kind, shape, dtype, self._initial))
        return out


def active_tracker() -> InitTracker | None:
    """The tracker of the initialisation running now, or None."""
    return _ACTIVE.get()


_SEED_ATTR = "_hydra_cnn_init_seed_"


@contextlib.contextmanager
def tracking(
    root: nn.Module, *, report: bool = True, dry_run: bool = False, seed: int | None = None,
    transactional: bool = False,
) -> Iterator[InitTracker]:
    """Track one initialisation run of ``root`` (reuses the running one when nested).

    At the end of the outermost run, unwritten tensors of a ``to_empty`` model are reset, and
    the entries are stored on ``root`` (:func:`recorded_entries` reads them back). With
    ``seed`` (or a model holding DTensors) random fills go through
    :class:`~hydra_cnn.init.keyed.KeyedFill`. A transactional run that fails puts back every
    tensor it wrote (and the ``is_init`` flags) before the error propagates.

    Args:
        root: the model.
        report: see :class:`InitTracker`.
        dry_run: a meta-device rehearsal.
        seed: the keyed-init seed (None: the global RNG). Nested in a running init, it applies
            to the nested call only.
        transactional: see :attr:`InitTracker.transactional`.
    """
    running = _ACTIVE.get()
    if running is not None:
        outer_seed = running.seed
        if seed is not None:
            running.seed = seed
        running.transactional = running.transactional or transactional
        try:
            with _keyed_mode(running):
                yield running
        finally:
            running.seed = outer_seed
        return
    tracker = InitTracker(root, report=report, empty=bool(getattr(root, _EMPTY_ATTR, False)),
                          dry_run=dry_run, seed=seed)
    tracker.transactional = transactional
    flags = _init_flags(root) if transactional else []
    token = _ACTIVE.set(tracker)
    try:
        with _keyed_mode(tracker):
            yield tracker
            tracker.finish()
    except BaseException:
        if tracker.transactional:
            tracker.rollback()
            for m, value in flags:
                m.__dict__["_is_init"] = value
        raise
    finally:
        _ACTIVE.reset(token)
        tracker._saved.clear()  # snapshots are only needed while the run can still fail
    root.__dict__[_EMPTY_ATTR] = False
    root.__dict__[_RECORD_ATTR] = _Record(tracker)
    root.__dict__[_SEED_ATTR] = seed


class _Record:
    """The entries of a finished run, built from its tracker when first read (a run that
    nobody reports on never builds them)."""

    def __init__(self, tracker: InitTracker) -> None:
        self._tracker: InitTracker | None = tracker
        self._entries: list[InitEntry] = []

    def pending(self) -> InitTracker | None:
        """The tracker, while its entries have not been built."""
        return self._tracker

    def entries(self) -> list[InitEntry]:
        if self._tracker is not None:
            self._entries = self._tracker.recorded()
            self._tracker = None
        return self._entries


def _init_flags(root: nn.Module) -> list[tuple[nn.Module, bool]]:
    return [(m, m.__dict__["_is_init"]) for m in root.modules() if "_is_init" in m.__dict__]


@contextlib.contextmanager
def _keyed_mode(tracker: InitTracker) -> Iterator[None]:
    """Route random fills through keyed (or whole-tensor, for DTensors) draws when needed."""
    if tracker.dry_run or tracker.mode_active or (tracker.seed is None and not tracker.has_dtensor):
        yield
        return
    from hydra_cnn.init.keyed import KeyedFill

    mode = KeyedFill(tracker)
    tracker.mode_active = True
    try:
        with mode:
            yield
    finally:
        tracker.mode_active = False
    if mode.unkeyed:
        shown = ", ".join(mode.unkeyed[:8])
        warnings.warn(f"keyed init (seed={tracker.seed}) cannot key these random fills, so they "
                      f"used the global RNG: {shown}", stacklevel=3)


def recorded_seed(module: nn.Module) -> int | None:
    """The keyed-init seed of the last run on ``module`` (None: the global RNG or no run)."""
    return module.__dict__.get(_SEED_ATTR)


def mark_uninitialized(module: nn.Module) -> None:
    """Record that ``module``'s memory is uninitialised (after ``to_empty``), so the next
    ``init_weights``/``initialize`` resets what no config writes. ``BaseModule.to_empty``
    calls it."""
    module.__dict__[_EMPTY_ATTR] = True
    module.__dict__[_RECORD_ATTR] = None
    module.__dict__[_SEED_ATTR] = None


def recorded_entries(module: nn.Module) -> list[InitEntry]:
    """The entries of the last ``init_weights``/``initialize`` run on ``module``.

    Before any run, every tensor is listed with writer :data:`PYTORCH_DEFAULT`
    (:data:`UNINITIALIZED` after ``to_empty``).
    """
    stored = module.__dict__.get(_RECORD_ATTR)
    if isinstance(stored, _Record):
        return list(stored.entries())
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


def materialize(model: nn.Module, device: torch.device) -> None:
    """Give every meta-device parameter and buffer of ``model`` uninitialised memory on
    ``device`` (what ``nn.Module.to_empty`` does, without its ``_apply`` machinery, whose
    first use in a process imports torch's symbolic-shapes stack). A model holding DTensors
    (sharded) or tensor subclasses goes through ``nn.Module.to_empty``."""
    modules = list(model.modules())
    tables = [table for m in modules for table in (m._parameters, m._buffers) if table]
    plain = (torch.Tensor, nn.Parameter)
    if any(type(t) not in plain for table in tables for t in table.values() if t is not None) or any(
            type(m).__name__.startswith("FSDP") for m in modules):
        nn.Module.to_empty(model, device=device)
        return
    done: dict[int, torch.Tensor] = {}  # a tensor shared by two modules stays shared
    with torch.no_grad():
        for table in tables:
            for k, t in table.items():
                if t is None:
                    continue
                fresh = done.get(id(t))
                if fresh is None:
                    fresh = torch.empty(t.shape, dtype=t.dtype, device=device)
                    if isinstance(t, nn.Parameter):
                        fresh = nn.Parameter(fresh, requires_grad=t.requires_grad)
                    done[id(t)] = fresh
                table[k] = fresh  # type: ignore[assignment]
