"""Norm configs build on every supported torch: ``bias=`` only where the installed torch takes it."""

from __future__ import annotations

import functools
from typing import Any

import pytest
import torch
from torch import nn

import hydra_cnn
from hydra_cnn import configs
from hydra_cnn.bricks.torch_compat import (
    TorchFeatureError,
    accepts_argument,
    adapt_norm_bias,
    parse_version,
    torch_version,
    weights_only_advisory,
)

NORM_CLASSES = [nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.GroupNorm,
                nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d]
# torch's norms take bias= from this release on (the configs carry the field on every torch)
HAS_NORM_BIAS = torch_version() >= (2, 12)


class OldBatchNorm(nn.BatchNorm2d):
    """BatchNorm2d with the constructor of torch < 2.12 (no ``bias`` argument)."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1,
                 affine: bool = True, track_running_stats: bool = True, device: Any = None,
                 dtype: Any = None) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype)


class OldInstanceNorm(nn.InstanceNorm2d):
    """InstanceNorm2d (affine=False by default) with the constructor of torch < 2.12."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = False, track_running_stats: bool = False) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats)


@pytest.mark.parametrize(
    "text, expected",
    [("2.4.1", (2, 4, 1)), ("2.4.1+cu121", (2, 4, 1)), ("2.13.0+cpu", (2, 13, 0)),
     ("2.15.0.dev20261001", (2, 15, 0)), ("2.5", (2, 5, 0)), ("10.0.0a0+git1234", (10, 0, 0))],
)
def test_parse_version(text: str, expected: tuple[int, int, int]) -> None:
    assert parse_version(text) == expected


def test_parse_version_rejects_garbage() -> None:
    with pytest.raises(ValueError, match=r"not a version number: 'main'"):
        parse_version("main")


def test_torch_version_is_the_installed_one() -> None:
    major, minor, _ = torch_version()
    assert torch.__version__.startswith(f"{major}.{minor}.")


def test_accepts_argument() -> None:
    assert accepts_argument(nn.LayerNorm, "bias")  # since torch 2.1, below the floor
    assert not accepts_argument(OldBatchNorm, "bias")
    assert not accepts_argument(nn.ReLU, "bias")
    assert accepts_argument(lambda **kw: None, "bias")  # **kwargs takes anything
    assert accepts_argument(functools.partial(OldBatchNorm, eps=1e-3), "momentum")
    assert accepts_argument(max, "bias")  # no readable signature: torch decides at the call


@pytest.mark.parametrize("cls", NORM_CLASSES, ids=lambda c: c.__name__)
def test_norm_bias_support_follows_the_torch_release(cls: type) -> None:
    assert accepts_argument(cls, "bias") is HAS_NORM_BIAS


def test_old_torch_default_bias_is_left_out() -> None:
    kwargs = {"eps": 1e-3, "bias": True}
    assert adapt_norm_bias("BN", OldBatchNorm, kwargs) == {"eps": 1e-3}
    layer = OldBatchNorm(4, **kwargs)
    assert layer.bias is not None and layer.bias.requires_grad  # the shift it always had


def test_old_torch_bias_false_is_a_clear_error() -> None:
    kwargs = {"bias": False}
    with pytest.raises(TorchFeatureError, match=r"'BN': bias=False needs torch>=2\.12, but the "
                       r"installed torch .* has no bias argument for OldBatchNorm\. Use "
                       r"affine=False .* or upgrade torch") as info:
        adapt_norm_bias("BN", OldBatchNorm, kwargs)
    assert torch.__version__ in str(info.value)
    assert isinstance(info.value, ValueError)
    assert kwargs == {"bias": False}  # nothing half-edited


@pytest.mark.parametrize(
    "cls, kwargs",
    [(OldBatchNorm, {"affine": False, "bias": False}),
     (OldInstanceNorm, {"bias": False})],  # InstanceNorm is not affine by default
    ids=["bn-affine-false", "in-default"],
)
def test_old_torch_bias_false_without_affine_changes_nothing(cls: type, kwargs: dict[str, Any]
                                                             ) -> None:
    out = adapt_norm_bias("X", cls, dict(kwargs))
    assert "bias" not in out
    layer = cls(4, **out)
    assert layer.weight is None and layer.bias is None


def test_new_torch_keeps_bias_untouched() -> None:
    kwargs = {"bias": False, "eps": 1e-3}
    assert adapt_norm_bias("LN", nn.LayerNorm, kwargs) == {"bias": False, "eps": 1e-3}
    assert adapt_norm_bias("BN", OldBatchNorm, {"eps": 1e-3}) == {"eps": 1e-3}


@pytest.mark.parametrize(
    "option", ["bn", "bn1d", "bn2d", "bn3d", "sync_bn", "gn", "in", "in1d", "in2d", "in3d"]
)
def test_every_norm_option_builds_with_its_defaults(option: str) -> None:
    """The shipped options carry ``bias: true``; they build on every supported torch."""
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    (conf,) = [c for g, o, c in configs.option_table() if g == "layers/norm" and o == option]
    node = OmegaConf.structured(conf)
    assert node.bias is True
    if option == "gn":
        node.num_groups = 2
    layer = instantiate(node)(8)
    assert isinstance(layer, nn.Module)
    if getattr(layer, "affine", False):
        assert layer.bias is not None  # a learnable shift, as on every torch


@pytest.mark.parametrize("cfg", [{"type": "BN"}, {"type": "GN", "num_groups": 2},
                                 {"type": "IN", "affine": True}], ids=lambda c: c["type"])
def test_bias_false_builds_or_explains(cfg: dict[str, Any]) -> None:
    if HAS_NORM_BIAS:
        _, layer = hydra_cnn.build_norm_layer({**cfg, "bias": False}, 8)
        assert layer.weight is not None and layer.bias is None
    else:
        with pytest.raises(TorchFeatureError, match=r"bias=False needs torch>=2\.12"):
            hydra_cnn.build_norm_layer({**cfg, "bias": False}, 8)


@pytest.mark.parametrize(
    "version, advisories",
    [("2.4.1+cu121", ["CVE-2025-32434", "CVE-2026-24747"]), ("2.5.1", ["CVE-2025-32434"]),
     ("2.6.0", ["CVE-2026-24747"]), ("2.9.1", ["CVE-2026-24747"])],
)
def test_weights_only_advisory_on_old_torch(version: str, advisories: list[str]) -> None:
    text = weights_only_advisory(version)
    assert text is not None and f"torch {version} has published flaws" in text
    assert all(a in text for a in advisories)
    assert ".safetensors" in text and "torch>=2.10" in text
    if "CVE-2025-32434" not in advisories:
        assert "CVE-2025-32434" not in text  # fixed in 2.6: not blamed on 2.6-2.9


@pytest.mark.parametrize("version", ["2.10.0", "2.13.0+cpu", "3.0.0"])
def test_weights_only_advisory_silent_on_fixed_torch(version: str) -> None:
    assert weights_only_advisory(version) is None


def test_weights_only_advisory_defaults_to_the_installed_torch() -> None:
    assert weights_only_advisory() == weights_only_advisory(torch.__version__)
