"""A class a user registers becomes a typed config option, whenever it is registered."""

from __future__ import annotations

from typing import Any

import pytest
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

import hydra_cnn
from hydra_cnn.registry import ACTIVATION_LAYERS, NORM_LAYERS, UPSAMPLE_LAYERS


def test_seed_my_upsample(compose_option: Any, unregister: Any) -> None:
    @UPSAMPLE_LAYERS.register_module()
    class MyUpsample:  # a plain class, as in the seed document
        def __init__(self, scale_factor: int) -> None:
            self.scale_factor = scale_factor

        def forward(self, x: Any) -> Any:
            return x

    unregister(UPSAMPLE_LAYERS, "MyUpsample")
    layer = hydra_cnn.build_upsample_layer(dict(type="MyUpsample", scale_factor=2))
    assert isinstance(layer, MyUpsample) and layer.scale_factor == 2

    node = compose_option("layers/upsample", "my_upsample", "layers.upsample.scale_factor=2")
    assert node.type == "MyUpsample"
    built = instantiate(node)()
    assert isinstance(built, MyUpsample) and built.scale_factor == 2

    # typed from the signature: a wrong type fails at compose, naming the field
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException, match="scale_factor") as info:
        compose_option("layers/upsample", "my_upsample", "layers.upsample.scale_factor=abc")
    assert "scale_factor" in str(info.value.__cause__ or info.value)


def test_generated_config_follows_the_family_rules(unregister: Any) -> None:
    @NORM_LAYERS.register_module(config_name="my_norm")
    class FancyNorm(nn.GroupNorm):
        def __init__(self, num_channels: int, num_groups: int = 4, eps: float = 1e-5,
                     affine: bool = True, extra: tuple[int, int] = (1, 2)) -> None:
            super().__init__(num_groups, num_channels, eps, affine)

    unregister(NORM_LAYERS, "FancyNorm")
    conf = hydra_cnn.configs.schema_for("layers/norm", "FancyNorm")
    assert conf is not None and conf._option_ == "my_norm"
    node = OmegaConf.structured(conf)
    assert "num_channels" not in node  # the late size is omitted
    assert node.num_groups == 4 and node.extra == [1, 2]
    name, layer = hydra_cnn.build_norm_layer(instantiate(node), 8)
    assert name == "gn" and isinstance(layer, FancyNorm) and layer.num_channels == 8
    with pytest.raises(TypeError, match="num_groups='x'.*expected int"):
        hydra_cnn.build_norm_layer(dict(type="FancyNorm", num_groups="x"), 8)


def test_act_inplace_becomes_optional(unregister: Any) -> None:
    @ACTIVATION_LAYERS.register_module()
    class FancyReLU(nn.ReLU):
        pass

    unregister(ACTIVATION_LAYERS, "FancyReLU")
    conf = hydra_cnn.configs.schema_for("layers/act", "FancyReLU")
    assert conf is not None and conf._option_ == "fancy_relu" and conf().inplace is None


def test_register_configs_aliases(unregister: Any) -> None:
    from hydra import compose
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_app import opted_in

    hydra_cnn.register_configs(aliases={"model/norm": "layers/norm", "model/act": "layers/act"})
    hydra_cnn.register_configs(aliases={"model/norm": "layers/norm"})  # idempotent

    @ACTIVATION_LAYERS.register_module()
    class LateAct(nn.Identity):  # registered after the aliases: still mirrored
        pass

    unregister(ACTIVATION_LAYERS, "LateAct")
    ConfigStore.instance().store(
        name="alias_app", node={"defaults": ["_self_", {"model/norm": "bn"}, {"model/act": "relu"}]}
    )
    GlobalHydra.instance().clear()
    with opted_in():
        cfg = compose("alias_app", overrides=["model/norm=gn", "model.norm.num_groups=2"])
        assert OmegaConf.get_type(cfg.model.norm) is hydra_cnn.configs.GNConf
        assert isinstance(instantiate(cfg.model.norm)(4), nn.GroupNorm)
        cfg = compose("alias_app", overrides=["model/act=late_act"])
        assert isinstance(instantiate(cfg.model.act)(), LateAct)
        from hydra.errors import ConfigCompositionException

        with pytest.raises(ConfigCompositionException, match="Error merging override"):
            compose("alias_app", overrides=["model/norm=gn", "model.norm.num_groups=abc"])
    GlobalHydra.instance().clear()


def test_register_configs_refuses_foreign_nodes_and_bad_groups() -> None:
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(group="theirs/norm", name="bn", node={"x": 1}, provider="other")
    with pytest.raises(ValueError, match="provider 'other'"):
        hydra_cnn.register_configs(aliases={"theirs/norm": "layers/norm"})
    with pytest.raises(ValueError, match="Did you mean 'layers/norm'"):
        hydra_cnn.register_configs(aliases={"mine/norm": "layers/nrom"})
    with pytest.raises(TypeError, match="aliases must be a mapping"):
        hydra_cnn.register_configs(aliases=["layers/norm"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown hydra_cnn config group 'layer/norm' in groups"):
        hydra_cnn.register_configs(groups=["layer/norm"])


def test_register_configs_with_a_package() -> None:
    """`model/norm=gn` on the command line, the node at `model.norm_cfg` (mmcv's argument name)."""
    from hydra import compose
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_app import opted_in

    hydra_cnn.register_configs(aliases={"pkg_app/norm@net.norm_cfg": "layers/norm"})
    ConfigStore.instance().store(
        name="pkg_app", node={"defaults": ["_self_", {"pkg_app/norm": "bn"}], "net": {"depth": 1}}
    )
    GlobalHydra.instance().clear()
    with opted_in():
        cfg = compose("pkg_app", overrides=["pkg_app/norm=gn", "net.norm_cfg.num_groups=2"])
    GlobalHydra.instance().clear()
    assert OmegaConf.get_type(cfg.net.norm_cfg) is hydra_cnn.configs.GNConf
    assert cfg.net.norm_cfg.num_groups == 2 and cfg.net.depth == 1
