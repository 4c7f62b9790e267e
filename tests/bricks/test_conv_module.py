"""ConvModule / DepthwiseSeparableConvModule: structure, config forms, numerics, compile."""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from omegaconf import OmegaConf
from torch import nn

from hydra_cnn import (
    PLUGIN_LAYERS,
    Clamp,
    ConvModule,
    DepthwiseSeparableConvModule,
    LayerNorm2d,
    Swish,
    build_plugin_layer,
)
from hydra_cnn.configs import GNConf, LeakyReLUConf, ReLUConf

# -- the six examples of mmcv's documentation ------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "children", "out_shape"),
    [
        (dict(kernel_size=2, norm_cfg=dict(type="BN")),
         {"conv": nn.Conv2d, "bn": nn.BatchNorm2d, "activate": nn.ReLU}, (2, 8, 7, 7)),
        (dict(kernel_size=2, norm_cfg=dict(type="GN", num_groups=2)),
         {"conv": nn.Conv2d, "gn": nn.GroupNorm, "activate": nn.ReLU}, (2, 8, 7, 7)),
        (dict(kernel_size=2), {"conv": nn.Conv2d, "activate": nn.ReLU}, (2, 8, 7, 7)),
        (dict(kernel_size=2, act_cfg=None), {"conv": nn.Conv2d}, (2, 8, 7, 7)),
        (dict(kernel_size=3, padding=1, act_cfg=dict(type="LeakyReLU")),
         {"conv": nn.Conv2d, "activate": nn.LeakyReLU}, (2, 8, 8, 8)),
        (dict(kernel_size=2, norm_cfg=dict(type="BN"), order=("norm", "conv", "act")),
         {"conv": nn.Conv2d, "bn": nn.BatchNorm2d, "activate": nn.ReLU}, (2, 8, 7, 7)),
    ],
    ids=["conv-bn-relu", "conv-gn-relu", "conv-relu", "conv", "conv-leaky", "bn-conv-relu"],
)
def test_mmcv_examples(kwargs: dict[str, Any], children: dict[str, type], out_shape: tuple[int, ...]
                       ) -> None:
    block = ConvModule(3, 8, **kwargs)
    assert {n: type(m) for n, m in block.named_children()} == children
    assert block(torch.randn(2, 3, 8, 8)).shape == out_shape
    norm_cfg = kwargs.get("norm_cfg")
    assert block.with_norm is (norm_cfg is not None)
    assert block.with_activation is (kwargs.get("act_cfg", 1) is not None)
    assert block.with_bias is (norm_cfg is None)
    assert block.conv.bias is None if norm_cfg else block.conv.bias is not None
    if norm_cfg is not None:
        assert block.norm is getattr(block, block.norm_name)
    else:
        assert block.norm is None and block.norm_name is None
    if kwargs.get("order") == ("norm", "conv", "act"):
        assert block.bn.num_features == 3  # a norm before the conv sees in_channels


def test_children_and_state_dict_keys_match_mmcv() -> None:
    block = ConvModule(3, 8, 3, norm_cfg=dict(type="BN"))
    assert list(block.state_dict()) == [
        "conv.weight", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
        "bn.num_batches_tracked",
    ]
    assert type(block).__name__ == "ConvModule" and ConvModule._abbr_ == "conv_block"
    sn = ConvModule(3, 8, 3, with_spectral_norm=True)
    assert {"conv.weight_orig", "conv.weight_u", "conv.weight_v", "conv.bias"} <= set(
        sn.state_dict())
    assert sn(torch.randn(1, 3, 5, 5)).shape == (1, 8, 3, 3)


