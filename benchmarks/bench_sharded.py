"""Peak host memory per rank while a full checkpoint loads into an FSDP2-sharded model.

A ~400 MB checkpoint (``--quick`` or ``QUICK=1``: ~25 MB) of 6 ``Linear`` layers is loaded into
the same model built on the meta device, sharded with ``fully_shard`` over 2 CPU ranks (gloo)
and allocated with ``to_empty``. Each load runs in 2 fresh processes, candidate and baseline
alternating, ``--repeats`` times (default 3):

- candidate: ``hydra_cnn.checkpoint.load_checkpoint(model, path)`` (rank 0 reads with mmap and
  broadcasts one tensor at a time; each rank copies its slice);
- baseline: torch's ``set_model_state_dict(model, sd, options=StateDictOptions(
  full_state_dict=True, broadcast_from_rank0=True))`` with rank 0's ``sd`` from
  ``torch.load(path, mmap=True, weights_only=True)``.

Per rank it reports the peak host memory during the load, as a multiple of the rank's shard
(checkpoint / N): the shard itself (allocated before the load) plus the peak RSS the load adds
(``getrusage`` max RSS, and RSS sampled every millisecond, minus the RSS after the build; RSS
counts memory-mapped file pages too). The bound is shard + largest tensor + 5%.

    python benchmarks/bench_sharded.py            # full size
    python benchmarks/bench_sharded.py --quick    # or QUICK=1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

WORLD = 2
LAYERS = 6


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024 / 1e6  # kB -> MB
    return 0.0


class _Sampler:
    """Samples VmRSS and RssAnon every millisecond; keeps the peaks."""

    def __init__(self) -> None:
        self.rss = _status_mb("VmRSS")
        self.anon = _status_mb("RssAnon")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.001):
            self.rss = max(self.rss, _status_mb("VmRSS"))
            self.anon = max(self.anon, _status_mb("RssAnon"))

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.rss = max(self.rss, _status_mb("VmRSS"))
        self.anon = max(self.anon, _status_mb("RssAnon"))


def _model(width: int) -> Any:
    from torch import nn

    return nn.Sequential(*[nn.Linear(width, width) for _ in range(LAYERS)])


def worker(kind: str, rank: int, init_file: str, path: str, width: int) -> None:
    """One rank: build sharded on meta, measure one load, print a JSON line."""
    import gc
    import resource
    from datetime import timedelta

    import torch
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    from hydra_cnn.checkpoint import load_checkpoint

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=WORLD, timeout=timedelta(seconds=120))
    mesh = init_device_mesh("cpu", (WORLD,))
    with torch.device("meta"):
        model = _model(width)
    for layer in model:
        fully_shard(layer, mesh=mesh)
    fully_shard(model, mesh=mesh)
    model.to_empty(device="cpu")
    with torch.no_grad():
        for p in model.parameters():
            p.to_local().zero_()  # touch the shard's pages: they count before the load
    gc.collect()
    dist.barrier()
    base = _status_mb("VmRSS")
    anon_base = _status_mb("RssAnon")
    max_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    start = time.perf_counter()
    with _Sampler() as sampler:
        if kind == "hydra_cnn":
            load_checkpoint(model, path, logger="silent")
        else:
            from torch.distributed.checkpoint.state_dict import (
                StateDictOptions,
                set_model_state_dict,
            )

            sd = torch.load(path, mmap=True, weights_only=True) if rank == 0 else {}
            set_model_state_dict(model, sd, options=StateDictOptions(
                full_state_dict=True, broadcast_from_rank0=True))
            del sd
    seconds = time.perf_counter() - start
    max_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6
    peak = max(sampler.rss, max_after if max_after > max_before else 0.0)
    # the values arrived: compare this rank's slice of the first and last layers with the file
    ref = torch.load(path, mmap=True, weights_only=True)
    ok = True
    for key in ("0.weight", f"{LAYERS - 1}.weight"):
        local = model.state_dict()[key].to_local()
        rows = ref[key].chunk(WORLD)[rank]
        ok = ok and torch.equal(local, rows)
    dist.barrier()
    print(json.dumps({"rank": rank, "extra_mb": max(peak - base, 0.0),
                      "anon_mb": max(sampler.anon - anon_base, 0.0), "seconds": seconds,
                      "ok": bool(ok)}), flush=True)
    sys.stdout.flush()
    os._exit(0)


def _one_run(kind: str, path: Path, width: int, tmp: Path) -> list[dict[str, Any]]:
    init_file = tmp / f"store-{time.monotonic_ns()}"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    procs = [subprocess.Popen([sys.executable, __file__, "--worker", kind, str(r),
                               str(init_file), str(path), str(width)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for r in range(WORLD)]
    out = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=600)
        lines = [ln for ln in stdout.splitlines() if ln.startswith("{")]
        if proc.returncode or not lines:
            raise RuntimeError(f"{kind} worker failed:\n{stderr[-3000:]}")
        out.append(json.loads(lines[-1]))
    if not all(r["ok"] for r in out):
        raise RuntimeError(f"{kind}: the loaded shards differ from the file")
    return sorted(out, key=lambda r: r["rank"])


def main() -> int:
    from _common import row

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a ~25 MB checkpoint")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    quick = args.quick or os.environ.get("QUICK") == "1"
    width = 1024 if quick else 4096

    import torch

    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        path = tmp / "ckpt.pth"
        torch.manual_seed(0)
        torch.save(_model(width).state_dict(), path)
        size_mb = path.stat().st_size / 1e6
        largest_mb = width * width * 4 / 1e6
        shard_mb = size_mb / WORLD
        bound = (shard_mb + largest_mb) * 1.05 / shard_mb
        runs: dict[str, list[list[dict[str, Any]]]] = {"hydra_cnn": [], "torch": []}
        for i in range(args.repeats):
            order = ("torch", "hydra_cnn") if i % 2 == 0 else ("hydra_cnn", "torch")
            for kind in order:
                runs[kind].append(_one_run(kind, path, width, tmp))
        base = f"torch set_model_state_dict(full_state_dict, broadcast_from_rank0), {WORLD} ranks"
        for rank in range(WORLD):
            def per(kind: str, key: str, scale: float, add: float, r: int = rank
                    ) -> list[float]:
                return [(run[r][key] + add) / scale for run in runs[kind]]

            for key, label, add, unit, target, note in (
                ("extra_mb", "peak host memory / (checkpoint/N)", shard_mb, "x shard",
                 f"<= {bound:.2f} (shard + largest tensor + 5%)",
                 f"shard {shard_mb:.0f} MB, largest tensor {largest_mb:.0f} MB; peak RSS "
                 f"added by the load (mapped file pages count), plus the shard"),
                ("anon_mb", "peak anonymous memory added / (checkpoint/N)", 0.0, "x shard", "",
                 "heap only (sampled each ms), without the shard"),
            ):
                cs, bs = per("hydra_cnn", key, shard_mb, add), per("torch", key, shard_mb, add)
                ratios = [c / b if b else float("nan") for c, b in zip(cs, bs, strict=True)]
                row(f"sharded load of a full checkpoint ({size_mb:.0f} MB), rank {rank}: "
                    f"{label}", base, unit,
                    (sorted(bs)[len(bs) // 2], sorted(cs)[len(cs) // 2], ratios),
                    target=target, note=note)
        cs = [max(r["seconds"] for r in run) for run in runs["hydra_cnn"]]
        bs = [max(r["seconds"] for r in run) for run in runs["torch"]]
        row(f"sharded load of a full checkpoint ({size_mb:.0f} MB): time (slowest rank)", base,
            "s", (sorted(bs)[len(bs) // 2], sorted(cs)[len(cs) // 2],
                  [c / b for c, b in zip(cs, bs, strict=True)]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        worker(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6]))
    else:
        raise SystemExit(main())
