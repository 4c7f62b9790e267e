"""BaseModule and its containers: the seed document's examples (inner init_cfg wins), the
priority rules (Pretrained last, built-in defaults never undo a parent's config), user
``init_weights`` overrides, and the second-call warning."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from hydra_cnn.init import (
    BaseModule,
    ModuleDict,
    ModuleList,
    Sequential,
    constant_init,
    normal_init,
)
from tests.init.nets import DefaultInitBlock, FooConv1d, FooConv2d, FooLinear

CFG1 = dict(type="Constant", layer="Conv1d", val=0.0, bias=1.0)
CFG2 = dict(type="Constant", layer="Conv2d", val=2.0, bias=3.0)
OUTER = dict(type="Constant", layer=["Conv1d", "Conv2d"], val=4.0, bias=5.0)


def values(t: torch.Tensor) -> list[float]:
    return t.detach().unique().tolist()


def check_inner(m1: FooConv1d, m2: FooConv2d) -> None:
    assert torch.equal(m1.conv1d.weight, torch.zeros(1, 4, 4))
    assert values(m1.conv1d.bias) == [1.0]
    assert torch.equal(m2.conv2d.weight, torch.full((1, 3, 3, 3), 2.0))
    assert values(m2.conv2d.bias) == [3.0]


# -- the seed document --------------------------------------------------------------------------
def test_seed_base_module() -> None:
    model = FooConv1d(CFG1)
    assert not model.is_init
    model.init_weights()
    assert model.is_init
    assert torch.equal(model.conv1d.weight, torch.zeros(1, 4, 4))
    assert values(model.conv1d.bias) == [1.0]


@pytest.mark.parametrize("outer", [None, OUTER])
def test_seed_sequential(outer: Any) -> None:
    seq = Sequential(FooConv1d(CFG1), FooConv2d(CFG2), init_cfg=outer)
    seq.init_weights()
    check_inner(seq[0], seq[1])


@pytest.mark.parametrize("outer", [None, OUTER])
def test_seed_module_list(outer: Any) -> None:
    modellist = ModuleList([FooConv1d(CFG1), FooConv2d(CFG2)], init_cfg=outer)
    modellist.init_weights()
    check_inner(modellist[0], modellist[1])


@pytest.mark.parametrize("outer", [None, OUTER])
def test_seed_module_dict(outer: Any) -> None:
    modeldict = ModuleDict(dict(model1=FooConv1d(CFG1), model2=FooConv2d(CFG2)), init_cfg=outer)
    modeldict.init_weights()
    check_inner(modeldict["model1"], modeldict["model2"])


def test_parent_config_reaches_children_without_their_own() -> None:
    """mmcv's test: the parent's config applies where a child has no matching config."""
    seq = Sequential(FooConv1d(CFG1), FooConv2d(), FooLinear(),
                     init_cfg=[OUTER, dict(type="Constant", layer="Linear", val=6.0)])
    seq.init_weights()
    assert values(seq[0].conv1d.weight) == [0.0]  # inner wins
    assert values(seq[1].conv2d.weight) == [4.0] and values(seq[1].conv2d.bias) == [5.0]
    assert values(seq[2].linear.weight) == [6.0]
    report = seq.init_report()
    assert (report["0.conv1d.weight"].source, report["1.conv2d.weight"].source) == ("0", "")


def test_containers_are_real_torch_containers() -> None:
    seq = Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
    assert isinstance(seq, nn.Sequential) and len(seq) == 2
    assert seq(torch.zeros(1, 3, 2, 2)).shape == (1, 3, 2, 2)
    ml = ModuleList()
    ml.append(nn.ReLU())
    assert isinstance(ml, nn.ModuleList) and len(ml) == 1
    md = ModuleDict()
    md["a"] = nn.ReLU()
    assert isinstance(md, nn.ModuleDict) and list(md) == ["a"]
    assert "init_cfg=" in repr(Sequential(init_cfg=OUTER))


def test_init_cfg_is_copied() -> None:
    cfg = dict(type="Constant", layer="Conv1d", val=0.0, override=dict(name="conv1d"))
    model = FooConv1d(cfg)
    cfg["val"] = 9.0
    model.init_weights()
    assert values(model.conv1d.weight) == [0.0]


def test_second_call_warns_and_does_nothing() -> None:
    model = FooConv1d(CFG1)
    model.init_weights()
    with torch.no_grad():
        model.conv1d.weight.fill_(7.0)
    with pytest.warns(UserWarning, match="init_weights of FooConv1d has been called more than "
                                         "once"):
        model.init_weights()
    assert values(model.conv1d.weight) == [7.0]


def test_base_module_in_a_plain_container_is_reached() -> None:
    """mmcv only recurses into children that have init_weights; we walk plain modules too."""

    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(nn.ReLU(), FooConv2d(CFG2))

    net = Net()
    net.init_weights()
    assert values(net.body[1].conv2d.weight) == [2.0]
    assert net.body[1].is_init


# -- built-in defaults vs a parent's config (mmcv #1685) ----------------------------------------
class Parent(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.block = DefaultInitBlock()
        self.head = nn.Linear(4, 2)


def test_default_init_does_not_undo_parent_config() -> None:
    model = Parent(init_cfg=[dict(type="Constant", layer="Conv2d", val=3.0),
                             dict(type="Constant", layer="BatchNorm2d", val=5.0, bias=6.0)])
    calls = model.block.calls
    model.init_weights()
    assert values(model.block.conv.weight) == [3.0]
    assert values(model.block.bn.weight) == [5.0] and values(model.block.bn.bias) == [6.0]
    # as in mmcv the child's init_weights runs (its random draws keep a seeded run in step
    # with mmcv's), but what it wrote over the parent's config is undone
    assert model.block.calls == calls + 1
    assert model.init_report()["block.conv.weight"].writer == "Constant"


def test_default_init_fills_what_the_parent_left() -> None:
    model = Parent(init_cfg=dict(type="Constant", layer="Conv2d", val=3.0))
    with torch.no_grad():
        model.block.bn.weight.fill_(9.0)
    model.init_weights()
    assert values(model.block.conv.weight) == [3.0]  # protected
    assert values(model.block.bn.weight) == [1.0]  # the default init ran for the rest
    report = model.init_report()
    assert report["block.bn.weight"].writer == "DefaultInitBlock.init_weights"
    assert report["block.bn.weight"].origin == "default"
    assert report["block.conv.weight"].writer == "Constant"


def test_default_init_runs_without_a_parent_config() -> None:
    model = Parent()
    calls = model.block.calls
    model.init_weights()
    assert model.block.calls == calls + 1  # as mmcv: the child's init_weights is called


def test_user_init_weights_still_runs_after_the_parent_config() -> None:
    class UserBlock(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1)

        def init_weights(self) -> None:  # no marker: the user's own choice wins
            constant_init(self.conv, 8.0)

    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__(dict(type="Constant", layer="Conv2d", val=3.0))
            self.block = UserBlock()

    net = Net()
    net.init_weights()
    assert values(net.block.conv.weight) == [8.0]
    assert net.init_report()["block.conv.weight"].writer == "UserBlock.init_weights"


def test_real_conv_module_keeps_parent_config() -> None:
    from hydra_cnn.bricks.conv_module import ConvModule

    class Net(BaseModule):
        def __init__(self, init_cfg: Any = None) -> None:
            super().__init__(init_cfg)
            self.conv1 = ConvModule(3, 4, 3, norm_cfg=dict(type="BN"))
            self.conv2 = ConvModule(4, 4, 3, act_cfg=dict(type="LeakyReLU"))

    net = Net(init_cfg=[dict(type="Constant", layer="Conv2d", val=0.5, bias=0.25),
                        dict(type="Constant", layer="_BatchNorm", val=2.0, bias=0.0)])
    net.init_weights()
    assert values(net.conv1.conv.weight) == [0.5]
    assert values(net.conv2.conv.weight) == [0.5] and values(net.conv2.conv.bias) == [0.25]
    assert values(net.conv1.bn.weight) == [2.0]
    assert all(e.writer == "Constant" for e in net.init_report() if e.kind == "parameter")
    plain = Net()  # no config: ConvModule's own kaiming init stands
    plain.init_weights()
    assert plain.conv1.conv.weight.detach().std() > 0


def test_user_override_calling_super() -> None:
    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__(dict(type="Constant", layer=["Conv2d", "Linear"], val=1.0))
            self.conv = nn.Conv2d(3, 3, 1)
            self.fc = nn.Linear(3, 3)

        def init_weights(self) -> None:
            super().init_weights()
            normal_init(self.fc, std=0.01)

    net = Net()
    net.init_weights()
    assert values(net.conv.weight) == [1.0] and values(net.fc.weight) != [1.0]
    report = net.init_report()
    assert report["conv.weight"].writer == "Constant"
    assert report["fc.weight"].writer == "Net.init_weights"
    with pytest.warns(UserWarning, match="more than once"):
        net.init_weights()  # the override is wrapped: the user's part does not run again
    net2 = Net()
    net2.init_weights(report=False)  # the keyword works even though the override lacks it
    assert net2.is_init


def test_old_style_init_weights_with_required_args_is_not_called() -> None:
    class Old(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = FooConv2d(CFG2)

        def init_weights(self, pretrained: Any) -> None:
            raise AssertionError("must not be called")

    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.old = Old()

    net = Net()
    with pytest.warns(UserWarning, match="needs arguments"):
        net.init_weights()
    assert values(net.old.inner.conv2d.weight) == [2.0]


# -- Pretrained applies last --------------------------------------------------------------------
def test_pretrained_applies_after_children(tmp_path: Path) -> None:
    src = Sequential(FooConv1d(), FooConv2d())
    for p in src.parameters():
        torch.nn.init.normal_(p)
    path = tmp_path / "seq.pth"
    torch.save(src.state_dict(), path)
    seq = Sequential(FooConv1d(CFG1), FooConv2d(CFG2), init_cfg=[
        dict(type="Pretrained", checkpoint=str(path)),
        dict(type="Constant", layer="Conv2d", val=9.0),  # listed after, still applied before
    ])
    seq.init_weights()
    assert torch.equal(seq[0].conv1d.weight, src[0].conv1d.weight)
    assert torch.equal(seq[1].conv2d.weight, src[1].conv2d.weight)
    report = seq.init_report()
    assert {e.writer for e in report} == {"checkpoint"}
    assert report["1.conv2d.weight"].via == "init_cfg[0]"


def test_default_marked_base_module_keeps_its_own_config() -> None:
    """A built-in default that also has an init_cfg: its default never undoes the parent's
    config, and its own (inner) config still wins."""

    class DefaultBase(BaseModule):
        def __init__(self) -> None:
            super().__init__(init_cfg=dict(type="Constant", layer="Conv2d", val=4.0))
            self.conv = nn.Conv2d(3, 3, 1)
            self.bn = nn.BatchNorm2d(3)

        def init_weights(self) -> None:
            constant_init(self.conv, 9.0)  # the default writes first ...
            constant_init(self.bn, 9.0)
            super().init_weights()  # ... then applies its own config

    DefaultBase.init_weights._is_default_init = True  # type: ignore[attr-defined]
    parent = Sequential(DefaultBase(), init_cfg=dict(
        type="Constant", layer=["Conv2d", "BatchNorm2d"], val=2.0))
    parent.init_weights()
    assert values(parent[0].conv.weight) == [4.0]  # inner config wins
    assert values(parent[0].bn.weight) == [2.0]  # the default did not undo the parent
    report = parent.init_report()
    assert (report["0.conv.weight"].source, report["0.bn.weight"].source) == ("0", "")
