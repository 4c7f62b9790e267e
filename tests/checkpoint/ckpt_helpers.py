"""Test servers on 127.0.0.1 (port 0) and invariant checks for the checkpoint tests.

- :class:`HTTPTestServer`: a stdlib ``ThreadingHTTPServer`` with per-path behaviour (a function
  of the handler and the request's ordinal for that path) and a request log.
- :class:`RawServer`: a raw socket server for faults HTTP libraries will not produce (short
  bodies, silence, trickles).
- :func:`snapshot_cache` / :func:`assert_invariants`: the failure invariants (a)-(d) of docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import io
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import torch
from torch import nn


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def hashed_name(stem: str, data: bytes, ext: str = ".pth") -> str:
    """``stem-<sha256[:8]>.ext``: the name convention that carries a verifiable hash."""
    return f"{stem}-{sha(data)[:8]}{ext}"


def small_model(seed: int = 0, width: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(3, width, 3), nn.BatchNorm2d(width), nn.ReLU(),
                         nn.Flatten(), nn.Linear(width, 2))


def big_model(seed: int = 0) -> nn.Module:
    """A model whose checkpoint is ~260 KB, so cuts land mid-body."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(256, 256))


def checkpoint_bytes(model: nn.Module, **extra: Any) -> bytes:
    buf = io.BytesIO()
    torch.save({"state_dict": model.state_dict(), "meta": {"note": "test"}, **extra}, buf)
    return buf.getvalue()


def model_state(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_model_unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    now = model.state_dict()
    assert set(now) == set(before)
    for k, v in before.items():
        assert torch.equal(now[k], v), f"{k} changed"


def snapshot_cache(cache_dir: Path) -> dict[str, bytes]:
    """The regular files directly in the cache folder, by name."""
    if not cache_dir.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in cache_dir.iterdir()
            if p.is_file() and not p.is_symlink()}


def assert_invariants(cache_dir: Path, final_name: str, before: dict[str, bytes],
                      model: nn.Module | None = None,
                      model_before: dict[str, torch.Tensor] | None = None) -> None:
    """(a) no final file, (b) no temp file, (c) earlier files byte-identical, (d) model same."""
    assert not (cache_dir / final_name).exists(), "(a) a file was left at the final path"
    leftovers = [p.name for p in cache_dir.glob("*") if p.name.endswith((".partial", ".tmp"))]
    assert not leftovers, f"(b) temp files left: {leftovers}"
    for name, data in before.items():
        assert (cache_dir / name).read_bytes() == data, f"(c) {name} changed"
    if model is not None:
        assert model_before is not None
        assert_model_unchanged(model, model_before)


def seed_good_file(cache_dir: Path) -> dict[str, bytes]:
    """Put a previously cached good file in the cache; return the snapshot."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    data = checkpoint_bytes(small_model(seed=7))
    (cache_dir / hashed_name("earlier", data)).write_bytes(data)
    return snapshot_cache(cache_dir)


# -- HTTP server -------------------------------------------------------------------------
Behaviour = Callable[["Handler", int], None]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def do_GET(self) -> None:
        self.server.app.handle(self)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    app: HTTPTestServer


class HTTPTestServer:
    """A loopback HTTP(S) server: ``files`` served with Range support, ``routes`` for faults."""

    def __init__(self, tls: tuple[str, str] | None = None) -> None:
        self.files: dict[str, bytes] = {}
        self.routes: dict[str, Behaviour] = {}
        self.log: list[dict[str, Any]] = []
        self.stop = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _Server(("127.0.0.1", 0), Handler)
        self._httpd.app = self
        self.scheme = "http"
        if tls is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def count(self, path: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.log if path is None or r["path"] == path)

    def handle(self, h: Handler) -> None:
        path = h.path.split("?", 1)[0]
        with self._lock:
            self.log.append({"path": path, "headers": dict(h.headers.items())})
            n = sum(1 for r in self.log if r["path"] == path)
        behaviour = self.routes.get(path)
        if behaviour is not None:
            behaviour(h, n)
        elif path in self.files:
            serve(h, self.files[path])
        else:
            send_status(h, 404)

    def close(self) -> None:
        self.stop.set()
        self._httpd.shutdown()
        self._httpd.server_close()


def send_status(h: Handler, status: int, headers: dict[str, str] | None = None,
                body: bytes = b"") -> None:
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body)))
    h.end_headers()
    h.wfile.write(body)


def serve(h: Handler, data: bytes, *, honour_range: bool = True, cut_at: int | None = None,
          reset: bool = False, pause: float = 0.0, etag: bool = True,
          headers: dict[str, str] | None = None, if_range: bool = True) -> None:
    """Send ``data`` (or the requested range); with ``cut_at``, stop there and drop the link.

    ``etag=False`` sends no ETag (like a plain static server); ``headers`` adds headers (a
    ``Last-Modified``, ``Date``, ...). With ``if_range`` an ``If-Range`` that does not match the
    current ETag or Last-Modified gets the whole file (RFC 9110); without it it is ignored.
    """
    start = 0
    extra = dict(headers or {})
    tag = f'"{sha(data)[:16]}"' if etag else None
    rng = h.headers.get("Range")
    cond = h.headers.get("If-Range")
    current = {v for v in (tag, extra.get("Last-Modified")) if v}
    fresh = not (if_range and cond is not None and cond not in current)
    if rng and honour_range and fresh and rng.startswith("bytes=") and rng.endswith("-"):
        start = int(rng[len("bytes="):-1])
        h.send_response(206)
        h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
    else:
        h.send_response(200)
    h.send_header("Content-Length", str(len(data) - start))
    h.send_header("Accept-Ranges", "bytes")
    if tag:
        h.send_header("ETag", tag)
    for k, v in extra.items():
        h.send_header(k, v)
    h.end_headers()
    body = data[start:]
    if cut_at is None:
        h.wfile.write(body)
        return
    h.wfile.write(body[:cut_at])
    h.wfile.flush()
    if pause:
        time.sleep(pause)
    h.close_connection = True
    if reset:  # RST instead of FIN
        h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    try:
        h.connection.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


# -- raw socket server -------------------------------------------------------------------
RawBehaviour = Callable[[socket.socket, bytes, int, threading.Event], None]


class RawServer:
    """Accepts connections on 127.0.0.1 and hands each (socket, request head, n) to a function."""

    def __init__(self, behaviour: RawBehaviour) -> None:
        self.behaviour = behaviour
        self.stop = threading.Event()
        self.heads: list[bytes] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.05)
        self.port = self._sock.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            t.start()
            self._threads.append(t)

    def _serve(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        head = b""
        try:
            while b"\r\n\r\n" not in head:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                head += chunk
            self.heads.append(head)
            self.behaviour(conn, head, len(self.heads), self.stop)
        except OSError:
            pass
        finally:
            try:
                conn.close()
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self._thread.join(2)
        self._sock.close()
        for t in self._threads:
            t.join(2)


def raw_headers(status: str = "200 OK", length: int | None = None,
                extra: str = "") -> bytes:
    lines = [f"HTTP/1.1 {status}"]
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines.append("Connection: close")
    if extra:
        lines.append(extra)
    return ("\r\n".join(lines) + "\r\n\r\n").encode()
