"""ConvModule forward cost against the equivalent ``nn.Sequential(conv, bn, relu)`` stack.

Prints ratios (median of paired ratios over interleaved repeats, then min..max) for a stack of
``--blocks`` ConvModules (64 -> 64 channels, 3x3, BN, ReLU) in eval mode under no_grad:

- ``ConvModule / Sequential``: the block's own overhead (1.00 = none);
- ``fused / unfused`` and ``efficient / unfused``: ``fuse_conv_bn`` and the efficient conv-BN
  eval mode against the unfused ConvModule stack (below 1.00 = faster).

    python benchmarks/bench_conv_module.py                # eager
    python benchmarks/bench_conv_module.py --compile      # also torch.compile (inductor)
"""

from __future__ import annotations

import argparse
import copy
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from hydra_cnn import ConvModule, fuse_conv_bn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import Row, compare_available

SIZES = ((1, 64, 32, 32), (1, 64, 8, 8), (1, 64, 1, 1))


def convmodule_stack(blocks: int, channels: int) -> nn.Sequential:
    """``blocks`` ConvModules (3x3 conv, BN, ReLU) with non-trivial BN statistics, in eval."""
    torch.manual_seed(0)
    stack = nn.Sequential(*[
        ConvModule(channels, channels, 3, padding=1, norm_cfg=dict(type="BN"))
        for _ in range(blocks)
    ])
    for block in stack:
        bn = block.bn
        with torch.no_grad():
            bn.running_mean.uniform_(-0.1, 0.1)
            bn.running_var.uniform_(0.5, 1.5)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.1, 0.1)
    return stack.eval()


def sequential_twin(stack: nn.Sequential) -> nn.Sequential:
    """The same network as plain ``nn.Sequential(conv, bn, relu)`` blocks sharing weights."""
    return nn.Sequential(*[
        nn.Sequential(block.conv, block.bn, nn.ReLU(inplace=True)) for block in stack
    ]).eval()


def efficient_twin(stack: nn.Sequential) -> nn.Sequential:
    """A copy with the efficient conv-BN eval mode switched on in every block."""
    twin = copy.deepcopy(stack)
    for block in twin:
        block.turn_on_efficient_conv_bn_eval()
    return twin.eval()


def mmcv_twin(stack: nn.Sequential, efficient: bool) -> nn.Sequential | None:
    """The same network from mmcv 2.x's ConvModule (the compare extra), or None without mmcv."""
    if not compare_available()["mmcv"]:
        return None
    from mmcv.cnn import ConvModule as MMCVConvModule

    twin = nn.Sequential(*[
        MMCVConvModule(b.in_channels, b.out_channels, 3, padding=1, norm_cfg=dict(type="BN"),
                       efficient_conv_bn_eval=efficient)
        for b in stack
    ])
    twin.load_state_dict(stack.state_dict())
    return twin.eval()


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _per_call(fn: Callable[[], object], min_time: float) -> float:
    """Seconds per call of ``fn``, looping until ``min_time`` has passed."""
    n, elapsed = 1, 0.0
    while True:
        _sync()
        start = time.perf_counter()
        for _ in range(n):
            fn()
        _sync()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time:
            return elapsed / n
        n = max(n * 2, int(n * min_time / max(elapsed, 1e-9)) + 1)


def paired_ratios(
    fns: dict[str, Callable[[], object]], pairs: list[tuple[str, str]], repeats: int,
    min_time: float, times: dict[str, list[float]] | None = None,
) -> dict[tuple[str, str], list[float]]:
    """Interleave the candidates ``repeats`` times; return each pair's per-repeat ratios.

    Per-call times are appended to ``times[name]`` when given.
    """
    for fn in fns.values():  # warm up (and fill the efficient mode's cache)
        for _ in range(3):
            fn()
    ratios: dict[tuple[str, str], list[float]] = {p: [] for p in pairs}
    names = list(fns)
    for i in range(repeats):
        order = names if i % 2 == 0 else names[::-1]  # alternate who runs first
        t = {name: _per_call(fns[name], min_time) for name in order}
        if times is not None:
            for name, v in t.items():
                times.setdefault(name, []).append(v)
        for a, b in pairs:
            ratios[(a, b)].append(t[a] / t[b])
    return ratios


def _fmt(values: list[float]) -> str:
    return f"{statistics.median(values):5.3f} ({min(values):.3f}..{max(values):.3f})"


_ROWS = {
    ("convmodule", "sequential"): ("ConvModule stack forward", "nn.Sequential(conv, bn, relu)",
                                   {"eager": "<= 1.02", "inductor": "<= 1.01"}),
    ("efficient", "convmodule"): ("efficient conv-BN eval forward", "unfused eval", {}),
    ("fused", "convmodule"): ("fuse_conv_bn() eval forward (the folded floor)", "unfused eval", {}),
    ("efficient", "fused"): ("efficient conv-BN eval forward", "folded floor (fuse_conv_bn)",
                             {"eager": "<= 1.03", "inductor": "<= 1.03"}),
}
# the compare extra's rows: same metric as ours, another candidate (a column in run.py's table)
_MMCV_ROWS = {
    ("mmcv", "sequential"): ("convmodule", "sequential"),
    ("mmcv_efficient", "convmodule"): ("efficient", "convmodule"),
    ("mmcv_efficient", "fused"): ("efficient", "fused"),
}


