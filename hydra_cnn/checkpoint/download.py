"""Verified, resumable, concurrent-safe checkpoint downloads into ``HOME/checkpoints``.

:func:`download_checkpoint` returns the path of a verified file in the cache, downloading it
first when needed::

    >>> path = download_checkpoint('https://download.pytorch.org/models/resnet50-0676ba61.pth')

- A name with a SHA256 prefix (``name-<8+ lowercase hex>.ext``) is cached under that name and
  reused without a request while its bytes match the prefix (re-hashed on first use in each
  process); a corrupt one is downloaded again, or, offline, raises :class:`CorruptCacheError`
  naming the path.
- A name without one cannot be verified: it downloads with an :class:`UnverifiedDownloadWarning`
  and is cached under a name keyed by its URL (``latest.u<16 hex>.pth``), reused only for that
  URL while its size and sha256 equal the record the cache index
  (:mod:`~hydra_cnn.checkpoint.index`) wrote when it was downloaded; each reuse is logged.
- A download goes to a process-unique temp file, is checked for size, content and hash, then
  renamed into place: an interrupted or failed download never leaves a file at the final path.
  A 200 whose body is an HTML page, text, empty or zeros raises :class:`ContentError` and is not
  cached; so is an encoded (``Content-Encoding: gzip``) body for a name without a hash.
- Every request has connect and read timeouts; the whole download has a deadline. Connection
  errors, 408, 429 (``Retry-After`` honoured up to a cap) and 5xx are retried with exponential
  backoff; other 4xx are not, and their error names the final URL after redirects. A broken
  transfer resumes with ``Range`` only when that cannot join two versions of the file (a strong
  validator sent as ``If-Range``, or a hash to check); otherwise it restarts from byte 0.
  Redirects from https to http are refused; loops end with an error.
- ``HYDRA_CNN_OFFLINE=1``: no socket is opened; a missing file raises :class:`OfflineError`.

Settings come from arguments, then environment variables (read at each call), then defaults:

=========================  ===============================  =========
setting                    environment variable             default
=========================  ===============================  =========
``connect_timeout``        ``HYDRA_CNN_CONNECT_TIMEOUT``    10 s
``read_timeout``           ``HYDRA_CNN_READ_TIMEOUT``       30 s
``deadline``               ``HYDRA_CNN_DOWNLOAD_TIMEOUT``   3600 s (0 or none: no limit)
``max_retries``            ``HYDRA_CNN_DOWNLOAD_RETRIES``   5
``backoff``                ``HYDRA_CNN_BACKOFF``            1 s (doubles each retry)
``backoff_max``            ``HYDRA_CNN_BACKOFF_MAX``        30 s
``retry_after_max``        ``HYDRA_CNN_RETRY_AFTER_MAX``    60 s
``lock_timeout``           ``HYDRA_CNN_LOCK_TIMEOUT``       the deadline
``max_decoded_ratio``      ``HYDRA_CNN_MAX_DECODED_RATIO``  20 (x the encoded bytes, + 1 MiB)
``offline``                ``HYDRA_CNN_OFFLINE``            off
``progress``               ``HYDRA_CNN_NO_PROGRESS``        on when stderr is a TTY
=========================  ===============================  =========

A value outside its range (NaN, inf, a negative number, text) raises ``ValueError`` naming the
variable, the value and the accepted range.
"""

from __future__ import annotations

import contextlib
import dataclasses
import email.utils
import errno
import hashlib
import logging
import math
import os
import queue
import random
import re
import shutil
import sys
import threading
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urljoin, urlsplit

from hydra_cnn.checkpoint.cache import (
    STALE_PARTIAL_AGE,
    cache_lock,
    cache_name,
    check_cache_name,
    check_not_symlink,
    file_name_from_url,
    hash_prefix,
    public_url,
    remember_digest,
    sweep_stale_partials,
    temp_path,
    verify_file,
)
from hydra_cnn.checkpoint.errors import (
    ChecksumError,
    ContentError,
    CorruptCacheError,
    DownloadError,
    OfflineError,
    UnverifiedDownloadWarning,
)
from hydra_cnn.checkpoint.index import (
    CacheRecord,
    index_dir,
    read_record,
    record_path,
    sweep_record_temps,
    write_record,
)
from hydra_cnn.checkpoint.sniff import HEAD_SIZE, sniff_bytes
from hydra_cnn.checkpoint.zoo import get_cache_dir

if TYPE_CHECKING:  # pragma: no cover
    import requests

__all__ = ["DownloadSettings", "download_checkpoint"]

logger = logging.getLogger("hydra_cnn.checkpoint")

_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK = 1 << 20
_DECODED_SLACK = 1 << 20  # an encoded body may always decode to this much more
_CONTENT_RANGE = re.compile(r"^\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*$")

