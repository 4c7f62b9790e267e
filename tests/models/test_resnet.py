"""ResNet: torchvision's keys and parameter counts, mmdet's variants, every config form."""

from __future__ import annotations

import functools
import inspect
from typing import Any

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from hydra_cnn.bricks.conv_ws import ConvWS2d
from hydra_cnn.bricks.norm import LayerNorm2d, make_norm
from hydra_cnn.configs.layers import ConvWSConf, GNConf, LeakyReLUConf, PReLUConf
from hydra_cnn.configs.models import (
    CONFS,
    ResNetConf,
    ResNetV1dConf,
)
from hydra_cnn.models import ResNet, ResNetV1c, ResNetV1d, make_model
from hydra_cnn.models.resnet import BasicBlock, Bottleneck, ResLayer
from hydra_cnn.registry import MODELS

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
GN_KEYS = ("weight", "bias")
STAGES = {18: (2, 2, 2, 2), 34: (3, 4, 6, 3), 50: (3, 4, 6, 3), 101: (3, 4, 23, 3)}


def resnet_keys(depth: int, norm: str = "bn", norm_keys: tuple[str, ...] = BN_KEYS,
                head: bool = True) -> list[str]:
    """State-dict keys of torchvision's ``resnet<depth>`` (or mmdet's GN variant), in order."""
    bottleneck = depth >= 50

    def norm_(prefix: str) -> list[str]:
        return [f"{prefix}.{k}" for k in norm_keys]

    keys = ["conv1.weight", *norm_(f"{norm}1")]
    for i, blocks in enumerate(STAGES[depth]):
        for j in range(blocks):
            p = f"layer{i + 1}.{j}"
            for k in range(1, 4 if bottleneck else 3):
                keys += [f"{p}.conv{k}.weight", *norm_(f"{p}.{norm}{k}")]
            if j == 0 and (bottleneck or i > 0):
                keys += [f"{p}.downsample.0.weight", *norm_(f"{p}.downsample.1")]
    if head:
        keys += ["fc.weight", "fc.bias"]
    return keys


@functools.cache
def meta_resnet(**kwargs: Any) -> ResNet:
    with torch.device("meta"):
        return ResNet(**kwargs)


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def structure(model: nn.Module) -> list[tuple[str, str, tuple[int, ...]]]:
    return [(k, type(model.get_submodule(k.rpartition(".")[0])).__name__, tuple(v.shape))
            for k, v in model.state_dict().items()]


def small(**kwargs: Any) -> ResNet:
    kwargs.setdefault("depth", 18)
    kwargs.setdefault("base_channels", 8)
    return ResNet(**kwargs)


# --- torchvision parity -----------------------------------------------------------------------
@pytest.mark.parametrize(("depth", "params"), [(18, 11_689_512), (34, 21_797_672),
                                               (50, 25_557_032), (101, 44_549_160)])
def test_keys_and_parameter_count_equal_torchvision(depth: int, params: int) -> None:
    model = meta_resnet(depth=depth, num_classes=1000)
    assert list(model.state_dict()) == resnet_keys(depth)
    assert n_params(model) == params


def test_resnext_and_wide_resnet_parameter_counts_equal_torchvision() -> None:
    resnext = meta_resnet(depth=50, groups=32, base_width=4, num_classes=1000)
    assert list(resnext.state_dict()) == resnet_keys(50)
    assert n_params(resnext) == 25_028_904  # torchvision resnext50_32x4d
    conv2 = resnext.layer1[0].conv2
    assert (conv2.groups, conv2.in_channels, conv2.out_channels) == (32, 128, 128)
    assert resnext.layer4[0].conv2.out_channels == 1024
    wide = meta_resnet(depth=50, base_width=128, num_classes=1000)
    assert n_params(wide) == 68_883_240  # torchvision wide_resnet50_2


