"""get_model_complexity_info: mmcv 1.7's conventions and output, on real and meta models."""

from __future__ import annotations

import io
import warnings
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

import hydra_cnn.registry as registry
from hydra_cnn import flops_to_string, get_model_complexity_info, params_to_string
from hydra_cnn.analysis.complexity import add_flops_rule
from hydra_cnn.families import FAMILIES
from hydra_cnn.models import ResNet
from tests.bricks.cases import CASES


def count(model: nn.Module, shape: tuple[int, ...], **kw: Any) -> Any:
    return get_model_complexity_info(model, shape, print_per_layer_stat=False, as_strings=False, **kw)


# --- conventions, one per rule (numbers worked out by hand) ---------------------------------
@pytest.mark.parametrize("model,shape,flops", [
    # prod(k) * Cin * Cout/g * out positions, + Cout * positions for the bias
    (nn.Conv2d(4, 8, 3, groups=2), (4, 16, 16), 9 * 4 * 4 * 196 + 8 * 196),
    (nn.Conv2d(3, 8, 3, stride=2, padding=1, bias=False), (3, 16, 16), 9 * 3 * 8 * 64),
    (nn.Conv1d(3, 8, 3), (3, 16), 3 * 3 * 8 * 14 + 8 * 14),
    # deconv: the MACs use the input size, the bias the output size (H_out * W_out)
    (nn.ConvTranspose2d(3, 8, 3, stride=2), (3, 16, 16), 9 * 3 * 8 * 256 + 8 * 33 * 33),
    (nn.ConvTranspose2d(3, 8, (1, 3)), (3, 4, 6), 3 * 3 * 8 * 24 + 8 * 4 * 8),
    (nn.ConvTranspose3d(2, 4, 2, bias=False), (2, 3, 3, 3), 8 * 2 * 4 * 27),
    # linear: every input element times the output width, no bias
    (nn.Linear(16, 4), (5, 16), 5 * 16 * 4),
    # activations, pools, upsample: element counts
    (nn.ReLU(), (3, 4, 4), 48),
    (nn.GELU(), (3, 4, 4), 48),
    (nn.MaxPool2d(2), (3, 4, 4), 48),
    (nn.AdaptiveAvgPool2d(1), (3, 4, 4), 48),
    (nn.Upsample(scale_factor=2), (3, 4, 4), 3 * 8 * 8),
    (nn.UpsamplingBilinear2d(scale_factor=2), (3, 4, 4), 3 * 8 * 8),  # a subclass: same rule
    # norms: elements, twice when affine
    (nn.BatchNorm2d(3), (3, 4, 4), 96),
    (nn.SyncBatchNorm(3), (3, 4, 4), 96),
    (nn.InstanceNorm2d(3), (3, 4, 4), 48),
    (nn.GroupNorm(1, 3), (3, 4, 4), 96),
    (nn.LayerNorm(4), (3, 4, 4), 96),
    # data movement costs nothing
    (nn.Sequential(nn.Dropout(), nn.Identity(), nn.Unfold(2), nn.Flatten()), (3, 4, 4), 0),
])
def test_each_rule_counts_as_documented(model: nn.Module, shape: tuple[int, ...], flops: int) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing is "not counted"
        info = count(model, shape)
    assert info == (float(flops), sum(p.numel() for p in model.parameters()))
    assert info.uncounted == ()


@pytest.mark.parametrize("batch_first", [False, True])
def test_attention_counts_projections_and_both_products_like_torch(batch_first: bool) -> None:
    attn = nn.MultiheadAttention(8, 2, batch_first=batch_first)
    flops, _ = count(attn, (5, 8), input_constructor=lambda s: {
        "query": torch.randn(1, *s), "key": torch.randn(1, *s), "value": torch.randn(1, *s)})
    with FlopCounterMode(display=False) as torch_count:
        attn(*(torch.randn(1, 5, 8),) * 3)
    assert flops == torch_count.get_total_flops() / 2  # torch counts a multiply-add as 2


