"""The dropout family: DROPOUT_LAYERS, Dropout, DropPath, build_dropout, make_dropout."""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

import hydra_cnn
from hydra_cnn import DROPOUT_LAYERS, Dropout, DropPath, build_dropout, make_dropout
from hydra_cnn.common import InvalidArgumentError, InvalidTypeError

# -- registry and builders ----------------------------------------------------------------------


def test_registry_members_and_exports() -> None:
    assert DROPOUT_LAYERS.get("Dropout") is Dropout
    assert DROPOUT_LAYERS.get("DropPath") is DropPath
    assert DROPOUT_LAYERS.names() == ["Dropout", "DropPath"]
    assert "Dropout" in repr(DROPOUT_LAYERS) and "DropPath" in repr(DROPOUT_LAYERS)
    for name in ("Dropout", "DropPath", "build_dropout", "make_dropout", "DROPOUT_LAYERS"):
        assert name in hydra_cnn.__all__


@pytest.mark.parametrize(
    ("cfg", "default_args", "cls", "drop_prob"),
    [
        (dict(type="Dropout"), None, Dropout, 0.5),
        (dict(type="DropPath"), None, DropPath, 0.1),
        (dict(type="DropPath", drop_prob=0.3), None, DropPath, 0.3),
        # default_args fill what the config leaves out; the config wins (mmcv's rule)
        (dict(type="Dropout"), dict(drop_prob=0.2), Dropout, 0.2),
        (dict(type="Dropout", drop_prob=0.4), dict(drop_prob=0.2), Dropout, 0.4),
        (dict(drop_prob=0.25), dict(type="DropPath"), DropPath, 0.25),
        (None, dict(type="DropPath", drop_prob=0.0), DropPath, 0.0),
    ],
)
def test_build_dropout(cfg: Any, default_args: Any, cls: type, drop_prob: float) -> None:
    original = dict(cfg) if cfg is not None else None
    layer = build_dropout(cfg, default_args=default_args)
    assert type(layer) is cls
    got = layer.p if isinstance(layer, nn.Dropout) else layer.drop_prob
    assert got == drop_prob
    assert (dict(cfg) if cfg is not None else None) == original  # not mutated


def test_dropout_is_nn_dropout_with_mmcv_names() -> None:
    layer = Dropout(drop_prob=0.3, inplace=True)
    assert isinstance(layer, nn.Dropout)
    assert layer.p == 0.3 and layer.inplace is True
    assert repr(Dropout()) == "Dropout(p=0.5, inplace=False)"
    assert repr(DropPath(0.2)) == "DropPath(drop_prob=0.2)"


def test_other_config_forms() -> None:
    from hydra.utils import instantiate
    from omegaconf import OmegaConf

    from_omegaconf = build_dropout(OmegaConf.create({"type": "DropPath", "drop_prob": 0.2}))
    assert isinstance(from_omegaconf, DropPath) and from_omegaconf.drop_prob == 0.2

    factory = instantiate({"_target_": "hydra_cnn.make_dropout", "_partial_": True,
                           "type": "DropPath", "drop_prob": 0.3})
    first, second = factory(), factory()
    assert isinstance(first, DropPath) and first.drop_prob == 0.3 and first is not second
    assert build_dropout(factory).drop_prob == 0.3  # builders unwrap the factory
    assert isinstance(make_dropout(), Dropout)
    assert make_dropout(type="Dropout", drop_prob=0.1).p == 0.1


