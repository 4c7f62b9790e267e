"""Compose layer configs from the command line and build a small CNN from them.

    python examples/layers_demo.py                                   # conv2d + bn + relu
    python examples/layers_demo.py layers/norm=gn layers.norm.num_groups=4 layers/act=leaky_relu
    python examples/layers_demo.py layers/conv=conv_ws layers/norm=gn   # GN + WS
    python examples/layers_demo.py -m layers/norm=bn,gn,ln2d          # a sweep
    python examples/layers_demo.py --cfg job                          # the typed config

The options come from hydra_cnn's config groups (``layers/conv``, ``layers/norm``,
``layers/act``), which this app opts in to with ``hydra_cnn.register_configs()``; each
instantiates to a factory that the model calls once per layer.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import hydra
from hydra.core.config_store import ConfigStore
from omegaconf import OmegaConf

import hydra_cnn

hydra_cnn.register_configs()  # opt in: the layers/* and init groups, typed


@dataclass
class DemoConf:
    """The demo's primary config: layer options plus the network's shape."""

    defaults: list[Any] = field(
        default_factory=lambda: [
            "_self_",
            {"layers/conv": "conv2d"},
            {"layers/norm": "bn"},
            {"layers/act": "relu"},
        ]
    )
    layers: dict[str, Any] = field(default_factory=dict)  # filled by the layers/* options
    in_channels: int = 3
    widths: list[int] = field(default_factory=lambda: [32, 64, 128])
    image_size: int = 32
    num_classes: int = 10


ConfigStore.instance().store(name="layers_demo", node=DemoConf)


def build_model(cfg: Any) -> Any:
    """A stack of conv-norm-act stages, each layer made by calling the configured factory."""
    import torch
    from hydra.utils import instantiate
    from torch import nn

    conv, norm, act = (instantiate(cfg.layers[k]) for k in ("conv", "norm", "act"))
    layers: list[nn.Module] = []
    cin = cfg.in_channels
    for width in cfg.widths:
        layers += [conv(cin, width, 3, stride=2, padding=1, bias=False), norm(width), act()]
        cin = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(cin, cfg.num_classes)]
    model = nn.Sequential(*layers)
    with torch.no_grad():
        model.eval()(torch.randn(2, cfg.in_channels, cfg.image_size, cfg.image_size))
    return model


@hydra.main(version_base="1.3", config_path=None, config_name="layers_demo")
def main(cfg: Any) -> None:
    """Print the chosen options (with their schema types), the model and an output shape."""
    import torch

    from hydra_cnn import validate

    validate(cfg)
    for key in ("conv", "norm", "act"):
        node = cfg.layers[key]
        print(f"layers/{key}: {OmegaConf.get_type(node).__name__}  {OmegaConf.to_container(node)}")
    model = build_model(cfg)
    print(model)
    x = torch.randn(2, cfg.in_channels, cfg.image_size, cfg.image_size)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"output shape: {tuple(model.eval()(x).shape)}; parameters: {n_params:,}")


if __name__ == "__main__":
    main()
