"""Keyed init (``seed=``): one seed gives one set of weights, whatever the route.

Values depend only on the seed, each tensor's qualified name, its shape and its initializer:
not on the global RNG, not on whether the model was built normally or on the meta device. The
sharded routes (FSDP2 over 2 and 4 ranks) are in ``test_sharded_init.py``.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from hydra_cnn import ConvModule
from hydra_cnn.init import BaseModule, build_model, init_report, initialize, make_init
from hydra_cnn.init.keyed import BLOCK

LAYERS = ["Conv2d", "Linear"]
INITIALIZERS = {
    "Constant": dict(type="Constant", layer=LAYERS, val=0.5, bias=0.25),
    "Xavier": dict(type="Xavier", layer=LAYERS, gain=2.0),
    "Xavier-uniform": dict(type="Xavier", layer=LAYERS, distribution="uniform"),
    "Normal": dict(type="Normal", layer=LAYERS, mean=0.1, std=0.02),
    "TruncNormal": dict(type="TruncNormal", layer=LAYERS, std=0.5, a=-0.4, b=0.4),
    "Uniform": dict(type="Uniform", layer=LAYERS, a=-0.3, b=0.1),
    "Kaiming": dict(type="Kaiming", layer=LAYERS),
    "Kaiming-uniform-fan_in": dict(type="Kaiming", layer=LAYERS, mode="fan_in",
                                   distribution="uniform"),
    "Caffe2Xavier": dict(type="Caffe2Xavier", layer=LAYERS),
    "bias_prob": dict(type="Normal", layer=LAYERS, std=0.01, bias_prob=0.01),
}


class Net(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.conv = nn.Conv2d(3, 16, 3)
        self.block = ConvModule(16, 32, 3)  # its default kaiming init runs inside init_weights
        self.fc = nn.Linear(600, 300)  # 180,000 elements: more than two keyed blocks
        self.head = nn.Linear(300, 7)


def weights(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    assert [k for k in a if not torch.equal(a[k], b[k])] == []


@pytest.mark.parametrize("name", list(INITIALIZERS))
def test_keyed_init_is_the_same_on_every_route(name: str) -> None:
    cfg = INITIALIZERS[name]
    torch.manual_seed(0)
    normal = Net()
    initialize(normal, cfg, seed=11)
    torch.manual_seed(1)  # another global RNG state and a differently drawn default init
    other = Net()
    initialize(other, cfg, seed=11)
    assert_same(weights(normal), weights(other))
    torch.manual_seed(2)
    via_init_weights = Net(init_cfg=cfg)
    via_init_weights.init_weights(seed=11)
    torch.manual_seed(3)
    via_meta = build_model(Net, init_cfg=cfg, seed=11)
    assert_same(weights(via_init_weights), weights(via_meta))
    w = weights(normal)
    got = weights(via_meta)
    assert [k for k in w if not k.startswith("block.") and not torch.equal(got[k], w[k])] == []


def test_keyed_values_follow_the_initializer_and_its_fans() -> None:
    model = Net()
    initialize(model, dict(type="Kaiming", layer=LAYERS), seed=3)
    fc = model.fc.weight.detach()
    assert abs(float(fc.std()) - math.sqrt(2 / 300)) < 0.02 * math.sqrt(2 / 300)  # fan_out 300
    assert abs(float(fc.mean())) < 1e-3
    initialize(model, dict(type="Uniform", layer="Linear", a=-0.3, b=0.1), seed=3)
    fc = model.fc.weight.detach()
    assert float(fc.min()) >= -0.3 and float(fc.max()) < 0.1
    assert abs(float(fc.mean()) + 0.1) < 0.01
    initialize(model, dict(type="TruncNormal", layer="Linear", std=0.5, a=-0.4, b=0.4), seed=3)
    fc = model.fc.weight.detach()
    assert float(fc.abs().max()) <= 0.4 and float(fc.std()) > 0.2
    assert float(model.fc.bias.detach().abs().max()) == 0


def test_keyed_init_depends_on_the_seed_and_the_name_and_never_repeats() -> None:
    a, b = nn.Sequential(nn.Linear(600, 300), nn.Linear(600, 300)), nn.Linear(600, 300)
    initialize(a, dict(type="Normal", layer="Linear"), seed=5)
    initialize(b, dict(type="Normal", layer="Linear"), seed=6)
    w0, w1, w2 = a[0].weight.detach(), a[1].weight.detach(), b.weight.detach()
    assert not torch.equal(w0, w1)  # same shape, another name
    assert not torch.equal(w0, w2)
    flat = w0.reshape(-1)
    blocks = flat[: (flat.numel() // BLOCK) * BLOCK].view(-1, BLOCK)
    assert len({tuple(blk[:8].tolist()) for blk in blocks}) == len(blocks)
    assert len({tuple(row[:8].tolist()) for row in w0}) == w0.shape[0]


def test_keyed_init_does_not_touch_the_global_rng() -> None:
    model = Net()
    torch.manual_seed(0)
    state = torch.get_rng_state()
    initialize(model, dict(type="Normal", layer=LAYERS), seed=1)
    assert torch.equal(torch.get_rng_state(), state)


def test_seed_none_keeps_the_global_rng_draws() -> None:
    torch.manual_seed(0)
    keyed_none = Net()
    initialize(keyed_none, dict(type="Kaiming", layer=LAYERS), seed=None)
    torch.manual_seed(0)
    plain = Net()
    initialize(plain, dict(type="Kaiming", layer=LAYERS))
    assert_same(weights(keyed_none), weights(plain))


def test_the_seed_key_of_an_init_config_applies_to_it_its_norm_and_overrides() -> None:
    cfg = dict(type="Kaiming", layer="Conv2d", seed=21,
               override=dict(name="fc", type="Normal", std=0.01))
    torch.manual_seed(0)
    first = Net()
    initialize(first, cfg)
    torch.manual_seed(1)
    second = Net()
    initialize(second, make_init(**cfg))
    for k in ("conv.weight", "fc.weight"):
        assert torch.equal(weights(first)[k], weights(second)[k]), k
    assert not torch.equal(first.head.weight, second.head.weight)  # not in the config
    report = init_report(first)
    assert report["fc.weight"].seed == 21 and report["head.weight"].seed is None
    # the config's own seed wins over the call's
    third = Net()
    initialize(third, cfg, seed=99)
    assert torch.equal(third.conv.weight, first.conv.weight)


def test_the_report_records_the_seed() -> None:
    model = Net(init_cfg=dict(type="Kaiming", layer=LAYERS))
    model.init_weights(seed=1234)
    report = model.init_report()
    assert report.seed == 1234
    assert "keyed init, seed 1234" in report.summary()
    assert report["fc.weight"].seed == 1234
    assert report.to_dict()["seed"] == 1234
    plain = Net(init_cfg=dict(type="Kaiming", layer=LAYERS))
    plain.init_weights()
    assert plain.init_report().seed is None and "keyed" not in plain.init_report().summary()


def test_a_users_init_weights_is_keyed_too() -> None:
    class Custom(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(40, 30)

        def init_weights(self) -> None:
            nn.init.orthogonal_(self.fc.weight[:0])  # a view: left to the global RNG
            nn.init.trunc_normal_(self.fc.weight, std=0.02)

    torch.manual_seed(0)
    a = Custom()
    a.init_weights(seed=4)
    torch.manual_seed(1)
    b = Custom()
    b.init_weights(seed=4)
    assert torch.equal(a.fc.weight, b.fc.weight)


@pytest.mark.parametrize("bad, error", [(-1, ValueError), (1.5, TypeError), ("7", TypeError),
                                         (True, TypeError)])
def test_a_bad_seed_is_refused_before_any_write(bad: Any, error: type) -> None:
    model = Net()
    before = weights(model)
    with pytest.raises(error, match="seed"):
        initialize(model, dict(type="Normal", layer=LAYERS), seed=bad)
    with pytest.raises(error, match="seed"):
        initialize(model, dict(type="Normal", layer=LAYERS, seed=bad))
    with pytest.raises(error, match="seed"):
        Net(init_cfg=dict(type="Normal", layer=LAYERS)).init_weights(seed=bad)
    assert_same(weights(model), before)


def test_keyed_init_keys_float16_and_float64_tensors_as_float32_draws() -> None:
    ref = nn.Linear(300, 300)
    initialize(ref, dict(type="Normal", layer="Linear"), seed=8)
    for dtype in (torch.float64, torch.bfloat16):
        other = nn.Linear(300, 300).to(dtype)
        initialize(other, dict(type="Normal", layer="Linear"), seed=8)
        assert torch.equal(other.weight.detach(), ref.weight.detach().to(dtype))


def test_resets_of_a_to_empty_model_are_keyed() -> None:
    def build() -> Net:
        with torch.device("meta"):
            net = Net(init_cfg=dict(type="Normal", layer="Conv2d"))
        net.to_empty(device="cpu")
        return net

    torch.manual_seed(0)
    a = build()
    a.init_weights(seed=2)  # fc and head are left to Linear.reset_parameters
    torch.manual_seed(1)
    b = build()
    b.init_weights(seed=2)
    assert_same(weights(a), weights(b))
    assert a.init_report()["fc.weight"].writer == "reset_parameters"


def test_a_random_fill_keyed_init_cannot_key_warns() -> None:
    class Dropped(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(4, 4)

        def init_weights(self) -> None:
            with torch.no_grad():
                self.fc.weight.bernoulli_(0.5)

    with pytest.warns(UserWarning, match=r"fc\.weight \(bernoulli_"):
        Dropped().init_weights(seed=1)


def test_the_init_options_take_a_seed() -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from hydra_cnn.configs.init import KaimingInitConf

    cfg = OmegaConf.structured(KaimingInitConf)
    cfg.seed = 1234
    torch.manual_seed(0)
    a = build_model(Net, init_cfg=instantiate(cfg))
    torch.manual_seed(1)
    b = build_model(Net, init_cfg=cfg)
    assert_same(weights(a), weights(b))
    assert a.init_report().seed == 1234
