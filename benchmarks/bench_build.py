"""Import time and layer-building overhead of hydra_cnn against plain torch.

    python benchmarks/bench_build.py [--quick]

Rows:
- ``from hydra_cnn import ConvModule, build_norm_layer, initialize, load_checkpoint`` over
  ``import torch`` (fresh processes; the names are resolved, so their modules load);
- a ResNet-50-shaped stack of conv/BN/ReLU built with the builders from dict configs, and from
  an ``instantiate``-made factory, over the same stack built with ``torch.nn`` directly.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import compare_available, paired, process_seconds, row, timed

IMPORT_TORCH = "import time; t=time.perf_counter(); import torch; print(time.perf_counter()-t)"
IMPORT_OURS = (
    "import time; t=time.perf_counter(); "
    "from hydra_cnn import ConvModule, build_norm_layer, initialize, load_checkpoint; "
    "print(time.perf_counter()-t)"
)


def _resnet50_convs() -> list[tuple[int, int, int, int]]:
    """(in, out, kernel, stride) of every conv in ResNet-50 (stem, blocks, downsamples)."""
    convs = [(3, 64, 7, 2)]
    cin = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        for b in range(blocks):
            s = stride if b == 0 else 1
            convs += [(cin, planes, 1, 1), (planes, planes, 3, s), (planes, planes * 4, 1, 1)]
            if b == 0:
                convs.append((cin, planes * 4, 1, s))
            cin = planes * 4
    return convs


def build_plain() -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    for cin, cout, k, s in _resnet50_convs():
        layers += [nn.Conv2d(cin, cout, k, s, k // 2, bias=False), nn.BatchNorm2d(cout),
                   nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


def build_with_builders() -> Any:
    from torch import nn

    from hydra_cnn import build_activation_layer, build_conv_layer, build_norm_layer

    conv_cfg, norm_cfg, act_cfg = dict(type="Conv2d"), dict(type="BN"), dict(type="ReLU", inplace=True)
    layers: list[nn.Module] = []
    for cin, cout, k, s in _resnet50_convs():
        layers += [build_conv_layer(conv_cfg, cin, cout, k, s, k // 2, bias=False),
                   build_norm_layer(norm_cfg, cout)[1], build_activation_layer(act_cfg)]
    return nn.Sequential(*layers)


def build_with_factories(conv: Any, norm: Any, act: Any) -> Any:
    from torch import nn

    layers: list[nn.Module] = []
    for cin, cout, k, s in _resnet50_convs():
        layers += [conv(cin, cout, k, stride=s, padding=k // 2, bias=False), norm(cout),
                   act(inplace=True)]
    return nn.Sequential(*layers)


def build_via_builders(conv: Any, norm: Any, act: Any) -> Any:
    from torch import nn

    from hydra_cnn import build_activation_layer, build_conv_layer, build_norm_layer

    layers: list[nn.Module] = []
    for cin, cout, k, s in _resnet50_convs():
        layers += [build_conv_layer(conv, cin, cout, k, s, k // 2, bias=False),
                   build_norm_layer(norm, cout)[1], build_activation_layer(act)]
    return nn.Sequential(*layers)


def plain_resnet50() -> Any:
    """ResNet-50 written with torch.nn only (torchvision's layout, 25,557,032 parameters)."""
    from torch import nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, planes: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = (
                nn.Sequential(nn.Conv2d(cin, planes * 4, 1, stride, bias=False),
                              nn.BatchNorm2d(planes * 4))
                if stride != 1 or cin != planes * 4 else None
            )

    layers: list[nn.Module] = [nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64),
                               nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)]
    cin = 64
    for planes, blocks, stride in ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)):
        stage = []
        for b in range(blocks):
            stage.append(Bottleneck(cin, planes, stride if b == 0 else 1))
            cin = planes * 4
        layers.append(nn.Sequential(*stage))
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(2048, 1000)]
    return nn.Sequential(*layers)


def resnet50_from_dicts() -> Any:
    from hydra_cnn import ResNet

    return ResNet(depth=50, num_classes=1000, conv_cfg=dict(type="Conv2d"),
                  norm_cfg=dict(type="BN"), act_cfg=dict(type="ReLU"))


