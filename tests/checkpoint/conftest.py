"""Fixtures for the checkpoint tests: an isolated HOME, small timeouts, loopback servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.checkpoint.ckpt_helpers import HTTPTestServer, RawServer

_ENV_VARS = [
    "HYDRA_CNN_HOME", "MMCV_HOME", "XDG_CACHE_HOME", "HYDRA_CNN_OFFLINE",
    "HYDRA_CNN_NO_PROGRESS", "HYDRA_CNN_CONNECT_TIMEOUT", "HYDRA_CNN_READ_TIMEOUT",
    "HYDRA_CNN_DOWNLOAD_TIMEOUT", "HYDRA_CNN_DOWNLOAD_RETRIES", "HYDRA_CNN_BACKOFF",
    "HYDRA_CNN_BACKOFF_MAX", "HYDRA_CNN_RETRY_AFTER_MAX", "HYDRA_CNN_LOCK_TIMEOUT",
    "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy",
    "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD",
    "TORCH_FORCE_WEIGHTS_ONLY_LOAD",
]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HOME with small timeouts and no proxies; returns HOME (cache: HOME/checkpoints)."""
    for var in _ENV_VARS:
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "home"
    path.mkdir()
    monkeypatch.setenv("HYDRA_CNN_HOME", str(path))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("HYDRA_CNN_CONNECT_TIMEOUT", "2")
    monkeypatch.setenv("HYDRA_CNN_READ_TIMEOUT", "2")
    monkeypatch.setenv("HYDRA_CNN_DOWNLOAD_TIMEOUT", "20")
    monkeypatch.setenv("HYDRA_CNN_DOWNLOAD_RETRIES", "3")
    monkeypatch.setenv("HYDRA_CNN_BACKOFF", "0.01")
    monkeypatch.setenv("HYDRA_CNN_BACKOFF_MAX", "0.05")
    monkeypatch.setenv("HYDRA_CNN_RETRY_AFTER_MAX", "5")
    return path


@pytest.fixture
def cache(home: Path) -> Path:
    return home / "checkpoints"


@pytest.fixture
def server() -> Iterator[HTTPTestServer]:
    srv = HTTPTestServer()
    yield srv
    srv.close()


@pytest.fixture
def raw_server() -> Iterator[list[RawServer]]:
    """A list the test appends RawServers to; all are closed afterwards."""
    servers: list[RawServer] = []
    yield servers
    for srv in servers:
        srv.close()


@pytest.fixture(autouse=True)
def _requests_need_timeouts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any request sent without a connect and read timeout (it could hang forever)."""
    import requests.adapters

    original = requests.adapters.HTTPAdapter.send

    def send(self, request, stream=False, timeout=None, *args, **kwargs):  # type: ignore[no-untyped-def]
        parts = timeout if isinstance(timeout, tuple) else (timeout,)
        assert timeout is not None and all(t is not None for t in parts), (
            f"request without a timeout: {request.url}")
        return original(self, request, stream, timeout, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
