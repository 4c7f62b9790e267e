"""A child process for the multi-process checkpoint tests (run as a script, not collected).

    python ckpt_worker.py download URL     -> prints {"path": ...} or {"error": ..., "message": ...}
    python ckpt_worker.py save PATH        -> save_checkpoint of a small model; the same output
    python ckpt_worker.py dist RANK WORLD INIT_FILE URL_OK URL_BAD

Environment: CKPT_READY / CKPT_GO (files to start in step), CKPT_FSIZE_LIMIT (bytes, for
RLIMIT_FSIZE), CKPT_SEED (a good file copied into the cache first), CKPT_LIST (print the cache's
files and their sha256 afterwards), CKPT_WATCHDOG (seconds, default 90: a worker still running
then prints its stacks and exits, so no test can hang on it).
"""

from __future__ import annotations

import faulthandler
import hashlib
import json
import os
import shutil
import sys
import time


def _listing(folder: str) -> dict[str, str]:
    out = {}
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as fh:
                out[name] = hashlib.sha256(fh.read()).hexdigest()
    return out


def _limit_file_size() -> None:
    limit = os.environ.get("CKPT_FSIZE_LIMIT")
    if limit:
        import resource
        import signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (int(limit), int(limit)))


def save(path: str) -> int:
    import torch
    from torch import nn

    from hydra_cnn.checkpoint import save_checkpoint

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(256, 256))
    _limit_file_size()
    try:
        save_checkpoint(model, path)
        result: dict[str, object] = {"path": path}
    except Exception as err:
        result = {"error": type(err).__name__, "message": str(err),
                  "errno": getattr(err, "errno", None)}
    result["files"] = sorted(os.listdir(os.path.dirname(path)))
    print(json.dumps(result), flush=True)
    return 1 if "error" in result else 0


def download(url: str) -> int:
    from hydra_cnn.checkpoint import download_checkpoint, get_cache_dir

    cache = str(get_cache_dir())
    seed = os.environ.get("CKPT_SEED")
    if seed:
        os.makedirs(cache, exist_ok=True)
        shutil.copy(seed, cache)
    _limit_file_size()
    ready, go = os.environ.get("CKPT_READY"), os.environ.get("CKPT_GO")
    if ready:
        open(ready, "w").close()
    if go:
        deadline = time.monotonic() + 30
        while not os.path.exists(go) and time.monotonic() < deadline:
            time.sleep(0.005)
    result: dict[str, object]
    code = 0
    try:
        result = {"path": str(download_checkpoint(url))}
    except Exception as err:
        result = {"error": type(err).__name__, "message": str(err),
                  "errno": getattr(err, "errno", None)}
        code = 1
    if os.environ.get("CKPT_LIST"):
        result["files"] = _listing(cache)
    print(json.dumps(result), flush=True)
    return code


def dist(rank: int, world: int, init_file: str, url_ok: str, url_bad: str) -> int:
    from datetime import timedelta

    import torch
    import torch.distributed as td
    from torch import nn

    from hydra_cnn.checkpoint import load_checkpoint

    # every collective gives up after 30 s; the watchdog ends the process in any case
    td.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                          world_size=world, timeout=timedelta(seconds=30))
    torch.manual_seed(123)
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Flatten(),
                          nn.Linear(4, 2))
    out: dict[str, object] = {"rank": rank}
    try:
        load_checkpoint(model, url_ok, logger="silent")
        out["ok"] = float(model[0].weight.sum())
    except Exception as err:
        out["ok_error"] = f"{type(err).__name__}: {err}"
    try:
        load_checkpoint(model, url_bad, logger="silent")
        out["bad"] = "no error"
    except Exception as err:
        out["bad_error"] = f"{type(err).__name__}: {err}"
    out["after_bad"] = float(model[0].weight.detach().sum())  # (d): unchanged by the failure
    td.barrier()  # no rank leaves while another still talks to it
    print(json.dumps(out), flush=True)
    sys.stderr.flush()
    # Exit without destroy_process_group: on torch 2.4 (gloo) it can deadlock. A gloo thread
    # releasing the last allgather's tensors waits for the GIL, while ~ProcessGroupGloo, run
    # with the GIL held, joins that thread (3 of 4 runs of the distributed download test on
    # torch 2.4.1; a barrier before the destroy still hung 1 of 3).
    os._exit(0)


if __name__ == "__main__":
    faulthandler.dump_traceback_later(float(os.environ.get("CKPT_WATCHDOG", "90")), exit=True)
    # Ctrl-C raises KeyboardInterrupt, as in a user's terminal, even when the test run itself
    # was started in the background (a non-interactive shell's `cmd &` ignores SIGINT, and the
    # ignore is inherited, so Python would not install its handler)
    import signal

    signal.signal(signal.SIGINT, signal.default_int_handler)
    if sys.argv[1] == "save":
        sys.exit(save(sys.argv[2]))
    if sys.argv[1] == "download":
        sys.exit(download(sys.argv[2]))
    if sys.argv[1] == "dist":
        r, w, f, ok, bad = sys.argv[2:7]
        sys.exit(dist(int(r), int(w), f, ok, bad))
    sys.exit(f"unknown mode {sys.argv[1]!r}")
