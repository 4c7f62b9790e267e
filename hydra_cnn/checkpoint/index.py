"""The cache's provenance index: what each downloaded file is and where it came from.

Every file :func:`~hydra_cnn.checkpoint.download_checkpoint` puts in a cache folder gets a
record, ``<cache>/.index/<file name>.json``, written atomically just before the file is renamed
into place::

    {"format": 1, "file": "latest.u1f3a9c0d2b4e6f80.pth", "url": "https://host/x/latest.pth",
     "final_url": "https://cdn.host/x/latest.pth", "size": 102400, "sha256": "9f2c...",
     "etag": "\\"abc\\"", "last_modified": null, "verified": false,
     "downloaded_at": "2026-05-01T12:00:00+00:00", "hydra_cnn": "0.1.0"}

``verified`` says whether the bytes were checked against a SHA256 prefix in the name. The
record decides whether a cached file whose name carries no hash may be reused (same URL, same
size, same sha256), and ``python -m hydra_cnn zoo verify [--delete]`` reads it to know which
files the cache downloaded: a file without a record is never deleted. Credentials in URLs are
never written. A folder with an ``.index`` folder is a hydra_cnn cache.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hydra_cnn.checkpoint.cache import check_cache_name, check_not_symlink

__all__ = [
    "INDEX_DIR",
    "CacheRecord",
    "index_dir",
    "is_cache_dir",
    "read_record",
    "record_path",
    "records",
    "remove_record",
    "sweep_record_temps",
    "write_record",
]

logger = logging.getLogger("hydra_cnn.checkpoint")

#: The index folder inside a cache folder.
INDEX_DIR = ".index"
_FORMAT = 1


@dataclass(frozen=True)
class CacheRecord:
    """What the cache knows about one of its files.

    Args:
        file: the file name in the cache folder.
        url: the URL it was requested from (no credentials, no fragment).
        size: its size in bytes.
        sha256: its full hex SHA256.
        verified: whether the bytes matched a SHA256 prefix in the name.
        final_url: the URL that served it after redirects; default None (same as ``url``).
        etag: the server's ETag, if any; default None.
        last_modified: the server's Last-Modified, if any; default None.
        downloaded_at: when it was downloaded (ISO 8601, UTC); default ``''``.
        hydra_cnn: the hydra_cnn version that downloaded it; default ``''``.
    """

    file: str
    url: str
    size: int
    sha256: str
    verified: bool
    final_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    downloaded_at: str = ""
    hydra_cnn: str = ""

    @staticmethod
    def now() -> str:
        """The current UTC time as ISO 8601, for ``downloaded_at``."""
        return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()

    @classmethod
    def from_json(cls, data: Any) -> CacheRecord:
        """Build a record from parsed JSON; raise ``ValueError`` when a field is wrong.

        Args:
            data: the parsed JSON object.
        """
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"not a format-{_FORMAT} index record")
        checks = {"file": str, "url": str, "size": int, "sha256": str, "verified": bool}
        for key, kind in checks.items():
            if not isinstance(data.get(key), kind) or (kind is int and isinstance(
                    data.get(key), bool)):
                raise ValueError(f"field {key!r} must be a {kind.__name__}")
        optional = ("final_url", "etag", "last_modified", "downloaded_at", "hydra_cnn")
        for key in optional:
            if data.get(key) is not None and not isinstance(data[key], str):
                raise ValueError(f"field {key!r} must be a string or null")
        kwargs = {k: data[k] for k in checks}
        kwargs.update({k: data[k] for k in optional if data.get(k) is not None})
        return cls(**kwargs)


def index_dir(cache_dir: Path) -> Path:
    """The index folder of a cache folder.

    Args:
        cache_dir: the cache folder.
    """
    return cache_dir / INDEX_DIR


def is_cache_dir(cache_dir: Path) -> bool:
    """Whether ``cache_dir`` is a hydra_cnn cache (it has a real ``.index`` folder).

    Args:
        cache_dir: the folder.
    """
    folder = index_dir(cache_dir)
    return folder.is_dir() and not folder.is_symlink()


def record_path(cache_dir: Path, name: str) -> Path:
    """The record file of the cached file ``name``.

    Args:
        cache_dir: the cache folder.
        name: the cached file's name (checked: a plain file name).
    """
    return index_dir(cache_dir) / f"{check_cache_name(name)}.json"


def _ensure_index(cache_dir: Path) -> Path:
    folder = index_dir(cache_dir)
    check_not_symlink(folder)
    folder.mkdir(exist_ok=True)
    return folder


def write_record(cache_dir: Path, record: CacheRecord) -> None:
    """Write (or replace) the record of ``record.file``, atomically.

    Args:
        cache_dir: the cache folder (it exists).
        record: the record.
    """
    folder = _ensure_index(cache_dir)
    final = record_path(cache_dir, record.file)
    check_not_symlink(final)
    tmp = folder / f".{record.file}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    data = json.dumps({"format": _FORMAT, **asdict(record)}, indent=1, sort_keys=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(data + "\n")
        os.replace(tmp, final)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def read_record(cache_dir: Path, name: str) -> CacheRecord | None:
    """Return the record of the cached file ``name``; None when there is none or it is bad.

    Args:
        cache_dir: the cache folder.
        name: the cached file's name.
    """
    path = record_path(cache_dir, name)
    if path.is_symlink() or not path.is_file():
        return None
    try:
        record = CacheRecord.from_json(json.loads(path.read_text(encoding="utf-8")))
    except RecursionError:
        logger.warning("ignoring the malformed cache index record %s: its JSON nests too "
                       "deeply to be a record", path)
        return None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        logger.warning("ignoring the malformed cache index record %s: %s", path, err)
        return None
    if record.file != name:
        logger.warning("ignoring the cache index record %s: it describes %r", path, record.file)
        return None
    return record


def records(cache_dir: Path) -> dict[str, CacheRecord | None]:
    """Every record of a cache folder by file name (None for a malformed one).

    Args:
        cache_dir: the cache folder.
    """
    out: dict[str, CacheRecord | None] = {}
    folder = index_dir(cache_dir)
    if not is_cache_dir(cache_dir):
        return out
    for entry in sorted(os.scandir(folder), key=lambda e: e.name):
        if not entry.name.endswith(".json") or entry.name.startswith("."):
            continue
        name = entry.name[: -len(".json")]
        try:
            check_cache_name(name)
        except ValueError:
            continue
        out[name] = read_record(cache_dir, name)
    return out


def remove_record(cache_dir: Path, name: str) -> None:
    """Delete the record of ``name`` (nothing happens when there is none).

    Args:
        cache_dir: the cache folder.
        name: the cached file's name.
    """
    with contextlib.suppress(FileNotFoundError):
        os.unlink(record_path(cache_dir, name))


def sweep_record_temps(cache_dir: Path, max_age: float) -> None:
    """Delete record temp files older than ``max_age`` seconds (left by killed processes).

    Args:
        cache_dir: the cache folder.
        max_age: the age in seconds.
    """
    import time

    folder = index_dir(cache_dir)
    if not is_cache_dir(cache_dir):
        return
    now = time.time()
    with contextlib.suppress(OSError):
        for entry in os.scandir(folder):
            if entry.name.startswith(".") and entry.name.endswith(".tmp"):
                with contextlib.suppress(OSError):
                    if now - entry.stat(follow_symlinks=False).st_mtime > max_age:
                        os.unlink(entry.path)
