"""Type names of mmcv's compiled operators (mmcv-full's ``mmcv.ops``) say what they are."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

import hydra_cnn
from hydra_cnn.validation import ConfigValidationError

BUILDS: list[tuple[str, Callable[[], Any], str]] = [
    ("DCN", lambda: hydra_cnn.build_conv_layer(dict(type="DCN", deform_groups=1), 3, 4, 3),
     "DeformConv2dPack"),
    ("DCNv2", lambda: hydra_cnn.build_conv_layer(dict(type="DCNv2"), 3, 4, 3),
     "ModulatedDeformConv2dPack"),
    ("SAC", lambda: hydra_cnn.ConvModule(3, 4, 3, conv_cfg=dict(type="SAC", use_deform=True)),
     "SAConv2d"),
    ("SparseConv3d", lambda: hydra_cnn.build_conv_layer(dict(type="SparseConv3d"), 3, 4, 3),
     "SparseConv3d"),
    ("SubMConv2d", lambda: hydra_cnn.build_conv_layer(dict(type="SubMConv2d"), 3, 4, 3),
     "SubMConv2d"),
    ("SparseInverseConv3d", lambda: hydra_cnn.build_conv_layer(dict(type="SparseInverseConv3d"),
                                                               3, 4, 3), "SparseInverseConv3d"),
    ("MMSyncBN", lambda: hydra_cnn.build_norm_layer(dict(type="MMSyncBN"), 4), "SyncBatchNorm"),
    ("carafe", lambda: hydra_cnn.build_upsample_layer(dict(type="carafe", channels=4,
                                                           scale_factor=2)), "CARAFEPack"),
    ("CrissCrossAttention", lambda: hydra_cnn.build_plugin_layer(
        dict(type="CrissCrossAttention", in_channels=4)), "CrissCrossAttention"),
    ("ModulatedDeformConv2d", lambda: hydra_cnn.build_conv_layer(
        dict(type="ModulatedDeformConv2d"), 3, 4, 3), "ModulatedDeformConv2d"),
]


@pytest.mark.parametrize("name, build, cls", BUILDS, ids=[b[0] for b in BUILDS])
def test_mmcv_ops_type_is_named_as_such(name: str, build: Callable[[], Any], cls: str) -> None:
    with pytest.raises(KeyError) as info:
        build()
    text = str(info.value)
    assert f"'{name}' is a type of mmcv's compiled operators (mmcv-full: mmcv.ops.{cls}" in text
    assert "hydra_cnn does not provide" in text and "Did you mean" not in text


def test_validate_names_mmcv_ops_types_too() -> None:
    cfg = {"head": {"type": "SomeHead", "conv_cfg": {"type": "DCN"},
                    "norm_cfg": {"type": "MMSyncBN"}}}
    with pytest.raises(ConfigValidationError) as info:
        hydra_cnn.validate(cfg)
    assert "head.conv_cfg.type: 'DCN' is a type of mmcv's compiled operators" in str(info.value)
    assert "head.norm_cfg.type: 'MMSyncBN' is a type of mmcv's compiled operators" in str(info.value)


def test_a_user_registered_ops_name_builds_normally() -> None:
    from torch import nn

    from hydra_cnn.registry import CONV_LAYERS

    CONV_LAYERS.register_module(name="DCN", module=nn.Conv2d)
    try:
        assert type(hydra_cnn.build_conv_layer(dict(type="DCN"), 3, 4, 3)) is nn.Conv2d
    finally:
        CONV_LAYERS._module_dict.pop("DCN")


def test_near_misses_of_real_types_still_get_the_close_match() -> None:
    with pytest.raises(KeyError, match="Did you mean 'deconv'"):
        hydra_cnn.build_conv_layer(dict(type="decon"), 3, 4, 3)