def resnet50_composed() -> Any:
    """compose(model=resnet50) + instantiate, as an app does (Hydra initialised once)."""
    from hydra import compose
    from hydra.utils import instantiate

    cfg = compose(overrides=["+model=resnet50", "model.num_classes=1000"])
    return instantiate(cfg.model)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    args = parser.parse_args()
    repeats = 3 if args.quick else 7

    import torch
    from hydra.utils import instantiate

    from hydra_cnn.configs import BNConf, Conv2dConf, ReLUConf

    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    import_metric = "from hydra_cnn import ConvModule, build_norm_layer, initialize, load_checkpoint"
    row(import_metric, "import torch", "s",
        paired(lambda: process_seconds(IMPORT_OURS), lambda: process_seconds(IMPORT_TORCH),
               repeats), target="<= 1.05")
    available = compare_available()
    for who, module in (("mmcv", "mmcv.cnn"), ("mmengine", "mmengine.model")):
        if available[who]:  # the compare extra: the same names' home there
            code = (f"import time; t=time.perf_counter(); import {module}; "
                    "print(time.perf_counter()-t)")
            row(import_metric, "import torch", "s",
                paired(lambda c=code: process_seconds(c), lambda: process_seconds(IMPORT_TORCH),
                       repeats), target="<= 1.05", note=f"{who}: import {module}", who=who)
    row("ResNet-50 conv/BN/ReLU stack, builders from dicts", "plain torch.nn", "s",
        paired(lambda: timed(build_with_builders), lambda: timed(build_plain), repeats),
        target="<= 1.05")
    n_plain = sum(p.numel() for p in plain_resnet50().parameters())
    n_ours = sum(p.numel() for p in resnet50_from_dicts().parameters())
    assert n_plain == n_ours == 25_557_032, (n_plain, n_ours)
    row("ResNet-50 built with the builders from dict configs", "plain torch.nn ResNet-50", "s",
        paired(lambda: timed(resnet50_from_dicts), lambda: timed(plain_resnet50), repeats),
        target="<= 1.05")

    from hydra import initialize
    from hydra.core.global_hydra import GlobalHydra

    from hydra_cnn.configs import register_configs

    register_configs(groups=["model"])
    GlobalHydra.instance().clear()
    with initialize(version_base="1.3", config_path=None):
        row("ResNet-50 from a composed Hydra config (compose + instantiate)",
            "plain torch.nn ResNet-50", "s",
            paired(lambda: timed(resnet50_composed), lambda: timed(plain_resnet50), repeats),
            target="<= 1.15",
            note="missed: Hydra's compose alone takes ~30 ms (it deep-copies its config "
                 "repository and composes the hydra/ node on every call); register_configs stores "
                 "only the groups an app asks for (here: model)")
        from hydra import compose
        from hydra.utils import instantiate as inst

        composed = compose(overrides=["+model=resnet50", "model.num_classes=1000"])
        row("ResNet-50 from a composed Hydra config (instantiate only)",
            "plain torch.nn ResNet-50", "s",
            paired(lambda: timed(lambda: inst(composed.model)), lambda: timed(plain_resnet50),
                   repeats), target="<= 1.15")
    factories = (instantiate(Conv2dConf()), instantiate(BNConf()), instantiate(ReLUConf()))
    row("ResNet-50 conv/BN/ReLU stack, instantiate() factories given to the builders",
        "plain torch.nn", "s",
        paired(lambda: timed(lambda: build_via_builders(*factories)), lambda: timed(build_plain),
               repeats), target="<= 1.05")
    row("ResNet-50 conv/BN/ReLU stack, instantiate() factories called directly",
        "plain torch.nn", "s",
        paired(lambda: timed(lambda: build_with_factories(*factories)), lambda: timed(build_plain),
               repeats),
        note="Hydra 1.3.8 authorizes every call of an instantiate() partial (~0.2 ms); "
             "builders and blocks unwrap factories and skip it")


if __name__ == "__main__":
    main()
