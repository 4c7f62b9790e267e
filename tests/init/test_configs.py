"""The ``init`` config group: typed dataclasses mirroring the initializers, the shipped YAML
options, ``instantiate`` to initializer objects, and ``model/init=xavier`` on a whole model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch
from hydra.errors import ConfigCompositionException
from hydra.utils import instantiate
from omegaconf import OmegaConf
from omegaconf.errors import ValidationError

from hydra_cnn.configs import builtin_confs, option_table
from hydra_cnn.configs.init import (
    CONFS,
    DEFAULT_INIT_LAYERS,
    DEFAULT_NORM_LAYERS,
    Caffe2XavierInitConf,
    ConstantInitConf,
    KaimingInitConf,
    NormalInitConf,
    PretrainedInitConf,
    TruncNormalInitConf,
    UniformInitConf,
    XavierInitConf,
)
from hydra_cnn.configs.yaml_files import CONF_DIR, render_option
from hydra_cnn.init import BaseInit, ConstantInit, KaimingInit, PretrainedInit, XavierInit
from tests.init.nets import TinyResNet

OPTIONS = {
    ConstantInitConf: ("constant", "Constant"),
    XavierInitConf: ("xavier", "Xavier"),
    NormalInitConf: ("normal", "Normal"),
    TruncNormalInitConf: ("trunc_normal", "TruncNormal"),
    UniformInitConf: ("uniform", "Uniform"),
    KaimingInitConf: ("kaiming", "Kaiming"),
    Caffe2XavierInitConf: ("caffe2_xavier", "Caffe2Xavier"),
    PretrainedInitConf: ("pretrained", "Pretrained"),
}
# keys make_init handles itself, and the documented default that differs from the class


def test_confs_listed_and_in_option_table() -> None:
    assert set(CONFS) == set(OPTIONS)
    assert set(CONFS) <= set(builtin_confs())
    rows = {(g, o) for g, o, _ in option_table()}
    for cls, (option, type_name) in OPTIONS.items():
        assert (cls._group_, cls._option_, cls.type) == ("init", option, type_name)
        assert ("init", option) in rows


@pytest.mark.parametrize("cls", list(OPTIONS))
def test_structured_and_yaml_up_to_date(cls: type) -> None:
    node = OmegaConf.structured(cls)
    assert node.type == cls.type
    path = CONF_DIR / "init" / f"{cls._option_}.yaml"
    assert path.read_text() == render_option(cls)


def test_structured_validation() -> None:
    node = OmegaConf.structured(KaimingInitConf)
    with pytest.raises(ValidationError, match="Value 'steep' of type 'str' could not be converted to Float"):
        node.a = "steep"
    node.layer = "Conv2d"  # Any: a str or a list
    node.norm = None


@pytest.mark.parametrize(("cls", "expected"), [
    (KaimingInitConf, KaimingInit), (XavierInitConf, XavierInit),
    (lambda: ConstantInitConf(val=0.5), ConstantInit),
    (lambda: PretrainedInitConf(checkpoint="x.pth"), PretrainedInit),
])
def test_instantiate_returns_initializer(cls: Callable[[], Any], expected: type) -> None:
    init = instantiate(cls())
    assert type(init) is expected
    if isinstance(init, BaseInit):
        assert init.layer == list(DEFAULT_INIT_LAYERS)
        assert isinstance(init.norm, list) and isinstance(init.norm[0], ConstantInit)
        assert init.norm[0].layer == list(DEFAULT_NORM_LAYERS)
        assert (init.norm[0].val, init.norm[0].bias) == (1.0, 0.0)
    else:
        assert init.map_location == "cpu" and init.norm is None


def _garbage(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for p in model.parameters():
            p.fill_(7.0)


@pytest.mark.parametrize("cls", [KaimingInitConf, XavierInitConf, NormalInitConf,
                                 TruncNormalInitConf, UniformInitConf, Caffe2XavierInitConf])
def test_option_initialises_a_whole_model(cls: type) -> None:
    model = TinyResNet(init_cfg=instantiate(cls()))
    _garbage(model)
    model.init_weights()
    report = model.init_report()
    assert report.uninitialized() == []
    assert report["conv1.weight"].writer == cls.type
    assert report["fc.weight"].writer == cls.type
    assert report["bn1.weight"].writer == "Constant"
    assert model.bn1.weight.detach().unique().tolist() == [1.0]
    assert model.bn1.bias.detach().unique().tolist() == [0.0]
    assert model.conv1.weight.detach().unique().numel() > 1


def test_option_as_dataclass_or_dictconfig_without_instantiate() -> None:
    for cfg in (KaimingInitConf(), OmegaConf.structured(KaimingInitConf)):
        model = TinyResNet(init_cfg=cfg)
        model.init_weights()
        assert model.init_report().uninitialized() == []


def test_compose_init_option(compose_option: Callable[..., Any]) -> None:
    node = compose_option("init", "xavier", "init.gain=2", "init.distribution=uniform")
    init = instantiate(node)
    assert isinstance(init, XavierInit) and (init.gain, init.distribution) == (2.0, "uniform")
    node = compose_option("init", "kaiming", "init.norm=null", "init.layer=[Conv2d]")
    init = instantiate(node)
    assert init.norm is None and init.layer == ["Conv2d"]
    with pytest.raises(ConfigCompositionException, match="gain"):
        compose_option("init", "xavier", "init.gain=abc")


def test_model_init_group_alias() -> None:
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from hydra_cnn.configs import register_configs
    from tests.hydra_app import opted_in

    register_configs(aliases={"model/init": "init"})
    GlobalHydra.instance().clear()
    try:
        with opted_in():
            cfg = compose(overrides=["+model/init=xavier"])
    finally:
        GlobalHydra.instance().clear()
    model = TinyResNet(init_cfg=instantiate(cfg.model.init))
    model.init_weights()
    report = model.init_report()
    assert {report[n].writer for n in ("conv1.weight", "layer2.0.downsample.0.weight",
                                       "fc.weight")} == {"Xavier"}
    assert report.uninitialized() == []


# -- mmcv init dicts as structured configs ---------------------------------------------------------
def _seg_net() -> Any:
    from torch import nn

    torch.manual_seed(0)
    net = nn.Sequential()
    net.add_module("conv", nn.Conv2d(3, 4, 3))
    net.add_module("bn", nn.BatchNorm2d(4))
    net.add_module("conv_seg", nn.Conv2d(4, 2, 1))
    return net


MMCV_INIT_DICTS = [
    dict(type="Normal", std=0.01, override=dict(name="conv_seg")),
    dict(type="Kaiming", layer="Conv2d", a=2.0, distribution="uniform", mode="fan_in",
         nonlinearity="leaky_relu"),
    dict(type="Constant", val=1, layer=["_BatchNorm", "GroupNorm"]),
    dict(type="Xavier", layer="Conv2d", distribution="uniform"),
    dict(type="Uniform", layer="Conv2d", a=-0.1, b=0.1, override=dict(type="Constant", val=0.5,
                                                                       name="conv_seg")),
]


@pytest.mark.parametrize("mmcv_cfg", MMCV_INIT_DICTS, ids=lambda c: c["type"])
def test_converted_mmcv_init_dict_gives_mmcv_weights(mmcv_cfg: dict[str, Any]) -> None:
    from hydra.utils import instantiate

    from hydra_cnn import initialize
    from hydra_cnn.configs import init_conf_from_mmcv

    expected = _seg_net()
    torch.manual_seed(1)
    initialize(expected, mmcv_cfg)
    conf = init_conf_from_mmcv(mmcv_cfg)
    assert conf.norm is None and isinstance(conf.layer, list)
    for init in (instantiate(conf), instantiate(OmegaConf.structured(conf))):
        got = _seg_net()
        torch.manual_seed(1)
        initialize(got, init)
        for key, value in expected.state_dict().items():
            assert torch.equal(got.state_dict()[key], value), key


def test_field_by_field_copy_changes_weights_and_the_converter_does_not() -> None:
    """The shipped option's useful defaults (layer: every conv/linear; norm: 1/0) change an mmcv
    dict's meaning when only its own keys are copied."""
    from hydra.utils import instantiate

    from hydra_cnn import initialize
    from hydra_cnn.configs import NormalInitConf, init_conf_from_mmcv

    mmcv_cfg = dict(type="Normal", std=0.01, override=dict(name="conv_seg"))
    expected, copied = _seg_net(), _seg_net()
    torch.manual_seed(1)
    initialize(expected, mmcv_cfg)
    torch.manual_seed(1)
    initialize(copied, instantiate(NormalInitConf(std=0.01, override=dict(name="conv_seg"))))
    assert not torch.equal(copied.conv.weight, expected.conv.weight)  # re-initialised
    fixed = NormalInitConf(std=0.01, override=dict(name="conv_seg"), layer=[], norm=None)
    assert init_conf_from_mmcv(mmcv_cfg) == fixed


def test_converter_refuses_what_mmcv_does_not_mean() -> None:
    from hydra_cnn.configs import init_conf_from_mmcv

    with pytest.raises(KeyError, match="Did you mean 'Kaiming'"):
        init_conf_from_mmcv(dict(type="Kaimng"))
    with pytest.raises(TypeError, match="no key 'sdt'.*Did you mean 'std'"):
        init_conf_from_mmcv(dict(type="Normal", sdt=1))
    with pytest.raises(TypeError, match="no key 'norm'"):
        init_conf_from_mmcv(dict(type="Normal", norm=dict(type="Constant", val=1)))
    with pytest.raises(KeyError, match='must contain the key "type"'):
        init_conf_from_mmcv(dict(std=1))
    with pytest.raises(TypeError, match="mmcv init dict"):
        init_conf_from_mmcv("Normal")
    pair = init_conf_from_mmcv([dict(type="Kaiming", layer="Conv2d"),
                                dict(type="Pretrained", checkpoint="x.pth", prefix="backbone.")])
    assert pair[0].layer == ["Conv2d"] and pair[1].prefix == "backbone."