def test_conv_attributes_are_mirrored() -> None:
    block = ConvModule(4, 8, (3, 5), stride=2, padding=(1, 2), dilation=1, groups=2,
                       norm_cfg=dict(type="BN"))
    conv = block.conv
    for attr in ("in_channels", "out_channels", "kernel_size", "stride", "dilation",
                 "transposed", "output_padding", "groups"):
        assert getattr(block, attr) == getattr(conv, attr), attr
    assert block.padding == (1, 2)  # the argument, as mmcv
    reflect = ConvModule(4, 8, 3, padding=1, padding_mode="reflect")
    assert reflect.padding == 1 and reflect.conv.padding == (0, 0)
    assert reflect.with_explicit_padding and not block.with_explicit_padding
    deconv = ConvModule(4, 8, 2, stride=2, conv_cfg=dict(type="deconv"), act_cfg=None)
    assert deconv.transposed is True
    assert deconv(torch.randn(1, 4, 3, 3)).shape == (1, 8, 6, 6)


# -- the table: norm x activation x order x padding mode ------------------------------------

NORMS: dict[str, Any] = {
    "BN": dict(type="BN"),
    "GN": dict(type="GN", num_groups=2),
    "IN": dict(type="IN", affine=True),
    "LN2d": dict(type="LN2d"),
    "none": None,
}
ACTS: dict[str, Any] = {
    "ReLU": dict(type="ReLU"),
    "LeakyReLU": dict(type="LeakyReLU", negative_slope=0.2),
    "GELU": dict(type="GELU"),
    "Clamp": dict(type="Clamp", min=-0.5, max=0.5),
    "Clip": dict(type="Clip"),
    "HSwish": dict(type="HSwish"),
    "Swish": dict(type="Swish"),
    "Sigmoid": dict(type="Sigmoid"),
    "PReLU": dict(type="PReLU"),
    "SiLU": dict(type="SiLU"),
    "Mish": dict(type="Mish"),
    "HSigmoid": dict(type="HSigmoid"),
    "none": None,
}
ORDERS = [("conv", "norm", "act"), ("norm", "conv", "act"), ("act", "conv", "norm")]
PADDING_MODES = ["zeros", "circular", "reflect", "replicate", "zero"]
ACT_CYCLE = list(ACTS)


def _run_forward_backward(block: ConvModule, in_channels: int = 4) -> torch.Tensor:
    x = torch.randn(2, in_channels, 6, 6, requires_grad=True)
    x_before = x.detach().clone()
    out = block(x)
    out.float().pow(2).sum().backward()
    assert torch.equal(x.detach(), x_before), "the block modified its input in place"
    assert x.grad is not None and x.grad.shape == x.shape
    assert all(p.grad is not None for p in block.parameters() if p.requires_grad)
    return out


@pytest.mark.parametrize(
    ("norm", "order", "padding_mode", "act"),
    [
        (norm, order, mode, ACT_CYCLE[i % len(ACT_CYCLE)])
        for i, (norm, order, mode) in enumerate(itertools.product(NORMS, ORDERS, PADDING_MODES))
    ],
)
def test_table_norm_order_padding(norm: str, order: tuple[str, ...], padding_mode: str,
                                  act: str) -> None:
    torch.manual_seed(0)
    block = ConvModule(4, 8, 3, padding=1, norm_cfg=NORMS[norm], act_cfg=ACTS[act],
                       order=order, padding_mode=padding_mode)
    names = [n for n, _ in block.named_children()]
    expected = (["padding_layer"] if padding_mode in ("reflect", "replicate", "zero") else [])
    expected += ["conv"] + ([block.norm_name] if norm != "none" else [])
    expected += ["activate"] if act != "none" else []
    assert names == expected
    if norm != "none":
        before_conv = order.index("norm") < order.index("conv")
        channels = 4 if before_conv else 8
        norm_layer = block.norm
        size = getattr(norm_layer, "num_features", None) or getattr(
            norm_layer, "num_channels", None) or norm_layer.normalized_shape[0]
        assert size == channels
    out = _run_forward_backward(block)
    assert out.shape == (2, 8, 6, 6)


@pytest.mark.parametrize(("norm", "act"), list(itertools.product(NORMS, ACTS)))
def test_table_norm_act(norm: str, act: str) -> None:
    torch.manual_seed(0)
    block = ConvModule(4, 8, 3, padding=1, norm_cfg=NORMS[norm], act_cfg=ACTS[act])
    out = _run_forward_backward(block)
    assert out.shape == (2, 8, 6, 6)
    if act != "none":
        assert block.activate is not None
        if hasattr(block.activate, "inplace"):
            assert block.activate.inplace is True  # the block's default reached it


