"""fuse_conv_bn, ConvModule.fuse, the efficient conv-BN eval mode and SyncBN conversion."""

from __future__ import annotations

import copy
import warnings

import pytest
import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from hydra_cnn import (
    ConvModule,
    ConvWS2d,
    DepthwiseSeparableConvModule,
    convert_sync_batchnorm,
    fuse_conv_bn,
    revert_sync_batchnorm,
)

RTOL, ATOL = 1e-5, 1e-6


def _randomise_bn(model: nn.Module) -> nn.Module:
    """Non-trivial running stats and affine parameters in every batch norm."""
    gen = torch.Generator().manual_seed(1)
    for m in model.modules():
        if isinstance(m, _BatchNorm) and m.running_mean is not None:
            n = m.num_features
            with torch.no_grad():
                m.running_mean.copy_(torch.randn(n, generator=gen) * 0.2)
                m.running_var.copy_(torch.rand(n, generator=gen) + 0.5)
                if m.affine:
                    m.weight.copy_(torch.rand(n, generator=gen) + 0.5)
                    m.bias.copy_(torch.randn(n, generator=gen) * 0.2)
    return model


class Mixed(nn.Module):
    """ConvModules and plain conv/BN pairs in 1d, 2d and 3d, in nested containers.

    The ConvModules run side by side on the input (not chained), so float32 rounding does not
    pile up through ten layers and the parity tolerance stays at rtol 1e-5, atol 1e-6.
    """

    def __init__(self) -> None:
        super().__init__()
        self.blocks = nn.ModuleList([
            ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type="BN")),
            ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type="GN", num_groups=2)),  # kept
            ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type="BN"), order=("norm", "conv", "act")),
            ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type="BN"), order=("act", "conv", "norm")),
            ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type="BN"), padding_mode="reflect"),
        ])
        self.pairs = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1, bias=False),
            nn.BatchNorm2d(8, affine=False),
            nn.Conv2d(8, 8, 1),
            nn.BatchNorm2d(8, track_running_stats=False),  # no running stats: skipped
            nn.SyncBatchNorm(8),  # follows a BN, not a conv: skipped
        )
        self.seq1d = nn.Sequential(nn.Conv1d(4, 6, 3), nn.BatchNorm1d(6), nn.ReLU())
        self.seq3d = nn.Sequential(nn.Conv3d(2, 4, 3, padding=1), nn.BatchNorm3d(4),
                                   nn.Conv3d(4, 4, 1, bias=False), nn.SyncBatchNorm(4))

    def forward(self, x2: torch.Tensor, x1: torch.Tensor, x3: torch.Tensor
                ) -> tuple[torch.Tensor, ...]:
        return (*(b(x2) for b in self.blocks), self.pairs(x2), self.seq1d(x1), self.seq3d(x3))


def _inputs() -> tuple[torch.Tensor, ...]:
    torch.manual_seed(0)
    return torch.randn(2, 3, 8, 8), torch.randn(2, 4, 10), torch.randn(2, 2, 4, 4, 4)


