"""No call ever changes the config it is given: one table over every kind of call and form."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

import hydra_cnn
from hydra_cnn.configs import GNConf, LeakyReLUConf
from tests.bricks.cases import CASES, build, case_id


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.reg = nn.Linear(4, 2)
        self.cls = nn.Linear(4, 3)


class _BaseNet(hydra_cnn.BaseModule):
    def __init__(self, init_cfg: Any) -> None:
        super().__init__(init_cfg)
        self.conv = nn.Conv2d(3, 4, 3)
        self.reg = nn.Linear(4, 2)
        self.cls = nn.Linear(4, 3)


def _init_cfg() -> list[dict[str, Any]]:
    return [dict(type="Constant", layer=["Conv1d", "Conv2d"], val=1, bias=2,
                 override=dict(type="Constant", name="reg", val=3, bias=4)),
            dict(type="Normal", std=0.1, override=[dict(name="cls")])]


# id -> (make the config, use it)
CALLS: dict[str, tuple[Callable[[], Any], Callable[[Any], Any]]] = {
    "build_norm_layer(requires_grad)": (lambda: dict(type="GN", num_groups=2, requires_grad=False),
                                        lambda c: hydra_cnn.build_norm_layer(c, 4)),
    "Registry.build(default_args)": (lambda: dict(type="GN", num_groups=2),
                                     lambda c: hydra_cnn.NORM_LAYERS.build(c, num_channels=4)),
    "build_from_cfg(default type)": (lambda: dict(num_groups=2),
                                     lambda c: hydra_cnn.build_from_cfg(
                                         c, hydra_cnn.NORM_LAYERS, dict(type="GN", num_channels=4))),
    "build_activation_layer(inplace None)": (
        lambda: dict(type="LeakyReLU", negative_slope=0.1, inplace=None),
        hydra_cnn.build_activation_layer),
    "ConvModule(conv, norm, act)": (
        lambda: ({"type": "Conv2d"}, {"type": "BN", "requires_grad": True}, {"type": "ReLU"}),
        lambda c: hydra_cnn.ConvModule(3, 8, 3, conv_cfg=c[0], norm_cfg=c[1], act_cfg=c[2])),
    "ConvModule(Clamp, reflect)": ({"type": "Clamp"}.copy,
                                   lambda c: hydra_cnn.ConvModule(3, 8, 3, act_cfg=c,
                                                                  padding_mode="reflect")),
    "DepthwiseSeparableConvModule": (
        lambda: ({"type": "BN"}, {"type": "ReLU"}),
        lambda c: hydra_cnn.DepthwiseSeparableConvModule(3, 8, 3, norm_cfg=c[0], act_cfg=c[1])),
    "ResNet(norm_cfg, act_cfg)": (
        lambda: ({"type": "GN", "num_groups": 4}, {"type": "LeakyReLU"}),
        lambda c: hydra_cnn.ResNet(depth=18, base_channels=8, norm_cfg=c[0], act_cfg=c[1])),
    "initialize(list with overrides)": (_init_cfg, lambda c: hydra_cnn.initialize(_Net(), c)),
    "BaseModule(init_cfg).init_weights": (
        _init_cfg, lambda c: _BaseNet(c).init_weights()),
    "build_dropout(default_args)": (lambda: dict(type="DropPath"),
                                    lambda c: hydra_cnn.build_dropout(c, dict(drop_prob=0.2))),
    "build_plugin_layer": (lambda: dict(type="ContextBlock", ratio=0.25),
                           lambda c: hydra_cnn.build_plugin_layer(c, in_channels=8)),
    "validate": (lambda: {"n": {"_target_": "hydra_cnn.make_norm", "_partial_": True,
                                "type": "GN", "num_groups": None}}, hydra_cnn.validate),
}


def _forms(make: Callable[[], Any]) -> list[tuple[str, Any]]:
    cfg = make()
    forms = [("dict", cfg)]
    if isinstance(cfg, dict | list):
        forms.append(("DictConfig", OmegaConf.create(make())))
    return forms


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
def test_calls_leave_the_config_unchanged(call: str) -> None:
    make, use = CALLS[call]
    for form, cfg in _forms(make):
        before = copy.deepcopy(OmegaConf.to_container(cfg) if OmegaConf.is_config(cfg) else cfg)
        use(cfg)
        after = OmegaConf.to_container(cfg) if OmegaConf.is_config(cfg) else cfg
        assert after == before, f"{call} changed its {form} config"


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_every_layer_builder_leaves_every_form_unchanged(case: Any) -> None:
    dict_cfg = {"type": case.type, **case.cfg}
    node = OmegaConf.create(dict_cfg)
    for cfg in (dict_cfg, node):
        before = copy.deepcopy(OmegaConf.to_container(cfg) if OmegaConf.is_config(cfg) else cfg)
        build(case, cfg)
        after = OmegaConf.to_container(cfg) if OmegaConf.is_config(cfg) else cfg
        assert after == before


def test_structured_nodes_keep_their_values() -> None:
    node = OmegaConf.structured(LeakyReLUConf())
    hydra_cnn.ConvModule(3, 8, 3, act_cfg=node)
    assert node.inplace is None  # the block's inplace is not written back
    gn = GNConf()
    hydra_cnn.build_norm_layer(gn, 48)
    assert gn.num_groups is None  # automatic groups are chosen per call, not stored
    with torch.device("meta"):
        hydra_cnn.build_norm_layer(gn, 16)
    assert gn == GNConf()
