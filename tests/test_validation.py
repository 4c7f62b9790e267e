"""validate(): catches what compose cannot, before anything is built."""

from __future__ import annotations

from typing import Any

import pytest
from omegaconf import OmegaConf

import hydra_cnn
from hydra_cnn.validation import ConfigValidationError


def _norm(**kw: Any) -> dict[str, Any]:
    return {"_target_": "hydra_cnn.make_norm", "_partial_": True, "type": "GN", **kw}


def test_valid_configs_pass() -> None:
    assert hydra_cnn.validate(hydra_cnn.configs.GNConf(num_groups=2)) == 1
    cfg = OmegaConf.create({"model": {"norm": _norm(num_groups=4), "act": {
        "_target_": "hydra_cnn.make_act", "_partial_": True, "type": "LeakyReLU"}}})
    assert hydra_cnn.validate(cfg) == 2
    plain = {"net": {"_target_": "torch.nn.Conv2d", "in_channels": 3, "out_channels": 4,
                     "kernel_size": 3}}
    assert hydra_cnn.validate(plain) == 1


@pytest.mark.parametrize(
    "cfg, pattern",
    [
        ({"layers": {"norm": _norm(num_grups=2)}},
         r"layers\.norm: .*unexpected key 'num_grups'.*Did you mean 'num_groups'"),
        ({"norm": _norm(type="GNN")}, r"norm\.type: .*Did you mean 'GN'"),
        ({"norm": _norm(num_groups="x")}, r"num_groups='x'.*expected int"),
        ({"m": {"_target_": "torch.nn.Conv2d", "in_channel": 3, "out_channels": 1,
                "kernel_size": 1}}, r"no argument 'in_channel'.*Did you mean 'in_channels'"),
        ({"m": {"_target_": "torch.nn.Conv2d", "out_channels": 1, "kernel_size": 1}},
         r"missing a required argument: 'in_channels'"),
        ({"m": {"_target_": "hydra_cnn.no_such_thing"}}, r"m\._target_: cannot locate"),
    ],
)
def test_problems_are_named(cfg: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigValidationError, match=pattern):
        hydra_cnn.validate(cfg)


def test_force_added_key_caught_before_build() -> None:
    """`+layers.norm.epss=1` passes compose (force-add); validate names it."""
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_app import opted_in

    GlobalHydra.instance().clear()
    with opted_in():
        cfg = compose(overrides=["+layers/norm=bn", "+layers.norm.epss=1"])
    GlobalHydra.instance().clear()
    with pytest.raises(ConfigValidationError, match="'epss'.*Did you mean 'eps'"):
        hydra_cnn.validate(cfg)


def test_error_is_type_and_value_error() -> None:
    with pytest.raises(TypeError, match=r"n: norm layer 'GN' got an unexpected key 'bad'"):
        hydra_cnn.validate({"n": _norm(bad=1)})
    with pytest.raises(ValueError, match="unexpected key 'bad'"):
        hydra_cnn.validate({"n": _norm(bad=1)})


@pytest.mark.parametrize("given", ["x", None, [1, 2], 3])
def test_validate_refuses_what_is_not_a_config(given: object) -> None:
    with pytest.raises(TypeError, match=f"validate\\(\\) takes a config .*but got {type(given).__name__}"):
        hydra_cnn.validate(given)


def test_validate_reports_mandatory_values_never_set() -> None:
    with pytest.raises(ValueError, match=r"n: .*'num_groups' is mandatory \('\?\?\?'\).*n\.num_groups="):
        hydra_cnn.validate({"n": _norm(num_groups="???")})


def test_validate_refuses_layernorm_on_conv_maps() -> None:
    cfg = {"model": {"_target_": "hydra_cnn.make_model", "type": "ResNet", "depth": 18,
                     "norm_cfg": {"type": "LN"}}}
    with pytest.raises(ValueError,
                       match=r"model\.norm_cfg: type 'LN' is nn\.LayerNorm.*'LN2d' \(option ln2d\)"):
        hydra_cnn.validate(cfg)


def test_unknown_type_is_also_a_key_error() -> None:
    with pytest.raises(KeyError, match="Did you mean 'GN'"):
        hydra_cnn.validate({"n": _norm(type="GNN")})