def test_fuse_conv_bn_parity_on_a_mixed_model() -> None:
    torch.manual_seed(0)
    model = _randomise_bn(Mixed()).eval()
    inputs = _inputs()
    with torch.no_grad():
        ref = model(*inputs)
    fused = fuse_conv_bn(model)
    assert fused is model  # in place
    with torch.no_grad():
        out = model(*inputs)
    for a, b in zip(out, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=RTOL, atol=ATOL)
    blk = model.blocks
    assert isinstance(blk[0].bn, nn.Identity) and "bn.weight" not in blk[0].state_dict()
    assert isinstance(blk[1].gn, nn.GroupNorm)
    assert isinstance(blk[2].bn, nn.BatchNorm2d)  # norm runs before the conv: not folded
    assert isinstance(blk[3].bn, nn.Identity)  # act, conv, norm: the conv feeds the norm
    assert isinstance(blk[4].bn, nn.Identity)
    pairs = model.pairs
    assert isinstance(pairs[1], nn.Identity)  # affine=False folds too
    assert pairs[0].bias is not None
    assert isinstance(pairs[3], nn.BatchNorm2d) and isinstance(pairs[4], nn.SyncBatchNorm)
    assert isinstance(model.seq1d[1], nn.Identity)
    assert isinstance(model.seq3d[1], nn.Identity) and isinstance(model.seq3d[3], nn.Identity)
    assert model.seq3d[2].bias is not None
    # fusing again changes nothing
    fuse_conv_bn(model)
    with torch.no_grad():
        again = model(*inputs)
    for a, b in zip(again, out, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_convmodule_fuse() -> None:
    torch.manual_seed(0)
    block = _randomise_bn(ConvModule(3, 8, 3, padding=1, norm_cfg=dict(type="BN"))).eval()
    x = torch.randn(2, 3, 6, 6)
    ref, ref_no_act = block(x), block(x, activate=False)
    weight = block.conv.weight
    assert block.fuse() is block
    assert block.conv.weight is weight  # same Parameter, folded values
    assert isinstance(block.bn, nn.Identity) and block.norm_name == "bn"
    assert block._plan == ("conv", "activate")
    torch.testing.assert_close(block(x), ref, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(block(x, activate=False), ref_no_act, rtol=RTOL, atol=ATOL)
    torch.testing.assert_close(block(x, norm=False), ref, rtol=RTOL, atol=ATOL)
    no_norm = ConvModule(3, 8, 3)
    assert no_norm.fuse() is no_norm


def test_fuse_skips_convs_that_transform_their_weight() -> None:
    model = nn.Sequential(ConvWS2d(3, 8, 3), nn.BatchNorm2d(8)).eval()
    with pytest.warns(UserWarning, match="not folding '1' into '0'"):
        fuse_conv_bn(model)
    assert isinstance(model[1], nn.BatchNorm2d)
    block = ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), with_spectral_norm=True).eval()
    with pytest.warns(UserWarning, match="spectral norm"):
        block.fuse()
    assert isinstance(block.bn, nn.BatchNorm2d)
    ws = ConvModule(3, 8, 3, conv_cfg=dict(type="ConvWS"), norm_cfg=dict(type="BN")).eval()
    with pytest.warns(UserWarning, match="ConvWS2d"):
        fuse_conv_bn(nn.Sequential(ws))
    assert isinstance(ws.bn, nn.BatchNorm2d)
    adaptive = _randomise_bn(ConvModule(3, 8, 3, stride=2, conv_cfg=dict(
        type="Conv2dAdaptivePadding"), norm_cfg=dict(type="BN"))).eval()
    x = torch.randn(1, 3, 7, 7)
    ref = adaptive(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        adaptive.fuse()
    assert isinstance(adaptive.bn, nn.Identity)
    torch.testing.assert_close(adaptive(x), ref, rtol=RTOL, atol=ATOL)


def test_fuse_depthwise_separable() -> None:
    torch.manual_seed(0)
    m = _randomise_bn(DepthwiseSeparableConvModule(4, 8, 3, padding=1,
                                                   norm_cfg=dict(type="BN"))).eval()
    x = torch.randn(2, 4, 6, 6)
    ref = m(x)
    fuse_conv_bn(m)
    assert isinstance(m.depthwise_conv.bn, nn.Identity)
    assert isinstance(m.pointwise_conv.bn, nn.Identity)
    torch.testing.assert_close(m(x), ref, rtol=RTOL, atol=ATOL)


# -- efficient conv-BN eval mode -------------------------------------------------------------


@pytest.mark.parametrize("order", [("conv", "norm", "act"), ("act", "conv", "norm")])
@pytest.mark.parametrize("conv", ["Conv1d", "Conv2d", "Conv3d"])
def test_efficient_eval_parity(order: tuple[str, ...], conv: str) -> None:
    torch.manual_seed(0)
    dims = {"Conv1d": 1, "Conv2d": 2, "Conv3d": 3}[conv]
    bn = {1: "BN1d", 2: "BN", 3: "BN3d"}[dims]
    plain = _randomise_bn(ConvModule(4, 8, 3, padding=1, conv_cfg=dict(type=conv),
                                     norm_cfg=dict(type=bn), order=order)).eval()
    fast = copy.deepcopy(plain)
    fast.turn_on_efficient_conv_bn_eval()
    assert fast.efficient_conv_bn_eval
    x = torch.randn((2, 4) + (5,) * dims)
    with torch.no_grad():
        torch.testing.assert_close(fast(x), plain(x), rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(fast(x, activate=False), plain(x, activate=False),
                                   rtol=RTOL, atol=ATOL)
        torch.testing.assert_close(fast(x, norm=False), plain(x, norm=False))
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), plain(x), rtol=RTOL, atol=ATOL)


