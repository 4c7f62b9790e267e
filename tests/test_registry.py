"""Registry behaviour and the error contract of SPEC section 1."""

from __future__ import annotations

from typing import Any

import pytest
from torch import nn

import hydra_cnn
from hydra_cnn.registry import (
    ACTIVATION_LAYERS,
    NORM_LAYERS,
    Registry,
    build_from_cfg,
)


def _fresh() -> Registry:
    reg = Registry("fancy thing")

    @reg.register_module()
    class Fancy:
        def __init__(self, k: int = 1, name: str = "x") -> None:
            self.k, self.name = k, name

    reg.register_module(name=["Plain", "plain_alias"], module=dict)
    return reg


def test_register_decorator_call_and_lookup() -> None:
    reg = _fresh()
    assert "Fancy" in reg and "Plain" in reg and "plain_alias" in reg
    assert len(reg) == 3
    assert reg.get("Nope") is None
    assert reg.get("Plain") is dict is reg.module_dict["plain_alias"]
    assert reg.name == "fancy thing"
    text = repr(reg)
    assert "fancy thing" in text and "Fancy" in text and "plain_alias" in text
    assert reg.build(dict(type="Fancy", k=3)).k == 3
    assert build_from_cfg(dict(k=2), reg, default_args=dict(type="Fancy", name="y")).name == "y"
    fancy_cls = reg.get("Fancy")
    assert build_from_cfg(dict(type=fancy_cls), reg).k == 1  # a class as type


def test_duplicate_registration_needs_force() -> None:
    reg = _fresh()
    with pytest.raises(KeyError, match="already registered"):
        reg.register_module(name="Plain", module=list)
    reg.register_module(name="Plain", module=list, force=True)
    assert reg.get("Plain") is list


@pytest.mark.parametrize(
    "cfg, exc, pattern",
    [
        ("GN", TypeError, "must be a dict"),
        (["GN"], TypeError, "must be a dict"),
        (dict(num_groups=2), KeyError, 'must contain the key "type"'),
        (dict(type="GNN"), KeyError, r"Registered: .*GN.*Did you mean 'GN'\?"),
        (dict(type="gn"), KeyError, "Did you mean 'GN'"),
        (dict(type=3), TypeError, "must be a str or a class"),
        (dict(type="GN", num_grups=2), TypeError, "unexpected key 'num_grups'.*'num_groups'"),
        (dict(type="GN", num_groups="abc"), TypeError, "num_groups='abc'.*expected int"),
        (dict(type="GN", num_groups=3), ValueError, "num_groups=3 does not divide"),
        (dict(type="BN", momentum="fast"), TypeError, "momentum='fast'.*float or None"),
    ],
)
def test_norm_errors(cfg: Any, exc: type[Exception], pattern: str) -> None:
    with pytest.raises(exc, match=pattern):
        hydra_cnn.build_norm_layer(cfg, 8)


def test_error_names_registry_and_closest_match() -> None:
    with pytest.raises(KeyError, match="'LeakyRelu' is not registered") as info:
        hydra_cnn.build_activation_layer(dict(type="LeakyRelu"))
    text = str(info.value)
    assert "activation layer registry" in text and "Did you mean 'LeakyReLU'?" in text
    assert "ReLU6" in text  # the registered names are listed


def test_constructor_errors_are_chained() -> None:
    reg = _fresh()
    with pytest.raises(TypeError, match=r"fancy thing 'Fancy' got an unexpected key 'bad'") as info:
        reg.build(dict(type="Fancy", k=1, bad=2))
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(ValueError, match="HSigmoid") as info2:
        hydra_cnn.build_activation_layer(dict(type="HSigmoid", divisor=0))
    assert info2.value.__cause__ is not None


def test_build_from_cfg_rejects_bad_arguments() -> None:
    with pytest.raises(TypeError, match="registry must be a Registry"):
        build_from_cfg(dict(type="ReLU"), {"ReLU": nn.ReLU})  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="default_args"):
        build_from_cfg(dict(type="ReLU"), ACTIVATION_LAYERS, default_args=[1])  # type: ignore[arg-type]