def test_functional_matrix_products_inside_a_module_are_counted() -> None:
    class Attend(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = nn.Linear(8, 8)
            self.w = nn.Parameter(torch.randn(8, 4))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q = self.proj(x)                                   # (1, 5, 8): 5*8*8
            scores = torch.softmax(q @ q.transpose(1, 2), -1)  # 5*5*8
            return torch.einsum("bij,bjk->bik", scores, q) @ self.w  # 5*5*8 + 5*8*4

    info = count(Attend(), (5, 8))
    assert info.flops == 5 * 8 * 8 + 5 * 5 * 8 * 2 + 5 * 8 * 4 and info.uncounted == ()


def test_what_cannot_be_counted_is_named_never_silently_zero() -> None:
    class Wobble(nn.Module):  # elementwise arithmetic with no rule
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x * torch.tanh(x)

    model = nn.Sequential(nn.Conv2d(3, 4, 1), Wobble())
    with pytest.warns(UserWarning, match=r"1 \(Wobble\)"):
        info = count(model, (3, 4, 4))
    assert info.uncounted == ("1 (Wobble)",)
    out = io.StringIO()
    with pytest.warns(UserWarning):
        get_model_complexity_info(model, (3, 4, 4), ost=out)
    assert out.getvalue().splitlines()[-1] == "Not counted (no FLOPs rule): 1 (Wobble)"
    add_flops_rule(Wobble, lambda m, args, kwargs, out: 2 * out.numel())
    assert count(model, (3, 4, 4)) == (3 * 4 * 16 + 4 * 16 + 2 * 64, 16)


def test_a_container_of_counted_children_is_counted_without_its_additions() -> None:
    class Residual(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 3, 1, bias=False)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x + self.conv(x)

    info = count(Residual(), (3, 4, 4))
    assert info == (3 * 3 * 16, 9) and info.uncounted == ()


# --- mmcv's API -------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [[3, 16, 16], torch.Size([3, 16, 16]), ()])
def test_input_shape_must_be_a_non_empty_tuple(bad: Any) -> None:
    with pytest.raises(AssertionError, match="input_shape"):
        get_model_complexity_info(nn.Conv2d(3, 8, 3), bad)


def test_model_must_be_a_module() -> None:
    with pytest.raises(AssertionError, match="nn.Module"):
        get_model_complexity_info(lambda x: x, (3,))  # type: ignore[arg-type]


def test_strings_and_per_layer_print_follow_mmcv() -> None:
    assert get_model_complexity_info(nn.Conv3d(3, 8, 3), (3, 3, 512, 512),
                                     print_per_layer_stat=False) == ("0.17 GFLOPs", "656")
    out = io.StringIO()
    get_model_complexity_info(nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU()), (3, 8, 8), ost=out)
    lines = out.getvalue().splitlines()
    assert lines[1].strip() == "0.0 M, 100.000% Params, 0.0 GFLOPs, 100.000% FLOPs,"
    assert lines[2].strip() == ("(0): Conv2d(0.0 M, 100.000% Params, 0.0 GFLOPs, 96.552% FLOPs, "
                                "3, 8, kernel_size=(3, 3), stride=(1, 1))")
    assert lines[3].strip() == "(1): ReLU(0.0 M, 0.000% Params, 0.0 GFLOPs, 3.448% FLOPs, )"


def test_an_input_constructor_must_return_keyword_arguments() -> None:
    with pytest.raises(TypeError, match="mapping"):
        count(nn.ReLU(), (3,), input_constructor=lambda s: torch.zeros(1, *s))


@pytest.mark.parametrize("value,units,text", [
    (6.54321e9, "GFLOPs", "6.54 GFLOPs"), (6.54321e9, "MFLOPs", "6543.21 MFLOPs"),
    (6.54321e9, "FLOPs", "6543210000.0 FLOPs"), (3.21e7, None, "32.1 MFLOPs"),
    (5.4e3, None, "5.4 KFLOPs"), (987, None, "987 FLOPs"), (999, "GFLOPs", "0.0 GFLOPs"),
])
def test_flops_to_string(value: float, units: str | None, text: str) -> None:
    assert flops_to_string(value, units) == text


@pytest.mark.parametrize("value,units,text", [
    (3.21e7, None, "32.1 M"), (4.56e5, None, "456.0 k"), (789, None, "789"),
    (6.54321e7, "M", "65.43 M"), (6.54321e7, "K", "65432.1 K"), (6.54321e7, "", "65432100.0"),
])
def test_params_to_string(value: float, units: str | None, text: str) -> None:
    assert params_to_string(value, units) == text


# --- the model is left as found ----------------------------------------------------------------
def _state(model: nn.Module) -> list[tuple[Any, ...]]:
    return [(type(m), m.training, len(m._forward_hooks), len(m._forward_pre_hooks),
             sorted(vars(m))) for m in model.modules()]


def test_model_is_restored_after_counting_and_after_a_failing_forward() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.ReLU()))
    model.train()
    model[2].eval()
    before = _state(model)
    get_model_complexity_info(model, (3, 8, 8), ost=io.StringIO())
    assert _state(model) == before
    with pytest.raises(RuntimeError):
        get_model_complexity_info(model, (5, 8, 8), ost=io.StringIO())  # wrong channel count
    assert _state(model) == before
    assert repr(model) == repr(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4),
                                             nn.Sequential(nn.ReLU())))


# --- meta device and the reference numbers -------------------------------------------------
def test_resnet50_matches_torchvision_params_and_mmcv_flops_on_meta() -> None:
    with torch.device("meta"):
        net = ResNet(depth=50, num_classes=1000)
    info = count(net, (3, 224, 224))
    assert info.params == 25_557_032
    assert 4.05e9 < info.flops < 4.15e9  # torchvision publishes 4.09 GFLOPS (multiply-adds)
    assert get_model_complexity_info(net, (3, 224, 224), print_per_layer_stat=False) == (
        "4.12 GFLOPs", "25.56 M")


