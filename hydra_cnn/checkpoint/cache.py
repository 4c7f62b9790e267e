"""The download cache on disk: file names, hash prefixes, temp files, locks and verification.

Correctness never depends on the lock: each download goes to a process-unique temp file in the
cache folder (``<name>.<host>.<pid>.<random>.partial``, opened with ``O_EXCL | O_NOFOLLOW``),
is verified, then renamed into place with ``os.replace``. The per-file lock in
``<cache>/.locks/`` (named by a hash of the file name) only saves duplicate downloads. Temp files
left by killed processes are swept by the next download.

File names are checked before anything is written: only letters, digits and ``._+=-``, not
starting with ``.``, no percent-encoded characters, no separators. A planted symlink at a cache
path is refused, so its target is never written.

A name that carries a SHA256 prefix (``resnet50-0676ba61.pth``) is cached under that name, as
torch.hub and mmcv do: its bytes identify it. A name without one (``latest.pth``) is cached
under a name that includes a hash of the URL (:func:`cache_name`), so two URLs that end in the
same segment never share a file.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

__all__ = [
    "HASH_RE",
    "cache_lock",
    "cache_name",
    "check_cache_name",
    "check_not_symlink",
    "file_name_from_url",
    "hash_prefix",
    "public_url",
    "sha256_file",
    "sweep_stale_partials",
    "temp_path",
    "verify_file",
]

logger = logging.getLogger("hydra_cnn.checkpoint")

#: The SHA256 prefix convention: ``name-<8 to 64 lowercase hex>.<ext>``, anchored at the end.
HASH_RE = re.compile(r"-(?P<hash>[0-9a-f]{8,64})\.[A-Za-z0-9]+$")
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_+=-][A-Za-z0-9._+=-]*$")
_PARTIAL_RE = re.compile(
    r"^(?P<name>.+)\.(?P<host>[0-9a-f]{8})\.(?P<pid>\d+)\.(?P<rand>[0-9a-f]{8})\.partial$"
)
#: Temp files of other hosts (or of live pids reused) older than this are swept (seconds).
STALE_PARTIAL_AGE = 24 * 3600.0
_CHUNK = 1 << 20

# path -> ((size, mtime_ns, inode, device), sha256 hex): files already hashed in this process.
_verified: dict[str, tuple[tuple[int, int, int, int], str]] = {}


def hash_prefix(name: str) -> str | None:
    """Return the SHA256 prefix a file name carries (``resnet50-0676ba61.pth`` -> ``0676ba61``).

    Args:
        name: a file name. Only ``-<8 to 64 lowercase hex>.<ext>`` at the very end counts; an
            empty, short or uppercase match is None (never treated as verified).
    """
    m = HASH_RE.search(name)
    return m.group("hash") if m else None


def check_cache_name(name: str) -> str:
    """Return ``name`` if it is safe as a file name inside the cache, else raise ``ValueError``.

    Args:
        name: the file name. Refused: empty names, ``.``/``..``, names starting with ``.`` or
            ending in ``.partial``/``.tmp``/``.lock``, separators, NUL, percent-encoded
            characters, or any character outside ``[A-Za-z0-9._+=-]``.
    """
    reason = None
    if not name:
        reason = "it is empty"
    elif name in (".", "..") or ".." in name.split("/"):
        reason = "it is a '..' path segment"
    elif "/" in name or "\\" in name or os.path.isabs(name):
        reason = "it contains a path separator or is an absolute path"
    elif "\x00" in name:
        reason = "it contains a NUL byte"
    elif "%" in name:
        reason = "it contains percent-encoded characters (possibly an encoded separator)"
    elif name.startswith("."):
        reason = "it starts with '.'"
    elif name.endswith((".partial", ".tmp", ".lock")):
        reason = "it ends like a temp or lock file (.partial, .tmp, .lock)"
    elif len(name) > 200:
        reason = "it is longer than 200 characters"
    elif not _SAFE_NAME.match(name):
        reason = "it contains characters other than letters, digits and ._+=-"
    if reason:
        raise ValueError(
            f"refusing cache file name {name!r}: {reason}. A cache name is a plain file name of "
            f"letters, digits and ._+=- that does not start with '.'"
        )
    return name


def file_name_from_url(url: str) -> str:
    """Return the cache file name of a URL: the last segment of its path, checked for safety.

    Args:
        url: an http(s) URL. Query and fragment are ignored; ``..``, encoded separators and
            other unsafe names raise ``ValueError`` before anything is written.
    """
    path = urlsplit(url).path
    base = path.rsplit("/", 1)[-1]
    if not base:
        raise ValueError(f"cannot take a file name from {url!r}: its path ends with '/'")
    try:
        return check_cache_name(base)
    except ValueError as err:
        raise ValueError(f"{err} (from the URL {url})") from None


def public_url(url: str) -> str:
    """Return ``url`` as the cache records it: no credentials, no fragment, lowercase host.

    Args:
        url: an http(s) URL.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def cache_name(name: str, url: str) -> str:
    """Return the file name ``name`` (from ``url``) has in the cache.

    A name with a SHA256 prefix is kept as it is. Any other name gets a key of the URL before
    its extension (``latest.pth`` -> ``latest.u1f3a9c0d2b4e6f80.pth``), so each URL has its own
    file; the key (``u`` + 16 hex) never reads as a hash prefix.

    Args:
        name: a checked cache file name.
        url: the URL it comes from (credentials and fragment do not count).
    """
    if hash_prefix(name) is not None:
        return name
    key = "u" + hashlib.sha256(public_url(url).encode()).hexdigest()[:16]
    stem, ext = os.path.splitext(name)
    if not stem:  # '.pth' cannot happen (names never start with '.'), but be safe
        stem, ext = name, ""
    stem = stem[: 200 - len(key) - len(ext) - 1]
    return check_cache_name(f"{stem}.{key}{ext}")


