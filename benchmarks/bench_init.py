"""Weight-init cost of hydra_cnn against a plain ``torch.nn.init`` loop doing the same work.

    python benchmarks/bench_init.py [--quick] [--repeats 5]

Models: a ResNet-50-shaped network of ``BaseModule`` bottleneck blocks (25.6M parameters) and
the same network 4.6x wider (~500M parameters; ``--quick`` skips it). The init is Kaiming
(fan_out, relu) on every conv and linear weight, biases 0, batch norms 1/0. Rows (ratios are
the median of paired candidate/baseline ratios over interleaved repeats, then min..max):

- ``initialize()`` with the report on and off, over the plain loop;
- ``init_weights()`` (the same config as the model's ``init_cfg``) with the report on and off;
- ``build_model()`` (build on the meta device, ``to_empty``, init once) over a plain build
  (PyTorch's default init) followed by the plain loop.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch
from _common import compare_available, paired, row
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
        paired(meta_build, plain_build, repeats), target="<= 0.6",
        note="the floor is the random fill itself (kaiming normal_ on CPU, about 0.55 of "
             "the baseline here); the rest is the meta-device rehearsal that proves the init "
             "covers every tensor, and the report's bookkeeping")


def main() -> None:
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


if __name__ == "__main__":
    main()
