"""Every registered layer type builds from every config form and runs forward."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

import hydra_cnn
from hydra_cnn import configs
from hydra_cnn.registry import ACTIVATION_LAYERS, CONV_LAYERS, NORM_LAYERS
from tests.bricks.cases import CASES, Case, build, case_id


def _registry(case: Case) -> Any:
    from hydra_cnn import registry

    return registry.group_registry(case.group)


def _conf(case: Case) -> type:
    conf = configs.schema_for(case.group, case.type)
    assert conf is not None, f"no structured config for {case.type}"
    return conf


def _run(case: Case, layer: nn.Module) -> torch.Tensor:
    assert isinstance(layer, _registry(case).get(case.type))  # type: ignore[arg-type]
    if case.eval_only:
        layer.eval()
    x = torch.randn(case.shape, requires_grad=True)
    out = layer(x)
    out.float().sum().backward()
    return out


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_builds_from_dict(case: Case) -> None:
    cfg = {"type": case.type, **case.cfg}
    out = _run(case, build(case, cfg))
    assert out.ndim == len(case.shape)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_builds_from_dataclass_and_dictconfig(case: Case) -> None:
    conf = _conf(case)(**case.cfg)
    a = build(case, conf)
    dc = OmegaConf.structured(conf)
    b = build(case, dc)
    assert repr(a) == repr(b)
    _run(case, a)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_instantiate_returns_a_factory(case: Case) -> None:
    factory = instantiate(_conf(case)(**case.cfg))
    first = factory(*case.args, **case.kwargs)
    second = factory(*case.args, **case.kwargs)
    assert first is not second  # a new module per call: two sites never share one
    _run(case, first)
    # builders unwrap the factory and take the same road as a dict
    again = build(case, factory)
    assert repr(again) == repr(first)


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_composed_yaml_option(case: Case, compose_option: Any) -> None:
    conf = _conf(case)
    dotted = case.group.replace("/", ".")
    node = compose_option(
        case.group, conf._option_, *(f"{dotted}.{k}={v}" for k, v in case.cfg.items())
    )
    assert OmegaConf.get_type(node) is conf  # typed by its schema, with no extra call
    factory = instantiate(node)
    _run(case, factory(*case.args, **case.kwargs))


def test_seed_first_example() -> None:
    layer = hydra_cnn.build_conv_layer(
        dict(type="Conv3d"), in_channels=3, out_channels=8, kernel_size=3
    )
    assert type(layer) is hydra_cnn.Conv3d and isinstance(layer, nn.Conv3d)  # mmcv's wrapper
    assert (layer.in_channels, layer.out_channels, layer.kernel_size) == (3, 8, (3, 3, 3))


def test_defaults_and_names() -> None:
    assert type(hydra_cnn.build_conv_layer(None, 3, 4, 1)) is nn.Conv2d
    assert hydra_cnn.build_norm_layer(dict(type="BN"), 4, postfix=1)[0] == "bn1"
    assert hydra_cnn.build_norm_layer(dict(type="GN", num_groups=2), 4, "_x")[0] == "gn_x"
    assert hydra_cnn.build_norm_layer(dict(type="LN2d"), 4)[0] == "ln"
    assert hydra_cnn.build_norm_layer(dict(type="IN3d"), 4)[0] == "in"
    assert hydra_cnn.build_norm_layer(dict(type="SyncBN"), 4)[0] == "bn"
    # requires_grad=False freezes the norm
    _, frozen = hydra_cnn.build_norm_layer(dict(type="BN", requires_grad=False), 4)
    assert not any(p.requires_grad for p in frozen.parameters())
    up = hydra_cnn.build_upsample_layer(dict(type="bilinear", scale_factor=2))
    assert isinstance(up, nn.Upsample) and up.mode == "bilinear"
    # lists from YAML become tuples where torch needs them
    up = hydra_cnn.build_upsample_layer(OmegaConf.create({"type": "nearest", "scale_factor": [2, 3]}))
    assert up(torch.zeros(1, 1, 2, 2)).shape == (1, 1, 4, 6)


def test_call_site_keywords_win_over_config() -> None:
    conv = hydra_cnn.build_conv_layer(dict(type="Conv2d", bias=True), 3, 4, 3, bias=False)
    assert conv.bias is None
    factory = instantiate(configs.LeakyReLUConf(negative_slope=0.2))
    assert factory(negative_slope=0.3).negative_slope == 0.3


def test_inplace_none_means_class_default() -> None:
    assert hydra_cnn.build_activation_layer(configs.ReLUConf()).inplace is False
    assert instantiate(configs.ReLUConf())(inplace=True).inplace is True


def test_two_sites_never_share_a_module() -> None:
    norm = instantiate(configs.BNConf())
    blocks = [nn.Sequential(nn.Conv2d(3, 3, 1), norm(3)) for _ in range(2)]
    assert blocks[0][1] is not blocks[1][1]
    assert blocks[0][1].weight is not blocks[1][1].weight
    cfg = dict(type="GN", num_groups=1)
    a = hydra_cnn.build_norm_layer(cfg, 4)[1]
    b = hydra_cnn.build_norm_layer(cfg, 4)[1]
    assert a is not b


@pytest.mark.parametrize("case", CASES, ids=case_id)
def test_builds_under_meta_device(case: Case) -> None:
    with torch.device("meta"):
        layer = build(case, {"type": case.type, **case.cfg})
    for t in [*layer.parameters(), *layer.buffers()]:
        assert t.device.type == "meta"


def test_string_dtype_and_device() -> None:
    conv = hydra_cnn.build_conv_layer(dict(type="Conv2d", dtype="float64", device="cpu"), 1, 1, 1)
    assert conv.weight.dtype == torch.float64
    with pytest.raises(TypeError, match="not a torch dtype"):
        hydra_cnn.build_conv_layer(dict(type="Conv2d", dtype="float99"), 1, 1, 1)


def test_every_builtin_type_has_a_case() -> None:
    covered = {(c.group, c.type) for c in CASES}
    from hydra_cnn.families import FAMILIES
    from hydra_cnn.registry import family_registry

    for family in FAMILIES.values():
        group = family.group
        if group is None or not group.startswith("layers/") or family.shares is not None:
            continue  # blocks have their own tests
        reg = family_registry(family)
        for name in reg.names():
            if reg.is_builtin(name) and name not in ("ConvModule", "DepthwiseSeparableConvModule"):
                assert (group, name) in covered, f"{group} {name} has no test case"


def test_registries_hold_mmcv_names() -> None:
    assert CONV_LAYERS.get("Conv") is hydra_cnn.Conv2d  # mmcv's wrapper; 'Conv2d' is torch's
    assert CONV_LAYERS.get("Conv2d") is nn.Conv2d
    assert NORM_LAYERS.get("BN") is nn.BatchNorm2d
    assert NORM_LAYERS.get("IN") is nn.InstanceNorm2d
    assert ACTIVATION_LAYERS.get("Clip") is ACTIVATION_LAYERS.get("Clamp")
    assert CONV_LAYERS.get("deconv") is hydra_cnn.ConvTranspose2d