@pytest.mark.parametrize("mode", ["circular", "reflect", "replicate", "zero", "zeros"])
def test_padding_modes_match_functional_padding(mode: str) -> None:
    torch.manual_seed(0)
    block = ConvModule(3, 4, 3, padding=(1, 2), padding_mode=mode, act_cfg=None)
    x = torch.randn(1, 3, 6, 7)
    f_mode = {"zeros": "constant", "zero": "constant"}.get(mode, mode)
    padded = F.pad(x, (2, 2, 1, 1), mode=f_mode)
    ref = F.conv2d(padded, block.conv.weight, block.conv.bias)
    torch.testing.assert_close(block(x), ref)
    if mode == "circular":  # mmcv silently zero-padded here
        assert block.conv.padding_mode == "circular"
        assert not torch.allclose(block(x), F.conv2d(x, block.conv.weight, block.conv.bias,
                                                     padding=(1, 2)))


def test_padding_mode_errors() -> None:
    # a KeyError, as mmcv (which looks the mode up in PADDING_LAYERS), listing the modes
    with pytest.raises(KeyError, match=r"padding_mode 'non_exists' is not supported; accepted: "
                       r"'zeros', 'circular', 'reflect', 'replicate', 'zero'"):
        ConvModule(3, 8, 3, padding_mode="non_exists")
    with pytest.raises(TypeError, match="padding_mode must be a str"):
        ConvModule(3, 8, 3, padding_mode=None)  # type: ignore[arg-type]


# -- order, bias, norm checks ---------------------------------------------------------------


@pytest.mark.parametrize("order", [("conv", "act", "norm"), ["act", "norm", "conv"],
                                   OmegaConf.create(["norm", "act", "conv"])])
def test_any_order_permutation(order: Any) -> None:
    block = ConvModule(4, 8, 3, padding=1, norm_cfg=dict(type="BN"), order=order)
    assert block.order == tuple(order)
    x = torch.randn(2, 4, 5, 5)
    manual = x
    for step in block.order:
        manual = {"conv": block.conv, "norm": block.bn, "act": block.activate}[step](manual)
    torch.testing.assert_close(block(x), manual)


@pytest.mark.parametrize("order", [("conv", "norm"), ("conv", "conv", "act"), "conv,norm,act",
                                   ("conv", "norm", "act", "act"), 3])
def test_bad_order(order: Any) -> None:
    with pytest.raises(ValueError, match=r"order must be a permutation of \('conv', 'norm', "
                                         r"'act'\)"):
        ConvModule(3, 8, 3, order=order)
    with pytest.raises(AssertionError, match="order must be"):  # what mmcv raises
        ConvModule(3, 8, 3, order=order)


def test_bias_auto_and_warning() -> None:
    assert ConvModule(3, 8, 3).conv.bias is not None
    assert ConvModule(3, 8, 3, norm_cfg=dict(type="GN", num_groups=2)).conv.bias is None
    assert ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), bias=False).conv.bias is None
    for norm_cfg in (dict(type="BN"), dict(type="IN"), dict(type="SyncBN")):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            block = ConvModule(3, 8, 3, norm_cfg=norm_cfg, bias=True)
        assert block.conv.bias is not None
        assert [str(w.message) for w in caught] == [
            "Unnecessary conv bias before batch/instance norm"
        ]
        assert caught[0].category is UserWarning
    for kwargs in (dict(norm_cfg=dict(type="GN", num_groups=2)),
                   dict(norm_cfg=dict(type="BN"), order=("norm", "conv", "act")),
                   dict(norm_cfg=None)):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            ConvModule(3, 8, 3, bias=True, **kwargs)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bias must be True, False or 'auto'"):
        ConvModule(3, 8, 3, bias="yes")
    with pytest.raises(TypeError, match="bias must be a bool or 'auto'"):
        ConvModule(3, 8, 3, bias=1)  # type: ignore[arg-type]