def test_default_layers_are_torchvision_layers() -> None:
    model = meta_resnet(depth=50, num_classes=1000)
    assert isinstance(model.conv1, nn.Conv2d) and model.conv1.bias is None
    assert model.norm1 is model.bn1 and isinstance(model.bn1, nn.BatchNorm2d)
    block = model.layer2[0]
    assert (block.norm1, block.norm2, block.norm3) == (block.bn1, block.bn2, block.bn3)
    assert block.conv2.stride == (2, 2) and block.conv1.stride == (1, 1)  # style pytorch
    assert block.downsample[0].stride == (2, 2)
    acts = [block.relu, block.relu_1, block.relu_2]
    assert all(isinstance(a, nn.ReLU) and a.inplace for a in acts)
    assert len({id(a) for a in acts}) == 3  # one module per use site
    assert model.feat_dim == 2048 and model.fc.in_features == 2048


# --- forward ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("depth", "expansion"), [(18, 1), (50, 4)])
def test_stage_outputs(depth: int, expansion: int) -> None:
    model = small(depth=depth).eval()
    outs = model(torch.randn(2, 3, 64, 64))
    assert isinstance(outs, tuple)
    assert [tuple(o.shape) for o in outs] == [
        (2, 8 * expansion, 16, 16), (2, 16 * expansion, 8, 8), (2, 32 * expansion, 4, 4),
        (2, 64 * expansion, 2, 2),
    ]


def test_out_indices_num_stages_and_dilations() -> None:
    model = small(num_stages=3, strides=[1, 2, 1], dilations=[1, 1, 2], out_indices=[0, 2])
    assert not hasattr(model, "layer4")
    outs = model.eval()(torch.randn(1, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(1, 8, 16, 16), (1, 32, 8, 8)]
    assert model.layer3[1].conv1.dilation == (2, 2) and model.layer3[1].conv1.padding == (2, 2)
    assert model.strides == (1, 2, 1) and model.out_indices == (0, 2)


def test_head_returns_logits() -> None:
    model = small(num_classes=7).eval()
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 7)
    assert list(model.state_dict())[-2:] == ["fc.weight", "fc.bias"]


def test_lists_and_listconfigs_are_accepted_for_tuples() -> None:
    cfg = OmegaConf.create({"strides": [1, 2, 2, 2], "out_indices": [3]})
    model = small(strides=cfg.strides, out_indices=cfg.out_indices)
    assert model.strides == (1, 2, 2, 2) and model.out_indices == (3,)
    assert len(model.eval()(torch.randn(1, 3, 32, 32))) == 1


@pytest.mark.parametrize(("style", "conv1_stride", "conv2_stride"),
                         [("pytorch", (1, 1), (2, 2)), ("caffe", (2, 2), (1, 1))])
def test_style_places_the_stride(style: str, conv1_stride: tuple[int, int],
                                 conv2_stride: tuple[int, int]) -> None:
    model = small(depth=50, style=style)
    block = model.layer2[0]
    assert (block.conv1.stride, block.conv2.stride) == (conv1_stride, conv2_stride)
    assert model.layer2[1].conv1.stride == model.layer2[1].conv2.stride == (1, 1)
    assert model.eval()(torch.randn(1, 3, 32, 32))[1].shape == (1, 64, 4, 4)


def test_with_cp_gives_the_same_gradients() -> None:
    torch.manual_seed(0)
    plain = small(num_classes=3)
    cp = small(num_classes=3, with_cp=True)
    cp.load_state_dict(plain.state_dict())
    x = torch.randn(2, 3, 32, 32)
    plain(x).sum().backward()
    cp(x).sum().backward()
    for (name, a), b in zip(plain.named_parameters(), cp.parameters(), strict=True):
        assert b.grad is not None and torch.allclose(a.grad, b.grad, atol=1e-5), name


# --- variants ---------------------------------------------------------------------------------
def test_deep_stem_keys() -> None:
    model = small(deep_stem=True)
    keys = list(model.state_dict())
    assert not any(k.startswith(("conv1.", "bn1.")) for k in keys)
    assert keys[:6] == ["stem.0.weight", *(f"stem.1.{k}" for k in BN_KEYS)]
    assert [i for i, m in enumerate(model.stem) if isinstance(m, nn.Conv2d)] == [0, 3, 6]
    assert [m.out_channels for m in model.stem if isinstance(m, nn.Conv2d)] == [4, 4, 8]
    assert model.stem[0].stride == (2, 2)
    with pytest.raises(AttributeError, match="norm1"):
        _ = model.norm1
    assert model.eval()(torch.randn(1, 3, 64, 64))[0].shape == (1, 8, 16, 16)