def test_efficient_eval_constructor_flag_and_unsupported_blocks() -> None:
    assert ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), efficient_conv_bn_eval=True
                      ).efficient_conv_bn_eval
    for kwargs in (dict(norm_cfg=dict(type="GN", num_groups=2)),
                   dict(norm_cfg=dict(type="BN"), order=("norm", "conv", "act")),
                   dict(norm_cfg=dict(type="BN"), order=("conv", "act", "norm")),
                   dict(norm_cfg=dict(type="BN"), with_spectral_norm=True),
                   dict(norm_cfg=dict(type="BN"), conv_cfg=dict(type="ConvWS")),
                   dict(norm_cfg=None)):
        block = ConvModule(3, 8, 3, efficient_conv_bn_eval=True, **kwargs)  # type: ignore[arg-type]
        assert not block.efficient_conv_bn_eval, kwargs
        assert block(torch.randn(2, 3, 5, 5)).shape == (2, 8, 3, 3)
    block = ConvModule(3, 8, 3, norm_cfg=dict(type="BN"), efficient_conv_bn_eval=True)
    block.turn_on_efficient_conv_bn_eval(False)
    assert not block.efficient_conv_bn_eval and block._fast


def test_efficient_eval_caches_and_invalidates() -> None:
    torch.manual_seed(0)
    plain = _randomise_bn(ConvModule(4, 8, 3, norm_cfg=dict(type="BN"))).eval()
    fast = copy.deepcopy(plain)
    fast.turn_on_efficient_conv_bn_eval()
    x = torch.randn(1, 4, 5, 5)
    with torch.no_grad():
        fast(x)
        cached = fast._fold_cache.weight
        assert cached is not None
        fast(x)
        assert fast._fold_cache.weight is cached  # no refold for unchanged parameters
        for m in (fast, plain):  # in-place updates (optimizer steps, load_state_dict) refold
            m.bn.running_mean.add_(0.3)
            m.conv.weight.mul_(1.5)
        torch.testing.assert_close(fast(x), plain(x), rtol=RTOL, atol=ATOL)
        assert fast._fold_cache.weight is not cached
        state = _randomise_bn(copy.deepcopy(plain)).state_dict()
        plain.load_state_dict(state)
        fast.load_state_dict(state)
        torch.testing.assert_close(fast(x), plain(x), rtol=RTOL, atol=ATOL)


def test_efficient_eval_training_and_gradients() -> None:
    torch.manual_seed(0)
    plain = _randomise_bn(ConvModule(4, 8, 3, norm_cfg=dict(type="BN")))
    fast = copy.deepcopy(plain)
    fast.turn_on_efficient_conv_bn_eval()
    x = torch.randn(2, 4, 5, 5)
    # training mode: ordinary batch statistics, running stats updated alike
    torch.testing.assert_close(fast(x), plain(x))
    torch.testing.assert_close(fast.bn.running_mean, plain.bn.running_mean)
    # eval mode with grad (fine-tuning with frozen BN stats): same gradients, no stale cache
    plain.eval()
    fast.eval()
    for _ in range(2):
        for m in (plain, fast):
            m.zero_grad()
            m(x).square().sum().backward()
        assert fast._fold_cache.weight is None
        torch.testing.assert_close(fast.conv.weight.grad, plain.conv.weight.grad,
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(fast.bn.weight.grad, plain.bn.weight.grad,
                                   rtol=1e-4, atol=1e-5)


def test_efficient_eval_after_fuse_is_plain() -> None:
    block = _randomise_bn(ConvModule(3, 8, 3, norm_cfg=dict(type="BN"),
                                     efficient_conv_bn_eval=True)).eval()
    x = torch.randn(1, 3, 5, 5)
    ref = block(x)
    block.fuse()
    assert not block.efficient_conv_bn_eval and block._fast
    torch.testing.assert_close(block(x), ref, rtol=RTOL, atol=ATOL)


# -- SyncBatchNorm ---------------------------------------------------------------------------


def test_revert_sync_batchnorm_runs_on_cpu() -> None:
    torch.manual_seed(0)
    model = nn.Sequential(
        ConvModule(3, 8, 3, norm_cfg=dict(type="SyncBN")),
        ConvModule(8, 8, 3, norm_cfg=dict(type="SyncBN", affine=False)),
        nn.Sequential(nn.SyncBatchNorm(8, track_running_stats=False)),
    )
    _randomise_bn(model).eval()
    sync = model[0].bn
    sync.qconfig = "marker"
    params = (sync.weight, sync.bias, sync.running_mean, sync.running_var,
              sync.num_batches_tracked)
    reverted = revert_sync_batchnorm(model)
    assert reverted is model
    bn = model[0].bn
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in model.modules())
    assert isinstance(bn, _BatchNorm) and not bn.training and bn.qconfig == "marker"
    shared = (bn.weight, bn.bias, bn.running_mean, bn.running_var, bn.num_batches_tracked)
    assert all(a is b for a, b in zip(params, shared, strict=True))
    assert model[1].bn.weight is None and model[2][0].running_mean is None
    x = torch.randn(2, 3, 7, 7)
    with torch.no_grad():
        out = model(x)
    assert out.shape == (2, 8, 3, 3)
    # numerically a BatchNorm2d
    ref = nn.BatchNorm2d(8).eval()
    ref.load_state_dict(model[0].bn.state_dict())
    y = model[0].conv(x)
    torch.testing.assert_close(model[0].bn(y), ref(y))
    # any input dimension, train mode too
    bn.train()
    assert bn(torch.randn(4, 8)).shape == (4, 8)
    assert bn(torch.randn(2, 8, 3, 3, 3)).shape == (2, 8, 3, 3, 3)


