"""Initializers and ``initialize``: the seed document's examples with their exact values, the
``layer``/``override`` rules, errors, warnings, and every accepted config form."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import pytest
import torch
from omegaconf import OmegaConf
from torch import nn

from hydra_cnn.configs.init import ConstantInitConf, NormalInitConf
from hydra_cnn.init import (
    BaseInit,
    Caffe2XavierInit,
    ConstantInit,
    KaimingInit,
    NormalInit,
    PretrainedInit,
    TruncNormalInit,
    UniformInit,
    XavierInit,
    init_report,
    initialize,
    make_init,
)
from hydra_cnn.registry import INITIALIZERS
from tests.init.nets import FooNet, FooNetSeq


def values(t: torch.Tensor) -> list[float]:
    return t.detach().unique().tolist()


def snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def unchanged(model: nn.Module, before: dict[str, torch.Tensor], *names: str) -> bool:
    now = model.state_dict()
    return all(torch.equal(now[n], before[n]) for n in names)


# -- the seed document --------------------------------------------------------------------------
def test_seed_layer_key_same_config() -> None:
    model = FooNet()
    initialize(model, dict(type="Constant", layer=["Conv1d", "Conv2d", "Linear"], val=1))
    assert torch.equal(model.feat.weight, torch.ones(1, 3, 3))
    for m in (model.feat, model.reg, model.cls):
        assert values(m.weight) == [1.0] and values(m.bias) == [0.0]


def test_seed_layer_key_per_layer_configs() -> None:
    model = FooNet()
    initialize(model, [dict(type="Constant", layer="Conv1d", val=1),
                       dict(type="Constant", layer="Conv2d", val=2),
                       dict(type="Constant", layer="Linear", val=3)])
    assert torch.equal(model.reg.weight, torch.full((3, 3, 3, 3), 2.0))
    assert values(model.feat.weight) == [1.0]
    assert values(model.cls.weight) == [3.0]


def test_seed_override() -> None:
    model = FooNetSeq()
    before = snapshot(model)
    init_cfg = dict(type="Constant", layer=["Conv1d", "Conv2d"], val=1, bias=2,
                    override=dict(type="Constant", name="reg", val=3, bias=4))
    initialize(model, init_cfg)
    assert torch.equal(model.reg.weight, torch.full((3, 3, 3, 3), 3.0))
    assert values(model.reg.bias) == [4.0]
    assert values(model.feat.weight) == [1.0] and values(model.feat.bias) == [2.0]
    assert values(model.cls[0].weight) == [1.0] and values(model.cls[0].bias) == [2.0]
    assert unchanged(model, before, "cls.1.weight", "cls.1.bias")  # Linear not in layer


def test_seed_override_name_only_reuses_parent_args() -> None:
    model = FooNetSeq()
    before = snapshot(model)
    initialize(model, dict(type="Constant", val=1, bias=2, override=dict(name="reg")))
    assert torch.equal(model.reg.weight, torch.ones(3, 3, 3, 3))
    assert values(model.reg.bias) == [2.0]
    assert unchanged(model, before, "feat.weight", "feat.bias", "cls.0.weight", "cls.1.weight")
    entry = init_report(model)["reg.weight"]
    assert (entry.writer, entry.args, entry.via) == (
        "Constant", {"val": 1, "bias": 2}, "init_cfg.override[reg]")


@pytest.mark.parametrize(("override", "message"), [
    (dict(type="Constant", val=3, bias=4), "must contain the key 'name'"),
    (dict(name="reg", val=3, bias=4), "has arguments but no 'type'"),
])
def test_seed_invalid_overrides(override: dict[str, Any], message: str) -> None:
    model = FooNetSeq()
    before = snapshot(model)
    init_cfg = dict(type="Constant", layer=["Conv1d", "Conv2d"], val=1, bias=2, override=override)
    with pytest.raises(ValueError, match=message):
        initialize(model, init_cfg)
    assert unchanged(model, before, *before)  # validated before anything is written


def test_unknown_override_name() -> None:
    model = FooNet()
    before = snapshot(model)
    with pytest.raises(RuntimeError, match=r"no submodule 'rge'.*Did you mean 'reg'\?"):
        initialize(model, dict(type="Constant", val=1, override=dict(name="rge")))
    assert unchanged(model, before, *before)


def test_override_dotted_path_and_list() -> None:
    model = FooNetSeq()
    initialize(model, dict(type="Constant", val=1, override=[
        dict(name="cls.1"), dict(name="feat", type="Constant", val=5, bias=6)]))
    assert values(model.cls[1].weight) == [1.0]
    assert values(model.feat.weight) == [5.0] and values(model.feat.bias) == [6.0]


def test_override_applies_to_every_layer_of_the_target() -> None:
    model = FooNetSeq()
    initialize(model, dict(type="Constant", val=7, layer="Conv2d",
                           override=dict(name="cls", type="Constant", val=8)))
    assert values(model.cls[0].weight) == [8.0] and values(model.cls[1].weight) == [8.0]
    assert values(model.reg.weight) == [7.0]


def test_override_wins_over_the_main_config() -> None:
    model = FooNet()
    initialize(model, dict(type="Constant", val=1, layer="Conv2d",
                           override=dict(name="reg", type="Normal", std=0.01)))
    assert values(model.reg.weight) != [1.0]
    assert init_report(model)["reg.weight"].writer == "Normal"


def test_no_layer_no_override_warns_and_does_nothing() -> None:
    model = FooNet()
    before = snapshot(model)
    with pytest.warns(UserWarning, match="neither 'layer' nor 'override'"):
        initialize(model, dict(type="Constant", val=1))
    assert unchanged(model, before, *before)


def test_layer_matching_nothing_warns_naming_it() -> None:
    with pytest.warns(UserWarning, match=r"layer \['Conv3d'\] matches no module in FooNet"):
        initialize(FooNet(), dict(type="Constant", layer="Conv3d", val=1))


def test_layer_typo_warns_with_closest_name() -> None:
    model = FooNet()
    with pytest.warns(UserWarning, match=r"'Linaer' names no nn.Module class; did you mean "
                                         r"'Linear'\?"):
        initialize(model, dict(type="Constant", layer=["Conv2d", "Linaer"], val=1))
    assert values(model.reg.weight) == [1.0]


def test_absent_known_layer_in_a_matching_list_is_quiet() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        initialize(FooNet(), dict(type="Constant", layer=["Conv2d", "Conv3d"], val=1))


def test_layer_matches_every_class_in_the_mro() -> None:
    class MyConv(nn.Conv2d):
        pass

    class MyConv2(MyConv):
        pass

    model = nn.Sequential(MyConv2(3, 3, 1), nn.Conv1d(3, 3, 1), nn.SyncBatchNorm(3))
    initialize(model, dict(type="Constant", layer="Conv2d", val=1))  # grandparent class
    assert values(model[0].weight) == [1.0]
    initialize(model, dict(type="Constant", layer="_ConvNd", val=2))  # private torch base
    assert values(model[0].weight) == [2.0] and values(model[1].weight) == [2.0]
    initialize(model, dict(type="Constant", layer="_BatchNorm", val=3))
    assert values(model[2].weight) == [3.0]


def test_list_applies_in_order() -> None:
    model = FooNet()
    initialize(model, [dict(type="Constant", layer="Conv2d", val=1),
                       dict(type="Constant", layer="Conv2d", val=2)])
    assert values(model.reg.weight) == [2.0]
    assert init_report(model)["reg.weight"].via == "init_cfg[1]"


# -- config forms -------------------------------------------------------------------------------
def test_dictconfig_dataclass_object_and_mixed_list() -> None:
    model = FooNet()
    initialize(model, OmegaConf.create(dict(type="Constant", layer=["Conv2d"], val=1)))
    assert values(model.reg.weight) == [1.0]
    initialize(model, ConstantInitConf(val=2.0, layer=["Linear"], norm=None))
    assert values(model.cls.weight) == [2.0]
    initialize(model, ConstantInit(val=3, layer="Conv1d"))
    assert values(model.feat.weight) == [3.0]
    initialize(model, [NormalInitConf(std=0.5, layer=["Conv1d"], norm=None),
                       dict(type="Constant", layer="Conv1d", val=4),
                       ConstantInit(val=5, layer="Linear")])
    assert values(model.feat.weight) == [4.0] and values(model.cls.weight) == [5.0]


def test_object_with_override_and_norm() -> None:
    init = make_init(type="Constant", val=1, layer="Conv2d", override=dict(name="cls"),
                     norm=dict(type="Constant", val=9, layer="Conv1d"))
    assert isinstance(init, ConstantInit)
    assert init.override == [dict(name="cls")]
    assert isinstance(init.norm, list) and isinstance(init.norm[0], ConstantInit)
    model = FooNet()
    initialize(model, init)
    assert values(model.reg.weight) == [1.0] and values(model.cls.weight) == [1.0]
    assert values(model.feat.weight) == [9.0]
    assert init_report(model)["feat.weight"].via == "init_cfg.norm"


_ACCEPTED_INIT_CFGS = (r"^init_cfg must be a dict, a DictConfig, a structured init config "
                       r"\(e\.g\. KaimingInitConf\(\)\), an initializer object or a list of these, ")


@pytest.mark.parametrize(("bad", "message"), [
    (3, _ACCEPTED_INIT_CFGS + r"but got int: 3$"),
    ("Constant", _ACCEPTED_INIT_CFGS + r"but got str: 'Constant'$"),
    (None, _ACCEPTED_INIT_CFGS + r"but got NoneType: None$"),
    ([[dict(type="Constant")]],
     r"^an init config list may not nest lists, but got \[\{'type': 'Constant'\}\]$"),
])
def test_bad_init_cfg_type(bad: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        initialize(FooNet(), bad)


def test_unknown_type_lists_registered_and_closest() -> None:
    with pytest.raises(KeyError, match=r"'Kaiminng' is not registered in the initializer "
                                       r"registry.*Did you mean 'Kaiming'\?"):
        initialize(FooNet(), dict(type="Kaiminng", layer="Conv2d"))
    with pytest.raises(KeyError, match='must contain the key "type"'):
        initialize(FooNet(), dict(layer="Conv2d"))


def test_missing_required_value() -> None:
    with pytest.raises(ValueError, match=r"'val' is mandatory \('\?\?\?'\) but was never set"):
        initialize(FooNet(), ConstantInitConf())


# -- initializer classes ------------------------------------------------------------------------
def test_registry_members() -> None:
    expected = {
        "Constant": ConstantInit, "Xavier": XavierInit, "Normal": NormalInit,
        "TruncNormal": TruncNormalInit, "Uniform": UniformInit, "Kaiming": KaimingInit,
        "Caffe2Xavier": Caffe2XavierInit, "Pretrained": PretrainedInit,
    }
    for name, cls in expected.items():
        assert INITIALIZERS.get(name) is cls
        assert INITIALIZERS.is_builtin(name)


@pytest.mark.parametrize(("kwargs", "message"), [
    (dict(bias="0"), "bias"),
    (dict(bias=True), "bias"),
    (dict(bias_prob=1), "bias_prob must be a float"),
    (dict(layer=1), "layer must be a str or a list of str"),
    (dict(layer=["Conv2d", 3]), "layer must be a str or a list of str"),
])
def test_base_init_type_errors(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        NormalInit(**kwargs)
    with pytest.raises(TypeError, match=message):  # the same through a config
        initialize(FooNet(), dict(type="Normal", **kwargs))


def test_bias_prob_sets_the_bias() -> None:
    model = FooNet()
    initialize(model, dict(type="Normal", layer="Linear", bias_prob=0.01))
    assert values(model.cls.bias) == pytest.approx([-4.59511985013459])
    assert init_report(model)["cls.bias"].args["bias_prob"] == 0.01


def test_caffe2_xavier_fixes_its_arguments() -> None:
    with pytest.raises(TypeError, match="got multiple values for keyword argument 'a'"):
        Caffe2XavierInit(a=2)
    init = Caffe2XavierInit(layer="Conv2d")
    assert (init.a, init.mode, init.nonlinearity, init.distribution) == (
        1, "fan_in", "leaky_relu", "uniform")


def test_bad_distribution_names_accepted_values() -> None:
    for exc in (ValueError, AssertionError):  # AssertionError: mmcv's exception class
        with pytest.raises(exc, match="distribution must be one of 'normal', 'uniform'"):
            KaimingInit(distribution="gauss")
        with pytest.raises(exc, match="distribution must be one of 'normal', 'uniform'"):
            XavierInit(distribution="gauss")
        with pytest.raises(exc, match="mode must be one of 'fan_in', 'fan_out'"):
            KaimingInit(mode="fan_avg")


@pytest.mark.parametrize(("cls", "kwargs", "exc", "match"), [
    (ConstantInit, dict(val="1"), TypeError, r"ConstantInit: val must be a number"),
    (XavierInit, dict(gain="2"), TypeError, r"XavierInit: gain must be a number, but got str"),
    (NormalInit, dict(mean=None), TypeError, r"NormalInit: mean must be a number"),
    (NormalInit, dict(std=float("inf")), ValueError, r"std must be a finite number, but got inf"),
    (TruncNormalInit, dict(std=0), ValueError, r"TruncNormalInit: std must be > 0, but got 0"),
    (UniformInit, dict(b=True), TypeError, r"UniformInit: b must be a number, but got bool"),
    (KaimingInit, dict(a="0.1"), TypeError, r"KaimingInit: a must be a number"),
])
def test_numeric_arguments_are_checked_when_built(cls: type, kwargs: dict[str, Any], exc: type,
                                                  match: str) -> None:
    with pytest.raises(exc, match=match):
        cls(layer="Linear", **kwargs)


def test_edge_values_that_torch_accepts_are_kept() -> None:
    model = FooNet()
    initialize(model, [dict(type="Normal", std=0, mean=2.0, layer="Linear"),
                       dict(type="Uniform", a=0.5, b=0.5, layer="Conv2d")])
    assert values(model.cls.weight) == [2.0] and values(model.reg.weight) == [0.5]


def test_defaults_and_info() -> None:
    k = KaimingInit()
    assert (k.a, k.mode, k.nonlinearity, k.distribution, k.bias, k.layer) == (
        0, "fan_out", "relu", "normal", 0, [])
    assert k._get_init_info() == (
        "KaimingInit: a=0, mode=fan_out, nonlinearity=relu, distribution=normal, bias=0")
    assert ConstantInit(val=1)._get_init_info() == "ConstantInit: val=1, bias=0"
    t = TruncNormalInit()
    assert (t.mean, t.std, t.a, t.b) == (0, 1, -2, 2)
    u = UniformInit()
    assert (u.a, u.b) == (0, 1)
    x = XavierInit()
    assert (x.gain, x.distribution) == (1, "normal")
    assert PretrainedInit("x.pth").map_location == "cpu"
    assert PretrainedInit("x.pth")._get_init_info() == "PretrainedInit: load from x.pth"
    assert repr(ConstantInit(val=1, layer="Conv2d")) == (
        "ConstantInit(val=1, bias=0, layer=['Conv2d'])")


def test_direct_call_and_user_subclass() -> None:
    @INITIALIZERS.register_module(name="Ones")
    class OnesInit(BaseInit):
        def init_module(self, module: nn.Module) -> None:
            with torch.no_grad():
                module.weight.fill_(1.0)

    try:
        model = FooNet()
        initialize(model, dict(type="Ones", layer="Linear"))
        assert values(model.cls.weight) == [1.0]
        assert init_report(model)["cls.weight"].writer == "Ones"
        with pytest.warns(UserWarning, match="has no layer"):
            OnesInit()(model)
    finally:
        INITIALIZERS._module_dict.pop("Ones", None)


# -- Pretrained ---------------------------------------------------------------------------------
class Backbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)


class Detector(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = Backbone()
        self.neck = nn.Conv2d(4, 4, 1)


@pytest.fixture
def detector_ckpt(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    torch.manual_seed(1)
    det = Detector()
    for p in det.parameters():
        torch.nn.init.normal_(p)
    sd = {k: v.clone() for k, v in det.state_dict().items()}
    path = tmp_path / "detector.pth"
    torch.save({"state_dict": sd, "meta": {}}, path)
    return path, sd


def test_pretrained_prefix_loads_only_that_part(detector_ckpt: tuple[Path, Any]) -> None:
    path, sd = detector_ckpt
    model = Backbone()
    initialize(model, dict(type="Pretrained", checkpoint=str(path), prefix="backbone."))
    assert torch.equal(model.conv.weight, sd["backbone.conv.weight"])
    assert torch.equal(model.bn.running_mean, sd["backbone.bn.running_mean"])
    report = init_report(model)
    assert report["conv.weight"].writer == "checkpoint"
    assert report["conv.weight"].args == {"checkpoint": str(path), "prefix": "backbone."}


def test_pretrained_whole_checkpoint_into_a_part(detector_ckpt: tuple[Path, Any]) -> None:
    path, sd = detector_ckpt
    model = Detector()
    neck_before = model.neck.weight.detach().clone()
    torch.save({"state_dict": {k: v for k, v in sd.items() if k.startswith("backbone.")}},
               path.with_name("bb.pth"))
    initialize(model, PretrainedInit(str(path.with_name("bb.pth"))))
    assert torch.equal(model.backbone.conv.weight, sd["backbone.conv.weight"])
    assert torch.equal(model.neck.weight, neck_before)
    report = init_report(model)
    assert report["backbone.conv.weight"].writer == "checkpoint"
    assert report["neck.weight"].writer == "PyTorch default"


def test_pretrained_strips_module_prefix_and_applies_override(tmp_path: Path) -> None:
    src = Backbone()
    path = tmp_path / "dp.pth"
    torch.save({f"module.{k}": v for k, v in src.state_dict().items()}, path)
    model = Backbone()
    initialize(model, dict(type="Pretrained", checkpoint=str(path),
                           override=dict(name="bn", type="Constant", val=2)))
    assert torch.equal(model.conv.weight, src.conv.weight)
    assert values(model.bn.weight) == [2.0]  # loaded first, then overridden
