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
