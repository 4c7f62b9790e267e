"""Checkpoints of sharded models (FSDP2 ``fully_shard`` / DTensor) and DCP directories.

:func:`~hydra_cnn.checkpoint.load_checkpoint` and :func:`~hydra_cnn.checkpoint.save_checkpoint`
come here when the model holds DTensors or the path is a torch.distributed.checkpoint (DCP)
directory; every rank of the default process group must make the same call:

- **A full checkpoint into a sharded model.** Rank 0 alone reads (or downloads) the file
  (``torch.load(mmap=True)``), checks it against the model (keys, shapes, ``strict``) and sends
  its decision to every rank before anything is copied: a bad file or a strict mismatch raises
  the same error on every rank with every model unchanged. Then the tensors go out one at a
  time (a broadcast), and each rank copies its own slice into its local shard, so a rank holds
  its shard plus one full tensor at most; rank 0 hands each tensor's mapped file pages back to
  the kernel once sent.
- **A full checkpoint from a sharded model** (``save_checkpoint(model, 'x.pth')``): tensors are
  gathered one at a time to rank 0 (torch's ``get_model_state_dict(full_state_dict=True,
  cpu_offload=True)``), which writes the file atomically; an error there raises on every rank.
- **A DCP directory** (``save_checkpoint(model, 'dir', sharded=True)``): each rank writes its
  shards (and the optimizer's, when given); rank 0 adds ``provenance.json`` (world size,
  hydra_cnn and torch versions, ``meta``, the config). ``load_checkpoint(model, 'dir')`` loads it
  into a model sharded over any number of ranks or into a plain model (without a process group
  too); ``optimizer=`` restores the optimizer as well, for resuming.
"""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import itertools
import json
import logging
import os
import pickle
import secrets
import shutil
import sys
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra_cnn.checkpoint.dist import _dist, rank_local
from hydra_cnn.checkpoint.errors import CheckpointFormatError, StateDictError, StrictLoadError
from hydra_cnn.checkpoint.state_dict import (
    LoadReport,
    LoggerLike,
    _copy_problem,
    _shape_ok,
    _split_ignored,
    get_logger,
    unwrap_model,
)
from hydra_cnn.common import ConfigKeyError

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from torch import nn

__all__ = ["PROVENANCE_FILE", "is_dcp_checkpoint", "is_sharded", "read_provenance"]

logger = logging.getLogger("hydra_cnn.checkpoint")

#: The file a sharded save writes beside DCP's own files.
PROVENANCE_FILE = "provenance.json"
_MODEL_KEY = "model"
_OPTIM_KEY = "optimizer"


# -- what is sharded -------------------------------------------------------------------------
def is_sharded(model: nn.Module) -> bool:
    """Whether ``model`` holds DTensor parameters or buffers (``fully_shard``, tensor parallel).

    Args:
        model: the model (DataParallel/DDP wrappers are unwrapped).
    """
    mod = sys.modules.get("torch.distributed.tensor")
    if mod is None:  # nothing can be a DTensor before torch.distributed.tensor is imported
        return False
    dtensor = mod.DTensor
    module = unwrap_model(model)
    return any(isinstance(t, dtensor)
               for t in itertools.chain(module.parameters(), module.buffers()))


def is_dcp_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a torch.distributed.checkpoint directory (it holds ``.metadata``).

    Args:
        path: a local path.
    """
    p = os.path.expanduser(os.fspath(path))
    return os.path.isdir(p) and os.path.isfile(os.path.join(p, ".metadata"))


def read_provenance(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The provenance record a sharded save wrote into a DCP directory (``{}`` if none).

    Args:
        path: the directory.
    """
    record = Path(os.path.expanduser(os.fspath(path))) / PROVENANCE_FILE
    if not record.is_file():
        return {}
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as err:
        raise CheckpointFormatError(f"{record} is not a readable provenance record: "
                                    f"{type(err).__name__}: {err}") from err
    if not isinstance(data, dict):
        raise CheckpointFormatError(f"{record} holds a JSON {type(data).__name__}, not an object")
    return data