def test_avg_down_layout_is_mmdet() -> None:
    model = small(depth=50, avg_down=True)
    first, second = model.layer1[0].downsample, model.layer2[0].downsample
    # mmdet always puts the pool first (kernel = stride, so 1 in layer1)
    assert [type(m).__name__ for m in first] == ["AvgPool2d", "Conv2d", "BatchNorm2d"]
    assert first[0].kernel_size == 1 and second[0].kernel_size == 2
    assert second[1].stride == (1, 1)
    keys = model.state_dict()
    assert "layer2.0.downsample.1.weight" in keys and "layer2.0.downsample.2.running_mean" in keys
    assert "layer2.0.downsample.0.weight" not in keys


def test_v1c_and_v1d_presets() -> None:
    v1c, v1d = ResNetV1c(depth=18, base_channels=8), ResNetV1d(depth=18, base_channels=8)
    assert v1c.deep_stem and not v1c.avg_down
    assert v1d.deep_stem and v1d.avg_down
    assert isinstance(v1d.layer2[0].downsample[0], nn.AvgPool2d)
    assert list(v1d.state_dict()) == list(small(deep_stem=True, avg_down=True).state_dict())
    with pytest.raises(TypeError, match="deep_stem"):
        ResNetV1c(depth=18, deep_stem=False)
    params = inspect.signature(ResNetV1d).parameters
    assert "deep_stem" not in params and "avg_down" not in params and "norm_cfg" in params
    assert "avg_down" in inspect.signature(ResNetV1c).parameters


# --- training modes ---------------------------------------------------------------------------
def test_frozen_stages() -> None:
    model = small(frozen_stages=1)
    frozen = [model.conv1, model.bn1, model.layer1]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(p.requires_grad for p in model.layer2.parameters())
    model.train()
    assert not model.bn1.training and not model.layer1[0].bn1.training
    assert model.layer2[0].bn1.training and model.training
    deep = small(deep_stem=True, frozen_stages=0).train()
    assert not deep.stem.training and all(not p.requires_grad for p in deep.stem.parameters())
    assert all(p.requires_grad for p in deep.layer1.parameters())


def test_norm_eval_keeps_batch_norms_in_eval() -> None:
    model = small(norm_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    assert model.training and model.layer1[0].conv1.training
    before = model.bn1.running_mean.clone()
    model(torch.randn(2, 3, 32, 32))
    assert torch.equal(model.bn1.running_mean, before)
    assert all(m.training for m in small(norm_eval=False).train().modules())


# --- config forms -----------------------------------------------------------------------------
def test_every_norm_config_form_gives_the_same_model() -> None:
    gn = {"type": "GN", "num_groups": 4}
    forms = [gn, OmegaConf.create(gn), GNConf(num_groups=4), instantiate(GNConf(num_groups=4))]
    built = [small(depth=50, norm_cfg=f) for f in forms]
    expected = structure(built[0])
    assert {"gn1.weight", "layer1.0.gn3.bias", "layer1.0.downsample.1.weight"} <= {
        k for k, _, _ in expected
    }
    for model in built[1:]:
        assert structure(model) == expected
    assert gn == {"type": "GN", "num_groups": 4}  # never mutated
    assert built[0].layer1[0].norm3 is built[0].layer1[0].gn3


def test_activation_configs_and_inplace() -> None:
    leaky = small(act_cfg=LeakyReLUConf(negative_slope=0.2))
    assert isinstance(leaky.relu, nn.LeakyReLU) and leaky.relu.inplace  # None: the model decides
    assert leaky.layer1[0].relu_1.negative_slope == 0.2
    assert not small(act_cfg={"type": "ReLU", "inplace": False}).relu.inplace
    gelu = small(act_cfg={"type": "GELU"})
    assert isinstance(gelu.layer4[1].relu_1, nn.GELU)
    prelu = small(act_cfg=PReLUConf())  # a parameter per use site, never shared
    prelu_keys = [k for k in prelu.state_dict() if k.startswith("layer1.0.relu")]
    assert prelu_keys == ["layer1.0.relu.weight", "layer1.0.relu_1.weight"]
    assert gelu.eval()(torch.randn(1, 3, 32, 32))[3].shape == (1, 64, 1, 1)


def test_bad_depth_lists_valid_depths() -> None:
    with pytest.raises(KeyError, match=r"invalid depth 42 for ResNet; valid depths: 18, 34, 50, "
                                       r"101, 152"):
        ResNet(depth=42)
    with pytest.raises(ValueError, match="valid depths: 18, 34") as info:
        make_model("ResNet", depth=42)
    assert isinstance(info.value.__cause__, KeyError)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"style": "tf"}, "style must be 'pytorch' or 'caffe'"),
    ({"num_stages": 5}, "num_stages must be between 1 and 4"),
    ({"strides": (1, 2)}, "one entry per stage"),
    ({"out_indices": (4,)}, r"out_indices \(4,\) must lie in \[0, 3\]"),
    ({"frozen_stages": 5}, "frozen_stages must be between -1 and num_stages=4"),
    ({"groups": 32, "base_width": 4}, "need a Bottleneck ResNet"),
])
def test_bad_arguments(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        small(**kwargs)
    with pytest.raises(AssertionError, match=match):  # mmcv asserts these: same class here
        small(**kwargs)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"strides": "1222"}, "strides must be a sequence of ints"),
    ({"num_stages": 4.0}, "ResNet: num_stages must be an int, but got float: 4.0"),
    ({"bn_eval": "yes"}, "ResNet: bn_eval must be True or False, but got str: 'yes'"),
])
def test_argument_types(kwargs: dict[str, Any], match: str) -> None:
    for exc in (TypeError, AssertionError):
        with pytest.raises(exc, match=match):
            small(**kwargs)


