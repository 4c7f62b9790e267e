"""Cost of counting a model and of a sweep preflight, against what they cannot avoid.

    python benchmarks/bench_complexity.py [--quick] [--repeats 3]

Rows (ratios are the median of paired candidate/baseline ratios over interleaved repeats):

- ``get_model_complexity_info`` of a ResNet-50 built on the meta device (warm, in-process)
  over one plain forward of the same meta model (no hooks): what the counting adds;
- ``hydra/launcher=preflight`` of a 100-job sweep of ResNet-18 variants of the example app
  (norm x act x width x stem, every job a different model; 40 jobs with ``--quick``) over the
  same preflight with validation and model counting switched off, i.e. Hydra starting up and
  composing every job (the basic sweeper composes each job once to check it, the launcher
  once more). ``1 / ratio`` is the share of the preflight that is Hydra's own.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _common import paired, row

from hydra_cnn import get_model_complexity_info
from hydra_cnn.models import ResNet

ROOT = Path(__file__).resolve().parents[1]


def _count_rows(repeats: int) -> None:
    with torch.device("meta"):
        net = ResNet(depth=50, num_classes=1000).eval()
    x = torch.zeros(1, 3, 224, 224, device="meta")

    def count() -> float:
        start = time.perf_counter()
        get_model_complexity_info(net, (3, 224, 224), print_per_layer_stat=False)
        return time.perf_counter() - start

    def forward() -> float:
        start = time.perf_counter()
        net(x)
        return time.perf_counter() - start

    row("count ResNet-50 on the meta device (warm)", "plain meta forward", "s",
        paired(count, forward, repeats=repeats, warmup=1), target="< 0.5 s")


def _sweep(jobs: int) -> list[str]:
    widths = "16,24,32,48,64" if jobs >= 100 else "16,32"
    return ["model/norm=bn,gn", "model/act=relu,gelu,silu,elu,leaky_relu", f"model.base_channels={widths}",
            "model.deep_stem=false,true"]


def _preflight_seconds(args: list[str]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        out = subprocess.run([sys.executable, str(ROOT / "examples" / "train.py"), "-m", *args,
                              "hydra/launcher=preflight", f"hydra.sweep.dir={tmp}/s",
                              "hydra.launcher.input_shape=[3,32,32]"],
                             capture_output=True, text=True, cwd=tmp)
        seconds = time.perf_counter() - start
    if out.returncode:
        raise SystemExit(f"preflight failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}")
    print("  " + next(line for line in out.stdout.splitlines() if line.startswith("preflight:")),
          flush=True)
    return seconds


def _preflight_rows(jobs: int, repeats: int) -> None:
    sweep = _sweep(jobs)
    n = 2 * 5 * len(sweep[2].split(",")) * 2
    full = lambda: _preflight_seconds(sweep)  # noqa: E731
    compose_only = lambda: _preflight_seconds(  # noqa: E731
        [*sweep, "hydra.launcher.validate=false", "hydra.launcher.model_key=_none_"])
    row(f"preflight of a {n}-job ResNet-18 sweep (process wall time)",
        "Hydra alone: start + compose every job", "s",
        paired(full, compose_only, repeats=repeats, warmup=0), target="< 10 s",
        note="1/ratio = Hydra's share")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a 40-job sweep, fewer repeats")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    _count_rows(3 if args.quick else max(args.repeats, 5))
    _preflight_rows(40 if args.quick else 100, 1 if args.quick else args.repeats)


if __name__ == "__main__":
    main()