def test_layer_norm_on_conv_maps_is_refused() -> None:
    with pytest.raises(ValueError, match=r"ConvModule: norm_cfg type 'LN' is nn.LayerNorm.*"
                                         r"type='LN2d'.*option ln2d"):
        ConvModule(3, 8, 3, norm_cfg=dict(type="LN"))
    with pytest.raises(ValueError, match=r"norm_cfg type 'LN' is nn.LayerNorm"):
        DepthwiseSeparableConvModule(4, 8, 3, pw_norm_cfg=dict(type="LN"))
    block = ConvModule(3, 8, 3, norm_cfg=dict(type="LN2d"))
    assert isinstance(block.ln, LayerNorm2d)


# -- activations and inplace ----------------------------------------------------------------


def test_inplace_reaches_only_activations_that_take_it() -> None:
    assert ConvModule(3, 8, 3).activate.inplace is True
    assert ConvModule(3, 8, 3, inplace=False).activate.inplace is False
    for cfg, cls in ((dict(type="Clamp"), Clamp), (dict(type="Clip", min=0.0, max=2.0), Clamp),
                     (dict(type="GELU"), nn.GELU), (dict(type="Sigmoid"), nn.Sigmoid),
                     (dict(type="Swish"), Swish), (dict(type="Tanh"), nn.Tanh)):
        assert type(ConvModule(3, 8, 3, act_cfg=cfg).activate) is cls
    assert ConvModule(3, 8, 3, act_cfg=dict(type="HSwish")).activate.inplace is True
    assert type(ConvModule(3, 8, 3, act_cfg=dict(type="HSwish")).activate) is nn.Hardswish
    # an explicit inplace in the config wins; a structured config's None lets the block decide
    assert ConvModule(3, 8, 3, act_cfg=dict(type="ReLU", inplace=False)).activate.inplace is False
    assert ConvModule(3, 8, 3, act_cfg=ReLUConf()).activate.inplace is True
    assert ConvModule(3, 8, 3, act_cfg=ReLUConf(), inplace=False).activate.inplace is False
    assert ConvModule(3, 8, 3, act_cfg=LeakyReLUConf(inplace=False)).activate.inplace is False
    with pytest.raises(TypeError, match="inplace"):
        ConvModule(3, 8, 3, act_cfg=dict(type="Clamp", inplace=True))


def test_activation_first_does_not_overwrite_the_input() -> None:
    block = ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), order=("act", "conv", "norm"))
    assert block.activate.inplace is False
    x = torch.randn(2, 3, 5, 5)
    before = x.clone()
    block(x)
    assert torch.equal(x, before)


def test_skipped_norm_does_not_expose_the_input_to_an_inplace_activation() -> None:
    block = ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), order=("norm", "act", "conv"))
    assert block.activate.inplace is True
    x = torch.randn(2, 3, 5, 5)
    before = x.clone()
    torch.testing.assert_close(block(x, norm=False), block.conv(F.relu(before)))
    assert torch.equal(x, before)


def test_forward_flags() -> None:
    torch.manual_seed(0)
    block = ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), act_cfg=dict(type="LeakyReLU"))
    x = torch.randn(2, 3, 6, 6)
    conv = block.conv(x)
    torch.testing.assert_close(block(x, activate=False), block.bn(conv))
    torch.testing.assert_close(block(x, norm=False), F.leaky_relu(conv))
    torch.testing.assert_close(block(x, activate=False, norm=False), conv)


# -- init ------------------------------------------------------------------------------------