# --- LN on conv maps --------------------------------------------------------------------------
LN_FORMS = [
    pytest.param({"type": "LN"}, id="dict"),
    pytest.param(OmegaConf.create({"type": "LN"}), id="dictconfig"),
    pytest.param(functools.partial(make_norm, type="LN"), id="factory"),
]


@pytest.mark.parametrize("norm_cfg", LN_FORMS)
def test_layer_norm_is_refused_when_the_model_is_built(norm_cfg: Any) -> None:
    with pytest.raises(ValueError, match=r"ResNet: norm_cfg type 'LN' is nn.LayerNorm.*"
                                         r"type='LN2d'.*option ln2d"):
        small(norm_cfg=norm_cfg)
    with pytest.raises(ValueError, match=r"ResNetV1d: norm_cfg type 'LN'"):
        ResNetV1d(depth=18, base_channels=8, norm_cfg=norm_cfg)


@pytest.mark.parametrize(("build", "owner"), [
    (lambda n: BasicBlock(8, 8, norm_cfg=n), "BasicBlock"),
    (lambda n: Bottleneck(32, 8, norm_cfg=n), "Bottleneck"),
    (lambda n: ResLayer(BasicBlock, 8, 16, 2, stride=2, norm_cfg=n), "ResLayer"),
])
def test_layer_norm_is_refused_by_every_block(build: Any, owner: str) -> None:
    with pytest.raises(ValueError, match=rf"{owner}: norm_cfg type 'LN' is nn.LayerNorm"):
        build({"type": "LN"})


def test_layer_norm_2d_works_everywhere() -> None:
    model = small(depth=50, norm_cfg={"type": "LN2d"}, num_classes=3)
    assert isinstance(model.layer1[0].ln3, LayerNorm2d)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 3)


# --- mmcv.cnn's bn_eval / bn_frozen -----------------------------------------------------------
def test_bn_eval_keeps_batch_norms_in_eval_as_mmcv_cnn() -> None:
    model = small(bn_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms)
    assert model.layer1[0].conv1.training
    assert all(p.requires_grad for p in model.parameters())  # bn_eval alone freezes nothing
    assert all(m.training for m in small().train().modules())  # default: as before


def test_bn_frozen_stops_gradients_to_batch_norm_parameters() -> None:
    model = small(bn_frozen=True)
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and all(not p.requires_grad for m in norms for p in m.parameters())
    assert all(p.requires_grad for n, p in model.named_parameters() if "conv" in n)
    for p in model.parameters():  # switched back on by hand: train() freezes them again
        p.requires_grad_(True)
    model.train()
    assert all(not p.requires_grad for m in norms for p in m.parameters())
    assert all(m.training for m in norms)  # bn_frozen alone keeps batch statistics
    model(torch.randn(2, 3, 32, 32))[0].sum().backward()
    assert all(m.weight.grad is None for m in norms)
    assert model.conv1.weight.grad is not None


