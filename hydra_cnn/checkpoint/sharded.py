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
import json
import logging
import os
import secrets
import shutil
import sys
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hydra_cnn.checkpoint.dist import (
    _agree,
    _broadcast_outcome,
    _world,
    rank_local,
)
from hydra_cnn.checkpoint.errors import CheckpointFormatError, StrictLoadError
from hydra_cnn.checkpoint.state_dict import (
    LoadReport,
    LoggerLike,
    _bump,
    _check_here,
    _copy_into,
    _local,
    _Plan,
    _plan,
    _resharded,
    _set_extra,
    _split_ignored,
    get_logger,
    is_sharded,
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


# -- what a directory is --------------------------------------------------------------------


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




# -- a full checkpoint into a sharded model -------------------------------------------------


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
    _resharded(module)  # the shards are what the next forward gathers
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
    _resharded(module)
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