def test_init_weights_kaiming_fan_out_and_norm_constants() -> None:
    torch.manual_seed(0)
    block = ConvModule(32, 256, 3, norm_cfg=dict(type="BN"))
    fan_out = 256 * 9
    std = block.conv.weight.std().item()
    assert std == pytest.approx(math.sqrt(2.0 / fan_out), rel=0.05)
    assert torch.equal(block.bn.weight, torch.ones(256))
    assert torch.equal(block.bn.bias, torch.zeros(256))
    leaky = ConvModule(32, 256, 3, act_cfg=dict(type="LeakyReLU", negative_slope=0.5))
    gain = math.sqrt(2.0 / (1 + 0.5**2))
    assert leaky.conv.weight.std().item() == pytest.approx(gain / math.sqrt(fan_out), rel=0.05)
    assert torch.equal(leaky.conv.bias, torch.zeros(256))
    # init_weights() resets a norm that was changed
    with torch.no_grad():
        block.bn.weight.fill_(5.0)
    block.init_weights()
    assert torch.equal(block.bn.weight, torch.ones(256))
    assert ConvModule.init_weights._is_default_init is True  # type: ignore[attr-defined]


def test_conv_with_own_init_weights_is_left_alone() -> None:
    class OwnInitConv(nn.Conv2d):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.init_weights()

        def init_weights(self) -> None:
            nn.init.constant_(self.weight, 0.5)

    block = ConvModule(3, 8, 3, conv_cfg=dict(type=OwnInitConv))
    assert torch.all(block.conv.weight == 0.5)


def test_spectral_norm_initialises_weight_orig() -> None:
    torch.manual_seed(0)
    block = ConvModule(32, 256, 3, with_spectral_norm=True)
    std = block.conv.weight_orig.std().item()
    assert std == pytest.approx(math.sqrt(2.0 / (256 * 9)), rel=0.05)


def test_meta_device_build_then_materialise() -> None:
    with torch.device("meta"):
        block = ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), with_spectral_norm=True)
        dw = DepthwiseSeparableConvModule(8, 16, 3, norm_cfg=dict(type="GN", num_groups=4))
    assert all(t.is_meta for t in [*block.parameters(), *block.buffers()])
    assert all(p.is_meta for p in dw.parameters())
    dw.to_empty(device="cpu")
    for m in dw.modules():
        if isinstance(m, ConvModule):
            m.init_weights()
    assert torch.equal(dw.depthwise_conv.gn.weight, torch.ones(8))
    assert dw(torch.randn(1, 8, 5, 5)).shape == (1, 16, 3, 3)


# -- config forms ---------------------------------------------------------------------------


def test_norm_config_forms_give_the_same_block() -> None:
    from hydra.utils import instantiate

    forms = [
        dict(type="GN", num_groups=2),
        OmegaConf.create({"type": "GN", "num_groups": 2}),
        GNConf(num_groups=2),
        OmegaConf.structured(GNConf(num_groups=2)),
        instantiate(GNConf(num_groups=2)),
    ]
    reprs = {repr(ConvModule(3, 8, 3, norm_cfg=f)) for f in forms}
    assert len(reprs) == 1, reprs
    assert "GroupNorm(2, 8" in reprs.pop()


def test_act_and_conv_config_forms() -> None:
    from hydra.utils import instantiate

    for act in (dict(type="LeakyReLU", negative_slope=0.3), LeakyReLUConf(negative_slope=0.3),
                OmegaConf.create({"type": "LeakyReLU", "negative_slope": 0.3}),
                instantiate(LeakyReLUConf(negative_slope=0.3))):
        block = ConvModule(3, 8, 3, act_cfg=act)
        assert isinstance(block.activate, nn.LeakyReLU)
        assert block.activate.negative_slope == 0.3 and block.activate.inplace is True
    from hydra_cnn.configs import Conv3dConf

    conv3d = ConvModule(3, 8, 3, padding=1, conv_cfg=Conv3dConf(), norm_cfg=dict(type="BN3d"))
    assert isinstance(conv3d.conv, nn.Conv3d) and isinstance(conv3d.bn, nn.BatchNorm3d)
    assert conv3d(torch.randn(2, 3, 4, 4, 4)).shape == (2, 8, 4, 4, 4)
    conv1d = ConvModule(3, 8, 3, conv_cfg=dict(type="Conv1d"), norm_cfg=dict(type="BN1d"))
    assert conv1d(torch.randn(2, 3, 9)).shape == (2, 8, 7)


