"""Check before write: a bad value in any init config raises before the first tensor is written.

``initialize(model, [good, bad])`` and ``BaseModule.init_weights()`` build and check every
config (arguments, ``override`` targets, what each initializer will reach) before applying the
first one; the tests compare every parameter and buffer before and after.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from hydra_cnn.init import BaseModule, Sequential, build_model, initialize

GOOD = dict(type="Constant", layer=["Conv2d", "Linear", "BatchNorm2d"], val=3.0, bias=2.0)


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.head = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4))


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_unchanged(model: nn.Module, before: dict[str, torch.Tensor]) -> None:
    now = model.state_dict()
    assert now.keys() == before.keys()
    changed = [k for k in now if not torch.equal(now[k], before[k])]
    assert changed == []


BAD_CONFIGS = [
    pytest.param(dict(type="Normal", std="big", layer="Linear"), TypeError,
                 r"std='big'", id="std-not-a-number"),
    pytest.param(dict(type="Normal", std=-1.0, layer="Linear"), ValueError,
                 r"NormalInit: std must be >= 0, but got -1.0", id="negative-std"),
    pytest.param(dict(type="Uniform", a=1, b=0, layer="Linear"), ValueError,
                 r"UniformInit: a must be <= b, but got a=1, b=0", id="uniform-a-above-b"),
    pytest.param(dict(type="TruncNormal", a=2, b=-2, layer="Linear"), ValueError,
                 r"TruncNormalInit: a must be less than b, but got a=2, b=-2",
                 id="trunc-normal-a-above-b"),
    pytest.param(dict(type="Kaiming", layer="Conv2d", nonlinearity="gelu"), ValueError,
                 r"KaimingInit nonlinearity must be one of .*'relu'.*but got 'gelu'",
                 id="unknown-nonlinearity"),
    pytest.param(dict(type="Xavier", gain=float("nan"), layer="Conv2d"), ValueError,
                 r"XavierInit: gain must be a finite number, but got nan", id="nan-gain"),
    pytest.param(dict(type="Constant", val=1.0, override=dict(name="neck")), RuntimeError,
                 r"Net has no submodule 'neck' to override", id="unknown-override"),
    pytest.param(dict(type="Kaiming", override=dict(name="head")), ValueError,
                 r"Kaiming init cannot initialise '1' \(BatchNorm1d\) in Sequential: its weight "
                 r"has shape \(4,\)", id="fan-init-on-a-norm"),
    pytest.param(dict(type="Xavier", layer="_BatchNorm"), ValueError,
                 r"Xavier init cannot initialise 'bn' \(BatchNorm2d\)", id="fan-init-by-layer"),
]


@pytest.mark.parametrize(("bad", "exc", "match"), BAD_CONFIGS)
def test_initialize_checks_every_config_before_writing(bad: dict[str, Any], exc: type,
                                                       match: str) -> None:
    model = Net()
    before = snapshot(model)
    with pytest.raises(exc, match=match):
        initialize(model, [GOOD, bad])
    assert_unchanged(model, before)


def test_a_bad_override_inside_a_later_config_is_found_first() -> None:
    model = Net()
    before = snapshot(model)
    bad = dict(type="Constant", val=1.0, layer="Conv2d",
               override=dict(name="head", type="Uniform", a=5, b=1))
    with pytest.raises(ValueError, match=r"UniformInit: a must be <= b, but got a=5, b=1"):
        initialize(model, [GOOD, bad])
    assert_unchanged(model, before)


class Child(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.fc = nn.Linear(4, 4)


class Parent(BaseModule):
    def __init__(self, child_cfg: Any) -> None:
        super().__init__(init_cfg=GOOD)
        self.conv = nn.Conv2d(3, 4, 3)
        self.body = nn.Sequential(Child(child_cfg))  # reached through a plain container


@pytest.mark.parametrize(("bad", "exc", "match"), BAD_CONFIGS[:6])
def test_init_weights_checks_the_whole_tree_before_writing(bad: dict[str, Any], exc: type,
                                                           match: str) -> None:
    model = Parent(child_cfg=[dict(type="Constant", layer="Linear", val=1.0), bad])
    before = snapshot(model)
    with pytest.raises(exc, match=match):
        model.init_weights()
    assert_unchanged(model, before)
    assert not model.is_init and not model.body[0].is_init
    model.body[0].init_cfg = dict(type="Constant", layer="Linear", val=1.0)  # fixed: it runs
    model.init_weights()
    assert model.is_init and torch.equal(model.body[0].fc.weight.detach(), torch.ones(4, 4))
    assert torch.equal(model.conv.weight.detach(), torch.full((4, 3, 3, 3), 3.0))


def test_build_model_checks_before_building_for_real() -> None:
    built = []

    def make() -> Net:
        net = Net()
        built.append(net.conv.weight.device.type)
        return net

    with pytest.raises(ValueError, match=r"UniformInit: a must be <= b"):
        build_model(make, init_cfg=[GOOD, dict(type="Uniform", a=1, b=0, layer="Linear")])
    assert built == ["meta"]  # only the meta-device rehearsal was built


class Holder(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.net = Net()
        self.inner = Sequential(nn.Conv2d(4, 4, 1), init_cfg=dict(type="Normal", layer="Conv2d"))


def _bad_checkpoints(tmp_path: Any) -> list[str]:
    html = tmp_path / "login.pth"
    html.write_text("<!DOCTYPE html><html><body>Sign in</body></html>")
    return [str(tmp_path / "missing.pth"), str(html)]


def test_initialize_with_a_failing_checkpoint_leaves_the_model_unchanged(tmp_path: Any) -> None:
    for ckpt in _bad_checkpoints(tmp_path):
        model = Net()
        before = snapshot(model)
        with pytest.raises((OSError, RuntimeError, ValueError)):
            initialize(model, [dict(type="Constant", layer="Conv2d", val=3),
                               dict(type="Pretrained", checkpoint=ckpt)])
        assert_unchanged(model, before)


def test_init_weights_with_a_failing_checkpoint_leaves_the_model_unchanged(tmp_path: Any) -> None:
    for ckpt in _bad_checkpoints(tmp_path):
        model = Holder(init_cfg=[dict(type="Constant", layer="Conv2d", val=3),
                                 dict(type="Pretrained", checkpoint=ckpt)])
        before = snapshot(model)
        with pytest.raises((OSError, RuntimeError, ValueError)):
            model.init_weights()
        assert_unchanged(model, before)
        assert not model.is_init and not model.inner.is_init  # a retry runs the whole init
        model.init_cfg = dict(type="Constant", layer="Conv2d", val=3)
        model.init_weights()
        assert float(model.net.conv.weight.detach().mean()) == 3.0


def test_build_model_with_a_failing_checkpoint_raises(tmp_path: Any) -> None:
    for ckpt in _bad_checkpoints(tmp_path):
        with pytest.raises((OSError, RuntimeError, ValueError)):
            build_model(Holder, init_cfg=[dict(type="Constant", layer="Conv2d", val=3),
                                          dict(type="Pretrained", checkpoint=ckpt)])


@pytest.mark.parametrize("cfg, needle", [
    (dict(type="Constant", layer="Conv2d", val=float("nan")), "val"),
    (dict(type="Constant", layer="Conv2d", val=float("inf")), "val"),
    (dict(type="Constant", layer="Conv2d", val=1, bias=float("nan")), "bias"),
    (dict(type="Normal", layer="Conv2d", std=float("nan")), "std"),
    (dict(type="Xavier", layer="Conv2d", gain=float("inf")), "gain"),
    (dict(type="Constant", layer="Conv2d", val=1, bias_prob=float("nan")), "nan"),
])
def test_non_finite_init_arguments_are_refused(cfg: dict[str, Any], needle: str) -> None:
    model = Net()
    before = snapshot(model)
    with pytest.raises(ValueError, match=needle):
        initialize(model, cfg)
    assert_unchanged(model, before)


@pytest.mark.parametrize("name", ["", "  "])
def test_override_with_an_empty_name_is_an_error(name: str) -> None:
    model = Net()
    before = snapshot(model)
    with pytest.raises(ValueError, match="empty value"):
        initialize(model, dict(type="Constant", val=1, override=dict(name=name)))
    assert_unchanged(model, before)