def _emit_rows(mode: str, shape: str, ratios: dict[tuple[str, str], list[float]],
               times: dict[str, list[float]]) -> None:
    """One ``BENCH`` row per pair, for benchmarks/run.py's table."""
    for (a, b), (metric, base, targets) in _ROWS.items():
        r = ratios[(a, b)]
        Row(f"{metric}, {mode}, eval, {args_device()} {shape}", base, "ms",
            statistics.median(times[b]) * 1e3, statistics.median(times[a]) * 1e3,
            statistics.median(r), min(r), max(r), targets.get(mode, "")).emit()
    for (a, b), ours in _MMCV_ROWS.items():
        if (a, b) not in ratios:
            continue
        metric, base, targets = _ROWS[ours]
        r = ratios[(a, b)]
        Row(f"{metric}, {mode}, eval, {args_device()} {shape}", base, "ms",
            statistics.median(times[b]) * 1e3, statistics.median(times[a]) * 1e3,
            statistics.median(r), min(r), max(r), targets.get(mode, ""), who="mmcv").emit()


def args_device() -> str:
    return "CUDA" if torch.cuda.is_available() and torch.cuda.is_initialized() else "CPU"


def run(args: argparse.Namespace) -> None:
    """Build the variants, time them per input size, and print the ratio table."""
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, device {args.device}, threads {torch.get_num_threads()}, "
          f"{args.blocks} blocks "
          f"of {args.channels}->{args.channels} 3x3 conv+BN+ReLU, eval, no_grad, "
          f"{args.repeats} interleaved repeats of >= {args.min_time * 1e3:.0f} ms each")
    convmod = convmodule_stack(args.blocks, args.channels)
    models: dict[str, nn.Module] = {
        "convmodule": convmod,
        "sequential": sequential_twin(copy.deepcopy(convmod)),
        "fused": fuse_conv_bn(copy.deepcopy(convmod)),
        "efficient": efficient_twin(convmod),
    }
    for name, efficient in (("mmcv", False), ("mmcv_efficient", True)):
        twin = mmcv_twin(convmod, efficient)
        if twin is not None:
            models[name] = twin
    models = {name: m.to(args.device) for name, m in models.items()}
    variants = [("eager", models)]
    if args.compile:
        # 4 models x 3 input sizes share nn.Sequential.forward's dynamo cache
        torch._dynamo.config.recompile_limit = 64
        torch._dynamo.config.accumulated_recompile_limit = 512
        # mmcv's efficient mode swaps conv.forward at run time, which torch.compile rejects
        compiled = {name: torch.compile(m) for name, m in models.items()
                    if not name.startswith("mmcv")}
        variants.append(("inductor", compiled))  # type: ignore[arg-type]
    pairs = [("convmodule", "sequential"), ("fused", "convmodule"), ("efficient", "convmodule"),
             ("efficient", "fused")]
    if "mmcv" in models:
        pairs += [("mmcv", "sequential"), ("mmcv_efficient", "convmodule"),
                  ("mmcv_efficient", "fused")]
    header = ["ConvModule / Sequential", "fused / unfused", "efficient / unfused",
              "efficient / fused"]
    print(f"{'mode':9} {'input':14} " + " ".join(f"{h:>28}" for h in header))
    for mode, ms in variants:
        for size in SIZES:
            x = torch.randn(size, device=args.device)
            with torch.no_grad():
                ref = ms["sequential"](x)
                for name, m in ms.items():
                    torch.testing.assert_close(m(x), ref, rtol=1e-4, atol=1e-4, msg=name)
                fns = {name: (lambda m=m, x=x: m(x)) for name, m in ms.items()}
                times: dict[str, list[float]] = {}
                mode_pairs = [p for p in pairs if p[0] in ms and p[1] in ms]
                ratios = paired_ratios(fns, mode_pairs, args.repeats, args.min_time, times)
            shape = "x".join(map(str, size))
            print(f"{mode:9} {shape:14} " + " ".join(f"{_fmt(ratios[p]):>28}" for p in pairs[:4]))
            _emit_rows(mode, shape, ratios, times)


def main() -> None:
    """Parse the command line and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compile", action="store_true", help="also time torch.compile")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--repeats", type=int, default=7, help="interleaved repeats (>= 5)")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--blocks", type=int, default=8)
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--min-time", type=float, default=0.05,
                        help="seconds per timing sample (default 0.05)")
    run(parser.parse_args())


if __name__ == "__main__":
    main()