def test_bn_options_from_the_structured_config() -> None:
    model = instantiate(ResNetConf(depth=18, base_channels=8, bn_eval=True, bn_frozen=True))
    assert (model.bn_eval, model.bn_frozen) == (True, True)
    model.train()
    assert not model.bn1.training and not model.bn1.weight.requires_grad


# --- registry, structured configs, Hydra ------------------------------------------------------
def test_models_are_registered() -> None:
    for name, cls in [("ResNet", ResNet), ("ResNetV1c", ResNetV1c), ("ResNetV1d", ResNetV1d)]:
        assert MODELS.get(name) is cls and MODELS.is_builtin(name)
    assert make_model._hydra_cnn_registry_ is MODELS  # type: ignore[attr-defined]
    assert isinstance(MODELS.build({"type": "ResNet", "depth": 18, "base_channels": 8}), ResNet)
    with pytest.raises(KeyError, match="Did you mean 'ResNet'"):
        make_model("ResNit", depth=18)


def test_make_model_is_exported_from_hydra_cnn() -> None:
    import hydra_cnn

    assert hydra_cnn.make_model is make_model


def test_configs_are_valid_structured_configs() -> None:
    for conf in CONFS:
        node = OmegaConf.structured(conf)
        assert OmegaConf.get_type(node) is conf and conf._group_ == "model"
        assert node._target_ == "hydra_cnn.make_model" and node._partial_ is False


def test_instantiate_structured_config_builds_the_model() -> None:
    model = instantiate(OmegaConf.structured(ResNetConf(depth=18, num_classes=10)))
    assert type(model) is ResNet and model.fc.out_features == 10
    assert model.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)
    v1d = instantiate(ResNetV1dConf(depth=18, base_channels=8))
    assert type(v1d) is ResNetV1d and v1d.avg_down


def test_gn_ws_resnet50_from_configs_loads_mmdet_keys() -> None:
    conf = ResNetConf(depth=50, conv_cfg=ConvWSConf(), norm_cfg=GNConf(num_groups=32))
    torch.manual_seed(0)
    model = instantiate(conf).eval()
    assert isinstance(model.conv1, ConvWS2d) and isinstance(model.layer3[2].conv2, ConvWS2d)
    assert model.conv1.bias is None and isinstance(model.gn1, nn.GroupNorm)
    expected = resnet_keys(50, norm="gn", norm_keys=GN_KEYS, head=False)
    assert list(model.state_dict()) == expected  # mmdet's GN(+WS) checkpoint keys
    torch.manual_seed(1)
    other = instantiate(conf).eval()
    state = {k: v.clone() for k, v in other.state_dict().items()}
    x = torch.randn(1, 3, 32, 32)
    assert not torch.allclose(model(x)[3], other(x)[3])
    model.load_state_dict(state, strict=True)
    for a, b in zip(model(x), other(x), strict=True):
        assert torch.equal(a, b)


def test_compose_gn_option_into_a_structured_resnet_config() -> None:
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_app import opted_in

    GlobalHydra.instance().clear()
    try:
        with opted_in():
            cfg = compose(overrides=["+layers/norm=gn", "layers.norm.num_groups=8",
                                     "+layers/act=leaky_relu"])
    finally:
        GlobalHydra.instance().clear()
    node = OmegaConf.structured(ResNetConf(depth=18, num_classes=10))
    node.norm_cfg = cfg.layers.norm
    node.act_cfg = cfg.layers.act
    model = instantiate(node)
    assert isinstance(model.gn1, nn.GroupNorm) and model.gn1.num_groups == 8
    assert isinstance(model.layer2[1].relu_1, nn.LeakyReLU) and model.layer2[1].relu_1.inplace
    assert model.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 10)