_ENV = {
    "connect_timeout": "HYDRA_CNN_CONNECT_TIMEOUT",
    "read_timeout": "HYDRA_CNN_READ_TIMEOUT",
    "deadline": "HYDRA_CNN_DOWNLOAD_TIMEOUT",
    "max_retries": "HYDRA_CNN_DOWNLOAD_RETRIES",
    "backoff": "HYDRA_CNN_BACKOFF",
    "backoff_max": "HYDRA_CNN_BACKOFF_MAX",
    "retry_after_max": "HYDRA_CNN_RETRY_AFTER_MAX",
    "lock_timeout": "HYDRA_CNN_LOCK_TIMEOUT",
    "max_decoded_ratio": "HYDRA_CNN_MAX_DECODED_RATIO",
}
_MAX_COUNT = 100
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _env_flag(var: str) -> bool:
    value = os.environ.get(var, "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(f"{var}={os.environ[var]!r} is not a flag; accepted: 1/0, true/false, yes/no")


@dataclass(frozen=True)
class DownloadSettings:
    """Timeouts, retries and modes of a download; every field can be set for tests.

    Times are finite seconds (timeouts and the deadline > 0, the others >= 0); counts are
    integers from 0 to 100. Anything else (NaN, inf, a negative value, a bool) raises
    ``ValueError`` naming the field, the value and the range.

    Args:
        connect_timeout: seconds to wait for a TCP/TLS connection; default 10.
        read_timeout: seconds to wait for any byte from the server; default 30.
        deadline: seconds the whole download may take, retries included; None for no limit;
            default 3600.
        max_retries: retries after the first attempt (an attempt that brings new bytes does not
            use one up); default 5.
        backoff: the first retry's delay in seconds, doubled per retry (with jitter); default 1.
        backoff_max: the largest backoff delay in seconds; default 30.
        retry_after_max: the largest ``Retry-After`` (429/503) honoured, in seconds; a larger
            one fails at once; default 60.
        lock_timeout: seconds to wait for another process downloading the same file before
            downloading unlocked; None waits up to the deadline; default None.
        max_redirects: redirects followed per request; default 10.
        max_decoded_ratio: an encoded (``Content-Encoding: gzip``/``deflate``) body may decode
            to at most this many times the bytes received, plus 1 MiB; beyond that the
            download fails as a decompression bomb, before the disk fills; default 20.
        offline: never open a socket (``HYDRA_CNN_OFFLINE=1``); default False.
        progress: show a tqdm bar; None shows it when stderr is a TTY and
            ``HYDRA_CNN_NO_PROGRESS`` is unset; default None.
        verify: ``'auto'`` verifies names that carry a hash prefix and warns for the others;
            ``'require'`` refuses names without one (before any request); ``'off'`` never
            hashes (the file is still size-checked); default ``'auto'``.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    deadline: float | None = 3600.0
    max_retries: int = 5
    backoff: float = 1.0
    backoff_max: float = 30.0
    retry_after_max: float = 60.0
    lock_timeout: float | None = None
    max_redirects: int = 10
    max_decoded_ratio: float = 20.0
    offline: bool = False
    progress: bool | None = None
    verify: Literal["auto", "require", "off"] = "auto"

    def __post_init__(self) -> None:
        for name in _RANGES:
            problem = _check_setting(name, getattr(self, name))
            if problem:
                raise ValueError(f"{name}={getattr(self, name)!r} is not accepted: expected "
                                 f"{problem}")
        if self.verify not in ("auto", "require", "off"):
            raise ValueError(f"verify must be 'auto', 'require' or 'off', got {self.verify!r}")

    @classmethod
    def from_env(cls, **overrides: Any) -> DownloadSettings:
        """Build settings from the environment (read now), then ``overrides`` (field names).

        Args:
            **overrides: any field of this class; unknown names raise ``TypeError``.

        Raises:
            ValueError: a variable holds something outside its range (NaN, inf, a negative
                or non-numeric value), naming the variable, the value and the range.
        """
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(overrides) - fields)
        if unknown:
            raise TypeError(
                f"unknown download setting(s) {', '.join(unknown)}; accepted: "
                f"{', '.join(sorted(fields))}"
            )
        values: dict[str, Any] = {}
        for name, var in _ENV.items():
            raw = os.environ.get(var)
            if raw is None or raw.strip() == "":
                continue
            values[name] = _parse_env(name, var, raw)
        values["offline"] = _env_flag("HYDRA_CNN_OFFLINE")
        if _env_flag("HYDRA_CNN_NO_PROGRESS"):
            values["progress"] = False
        values.update({k: v for k, v in overrides.items() if v is not None or k in (
            "deadline", "lock_timeout")})
        try:
            return cls(**values)
        except ValueError as err:
            raise ValueError(f"invalid download setting: {err}") from None


#: field -> the accepted values, as messages say them
_RANGES: dict[str, str] = {
    "connect_timeout": "a finite number of seconds > 0",
    "read_timeout": "a finite number of seconds > 0",
    "deadline": "a finite number of seconds > 0, or 0/none for no deadline",
    "max_retries": f"an integer from 0 to {_MAX_COUNT}",
    "backoff": "a finite number of seconds >= 0",
    "backoff_max": "a finite number of seconds >= 0",
    "retry_after_max": "a finite number of seconds >= 0",
    "lock_timeout": "a finite number of seconds >= 0, or none to wait up to the deadline",
    "max_redirects": f"an integer from 0 to {_MAX_COUNT}",
    "max_decoded_ratio": "a finite number >= 1",
}


def _check_setting(name: str, value: Any) -> str | None:
    """Return the accepted range when ``value`` is not accepted for ``name``, else None."""
    if value is None and name in ("deadline", "lock_timeout"):
        return None
    if isinstance(value, bool):
        return _RANGES[name]
    if name in ("max_retries", "max_redirects"):
        ok = isinstance(value, int) and 0 <= value <= _MAX_COUNT
    else:
        low = 1 if name == "max_decoded_ratio" else 0
        ok = isinstance(value, (int, float)) and math.isfinite(value) and (
            value > 0 if name in ("connect_timeout", "read_timeout", "deadline") else value >= low)
    return None if ok else _RANGES[name]


def _parse_env(name: str, var: str, raw: str) -> Any:
    """Parse one numeric environment variable; raise naming it, its value and the range."""
    text = raw.strip().lower()
    if name in ("deadline", "lock_timeout") and text in ("none", "0"):
        return None
    value: Any
    try:
        value = int(text) if name in ("max_retries", "max_redirects") else float(text)
    except ValueError:
        value = None
    if value is None or _check_setting(name, value):
        if value is None:
            kind = "not an integer" if name in ("max_retries", "max_redirects") else (
                "not a number")
        else:
            kind = "not a finite number" if not math.isfinite(value) else "out of range"
        raise ValueError(f"{var}={raw!r} is not accepted ({kind}): expected {_RANGES[name]}")
    return value


# -- progress --------------------------------------------------------------------------------
def _stderr_is_tty() -> bool:
    try:
        stream = sys.stderr
        return bool(stream is not None and stream.isatty() and stream.fileno() >= 0)
    except (AttributeError, OSError, ValueError):
        return False


class _Progress:
    """A tqdm bar that turns itself off instead of failing (closed or broken stderr)."""

    def __init__(self, enabled: bool, total: int | None, desc: str) -> None:
        self._bar: Any = None
        if not enabled:
            return
        try:
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="B", unit_scale=True,
                             unit_divisor=1024, file=sys.stderr, leave=False)
        except Exception:  # no tqdm, or stderr unusable: no bar
            self._bar = None

    def _call(self, method: str, *args: Any) -> None:
        if self._bar is None:
            return
        try:
            getattr(self._bar, method)(*args)
        except Exception:
            self._bar = None

    def update(self, n: int) -> None:
        self._call("update", n)

    def reset(self, total: int | None, initial: int = 0) -> None:
        self._call("reset", total)
        if initial:
            self._call("update", initial)

    def close(self) -> None:
        self._call("close")


# -- the transfer ----------------------------------------------------------------------------
class _Retry(Exception):
    """An attempt failed in a way worth retrying."""

    def __init__(self, message: str, delay: float | None = None) -> None:
        super().__init__(message)
        self.delay = delay


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


class _BackgroundHash:
    """SHA256 on a worker thread, so hashing overlaps the network (hashlib drops the GIL)."""

    def __init__(self) -> None:
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._hash = hashlib.sha256()
        self._thread = threading.Thread(target=self._run, name="hydra_cnn-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                self._hash.update(item)
            finally:
                self._queue.task_done()

    def update(self, data: bytes) -> None:
        self._queue.put(data)

    def reset(self) -> None:
        self._queue.join()
        self._hash = hashlib.sha256()

    def hexdigest(self) -> str:
        self._queue.join()
        return self._hash.hexdigest()

    def close(self) -> None:
        self._queue.put(None)


def _strong_date(last_modified: str, date: str | None) -> bool:
    """Whether a Last-Modified is a strong validator: the Date is at least 60 s later (RFC 9110)."""
    if not date:
        return False
    try:
        lm = email.utils.parsedate_to_datetime(last_modified)
        now = email.utils.parsedate_to_datetime(date)
        return (now - lm).total_seconds() >= 60
    except (TypeError, ValueError, IndexError, OverflowError):
        return False


def _name_not_resolved(err: BaseException) -> bool:
    """Whether a connection error is a failed host-name lookup (DNS), not a network fault."""
    import socket

    import urllib3

    resolution = getattr(urllib3.exceptions, "NameResolutionError", ())
    seen: set[int] = set()
    stack: list[Any] = [err]
    while stack:
        item = stack.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if (resolution and isinstance(item, resolution)) or isinstance(item, socket.gaierror):
            return True
        stack.extend([item.__cause__, item.__context__, getattr(item, "reason", None),
                      *item.args])
    return False


def _shown(url: str) -> str:
    """The URL for messages: without credentials."""
    return public_url(url) if "@" in urlsplit(url).netloc else url


class _Transfer:
    """One download of ``url`` into the open temp file ``fd`` (resume, retries, deadline).

    A broken transfer resumes with ``Range`` only where that cannot join two versions of the
    file: the server gave a strong validator (an ETag, or a Last-Modified at least 60 s before
    its Date), sent back as ``If-Range``, and the 206 reply keeps the total size and validators;
    or the name carries a SHA256 prefix the result must match anyway (``hashed``; a resumed
    file that fails it is downloaded again from byte 0 by the caller). Otherwise it restarts
    from byte 0.
    """

    def __init__(self, url: str, fd: int, tmp: Path, final: Path, s: DownloadSettings,
                 hashed: bool) -> None:
        self.url = url
        self.shown = _shown(url)
        self.fd = fd
        self.tmp = tmp
        self.final = final
        self.s = s
        self.hashed = hashed
        self.blind_resume = hashed  # may resume without a validator
        self.resumed_blind = False
        self.start = time.monotonic()
        self.deadline_at = None if s.deadline is None else self.start + s.deadline
        self.offset = 0
        self.total: int | None = None
        self.space: int | None = None
        self.head = bytearray()
        self.validator: str | None = None
        self.etag: str | None = None
        self.last_modified: str | None = None
        self.final_url: str | None = None
        self.status = 0
        self.hasher: _BackgroundHash  # made by run()
        self.progress: _Progress

    # -- time ----------------------------------------------------------------------------
    def _remaining(self) -> float | None:
        return None if self.deadline_at is None else self.deadline_at - time.monotonic()

    def _deadline_error(self, what: str) -> DownloadError:
        got = f"got {self.offset} of {self.total if self.total is not None else '?'} bytes"
        return DownloadError(
            f"download of {self.shown} exceeded the overall deadline of {self.s.deadline:g} s "
            f"({what}; {got}); raise HYDRA_CNN_DOWNLOAD_TIMEOUT (seconds) for slow links",
            self.shown,
        )

    def _timeouts(self) -> tuple[float, float]:
        remaining = self._remaining()
        read = self.s.read_timeout
        connect = self.s.connect_timeout
        if remaining is not None:
            if remaining <= 0:
                raise self._deadline_error("no time left")
            read = max(0.01, min(read, remaining))
            connect = max(0.01, min(connect, remaining))
        return connect, read

    # -- file ----------------------------------------------------------------------------
    def _write(self, data: bytes) -> None:
        if self.space is not None and self.offset + len(data) > self.space:
            raise OSError(
                errno.ENOSPC,
                f"not enough space for {self.final}: the body from {self.shown} grew past the "
                f"{self.space} bytes free in {self.tmp.parent} (while writing {self.tmp}); "
                f"nothing was cached. Free some space or point HYDRA_CNN_HOME to another disk",
            )
        view = memoryview(data)
        try:
            while view:
                n = os.write(self.fd, view)
                view = view[n:]
        except OSError as err:
            hint = " (no space left on the disk, or a file size limit)" if err.errno in (
                errno.ENOSPC, errno.EFBIG, errno.EDQUOT) else ""
            raise OSError(
                err.errno,
                f"{err.strerror}{hint} while writing {self.tmp} for {self.final}; nothing was "
                f"cached. Free some space or point HYDRA_CNN_HOME to another disk",
            ) from err
        if len(self.head) < HEAD_SIZE:
            self.head += data[: HEAD_SIZE - len(self.head)]

    def _restart(self) -> None:
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.offset = 0
        self.total = None
        self.head.clear()
        self.hasher.reset()
        self.validator = None
        self.etag = self.last_modified = None

    def start_over(self) -> None:
        """Forget everything downloaded; the next :meth:`run` starts at byte 0, no resuming."""
        os.ftruncate(self.fd, 0)
        os.lseek(self.fd, 0, os.SEEK_SET)
        self.offset = 0
        self.total = None
        self.head.clear()
        self.validator = None
        self.etag = self.last_modified = None
        self.blind_resume = False
        self.resumed_blind = False

    # -- HTTP ----------------------------------------------------------------------------
    def where(self, final_url: str | None = None) -> str:
        """The URL for messages, with the original one when a redirect was followed."""
        final = _shown(final_url) if final_url else self.shown
        return final if final == self.shown else f"{final} (redirected from {self.shown})"

    def _get(self, session: requests.Session, headers: dict[str, str]) -> requests.Response:
        import requests

        current = self.url
        chain = [current]
        for _ in range(self.s.max_redirects + 1):
            shown = _shown(current)
            try:
                resp = session.get(current, headers=headers, stream=True,
                                   timeout=self._timeouts(), allow_redirects=False)
            except requests.exceptions.SSLError as err:
                raise DownloadError(f"TLS error for {shown}: {err}", self.shown) from err
            except requests.exceptions.Timeout as err:
                raise _Retry(f"timed out waiting for {shown} (connect timeout "
                             f"{self.s.connect_timeout:g} s, read timeout "
                             f"{self.s.read_timeout:g} s): {err}") from err
            except requests.exceptions.ConnectionError as err:
                if _name_not_resolved(err):  # retrying cannot help: fail at once
                    host = urlsplit(current).hostname
                    raise DownloadError(
                        f"cannot resolve the host name {host!r} of {shown} (DNS lookup "
                        f"failed; not retried): check the URL and the network, or set "
                        f"HYDRA_CNN_OFFLINE=1 to use cached files only. Cause: {err}",
                        self.shown) from err
                raise _Retry(f"connection to {shown} failed: {err}") from err
            except requests.exceptions.RequestException as err:
                raise DownloadError(f"request for {shown} failed: {err}", self.shown) from err
            if resp.status_code not in _REDIRECT_STATUSES or "location" not in resp.headers:
                return resp
            target = urljoin(current, resp.headers["location"])
            resp.close()
            old, new = urlsplit(current).scheme, urlsplit(target).scheme
            if new not in ("http", "https"):
                raise DownloadError(f"refusing redirect from {shown} to {_shown(target)}: only "
                                    f"http(s) is followed", self.shown)
            if old == "https" and new != "https":
                raise DownloadError(f"refusing redirect from https to http: {shown} -> "
                                    f"{_shown(target)}", self.shown)
            if target in chain:
                raise DownloadError("redirect loop: " + " -> ".join(
                    _shown(u) for u in [*chain, target]), self.shown)
            chain.append(target)
            current = target
        raise DownloadError(f"too many redirects (more than {self.s.max_redirects}) from "
                            f"{self.shown}: " + " -> ".join(_shown(u) for u in chain),
                            self.shown)

    def _remember_validators(self, resp: requests.Response) -> None:
        self.etag = resp.headers.get("etag")
        self.last_modified = resp.headers.get("last-modified")
        self.validator = None
        if self.etag and not self.etag.startswith("W/"):
            self.validator = self.etag
        elif self.last_modified and _strong_date(self.last_modified, resp.headers.get("date")):
            self.validator = self.last_modified

    def _content_range(self, resp: requests.Response, where: str
                       ) -> tuple[int, int, int | None] | None:
        """``(first, last, total)`` of a 206's Content-Range; None when it is missing or bad.

        A Content-Length that disagrees with the range is a server contradicting itself: a
        :class:`DownloadError` (nothing is cached).
        """
        header = resp.headers.get("content-range", "")
        m = _CONTENT_RANGE.match(header)
        if not m:
            return None
        first, last = int(m.group(1)), int(m.group(2))
        total = None if m.group(3) == "*" else int(m.group(3))
        if last < first or (total is not None and last >= total):
            return None
        length = resp.headers.get("content-length", "")
        if length.isdigit() and int(length) != last - first + 1:
            raise DownloadError(
                f"{where} answered HTTP 206 with Content-Range {header!r} ({last - first + 1} "
                f"bytes) but Content-Length {length}: the server contradicts itself; nothing "
                f"was cached", self.shown)
        return first, last, total

    def _unasked_range(self, resp: requests.Response, where: str) -> int:
        """The file's total size from a 206 sent to a request without ``Range``.

        Only a Content-Range starting at byte 0 with a known total is usable: the body is
        then the first part of the file (the rest is fetched like a broken transfer, or the
        download fails); it is never taken for the whole file.
        """
        parsed = self._content_range(resp, where)
        if parsed is None or parsed[0] != 0 or parsed[2] is None:
            raise DownloadError(
                f"{where} answered a request without Range with HTTP 206 (partial content) and "
                f"Content-Range {resp.headers.get('content-range')!r}, which does not say which "
                f"part of the file it is (expected 'bytes 0-<last>/<total>'); nothing was "
                f"cached", self.shown)
        if parsed[1] + 1 < parsed[2]:
            logger.info("%s sent only bytes 0-%d of %d to a request without Range; fetching "
                        "the rest", where, parsed[1], parsed[2])
        return parsed[2]

    def _check_resume(self, resp: requests.Response, where: str) -> None:
        """Accept a 206 reply to ``Range: bytes=<offset>-`` only for the same file."""
        parsed = self._content_range(resp, where)
        problem = None
        total = None
        if parsed is None or parsed[0] != self.offset:
            problem = (f"bad Content-Range {resp.headers.get('content-range')!r} for "
                       f"bytes={self.offset}-")
        else:
            total = parsed[2]
            etag, modified = resp.headers.get("etag"), resp.headers.get("last-modified")
            if self.total is not None and total != self.total:
                problem = f"the total size changed from {self.total} to {total} bytes"
            elif self.etag and etag and etag != self.etag:
                problem = f"the ETag changed from {self.etag} to {etag}"
            elif self.last_modified and modified and modified != self.last_modified:
                problem = (f"Last-Modified changed from {self.last_modified!r} to "
                           f"{modified!r}")
        if problem:
            self._restart()
            raise _Retry(f"{where} cannot resume: {problem}; starting over from byte 0")
        if total is not None:
            self.total = total

    def _measure_space(self) -> None:
        """Refuse a body larger than the free space; remember the free space for the stream."""
        try:
            free = shutil.disk_usage(self.tmp.parent).free
        except OSError:
            self.space = None
            return
        self.space = free + self.offset
        if self.total is not None and self.total > self.space:
            raise OSError(
                errno.ENOSPC,
                f"not enough space for {self.final}: {self.shown} is {self.total} bytes, "
                f"{free} bytes are free in {self.tmp.parent}; free some space or point "
                f"HYDRA_CNN_HOME to another disk",
            )

    def _attempt(self, session: requests.Session) -> bool:
        """Run one request; return True when the body is complete."""
        import urllib3

        headers: dict[str, str] = {}
        if self.offset and not (self.validator or self.blind_resume):
            logger.info("%s: restarting from byte 0 instead of resuming at %d: the server sent "
                        "no strong ETag or Last-Modified to prove the file is unchanged",
                        self.shown, self.offset)
            self._restart()
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
            if self.validator:
                headers["If-Range"] = self.validator
            else:
                self.resumed_blind = True
        resp = self._get(session, headers)
        with contextlib.closing(resp):
            status = resp.status_code
            where = self.where(resp.url)
            if status == 429 or (status == 503 and "retry-after" in resp.headers):
                wait = _retry_after(resp.headers.get("retry-after"))
                if wait is not None and wait > self.s.retry_after_max:
                    raise DownloadError(
                        f"HTTP {status} for {where}: the server asked to retry after "
                        f"{wait:.0f} s, more than the cap of {self.s.retry_after_max:g} s "
                        f"(HYDRA_CNN_RETRY_AFTER_MAX)", self.shown)
                raise _Retry(f"HTTP {status} {resp.reason} for {where}", wait)
            if status in _RETRY_STATUSES:
                raise _Retry(f"HTTP {status} {resp.reason} for {where}")
            encoding = resp.headers.get("content-encoding", "identity").strip().lower()
            identity = encoding in ("", "identity")
            if not identity and status in (200, 206) and not self.hashed:
                on_wire = resp.headers.get("content-length", "")
                wire = f" of {on_wire} bytes" if on_wire.isdigit() else ""
                raise ContentError(
                    f"{where} answered HTTP {status} with a {encoding}-encoded body{wire} "
                    f"(Content-Encoding: {encoding}) although the plain file was asked for; "
                    f"its name carries no SHA256 prefix, so the decoded bytes could not be "
                    f"verified and their size is unknown: nothing was cached. Use a URL that "
                    f"serves the file as it is, or one whose name carries the hash "
                    f"(name-<sha256 prefix>.ext)", self.shown)
            if status == 206 and self.offset and identity:
                self._check_resume(resp, where)
                self._measure_space()
            elif status == 206 and self.offset:  # an encoded partial body: not comparable
                self._restart()
                raise _Retry(f"{where} sent a {encoding}-encoded partial body; starting over")
            elif status == 200 or status == 206:
                if self.offset:
                    logger.info("%s sent the whole file again (200); starting over", where)
                    self._restart()
                length = resp.headers.get("content-length")
                self.total = int(length) if (length and length.isdigit() and identity) else None
                if status == 206:  # a range we did not ask for: only its total says the size
                    self.total = self._unasked_range(resp, where) if identity else None
                self._remember_validators(resp)
                self.final_url = resp.url
                self.status = status
                self._measure_space()
            elif status == 416:
                self._restart()
                raise _Retry(f"HTTP 416 (range not satisfiable) for {where}")
            else:
                raise DownloadError(f"HTTP {status} {resp.reason} for {where}", self.shown)
            if not identity:  # decoded offsets are no byte ranges of the resource
                self.validator = None
                self.blind_resume = False
            self.progress.reset(self.total, self.offset)
            raw = resp.raw
            # read1 returns what has arrived (urllib3 >= 2.3), so the deadline is checked often
            read = getattr(raw, "read1", None)
            try:
                while True:
                    remaining = self._remaining()
                    if remaining is not None and remaining <= 0:
                        raise self._deadline_error("the transfer was too slow")
                    chunk = (read(_CHUNK, decode_content=True) if read is not None
                             else raw.read(1 << 16, decode_content=True))
                    if not chunk:
                        break
                    if not identity:
                        self._check_decoded(raw, len(chunk), encoding, where)
                    self._write(chunk)
                    self.hasher.update(chunk)
                    self.offset += len(chunk)
                    self.progress.update(len(chunk))
            except (urllib3.exceptions.HTTPError, ConnectionError, TimeoutError) as err:
                if not identity:
                    self._restart()
                raise _Retry(self._incomplete(f"{type(err).__name__}: {err}", where)) from err
            if self.total is not None and self.offset != self.total:
                if self.offset > self.total:
                    self._restart()
                raise _Retry(self._incomplete("the connection closed early", where))
            return True

    def _check_decoded(self, raw: Any, more: int, encoding: str, where: str) -> None:
        """Refuse an encoded body that decodes far beyond what was sent (a bomb)."""
        try:
            wire = int(raw.tell())
        except (AttributeError, TypeError, ValueError, OSError):
            return
        cap = self.s.max_decoded_ratio * wire + _DECODED_SLACK
        if self.offset + more > cap:
            raise DownloadError(
                f"{where} sent a {encoding}-encoded body that decodes to more than "
                f"{self.s.max_decoded_ratio:g} times the {wire} bytes received (over "
                f"{self.offset + more} bytes so far): a decompression bomb? Nothing was "
                f"cached. Raise HYDRA_CNN_MAX_DECODED_RATIO (now {self.s.max_decoded_ratio:g}) "
                f"only for a server you trust", self.shown)

    def _incomplete(self, why: str, where: str) -> str:
        if self.total is not None:
            return (f"incomplete download: got {self.offset} of {self.total} bytes from "
                    f"{where} ({why})")
        return f"download of {where} broke off after {self.offset} bytes ({why})"

    def run(self) -> str:
        """Download the whole body; return its hex SHA256."""
        import requests

        from hydra_cnn.common import __version__

        session = requests.Session()
        session.headers["User-Agent"] = f"hydra-cnn/{__version__}"
        session.headers["Accept-Encoding"] = "identity"
        self.hasher = _BackgroundHash()
        enabled = self.s.progress if self.s.progress is not None else _stderr_is_tty()
        self.progress = _Progress(enabled, None, self.final.name)
        failures = 0
        high_water = -1
        attempts = 0
        try:
            while True:
                attempts += 1
                try:
                    if self._attempt(session):
                        return self.hasher.hexdigest()
                except _Retry as err:
                    if self.offset > high_water:  # new bytes arrived: a fresh retry budget
                        high_water = self.offset
                        failures = 0
                    failures += 1
                    if failures > self.s.max_retries:
                        raise DownloadError(
                            f"{err} (gave up after {attempts} attempts; max_retries="
                            f"{self.s.max_retries})", self.shown) from err
                    delay = min(self.s.backoff_max, self.s.backoff * 2 ** (failures - 1))
                    delay *= 0.5 + random.random() / 2
                    if err.delay is not None:
                        delay = max(delay, err.delay)
                    remaining = self._remaining()
                    if remaining is not None and delay >= remaining:
                        raise self._deadline_error(f"last error: {err}") from err
                    logger.warning("%s; retrying in %.1f s", err, delay)
                    time.sleep(delay)
        finally:
            session.close()
            self.progress.close()
            self.hasher.close()


# -- public ----------------------------------------------------------------------------------
def download_checkpoint(
    url: str,
    cache_dir: str | os.PathLike[str] | None = None,
    *,
    file_name: str | None = None,
    settings: DownloadSettings | None = None,
    **overrides: Any,
) -> Path:
    """Return the path of a verified cached copy of ``url``, downloading it when needed.

    A name with a SHA256 prefix (``resnet50-0676ba61.pth``) is cached under that name and
    reused whenever its bytes match the prefix. Any other name is cached under a name that
    includes a key of the URL (``latest.u<16 hex>.pth``) and reused only for that URL, while
    its size and sha256 equal those the cache index recorded when it was downloaded.

    Args:
        url: an ``http://`` or ``https://`` URL.
        cache_dir: the cache folder; default None means ``HOME/checkpoints``.
        file_name: the cache file name; default None takes the URL's last path segment. Its
            ``-<8+ hex>.ext`` suffix is the SHA256 prefix the bytes must match.
        settings: a :class:`DownloadSettings`; default None reads the environment now.
        **overrides: fields of :class:`DownloadSettings` (``read_timeout=0.5``, ...).

    Raises:
        DownloadError: HTTP errors, timeouts, the deadline, incomplete bodies, bad redirects.
        ContentError: a 200 whose body is not a checkpoint (an HTML page, text, empty, an
            encoded body for a name without a hash).
        ChecksumError: the bytes do not match the hash prefix in the name.
        OfflineError: offline mode and the file is not cached.
        CorruptCacheError: the cached file is corrupt and cannot be downloaded again.
        ValueError: an unsafe file name or a symlink at a cache path (before any write).
        OSError: the cache could not be written (disk full: the path is named).
    """
    if settings is None:
        s = DownloadSettings.from_env(**overrides)
    else:
        s = dataclasses.replace(settings, **overrides) if overrides else settings
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ValueError(f"not an http(s) URL: {url!r}")
    shown = _shown(url)
    name = check_cache_name(file_name) if file_name is not None else file_name_from_url(url)
    prefix = None if s.verify == "off" else hash_prefix(name)
    if prefix is None and s.verify == "require":
        raise ValueError(
            f"{name} carries no SHA256 prefix (name-<8 to 64 lowercase hex>.ext), and "
            f"verify='require' refuses unverifiable downloads; URL: {shown}"
        )
    stored = name if prefix is not None else cache_name(name, url)
    folder = Path(os.path.abspath(os.fspath(cache_dir) if cache_dir is not None
                                  else get_cache_dir()))
    final = folder / stored
    check_not_symlink(final)
    check_not_symlink(index_dir(folder))
    check_not_symlink(record_path(folder, stored))

    cached = _check_cached(final, prefix, url, s)
    if cached is not None:
        return cached
    if s.offline:
        raise OfflineError(
            f"offline mode (HYDRA_CNN_OFFLINE=1) and not cached: {final} (from {shown}); unset "
            f"HYDRA_CNN_OFFLINE or copy the file there", shown)
    if prefix is None and s.verify == "auto":
        warnings.warn(UnverifiedDownloadWarning(
            f"{name} carries no SHA256 prefix (name-<8+ lowercase hex>.ext), so the download "
            f"from {shown} cannot be verified; it is cached as {stored} for this URL only"),
            stacklevel=2)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OSError(err.errno, f"cannot create the cache folder {folder}: {err.strerror}; "
                                 f"set HYDRA_CNN_HOME to a writable folder") from err
    _check_cache_folders(folder)
    lock_timeout = s.lock_timeout if s.lock_timeout is not None else s.deadline
    with cache_lock(folder, stored, lock_timeout):
        cached = _check_cached(final, prefix, url, s, quiet=True)
        if cached is not None:  # another process finished it while we waited
            return cached
        sweep_stale_partials(folder)
        sweep_record_temps(folder, STALE_PARTIAL_AGE)
        logger.info("downloading %s to %s", shown, final)
        _download_to(url, final, prefix, s)
    return final


_reuse_logged: set[str] = set()


def _check_cache_folders(folder: Path) -> None:
    """Refuse, before any byte is downloaded, a non-folder where the cache keeps its folders."""
    for sub, role in ((index_dir(folder), "the cache index"), (folder / ".locks",
                                                                 "the download locks")):
        if os.path.lexists(sub) and not sub.is_dir():
            raise NotADirectoryError(
                errno.ENOTDIR,
                f"{sub} is a file, but the cache keeps {role} in a folder there; nothing was "
                f"downloaded. Move or delete that file, or use another cache folder "
                f"(HYDRA_CNN_HOME)", str(sub))


def _check_cached(final: Path, prefix: str | None, url: str, s: DownloadSettings,
                  quiet: bool = False) -> Path | None:
    """Return ``final`` when it holds a good copy; None when it must be downloaded."""
    if not final.exists():
        return None
    if not final.is_file():
        raise ValueError(f"cache path {final} exists but is not a regular file; remove it")
    if prefix is not None:
        ok, digest = verify_file(final, prefix)
        if ok:
            return final
        problem = f"its sha256 {digest} does not start with {prefix}"
        expected = prefix
    else:
        record = read_record(final.parent, final.name)
        digest = ""
        expected = record.sha256 if record is not None else ""
        size = final.stat().st_size
        if record is None:
            problem = "the cache index has no record of it, so its origin is unknown"
        elif record.url != public_url(url):
            problem = f"the cache index says it came from {record.url}"
        elif record.size != size:
            problem = f"it has {size} bytes, the cache index recorded {record.size}"
        else:
            ok, digest = verify_file(final, record.sha256)
            if ok and digest == record.sha256:
                if str(final) not in _reuse_logged:
                    _reuse_logged.add(str(final))
                    logger.warning(
                        "using the cached copy of %s: %s (downloaded %s, sha256 %s). Its name "
                        "carries no SHA256 prefix, so it is only checked against the cache "
                        "index; delete it to download it again", _shown(url), final,
                        record.downloaded_at or "at an unknown time", record.sha256)
                return final
            problem = f"its sha256 {digest} differs from the {record.sha256} the index recorded"
    message = f"cached file {final} cannot be used for {_shown(url)}: {problem}; delete it"
    if s.offline:
        raise CorruptCacheError(message + " (offline mode is on, so it cannot be downloaded "
                                "again)", None, expected=expected, actual=digest)
    if not os.access(final.parent, os.W_OK):
        raise CorruptCacheError(message + " (the cache folder is read-only)", None,
                                expected=expected, actual=digest)
    if not quiet:
        logger.warning("%s; downloading it again", message)
    return None


def _download_to(url: str, final: Path, prefix: str | None, s: DownloadSettings) -> None:
    tmp = temp_path(final.parent, final.name)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(
        os, "O_CLOEXEC", 0)
    try:
        fd = os.open(tmp, flags, 0o666)
    except OSError as err:
        raise OSError(err.errno, f"cannot create {tmp} for the download of {_shown(url)}: "
                                 f"{err.strerror}") from err
    done = False
    try:
        try:
            transfer = _Transfer(url, fd, tmp, final, s, hashed=prefix is not None)
            digest = transfer.run()
            _check_body(transfer)
            if prefix is not None and not digest.startswith(prefix) and transfer.resumed_blind:
                logger.warning("%s was resumed without a validator and does not match its "
                               "SHA256 prefix %s; downloading it again from byte 0",
                               transfer.where(transfer.final_url), prefix)
                transfer.start_over()
                digest = transfer.run()
                _check_body(transfer)
            try:
                # A name with a hash is re-verified on use, so a file torn by a power loss is
                # caught then; only unverifiable files pay for an fsync.
                if prefix is None:
                    os.fsync(fd)
            except OSError as err:
                raise OSError(err.errno, f"{err.strerror} while writing {tmp} for {final}; "
                                         f"nothing was cached") from err
        finally:
            os.close(fd)
        if prefix is not None and not digest.startswith(prefix):
            raise ChecksumError(
                f"sha256 mismatch for {final.name} from {transfer.where(transfer.final_url)}: "
                f"expected prefix {prefix}, got {digest}; the file was not cached",
                _shown(url), expected=prefix, actual=digest)
        check_not_symlink(final)
        from hydra_cnn.common import __version__

        write_record(final.parent, CacheRecord(
            file=final.name, url=public_url(url), size=transfer.offset, sha256=digest,
            verified=prefix is not None,
            final_url=public_url(transfer.final_url) if transfer.final_url else None,
            etag=transfer.etag, last_modified=transfer.last_modified,
            downloaded_at=CacheRecord.now(), hydra_cnn=__version__))
        os.replace(tmp, final)
        done = True
        remember_digest(final, digest)
        if prefix is None:  # make the rename durable too
            with contextlib.suppress(OSError):
                dir_fd = os.open(final.parent, os.O_RDONLY)
                try:
                    os.fsync(dir_fd)
                finally:
                    os.close(dir_fd)
    finally:
        if not done:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def _check_body(transfer: _Transfer) -> None:
    """Refuse a complete body that is not a checkpoint (HTML, text, empty, zeros)."""
    found = sniff_bytes(bytes(transfer.head), transfer.offset, noun="body")
    if not found.junk:
        return
    hints = {
        "html": " Check the URL, and whether this network needs a login (a captive portal)",
        "empty": " The server sent no bytes",
    }
    raise ContentError(
        f"{transfer.where(transfer.final_url)} answered HTTP {transfer.status} with "
        f"{found.description}, not a checkpoint; nothing was cached.{hints.get(found.kind, '')}",
        transfer.shown)