def check_not_symlink(path: Path) -> None:
    """Raise ``ValueError`` if ``path`` is a symlink (a planted link could redirect a write).

    Args:
        path: a cache path (it need not exist).
    """
    if os.path.islink(path):
        raise ValueError(
            f"refusing to use {path}: it is a symlink (to {os.readlink(path)!r}); the cache "
            f"never writes through symlinks. Remove it if you put it there on purpose"
        )


def sha256_file(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA256 of a file, read in 1 MiB chunks.

    Args:
        path: the file.
    """
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _stamp(st: os.stat_result) -> tuple[int, int, int, int]:
    return (st.st_size, st.st_mtime_ns, st.st_ino, st.st_dev)


def verify_file(path: Path, prefix: str) -> tuple[bool, str]:
    """Check that a file's SHA256 starts with ``prefix``; return ``(ok, hex digest)``.

    A file already hashed in this process with the same size, mtime and inode is not re-read.

    Args:
        path: the file.
        prefix: the lowercase hex prefix its name carries.
    """
    st = os.stat(path)
    key = str(path)
    hit = _verified.get(key)
    if hit is not None and hit[0] == _stamp(st):
        digest = hit[1]
    else:
        digest = sha256_file(path)
        _verified[key] = (_stamp(st), digest)
    return digest.startswith(prefix), digest


def remember_digest(path: Path, digest: str) -> None:
    """Record the digest of a file this process just wrote, so the next use skips re-hashing.

    Args:
        path: the file.
        digest: its hex SHA256.
    """
    with contextlib.suppress(OSError):
        _verified[str(path)] = (_stamp(os.stat(path)), digest)


def _host_tag() -> str:
    return hashlib.sha256(socket.gethostname().encode()).hexdigest()[:8]


def temp_path(cache_dir: Path, name: str) -> Path:
    """Return a process-unique temp file path for ``name`` inside ``cache_dir``.

    Args:
        cache_dir: the cache folder.
        name: the final file name; the temp name adds host, pid and a random part.
    """
    return cache_dir / f"{name}.{_host_tag()}.{os.getpid()}.{secrets.token_hex(4)}.partial"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return True


def sweep_stale_partials(cache_dir: Path, max_age: float = STALE_PARTIAL_AGE) -> list[Path]:
    """Delete temp files left by dead processes; return the paths removed.

    A temp file of this host whose process is gone is removed at once; others (another host's,
    or a live pid that may be a reused one) once older than ``max_age`` seconds.

    Args:
        cache_dir: the cache folder.
        max_age: age in seconds after which any temp file is stale; default 24 h.
    """
    removed: list[Path] = []
    host = _host_tag()
    now = time.time()
    try:
        entries = list(os.scandir(cache_dir))
    except OSError:
        return removed
    for entry in entries:
        m = _PARTIAL_RE.match(entry.name)
        if not m:
            continue
        try:
            age = now - entry.stat(follow_symlinks=False).st_mtime
            dead = m.group("host") == host and not _pid_alive(int(m.group("pid")))
            if dead or age > max_age:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
                logger.info("removed a stale partial download: %s", entry.path)
        except OSError as err:  # another process removed it, or no permission: not ours to fix
            logger.debug("could not sweep %s: %s", entry.path, err)
    return removed


@contextlib.contextmanager
def cache_lock(cache_dir: Path, name: str, timeout: float | None) -> Iterator[bool]:
    """Hold the per-file download lock while the block runs; yield whether it is held.

    The lock lives in ``cache_dir/.locks/<sha256(name)[:32]>.lock``; its holder writes who it
    is (pid, host, file, since when) to ``<same>.owner`` beside it. A process that has to wait
    logs a warning naming that holder, then a line every 10 s. When the lock cannot be taken
    (read-only folder, a file system without locks, a timeout, or a holder recorded on this
    host whose process is gone) the block still runs, unlocked: correctness comes from
    process-unique temp files and the atomic rename.

    Args:
        cache_dir: the cache folder (it must exist).
        name: the cached file's name.
        timeout: seconds to wait for another process's download; None waits without limit.
    """
    locks = cache_dir / ".locks"
    check_not_symlink(locks)
    path = locks / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")
    owner = path.with_suffix(".owner")
    lock = None
    try:
        locks.mkdir(exist_ok=True)
        check_not_symlink(path)
        check_not_symlink(owner)
        import filelock

        lock = filelock.FileLock(str(path), timeout=-1 if timeout is None else 0)
        _acquire(lock, path, owner, name, timeout)
        _write_owner(owner, name)
    except ValueError:
        raise
    except Exception as err:  # no lock: still correct, maybe a duplicate download
        logger.warning("could not take the download lock %s (%s); continuing without it",
                       path, err)
        lock = None
    try:
        yield lock is not None
    finally:
        if lock is not None:
            with contextlib.suppress(OSError):
                os.unlink(owner)
            with contextlib.suppress(Exception):
                lock.release()


class _StaleLockError(RuntimeError):
    """The download lock is held, but the holder it records is a dead process of this host."""


def _write_owner(owner: Path, name: str) -> None:
    """Record this process as the lock's holder (best effort, atomic)."""
    import json

    data = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "file": name,
                       "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
    tmp = owner.with_name(f".{owner.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data)
        os.replace(tmp, owner)
    except OSError as err:
        logger.debug("could not record the lock holder in %s: %s", owner, err)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _read_owner(owner: Path) -> dict[str, object] | None:
    import json

    try:
        if owner.is_symlink():
            return None
        data = json.loads(owner.read_text(encoding="utf-8")[:4096])
    except (OSError, ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def _holder(owner: Path) -> tuple[str, bool]:
    """(who holds the lock, for messages; whether that holder is a dead process of this host)."""
    data = _read_owner(owner)
    if data is None:
        return "another process (it recorded no pid)", False
    pid, host = data.get("pid"), data.get("host")
    since = data.get("since")
    who = f"pid {pid} on host {host}" + (f" (holding it since {since})" if since else "")
    dead = (isinstance(pid, int) and not isinstance(pid, bool) and pid > 0
            and host == socket.gethostname() and not _pid_alive(pid))
    return who, dead


def _acquire(lock: object, path: Path, owner: Path, name: str, timeout: float | None) -> None:
    import filelock

    assert isinstance(lock, filelock.BaseFileLock)
    start = time.monotonic()
    step = 1.0  # the first wait is short, so the user hears at once whom they wait for
    told = False
    while True:
        wait = step if timeout is None else min(step, max(0.0, timeout - (time.monotonic() - start)))
        try:
            lock.acquire(timeout=wait)
            return
        except filelock.Timeout:
            waited = time.monotonic() - start
            who, dead = _holder(owner)
            if dead:
                raise _StaleLockError(
                    f"the lock's recorded holder, {who}, is no longer running (a stale lock)"
                ) from None
            if timeout is not None and waited >= timeout:
                raise TimeoutError(
                    f"waited {waited:.0f} s for {who} downloading {name}"
                ) from None
            (logger.info if told else logger.warning)(
                "waiting for %s, which is downloading %s (lock %s; %.0f s so far)", who, name,
                path, waited)
            told = True
            step = 10.0