def test_compose_layer_options_over_the_model_defaults() -> None:
    from hydra import compose
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_app import opted_in

    ConfigStore.instance().store(name="_test_models_resnet",
                                 node={"model": ResNetConf(depth=18, base_channels=16)})
    GlobalHydra.instance().clear()
    try:
        with opted_in():
            cfg = compose(config_name="_test_models_resnet", overrides=[
                "+layers/norm@model.norm_cfg=gn", "model.norm_cfg.num_groups=4",
                "+layers/conv@model.conv_cfg=conv_ws", "model.num_classes=3",
            ])
    finally:
        GlobalHydra.instance().clear()
    assert OmegaConf.get_type(cfg.model) is ResNetConf
    assert OmegaConf.get_type(cfg.model.norm_cfg) is GNConf
    model = instantiate(cfg.model)
    assert isinstance(model.layer1[0].gn2, nn.GroupNorm) and model.layer1[0].gn2.num_groups == 4
    assert isinstance(model.layer1[0].conv2, ConvWS2d) and model.layer1[0].conv2.bias is None
    assert model.eval()(torch.randn(1, 3, 32, 32)).shape == (1, 3)


def test_ln_option_on_the_model_fails_at_build_naming_ln2d() -> None:
    from hydra import compose
    from hydra.core.config_store import ConfigStore
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import InstantiationException

    from tests.hydra_app import opted_in

    ConfigStore.instance().store(name="_test_models_resnet_ln",
                                 node={"model": ResNetConf(depth=18, base_channels=8)})
    GlobalHydra.instance().clear()
    try:
        with opted_in():
            cfg = compose(config_name="_test_models_resnet_ln",
                          overrides=["+layers/norm@model.norm_cfg=ln"])
            fixed = compose(config_name="_test_models_resnet_ln",
                            overrides=["+layers/norm@model.norm_cfg=ln2d"])
    finally:
        GlobalHydra.instance().clear()
    with pytest.raises(InstantiationException, match=r"nn.LayerNorm.*option ln2d"):
        instantiate(cfg.model)  # at build time, not at the first forward
    assert instantiate(fixed.model).eval()(torch.randn(1, 3, 32, 32))[3].shape == (1, 64, 1, 1)


def test_validate_checks_model_configs() -> None:
    from hydra_cnn.validation import ConfigValidationError, validate

    assert validate(ResNetConf(depth=18, norm_cfg=GNConf())) >= 1
    bad = OmegaConf.to_container(OmegaConf.structured(ResNetConf(depth=18)))
    assert isinstance(bad, dict)
    bad["norm_evel"] = True
    with pytest.raises(ConfigValidationError, match="norm_eval"):
        validate(bad)


# --- weight init ------------------------------------------------------------------------------
def test_mmcv_cnn_init_as_an_init_cfg_draws_the_same_weights() -> None:
    """The migration guide's init_cfg for mmcv.cnn.ResNet.init_weights(): kaiming_init (fan_out,
    normal) on every Conv2d in modules() order, constant 1/0 on every BatchNorm2d."""
    model = small(init_cfg=[dict(type="Kaiming", layer="Conv2d"),
                            dict(type="Constant", val=1, layer="BatchNorm2d")])
    torch.manual_seed(11)
    model.init_weights()
    torch.manual_seed(11)
    for name, m in model.named_modules():
        if isinstance(m, nn.Conv2d):
            expected = nn.init.kaiming_normal_(torch.empty(m.weight.shape), mode="fan_out")
            assert torch.equal(m.weight.detach(), expected), name
        elif isinstance(m, nn.BatchNorm2d):
            assert torch.equal(m.weight.detach(), torch.ones_like(m.weight)), name
            assert torch.equal(m.bias.detach(), torch.zeros_like(m.bias)), name


def test_zero_init_residual() -> None:
    model = small(depth=50, zero_init_residual=True)
    assert all(torch.all(b.norm3.weight == 0) for b in model.blocks())
    assert torch.all(model.layer1[0].norm2.weight == 1)
    basic = small(zero_init_residual=True)
    assert all(torch.all(b.norm2.weight == 0) for b in basic.blocks())
    # an init_cfg that sets norms to 1 runs first; the last norms are zeroed again after it
    init = [{"type": "Kaiming", "layer": "Conv2d"},
            {"type": "Constant", "val": 1, "layer": "_BatchNorm"}]
    again = small(depth=50, zero_init_residual=True, init_cfg=init)
    again.init_weights()
    assert all(torch.all(b.norm3.weight == 0) for b in again.blocks())
    assert torch.all(again.layer1[0].norm1.weight == 1)