@pytest.mark.parametrize(
    ("call", "exc", "match"),
    [
        (lambda: build_dropout(dict(type="DropPth")), KeyError,
         r"'DropPth' is not registered in the dropout layer registry. Registered: Dropout, "
         r"DropPath. Did you mean 'DropPath'"),
        (lambda: build_dropout(dict(drop_prob=0.1)), KeyError, r'must contain the key "type"'),
        (lambda: build_dropout(None), TypeError, r"dropout layer config must not be None"),
        (lambda: build_dropout("DropPath"), TypeError, r"must be a dict with a 'type' key"),
        (lambda: build_dropout(dict(type="DropPath"), default_args=[("drop_prob", 0.1)]),
         TypeError, r"default_args must be a mapping or None"),
        (lambda: build_dropout(dict(type="DropPath", p=0.1)), TypeError,
         r"'DropPath' got an unexpected key 'p'"),
        (lambda: build_dropout(dict(type="Dropout", drop_prob=2)), ValueError,
         r"'Dropout': drop_prob=2 is not accepted; it takes a finite number in \[0.0, 1.0\]"),
    ],
)
def test_builder_errors(call: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match):
        call()


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        (lambda: DropPath(1.5), InvalidArgumentError,
         r"DropPath: drop_prob must be a finite number in \[0, 1\], but got 1.5"),
        (lambda: DropPath(-0.1), InvalidArgumentError, r"drop_prob .* but got -0.1"),
        (lambda: DropPath(float("nan")), InvalidArgumentError, r"drop_prob .* but got nan"),
        (lambda: DropPath("0.1"), InvalidTypeError, r"DropPath: drop_prob must be a number, but got '0.1'"),
        (lambda: Dropout(1.01), InvalidArgumentError, r"Dropout: drop_prob must be .* got 1.01"),
        (lambda: Dropout(0.5, inplace="no"), InvalidTypeError,
         r"Dropout: inplace must be True or False, but got 'no'"),
    ],
)
def test_bad_arguments(build: Any, exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        build()
    assert isinstance(info.value, AssertionError)


# -- DropPath behaviour -------------------------------------------------------------------------


def test_drop_path_is_identity_in_eval_and_at_zero() -> None:
    x = torch.randn(8, 3, 4, 4)
    layer = DropPath(0.5).eval()
    assert layer(x) is x
    zero = DropPath(0.0).train()
    assert zero(x) is x


@pytest.mark.parametrize("shape", [(4000, 3), (4000, 2, 5), (4000, 2, 2, 2, 2)])
def test_drop_path_drops_whole_samples(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    p = 0.3
    x = torch.rand(shape) + 0.5  # no zeros in the input
    out = DropPath(p).train()(x)
    assert out.shape == x.shape and out.dtype == x.dtype
    flat_out, flat_x = out.reshape(shape[0], -1), x.reshape(shape[0], -1)
    dropped = (flat_out == 0).all(dim=1)
    kept = ~dropped
    # each sample is either all zeros or exactly x / keep_prob
    torch.testing.assert_close(flat_out[kept], flat_x[kept] / (1 - p))
    assert not (flat_out[kept] == 0).any()
    # the dropped fraction is p (binomial: 4000 samples, std ~0.0072; allow 5 std)
    assert abs(dropped.float().mean().item() - p) < 0.036


def test_drop_path_keeps_the_expectation() -> None:
    torch.manual_seed(1)
    x = torch.ones(20000, 1)
    out = DropPath(0.6).train()(x)
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)


def test_drop_path_at_one_drops_everything() -> None:
    out = DropPath(1.0).train()(torch.randn(16, 4))
    assert torch.equal(out, torch.zeros(16, 4))  # mmcv gives NaN here


def test_drop_path_other_dtypes_and_meta() -> None:
    torch.manual_seed(2)
    x = torch.randn(64, 3, dtype=torch.bfloat16)
    out = DropPath(0.5).train()(x)
    assert out.dtype == torch.bfloat16
    rows = (out == 0).all(dim=1) | torch.isclose(out.float(), (x.float() * 2)).all(dim=1)
    assert rows.all()
    with torch.device("meta"):
        layer = DropPath(0.2).train()
        assert layer(torch.empty(4, 3)).device.type == "meta"
        assert Dropout(0.2)(torch.empty(4, 3)).device.type == "meta"


def test_dropout_statistics() -> None:
    torch.manual_seed(3)
    x = torch.ones(100000)
    out = Dropout(0.25).train()(x)
    zeros = (out == 0).float().mean().item()
    assert zeros == pytest.approx(0.25, abs=0.01)
    assert torch.allclose(out[out != 0], torch.full_like(out[out != 0], 1 / 0.75))
    assert torch.equal(Dropout(0.25).eval()(x), x)
