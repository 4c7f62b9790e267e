"""VGG: torchvision's keys and parameter counts, stages, training modes, configs."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

from hydra_cnn.configs.layers import GNConf
from hydra_cnn.configs.models import VGG16Conf, VGGConf
from hydra_cnn.models import VGG, make_model
from hydra_cnn.registry import MODELS

# torchvision's vgg cfgs: channels per conv, "M" for a max-pool
LAYOUT: dict[int, list[Any]] = {
    11: [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    13: [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    16: [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    19: [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512,
         512, 512, "M"],
}
BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


def vgg_keys(depth: int, batch_norm: bool) -> list[str]:
    """State-dict keys of torchvision's ``vgg<depth>[_bn]``, in order."""
    keys, i = [], 0
    for v in LAYOUT[depth]:
        if v == "M":
            i += 1
            continue
        keys += [f"features.{i}.weight", f"features.{i}.bias"]
        i += 1
        if batch_norm:
            keys += [f"features.{i}.{k}" for k in BN_KEYS]
            i += 1
        i += 1  # ReLU
    return keys + [f"classifier.{j}.{k}" for j in (0, 3, 6) for k in ("weight", "bias")]


def meta_vgg(**kwargs: Any) -> VGG:
    with torch.device("meta"):
        return VGG(**kwargs)


@pytest.mark.parametrize(("depth", "batch_norm", "params"), [
    (16, False, 138_357_544), (16, True, 138_365_992), (11, False, 132_863_336),
    (19, True, 143_678_248),
])
def test_keys_and_parameter_count_equal_torchvision(depth: int, batch_norm: bool,
                                                    params: int) -> None:
    model = meta_vgg(depth=depth, with_bn=batch_norm, num_classes=1000)
    assert list(model.state_dict()) == vgg_keys(depth, batch_norm)
    assert sum(p.numel() for p in model.parameters()) == params
    assert isinstance(model.avgpool, nn.AdaptiveAvgPool2d) and model.avgpool.output_size == (7, 7)
    assert [type(m).__name__ for m in model.classifier] == [
        "Linear", "ReLU", "Dropout", "Linear", "ReLU", "Dropout", "Linear"]


def test_stage_outputs_and_layout() -> None:
    model = VGG(depth=11, out_indices=(0, 2, 4)).eval()
    outs = model(torch.randn(2, 3, 64, 64))
    assert [tuple(o.shape) for o in outs] == [(2, 64, 32, 32), (2, 256, 8, 8), (2, 512, 2, 2)]
    assert model.range_sub_modules == [(0, 3), (3, 6), (6, 11), (11, 16), (16, 21)]
    assert all(m.inplace for m in model.features if isinstance(m, nn.ReLU))


def test_num_stages_last_pool_dilations_and_lists() -> None:
    model = VGG(depth=11, num_stages=3, dilations=[1, 1, 2], out_indices=[2],
                with_last_pool=False).eval()
    assert model(torch.randn(1, 3, 32, 32))[0].shape == (1, 256, 8, 8)
    assert model.features[-1].__class__ is nn.ReLU
    assert model.features[6].dilation == (2, 2) and model.features[6].padding == (2, 2)


def test_head_returns_logits() -> None:
    model = VGG(depth=11, num_stages=2, dilations=(1, 1), out_indices=(1,), num_classes=5,
                dropout=0.0).eval()
    assert model.classifier[0].in_features == 128 * 7 * 7
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_with_bn_uses_norm_cfg() -> None:
    model = VGG(depth=11, with_bn=True, norm_cfg=GNConf(num_groups=8))
    assert isinstance(model.features[1], nn.GroupNorm) and model.features[1].num_groups == 8
    plain = VGG(depth=11, norm_cfg=GNConf(num_groups=8))
    assert not any(isinstance(m, nn.GroupNorm) for m in plain.modules())
    act = VGG(depth=11, act_cfg={"type": "LeakyReLU", "negative_slope": 0.1})
    assert isinstance(act.features[1], nn.LeakyReLU) and act.features[1].inplace


def test_frozen_stages_and_norm_eval() -> None:
    model = VGG(depth=11, with_bn=True, frozen_stages=2, norm_eval=False).train()
    start = model.range_sub_modules[2][0]
    frozen = list(model.features)[:start]
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    assert all(not m.training for m in frozen)
    assert all(p.requires_grad for p in model.features[start].parameters())
    assert model.features[start + 1].training
    kept = VGG(depth=11, with_bn=True, norm_eval=True).train()
    assert not any(m.training for m in kept.modules() if isinstance(m, nn.BatchNorm2d))
    assert kept.features[0].training


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"depth": 12}, KeyError, "invalid depth 12 for VGG; valid depths: 11, 13, 16, 19"),
    ({"depth": 11, "num_stages": 6}, ValueError, "num_stages must be between 1 and 5"),
    ({"depth": 11, "dilations": (1, 1)}, ValueError, "one entry per stage"),
    ({"depth": 11, "out_indices": (5,)}, ValueError, "must lie in"),
    ({"depth": 11, "frozen_stages": 6}, ValueError, "frozen_stages must be between"),
])
def test_bad_arguments(kwargs: dict[str, Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        VGG(**kwargs)
    if error is ValueError:  # mmcv asserts the stage arguments: also an AssertionError
        with pytest.raises(AssertionError, match=match):
            VGG(**kwargs)


def test_layer_norm_is_refused_with_bn_and_ignored_without() -> None:
    with pytest.raises(ValueError, match=r"VGG: norm_cfg type 'LN' is nn.LayerNorm.*'LN2d'"):
        VGG(depth=11, with_bn=True, norm_cfg={"type": "LN"})
    assert not VGG(depth=11, norm_cfg={"type": "LN"}).with_bn  # no norm is built: nothing to do
    model = VGG(depth=11, with_bn=True, norm_cfg={"type": "LN2d"}, num_stages=2,
                dilations=(1, 1), out_indices=(0, 1))
    assert model(torch.randn(1, 3, 16, 16))[1].shape == (1, 128, 4, 4)


def test_bn_eval_and_bn_frozen_as_mmcv_cnn() -> None:
    model = VGG(depth=11, with_bn=True, bn_eval=True).train()
    norms = [m for m in model.modules() if isinstance(m, nn.BatchNorm2d)]
    assert norms and not any(m.training for m in norms) and model.features[0].training
    assert all(p.requires_grad for p in model.parameters())
    frozen = VGG(depth=11, with_bn=True, bn_frozen=True).train()
    norms = [m for m in frozen.modules() if isinstance(m, nn.BatchNorm2d)]
    assert all(not p.requires_grad for m in norms for p in m.parameters())
    assert all(m.training for m in norms) and frozen.features[0].weight.requires_grad
    plain = VGG(depth=11, with_bn=True).train()
    assert all(m.training for m in plain.modules())
    assert all(p.requires_grad for p in plain.parameters())


def test_registered_and_instantiable() -> None:
    assert MODELS.get("VGG") is VGG and MODELS.is_builtin("VGG")
    model = make_model("VGG", depth=11, out_indices=[4])
    assert isinstance(model, VGG) and model.out_indices == (4,)
    built = instantiate(OmegaConf.structured(VGGConf(depth=13, with_bn=True, out_indices=[4])))
    assert type(built) is VGG and isinstance(built.features[1], nn.BatchNorm2d)
    assert built.eval()(torch.randn(1, 3, 32, 32))[0].shape == (1, 512, 1, 1)
    assert VGG16Conf().depth == 16


