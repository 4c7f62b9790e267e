"""The init report: one row per parameter and buffer with its final writer, flags for what
nothing initialised, table and JSON output, no device sync, and the off switch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from hydra_cnn.init import BaseModule, init_report, initialize, update_init_info
from hydra_cnn.init.report import PYTORCH_DEFAULT, InitReport
from tests.init.nets import TinyResNet


@pytest.fixture
def resnet() -> TinyResNet:
    torch.manual_seed(0)
    model = TinyResNet()
    model.init_weights()
    return model


def test_every_tensor_listed_once(resnet: TinyResNet) -> None:
    report = resnet.init_report()
    names = [e.name for e in report]
    expected = [n for n, _ in resnet.named_parameters()] + [n for n, _ in resnet.named_buffers()]
    assert len(names) == len(set(names)) == len(expected)
    assert set(names) == set(expected)
    kinds = {e.name: e.kind for e in report}
    assert kinds["conv1.weight"] == "parameter" and kinds["bn1.running_mean"] == "buffer"
    assert report["layer2.0.conv1.weight"].shape == (16, 8, 3, 3)


def test_parent_and_child_winner(resnet: TinyResNet) -> None:
    report = resnet.init_report()
    conv = report["layer1.0.conv1.weight"]
    assert (conv.writer, conv.source, conv.source_type, conv.via) == (
        "Kaiming", "", "TinyResNet", "init_cfg[0]")
    assert conv.args == {"a": 0, "mode": "fan_out", "nonlinearity": "relu",
                         "distribution": "normal", "bias": 0}
    bn1 = report["layer1.0.bn1.weight"]  # only the parent's config touches it
    assert (bn1.writer, bn1.args, bn1.source) == ("Constant", {"val": 1, "bias": 0}, "")
    bn2 = report["layer2.1.bn2.weight"]  # parent writes 1, the block's override writes 0: inner
    assert (bn2.writer, bn2.args, bn2.source, bn2.source_type, bn2.via) == (
        "Constant", {"val": 0, "bias": 0}, "layer2.1", "BasicBlock", "init_cfg.override[bn2]")
    assert resnet.layer2[1].bn2.weight.detach().abs().sum() == 0
    assert report["layer2.0.downsample.0.weight"].writer == "Kaiming"


def test_uninitialized_flags_what_nothing_wrote(resnet: TinyResNet) -> None:
    report = resnet.init_report()
    assert [e.name for e in report.uninitialized()] == ["fc.weight", "fc.bias"]
    assert report["fc.weight"].writer == PYTORCH_DEFAULT and report["fc.weight"].source is None
    assert report["bn1.running_var"].initialized  # buffers keep their constructor values
    assert report.summary() == (
        "Init report of TinyResNet: 32 parameters, 30 buffers; 2 not initialised")


def test_table(resnet: TinyResNet) -> None:
    text = str(resnet.init_report())
    lines = text.splitlines()
    assert lines[0].startswith("Init report of TinyResNet")
    header = lines[1]
    for col in ("name", "kind", "shape", "writer", "args", "applied by"):
        assert col in header
    start = header.index("writer")
    rows = {line.split()[1 if line.startswith("!") else 0]: line for line in lines[3:]}
    assert all(line[start - 2:start] == "  " for line in lines[3:])  # aligned columns
    assert rows["fc.weight"].startswith("!")
    assert "Kaiming" in rows["conv1.weight"] and "mode='fan_out'" in rows["conv1.weight"]
    assert "layer1.0 (BasicBlock) init_cfg.override[bn2]" in rows["layer1.0.bn2.weight"]
    assert "(8, 3, 3, 3)" in rows["conv1.weight"] and "(8,)" in rows["bn1.weight"]


def test_json(resnet: TinyResNet, tmp_path: Path) -> None:
    report = resnet.init_report()
    path = tmp_path / "report.json"
    text = report.to_json(path)
    data = json.loads(path.read_text())
    assert data == json.loads(text) == json.loads(json.dumps(report.to_dict()))
    assert data["model"] == "TinyResNet"
    entry = next(e for e in data["entries"] if e["name"] == "layer1.1.bn2.weight")
    assert entry["writer"] == "Constant" and entry["args"] == {"val": 0, "bias": 0}
    assert entry["shape"] == [8] and entry["initialized"] is True
    assert data["writers"]["PyTorch default"] == 2 + 30  # fc and every buffer


def test_report_before_any_init() -> None:
    model = TinyResNet()
    report = model.init_report()
    assert isinstance(report, InitReport)
    assert {e.writer for e in report} == {PYTORCH_DEFAULT}
    assert len(report.uninitialized()) == 32


def test_unknown_name_suggests() -> None:
    report = init_report(nn.Linear(2, 2))
    with pytest.raises(KeyError, match="did you mean 'weight'"):
        report["weigth"]


def test_recording_never_reads_values(resnet: TinyResNet, monkeypatch: pytest.MonkeyPatch
                                      ) -> None:
    """No .item(), .cpu(), .tolist(), bool(tensor) or float(tensor): no device sync."""

    def boom(*_: Any, **__: Any) -> Any:
        raise AssertionError("a tensor value was read during init")

    model = TinyResNet()
    for name in ("item", "cpu", "tolist", "numpy", "__bool__", "__float__", "__int__"):
        monkeypatch.setattr(torch.Tensor, name, boom)
    model.init_weights()
    initialize(model, [dict(type="Normal", layer="Linear", std=0.1),
                       dict(type="TruncNormal", layer="Conv2d", std=0.02)])
    monkeypatch.undo()
    assert model.init_report()["fc.weight"].writer == "Normal"


def test_report_is_truthful_after_report_off() -> None:
    """report=False (argument or class switch) turns the table off, not the recording: the
    report still names every tensor's writer."""
    model = TinyResNet()
    model.init_weights(report=False)
    assert model.is_init
    assert values_of(model.layer1[0].bn2.weight) == [0.0]  # the rules apply all the same
    on = TinyResNet()
    on.init_weights()
    assert [(e.name, e.writer, e.via) for e in model.init_report()] == [
        (e.name, e.writer, e.via) for e in on.init_report()]
    assert model.init_report()["layer1.0.bn2.weight"].writer == "Constant"

    class Quiet(TinyResNet):
        init_report_enabled = False

    quiet = Quiet()
    quiet.init_weights()
    assert len(quiet.init_report().uninitialized()) == len(on.init_report().uninitialized())
    loud = TinyResNet()
    initialize(loud, dict(type="Constant", layer="Linear", val=1), report=False)
    assert loud.init_report()["fc.weight"].writer == "Constant"
    assert loud.init_report()["conv1.weight"].writer == PYTORCH_DEFAULT


