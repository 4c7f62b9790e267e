"""Downloads against real servers on 127.0.0.1: short bodies, bad hashes, weak names, resets and
resume, ignored ranges, 4xx/5xx/429, silence, trickles, redirects, corrupt cache files, read-only
caches, offline mode, unsafe names and symlinks, no TTY.

Each failing case checks the invariants: (a) no file at the final cache path, (b) no temp file,
(c) a previously cached good file byte-identical, (d) the model unchanged.
"""

from __future__ import annotations

import io
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import warnings
from email.utils import formatdate
from pathlib import Path

import pytest
import torch

from hydra_cnn.checkpoint import (
    ChecksumError,
    CorruptCacheError,
    DownloadError,
    DownloadSettings,
    OfflineError,
    UnverifiedDownloadWarning,
    download_checkpoint,
    load_checkpoint,
)
from tests.checkpoint.ckpt_helpers import (
    HTTPTestServer,
    RawServer,
    assert_invariants,
    assert_model_unchanged,
    big_model,
    checkpoint_bytes,
    hashed_name,
    model_state,
    raw_headers,
    seed_good_file,
    send_status,
    serve,
    sha,
    small_model,
    snapshot_cache,
)


def _fail_load(model, url, exc, match=None):
    """load_checkpoint must raise ``exc``; return the error."""
    with pytest.raises(exc, match=match) as info:
        load_checkpoint(model, url, logger="silent")
    return info.value


def _published(server: HTTPTestServer, stem: str = "model", model=None) -> tuple[str, bytes]:
    data = checkpoint_bytes(model if model is not None else big_model(seed=1))
    name = hashed_name(stem, data)
    server.files[f"/{name}"] = data
    return name, data


# -- success paths ---------------------------------------------------------------------------
def test_download_verifies_and_caches(home, cache, server):
    name, data = _published(server)
    path = download_checkpoint(server.url(f"/{name}"))
    assert path == cache / name and path.read_bytes() == data
    assert download_checkpoint(server.url(f"/{name}")) == path
    assert server.count() == 1  # the second call is a cache hit
    assert not list(cache.glob("*.partial"))


def test_settings_from_arguments_and_env(home, monkeypatch):
    monkeypatch.setenv("HYDRA_CNN_READ_TIMEOUT", "0.7")
    monkeypatch.setenv("HYDRA_CNN_DOWNLOAD_TIMEOUT", "0")
    s = DownloadSettings.from_env(backoff=0.5)
    assert (s.read_timeout, s.deadline, s.backoff) == (0.7, None, 0.5)
    with pytest.raises(TypeError, match="unknown download setting.*read_timout"):
        DownloadSettings.from_env(read_timout=1)
    monkeypatch.setenv("HYDRA_CNN_READ_TIMEOUT", "soon")
    with pytest.raises(ValueError,
                       match=r"HYDRA_CNN_READ_TIMEOUT='soon' is not accepted \(not a number\)"):
        DownloadSettings.from_env()
    monkeypatch.setenv("HYDRA_CNN_READ_TIMEOUT", "1")
    monkeypatch.setenv("HYDRA_CNN_OFFLINE", "maybe")
    with pytest.raises(ValueError, match="HYDRA_CNN_OFFLINE='maybe' is not a flag"):
        DownloadSettings.from_env()
    with pytest.raises(ValueError,
                       match=r"max_retries=-1 is not accepted: expected an integer from 0 to"):
        DownloadSettings(max_retries=-1)


def test_not_a_url(home):
    with pytest.raises(ValueError, match="not an http"):
        download_checkpoint("ftp://example.org/x-12345678.pth")


