"""Run a download once per node under ``torch.distributed``, reporting failures to every rank.

Under an initialised process group with more than one rank, the lowest rank of each node (the
node is told by host name) runs the download first while the others wait in a collective; the
leader's outcome (success or the error text) is then gathered by every rank, so a failure raises
on every rank instead of leaving the others stuck at a barrier. The other ranks then find the
file in the cache. Every rank must call it (as with mmcv's barrier). Without torch.distributed
(or with one rank) the function simply runs.

Sharded loads and saves use the same idea: ``_agree`` gathers each rank's outcome at one point
and raises the lowest failing rank's error (same class, message and attributes) on every rank,
and ``_broadcast_outcome`` sends rank 0's result or error to all.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from hydra_cnn.checkpoint.errors import DownloadError

__all__ = ["get_dist_info", "leader_first", "rank_local"]

T = TypeVar("T")
logger = logging.getLogger("hydra_cnn.checkpoint")
_LOCAL = threading.local()


@contextlib.contextmanager
def rank_local() -> Iterator[None]:
    """Inside this block the helpers here act as in a single process (no collectives).

    For work that one rank does alone while the others wait elsewhere (rank 0 reading a
    checkpoint for a sharded load): a download inside it is not coordinated with other ranks.
    """
    depth = getattr(_LOCAL, "depth", 0)
    _LOCAL.depth = depth + 1
    try:
        yield
    finally:
        _LOCAL.depth = depth


def _dist() -> Any:
    # An initialised group needs torch.distributed imported already: do not import torch here.
    if getattr(_LOCAL, "depth", 0):
        return None
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def get_dist_info() -> tuple[int, int]:
    """Return ``(rank, world_size)``; ``(0, 1)`` without an initialised process group."""
    dist = _dist()
    if dist is None:
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def leader_first(fn: Callable[[], T], what: str) -> T:
    """Run ``fn`` on each node's leader rank first, then on the other ranks.

    Args:
        fn: the work (a download returning a path); it must be cheap on a second call.
        what: a short description for error messages, e.g. the URL.

    Raises:
        DownloadError: on non-leader ranks when the leader failed (naming its rank and error);
            the leader re-raises its own exception.
    """
    dist = _dist()
    if dist is None or dist.get_world_size() == 1:
        return fn()
    rank, world = dist.get_rank(), dist.get_world_size()
    hosts: list[Any] = [None] * world
    dist.all_gather_object(hosts, socket.gethostname())
    leader = min(i for i, h in enumerate(hosts) if h == hosts[rank])
    result: Any = None
    error: BaseException | None = None
    status: tuple[str, str] = ("ok", "")
    if rank == leader:
        try:
            result = fn()
        except Exception as err:
            error = err
            status = ("error", f"{type(err).__name__}: {err}")
    statuses: list[Any] = [None] * world
    dist.all_gather_object(statuses, status)  # the barrier, carrying each leader's outcome
    if rank == leader:
        if error is not None:
            raise error
        return result
    kind, message = statuses[leader]
    if kind != "ok":
        raise DownloadError(f"rank {leader} (the download leader of this node) failed to "
                            f"fetch {what}: {message}")
    return fn()


# -- one outcome for every rank (sharded loads and saves) -----------------------------------
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