def values_of(t: torch.Tensor) -> list[float]:
    return t.detach().unique().tolist()


def test_initialize_adds_to_an_earlier_report(resnet: TinyResNet) -> None:
    initialize(resnet, dict(type="Normal", layer="Linear", std=0.01))
    report = resnet.init_report()
    assert report.uninitialized() == []
    assert report["fc.weight"].writer == "Normal"
    assert report["conv1.weight"].writer == "Kaiming"  # kept from init_weights


def test_update_init_info() -> None:
    class Head(BaseModule):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(2, 2)
            self.extra = nn.Linear(2, 2)

        def init_weights(self) -> None:
            with torch.no_grad():
                self.fc.weight.zero_()
            update_init_info(self.fc, "zero fc")
            with torch.no_grad():
                self.extra.weight.fill_(1)

    head = Head()
    head.init_weights()
    report = head.init_report()
    assert report["fc.weight"].writer == "zero fc"
    assert report["fc.bias"].writer == PYTORCH_DEFAULT  # untouched: not recorded
    assert report["extra.weight"].writer == "Head.init_weights"
    update_init_info(head.fc, "outside a run does nothing")


def test_report_shows_the_groups_automatic_group_norm_chose() -> None:
    from hydra_cnn import ResNet, initialize

    model = ResNet(depth=18, base_channels=16, norm_cfg=dict(type="GN", num_groups=None))
    initialize(model, dict(type="Kaiming", layer="Conv2d"))
    report = model.init_report()
    assert report.groups["gn1"] == 16 and report.groups["layer2.0.gn1"] == 32
    assert report.groups["layer4.1.gn2"] == 32  # 128 channels: 32 groups
    assert "GroupNorm groups: gn1=16, layer1.0.gn1=16" in str(report)
    assert report.to_dict()["group_norm_groups"]["layer2.0.downsample.1"] == 32
