"""Meta-device builds: ``to_empty`` + ``init_weights()`` leaves nothing uninitialised, and
``build_model`` skips PyTorch's default init when the init config covers every tensor."""

from __future__ import annotations

import logging
import warnings
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from hydra_cnn.configs.init import KaimingInitConf
from hydra_cnn.init import BaseModule, build_model, init_report
from tests.init.nets import DefaultInitBlock, TinyResNet

COVER_ALL = [dict(type="Kaiming", layer=["Conv2d", "Linear"]),
             dict(type="Constant", layer="_BatchNorm", val=1, bias=0)]


def check_bn_stats(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.running_mean, torch.zeros_like(m.running_mean))
            assert torch.equal(m.running_var, torch.ones_like(m.running_var))
            assert int(m.num_batches_tracked) == 0


def test_meta_to_empty_init_weights_leaves_nothing_uninitialised() -> None:
    with torch.device("meta"):
        model = TinyResNet(init_cfg=COVER_ALL)
    model.to_empty(device="cpu")
    with torch.no_grad():  # make "uninitialised" visible: garbage everywhere
        for t in [*model.parameters(), *model.buffers()]:
            t.fill_(float("nan") if t.is_floating_point() else 77)
    model.init_weights()
    report = model.init_report()
    assert report.uninitialized() == []
    assert all(e.origin != "none" for e in report)  # every tensor has a writer
    assert report["layer1.0.bn1.running_var"].writer == "reset_running_stats"
    assert report["layer1.0.bn2.weight"].args == {"val": 0, "bias": 0}
    check_bn_stats(model)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert model(torch.randn(2, 3, 8, 8)).shape == (2, 10)


def test_meta_partial_config_falls_back_to_reset_parameters() -> None:
    with torch.device("meta"):
        model = TinyResNet()  # default init_cfg leaves fc out
    model.to_empty(device="cpu")
    model.init_weights()
    report = model.init_report()
    assert report.uninitialized() == []
    assert report["fc.weight"].writer == "reset_parameters"
    assert report["fc.weight"].source == "fc"
    assert torch.isfinite(model.fc.weight).all()
    check_bn_stats(model)


def test_meta_default_init_block_runs_its_default() -> None:
    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.block = DefaultInitBlock()

    with torch.device("meta"):
        net = Net()
    net.to_empty(device="cpu")
    net.init_weights()
    report = net.init_report()
    assert report["block.conv.weight"].writer == "DefaultInitBlock.init_weights"
    assert net.block.bn.weight.detach().unique().tolist() == [1.0]
    check_bn_stats(net)


def test_unresettable_parameter_warns() -> None:
    class Scale(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()))

    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.s = Scale()

    with torch.device("meta"):
        net = Net()
    net.to_empty(device="cpu")
    with pytest.warns(UserWarning, match=r"nothing initialised s\.scale"):
        net.init_weights()
    assert [e.name for e in net.init_report().uninitialized()] == ["s.scale"]
    assert net.init_report()["s.scale"].writer == "uninitialized"


def count_resets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Record real (non-meta) runs of PyTorch's default init."""
    calls: list[str] = []
    for cls in (nn.Conv2d, nn.Linear, nn.BatchNorm2d):
        original = cls.reset_parameters

        def counting(self: nn.Module, _orig: Any = original) -> None:
            if not self.weight.is_meta:
                calls.append(type(self).__name__)
            _orig(self)

        monkeypatch.setattr(cls, "reset_parameters", counting)
    return calls