# -- one outcome for every rank --------------------------------------------------------------
def _world() -> tuple[Any, int, int]:
    dist = _dist()
    if dist is None:
        return None, 0, 1
    return dist, dist.get_rank(), dist.get_world_size()


def _pack_error(err: BaseException) -> tuple[str, bytes]:
    """The error as bytes another rank can rebuild (same class, message and attributes)."""
    text = f"{type(err).__name__}: {err}"
    try:
        blob = pickle.dumps((type(err), err.args, dict(vars(err))))
        _unpack_error(text, blob)  # the others will rebuild it: check here that they can
    except Exception:
        blob = pickle.dumps((RuntimeError, (text,), {}))
    return text, blob


def _unpack_error(text: str, blob: bytes) -> BaseException:
    cls, args, attrs = pickle.loads(blob)
    try:
        err = cls(*args)
    except Exception:
        err = cls.__new__(cls)
        err.args = args
    err.__dict__.update(attrs)
    return err


def _noted(err: BaseException, rank: int) -> BaseException:
    add_note = getattr(err, "add_note", None)
    if add_note is not None:
        add_note(f"(raised on rank {rank}; every rank raises this error, no model was changed)")
    return err


def _agree(err: BaseException | None, what: str) -> None:
    """Raise on every rank when any rank failed: the lowest failing rank's error, everywhere.

    Every rank calls it at the same point; it is the only collective of a failed call, so no
    rank is left waiting. Without a process group it raises ``err`` when given.
    """
    dist, rank, world = _world()
    if dist is None or world == 1:
        if err is not None:
            raise err
        return
    payload = None if err is None else _pack_error(err)
    gathered: list[Any] = [None] * world
    dist.all_gather_object(gathered, payload)
    failed = [(r, p) for r, p in enumerate(gathered) if p is not None]
    if not failed:
        return
    first, (text, blob) = failed[0]
    if first == rank and err is not None:
        raise err
    logger.debug("%s failed on rank %d: %s", what, first, text)
    raise _noted(_unpack_error(text, blob), first)


def _broadcast_outcome(value: Any, err: BaseException | None) -> Any:
    """Rank 0's result (or its error, raised on every rank); other ranks pass None."""
    dist, rank, world = _world()
    if dist is None or world == 1:
        if err is not None:
            raise err
        return value
    box: list[Any] = [("ok", value) if err is None else ("error", _pack_error(err))]
    if rank == 0 and err is not None:
        dist.broadcast_object_list(box, src=0)
        raise err
    dist.broadcast_object_list(box, src=0)
    kind, payload = box[0]
    if kind == "error":
        raise _noted(_unpack_error(*payload), 0)
    return payload


# -- a full checkpoint into a sharded model -------------------------------------------------
@dataclasses.dataclass
class _Plan:
    """What rank 0 decided: the tensors to send (key, shape, dtype), the report, extras."""

    tensors: list[tuple[str, tuple[int, ...], Any]]
    extra: dict[str, Any]
    report: LoadReport
    meta: dict[str, Any]
    call: tuple[Any, ...]
    model: list[tuple[str, tuple[int, ...]]] = dataclasses.field(default_factory=list)


def _local(t: Any) -> Any:
    to_local = getattr(t, "to_local", None)
    return to_local() if callable(to_local) and hasattr(t, "placements") else t