def test_revert_root_and_fuse_after_revert() -> None:
    root = nn.SyncBatchNorm(4).train()
    new = revert_sync_batchnorm(root)
    assert new is not root and isinstance(new, _BatchNorm) and new.training
    assert new.weight is root.weight
    model = _randomise_bn(nn.Sequential(nn.Conv2d(3, 4, 3), nn.SyncBatchNorm(4))).eval()
    x = torch.randn(1, 3, 5, 5)
    ref = model(x)
    fuse_conv_bn(revert_sync_batchnorm(model))
    assert isinstance(model[1], nn.Identity)
    torch.testing.assert_close(model(x), ref, rtol=RTOL, atol=ATOL)


def test_convert_sync_batchnorm_round_trip() -> None:
    torch.manual_seed(0)
    model = _randomise_bn(nn.Sequential(ConvModule(3, 8, 3, norm_cfg=dict(type="BN")),
                                        nn.BatchNorm2d(8))).eval()
    x = torch.randn(2, 3, 6, 6)
    ref = model(x)
    weight = model[0].bn.weight
    synced = convert_sync_batchnorm(model)
    assert isinstance(synced[0].bn, nn.SyncBatchNorm) and isinstance(synced[1], nn.SyncBatchNorm)
    assert synced[0].bn.weight is weight
    back = revert_sync_batchnorm(synced)
    assert not any(isinstance(m, nn.SyncBatchNorm) for m in back.modules())
    torch.testing.assert_close(back(x), ref)
    assert isinstance(convert_sync_batchnorm(nn.BatchNorm1d(3)), nn.SyncBatchNorm)


def test_efficient_eval_cache_follows_dtype_moves_and_in_place_edits() -> None:
    """The folded-weight cache is dropped by .to()/.double() and by any in-place write."""
    from hydra_cnn import ConvModule

    torch.manual_seed(0)
    m = ConvModule(4, 4, 3, padding=1, norm_cfg=dict(type="BN"), efficient_conv_bn_eval=True)
    ref = ConvModule(4, 4, 3, padding=1, norm_cfg=dict(type="BN"))
    ref.load_state_dict(m.state_dict())
    m.eval()
    ref.eval()
    x = torch.randn(2, 4, 5, 5)
    with torch.no_grad():
        torch.testing.assert_close(m(x), ref(x))
        m.double()
        ref.double()
        torch.testing.assert_close(m(x.double()), ref(x.double()))
        m.bn.running_var.mul_(4.0)
        ref.bn.running_var.mul_(4.0)
        m.conv.weight.add_(0.5)
        ref.conv.weight.add_(0.5)
        torch.testing.assert_close(m(x.double()), ref(x.double()))
