"""The family table is open: a family declared in code gets what the built-in ones get, and
one type gets one set of defaults whichever route builds it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

import hydra_cnn
from hydra_cnn import configs
from hydra_cnn import registry as reg_mod
from hydra_cnn.common import snake_case
from hydra_cnn.configs import auto
from hydra_cnn.families import FAMILIES, Family


@pytest.fixture
def table() -> Iterator[None]:
    """Put the family table, the family registries and the generated configs back as they were."""
    families, registries = dict(FAMILIES), dict(reg_mod._FAMILY_REGISTRIES)
    generated = dict(auto._USER)
    yield
    FAMILIES.clear()
    FAMILIES.update(families)
    reg_mod._FAMILY_REGISTRIES.clear()
    reg_mod._FAMILY_REGISTRIES.update(registries)
    auto._USER.clear()
    auto._USER.update(generated)


class Gate(nn.Module):
    def __init__(self, embed_dims: int, scale: float = 2.0) -> None:
        super().__init__()
        self.embed_dims, self.scale = embed_dims, scale


def test_register_family_gives_a_registry_with_options_and_a_default_target(table: None) -> None:
    gates = hydra_cnn.register_family("gate", label="gate layer", group="layers/gate",
                                      late=("embed_dims",), cfg_args=("gate_cfg",))
    assert isinstance(gates, hydra_cnn.Registry) and gates.name == "gate layer"
    assert hydra_cnn.register_family("gate", label="gate layer", group="layers/gate",
                                     late=("embed_dims",), cfg_args=("gate_cfg",)) is gates
    gates.register_module(module=Gate)
    conf = configs.schema_for("layers/gate", "Gate")
    assert conf is not None and conf._option_ == "gate"
    node = OmegaConf.structured(conf)
    assert "embed_dims" not in node and node.scale == 2.0
    assert node._target_ == "hydra_cnn.registry.FACTORIES.gate"
    layer = instantiate(node, scale=3.0)(8)
    assert isinstance(layer, Gate) and (layer.embed_dims, layer.scale) == (8, 3.0)
    with pytest.raises(KeyError, match="Did you mean 'Gate'"):
        gates.build(dict(type="Gat"), embed_dims=4)
    with pytest.raises(TypeError, match="scale='x' has type str, expected float"):
        gates.build(dict(type="Gate", scale="x"), embed_dims=4)
    assert hydra_cnn.validate({"_target_": "hydra_cnn.registry.FACTORIES.gate", "_partial_": True,
                               "type": "Gate", "scale": 1.0}) == 1


class Pool(nn.Module):
    def __init__(self, kernel_size: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.kernel_size, self.stride = kernel_size, stride


def test_block_decides_keys_left_at_none_take_the_callers_or_the_class_default(table: None) -> None:
    pools = hydra_cnn.register_family("pool", label="pool layer", group="layers/pool",
                                      block_decides=("kernel_size", "stride"))
    assert FAMILIES["pool"].block_decides == ("kernel_size", "stride")
    pools.register_module(module=Pool)
    layer = pools.build(dict(type="Pool", kernel_size=None, stride=None))
    assert (layer.kernel_size, layer.stride) == (3, 1)  # the class defaults
    layer = pools.build_layer(dict(type="Pool", kernel_size=None, stride=2), kernel_size=5)
    assert (layer.kernel_size, layer.stride) == (5, 2)  # the block's size, the config's stride
    with pytest.raises(TypeError, match="block_decides must be a tuple of str"):
        hydra_cnn.register_family("pool2", label="pool layer", group="layers/pool2",
                                  block_decides=("kernel_size", 3))  # type: ignore[arg-type]


def test_register_family_refuses_a_group_another_family_owns(table: None) -> None:
    with pytest.raises(ValueError, match="'layers/norm' already belongs to family 'norm'"):
        hydra_cnn.register_family("my_norm", label="my norm", group="layers/norm")
    with pytest.raises(ValueError, match="lower-case identifier"):
        hydra_cnn.register_family("My Family", label="x", group="layers/x")
    with pytest.raises(ValueError, match="already declared differently"):
        hydra_cnn.register_family("norm", label="another norm", group="layers/norm2")


def test_registry_with_an_undeclared_family_declares_it(table: None) -> None:
    reg = hydra_cnn.Registry("pool layer", family=Family("pool", label="pool layer",
                                                         group="layers/pool"))
    assert FAMILIES["pool"].group == "layers/pool"
    assert reg_mod.family_registry("pool") is reg

    @reg.register_module()
    class MaxPoolish(nn.Module):
        def __init__(self, size: int = 2) -> None:
            super().__init__()
            self.size = size

    conf = configs.schema_for("layers/pool", "MaxPoolish")
    assert conf is not None
    assert instantiate(OmegaConf.structured(conf))().size == 2
    with pytest.raises(ValueError, match="already belongs to family 'act'"):
        hydra_cnn.Registry("x", family=Family("x", label="x", group="layers/act"))


def test_undeclared_family_lookup_names_the_declared_ones() -> None:
    with pytest.raises(KeyError, match="no family 'nrom'.*Did you mean 'norm'"):
        reg_mod.family_registry("nrom")


class RMSNorm2d(nn.Module):
    def __init__(self, num_features: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.num_features, self.eps = num_features, eps


@pytest.mark.parametrize("type_name", ["RMSNorm2d", "BN", "GN", "LN2d"])
def test_norm_eps_is_the_same_whichever_route_builds_it(type_name: str, unregister: Any) -> None:
    if type_name == "RMSNorm2d" and "RMSNorm2d" not in hydra_cnn.NORM_LAYERS:
        hydra_cnn.NORM_LAYERS.register_module(module=RMSNorm2d)
        unregister(hydra_cnn.NORM_LAYERS, "RMSNorm2d")
    extra = {"num_groups": 4} if type_name == "GN" else {}
    _, by_builder = hydra_cnn.build_norm_layer(dict(type=type_name, **extra), 8)
    conf = configs.schema_for("layers/norm", type_name)
    assert conf is not None
    by_option = instantiate(OmegaConf.structured(conf(**extra)))(8)
    by_registry = hydra_cnn.make_norm(8, type=type_name, **extra)
    assert type(by_builder) is type(by_option) is type(by_registry)
    assert by_builder.eps == by_option.eps == by_registry.eps == 1e-5  # mmcv's rule


def test_one_snake_case_for_options_and_plugin_names() -> None:
    assert snake_case("FancyReLU") == "fancy_relu"
    assert snake_case("MyUpsample") == "my_upsample"
    assert snake_case("ConvWS") == "conv_ws"
    assert snake_case("SyncBN") == "sync_bn"
    assert snake_case("Conv2dAdaptivePadding") == "conv2d_adaptive_padding"
    assert snake_case("LeakyReLU") == "leaky_relu"  # the shipped option's name

    class FancyReLU(nn.Module):
        pass

    from hydra_cnn.bricks.plugin import infer_plugin_abbr

    assert infer_plugin_abbr(FancyReLU) == "fancy_relu"


class ResNet:
    """A user's own class that happens to share a hydra_cnn model's name."""

    def __init__(self, norm_cfg: Any = None) -> None:
        self.norm_cfg = norm_cfg


def test_layernorm_refusal_goes_by_registry_membership_not_by_name() -> None:
    ln = {"type": "LN"}
    with pytest.raises(hydra_cnn.ConfigValidationError, match="use type 'LN2d'"):
        hydra_cnn.validate({"_target_": "hydra_cnn.ResNet", "depth": 18, "norm_cfg": ln})
    with pytest.raises(hydra_cnn.ConfigValidationError, match="use type 'LN2d'"):
        hydra_cnn.validate({"_target_": "hydra_cnn.ConvModule", "_partial_": True, "norm_cfg": ln})
    # a class of the same name outside the registries is not a conv model: its LN is accepted
    # (two nodes checked: the target and its norm_cfg)
    assert hydra_cnn.validate({"_target_": f"{__name__}.ResNet", "norm_cfg": ln}).checked == 2
    # a model that normalises tokens (SimpleViT) takes nn.LayerNorm, as a target and as a type
    assert hydra_cnn.validate({"_target_": "hydra_cnn.SimpleViT", "norm_cfg": ln})
    assert hydra_cnn.validate({"_target_": "hydra_cnn.make_model", "type": "SimpleViT",
                               "norm_cfg": ln})
