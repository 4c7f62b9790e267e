"""mmcv 1.7.2's own behaviour for ConvModule and Registry, as its users rely on it.

Written from the behaviour mmcv's test files check (registry scopes and parents excepted: not
carried over); each test builds what an mmcv user builds and asserts what they observe.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any
from unittest.mock import patch

import pytest
import torch
from torch import nn

from hydra_cnn import ConvModule, HSigmoid
from hydra_cnn.registry import CONV_LAYERS, Registry, build_from_cfg


class OwnInitConv(nn.Module):
    """A user conv with its own ``init_weights`` and the attributes ConvModule copies."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1,
                 padding: int = 0, dilation: int = 1, groups: int = 1, bias: bool = True,
                 norm_cfg: Any = None) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.kernel_size = in_channels, out_channels, kernel_size
        self.stride, self.padding, self.dilation, self.groups = stride, padding, dilation, groups
        self.bias, self.norm_cfg = bias, norm_cfg
        self.output_padding = (0, 0, 0)
        self.transposed = False
        self.conv0 = nn.Conv2d(in_channels, out_channels, kernel_size)
        self.init_weights()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv0(x)

    def init_weights(self) -> None:
        nn.init.constant_(self.conv0.weight, 0)


@pytest.fixture
def own_init_conv() -> Iterator[str]:
    CONV_LAYERS.register_module(name="OwnInitConv", module=OwnInitConv)
    try:
        yield "OwnInitConv"
    finally:
        CONV_LAYERS._module_dict.pop("OwnInitConv")


# -- ConvModule --------------------------------------------------------------------------------
def test_conv_module_rejects_non_dict_cfgs_and_unknown_activation() -> None:
    with pytest.raises(AssertionError):
        ConvModule(3, 8, 2, conv_cfg="conv")
    with pytest.raises(AssertionError):
        ConvModule(3, 8, 2, norm_cfg="norm")
    with pytest.raises(KeyError):
        ConvModule(3, 8, 2, act_cfg=dict(type="softmax"))


def test_conv_module_parts_and_shapes() -> None:
    x = torch.rand(1, 3, 32, 32)
    block = ConvModule(3, 8, 2, norm_cfg=dict(type="BN"))
    assert block.with_activation and hasattr(block, "activate") and block.with_norm
    assert block.norm is not None and block(x).shape == (1, 8, 31, 31)
    block = ConvModule(3, 8, 2)
    assert block.with_activation and not block.with_norm and block.norm is None
    assert block(x).shape == (1, 8, 31, 31)
    block = ConvModule(3, 8, 2, act_cfg=None)
    assert not block.with_norm and block.norm is None and not block.with_activation
    assert not hasattr(block, "activate") and block(x).shape == (1, 8, 31, 31)


def test_conv_with_its_own_init_weights_is_left_alone(own_init_conv: str) -> None:
    block = ConvModule(3, 8, 2, conv_cfg=dict(type=own_init_conv), act_cfg=None)
    assert torch.equal(block.conv.conv0.weight, torch.zeros(8, 3, 2, 2))


def test_spectral_norm_and_padding_modes() -> None:
    x = torch.rand(1, 3, 16, 16)
    block = ConvModule(3, 8, 3, padding=1, with_spectral_norm=True)
    assert hasattr(block.conv, "weight_orig") and block(x).shape == (1, 8, 16, 16)
    block = ConvModule(3, 8, 3, padding=1, padding_mode="reflect")
    assert isinstance(block.padding_layer, nn.ReflectionPad2d) and block(x).shape == (1, 8, 16, 16)
    with pytest.raises(KeyError):
        ConvModule(3, 8, 3, padding=1, padding_mode="non_exists")


@pytest.mark.parametrize("act, cls", [("LeakyReLU", nn.LeakyReLU), ("Tanh", nn.Tanh),
                                      ("Sigmoid", nn.Sigmoid), ("PReLU", nn.PReLU),
                                      ("HSwish", nn.Hardswish), ("HSigmoid", HSigmoid)])
def test_activation_types_build_mmcv_classes(act: str, cls: type) -> None:
    block = ConvModule(3, 8, 3, padding=1, act_cfg=dict(type=act))
    assert isinstance(block.activate, cls)
    assert block(torch.rand(1, 3, 8, 8)).shape == (1, 8, 8, 8)


