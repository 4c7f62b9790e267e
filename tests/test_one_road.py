"""Every way of building from a registry takes the same road and gives the same errors."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

import hydra_cnn
from hydra_cnn.common import MissingValueError
from hydra_cnn.configs import GNConf, LeakyReLUConf
from hydra_cnn.registry import (
    ACTIVATION_LAYERS,
    CONV_LAYERS,
    NORM_LAYERS,
    UPSAMPLE_LAYERS,
    Registry,
    build_from_cfg,
    build_model_from_cfg,
)

# (what the user calls) -> each must give GroupNorm(2, 8)
GN_ROADS = {
    "Registry.build(dataclass, late kwarg)": lambda: NORM_LAYERS.build(GNConf(num_groups=2), num_channels=8),
    "Registry.build(dict)": lambda: NORM_LAYERS.build(dict(type="GN", num_groups=2, num_channels=8)),
    "build_from_cfg": lambda: build_from_cfg(dict(type="GN", num_groups=2), NORM_LAYERS,
                                             dict(num_channels=8)),
    "build_norm_layer": lambda: hydra_cnn.build_norm_layer(dict(type="GN", num_groups=2), 8)[1],
    "make_norm": lambda: hydra_cnn.make_norm(8, type="GN", num_groups=2),
    "instantiate": lambda: instantiate(GNConf(num_groups=2))(8),
    "DictConfig": lambda: hydra_cnn.build_norm_layer(OmegaConf.structured(GNConf(num_groups=2)), 8)[1],
}


@pytest.mark.parametrize("road", list(GN_ROADS), ids=list(GN_ROADS))
def test_every_road_builds_the_same_layer(road: str) -> None:
    layer = GN_ROADS[road]()
    assert type(layer) is nn.GroupNorm and (layer.num_groups, layer.num_channels) == (2, 8)


BAD_KEY_ROADS = {
    "Registry.build": lambda: NORM_LAYERS.build(dict(type="GN", num_grups=2, num_channels=8)),
    "build_from_cfg": lambda: build_from_cfg(dict(type="GN", num_grups=2), NORM_LAYERS,
                                             dict(num_channels=8)),
    "build_norm_layer": lambda: hydra_cnn.build_norm_layer(dict(type="GN", num_grups=2), 8),
    "make_norm": lambda: hydra_cnn.make_norm(8, type="GN", num_grups=2),
    "validate": lambda: hydra_cnn.validate(
        {"_target_": "hydra_cnn.make_norm", "_partial_": True, "type": "GN", "num_grups": 2}),
}


@pytest.mark.parametrize("road", list(BAD_KEY_ROADS), ids=list(BAD_KEY_ROADS))
def test_every_road_names_the_closest_key(road: str) -> None:
    with pytest.raises(TypeError, match="unexpected key 'num_grups'.*Did you mean 'num_groups'"):
        BAD_KEY_ROADS[road]()


def test_a_late_size_is_never_suggested_as_a_config_key() -> None:
    with pytest.raises(TypeError, match="unexpected key 'num_groups'") as info:
        hydra_cnn.build_norm_layer(dict(type="BN", num_groups=2), 8)
    assert "num_features" not in str(info.value)


MISSING_ROADS = {
    "build_norm_layer": lambda: hydra_cnn.build_norm_layer(dict(type="GN", num_groups="???"), 64),
    "build_activation_layer": lambda: hydra_cnn.build_activation_layer(
        dict(type="LeakyReLU", negative_slope="???")),
    "Registry.build": lambda: ACTIVATION_LAYERS.build(dict(type="LeakyReLU", negative_slope="???")),
    # Hydra's instantiate drops ??? values from a _partial_ node before hydra_cnn sees them;
    # validate() reports them before anything is built
    "validate": lambda: hydra_cnn.validate(LeakyReLUConf(negative_slope="???")),
}


@pytest.mark.parametrize("road", list(MISSING_ROADS), ids=list(MISSING_ROADS))
def test_a_value_never_set_is_an_error_everywhere(road: str) -> None:
    with pytest.raises(ValueError, match=r"is mandatory \('\?\?\?'\) but was never set") as info:
        MISSING_ROADS[road]()
    assert isinstance(info.value, MissingValueError) or road == "validate"


def test_missing_value_names_the_config_path() -> None:
    cfg = OmegaConf.create({"model": {"act": {"type": "LeakyReLU", "negative_slope": "???"}}})
    with pytest.raises(ValueError, match=r"model\.act\.negative_slope="):
        hydra_cnn.build_activation_layer(cfg.model.act)


@pytest.mark.parametrize(("channels", "groups"), [(16, 16), (32, 32), (48, 24), (64, 32), (6, 6),
                                                  (96, 32), (7, 7)])
def test_automatic_groups(channels: int, groups: int) -> None:
    assert hydra_cnn.build_norm_layer(GNConf(), channels)[1].num_groups == groups
    assert instantiate(GNConf())(channels).num_groups == groups


@pytest.mark.parametrize(("cfg", "exc", "message"), [
    (dict(type="GN"), AssertionError, "needs num_groups"),              # mmcv's dict API
    (dict(type="GN", num_groups=3), ValueError, "num_groups=3 does not divide num_channels=8"),
    (dict(type="GN", num_groups=-2), ValueError, r"num_groups=-2 is not accepted.*>= 1"),
    (dict(type="BN", eps=float("nan")), ValueError, r"eps=nan is not accepted; it takes a finite"),
    (dict(type="BN", momentum=2.0), ValueError, r"momentum=2.0 .*\[0.0, 1.0\]"),
])
def test_norm_values(cfg: dict[str, Any], exc: type[Exception], message: str) -> None:
    with pytest.raises(exc, match=message):
        hydra_cnn.build_norm_layer(cfg, 8)


@pytest.mark.parametrize(("args", "kwargs", "message"), [
    ((0, 8, 3), {}, r"in_channels=0 is not accepted; it takes an int >= 1"),
    ((True, 8, 3), {}, r"in_channels=True .*a bool is not a count"),
    ((3, 8, 3), {"dilation": -1}, r"dilation=-1 .*>= 1"),
    ((3, 8, 3), {"stride": (1, 0)}, r"stride=\(1, 0\) .*ints >= 1"),
    ((3, 8, 3), {"groups": 0}, r"groups=0"),
])
def test_meaningless_conv_arguments_are_refused(args: tuple[Any, ...], kwargs: dict[str, Any],
                                                message: str) -> None:
    with pytest.raises(ValueError, match=message):
        hydra_cnn.build_conv_layer(None, *args, **kwargs)


def test_conv_dict_without_type_is_a_key_error_only_none_means_conv2d() -> None:
    assert type(hydra_cnn.build_conv_layer(None, 3, 4, 3)) is nn.Conv2d
    with pytest.raises(KeyError, match='must contain the key "type"'):
        hydra_cnn.build_conv_layer(dict(bias=False), 3, 4, 3)


def test_norm_eps_defaults_to_mmcv_value() -> None:
    class MyNorm(nn.Module):
        def __init__(self, num_features: int, eps: float = 1e-3) -> None:
            super().__init__()
            self.eps = eps

    NORM_LAYERS.register_module(module=MyNorm)
    try:
        assert hydra_cnn.build_norm_layer(dict(type="MyNorm"), 4)[1].eps == 1e-5
        assert hydra_cnn.build_norm_layer(dict(type="MyNorm", eps=0.1), 4)[1].eps == 0.1
    finally:
        NORM_LAYERS._module_dict.pop("MyNorm")


def test_upsample_mode_conflict_is_an_error() -> None:
    with pytest.raises(TypeError, match="mode='bilinear' was passed too"):
        hydra_cnn.build_upsample_layer(dict(type="nearest", scale_factor=2), mode="bilinear")
    assert UPSAMPLE_LAYERS.build(dict(type="bilinear", scale_factor=2)).mode == "bilinear"


def test_hswish_type_builds_torch_hardswish_as_mmcv() -> None:
    act = hydra_cnn.build_activation_layer(dict(type="HSwish", inplace=True))
    assert type(act) is nn.Hardswish and list(act.children()) == []  # no extra child
    x = torch.linspace(-5, 5, 11)
    expected = x * torch.clamp(x + 3, 0, 6) / 6
    y = x.clone()
    out = act(y)
    assert torch.allclose(out, expected) and torch.allclose(y, expected)  # in place
    y = x.clone()
    hydra_cnn.build_activation_layer(dict(type="HSwish"))(y)
    assert torch.equal(y, x)  # not in place by default
    # the typed option builds the same module; its inplace=None leaves it to the block
    from hydra.utils import instantiate

    from hydra_cnn.configs import HSwishConf

    typed = instantiate(HSwishConf(inplace=True))()
    assert type(typed) is nn.Hardswish and typed.inplace is True
    assert instantiate(HSwishConf())().inplace is False
    assert hydra_cnn.ConvModule(3, 4, 3, act_cfg=HSwishConf()).activate.inplace is True
    # the exported class is mmcv's own module, unchanged
    own = hydra_cnn.HSwish(inplace=True)
    assert type(own.act) is nn.ReLU6 and own.act.inplace is True
    assert torch.allclose(own(x.clone()), expected)


def test_registry_repr_is_mmcv_form() -> None:
    reg = Registry("cat")

    @reg.register_module()
    class BritishShorthair:
        pass

    assert repr(reg) == f"Registry(name=cat, items={{'BritishShorthair': {BritishShorthair!r}}})"


def test_legacy_register_forms_warn_and_register() -> None:
    reg = Registry("legacy")

    class A:
        pass

    class B:
        pass

    with pytest.warns(DeprecationWarning, match="register_module\\(cls\\) is deprecated"):
        reg.register_module(A)
    with pytest.warns(DeprecationWarning, match="deprecated"):
        reg.register_module(A, force=True)
    with pytest.warns(DeprecationWarning, match="deprecated"):

        @reg.register_module
        class B2(B):
            pass

    assert reg.get("A") is A and reg.get("B2") is B2


@pytest.mark.parametrize("thing", [0, "name", Registry("x").names])
def test_only_classes_and_functions_register(thing: object) -> None:
    with pytest.raises(TypeError, match="only a class or a plain function can be registered"):
        Registry("y").register_module(module=thing)


def test_build_model_from_cfg_builds_sequential_from_a_list() -> None:
    reg = Registry("my model", build_func=build_model_from_cfg)
    reg.register_module(module=nn.Conv2d)
    reg.register_module(module=nn.ReLU)
    model = reg.build([dict(type="Conv2d", in_channels=3, out_channels=4, kernel_size=1),
                       dict(type="ReLU")])
    assert isinstance(model, nn.Sequential) and [type(m) for m in model] == [nn.Conv2d, nn.ReLU]
    assert type(reg.build(dict(type="ReLU"))) is nn.ReLU
    # mmcv's default_args= form of Registry.build
    assert reg.build(dict(type="Conv2d", kernel_size=1), default_args=dict(in_channels=1,
                                                                          out_channels=2)).out_channels == 2


def test_user_registry_builds_without_hydra_or_configs() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from hydra_cnn.registry import Registry, CONV_LAYERS\n"
        "R = Registry('fancy')\n"
        "@R.register_module()\n"
        "class F:\n"
        "    def __init__(self, k=1): self.k = k\n"
        "assert R.build(dict(type='F', k=2)).k == 2\n"
        "class MyConv:\n"
        "    def __init__(self, in_channels, out_channels, kernel_size): pass\n"
        "CONV_LAYERS.register_module(module=MyConv)\n"
        "print(','.join(m for m in ('hydra', 'omegaconf', 'hydra_cnn.configs') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_conv_registry_members_are_the_documented_classes() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert CONV_LAYERS.get("Conv") is hydra_cnn.Conv2d
        assert CONV_LAYERS.get("Conv2d") is nn.Conv2d


def test_value_errors_name_the_config_path_the_user_used() -> None:
    cfg = OmegaConf.create({"model": {"norm": {"type": "GN", "num_groups": 32}}})
    with pytest.raises(ValueError, match=r"num_groups=32 does not divide num_channels=16.*"
                                         r"\(config: model\.norm\)"):
        hydra_cnn.build_norm_layer(cfg.model.norm, 16)
    with pytest.raises(ValueError, match=r"eps=-1.0 .*\(config: model\.norm\)"):
        hydra_cnn.build_norm_layer(OmegaConf.create({"model": {"norm": {"type": "BN", "eps": -1.0}}}
                                                    ).model.norm, 16)


def test_values_are_type_checked_in_a_process_that_imported_only_a_builder() -> None:
    import subprocess
    import sys

    code = (
        "from hydra_cnn import build_norm_layer\n"
        "try:\n"
        "    build_norm_layer(dict(type='GN', num_groups='abc'), 8)\n"
        "except TypeError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "num_groups='abc' has type str, expected int or None" in out.stdout


def _deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


def test_deeply_nested_configs_give_clear_errors_not_recursion_errors() -> None:
    deep = _deep(3000)  # deep nesting: a clear error, no RecursionError
    with pytest.raises(TypeError, match=r"eps=\{'a': \{'a': \{'a': \{\.\.\.\}\}\}\} has type dict"):
        hydra_cnn.build_norm_layer(dict(type="GN", num_groups=2, eps=deep), 4)
    with pytest.raises(KeyError, match='must contain the key "type"'):
        hydra_cnn.build_conv_layer(deep, 1, 2, 3)
    with pytest.raises(ValueError, match="nests deeper than 100 levels"):
        hydra_cnn.validate(deep)
