"""Download and cache behaviour with real processes: SIGINT/SIGKILL mid-download, concurrent
downloads, no usable lock, torch.distributed (gloo), disk full, a read-only mount, an encoded
body checked against the free space, save_checkpoint on a full disk.

No test here can hang: every worker has a watchdog (it exits after ``CKPT_WATCHDOG`` seconds,
printing its stacks), every wait has a timeout, and the processes a test started are killed
when it ends, whatever happened.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hydra_cnn.checkpoint import download_checkpoint
from tests.checkpoint.ckpt_helpers import (
    HTTPTestServer,
    RawServer,
    assert_invariants,
    checkpoint_bytes,
    hashed_name,
    raw_headers,
    seed_good_file,
    send_status,
    serve,
    sha,
    small_model,
    snapshot_cache,
)

WORKER = str(Path(__file__).with_name("ckpt_worker.py"))


WATCHDOG = 90  # seconds a worker may run before it ends itself
_running: list[subprocess.Popen[str]] = []


@pytest.fixture(autouse=True)
def _kill_leftover_workers():
    """Kill every process the test started and did not reap (a failure, a timeout)."""
    yield
    while _running:
        proc = _running.pop()
        if proc.poll() is None:
            proc.kill()
        try:
            proc.communicate(timeout=10)
        except (subprocess.TimeoutExpired, ValueError, OSError):
            pass


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CKPT_WATCHDOG": str(WATCHDOG),
           **extra}
    return env


def _track(proc: subprocess.Popen[str]) -> subprocess.Popen[str]:
    _running.append(proc)
    return proc


def _spawn(*args: str, **env: str) -> subprocess.Popen[str]:
    return _track(subprocess.Popen([sys.executable, WORKER, *args], env=_env(**env),
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))


def _result(proc: subprocess.Popen[str], timeout: float = 60) -> tuple[dict, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"a worker ran past {timeout} s and was killed; stderr:\n{err}")
    lines = [ln for ln in out.splitlines() if ln.startswith("{")]
    assert lines, f"no result from the worker; stderr:\n{err}"
    return json.loads(lines[-1]), err


def _run_on_small_tmpfs(mnt: Path, size: str, *worker_args: str, **env: str) -> tuple[dict, str]:
    """Run the worker in its own mount namespace with a ``size`` tmpfs mounted at ``mnt``."""
    mnt.mkdir()
    args = " ".join(f'"{a}"' for a in worker_args)
    script = f'mount -t tmpfs -o size={size} tmpfs "{mnt}" && exec "{sys.executable}" "{WORKER}" {args}'
    proc = _track(subprocess.Popen(["unshare", "-m", "sh", "-c", script],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=_env(**env)))
    return _result(proc)


def _wait_for(pred, timeout: float = 15.0) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.02)
    raise AssertionError("condition not reached in time")


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run(["unshare", "-m", "true"], capture_output=True,
                              timeout=10).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


needs_mount_ns = pytest.mark.skipif(not _unshare_works(),
                                    reason="needs `unshare -m` (mount namespaces)")


def _trickle_then_serve(server: HTTPTestServer, data: bytes):
    def behaviour(h, n):
        if n > 1:
            serve(h, data)
            return
        h.send_response(200)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data[:10_000])
        h.wfile.flush()
        i = 10_000
        try:
            while not server.stop.wait(0.1) and i < len(data) - 1:
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
                i += 1
        except OSError:
            pass
        h.close_connection = True

    return behaviour


def _partials(cache: Path) -> list[Path]:
    return list(cache.glob("*.partial")) if cache.is_dir() else []


# -- 12: SIGINT and SIGKILL mid-download ------------------------------------------------------
def test_sigint_leaves_nothing(home, cache, server):
    data = os.urandom(200_000)
    name = hashed_name("interrupted", data)
    server.routes[f"/{name}"] = _trickle_then_serve(server, data)
    before = seed_good_file(cache)
    # a deadline far beyond the test's: under load the worker's start (importing torch) can take
    # many seconds, and the signal, not the deadline, must end this download
    proc = _spawn("download", server.url(f"/{name}"), HYDRA_CNN_DOWNLOAD_TIMEOUT="300")
    _wait_for(lambda: any(p.stat().st_size >= 10_000 for p in _partials(cache)), 60)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert_invariants(cache, name, before)


def test_sigkill_then_rerun_cleans_up(home, cache, server):
    data = os.urandom(200_000)
    name = hashed_name("killed", data)
    server.routes[f"/{name}"] = _trickle_then_serve(server, data)
    before = seed_good_file(cache)
    proc = _spawn("download", server.url(f"/{name}"), HYDRA_CNN_DOWNLOAD_TIMEOUT="300")
    _wait_for(lambda: any(p.stat().st_size >= 10_000 for p in _partials(cache)), 60)
    proc.kill()
    proc.communicate(timeout=20)
    stale = _partials(cache)
    assert len(stale) == 1  # SIGKILL cannot clean up ...
    path = download_checkpoint(server.url(f"/{name}"))  # ... the next run does
    assert path.read_bytes() == data
    assert not _partials(cache)
    for fname, content in before.items():
        assert (cache / fname).read_bytes() == content


# -- 14 / 15: several processes download the same file ---------------------------------------
def _race(tmp_path: Path, server: HTTPTestServer, url: str, n: int = 3) -> list[tuple[dict, str]]:
    go = tmp_path / "go"
    procs = [_spawn("download", url, CKPT_READY=str(tmp_path / f"ready{i}"), CKPT_GO=str(go))
             for i in range(n)]
    _wait_for(lambda: all((tmp_path / f"ready{i}").exists() for i in range(n)), 30)
    go.touch()
    return [_result(p) for p in procs]


def _slow(data: bytes):
    def behaviour(h, n):
        time.sleep(0.5)
        serve(h, data)

    return behaviour


def test_processes_share_one_get(home, cache, server, tmp_path):
    data = os.urandom(300_000)
    name = hashed_name("shared", data)
    server.routes[f"/{name}"] = _slow(data)
    results = _race(tmp_path, server, server.url(f"/{name}"))
    assert all("path" in r for r, _ in results), results
    assert {r["path"] for r, _ in results} == {str(cache / name)}
    assert (cache / name).read_bytes() == data
    assert server.count() == 1
    assert not _partials(cache)


def test_no_usable_lock_is_still_correct(home, cache, server, tmp_path):
    data = os.urandom(300_000)
    name = hashed_name("unlocked", data)
    server.routes[f"/{name}"] = _slow(data)
    import hashlib

    # a folder where the lock file should be: no process can take the lock (a regular file
    # where the .locks folder should be is refused outright, before downloading)
    (cache / ".locks" / (hashlib.sha256(name.encode()).hexdigest()[:32] + ".lock")).mkdir(
        parents=True)
    results = _race(tmp_path, server, server.url(f"/{name}"))
    assert all("path" in r for r, _ in results), results
    assert all("could not take the download lock" in err for _, err in results)
    assert (cache / name).read_bytes() == data
    assert 1 <= server.count() <= 3
    assert not _partials(cache)


# -- 16: torch.distributed (gloo), local rank 0 downloads, failures reach every rank ----------
def test_distributed(home, cache, server, tmp_path):
    import torch
    from torch import nn

    torch.manual_seed(123)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4, 2))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    data = checkpoint_bytes(model)
    name = hashed_name("dist", data)
    server.files[f"/{name}"] = data
    bad = hashed_name("gone", b"gone")
    server.routes[f"/{bad}"] = lambda h, n: send_status(h, 404)
    world = 3
    init = tmp_path / "pg_init"
    procs = [_spawn("dist", str(r), str(world), str(init), server.url(f"/{name}"),
                    server.url(f"/{bad}")) for r in range(world)]
    results = {}
    for p in procs:
        r, err = _result(p, timeout=120)  # a hang would time out here
        assert p.returncode == 0, err
        results[r["rank"]] = r
    expected = float(model[0].weight.detach().sum())
    for rank in range(world):
        assert abs(results[rank]["ok"] - expected) < 1e-4, results[rank]
        assert results[rank]["after_bad"] == results[rank]["ok"]
        assert "HTTP 404" in results[rank]["bad_error"], results[rank]
    assert results[0]["bad_error"].startswith("DownloadError: HTTP 404")
    for rank in (1, 2):
        assert "rank 0 (the download leader of this node) failed" in results[rank]["bad_error"]
    assert server.count(f"/{name}") == 1  # one GET per node
    assert server.count(f"/{bad}") == 1
    assert not _partials(cache)


# -- 17: disk full during the write -----------------------------------------------------------
def test_file_size_limit(home, cache, server):
    data = os.urandom(300_000)
    name = hashed_name("toolarge", data)
    server.files[f"/{name}"] = data
    before = seed_good_file(cache)
    proc = _spawn("download", server.url(f"/{name}"), CKPT_FSIZE_LIMIT=str(64 * 1024))
    result, _err = _result(proc)
    assert proc.returncode == 1
    assert result["error"] == "OSError" and result["errno"] == 27  # EFBIG
    assert str(cache / name) in result["message"] and ".partial" in result["message"]
    assert "no space left on the disk, or a file size limit" in result["message"]
    assert_invariants(cache, name, before)


@needs_mount_ns
@pytest.mark.parametrize("with_length", [False, True])
def test_full_tmpfs(home, server, raw_server, tmp_path, with_length):
    data = os.urandom(400_000)
    name = hashed_name("nospace", data)
    if with_length:  # the size is known: refused before writing
        server.files[f"/{name}"] = data
        url = server.url(f"/{name}")
    else:  # no Content-Length: ENOSPC in the middle of the write
        def body(conn, head, n, stop):
            conn.sendall(raw_headers() + data)

        srv = RawServer(body)
        raw_server.append(srv)
        url = srv.url(f"/{name}")
    seed_dir = tmp_path / "seed"
    before = seed_good_file(seed_dir)
    (seed_file,) = seed_dir.iterdir()
    mnt = tmp_path / "small"
    result, err = _run_on_small_tmpfs(mnt, "128k", "download", url, HYDRA_CNN_HOME=str(mnt),
                                      CKPT_SEED=str(seed_file), CKPT_LIST="1")
    assert result["error"] == "OSError" and result["errno"] == 28, (result, err)
    assert str(mnt / "checkpoints" / name) in result["message"]
    assert result["files"] == {k: sha(v) for k, v in before.items()}  # (a), (b), (c)


# -- 18: a read-only file system with the file present ---------------------------------------
@needs_mount_ns
def test_read_only_mount(home, cache, server):
    model = small_model(seed=2)
    data = checkpoint_bytes(model)
    name = hashed_name("romount", data)
    server.files[f"/{name}"] = data
    url = server.url(f"/{name}")
    download_checkpoint(url)
    before = snapshot_cache(cache)
    code = (
        "import torch\n"
        "from torch import nn\n"
        "from hydra_cnn.checkpoint import load_checkpoint\n"
        "m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),"
        " nn.Linear(4, 2))\n"
        "try:\n"
        "    open(r'" + str(cache / "probe") + "', 'w')\n"
        "    print('WRITABLE')\n"
        "except OSError as e:\n"
        "    print('READONLY', e.errno)\n"
        f"load_checkpoint(m, {url!r}, logger='silent')\n"
        "print('OK', float(m[0].weight.sum()))\n"
    )
    script = (f'mount --bind "{home}" "{home}" && mount -o remount,ro,bind "{home}" && '
              f'exec "{sys.executable}" -c "$CODE"')
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script], capture_output=True,
                          text=True, timeout=60, env=_env(CODE=code))
    assert proc.returncode == 0, proc.stderr
    assert "READONLY 30" in proc.stdout  # EROFS: the mount really is read-only
    assert abs(float(proc.stdout.split("OK")[1]) - float(model[0].weight.detach().sum())) < 1e-5
    assert server.count() == 1 and snapshot_cache(cache) == before


# -- 38: save_checkpoint on a full disk -------------------------------------------------------
def test_save_checkpoint_file_size_limit(tmp_path):
    folder = tmp_path / "work_dirs"
    folder.mkdir()
    path = folder / "latest.pth"
    old = b"the previous checkpoint"
    path.write_bytes(old)
    proc = _spawn("save", str(path), CKPT_FSIZE_LIMIT=str(64 * 1024))
    result, err = _result(proc)
    assert proc.returncode == 1, err
    assert result["error"] == "OSError" and result["errno"] == 27, result  # EFBIG
    assert "no space left on the device" in result["message"]
    assert f"while saving {path}; the existing {path} is intact" in result["message"]
    assert "unexpected pos" not in result["message"]
    assert path.read_bytes() == old and result["files"] == ["latest.pth"]  # no temp file left


@needs_mount_ns
def test_save_checkpoint_full_tmpfs(tmp_path):
    mnt = tmp_path / "small"
    path = mnt / "latest.pth"
    result, err = _run_on_small_tmpfs(mnt, "128k", "save", str(path))
    assert result["error"] == "OSError" and result["errno"] == 28, (result, err)  # ENOSPC
    assert f"while saving {path}; nothing was written there" in result["message"]
    assert result["files"] == []


# -- 29: an encoded body is checked against the free space by its decoded size ---------------
@needs_mount_ns
def test_decoded_size_against_free_space(home, server, tmp_path):
    import gzip

    data = os.urandom(1000) + b"\0" * 600_000  # 600 KB decoded, ~2 KB on the wire
    name = hashed_name("packed", data)
    packed = gzip.compress(data)
    server.routes[f"/{name}"] = lambda h, n: send_status(h, 200, {"Content-Encoding": "gzip"},
                                                         packed)
    seed_dir = tmp_path / "seed"
    before = seed_good_file(seed_dir)
    (seed_file,) = seed_dir.iterdir()
    mnt = tmp_path / "small"
    result, err = _run_on_small_tmpfs(mnt, "256k", "download", server.url("/" + name),
                                      HYDRA_CNN_HOME=str(mnt), CKPT_SEED=str(seed_file),
                                      CKPT_LIST="1")
    assert result["error"] == "OSError" and result["errno"] == 28, (result, err)
    assert "grew past the" in result["message"]  # our check, before the disk filled up
    assert str(mnt / "checkpoints" / name) in result["message"]
    assert result["files"] == {k: sha(v) for k, v in before.items()}  # (a), (b), (c)