def test_zero_init_residual_keeps_pretrained_weights(tmp_path: Any) -> None:
    source = small(depth=50)
    with torch.no_grad():
        for p in source.parameters():
            p.fill_(0.5)
    path = tmp_path / "r50.pth"
    torch.save(source.state_dict(), path)
    model = small(depth=50, zero_init_residual=True,
                  init_cfg={"type": "Pretrained", "checkpoint": str(path)})
    model.init_weights()
    assert all(torch.all(b.norm3.weight == 0.5) for b in model.blocks())


def test_meta_build_then_to_empty_and_init_weights() -> None:
    with torch.device("meta"):
        model = ResNet(depth=18, base_channels=8, zero_init_residual=True, num_classes=4)
    model.to_empty(device="cpu")
    model.init_weights()
    report = model.init_report()
    assert not report.uninitialized()
    assert report["layer1.0.bn2.weight"].writer == "ResNet.init_weights"
    assert torch.all(model.layer1[0].bn2.weight == 0)
    assert torch.all(model.layer1[0].bn1.weight == 1) and torch.all(model.bn1.running_var == 1)
    assert torch.isfinite(model.eval()(torch.randn(1, 3, 32, 32))).all()


def test_default_init_is_pytorch_and_init_cfg_applies() -> None:
    torch.manual_seed(0)
    model = small(init_cfg={"type": "Constant", "val": 0.25, "layer": "Conv2d"})
    assert not torch.all(model.conv1.weight == 0.25)  # nothing re-initialised in __init__
    model.init_weights()
    assert torch.all(model.conv1.weight == 0.25) and torch.all(model.layer4[1].conv2.weight == 0.25)


# --- contract_dilation (mmseg's dilated backbones) ----------------------------------------------
def _dilations(layer: nn.Module, conv: str) -> list[int]:
    return [getattr(block, conv).dilation[0] for block in layer]


def test_contract_dilation_halves_the_first_block_of_dilated_stages() -> None:
    kw: dict[str, Any] = dict(dilations=(1, 1, 2, 4), strides=(1, 2, 1, 1), out_indices=(3,))
    net = ResNetV1c(50, contract_dilation=True, **kw)
    assert _dilations(net.layer1, "conv2") == [1, 1, 1]
    assert _dilations(net.layer3, "conv2") == [1] + [2] * 5
    assert _dilations(net.layer4, "conv2") == [2, 4, 4]
    assert net.layer4[0].conv2.padding == (2, 2)
    plain = ResNetV1c(50, **kw)
    assert _dilations(plain.layer4, "conv2") == [4, 4, 4]
    # the same parameters and output shape; only the first block's receptive field changes
    assert plain.state_dict().keys() == net.state_dict().keys()
    x = torch.randn(1, 3, 64, 64)
    assert net.eval()(x)[0].shape == plain.eval()(x)[0].shape == (1, 2048, 8, 8)
    basic = ResNet(18, contract_dilation=True, **kw)
    assert _dilations(basic.layer4, "conv1") == [2, 4]


def test_contract_dilation_from_configs_and_the_command_line() -> None:
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from hydra_cnn.configs.models import ResNetV1cConf
    from tests.hydra_app import opted_in

    net = instantiate(ResNetV1cConf(depth=18, dilations=[1, 1, 2, 4], strides=[1, 2, 1, 1],
                                    contract_dilation=True))
    assert net.contract_dilation is True and _dilations(net.layer4, "conv1") == [2, 4]
    GlobalHydra.instance().clear()
    try:
        with opted_in():
            cfg = compose(overrides=["+model=resnet_v1c", "model.depth=18",
                                     "model.dilations=[1,1,2,4]", "model.strides=[1,2,1,1]",
                                     "model.contract_dilation=true"])
    finally:
        GlobalHydra.instance().clear()
    assert _dilations(instantiate(cfg.model).layer3, "conv1") == [1, 2]
    with pytest.raises(TypeError, match="contract_dilation"):
        ResNet(18, contract_dilation="yes")  # type: ignore[arg-type]
