"""A conv config may own its geometry (kernel_size, stride, padding, dilation), as mmcls's
PatchEmbed passes ``dict(type='Conv2d', kernel_size=16, stride=16)``; ``None`` (the default)
leaves it to the block."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate

import hydra_cnn
from hydra_cnn.configs import Conv2dConf, ConvWSConf, DeconvUpsampleConf


def test_typed_conv_config_with_geometry_builds_like_the_dict() -> None:
    from_dict = hydra_cnn.build_conv_layer(dict(type="Conv2d", kernel_size=16, stride=16), 3, 8)
    from_conf = hydra_cnn.build_conv_layer(Conv2dConf(kernel_size=16, stride=16), 3, 8)
    factory = instantiate(Conv2dConf(kernel_size=16, stride=16, padding=0, dilation=1))
    for conv in (from_dict, from_conf, factory(3, 8)):
        assert (conv.kernel_size, conv.stride, conv.padding) == ((16, 16), (16, 16), (0, 0))
        assert conv(torch.randn(1, 3, 32, 32)).shape == (1, 8, 2, 2)
    ws = hydra_cnn.build_conv_layer(ConvWSConf(kernel_size=[3, 1], padding=[1, 0]), 3, 8)
    assert ws.kernel_size == (3, 1) and ws.padding == (1, 0)


def test_none_geometry_lets_the_block_decide() -> None:
    block = hydra_cnn.ConvModule(3, 8, 3, stride=2, padding=1, dilation=1, conv_cfg=Conv2dConf())
    assert (block.conv.kernel_size, block.conv.stride, block.conv.padding) == ((3, 3), (2, 2),
                                                                               (1, 1))
    net = hydra_cnn.ResNet(18, conv_cfg=Conv2dConf(), dilations=(1, 1, 1, 2))
    assert net.layer4[0].conv1.dilation == (2, 2) and net.conv1.kernel_size == (7, 7)
    up = hydra_cnn.build_upsample_layer(DeconvUpsampleConf(), 4, 4, kernel_size=2, stride=2)
    assert up(torch.randn(1, 4, 3, 3)).shape == (1, 4, 6, 6)


def test_geometry_set_in_config_and_by_the_block_is_an_error() -> None:
    with pytest.raises(TypeError, match="kernel_size"):
        hydra_cnn.ConvModule(3, 8, 3, conv_cfg=Conv2dConf(kernel_size=5))


def test_geometry_from_the_command_line() -> None:
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_app import opted_in

    GlobalHydra.instance().clear()
    try:
        with opted_in():
            cfg = compose(overrides=["+layers/conv=conv2d", "layers.conv.kernel_size=4",
                                     "layers.conv.stride=4", "layers.conv.padding=[0,1]"])
    finally:
        GlobalHydra.instance().clear()
    assert hydra_cnn.validate(cfg) == 1
    conv = instantiate(cfg.layers.conv)(3, 8)
    assert (conv.kernel_size, conv.stride, conv.padding) == ((4, 4), (4, 4), (0, 1))


def test_validate_checks_conv_geometry_values() -> None:
    from hydra_cnn.validation import ConfigValidationError

    with pytest.raises(ConfigValidationError, match=r"stride=0 is not accepted"):
        hydra_cnn.validate({"c": {"_target_": "hydra_cnn.make_conv", "_partial_": True,
                                  "type": "Conv2d", "kernel_size": 3, "stride": 0}})