def test_bias_auto_and_the_one_warning() -> None:
    assert ConvModule(3, 8, 2).conv.bias is not None
    assert ConvModule(3, 8, 2, norm_cfg=dict(type="BN")).conv.bias is None
    assert ConvModule(3, 8, 2, bias=False).conv.bias is None
    for norm in (dict(type="BN"), dict(type="IN")):
        with pytest.warns(UserWarning) as record:
            ConvModule(3, 8, 2, bias=True, norm_cfg=norm)
        assert [str(r.message) for r in record] == [
            "Unnecessary conv bias before batch/instance norm"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ConvModule(3, 8, 2, bias=True, norm_cfg=dict(type="GN", num_groups=1))


def _tagged(tag: str) -> Any:
    def forward(self: nn.Module, x: str) -> str:
        return x + tag

    return forward


@patch("torch.nn.ReLU.forward", _tagged("_relu"))
@patch("torch.nn.BatchNorm2d.forward", _tagged("_bn"))
@patch("torch.nn.Conv2d.forward", _tagged("_conv"))
def test_order_and_forward_switches_walk_the_parts() -> None:
    # (a list is accepted on purpose, where mmcv asserts a tuple: YAML has no tuples)
    for order in (("conv", "norm"), ("conv", "norm", "norm"), ("conv", "norm", "something")):
        with pytest.raises(AssertionError):
            ConvModule(3, 8, 2, order=order)
    block = ConvModule(3, 8, 2, norm_cfg=dict(type="BN"))
    assert block("input") == "input_conv_bn_relu"
    assert block("input", activate=False) == "input_conv_bn"
    assert block("input", norm=False) == "input_conv_relu"
    block = ConvModule(3, 8, 2, norm_cfg=dict(type="BN"), order=("norm", "conv", "act"))
    assert block("input") == "input_bn_conv_relu"


# -- Registry ----------------------------------------------------------------------------------
def test_registry_registration_rules_of_mmcv() -> None:
    cats = Registry("cat")
    assert cats.name == "cat" and cats.module_dict == {} and len(cats) == 0

    @cats.register_module()
    class BritishShorthair:
        pass

    assert len(cats) == 1 and cats.get("BritishShorthair") is BritishShorthair

    class Munchkin:
        pass

    with pytest.warns(DeprecationWarning):
        cats.register_module(Munchkin)
    assert len(cats) == 2 and cats.get("Munchkin") is Munchkin and "Munchkin" in cats
    # the same class again, without force: mmcv's KeyError
    with pytest.raises(KeyError, match="Munchkin is already registered in cat"):
        cats.register_module(module=Munchkin)
    with pytest.warns(DeprecationWarning), pytest.raises(KeyError, match="already registered"):
        cats.register_module(Munchkin)
    with pytest.warns(DeprecationWarning):
        cats.register_module(Munchkin, force=True)
    assert len(cats) == 2
    with pytest.raises(KeyError):

        @cats.register_module()
        class BritishShorthair:  # type: ignore[no-redef]
            pass

    @cats.register_module(force=True)
    class BritishShorthair:  # type: ignore[no-redef]
        pass

    assert len(cats) == 2 and cats.get("BritishShorthair") is BritishShorthair
    assert cats.get("PersianCat") is None and "PersianCat" not in cats

    @cats.register_module(name=["Siamese", "Siamese2"])
    class SiameseCat:
        pass

    assert cats.get("Siamese") is SiameseCat is cats.get("Siamese2")

    class SphynxCat:
        pass

    cats.register_module(name="Sphynx", module=SphynxCat)
    cats.register_module(name=["Sphynx1", "Sphynx2"], module=SphynxCat)
    assert cats.get("Sphynx") is SphynxCat is cats.get("Sphynx2")
    assert list(cats.module_dict) == ["BritishShorthair", "Munchkin", "Siamese", "Siamese2",
                                      "Sphynx", "Sphynx1", "Sphynx2"]
    assert repr(cats).startswith("Registry(name=cat, items={'BritishShorthair': <class ")
    with pytest.raises(TypeError):
        cats.register_module(name=7474741, module=SphynxCat)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cats.register_module(0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cats.register_module(SphynxCat, force="yes")  # type: ignore[arg-type]


def test_a_list_of_names_is_registered_all_or_nothing() -> None:
    reg = Registry("thing")
    reg.register_module(name="B", module=int)
    with pytest.raises(KeyError, match="B is already registered in thing"):
        reg.register_module(name=["A", "B"], module=float)
    assert "A" not in reg and reg.get("B") is int


def test_deprecated_register_module_forms() -> None:
    cats = Registry("cat")

    class SphynxCat:
        pass

    with pytest.warns(DeprecationWarning, match="register_module"):
        assert cats.deprecated_register_module(SphynxCat) is SphynxCat
    assert cats.get("SphynxCat") is SphynxCat
    with pytest.warns(DeprecationWarning), pytest.raises(KeyError, match="already registered"):
        cats.deprecated_register_module(SphynxCat)
    with pytest.warns(DeprecationWarning):
        cats.deprecated_register_module(SphynxCat, force=True)
    with pytest.warns(DeprecationWarning):

        @cats.deprecated_register_module
        class CuteCat:
            pass

    with pytest.warns(DeprecationWarning):

        @cats.deprecated_register_module(force=True)
        class NewCat2:
            pass

    assert cats.get("CuteCat") is CuteCat and cats.get("NewCat2") is NewCat2
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError):
        cats.deprecated_register_module(0)


def test_build_from_cfg_as_mmcv() -> None:
    backbones = Registry("backbone")

    @backbones.register_module()
    class ResNet:
        def __init__(self, depth: int, stages: int = 4) -> None:
            self.depth, self.stages = depth, stages

    model = build_from_cfg(dict(type="ResNet", depth=50), backbones, default_args={"stages": 3})
    assert isinstance(model, ResNet) and (model.depth, model.stages) == (50, 3)
    assert build_from_cfg(dict(type=ResNet, depth=50), backbones).stages == 4
    assert build_from_cfg(dict(depth=50), backbones, default_args=dict(type=ResNet)).depth == 50
    assert build_from_cfg(dict(depth=50), backbones, default_args=dict(type="ResNet")).depth == 50
    with pytest.raises(TypeError):
        build_from_cfg(dict(type="VGG"), "BACKBONES")  # type: ignore[arg-type]
    with pytest.raises(KeyError):
        build_from_cfg(dict(type="VGG"), backbones)
    for bad_default in (1, 0):
        with pytest.raises(TypeError):
            build_from_cfg(dict(type="ResNet", depth=50), backbones, default_args=bad_default)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        build_from_cfg(dict(type=1000), backbones)
    with pytest.raises(KeyError, match='must contain the key "type"'):
        build_from_cfg(dict(depth=50, stages=4), backbones)
    with pytest.raises(KeyError, match='must contain the key "type"'):
        build_from_cfg(dict(depth=50), backbones, default_args=dict(stages=4))
    with pytest.raises(TypeError):
        build_from_cfg(dict(type="ResNet", non_existing_arg=50), backbones)