def test_list_arguments_from_yaml() -> None:
    block = ConvModule(3, 8, OmegaConf.create([3, 3]), stride=[1, 1],
                       padding=OmegaConf.create([1, 1]), order=["conv", "norm", "act"])
    assert block.conv.kernel_size == (3, 3) and block.padding == (1, 1)
    assert block(torch.randn(1, 3, 5, 5)).shape == (1, 8, 5, 5)


@pytest.mark.parametrize("name", ["conv_cfg", "norm_cfg", "act_cfg"])
@pytest.mark.parametrize("bad", ["conv", ["BN"], 3])
def test_cfg_that_is_no_config(name: str, bad: Any) -> None:
    # mmcv asserts each *_cfg is None or a dict: the error is also an AssertionError
    pattern = rf"ConvModule {name} must be None, a dict with 'type', .* but got "
    with pytest.raises(TypeError, match=pattern):
        ConvModule(3, 8, 3, **{name: bad})
    with pytest.raises(AssertionError, match=pattern):
        ConvModule(3, 8, 3, **{name: bad})


def test_bad_config_types() -> None:
    with pytest.raises(KeyError, match="'FancyReLU' is not registered"):
        ConvModule(3, 8, 3, act_cfg=dict(type="FancyReLU"))
    with pytest.raises(ValueError, match="num_groups=3 does not divide"):
        ConvModule(3, 8, 3, norm_cfg=dict(type="GN", num_groups=3))


# -- structured configs and Hydra composition -----------------------------------------------


def test_block_configs_instantiate_to_factories() -> None:
    from hydra.utils import instantiate

    from hydra_cnn.configs import ConvModuleConf, DepthwiseSeparableConvModuleConf

    factory = instantiate(ConvModuleConf(norm_cfg=GNConf(num_groups=2)))
    a, b = factory(3, 8, 3), factory(3, 8, 3, stride=2)
    assert isinstance(a, ConvModule) and isinstance(b, ConvModule) and a is not b
    assert isinstance(a.gn, nn.GroupNorm) and a.gn is not b.gn
    assert a.activate is not b.activate and a.activate.inplace is True
    assert b.stride == (2, 2)
    assert factory(3, 8, 3)(torch.randn(1, 3, 5, 5)).shape == (1, 8, 3, 3)
    dw = instantiate(DepthwiseSeparableConvModuleConf(norm_cfg={"type": "BN"}, padding=1))
    block = dw(4, 8, 3)
    assert isinstance(block, DepthwiseSeparableConvModule)
    assert block.depthwise_conv.groups == 4 and isinstance(block.pointwise_conv.bn, nn.BatchNorm2d)
    for conf in (ConvModuleConf, DepthwiseSeparableConvModuleConf):
        node = OmegaConf.structured(conf)
        assert OmegaConf.get_type(node) is conf and node._partial_ is True


def test_compose_block_options(compose_option: Any) -> None:
    from hydra.utils import instantiate

    node = compose_option("layers/block", "conv_module",
                          "+layers/norm@layers.block.norm_cfg=gn",
                          "layers.block.norm_cfg.num_groups=2")
    factory = instantiate(node)
    block = factory(4, 8, 3)
    assert isinstance(block.gn, nn.GroupNorm) and block.gn.num_groups == 2
    assert block(torch.randn(1, 4, 5, 5)).shape == (1, 8, 3, 3)

    node = compose_option("layers/block", "conv_module",
                          "+layers/act@layers.block.act_cfg=leaky_relu",
                          "layers.block.act_cfg.negative_slope=0.2",
                          "layers.block.order=[norm,conv,act]")
    block = instantiate(node)(4, 8, 3)
    assert isinstance(block.activate, nn.LeakyReLU) and block.activate.negative_slope == 0.2
    assert block.order == ("norm", "conv", "act")

    node = compose_option("layers/block", "dw_separable",
                          "+layers/norm@layers.block.norm_cfg=bn",
                          "+layers/act@layers.block.pw_act_cfg=clamp")
    block = instantiate(node)(4, 8, 3, padding=1)
    assert isinstance(block.depthwise_conv.activate, nn.ReLU)
    assert isinstance(block.pointwise_conv.activate, Clamp)
    assert block(torch.randn(1, 4, 5, 5)).shape == (1, 8, 5, 5)