def test_factory_of_the_wrong_family_is_rejected() -> None:
    from hydra.utils import instantiate

    act = instantiate(hydra_cnn.configs.ReLUConf())
    with pytest.raises(TypeError, match="activation layer registry"):
        hydra_cnn.build_norm_layer(act, 4)


def test_infer_abbr_and_is_norm() -> None:
    from hydra_cnn import is_norm
    from hydra_cnn.bricks.norm import infer_abbr

    assert infer_abbr(nn.BatchNorm1d) == "bn"
    assert infer_abbr(nn.SyncBatchNorm) == "bn"
    assert infer_abbr(nn.InstanceNorm2d) == "in"
    assert infer_abbr(nn.GroupNorm) == "gn"
    assert infer_abbr(nn.LayerNorm) == "ln"

    class MyBatchThing(nn.Module):
        pass

    class Custom(nn.Module):
        _abbr_ = "cst"

    class Other(nn.Module):
        pass

    assert infer_abbr(MyBatchThing) == "bn"
    assert infer_abbr(Custom) == "cst"
    assert infer_abbr(Other) == "norm_layer"
    with pytest.raises(TypeError, match="must be a type"):
        infer_abbr(nn.ReLU())  # type: ignore[arg-type]
    assert is_norm(nn.BatchNorm2d(2)) and is_norm(nn.GroupNorm(1, 2)) and is_norm(nn.LayerNorm(2))
    assert is_norm(hydra_cnn.LayerNorm2d(2))
    assert not is_norm(nn.Conv2d(1, 1, 1))
    assert not is_norm(nn.BatchNorm2d(2), exclude=nn.BatchNorm2d)
    assert not is_norm(nn.InstanceNorm2d(2), exclude=(nn.BatchNorm2d, nn.InstanceNorm2d))
    with pytest.raises(TypeError, match='"exclude" must be'):
        is_norm(nn.BatchNorm2d(2), exclude="BN")  # type: ignore[arg-type]


def test_registries_are_lazy_and_complete() -> None:
    assert NORM_LAYERS.get("LN2d") is hydra_cnn.LayerNorm2d
    assert {"BN", "GN", "LN", "LN2d", "IN", "SyncBN"} <= set(NORM_LAYERS.names())
    assert [n for n in NORM_LAYERS] == NORM_LAYERS.names()


def test_unknown_key_error_is_chained_to_the_signature_error() -> None:
    with pytest.raises(TypeError, match="activation layer 'ReLU' got an unexpected key 'foo'") as info:
        hydra_cnn.build_activation_layer(dict(type="ReLU", foo=1))
    assert isinstance(info.value.__cause__, TypeError)
    assert "foo" in str(info.value.__cause__)


def test_custom_build_func() -> None:
    calls = []

    def build(cfg: Any, registry: Registry, default_args: Any = None) -> Any:
        calls.append(cfg["type"])
        return build_from_cfg(cfg, registry, default_args)

    reg = Registry("things", build_func=build)
    reg.register_module(name="L", module=list)
    assert reg.build(dict(type="L")) == [] and calls == ["L"]
    with pytest.raises(TypeError, match="build_func must be callable"):
        Registry("bad", build_func=3)  # type: ignore[arg-type]


def test_same_class_twice_without_force_is_mmcv_keyerror() -> None:
    reg = Registry("cat")

    class Munchkin:
        pass

    reg.register_module(module=Munchkin)
    with pytest.raises(KeyError, match="Munchkin is already registered in cat"):
        reg.register_module(module=Munchkin)
    with pytest.raises(KeyError, match="ReLU is already registered in activation layer"):
        ACTIVATION_LAYERS.register_module(name="ReLU", module=nn.ReLU)
    assert reg.get("Munchkin") is Munchkin and ACTIVATION_LAYERS.get("ReLU") is nn.ReLU


def test_reloading_a_builtin_module_re_registers_its_members() -> None:
    import importlib

    import hydra_cnn.bricks.padding as padding

    before = dict(hydra_cnn.registry.PADDING_LAYERS.module_dict)
    importlib.reload(padding)
    assert hydra_cnn.registry.PADDING_LAYERS.module_dict == before
