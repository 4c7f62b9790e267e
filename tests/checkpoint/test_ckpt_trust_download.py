"""Same names from other URLs, changed files on resume, bodies that are not checkpoints, bad
settings and 404 after a redirect, against real servers on 127.0.0.1: every
download is the right bytes for its URL, or an error that says what arrived.

Failing cases check the invariants: (a) no file at the final cache path, (b) no temp file,
(c) a previously cached good file byte-identical, (d) the model unchanged.
"""

from __future__ import annotations

import gzip
import json
import logging
import re
import time
from email.utils import formatdate
from pathlib import Path

import pytest
import torch
from torch import nn

from hydra_cnn.checkpoint import (
    ChecksumError,
    ContentError,
    CorruptCacheError,
    DownloadError,
    DownloadSettings,
    UnverifiedDownloadWarning,
    download_checkpoint,
    load_checkpoint,
)
from tests.checkpoint.ckpt_helpers import (
    HTTPTestServer,
    assert_invariants,
    assert_model_unchanged,
    big_model,
    checkpoint_bytes,
    hashed_name,
    model_state,
    seed_good_file,
    send_status,
    serve,
    sha,
    small_model,
    snapshot_cache,
)

pytestmark = pytest.mark.filterwarnings("ignore::hydra_cnn.checkpoint.UnverifiedDownloadWarning")


def _same(model: nn.Module, data: bytes) -> bool:
    """Whether ``model`` holds the weights of the checkpoint bytes ``data``."""
    import io

    sd = torch.load(io.BytesIO(data), weights_only=True)["state_dict"]
    now = model.state_dict()
    return all(torch.equal(now[k], v) for k, v in sd.items())


def _cached_files(cache: Path) -> dict[str, bytes]:
    return snapshot_cache(cache)


def _index(cache: Path, name: str) -> dict:
    return json.loads((cache / ".index" / f"{name}.json").read_text())


# -- 27: the same file name from two URLs -----------------------------------------------------
def test_same_name_other_host(home, cache, server):
    other = HTTPTestServer()
    try:
        a, b = checkpoint_bytes(small_model(seed=1)), checkpoint_bytes(small_model(seed=2))
        server.files["/x/latest.pth"] = a
        other.files["/y/latest.pth"] = b
        url_a, url_b = server.url("/x/latest.pth"), other.url("/y/latest.pth", host="localhost")
        m = small_model(seed=9)
        load_checkpoint(m, url_a, logger="silent")
        assert _same(m, a)
        load_checkpoint(m, url_b, logger="silent")
        assert _same(m, b)  # not the first file's weights
        load_checkpoint(m, url_a, logger="silent")  # the cached copy of A, for A
        assert _same(m, a)
        assert (server.count(), other.count()) == (1, 1)
        assert sorted(_cached_files(cache).values()) == sorted([a, b])
    finally:
        other.close()


def test_same_name_other_path_and_query(home, cache, server):
    versions = {str(i): checkpoint_bytes(small_model(seed=i)) for i in (1, 2)}
    server.routes["/get"] = lambda h, n: serve(h, versions[h.path.split("id=")[1]])
    server.files["/a/latest.pth"] = versions["1"]
    server.files["/b/latest.pth"] = versions["2"]
    m = small_model(seed=9)
    for url, data in [(server.url("/get?id=1"), versions["1"]),
                      (server.url("/get?id=2"), versions["2"]),
                      (server.url("/a/latest.pth"), versions["1"]),
                      (server.url("/b/latest.pth"), versions["2"])]:
        path = download_checkpoint(url)
        assert path.read_bytes() == data
        load_checkpoint(m, url, logger="silent")
        assert _same(m, data)
    assert server.count() == 4  # each URL once; the loads reused their own files
    assert len(_cached_files(cache)) == 4


def test_reuse_is_logged_and_recorded(home, cache, server, caplog):
    data = checkpoint_bytes(small_model(seed=3))
    server.files["/latest.pth"] = data
    url = server.url("/latest.pth")
    path = download_checkpoint(url)
    record = _index(cache, path.name)
    assert record["url"] == url and record["size"] == len(data)
    assert record["sha256"] == sha(data) and record["verified"] is False
    assert record["etag"] == f'"{sha(data)[:16]}"'
    with caplog.at_level(logging.WARNING, logger="hydra_cnn.checkpoint"):
        assert download_checkpoint(url) == path
    assert f"using the cached copy of {url}" in caplog.text and str(path) in caplog.text
    assert server.count() == 1


def test_hashed_names_keep_their_name(home, cache, server):
    data = checkpoint_bytes(small_model(seed=4))
    name = hashed_name("resnet", data)
    server.files[f"/{name}"] = data
    assert download_checkpoint(server.url(f"/{name}")) == cache / name
    record = _index(cache, name)
    assert record["verified"] is True and record["sha256"] == sha(data)