def test_compose_is_typed(compose_option: Any) -> None:
    from hydra.errors import ConfigCompositionException

    with pytest.raises(ConfigCompositionException,
                       match=r"^Error merging override layers\.block\.inplace=maybe$") as info:
        compose_option("layers/block", "conv_module", "layers.block.inplace=maybe")
    assert "Value 'maybe' is not a valid bool" in str(info.value.__cause__)
    with pytest.raises(ConfigCompositionException, match=r"^Error merging override "
                       r"layers\.block\.act_cfg\.negative_slope=steep$") as info:
        compose_option("layers/block", "conv_module",
                       "+layers/act@layers.block.act_cfg=leaky_relu",
                       "layers.block.act_cfg.negative_slope=steep")
    assert "Value 'steep' of type 'str' could not be converted to Float" in str(info.value.__cause__)


# -- plugin registry and DepthwiseSeparableConvModule ---------------------------------------


def test_registered_as_plugins() -> None:
    assert PLUGIN_LAYERS.get("ConvModule") is ConvModule
    assert PLUGIN_LAYERS.get("DepthwiseSeparableConvModule") is DepthwiseSeparableConvModule
    name, layer = build_plugin_layer(
        dict(type="ConvModule", in_channels=3, out_channels=8, kernel_size=3), postfix=1)
    assert name == "conv_block1" and isinstance(layer, ConvModule)


def test_depthwise_separable_defaults_and_overrides() -> None:
    m = DepthwiseSeparableConvModule(4, 8, 3, padding=1, norm_cfg=dict(type="BN"),
                                     dw_act_cfg=None, pw_norm_cfg=dict(type="GN", num_groups=2),
                                     order=("conv", "norm", "act"), padding_mode="reflect")
    dw, pw = m.depthwise_conv, m.pointwise_conv
    assert dw.conv.groups == 4 and dw.conv.out_channels == 4 and dw.conv.kernel_size == (3, 3)
    assert pw.conv.groups == 1 and pw.conv.kernel_size == (1, 1)
    assert isinstance(dw.bn, nn.BatchNorm2d) and not dw.with_activation
    assert isinstance(pw.gn, nn.GroupNorm) and isinstance(pw.activate, nn.ReLU)
    assert dw.padding_mode == pw.padding_mode == "reflect"
    out = m(torch.randn(2, 4, 6, 6))
    assert out.shape == (2, 8, 6, 6)
    plain = DepthwiseSeparableConvModule(4, 8, 3)
    assert [n for n, _ in plain.named_children()] == ["depthwise_conv", "pointwise_conv"]
    assert not plain.depthwise_conv.with_norm and plain.pointwise_conv.with_activation
    for exc in (TypeError, AssertionError):  # AssertionError: what mmcv raises
        with pytest.raises(exc, match=r"DepthwiseSeparableConvModule got groups=2, which it "
                                      r"does not accept"):
            DepthwiseSeparableConvModule(4, 8, 2, groups=2)


# -- compile ---------------------------------------------------------------------------------


def test_compiles_without_graph_breaks() -> None:
    torch._dynamo.reset()
    block = ConvModule(4, 8, 3, padding=1, norm_cfg=dict(type="BN"), padding_mode="reflect",
                       act_cfg=dict(type="Clamp"))
    x = torch.randn(2, 4, 6, 6)
    compiled = torch.compile(block, fullgraph=True, backend="eager")
    torch.testing.assert_close(compiled(x), block(x))
    torch.testing.assert_close(compiled(x, activate=False), block(x, activate=False))
    block.eval().turn_on_efficient_conv_bn_eval()
    assert block.efficient_conv_bn_eval
    torch.testing.assert_close(compiled(x), block(x))
    with torch.no_grad():
        torch.testing.assert_close(compiled(x), block(x))
