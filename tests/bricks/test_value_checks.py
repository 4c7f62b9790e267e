"""Values torch accepts at build but fails on in forward are refused when the layer is built,
naming the value and what is accepted, through every way of building and in ``validate``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import torch

import hydra_cnn
from hydra_cnn import (
    build_activation_layer,
    build_conv_layer,
    build_norm_layer,
    build_upsample_layer,
)
from hydra_cnn.validation import ConfigValidationError

REFUSED: list[tuple[str, Callable[[], Any], str]] = [
    ("conv float stride", lambda: build_conv_layer(dict(type="Conv2d", stride=1.5), 3, 4, 3),
     r"conv layer 'Conv2d': stride=1.5 is not accepted; it takes an int >= 1"),
    ("conv float stride from the caller", lambda: build_conv_layer(None, 3, 4, 3, stride=1.5),
     r"stride=1.5 is not accepted"),
    ("ConvWS huge negative stride", lambda: build_conv_layer(dict(type="ConvWS", stride=-1e16),
                                                            3, 4, 3),
     r"'ConvWS': stride=-1e\+16 is not accepted; it takes an int >= 1"),
    ("ConvWS negative stride", lambda: build_conv_layer(dict(type="ConvWS"), 3, 4, 3, stride=-1),
     r"stride=-1 is not accepted; it takes an int >= 1"),
    ("conv zero stride", lambda: build_conv_layer(None, 3, 4, 3, stride=0), r"stride=0"),
    ("BN eps 0", lambda: build_norm_layer(dict(type="BN", eps=0), 4),
     r"norm layer 'BN': eps=0 is not accepted; it takes a finite number > 0"),
    ("GN negative eps", lambda: build_norm_layer(dict(type="GN", num_groups=2, eps=-1e-5), 4),
     r"'GN': eps=-1e-05 is not accepted"),
    ("IN eps 0", lambda: build_norm_layer(dict(type="IN", eps=0.0), 4), r"'IN': eps=0.0"),
    ("LN2d eps 0", lambda: build_norm_layer(dict(type="LN2d", eps=0.0), 4), r"'LN2d': eps=0.0"),
    ("RReLU lower > upper", lambda: build_activation_layer(dict(type="RReLU", lower=0.5,
                                                                upper=0.1)),
     r"'RReLU': lower=0.5 is not accepted; it takes a number <= upper=0.1"),
    ("RReLU lower > default upper", lambda: build_activation_layer(dict(type="RReLU", lower=0.9)),
     r"lower=0.9 is not accepted; it takes a number <= upper=0.333"),
    ("PReLU no parameters", lambda: build_activation_layer(dict(type="PReLU", num_parameters=0)),
     r"'PReLU': num_parameters=0 is not accepted; it takes an int >= 1"),
    ("GELU bogus approximate", lambda: build_activation_layer(dict(type="GELU",
                                                                   approximate="bogus")),
     r"'GELU': approximate='bogus' is not accepted; it takes one of 'none', 'tanh'"),
    ("nearest scale 0", lambda: build_upsample_layer(dict(type="nearest", scale_factor=0)),
     r"upsample layer 'nearest': scale_factor=0 is not accepted; it takes a finite number > 0"),
    ("bilinear negative scale", lambda: build_upsample_layer(dict(type="bilinear",
                                                                  scale_factor=-2.0)),
     r"scale_factor=-2.0 is not accepted"),
    ("per-dimension scale with a 0", lambda: build_upsample_layer(dict(type="nearest",
                                                                       scale_factor=(2, 0))),
     r"scale_factor=\(2, 0\) is not accepted"),
    ("pixel_shuffle scale 0", lambda: build_upsample_layer(
        dict(type="pixel_shuffle", scale_factor=0, upsample_kernel=3), in_channels=3,
        out_channels=3),
     r"'pixel_shuffle': scale_factor=0 is not accepted"),
    ("deconv output_padding = stride", lambda: build_conv_layer(
        dict(type="deconv", output_padding=2), 3, 4, 3, stride=2),
     r"'deconv': output_padding=2 is not accepted; it takes values smaller than stride=2 or "
     r"dilation=1"),
    ("deconv upsample output_padding with stride 1", lambda: build_upsample_layer(
        dict(type="deconv", output_padding=1), 3, 4, 3),
     r"output_padding=1 is not accepted"),
    ("ConvTranspose3d one dimension too big", lambda: build_conv_layer(
        dict(type="ConvTranspose3d", output_padding=(0, 0, 2)), 3, 4, 3, stride=(2, 2, 2)),
     r"output_padding=\(0, 0, 2\) is not accepted"),
]


@pytest.mark.parametrize("build, pattern", [(b, p) for _, b, p in REFUSED],
                         ids=[name for name, _, _ in REFUSED])
def test_value_that_fails_only_in_forward_is_refused_at_build(build: Callable[[], Any],
                                                              pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as info:
        build()
    assert isinstance(info.value, AssertionError)  # mmcv-style code catching asserts still works


def test_values_torch_runs_with_still_build() -> None:
    x = torch.randn(1, 3, 8, 8)
    # output_padding below the dilation is valid for torch even when it is not below the stride
    deconv = build_conv_layer(dict(type="deconv", output_padding=1, dilation=2), 3, 4, 3)
    assert deconv(x).shape[1] == 4
    assert build_conv_layer(dict(type="deconv", output_padding=1), 3, 4, 3, stride=2)(x).shape[-1] == 18
    assert build_upsample_layer(dict(type="nearest", scale_factor=(2, 0.5)))(x).shape == (1, 3, 16, 4)
    assert build_activation_layer(dict(type="GELU", approximate="tanh"))(x).shape == x.shape
    assert build_activation_layer(dict(type="RReLU", lower=0.1, upper=0.1))(x).shape == x.shape
    assert build_norm_layer(dict(type="BN", eps=1e-3, momentum=None), 3)[1](x).shape == x.shape
    assert build_activation_layer(dict(type="PReLU", num_parameters=3))(x).shape == x.shape


def test_conv_module_and_models_get_the_same_checks() -> None:
    with pytest.raises(ValueError, match=r"stride=1.5 is not accepted"):
        hydra_cnn.ConvModule(3, 4, 3, stride=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"eps=0 is not accepted"):
        hydra_cnn.ResNet(18, norm_cfg=dict(type="BN", eps=0))


def test_validate_reports_the_same_values() -> None:
    with pytest.raises(ConfigValidationError, match=r"n: .*'GELU': approximate='bogus'"):
        hydra_cnn.validate({"n": {"_target_": "hydra_cnn.make_act", "_partial_": True,
                                  "type": "GELU", "approximate": "bogus"}})
    with pytest.raises(ConfigValidationError, match=r"eps=0 is not accepted"):
        hydra_cnn.validate({"m": {"_target_": "hydra_cnn.ResNet", "depth": 18,
                                  "norm_cfg": {"type": "BN", "eps": 0}}})
    # a transposed conv config without the stride its block passes is not judged alone
    assert hydra_cnn.validate({"up": {"_target_": "hydra_cnn.make_upsample", "_partial_": True,
                                      "type": "deconv", "output_padding": 1}}) == 1