def test_tampered_unhashed_file_is_not_reused(home, cache, server, monkeypatch):
    good = checkpoint_bytes(small_model(seed=5))
    server.files["/model.pth"] = good
    url = server.url("/model.pth")
    path = download_checkpoint(url)
    evil = checkpoint_bytes(small_model(seed=6))
    assert len(evil) == len(good)
    path.write_bytes(evil)  # same size, other bytes
    monkeypatch.setenv("HYDRA_CNN_OFFLINE", "1")
    with pytest.raises(CorruptCacheError, match=r"differs from the .* the index recorded"):
        download_checkpoint(url)
    assert path.read_bytes() == evil and server.count() == 1
    monkeypatch.delenv("HYDRA_CNN_OFFLINE")
    assert download_checkpoint(url).read_bytes() == good  # downloaded again
    assert server.count() == 2


def test_credentials_never_reach_the_index(home, cache, server):
    data = checkpoint_bytes(small_model(seed=5))
    server.files["/private.pth"] = data
    url = server.url("/private.pth").replace("http://", "http://user:secret@")
    path = download_checkpoint(url)
    text = (cache / ".index" / f"{path.name}.json").read_text()
    assert "secret" not in text and _index(cache, path.name)["url"] == server.url("/private.pth")


# -- 28: the server's file changes between a broken transfer and the retry --------------------
def _switching(server: HTTPTestServer, first: bytes, then: bytes, cut: int, **opts):
    """A server that breaks the first GET of ``first`` at ``cut``, then serves ``then``."""
    def behaviour(h, n):
        if n == 1:
            serve(h, first, cut_at=cut, reset=True, pause=0.2, **opts)
        else:
            serve(h, then, **opts)
    return behaviour


def _versions(same_size: bool) -> tuple[bytes, bytes]:
    a = checkpoint_bytes(big_model(seed=1))
    b = checkpoint_bytes(big_model(seed=2)) if same_size else checkpoint_bytes(
        nn.Sequential(nn.Linear(256, 300)))
    assert (len(a) == len(b)) == same_size
    return a, b