def _plan(module: nn.Module, targets: Mapping[str, Any], sd: Mapping[str, Any], strict: bool,
          source: str, call: tuple[Any, ...], meta: dict[str, Any]) -> _Plan:
    """Check ``sd`` against the model (global shapes) and decide what to copy; copy nothing."""
    import torch

    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    send: list[tuple[str, tuple[int, ...], Any]] = []
    extra: dict[str, Any] = {}
    for key, value in sd.items():
        target = targets.get(key)
        if key.rsplit(".", 1)[-1] == "_extra_state":
            if key in targets:
                extra[key] = value
            continue
        if not (isinstance(value, torch.Tensor) and isinstance(target, torch.Tensor)):
            continue
        if not _shape_ok(value, target):
            mismatched.append((key, tuple(value.shape), tuple(target.shape)))
            continue
        problem = _copy_problem(value, _local(target))
        if problem:
            raise StateDictError(f"cannot load {key!r} from the state dict of {source}: "
                                 f"{problem}. Nothing was copied")
        send.append((key, tuple(value.shape), value.dtype))
    copied = {k for k, _, _ in send} | set(extra)
    missing, ignored = _split_ignored(k for k in targets if k not in sd)
    report = LoadReport(
        loaded=[k for k in targets if k in copied], missing=missing,
        unexpected=[k for k in sd if k not in targets], mismatched=mismatched,
        ignored=ignored, total=len(targets), source=source,
    )
    if strict and not report.ok:
        refused = dataclasses.replace(report, loaded=[])
        raise StrictLoadError(
            f"Error(s) in loading state_dict for {type(module).__name__} (strict=True; nothing "
            f"was copied, the model is unchanged):\n" + "\n".join(refused.lines()[1:]),
            refused,
        )
    return _Plan(send, extra, report, meta, call, _signature(targets))


def _signature(targets: Mapping[str, Any]) -> list[tuple[str, tuple[int, ...]]]:
    """The model's keys and global shapes, to compare between ranks."""
    return [(k, tuple(getattr(v, "shape", ()))) for k, v in targets.items()]


def _check_here(plan: _Plan, targets: Mapping[str, Any], call: tuple[Any, ...]) -> None:
    """On every rank: the same call, the same model, a materialised one."""
    if call != plan.call:
        raise ValueError(f"load_checkpoint was called with other arguments here than on rank 0 "
                         f"(here {call!r}, rank 0 {plan.call!r}); every rank must make the "
                         f"same call")
    mine = _signature(targets)
    if mine != plan.model:
        theirs = dict(plan.model)
        diff = [f"{k} {s}" for k, s in mine if theirs.get(k) != s][:3] or [
            f"{k} (missing here)" for k in theirs if k not in dict(mine)][:3]
        raise ValueError(f"the model differs between ranks: this rank's state dict differs from "
                         f"rank 0's at {', '.join(diff)}; build the same model on every rank")
    for key, shape, _ in plan.tensors:
        target = targets.get(key)
        if target is None or not (tuple(target.shape) == shape
                                  or (target.dim() == 0 and shape == (1,))):
            found = "no such key" if target is None else f"shape {tuple(target.shape)}"
            raise ValueError(f"the model differs between ranks: rank 0 has {key!r} with shape "
                             f"{shape}, this rank {found}; build the same model on every rank")
        if _local(target).device.type == "meta":
            raise ValueError(f"{key!r} of the model is on the meta device (no memory): "
                             f"materialise the model first, e.g. model.to_empty(device='cpu') "
                             f"after fully_shard, then load")


def _piece(full: torch.Tensor, target: Any) -> torch.Tensor:
    """The part of ``full`` that this rank holds of ``target`` (a view where possible)."""
    if not hasattr(target, "placements"):
        return full
    from torch.distributed.tensor import Replicate, Shard, distribute_tensor

    local = target.to_local()
    mesh = target.device_mesh
    coord = mesh.get_coordinate()
    view = full
    plain = coord is not None
    for dim, placement in enumerate(target.placements):
        if not plain:
            break
        if type(placement) is Shard:
            d = placement.dim
            chunks = view.chunk(mesh.size(dim), dim=d)
            c = coord[dim]
            view = chunks[c] if c < len(chunks) else view.narrow(d, view.size(d), 0)
        elif not isinstance(placement, Replicate):
            plain = False
    if plain and tuple(view.shape) == tuple(local.shape):
        return view
    # other placements (strided shards of FSDP + TP, ...): torch slices it, no communication
    return distribute_tensor(full, mesh, target.placements, src_data_rank=None).to_local()


