"""mmcv's layer wrappers: torch's layers under mmcv's registry names, empty batches included."""

from __future__ import annotations

from typing import Any
from unittest import mock

import pytest
import torch
from torch import nn

import hydra_cnn
from hydra_cnn.bricks import wrappers
from hydra_cnn.registry import CONV_LAYERS, UPSAMPLE_LAYERS

# wrapper, its torch parent, constructor args, an input shape (batch first)
LAYERS: list[tuple[type, type, tuple[Any, ...], dict[str, Any], tuple[int, ...]]] = [
    (hydra_cnn.Conv2d, nn.Conv2d, (3, 4, 3), {"stride": 2, "padding": 1, "dilation": 2}, (3, 10, 11)),
    (hydra_cnn.Conv3d, nn.Conv3d, (3, 4, 3), {"padding": 1}, (3, 5, 6, 7)),
    (hydra_cnn.ConvTranspose2d, nn.ConvTranspose2d, (3, 4, 3),
     {"stride": 2, "padding": 1, "output_padding": 1}, (3, 5, 6)),
    (hydra_cnn.ConvTranspose3d, nn.ConvTranspose3d, (3, 4, 2), {"stride": 2}, (3, 3, 4, 5)),
    (hydra_cnn.MaxPool2d, nn.MaxPool2d, (3,), {"stride": 2, "padding": 1}, (3, 9, 10)),
    (hydra_cnn.MaxPool3d, nn.MaxPool3d, (2,), {"stride": 2, "ceil_mode": True}, (3, 5, 6, 7)),
    (hydra_cnn.Linear, nn.Linear, (5, 7), {}, (5,)),
]
IDS = [w.__name__ for w, *_ in LAYERS]


def _pair(wrapper: type, parent: type, args: tuple[Any, ...], kwargs: dict[str, Any]
          ) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    ours = wrapper(*args, **kwargs)
    theirs = parent(*args, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def test_registry_names_are_mmcvs() -> None:
    assert CONV_LAYERS.get("Conv") is hydra_cnn.Conv2d
    assert CONV_LAYERS.get("Conv2d") is nn.Conv2d  # torch's class, as in mmcv 1.7
    assert CONV_LAYERS.get("Conv3d") is hydra_cnn.Conv3d
    for name in ("deconv", "ConvTranspose2d"):
        assert CONV_LAYERS.get(name) is hydra_cnn.ConvTranspose2d
    for name in ("deconv3d", "ConvTranspose3d"):
        assert CONV_LAYERS.get(name) is hydra_cnn.ConvTranspose3d
    assert UPSAMPLE_LAYERS.get("deconv") is hydra_cnn.ConvTranspose2d
    assert UPSAMPLE_LAYERS.get("deconv3d") is hydra_cnn.ConvTranspose3d


def test_built_wrappers_are_still_the_torch_classes() -> None:
    conv = hydra_cnn.build_conv_layer(dict(type="Conv"), 3, 8, 3)
    assert type(conv) is hydra_cnn.Conv2d and isinstance(conv, nn.Conv2d)
    up = hydra_cnn.build_upsample_layer(dict(type="deconv"), 3, 4, 2, stride=2)
    assert isinstance(up, nn.ConvTranspose2d)
    assert type(hydra_cnn.build_conv_layer(None, 3, 8, 3)) is nn.Conv2d  # the default stays torch's


@pytest.mark.parametrize(("wrapper", "parent", "args", "kwargs", "shape"), LAYERS, ids=IDS)
def test_same_output_and_state_dict_as_torch(wrapper: type, parent: type, args: Any, kwargs: Any,
                                             shape: tuple[int, ...]) -> None:
    ours, theirs = _pair(wrapper, parent, args, kwargs)
    assert isinstance(ours, parent)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    x = torch.randn(2, *shape)
    assert torch.equal(ours(x), theirs(x))


@pytest.mark.parametrize(("wrapper", "parent", "args", "kwargs", "shape"), LAYERS, ids=IDS)
@pytest.mark.parametrize("old_torch", [False, True], ids=["this_torch", "old_torch_path"])
def test_empty_batch_forward_and_backward(wrapper: type, parent: type, args: Any, kwargs: Any,
                                          shape: tuple[int, ...], old_torch: bool,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    ours, theirs = _pair(wrapper, parent, args, kwargs)
    expected = theirs(torch.randn(0, *shape)).shape  # torch's own empty-batch result
    if old_torch:  # the path mmcv takes on torch <= 1.4 (1.5 Linear, 1.9 pooling)
        monkeypatch.setattr(wrappers, "TORCH_VERSION", (1, 4))
    x = torch.randn(0, *shape, requires_grad=True)
    out = ours(x)
    assert out.shape == expected
    out.sum().backward()
    assert x.grad is not None and x.grad.shape == x.shape
    for p in ours.parameters():  # every parameter takes part: zero gradients, not None
        assert p.grad is not None and p.grad.shape == p.shape and not p.grad.any()


def test_old_torch_path_in_eval_mode_leaves_parameters_out() -> None:
    conv = hydra_cnn.Conv2d(3, 4, 3).eval()
    with mock.patch.object(wrappers, "TORCH_VERSION", (1, 4)):
        out = conv(torch.zeros(0, 3, 8, 8, requires_grad=True))
    assert out.shape == (0, 4, 6, 6)
    assert out.grad_fn is not None and conv.weight.grad is None


def test_forward_is_the_torch_parents_forward() -> None:
    conv = hydra_cnn.Conv2d(3, 4, 3)
    with mock.patch.object(nn.Conv2d, "forward", return_value="torch's") as forward:
        assert conv(torch.zeros(1, 3, 5, 5)) == "torch's"
    forward.assert_called_once()


def test_version_gate() -> None:
    assert wrappers.obsolete_torch_version((1, 4), (1, 4))
    assert wrappers.obsolete_torch_version("parrots", (1, 4))
    assert not wrappers.obsolete_torch_version((1, 5), (1, 4))
    assert not wrappers.obsolete_torch_version(wrappers.TORCH_VERSION, (1, 9))  # torch 2.x