def test_meta_and_real_models_count_the_same() -> None:
    kwargs = dict(depth=18, num_classes=10, norm_cfg=dict(type="GN", num_groups=8))
    torch.manual_seed(0)
    real = ResNet(**kwargs)
    with torch.device("meta"):
        meta = ResNet(**kwargs)
    out_real, out_meta = io.StringIO(), io.StringIO()
    assert (get_model_complexity_info(real, (3, 64, 64), ost=out_real, as_strings=False)
            == get_model_complexity_info(meta, (3, 64, 64), ost=out_meta, as_strings=False))
    assert out_real.getvalue() == out_meta.getvalue()


# --- every registered type is counted --------------------------------------------------------
# families whose members are not modules
NOT_MODULES = {"init"}
# (family, type) -> (constructor kwargs, input shape without the batch) for the non-layer
# families and for layer types whose case in tests/bricks/cases.py does not fit
OTHER_CASES: dict[tuple[str, str], tuple[dict[str, Any], tuple[int, ...]]] = {
    ("model", "ResNet"): ({"depth": 18, "num_classes": 10}, (3, 32, 32)),
    ("model", "ResNetV1c"): ({"depth": 18, "num_classes": 10}, (3, 32, 32)),
    ("model", "ResNetV1d"): ({"depth": 18, "num_classes": 10}, (3, 32, 32)),
    ("model", "VGG"): ({"depth": 11, "num_classes": 10}, (3, 32, 32)),
    ("model", "SimpleViT"): ({"img_size": 16, "patch_size": 4, "embed_dims": 16, "num_layers": 2,
                              "num_heads": 2, "num_classes": 10}, (3, 16, 16)),
    ("plugin", "ConvModule"): ({"in_channels": 3, "out_channels": 8, "kernel_size": 3,
                                "norm_cfg": {"type": "BN"}}, (3, 8, 8)),
    ("plugin", "DepthwiseSeparableConvModule"): (
        {"in_channels": 4, "out_channels": 8, "kernel_size": 3, "norm_cfg": {"type": "GN",
                                                                            "num_groups": 2}}, (4, 8, 8)),
    # the transformer bricks (mmcv's arguments)
    ("attention", "MultiheadAttention"): ({"embed_dims": 8, "num_heads": 2}, (5, 8)),
    ("ffn", "FFN"): ({"embed_dims": 8, "feedforward_channels": 16}, (5, 8)),
    ("transformer_layer", "BaseTransformerLayer"): (
        {"attn_cfgs": {"type": "MultiheadAttention", "embed_dims": 8, "num_heads": 2},
         "ffn_cfgs": {"type": "FFN", "embed_dims": 8, "feedforward_channels": 16},
         "operation_order": ("self_attn", "norm", "ffn", "norm")}, (5, 8)),
}


def _registered() -> list[tuple[str, str]]:
    out = []
    for family in FAMILIES.values():
        # hydra_cnn's own families (a loader registers their members); blocks share plugins'
        if family.loader is None or family.shares is not None or family.name in NOT_MODULES:
            continue
        reg = registry.family_registry(family)
        out += [(family.name, name) for name in reg.names()]
    return out


def _build(family_name: str, type_name: str) -> tuple[nn.Module, tuple[int, ...]]:
    family = FAMILIES[family_name]
    reg = registry.family_registry(family)
    if (family_name, type_name) in OTHER_CASES:
        kwargs, shape = OTHER_CASES[family_name, type_name]
        return reg.build({"type": type_name, **kwargs}), shape
    case = next((c for c in CASES if c.group == family.group and c.type == type_name), None)
    assert case is not None, (f"no case to build {family_name} type {type_name!r}: add one to "
                              "tests/bricks/cases.py or OTHER_CASES here")
    module = reg.build_layer({"type": type_name, **case.cfg}, *case.args, **case.kwargs)
    return module, case.shape[1:]


@pytest.mark.parametrize("family_name,type_name", _registered(),
                         ids=[f"{f}-{t}" for f, t in _registered()])
def test_every_registered_type_is_counted(family_name: str, type_name: str) -> None:
    module, shape = _build(family_name, type_name)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = count(module, shape)
    assert info.uncounted == ()
    moves_data_only = family_name in ("padding", "dropout")
    assert (info.flops == 0) == moves_data_only, info
    assert info.params == sum(p.numel() for p in module.parameters() if p.requires_grad)
    with torch.device("meta"):
        meta, _ = _build(family_name, type_name)
    assert count(meta, shape) == info


def test_a_plugin_counts_its_own_products_on_top_of_its_convs() -> None:
    module, shape = _build("plugin", "NonLocal2d")  # 8 channels, 4 inside, 5x5 = 25 positions
    convs = 3 * (8 * 4 * 25 + 4 * 25) + (4 * 8 * 25 + 8 * 25)  # g, theta, phi, conv_out
    products = 2 * 25 * 25 * 4  # theta @ phi, then weights @ g
    out = io.StringIO()
    assert get_model_complexity_info(module, shape, ost=out, as_strings=False)[0] == convs + products
    assert "100.000% FLOPs" in out.getvalue().splitlines()[1]
