"""Same seed, same weights: initializers draw random values in mmcv 1.7's order.

mmcv applies an initializer with ``module.apply(fn)``, which visits each child's subtree before
the module itself, and its ``BaseModule.init_weights`` calls every direct child's
``init_weights()`` (``ConvModule``'s kaiming re-init included) after the parent's config. Each
test below computes the expected values by drawing with torch directly in that documented order
from the same seed, then compares them bit for bit.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from hydra_cnn.bricks.conv_module import ConvModule
from hydra_cnn.init import BaseModule, initialize


class Own(nn.Module):
    """A module with a weight of its own and a weighted child."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.child = nn.Linear(1, 1, bias=False)


class Holder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.own = Own()


def test_override_draws_children_before_their_parent() -> None:
    model = Holder()
    torch.manual_seed(1)
    initialize(model, dict(type="Normal", std=1, override=dict(name="own")))
    torch.manual_seed(1)
    child = torch.empty(1, 1).normal_(0, 1)  # module.apply: the child first ...
    own = torch.empty(1).normal_(0, 1)  # ... then the module itself
    assert torch.equal(model.own.child.weight.detach(), child)
    assert torch.equal(model.own.weight.detach(), own)
    assert not torch.equal(child.flatten(), own)  # the order is observable


class LinearWithChild(nn.Linear):
    """A Linear (so ``layer='Linear'`` matches it) that holds another Linear."""

    def __init__(self) -> None:
        super().__init__(2, 2)
        self.inner = nn.Linear(2, 3)


def test_layer_matches_are_visited_in_apply_order() -> None:
    model = nn.Sequential(nn.Linear(2, 2), LinearWithChild(), nn.Linear(3, 1))
    torch.manual_seed(7)
    initialize(model, dict(type="Uniform", a=-1, b=1, layer="Linear", bias=0.5))
    torch.manual_seed(7)
    order = [model[0], model[1].inner, model[1], model[2]]  # children before parents
    expected = [torch.empty(m.weight.shape).uniform_(-1, 1) for m in order]
    for m, w in zip(order, expected, strict=True):
        assert torch.equal(m.weight.detach(), w)
        assert torch.equal(m.bias.detach(), torch.full_like(m.bias, 0.5))


class Head(BaseModule):
    def __init__(self) -> None:
        super().__init__(init_cfg=dict(type="Normal", std=0.5, layer="Linear"))
        self.fc = nn.Linear(4, 2, bias=False)


class Net(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.block = ConvModule(3, 4, 3)
        self.head = Head()


def test_a_child_default_init_keeps_the_random_stream_in_step() -> None:
    """mmcv #1685: mmcv's ConvModule re-draws kaiming after the parent's config. hydra_cnn keeps
    the parent's values, but the re-draw still happens, so every later draw (here the head's)
    is mmcv's."""
    model = Net(init_cfg=dict(type="Kaiming", layer="Conv2d", mode="fan_in"))
    torch.manual_seed(3)
    model.init_weights()
    torch.manual_seed(3)
    parent = nn.init.kaiming_normal_(torch.empty(4, 3, 3, 3), mode="fan_in")  # Net's init_cfg
    nn.init.kaiming_normal_(torch.empty(4, 3, 3, 3), mode="fan_out")  # block.init_weights()
    head = torch.empty(2, 4).normal_(0, 0.5)  # head's init_cfg
    assert torch.equal(model.block.conv.weight.detach(), parent)  # the parent's config is kept
    assert torch.equal(model.head.fc.weight.detach(), head)  # the stream is mmcv's
    assert model.init_report()["block.conv.weight"].writer == "Kaiming"


def test_a_default_init_mmcv_never_reaches_draws_nothing() -> None:
    """mmcv's walk only goes down through BaseModules: a ConvModule inside a plain container is
    not re-initialised, so it must not consume random numbers either."""

    class Wrapped(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Sequential(ConvModule(3, 4, 3))

    model = Wrapped()
    before = model.body[0].conv.weight.detach().clone()
    state = torch.get_rng_state()
    model.init_weights()
    assert torch.equal(torch.get_rng_state(), state)
    assert torch.equal(model.body[0].conv.weight.detach(), before)

    direct = Net()  # a ConvModule held directly by a BaseModule: mmcv calls its init_weights
    state = torch.get_rng_state()
    direct.init_weights()
    assert not torch.equal(torch.get_rng_state(), state)


def test_a_list_applies_config_after_config_then_overrides() -> None:
    model = nn.Sequential(nn.Linear(2, 2, bias=False), nn.Sequential(nn.Linear(2, 2, bias=False)))
    cfg = [dict(type="Normal", std=2.0, layer="Linear", override=dict(name="1", std=3.0,
                                                                       type="Normal")),
           dict(type="Uniform", layer="Linear", override=dict(name="0"))]
    torch.manual_seed(5)
    initialize(model, cfg)
    torch.manual_seed(5)
    torch.empty(2, 2).normal_(0, 2.0)  # cfg[0] on model[0]
    torch.empty(2, 2).normal_(0, 2.0)  # cfg[0] on model[1][0]
    torch.empty(2, 2).normal_(0, 3.0)  # cfg[0]'s override on model[1]
    first = torch.empty(2, 2).uniform_(0, 1)  # cfg[1] on model[0] ...
    second = torch.empty(2, 2).uniform_(0, 1)  # ... and model[1][0]
    last = torch.empty(2, 2).uniform_(0, 1)  # cfg[1]'s override (name only: Uniform) on model[0]
    assert torch.equal(model[0].weight.detach(), last)
    assert torch.equal(model[1][0].weight.detach(), second)
    assert not torch.equal(first, last)
