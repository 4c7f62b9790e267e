"""Weight-init cost of hydra_cnn against a plain ``torch.nn.init`` loop doing the same work.

    python benchmarks/bench_init.py [--quick] [--repeats 5]

Models: a ResNet-50-shaped network of ``BaseModule`` bottleneck blocks (25.6M parameters) and
the same network 4.6x wider (~500M parameters; ``--quick`` skips it). The init is Kaiming
(fan_out, relu) on every conv and linear weight, biases 0, batch norms 1/0. Rows (ratios are
the median of paired candidate/baseline ratios over interleaved repeats, then min..max):

- ``initialize()`` with the report on and off, over the plain loop;
- ``init_weights()`` (the same config as the model's ``init_cfg``) with the report on and off;
- ``build_model()`` (build on the meta device, allocate, init once) over a plain build
  (PyTorch's default init) followed by the plain loop;
- keyed init (``initialize(..., seed=0)``) over the plain loop;
- ``initialize()`` on a ~1M-parameter model of the same layout (cost flat in parameter count);
- ``initialize()`` on stacks of 100 and 3,200 small modules over the plain loop, and the
  second ratio over the first (cost flat in module count);
- the first ``build_model()`` in a fresh process minus a warm call (time and memory: lazy
  imports on the first call);
- keyed init of a ~100M-parameter model sharded with ``fully_shard`` over 2 processes (gloo):
  the slowest rank's time over the single-process keyed init of the same model.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _common import Row, compare_available, paired, row
from torch import nn

from hydra_cnn.init import BaseModule, Sequential, build_model, initialize

INIT_CFG = [
    dict(type="Kaiming", layer=["Conv2d", "Linear"], mode="fan_out", nonlinearity="relu"),
    dict(type="Constant", layer="_BatchNorm", val=1, bias=0),
]


class Bottleneck(BaseModule):
    """ResNet-50's bottleneck: 1x1, 3x3, 1x1 convs with batch norms, optional projection."""

    def __init__(self, cin: int, mid: int, stride: int) -> None:
        super().__init__()
        cout = mid * 4
        self.conv1 = nn.Conv2d(cin, mid, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(mid)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(mid)
        self.conv3 = nn.Conv2d(mid, cout, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(cout)
        self.downsample = (
            Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
            if stride != 1 or cin != cout else None
        )


class ResNetLike(BaseModule):
    """ResNet-50's layout ([3, 4, 6, 3] bottlenecks) with a width multiplier."""

    def __init__(self, width: float = 1.0, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        base = int(64 * width)
        self.conv1 = nn.Conv2d(3, base, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(base)
        cin, layers = base, []
        for i, blocks in enumerate((3, 4, 6, 3)):
            mid = base * 2**i
            stage = []
            for j in range(blocks):
                stage.append(Bottleneck(cin, mid, 2 if (j == 0 and i > 0) else 1))
                cin = mid * 4
            layers.append(Sequential(*stage))
        self.layers = Sequential(*layers)
        self.fc = nn.Linear(cin, 1000)


def plain_init(model: nn.Module) -> None:
    """The same init written as a plain loop over ``torch.nn.init``."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def seconds(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_seconds(fn: Any) -> float:
    """CPU seconds of this process spent in ``fn()`` (the machine's other load left out)."""
    start = time.process_time()
    fn()
    return time.process_time() - start


def reset(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, BaseModule):
            m.is_init = False


def bench_init(name: str, width: float, repeats: int) -> None:
    """initialize()/init_weights() with the report on and off, over the plain loop."""
    model = ResNetLike(width, init_cfg=INIT_CFG)
    n = sum(p.numel() for p in model.parameters())
    print(f"\n{name}: {n / 1e6:.1f}M parameters, {len(list(model.modules()))} modules", flush=True)

    def plain() -> float:
        return seconds(lambda: plain_init(model))

    def init_weights(report: bool) -> float:
        reset(model)
        model.init_report_enabled = report
        return seconds(model.init_weights)

    for what, candidate in (
        ("initialize(), report on", lambda: seconds(lambda: initialize(model, INIT_CFG))),
        ("initialize(), report off",
         lambda: seconds(lambda: initialize(model, INIT_CFG, report=False))),
        ("init_weights(), report on", lambda: init_weights(True)),
        ("init_weights(), report off", lambda: init_weights(False)),
    ):
        row(f"{name} {what}", "torch.nn.init loop", "s", paired(candidate, plain, repeats),
            target="<= 1.05", note=f"{n / 1e6:.0f}M parameters")
    if compare_available()["mmengine"]:
        from mmengine.model import initialize as mme_initialize

        # mmengine's initialize (same config; it has no report) in the "report off" row's column
        row(f"{name} initialize(), report off", "torch.nn.init loop", "s",
            paired(lambda: seconds(lambda: mme_initialize(model, INIT_CFG)), plain, repeats),
            target="<= 1.05", note=f"{n / 1e6:.0f}M parameters", who="mmengine")


def bench_build(name: str, width: float, repeats: int) -> None:
    """build_model() through the meta device, over a plain build followed by the plain loop."""

    def plain_build() -> float:
        def go() -> None:
            plain_init(ResNetLike(width))

        t = seconds(go)
        gc.collect()
        return t

    def meta_build() -> float:
        t = seconds(lambda: build_model(lambda: ResNetLike(width, init_cfg=INIT_CFG)))
        gc.collect()
        return t

    row(f"{name} build_model() via meta device", "build + torch.nn.init loop", "s",
        paired(meta_build, plain_build, repeats), target="<= 0.62",
        note="the floor is the random fill itself (kaiming normal_ on CPU, about 0.55 of "
             "the baseline here); the rest is the meta-device rehearsal that proves the init "
             "covers every tensor, and the report's bookkeeping")


def bench_keyed(name: str, width: float, repeats: int) -> None:
    """Keyed init (``seed=0``) over the plain loop."""
    model = ResNetLike(width)
    n = sum(p.numel() for p in model.parameters())
    row(f"{name} initialize(seed=0), keyed", "torch.nn.init loop", "s",
        paired(lambda: seconds(lambda: initialize(model, INIT_CFG, seed=0)),
               lambda: seconds(lambda: plain_init(model)), repeats),
        target="<= 1.5", note=f"{n / 1e6:.0f}M parameters; blocks of 65,536 values, each drawn "
        "from a CPU generator seeded by a BLAKE2b hash of (seed, name, shape, block)")


class Unit(BaseModule):
    """A small block: conv + batch norm (3 modules with itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(4, 4, 1)
        self.bn = nn.BatchNorm2d(4)


def bench_module_count(repeats: int) -> None:
    """initialize()/plain loop at 100 and 3,200 modules; the second ratio over the first.

    Process CPU time: each call is short, and wall time on a shared machine is mostly the
    other processes' load."""
    ratios = {}
    for modules in (100, 3200):
        model = Sequential(*[Unit() for _ in range(modules // 3)])
        count = len(list(model.modules()))
        result = paired(lambda m=model: cpu_seconds(lambda: initialize(m, INIT_CFG)),
                        lambda m=model: cpu_seconds(lambda: plain_init(m)), repeats)
        ratios[modules] = result
        row(f"initialize(), {count} small modules", "torch.nn.init loop", "CPU s", result,
            note=f"{result[1] / count * 1e6:.1f} us per module (plain loop "
                 f"{result[0] / count * 1e6:.1f})")
    r100 = statistics.median(ratios[100][2])
    big = ratios[3200][2]
    Row("initialize()/plain-loop ratio at 3,200 modules over the ratio at 100",
        "ratio at 100 modules", "x", r100, statistics.median(big), statistics.median(big) / r100,
        min(big) / r100, max(big) / r100, target="<= 1.15").emit()


FIRST_BUILD = """
import gc, json, sys, time
sys.path.insert(0, {here!r})
from bench_init import INIT_CFG, ResNetLike
from hydra_cnn.init import build_model

def rss():
    with open('/proc/self/statm') as fh:
        return int(fh.read().split()[1]) * 4096 / 2**20

def factory():
    return ResNetLike({width}, init_cfg=INIT_CFG)

gc.collect(); r0 = rss(); t0 = time.perf_counter()
first = build_model(factory)
t1 = time.perf_counter(); r1 = rss()
second = build_model(factory)
t2 = time.perf_counter(); r2 = rss()
print(json.dumps(dict(first=t1 - t0, warm=t2 - t1, first_mb=r1 - r0, warm_mb=r2 - r1,
                      sympy='sympy' in sys.modules)))
"""


def bench_first_build(repeats: int) -> None:
    """The first build_model() in a fresh process against a warm call in the same process."""
    here = str(Path(__file__).resolve().parent)
    runs = []
    for _ in range(repeats):
        out = subprocess.run([sys.executable, "-c", FIRST_BUILD.format(here=here, width=0.5)],
                             capture_output=True, text=True, check=True)
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    extra_ms = [1000 * (r["first"] - r["warm"]) for r in runs]
    extra_mb = [r["first_mb"] - r["warm_mb"] for r in runs]
    med = statistics.median
    Row("first build_model() in a process, time", "warm build_model() call", "s",
        med(r["warm"] for r in runs), med(r["first"] for r in runs),
        med(r["first"] / r["warm"] for r in runs), min(r["first"] / r["warm"] for r in runs),
        max(r["first"] / r["warm"] for r in runs), target="within 50 ms",
        note=f"6.4M-parameter ResNet-50 layout, fresh processes; first minus warm: "
             f"{med(extra_ms):.0f} ms ({min(extra_ms):.0f}..{max(extra_ms):.0f}); sympy "
             f"imported: {any(r['sympy'] for r in runs)}").emit()
    Row("first build_model() in a process, resident memory added", "warm build_model() call",
        "MB", med(r["warm_mb"] for r in runs), med(r["first_mb"] for r in runs),
        med(r["first_mb"] / r["warm_mb"] for r in runs),
        min(r["first_mb"] / r["warm_mb"] for r in runs),
        max(r["first_mb"] / r["warm_mb"] for r in runs), target="within 5 MB",
        note=f"first minus warm: {med(extra_mb):.1f} MB ({min(extra_mb):.1f}.."
             f"{max(extra_mb):.1f})").emit()


def sharded_model(width: int, depth: int) -> nn.Module:
    """``depth`` square linears: the model of the sharded row."""
    return nn.Sequential(*[nn.Linear(width, width) for _ in range(depth)])


SHARDED_CFG = dict(type="Kaiming", layer="Linear", distribution="uniform")


def sharded_worker(rank: int, world: int, init_file: str, width: int, depth: int,
                   repeats: int) -> None:
    """One rank of the sharded row: build on meta, fully_shard, time keyed init."""
    import torch.distributed as dist
    from torch.distributed.device_mesh import init_device_mesh
    from torch.distributed.fsdp import fully_shard

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    try:
        mesh = init_device_mesh("cpu", (world,))
        with torch.device("meta"):
            model = sharded_model(width, depth)
        for layer in model:
            fully_shard(layer, mesh=mesh)
        fully_shard(model, mesh=mesh)
        model.to_empty(device="cpu")
        times = []
        for _ in range(repeats + 1):
            dist.barrier()
            times.append(cpu_seconds(lambda: initialize(model, SHARDED_CFG, seed=0)))
        print(json.dumps({"rank": rank, "seconds": statistics.median(times[1:])}), flush=True)
        dist.barrier()
    finally:
        dist.destroy_process_group()


def bench_sharded(width: int, depth: int, repeats: int) -> None:
    """2-rank sharded keyed init: the slowest rank over the single-process keyed init."""
    torch.set_num_threads(1)  # each rank gets one of the 2 cores; so does the single process
    model = sharded_model(width, depth)
    n = sum(p.numel() for p in model.parameters())
    single = [cpu_seconds(lambda: initialize(model, SHARDED_CFG, seed=0))
              for _ in range(repeats + 1)]
    del model
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        init_file = os.path.join(tmp, "init")
        procs = [subprocess.Popen([sys.executable, __file__, "--sharded-worker", str(r), "2",
                                   init_file, str(width), str(depth), str(repeats)],
                                  stdout=subprocess.PIPE, text=True) for r in range(2)]
        outs = [p.communicate(timeout=600)[0] for p in procs]
    ranks = [json.loads(o.strip().splitlines()[-1])["seconds"] for o in outs]
    model = sharded_model(width, depth)
    single += [cpu_seconds(lambda: initialize(model, SHARDED_CFG, seed=0))
               for _ in range(repeats)]
    base = statistics.median(single[1:])
    worst = max(ranks)
    Row("keyed init of a model sharded over 2 ranks (fully_shard, gloo), slowest rank",
        "single-process keyed init", "CPU s", base, worst, worst / base,
        min(ranks) / base, worst / base, target="<= 0.6",
        note=f"{n / 1e6:.0f}M parameters, {depth} x Linear({width}, {width}); one thread per "
             f"process, CPU time (2 processes share 2 busy cores); ranks "
             f"{', '.join(f'{r:.3f}' for r in ranks)} s").emit()
    torch.set_num_threads(os.cpu_count() or 1)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--sharded-worker":
        rank, world, init_file, width, depth, repeats = sys.argv[2:8]
        sharded_worker(int(rank), int(world), init_file, int(width), int(depth), int(repeats))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="skip the ~500M-parameter model")
    parser.add_argument("--repeats", type=int, default=5, help="paired repeats (default 5)")
    args = parser.parse_args()
    print(f"torch {torch.__version__}, CPU, {torch.get_num_threads()} threads; ratio = hydra_cnn"
          f" / baseline, median of {args.repeats} interleaved paired repeats (min..max)")
    torch.manual_seed(0)
    sizes = [("ResNet-50-sized", 1.0)] + ([] if args.quick else [("500M-parameter", 4.6)])
    for name, width in sizes:
        bench_init(name, width, args.repeats)
        gc.collect()
        bench_build(name, width, args.repeats)
    bench_keyed("ResNet-50-sized", 1.0, args.repeats)
    bench_init("1M-parameter", 0.2, args.repeats)
    bench_module_count(3 * args.repeats)  # small and noisy: more repeats
    bench_first_build(3 if args.quick else 5)
    bench_sharded(4096, 6, 2 if args.quick else 3)  # 101M parameters


if __name__ == "__main__":
    main()