def _file_maps() -> list[tuple[int, int]]:
    """Address ranges of this process's file-backed memory maps (Linux; else none)."""
    if not sys.platform.startswith("linux"):
        return []
    ranges = []
    try:
        with open("/proc/self/maps", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                parts = line.split(maxsplit=5)
                if len(parts) == 6 and parts[4] != "0" and parts[5].startswith("/"):
                    lo, hi = parts[0].split("-")
                    ranges.append((int(lo, 16), int(hi, 16)))
    except OSError:
        return []
    return ranges


def _release_pages(t: torch.Tensor, maps: list[tuple[int, int]]) -> None:
    """Drop the resident pages of a tensor read through mmap (they are read again on use).

    Only for a tensor lying wholly in a file-backed mapping (``torch.load(mmap=True)``): its
    unmodified pages are the file's, so the kernel can drop and re-read them; anonymous memory
    is never touched.
    """
    if not maps or t.device.type != "cpu":
        return
    start = t.data_ptr()
    end = start + t.numel() * t.element_size()
    for lo, hi in maps:
        if lo <= start and end <= hi:
            page = os.sysconf("SC_PAGE_SIZE")
            a = max(lo, start - start % page)
            b = min(hi, end + (-end) % page)
            with contextlib.suppress(Exception):
                libc = ctypes.CDLL(None, use_errno=True)
                libc.madvise(ctypes.c_void_p(a), ctypes.c_size_t(b - a), 4)  # MADV_DONTNEED
            return


def _comm_device(target: Any) -> Any:
    import torch

    dist, _, _ = _world()
    device = _local(target).device
    if dist is not None and device.type != "cpu" and "nccl" in str(dist.get_backend()):
        return device
    return torch.device("cpu")


def _bump(target: Any) -> None:
    """Count the write on the DTensor itself (its local tensor's counter moved)."""
    import torch

    inc = getattr(torch.autograd.graph, "increment_version", None)
    if inc is not None and hasattr(target, "placements"):
        with contextlib.suppress(Exception):
            inc(target)


def _copy_into(target: Any, full: torch.Tensor) -> None:
    local = _local(target)
    piece = _piece(full, target)
    if tuple(piece.shape) != tuple(local.shape):  # a (1,) tensor for a 0-d parameter
        piece = piece.reshape(local.shape)
    local.copy_(piece)
    _bump(target)


def _set_extra(module: nn.Module, key: str, value: Any) -> None:
    owner = key[: -len("_extra_state")].rstrip(".")
    (module.get_submodule(owner) if owner else module).set_extra_state(value)


def _stream(module: nn.Module, targets: Mapping[str, Any], plan: _Plan,
            sd: Mapping[str, Any] | None) -> None:
    """Send each tensor from rank 0 and copy every rank's part of it (one at a time)."""
    import torch

    dist, rank, world = _world()
    maps = _file_maps() if rank == 0 else []
    with torch.no_grad():
        for key, shape, dtype in plan.tensors:
            target = targets[key]
            device = _comm_device(target)
            if rank == 0:
                assert sd is not None
                source = sd[key].detach()
                full = source if source.device == device and source.is_contiguous() else (
                    source.to(device).contiguous())
            else:
                source = None
                full = torch.empty(shape, dtype=dtype, device=device)
            if dist is not None and world > 1:
                dist.broadcast(full, src=0)
            _copy_into(target, full)
            del full
            if source is not None:
                _release_pages(source, maps)
        for key, value in plan.extra.items():
            _set_extra(module, key, value)


def load_full_into_sharded(
    model: nn.Module,
    source: str,
    read: Callable[[], tuple[Any, Mapping[str, Any]]],
    *,
    strict: bool,
    logger: LoggerLike,
    call: tuple[Any, ...],
) -> Any:
    """Load a full checkpoint into a sharded model (see the module docstring).

    Args:
        model: the sharded model (the same on every rank).
        source: the checkpoint's name, for messages.
        read: on rank 0, returns ``(checkpoint, state dict with final keys)``.
        strict: refuse any missing, unexpected or mismatched key (nothing copied).
        logger: where the report goes.
        call: the call's arguments; every rank must pass the same.

    Returns:
        The checkpoint on rank 0; on the other ranks ``{'meta': ...}`` (when it has one).
    """
    log = get_logger(logger)  # a bad logger argument fails here, on every rank alike
    module = unwrap_model(model)
    targets = module.state_dict(keep_vars=True)
    _, rank, _ = _world()
    ckpt: Any = None
    sd: Mapping[str, Any] | None = None
    plan: _Plan | None = None
    error: BaseException | None = None
    if rank == 0:
        try:
            with rank_local():
                ckpt, sd = read()
            meta = ckpt.get("meta") if isinstance(ckpt, Mapping) else None
            plan = _plan(module, targets, sd, strict, source, call,
                         {"meta": meta} if meta is not None else {})
        except Exception as err:
            error = err
    plan = _broadcast_outcome(plan, error)
    assert plan is not None
    error = None
    try:
        _check_here(plan, targets, call)
    except Exception as err:
        error = err
    _agree(error, f"loading {source}")
    _stream(module, targets, plan, sd)
    if log is not None:
        log.log(logging.INFO if plan.report.ok else logging.WARNING, "%s", plan.report)
    return ckpt if rank == 0 else dict(plan.meta)


def load_state_dict_into_sharded(module: nn.Module, state_dict: Mapping[str, Any],
                                 strict: bool, source: str | None) -> LoadReport:
    """Every rank holds the full ``state_dict``: copy each rank's part (no communication
    but the agreement on errors)."""
    targets = module.state_dict(keep_vars=True)
    plan: _Plan | None = None
    error: BaseException | None = None
    try:
        plan = _plan(module, targets, state_dict, strict, source or "the state dict", (), {})
        _check_here(plan, targets, ())
    except Exception as err:
        error = err
    _agree(error, "load_state_dict")
    assert plan is not None
    import torch

    with torch.no_grad():
        for key, _, _ in plan.tensors:
            _copy_into(targets[key], state_dict[key].detach().to(_local(targets[key]).device))
        for key, value in plan.extra.items():
            _set_extra(module, key, value)
    return plan.report


# -- a full checkpoint from a sharded model --------------------------------------------------
def full_state_dicts(model: nn.Module, optimizer: Any) -> tuple[OrderedDict[str, Any], Any]:
    """Gather the full model (and optimizer) state to rank 0, one tensor at a time.

    Returns ``(state dict, optimizer state or None)``; on other ranks the state dict is empty.
    """
    from torch.distributed.checkpoint.state_dict import (
        StateDictOptions,
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    module = unwrap_model(model)
    options = StateDictOptions(full_state_dict=True, cpu_offload=True)
    sd: OrderedDict[str, Any] = OrderedDict(get_model_state_dict(module, options=options))
    metadata = getattr(module.state_dict(), "_metadata", None)  # module versions, for loading
    if metadata is not None:
        sd._metadata = metadata  # type: ignore[attr-defined]
    optim: Any = None
    if optimizer is not None:
        optimizers = _optimizers(optimizer)
        optim = {name: get_optimizer_state_dict(module, o, options=options)
                 for name, o in optimizers.items()}
        if not isinstance(optimizer, Mapping):
            optim = optim[""]
    return sd, optim


def run_on_rank0(fn: Callable[[], None], what: str) -> None:
    """Run ``fn`` on rank 0 only; its error, if any, raises on every rank."""
    _, rank, _ = _world()
    error: BaseException | None = None
    if rank == 0:
        try:
            fn()
        except Exception as err:
            error = err
    _agree(error, what)


def _optimizers(optimizer: Any) -> dict[str, Any]:
    import torch

    if isinstance(optimizer, torch.optim.Optimizer):
        return {"": optimizer}
    if isinstance(optimizer, Mapping):
        for key, optim in optimizer.items():
            if not isinstance(optim, torch.optim.Optimizer):
                raise TypeError(f"optimizer[{key!r}] is a {type(optim).__name__}, not a "
                                f"torch.optim.Optimizer")
        return {str(k): v for k, v in optimizer.items()}
    raise TypeError(f"optimizer must be None, an Optimizer or a dict of them, got "
                    f"{type(optimizer).__name__}")


# -- DCP directories -------------------------------------------------------------------------
def _plain_config(config: Any) -> Any:
    if config is None:
        return None
    with contextlib.suppress(ImportError):
        from omegaconf import DictConfig, ListConfig, OmegaConf

        if isinstance(config, (DictConfig, ListConfig)):
            return OmegaConf.to_container(config, resolve=True)
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return config


@contextlib.contextmanager
def _quiet_no_dist() -> Iterator[None]:
    """Without a process group DCP warns that it works in one process: that is the intent."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="torch.distributed is disabled",
                                category=UserWarning)
        yield


def _replace_dir(tmp: Path, path: Path, token: str) -> None:
    """Move the written directory ``tmp`` to ``path``, replacing an older one there."""
    old = path.parent / f".{path.name}.{token}.old"
    if path.exists():
        os.rename(path, old)
    try:
        os.rename(tmp, path)
    except OSError:
        if old.exists():
            os.rename(old, path)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _check_target_dir(path: Path) -> None:
    if path.is_file() or path.is_symlink():
        raise FileExistsError(f"{path} is a file; a sharded save writes a directory there: "
                              f"choose another path or remove it")
    if path.is_dir() and any(path.iterdir()) and not is_dcp_checkpoint(path):
        raise FileExistsError(f"{path} is a directory that is not a sharded checkpoint (no "
                              f".metadata); refusing to replace it: choose another path")


def save_sharded(model: nn.Module, path: Path, optimizer: Any, meta: dict[str, Any],
                 config: Any) -> None:
    """Write a DCP directory: every rank its shards, rank 0 the provenance record."""
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        get_model_state_dict,
        get_optimizer_state_dict,
    )

    from hydra_cnn.common import __version__

    dist, rank, world = _world()
    module = unwrap_model(model)
    error: BaseException | None = None
    token = ""
    try:
        optimizers = _optimizers(optimizer) if optimizer is not None else {}
        if rank == 0:
            _check_target_dir(path)
            token = f"{os.getpid()}.{secrets.token_hex(4)}"
            path.parent.mkdir(parents=True, exist_ok=True)
    except Exception as err:
        error = err
    _agree(error, f"saving {path}")
    token = _broadcast_outcome(token, None)
    tmp = path.parent / f".{path.name}.{token}.tmp"
    state: dict[str, Any] = {_MODEL_KEY: get_model_state_dict(module)}
    if optimizers:
        osd = {name: get_optimizer_state_dict(module, o) for name, o in optimizers.items()}
        state[_OPTIM_KEY] = osd.get("", osd)
    try:
        with _quiet_no_dist():
            dcp.save(state, checkpoint_id=str(tmp), no_dist=dist is None)
    except BaseException:
        if rank == 0:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    record = {
        "format": "torch.distributed.checkpoint",
        "world_size": world,
        "hydra_cnn_version": __version__,
        "torch_version": torch.__version__,
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "entries": sorted(state),
        "optimizers": sorted(optimizers),
        "model": type(module).__name__,
        "meta": meta,
        "config": _plain_config(config),
    }

    def finish() -> None:
        try:
            (tmp / PROVENANCE_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n",
                                               encoding="utf-8")
            _replace_dir(tmp, path, token)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    run_on_rank0(finish, f"saving {path}")


def _entries(reader: Any) -> tuple[Any, dict[str, tuple[str, ...]]]:
    """The checkpoint's metadata and, for each stored key, its path of nested dict keys."""
    md = reader.read_metadata()
    planner = md.planner_data if isinstance(md.planner_data, Mapping) else {}
    paths = {k: tuple(str(p) for p in planner.get(k, (k,))) for k in md.state_dict_metadata}
    return md, paths


def _dcp_plan(module: nn.Module, targets: Mapping[str, Any], md: Any,
              paths: Mapping[str, tuple[str, ...]], name: str, strict: bool,
              rename: Callable[[Mapping[str, Any]], Mapping[str, Any]], state_dict_key: str | None,
              ) -> tuple[dict[str, str], LoadReport]:
    """Model key -> stored key for the tensors to load, and the report; nothing is read."""
    from torch.distributed.checkpoint.metadata import TensorStorageMetadata

    root = state_dict_key or _MODEL_KEY
    tops = sorted({p[0] for p in paths.values()})
    if root not in tops:
        raise ConfigKeyError(f"the sharded checkpoint {name} has no {root!r} entry; its entries: "
                             f"{', '.join(map(repr, tops))} (choose one with state_dict_key=)")
    stored: OrderedDict[str, str] = OrderedDict(
        (".".join(p[1:]), k) for k, p in paths.items() if p[0] == root and len(p) > 1)
    wanted = rename(stored)  # prefix= and revise_keys: final key -> stored key
    mismatched: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = []
    loads: dict[str, str] = {}
    for key, fqn in wanted.items():
        target = targets.get(key)
        entry = md.state_dict_metadata[fqn]
        if target is None or not isinstance(entry, TensorStorageMetadata):
            continue
        if tuple(entry.size) != tuple(target.shape):
            mismatched.append((key, tuple(entry.size), tuple(target.shape)))
            continue
        if _local(target).device.type == "meta":
            raise ValueError(f"{key!r} of the model is on the meta device (no memory): "
                             f"materialise the model first, e.g. model.to_empty(device='cpu')")
        loads[key] = fqn
    missing, ignored = _split_ignored(k for k in targets if k not in wanted)
    report = LoadReport(loaded=[k for k in targets if k in loads], missing=missing,
                        unexpected=[k for k in wanted if k not in targets],
                        mismatched=mismatched, ignored=ignored, total=len(targets), source=name)
    if strict and not report.ok:
        refused = dataclasses.replace(report, loaded=[])
        raise StrictLoadError(
            f"Error(s) in loading state_dict for {type(module).__name__} (strict=True; nothing "
            f"was copied, the model is unchanged):\n" + "\n".join(refused.lines()[1:]), refused)
    return loads, report


def load_dcp(
    model: nn.Module,
    path: str,
    name: str,
    *,
    strict: bool,
    logger: LoggerLike,
    rename: Callable[[Mapping[str, Any]], Mapping[str, Any]],
    state_dict_key: str | None,
    optimizer: Any = None,
) -> dict[str, Any]:
    """Load a DCP directory into a sharded or plain model (and optimizer); every rank calls it.

    Returns ``{'meta': ..., 'provenance': ...}`` from the directory's provenance record.
    """
    import torch
    import torch.distributed.checkpoint as dcp
    from torch.distributed.checkpoint.state_dict import (
        get_optimizer_state_dict,
        set_optimizer_state_dict,
    )

    log = get_logger(logger)
    dist, _, _ = _world()
    module = unwrap_model(model)
    targets = module.state_dict(keep_vars=True)
    error: BaseException | None = None
    request: dict[str, Any] = {}
    loads: dict[str, str] = {}
    report: LoadReport | None = None
    optim_state: dict[str, Any] = {}
    provenance: dict[str, Any] = {}
    optimizers: dict[str, Any] = {}
    try:
        provenance = read_provenance(path)
        md, paths = _entries(dcp.FileSystemReader(path))
        loads, report = _dcp_plan(module, targets, md, paths, name, strict, rename,
                                  state_dict_key)
        if optimizer is not None:
            optimizers = _optimizers(optimizer)
            if not any(p[0] == _OPTIM_KEY for p in paths.values()):
                raise ValueError(f"the sharded checkpoint {name} holds no optimizer state "
                                 f"(saved without optimizer=); load it without optimizer=")
    except Exception as err:
        error = err
    _agree(error, f"loading {name}")
    assert report is not None
    with torch.no_grad():
        request = {loads[k]: torch.empty_like(targets[k]) for k in loads}
    if optimizers:
        optim_state = {n: get_optimizer_state_dict(module, o) for n, o in optimizers.items()}
        request[_OPTIM_KEY] = optim_state.get("", optim_state)
    error = None
    try:
        with _quiet_no_dist():
            dcp.load(request, checkpoint_id=path, no_dist=dist is None)
    except Exception as err:
        error = err
    _agree(error, f"loading {name}")
    with torch.no_grad():
        for key, fqn in loads.items():
            _local(targets[key]).copy_(_local(request[fqn]))
            _bump(targets[key])
    for n, o in optimizers.items():
        set_optimizer_state_dict(module, o, optim_state[n])
    if log is not None:
        log.log(logging.INFO if report.ok else logging.WARNING, "%s", report)
    out: dict[str, Any] = {"provenance": provenance}
    if "meta" in provenance:
        out["meta"] = provenance["meta"]
    return out
