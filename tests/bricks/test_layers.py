"""Numerical behaviour of hydra_cnn's own layer classes, against PyTorch references."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import hydra_cnn
from hydra_cnn import (
    Clamp,
    Conv2dAdaptivePadding,
    ConvAWS2d,
    ConvWS2d,
    HSigmoid,
    HSwish,
    LayerNorm2d,
    PixelShufflePack,
    Scale,
    Swish,
    conv_ws_2d,
)


def _standardised(w: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    flat = w.reshape(w.shape[0], -1)
    mean = flat.mean(1).reshape(-1, 1, 1, 1)
    std = flat.std(1).reshape(-1, 1, 1, 1)
    return (w - mean) / (std + eps)


def test_conv_ws_matches_reference() -> None:
    torch.manual_seed(0)
    conv = ConvWS2d(3, 4, 3, padding=1)
    x = torch.randn(2, 3, 6, 6)
    ref = F.conv2d(x, _standardised(conv.weight), conv.bias, padding=1)
    torch.testing.assert_close(conv(x), ref)
    torch.testing.assert_close(conv_ws_2d(x, conv.weight, conv.bias, padding=1), ref)


def test_conv_aws_loads_a_plain_conv_checkpoint() -> None:
    torch.manual_seed(0)
    plain = nn.Conv2d(3, 4, 3)
    aws = ConvAWS2d(3, 4, 3)
    result = aws.load_state_dict(plain.state_dict(), strict=True)  # gamma/beta not missing
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = torch.randn(1, 3, 5, 5)
    torch.testing.assert_close(aws(x), plain(x), rtol=1e-4, atol=1e-5)
    # a ConvAWS checkpoint keeps its own gamma/beta
    other = ConvAWS2d(3, 4, 3)
    with torch.no_grad():
        other.weight_gamma.fill_(2.0)
    aws.load_state_dict(other.state_dict())
    assert torch.equal(aws.weight_gamma, torch.full((4, 1, 1, 1), 2.0))


@pytest.mark.parametrize("size", [7, 8, 9, 15])
@pytest.mark.parametrize("kernel,stride,dilation", [(3, 1, 1), (3, 2, 1), (5, 2, 1), (3, 2, 2), (1, 3, 1)])
def test_conv2d_adaptive_padding_is_tf_same(size: int, kernel: int, stride: int, dilation: int) -> None:
    conv = Conv2dAdaptivePadding(2, 3, kernel, stride=stride, dilation=dilation)
    x = torch.randn(1, 2, size, size + 1)
    out = conv(x)
    assert out.shape[-2:] == (math.ceil(size / stride), math.ceil((size + 1) / stride))
    # reference: pad the total TF "SAME" amount, extra pixel at the end
    pads = []
    for n in (size + 1, size):
        total = max((math.ceil(n / stride) - 1) * stride + (kernel - 1) * dilation + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    ref = F.conv2d(F.pad(x, pads), conv.weight, conv.bias, stride, 0, dilation)
    torch.testing.assert_close(out, ref)


def test_layer_norm_2d_normalises_channels() -> None:
    ln = LayerNorm2d(4)
    with torch.no_grad():
        ln.weight.uniform_()
        ln.bias.uniform_()
    x = torch.randn(2, 4, 3, 5)
    ref = F.layer_norm(x.permute(0, 2, 3, 1), (4,), ln.weight, ln.bias, 1e-5).permute(0, 3, 1, 2)
    torch.testing.assert_close(ln(x), ref)
    with pytest.raises(ValueError, match="expects"):
        ln(torch.randn(4))


def test_activations() -> None:
    x = torch.linspace(-6, 6, 101)
    torch.testing.assert_close(HSigmoid()(x), F.relu6(x + 3) / 6)
    torch.testing.assert_close(HSigmoid(bias=1.0, divisor=2.0)(x), ((x + 1) / 2).clamp(0, 1))
    torch.testing.assert_close(HSwish()(x), x * F.relu6(x + 3) / 6)
    torch.testing.assert_close(Swish()(x), x * torch.sigmoid(x))
    torch.testing.assert_close(Clamp()(x), x.clamp(-1, 1))
    torch.testing.assert_close(Clamp(min=0.0, max=2.0)(x), x.clamp(0, 2))
    with pytest.raises(ValueError, match="min=2"):
        Clamp(min=2.0, max=1.0)
    with pytest.raises(ValueError, match="divisor"):
        HSigmoid(divisor=0)


def test_hsigmoid_does_not_warn(recwarn: pytest.WarningsRecorder) -> None:
    hydra_cnn.build_activation_layer(dict(type="HSigmoid"))
    assert not recwarn.list


def test_pixel_shuffle_pack() -> None:
    up = PixelShufflePack(3, 8, 2, 3)
    assert up.upsample_conv.out_channels == 32
    assert torch.count_nonzero(up.upsample_conv.bias) == 0
    assert up(torch.randn(1, 3, 4, 5)).shape == (1, 8, 8, 10)


def test_scale() -> None:
    s = Scale(2.5)
    assert s.scale.shape == () and s.scale.dtype == torch.float32
    torch.testing.assert_close(s(torch.ones(3)), torch.full((3,), 2.5))
    with torch.device("meta"):
        assert Scale().scale.device.type == "meta"