def test_build_model_covered_skips_default_init(monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    calls = count_resets(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="hydra_cnn.init"):
        model = build_model(lambda: TinyResNet(init_cfg=COVER_ALL))
    assert calls == []
    assert "built on the meta device" in caplog.text
    assert all(not t.is_meta for t in model.state_dict().values())
    assert model.is_init and model.init_report().uninitialized() == []
    check_bn_stats(model)


def test_build_model_init_cfg_argument_and_structured_config(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_resets(monkeypatch)
    model = build_model(TinyResNet, init_cfg=KaimingInitConf())
    assert calls == []
    report = model.init_report()
    assert report["fc.weight"].writer == "Kaiming"
    assert report["bn1.weight"].writer == "Constant" and report["bn1.weight"].via == "init_cfg.norm"
    assert report["layer1.0.bn2.weight"].args == {"val": 0, "bias": 0}  # inner still wins


def test_build_model_not_covered_builds_normally(monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    calls = count_resets(monkeypatch)
    with caplog.at_level(logging.DEBUG, logger="hydra_cnn.init"):
        model = build_model(TinyResNet)  # the default config leaves fc to PyTorch
    assert "Linear" in calls
    assert "building TinyResNet normally because the init config does not cover fc.weight" in (
        caplog.text)
    assert [e.name for e in model.init_report().uninitialized()] == ["fc.weight", "fc.bias"]


def test_build_model_plain_module_with_init_cfg(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = count_resets(monkeypatch)
    model = build_model(lambda: nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4)),
                        init_cfg=COVER_ALL)
    assert calls == []
    assert isinstance(model, nn.Sequential)
    check_bn_stats(model)
    report = init_report(model)
    assert report["0.weight"].writer == "Kaiming" and report.uninitialized() == []


def test_build_model_from_configs() -> None:
    cfg = OmegaConf.create({"_target_": "tests_init_nets_factory"})
    with pytest.raises(Exception, match="tests_init_nets_factory"):
        build_model(cfg)
    model = build_model({"_target_": "torch.nn.Linear", "in_features": 2, "out_features": 3},
                        init_cfg=dict(type="Constant", layer="Linear", val=1))
    assert model.weight.detach().unique().tolist() == [1.0]
    with pytest.raises(TypeError, match="not a built Linear"):
        build_model(nn.Linear(2, 2))
    with pytest.raises(TypeError, match="needs '_target_'"):
        build_model({"in_features": 2})


def test_build_model_data_dependent_init_falls_back(caplog: pytest.LogCaptureFixture) -> None:
    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__(dict(type="Constant", layer="Linear", val=1))
            self.fc = nn.Linear(2, 2)

        def init_weights(self) -> None:
            super().init_weights()
            if float(self.fc.weight.sum()) > 0:  # reads a value: impossible on meta
                self.fc.bias.data.zero_()

    with caplog.at_level(logging.DEBUG, logger="hydra_cnn.init"):
        net = build_model(Net)
    assert "fails on the meta device" in caplog.text
    assert net.fc.weight.detach().unique().tolist() == [1.0]


def test_real_resnet_through_the_meta_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from hydra_cnn import ResNet

    calls = count_resets(monkeypatch)
    model = build_model(lambda: ResNet(depth=18, num_classes=10, zero_init_residual=True),
                        init_cfg=KaimingInitConf())
    assert calls == []
    report = model.init_report()
    assert report.uninitialized() == [] and all(e.origin != "none" for e in report)
    assert report["conv1.weight"].writer == "Kaiming" and report["fc.weight"].writer == "Kaiming"
    assert report["layer1.0.bn2.weight"].writer == "ResNet.init_weights"  # zero_init_residual
    check_bn_stats(model)


class _StatsOff(BaseModule):
    """A conv + batch norm whose running statistics are switched off after construction: torch's
    ``reset_running_stats`` then leaves its (still registered) statistics alone."""

    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.bn.track_running_stats = False


class _OwnReset(nn.BatchNorm2d):
    """A batch norm whose own ``reset_running_stats`` fills running_var with 2."""

    def reset_running_stats(self) -> None:
        super().reset_running_stats()
        if self.track_running_stats:
            self.running_var.fill_(2)  # type: ignore[union-attr]


class _OwnResetNet(BaseModule):
    def __init__(self, init_cfg: Any = None) -> None:
        super().__init__(init_cfg)
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = _OwnReset(4)


def test_build_model_norm_stats_nothing_resets_build_normally(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="hydra_cnn.init"):
        model = build_model(lambda: _StatsOff(init_cfg=COVER_ALL))
    assert "building" in caplog.text and "does not cover bn.running_mean" in caplog.text
    assert torch.equal(model.bn.running_mean, torch.zeros(4))  # PyTorch's constructor values
    assert torch.equal(model.bn.running_var, torch.ones(4))


def test_build_model_norm_with_own_reset_runs_it(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="hydra_cnn.init"):
        model = build_model(lambda: _OwnResetNet(init_cfg=COVER_ALL))
    assert "built on the meta device" in caplog.text
    assert torch.equal(model.bn.running_var, torch.full((4,), 2.0))
    assert torch.equal(model.bn.running_mean, torch.zeros(4))
    report = model.init_report()
    assert report["bn.running_var"].writer == "reset_running_stats"
    assert report.uninitialized() == []


class _FcChild(BaseModule):
    def __init__(self) -> None:
        super().__init__(init_cfg=dict(type="Constant", val=3, override=dict(name="fc")))
        self.fc = nn.Linear(2, 2)


class _ReplacesChildFc(BaseModule):
    """Its own init_weights replaces a layer that a child's override targets, then walks on."""

    def __init__(self) -> None:
        super().__init__()
        self.child = _FcChild()

    def init_weights(self) -> None:
        self.child.fc = nn.Linear(2, 2, device=self.child.fc.weight.device)
        super().init_weights()


def test_build_model_init_weights_that_replaces_a_layer_gets_it_initialised() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "nothing initialised" warning about the new layer
        model = build_model(_ReplacesChildFc)
    assert torch.equal(model.child.fc.weight, torch.full((2, 2), 3.0))
    assert torch.equal(model.child.fc.bias, torch.zeros(2))