# -- 1: body shorter than Content-Length on every attempt ------------------------------------
def test_truncated_every_attempt(home, cache, raw_server):
    model = small_model()
    data = checkpoint_bytes(model) * 4
    name = hashed_name("trunc", data)

    def short(conn, head, n, stop):
        conn.sendall(raw_headers(length=len(data)) + data[: len(data) // 10])

    srv = RawServer(short)
    raw_server.append(srv)
    before, state = seed_good_file(cache), model_state(model)
    err = _fail_load(model, srv.url(f"/{name}"), DownloadError, "incomplete download")
    assert f"got {len(data) // 10} of {len(data)} bytes from {srv.url(f'/{name}')}" in str(err)
    assert "gave up after 4 attempts" in str(err)
    assert len(srv.heads) == 4  # 1 + HYDRA_CNN_DOWNLOAD_RETRIES=3
    assert_invariants(cache, name, before, model, state)


# -- 2: wrong bytes -------------------------------------------------------------------------
def test_wrong_bytes(home, cache, server):
    model = small_model()
    good = checkpoint_bytes(model)
    name = hashed_name("wrong", good)
    bad = checkpoint_bytes(small_model(seed=3))
    server.files[f"/{name}"] = bad
    before, state = seed_good_file(cache), model_state(model)
    err = _fail_load(model, server.url(f"/{name}"), ChecksumError)
    assert name in str(err) and sha(good)[:8] in str(err) and sha(bad) in str(err)
    assert (err.expected, err.actual) == (sha(good)[:8], sha(bad))
    assert server.count() == 1  # not retried
    assert_invariants(cache, name, before, model, state)


def test_body_longer_than_content_length(home, cache, raw_server):
    data = checkpoint_bytes(small_model())
    name = hashed_name("long", data)

    def longer(conn, head, n, stop):
        conn.sendall(raw_headers(length=100) + data)

    srv = RawServer(longer)
    raw_server.append(srv)
    before = seed_good_file(cache)
    with pytest.raises(ChecksumError, match=f"expected prefix {sha(data)[:8]}"):
        download_checkpoint(srv.url(f"/{name}"))
    assert_invariants(cache, name, before)


# -- 3: names without a usable hash ---------------------------------------------------------
@pytest.mark.parametrize("name", ["resnet50.pth", "resnet-.pth", "a-ABCDEF12.pth",
                                  "a-abc1234.pth", "m-c2398f9e.pth.bak"])
def test_unverifiable_names_warn(home, cache, server, name):
    data = checkpoint_bytes(small_model())
    server.files[f"/{name}"] = data
    with pytest.warns(UnverifiedDownloadWarning, match="cannot be verified"):
        path = download_checkpoint(server.url(f"/{name}"))
    assert path.read_bytes() == data


def test_hash_anchored_at_the_end(home, cache, server):
    data = checkpoint_bytes(small_model())
    name = f"x-1.2-{sha(data)[:8]}.pth"  # torch.hub's regex would take '1' as the hash
    server.files[f"/{name}"] = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert download_checkpoint(server.url(f"/{name}")).read_bytes() == data
    server.files["/y-1.2-00000000.pth"] = data
    with pytest.raises(ChecksumError, match="expected prefix 00000000"):
        download_checkpoint(server.url("/y-1.2-00000000.pth"))


def test_require_refuses_before_any_request(home, cache, server):
    server.files["/resnet50.pth"] = b"x"
    with pytest.raises(ValueError, match="carries no SHA256 prefix"):
        download_checkpoint(server.url("/resnet50.pth"), verify="require")
    assert server.count() == 0


# -- 4: connection reset mid-body, resumed with Range ---------------------------------------
def test_reset_then_resume_with_range(home, cache, server):
    model = big_model()
    name, data = _published(server, "reset", model=big_model(seed=5))
    cut = len(data) // 3

    def flaky(h, n):
        serve(h, data, cut_at=cut if n == 1 else None, reset=True, pause=0.3)

    server.routes[f"/{name}"] = flaky
    ckpt = load_checkpoint(model, server.url(f"/{name}"), logger="silent")
    assert (cache / name).read_bytes() == data
    assert server.count() == 2
    assert server.log[1]["headers"]["Range"] == f"bytes={cut}-"
    assert torch.equal(model[0].weight, ckpt["state_dict"]["0.weight"])
    assert not list(cache.glob("*.partial"))


# -- 5: the server ignores Range on the retry -----------------------------------------------
def test_range_ignored(home, cache, server):
    name, data = _published(server, "norange")

    def ignore_range(h, n):
        serve(h, data, honour_range=False, cut_at=int(len(data) * 0.3) if n == 1 else None)

    server.routes[f"/{name}"] = ignore_range
    path = download_checkpoint(server.url(f"/{name}"))
    assert path.read_bytes() == data  # not partial + full
    assert server.count() == 2 and "Range" in server.log[1]["headers"]


# -- 6: 404 / 403 ----------------------------------------------------------------------------
@pytest.mark.parametrize("status", [404, 403, 401, 410])
def test_client_errors_are_not_retried(home, cache, server, status):
    model = small_model()
    name = hashed_name("missing", b"nothing")
    server.routes[f"/{name}"] = lambda h, n: send_status(h, status)
    before, state = seed_good_file(cache), model_state(model)
    url = server.url(f"/{name}")
    err = _fail_load(model, url, DownloadError, f"HTTP {status}")
    assert url in str(err)
    assert server.count() == 1
    assert_invariants(cache, name, before, model, state)


# -- 7: 5xx then 200; 503 forever -----------------------------------------------------------
def test_transient_5xx(home, cache, server):
    name, data = _published(server, "flaky5xx")
    statuses = {1: 500, 2: 503}

    def flaky(h, n):
        if n in statuses:
            send_status(h, statuses[n])
        else:
            serve(h, data)

    server.routes[f"/{name}"] = flaky
    assert download_checkpoint(server.url(f"/{name}")).read_bytes() == data
    assert server.count() == 3


def test_503_forever(home, cache, server):
    model = small_model()
    name = hashed_name("down", b"x")
    server.routes[f"/{name}"] = lambda h, n: send_status(h, 503)
    before, state = seed_good_file(cache), model_state(model)
    err = _fail_load(model, server.url(f"/{name}"), DownloadError, "HTTP 503")
    assert "gave up after 4 attempts; max_retries=3" in str(err)
    assert server.count() == 4
    assert_invariants(cache, name, before, model, state)


# -- 8: 429 with Retry-After ----------------------------------------------------------------
def test_retry_after_is_honoured(home, cache, server):
    name, data = _published(server, "limited")

    def limited(h, n):
        if n == 1:
            send_status(h, 429, {"Retry-After": "1"})
        else:
            serve(h, data)

    server.routes[f"/{name}"] = limited
    start = time.monotonic()
    assert download_checkpoint(server.url(f"/{name}")).read_bytes() == data
    assert time.monotonic() - start >= 1.0
    assert server.count() == 2


def test_http_date_and_garbage_retry_after(home, cache, server):
    name, data = _published(server, "dated")
    values = {1: formatdate(time.time() + 1, usegmt=True), 2: "soon"}

    def limited(h, n):
        if n in values:
            send_status(h, 429, {"Retry-After": values[n]})
        else:
            serve(h, data)

    server.routes[f"/{name}"] = limited
    assert download_checkpoint(server.url(f"/{name}")).read_bytes() == data
    assert server.count() == 3


def test_huge_retry_after_fails_fast(home, cache, server):
    model = small_model()
    name = hashed_name("banned", b"x")
    server.routes[f"/{name}"] = lambda h, n: send_status(h, 429, {"Retry-After": "86400"})
    before, state = seed_good_file(cache), model_state(model)
    start = time.monotonic()
    _fail_load(model, server.url(f"/{name}"), DownloadError,
               r"retry after 86400 s, more than the cap of 5 s")
    assert time.monotonic() - start < 2
    assert server.count() == 1
    assert_invariants(cache, name, before, model, state)


# -- 9: the server accepts and never answers ------------------------------------------------
def test_silent_server_times_out(home, cache, raw_server, monkeypatch):
    monkeypatch.setenv("HYDRA_CNN_READ_TIMEOUT", "0.3")
    monkeypatch.setenv("HYDRA_CNN_DOWNLOAD_RETRIES", "2")
    model = small_model()
    srv = RawServer(lambda conn, head, n, stop: stop.wait(10))
    raw_server.append(srv)
    name = hashed_name("silent", b"x")
    before, state = seed_good_file(cache), model_state(model)
    start = time.monotonic()
    err = _fail_load(model, srv.url(f"/{name}"), DownloadError, "timed out")
    assert time.monotonic() - start < 3  # 3 attempts x 0.3 s read timeout + backoff
    assert "read timeout 0.3 s" in str(err) and len(srv.heads) == 3
    assert_invariants(cache, name, before, model, state)


# -- 10: a slow trickle ends at the overall deadline -----------------------------------------
def test_trickle_hits_the_deadline(home, cache, raw_server, monkeypatch):
    monkeypatch.setenv("HYDRA_CNN_READ_TIMEOUT", "1")
    monkeypatch.setenv("HYDRA_CNN_DOWNLOAD_TIMEOUT", "1.5")
    model = small_model()

    def trickle(conn, head, n, stop):
        conn.sendall(raw_headers(length=100))
        while not stop.wait(0.25):
            conn.sendall(b"x")

    srv = RawServer(trickle)
    raw_server.append(srv)
    name = hashed_name("slow", b"x" * 100)
    before, state = seed_good_file(cache), model_state(model)
    start = time.monotonic()
    err = _fail_load(model, srv.url(f"/{name}"), DownloadError, "overall deadline of 1.5 s")
    assert time.monotonic() - start < 3.5
    assert "HYDRA_CNN_DOWNLOAD_TIMEOUT" in str(err)
    assert_invariants(cache, name, before, model, state)


# -- 11: redirects ---------------------------------------------------------------------------
def _redirect(location: str, status: int = 302):
    return lambda h, n: send_status(h, status, {"Location": location})


def test_same_host_redirect(home, cache, server):
    name, data = _published(server, "moved")
    server.routes["/old.pth"] = _redirect(f"/{name}")
    path = download_checkpoint(server.url("/old.pth"), file_name=name)
    assert path.read_bytes() == data


def test_loop_and_too_many(home, cache, server):
    before = seed_good_file(cache)
    server.routes["/a-12345678.pth"] = _redirect("/b-12345678.pth")
    server.routes["/b-12345678.pth"] = _redirect("/a-12345678.pth")
    with pytest.raises(DownloadError, match="redirect loop: .*a-12345678.pth -> .*b-12345678"):
        download_checkpoint(server.url("/a-12345678.pth"))
    for i in range(15):
        server.routes[f"/r{i}-12345678.pth"] = _redirect(f"/r{i + 1}-12345678.pth", 307)
    with pytest.raises(DownloadError, match="too many redirects"):
        download_checkpoint(server.url("/r0-12345678.pth"))
    assert_invariants(cache, "a-12345678.pth", before)
    assert_invariants(cache, "r0-12345678.pth", before)


def test_credentials_not_sent_to_another_host(home, cache, server):
    other = HTTPTestServer()
    try:
        name, _data = _published(other, "elsewhere")
        server.routes["/start.pth"] = _redirect(other.url(f"/{name}", host="localhost"))
        url = server.url("/start.pth").replace("http://", "http://user:secret@")
        download_checkpoint(url, file_name=name)
        assert "Authorization" in server.log[0]["headers"]
        assert "Authorization" not in other.log[0]["headers"]
    finally:
        other.close()


@pytest.fixture
def tls_cert(tmp_path: Path) -> tuple[str, str]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a test certificate")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
         "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
         "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )
    return str(cert), str(key)


def test_https_to_http_refused(home, cache, server, tls_cert, monkeypatch):
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", tls_cert[0])
    secure = HTTPTestServer(tls=tls_cert)
    try:
        name, data = _published(secure, "secure")
        assert download_checkpoint(secure.url(f"/{name}")).read_bytes() == data  # TLS works
        server.files["/plain-12345678.pth"] = b"x"
        secure.routes["/down-12345678.pth"] = _redirect(server.url("/plain-12345678.pth"))
        before = snapshot_cache(cache)
        with pytest.raises(DownloadError, match="refusing redirect from https to http"):
            download_checkpoint(secure.url("/down-12345678.pth"))
        assert server.count() == 0
        assert_invariants(cache, "down-12345678.pth", before)
    finally:
        secure.close()


# -- 13: a corrupt file already in the cache -------------------------------------------------
def test_corrupt_cache_is_downloaded_again(home, cache, server):
    model = small_model()
    name, data = _published(server, "corrupt", model=small_model(seed=4))
    cache.mkdir(parents=True)
    (cache / name).write_bytes(data[:100])  # a truncated earlier download
    load_checkpoint(model, server.url(f"/{name}"), logger="silent")
    assert (cache / name).read_bytes() == data
    assert server.count() == 1
    assert_model_unchanged(model, model_state(small_model(seed=4)))


def test_corrupt_cache_offline_names_the_path(home, cache, server, monkeypatch):
    model = small_model()
    name, _ = _published(server, "corrupt")
    cache.mkdir(parents=True)
    (cache / name).write_bytes(b"garbage")
    monkeypatch.setenv("HYDRA_CNN_OFFLINE", "1")
    state = model_state(model)
    err = _fail_load(model, server.url(f"/{name}"), CorruptCacheError, "delete it")
    assert str(cache / name) in str(err)
    assert (cache / name).read_bytes() == b"garbage" and server.count() == 0
    assert_model_unchanged(model, state)


# -- 18: a read-only cache with the file present ---------------------------------------------
def _tree(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*"))}


def test_read_only_cache_loads_and_writes_nothing(home, cache, server):
    model = small_model()
    name, _data = _published(server, "ro", model=small_model(seed=2))
    url = server.url(f"/{name}")
    download_checkpoint(url)
    shutil.rmtree(cache / ".locks")
    before = _tree(home)
    for p in [home, cache, cache / name]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        load_checkpoint(model, url, logger="silent")
        assert _tree(home) == before  # nothing created, nothing touched
        assert server.count() == 1
        assert_model_unchanged(model, model_state(small_model(seed=2)))
    finally:
        for p in [home, cache, cache / name]:
            p.chmod(p.stat().st_mode | stat.S_IWUSR)


# -- 19: offline mode ------------------------------------------------------------------------
def test_offline(home, cache, server, monkeypatch):
    model = small_model()
    name, _data = _published(server, "offline", model=small_model(seed=9))
    url = server.url(f"/{name}")
    download_checkpoint(url)
    monkeypatch.setenv("HYDRA_CNN_OFFLINE", "1")
    opened: list[object] = []

    class NoSocket(socket.socket):
        def __init__(self, *args, **kwargs):
            opened.append(args)
            raise OSError("a socket was opened in offline mode")

    monkeypatch.setattr(socket, "socket", NoSocket)
    load_checkpoint(model, url, logger="silent")
    assert_model_unchanged(model, model_state(small_model(seed=9)))
    # not cached: a clear error, still no socket
    missing = hashed_name("absent", b"absent")
    before, state = snapshot_cache(cache), model_state(model)
    err = _fail_load(model, server.url(f"/{missing}"), OfflineError, "offline")
    assert "not cached" in str(err) and str(cache / missing) in str(err)
    assert opened == [] and server.count() == 1
    assert_invariants(cache, missing, before, model, state)


# -- 22: unsafe cache names and planted symlinks ---------------------------------------------
@pytest.mark.parametrize("file_name", ["../x-12345678.pth", "/etc/x-12345678.pth",
                                       "a/b-12345678.pth", "..", ".hidden-12345678.pth",
                                       "a%2fb-12345678.pth", "x\x00-12345678.pth",
                                       "x-12345678.pth.aaaaaaaa.1.bbbbbbbb.partial"])
def test_unsafe_file_names(home, cache, server, file_name):
    with pytest.raises(ValueError, match="refusing cache file name"):
        download_checkpoint(server.url("/x-12345678.pth"), file_name=file_name)
    assert server.count() == 0 and not cache.exists()


@pytest.mark.parametrize("path", ["/d/%2e%2e%2fx-12345678.pth", "/d/..%2Fx-12345678.pth",
                                  "/d/%2E%2E", "/d/..", "/d/x%5c..%5cy-12345678.pth", "/d/"])
def test_unsafe_url_paths(home, cache, server, path):
    url = f"http://127.0.0.1:{server.port}{path}"
    with pytest.raises(ValueError, match="refusing cache file name|cannot take a file name"):
        download_checkpoint(url)
    assert server.count() == 0 and not cache.exists()


def test_symlink_planted_at_the_final_path(home, cache, server, tmp_path):
    name, _ = _published(server, "planted")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    cache.mkdir(parents=True)
    (cache / name).symlink_to(victim)
    with pytest.raises(ValueError, match="is a symlink"):
        download_checkpoint(server.url(f"/{name}"))
    assert victim.read_bytes() == b"precious" and server.count() == 0
    assert (cache / name).is_symlink()


def test_symlink_planted_at_the_lock(home, cache, server, tmp_path):
    import hashlib

    name, _ = _published(server, "lockplant")
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    (cache / ".locks").mkdir(parents=True)
    lock = cache / ".locks" / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")
    lock.symlink_to(victim)
    with pytest.raises(ValueError, match="is a symlink"):
        download_checkpoint(server.url(f"/{name}"))
    assert victim.read_bytes() == b"precious" and server.count() == 0
    # and a symlinked lock folder
    shutil.rmtree(cache / ".locks")
    (cache / ".locks").symlink_to(tmp_path)
    with pytest.raises(ValueError, match="is a symlink"):
        download_checkpoint(server.url(f"/{name}"))
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "home") == ["victim.txt"]


# -- 23: no TTY, broken stderr ---------------------------------------------------------------
class BrokenStderr(io.TextIOBase):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return -1

    def write(self, s: str) -> int:
        raise OSError(5, "Input/output error")

    def flush(self) -> None:
        raise OSError(5, "Input/output error")


class TTYStderr(io.StringIO):
    def isatty(self) -> bool:
        return True

    def fileno(self) -> int:
        return 2


def test_broken_stderr(home, cache, server, monkeypatch):
    name, data = _published(server, "noisy")
    monkeypatch.setattr(sys, "stderr", BrokenStderr())
    path = download_checkpoint(server.url(f"/{name}"), progress=True)
    assert path.read_bytes() == data


def test_closed_stderr_and_no_tty(home, cache, server, monkeypatch):
    name, data = _published(server, "closed")
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stderr", closed)
    assert download_checkpoint(server.url(f"/{name}")).read_bytes() == data


def test_progress_bar_on_a_tty_and_its_switch(home, cache, server, monkeypatch):
    name, _ = _published(server, "bar")
    tty = TTYStderr()
    monkeypatch.setattr(sys, "stderr", tty)
    download_checkpoint(server.url(f"/{name}"))
    assert name in tty.getvalue()  # the bar ran
    name2, _ = _published(server, "quiet", model=small_model(seed=11))
    tty2 = TTYStderr()
    monkeypatch.setattr(sys, "stderr", tty2)
    monkeypatch.setenv("HYDRA_CNN_NO_PROGRESS", "1")
    download_checkpoint(server.url(f"/{name2}"))
    assert tty2.getvalue() == ""


# -- misc ----------------------------------------------------------------------------------
def test_disk_space_precheck(home, cache, raw_server):
    def huge(conn, head, n, stop):
        conn.sendall(raw_headers(length=10**16) + b"x" * 10)

    srv = RawServer(huge)
    raw_server.append(srv)
    name = hashed_name("huge", b"x")
    before = seed_good_file(cache)
    with pytest.raises(OSError, match="not enough space for .*huge"):
        download_checkpoint(srv.url(f"/{name}"))
    assert len(srv.heads) == 1
    assert_invariants(cache, name, before)


def test_concurrent_threads_share_one_download(home, cache, server):
    name, data = _published(server, "threads")

    def slow(h, n):
        time.sleep(0.3)
        serve(h, data)

    server.routes[f"/{name}"] = slow
    results: list[Path] = []
    threads = [threading.Thread(target=lambda: results.append(
        download_checkpoint(server.url(f"/{name}")))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == 3 and all(p.read_bytes() == data for p in results)
    assert server.count() == 1