@pytest.mark.parametrize("same_size", [True, False])
def test_no_validator_restarts_from_zero(home, cache, server, same_size):
    a, b = _versions(same_size)
    server.routes["/latest.pth"] = _switching(server, a, b, len(a) // 3, etag=False)
    path = download_checkpoint(server.url("/latest.pth"))
    assert path.read_bytes() == b  # never half A, half B
    assert server.count() == 2 and "Range" not in server.log[1]["headers"]
    assert _index(cache, path.name)["sha256"] == sha(b)


def test_changed_etag_with_if_range_gets_the_whole_file(home, cache, server):
    a, b = _versions(True)
    server.routes["/latest.pth"] = _switching(server, a, b, len(a) // 3)
    model = big_model(seed=9)
    load_checkpoint(model, server.url("/latest.pth"), logger="silent")
    assert _same(model, b)
    retry = server.log[1]["headers"]
    assert retry["Range"] == f"bytes={len(a) // 3}-"
    assert retry["If-Range"] == f'"{sha(a)[:16]}"'


def test_server_ignoring_if_range_is_caught(home, cache, server):
    a, b = _versions(True)
    server.routes["/latest.pth"] = _switching(server, a, b, len(a) // 3, if_range=False)
    assert download_checkpoint(server.url("/latest.pth")).read_bytes() == b
    assert server.count() == 3  # the 206 carried B's ETag: refused, restarted without Range
    assert "Range" in server.log[1]["headers"] and "Range" not in server.log[2]["headers"]


def test_strong_last_modified_resumes(home, cache, server):
    data = checkpoint_bytes(big_model(seed=3))
    old = {"Last-Modified": formatdate(time.time() - 3600, usegmt=True)}
    server.routes["/lm.pth"] = _switching(server, data, data, len(data) // 3, etag=False,
                                          headers=old)
    assert download_checkpoint(server.url("/lm.pth")).read_bytes() == data
    retry = server.log[1]["headers"]
    assert retry["Range"] == f"bytes={len(data) // 3}-"
    assert retry["If-Range"] == old["Last-Modified"]


def test_weak_last_modified_does_not_resume(home, cache, server):
    a, b = _versions(True)
    now = {"Last-Modified": formatdate(time.time(), usegmt=True)}  # not 60 s before Date
    server.routes["/lm.pth"] = _switching(server, a, b, len(a) // 3, etag=False, headers=now,
                                          if_range=False)
    assert download_checkpoint(server.url("/lm.pth")).read_bytes() == b
    assert "Range" not in server.log[1]["headers"]


def test_hashed_name_resumes_without_validator(home, cache, server):
    data = checkpoint_bytes(big_model(seed=4))
    name = hashed_name("plain", data)
    server.routes[f"/{name}"] = _switching(server, data, data, len(data) // 3, etag=False)
    assert download_checkpoint(server.url(f"/{name}")).read_bytes() == data
    assert server.log[1]["headers"]["Range"] == f"bytes={len(data) // 3}-"  # a plain resume


def test_hashed_name_changed_file_is_never_stitched(home, cache, server):
    a, b = _versions(True)
    name = hashed_name("pinned", a)
    server.routes[f"/{name}"] = _switching(server, a, b, len(a) // 3, etag=False)
    model = big_model(seed=9)
    before, state = seed_good_file(cache), model_state(model)
    with pytest.raises(ChecksumError, match=f"expected prefix {sha(a)[:8]}, got {sha(b)}"):
        load_checkpoint(model, server.url(f"/{name}"), logger="silent")
    # the stitched file failed its hash, so it was fetched whole once more: B, refused too
    assert server.count() == 3 and "Range" not in server.log[2]["headers"]
    assert_invariants(cache, name, before, model, state)


# -- 29: a 200 whose body is not a checkpoint -------------------------------------------------
PORTAL = b"<!DOCTYPE html><html><body><a href='/login'>Log in to the Wi-Fi</a></body></html>"


@pytest.mark.parametrize(("body", "headers", "expected"), [
    (PORTAL, {"Content-Type": "text/html"},
     f"an HTML page of {len(PORTAL)} bytes (a login or error page?)"),
    (b"Service temporarily unavailable, try later\n", {}, "text of 43 bytes starting"),
    (b"", {}, "an empty body (0 bytes)"),
    (b"\x00" * 5000, {}, "5000 bytes starting with 4096 zero bytes"),
])
@pytest.mark.parametrize("hashed", [False, True])
def test_junk_bodies_are_not_cached(home, cache, server, body, headers, expected, hashed):
    name = hashed_name("junk", checkpoint_bytes(small_model())) if hashed else "latest.pth"
    server.routes[f"/{name}"] = lambda h, n: send_status(h, 200, headers, body)
    model = small_model()
    url = server.url(f"/{name}")
    before, state = seed_good_file(cache), model_state(model)
    found = rf"^{re.escape(url)} answered HTTP 200 with {re.escape(expected)}"
    with pytest.raises(ContentError, match=found + r".*, not a checkpoint; nothing was cached\."):
        load_checkpoint(model, url, logger="silent")
    assert server.count() == 1  # not retried
    assert set(snapshot_cache(cache)) == set(before)  # (a) for the URL-keyed name too
    assert_invariants(cache, name, before, model, state)
    # a later call asks again instead of reusing junk
    with pytest.raises(ContentError, match=found):
        download_checkpoint(url)
    assert server.count() == 2


def _gzip_route(data: bytes):
    packed = gzip.compress(data)

    def behaviour(h, n):
        send_status(h, 200, {"Content-Encoding": "gzip"}, packed)

    return behaviour, packed


def test_gzip_body_for_an_unhashed_name(home, cache, server):
    data = b"\x00" * 2_000_000  # 2 MB of zeros: 2 KB on the wire
    route, packed = _gzip_route(data)
    server.routes["/bomb.pth"] = route
    before = seed_good_file(cache)
    url = server.url("/bomb.pth")
    with pytest.raises(ContentError, match=(
            rf"^{re.escape(url)} answered HTTP 200 with a gzip-encoded body of {len(packed)} bytes "
            r"\(Content-Encoding: gzip\).*nothing was cached")):
        download_checkpoint(url)
    assert set(snapshot_cache(cache)) == set(before)
    assert_invariants(cache, "bomb.pth", before)


def test_gzip_body_for_a_hashed_name_is_verified(home, cache, server):
    data = checkpoint_bytes(small_model(seed=3))
    name = hashed_name("packed", data)
    server.routes[f"/{name}"], _ = _gzip_route(data)
    assert download_checkpoint(server.url(f"/{name}")).read_bytes() == data  # decoded, checked
    wrong = hashed_name("wrong", b"other bytes")
    server.routes[f"/{wrong}"], _ = _gzip_route(data)
    with pytest.raises(ChecksumError, match=(
            rf"^sha256 mismatch for {re.escape(wrong)} from {re.escape(server.url(f'/{wrong}'))}: "
            rf"expected prefix {sha(b'other bytes')[:8]}, got {sha(data)}; the file was not cached$")):
        download_checkpoint(server.url(f"/{wrong}"))
    assert not (cache / wrong).exists()


# -- 33: numeric settings ---------------------------------------------------------------------
NUMERIC = ["HYDRA_CNN_CONNECT_TIMEOUT", "HYDRA_CNN_READ_TIMEOUT", "HYDRA_CNN_DOWNLOAD_TIMEOUT",
           "HYDRA_CNN_DOWNLOAD_RETRIES", "HYDRA_CNN_BACKOFF", "HYDRA_CNN_BACKOFF_MAX",
           "HYDRA_CNN_RETRY_AFTER_MAX", "HYDRA_CNN_LOCK_TIMEOUT"]


@pytest.mark.parametrize("var", NUMERIC)
@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "-1", "abc", "1e999"])
def test_bad_numeric_settings(home, server, monkeypatch, var, value):
    server.files["/x-12345678.pth"] = b"x"
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=rf"^{var}={re.escape(repr(value))} is not accepted "
                                         r"\([a-z ]+\): expected ") as info:
        download_checkpoint(server.url("/x-12345678.pth"))
    msg = str(info.value)
    assert ("an integer from 0 to 100" in msg) == (var == "HYDRA_CNN_DOWNLOAD_RETRIES")
    assert "seconds" in msg or var == "HYDRA_CNN_DOWNLOAD_RETRIES"
    assert server.count() == 0


@pytest.mark.parametrize(("field", "value"), [
    ("deadline", float("nan")), ("read_timeout", float("nan")), ("lock_timeout", float("nan")),
    ("connect_timeout", 0), ("deadline", float("inf")), ("backoff", -0.5),
    ("max_retries", 2.5), ("max_retries", True), ("max_redirects", 1000),
])
def test_bad_settings_as_arguments(field, value):
    with pytest.raises(ValueError, match=rf"{field}={value!r} is not accepted: expected"):
        DownloadSettings(**{field: value})


def test_good_values_still_work(home, monkeypatch):
    monkeypatch.setenv("HYDRA_CNN_DOWNLOAD_TIMEOUT", "none")
    monkeypatch.setenv("HYDRA_CNN_LOCK_TIMEOUT", "0")
    monkeypatch.setenv("HYDRA_CNN_BACKOFF", "0")
    monkeypatch.setenv("HYDRA_CNN_DOWNLOAD_RETRIES", "0")
    s = DownloadSettings.from_env()
    assert (s.deadline, s.lock_timeout, s.backoff, s.max_retries) == (None, None, 0.0, 0)


# -- 38: a 404 after a redirect ---------------------------------------------------------------
def test_404_after_redirect_names_both_urls(home, cache, server):
    name = hashed_name("moved", b"gone")
    server.routes["/start.pth"] = lambda h, n: send_status(h, 302, {"Location": f"/new/{name}"})
    model = small_model()
    before, state = seed_good_file(cache), model_state(model)
    with pytest.raises(DownloadError, match=(
            rf"^HTTP 404 Not Found for {re.escape(server.url(f'/new/{name}'))} "
            rf"\(redirected from {re.escape(server.url('/start.pth'))}\)")):
        load_checkpoint(model, server.url("/start.pth"), logger="silent")
    assert server.count() == 2
    assert_invariants(cache, "start.pth", before, model, state)


def test_unverified_warning_names_the_cache_file(home, cache, server):
    server.files["/plain.pth"] = checkpoint_bytes(small_model())
    with pytest.warns(UnverifiedDownloadWarning, match=r"cached as plain\.u[0-9a-f]{16}\.pth "
                                                       r"for this URL only"):
        download_checkpoint(server.url("/plain.pth"))


def test_model_unchanged_after_a_failed_download(home, cache, server):
    model = small_model()
    state = model_state(model)
    server.routes["/broken.pth"] = lambda h, n: send_status(h, 200, {}, PORTAL)
    with pytest.raises(ContentError, match=(
            rf"^{re.escape(server.url('/broken.pth'))} answered HTTP 200 with an HTML page of "
            rf"{len(PORTAL)} bytes \(a login or error page\?\), not a checkpoint; nothing was cached")):
        load_checkpoint(model, server.url("/broken.pth"), logger="silent")
    assert_model_unchanged(model, state)


@pytest.mark.parametrize("where", ["index", "record"])
def test_symlink_planted_in_the_index_is_refused_before_any_request(home, cache, server,
                                                                    tmp_path, where):
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"precious")
    server.files["/latest.pth"] = checkpoint_bytes(small_model())
    cache.mkdir(parents=True)
    if where == "index":
        (cache / ".index").symlink_to(tmp_path)
    else:
        from hydra_cnn.checkpoint.cache import cache_name

        (cache / ".index").mkdir()
        name = cache_name("latest.pth", server.url("/latest.pth"))
        (cache / ".index" / f"{name}.json").symlink_to(victim)
    with pytest.raises(ValueError, match="is a symlink"):
        download_checkpoint(server.url("/latest.pth"))
    assert victim.read_bytes() == b"precious" and server.count() == 0
