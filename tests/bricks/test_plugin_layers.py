"""mmcv's plugin layers: ContextBlock (GCNet), NonLocal1d/2d/3d, GeneralizedAttention.

Outputs are checked against the papers' formulas, written out independently here (einsum over
the layers' own weights, or a loop over query/key pairs); state-dict keys against the names
mmcv 1.7 checkpoints use.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import hydra_cnn
from hydra_cnn import (
    PLUGIN_LAYERS,
    BaseModule,
    ContextBlock,
    GeneralizedAttention,
    NonLocal1d,
    NonLocal2d,
    NonLocal3d,
    build_plugin_layer,
)
from hydra_cnn.bricks.plugin import infer_plugin_abbr
from hydra_cnn.common import InvalidArgumentError, InvalidTypeError


def _randomize(module: nn.Module, seed: int = 0, scale: float = 0.3) -> None:
    """Replace every floating-point parameter with random values (so zero inits don't hide terms)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            if p.dtype.is_floating_point:
                p.copy_(torch.randn(p.shape, generator=gen) * scale)


def _conv1x1(conv: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 conv of any dimension, as a channel matmul."""
    w = conv.weight.reshape(conv.weight.shape[0], -1)
    out = torch.einsum("oc,nc...->no...", w, x)
    if conv.bias is not None:
        out = out + conv.bias.reshape(1, -1, *([1] * (x.dim() - 2)))
    return out


# -- registry, names, exports -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cfg", "postfix", "name", "cls"),
    [
        (dict(type="NonLocal2d", in_channels=4), "", "nonlocal_block", NonLocal2d),
        (dict(type="NonLocal1d", in_channels=4), 2, "nonlocal_block2", NonLocal1d),
        (dict(type="NonLocal3d", in_channels=4), "_a", "nonlocal_block_a", NonLocal3d),
        (dict(type="ContextBlock", in_channels=16, ratio=1 / 4), 1, "context_block1", ContextBlock),
        (dict(type="GeneralizedAttention", in_channels=16, num_heads=4), 3,
         "gen_attention_block3", GeneralizedAttention),
    ],
)
def test_build_plugin_layer_names(cfg: dict[str, Any], postfix: Any, name: str, cls: type) -> None:
    original = dict(cfg)
    got_name, layer = build_plugin_layer(cfg, postfix=postfix)
    assert got_name == name
    assert type(layer) is cls
    assert PLUGIN_LAYERS.get(cfg["type"]) is cls
    assert cfg == original  # the caller's config is not mutated


def test_abbreviations_and_exports() -> None:
    assert infer_plugin_abbr(ContextBlock) == "context_block"
    assert infer_plugin_abbr(GeneralizedAttention) == "gen_attention_block"
    for cls in (NonLocal1d, NonLocal2d, NonLocal3d):
        assert infer_plugin_abbr(cls) == "nonlocal_block"
    # the base class keeps mmcv's name, which downstream code imports
    from hydra_cnn.bricks.non_local import _NonLocalNd

    assert all(issubclass(c, _NonLocalNd) for c in (NonLocal1d, NonLocal2d, NonLocal3d))
    for name in ("ContextBlock", "GeneralizedAttention", "NonLocal1d", "NonLocal2d",
                 "NonLocal3d"):
        assert name in hydra_cnn.__all__


def test_build_plugin_layer_kwargs_and_bad_keys() -> None:
    _, block = build_plugin_layer(dict(type="NonLocal2d", in_channels=8), mode="dot_product")
    assert block.mode == "dot_product"
    with pytest.raises(TypeError, match=r"unexpected key 'ratoi'.*Did you mean 'ratio'"):
        build_plugin_layer(dict(type="ContextBlock", in_channels=16, ratoi=0.25))
    with pytest.raises(ValueError, match=r"'NonLocal2d' could not be built.*mode must be one of"):
        build_plugin_layer(dict(type="NonLocal2d", in_channels=8, mode="cosine"))


# -- state-dict keys (mmcv 1.7's names) ---------------------------------------------------------

_BRANCH = ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"]


@pytest.mark.parametrize(
    ("build", "keys"),
    [
        (lambda: ContextBlock(16, 1 / 4),
         ["conv_mask.weight", "conv_mask.bias", *(f"channel_add_conv.{k}" for k in _BRANCH)]),
        (lambda: ContextBlock(16, 1 / 4, pooling_type="avg",
                              fusion_types=("channel_add", "channel_mul")),
         [*(f"channel_add_conv.{k}" for k in _BRANCH), *(f"channel_mul_conv.{k}" for k in _BRANCH)]),
        (lambda: ContextBlock(16, 1 / 4, fusion_types=["channel_mul"]),
         ["conv_mask.weight", "conv_mask.bias", *(f"channel_mul_conv.{k}" for k in _BRANCH)]),
        (lambda: NonLocal2d(16),
         ["g.conv.weight", "g.conv.bias", "conv_out.conv.weight", "conv_out.conv.bias",
          "theta.conv.weight", "theta.conv.bias", "phi.conv.weight", "phi.conv.bias"]),
        (lambda: NonLocal2d(16, sub_sample=True, norm_cfg=dict(type="BN")),
         ["g.0.conv.weight", "g.0.conv.bias", "conv_out.conv.weight", "conv_out.bn.weight",
          "conv_out.bn.bias", "conv_out.bn.running_mean", "conv_out.bn.running_var",
          "conv_out.bn.num_batches_tracked", "theta.conv.weight", "theta.conv.bias",
          "phi.0.conv.weight", "phi.0.conv.bias"]),
        (lambda: NonLocal3d(16, sub_sample=True, mode="gaussian"),
         ["g.0.conv.weight", "g.0.conv.bias", "conv_out.conv.weight", "conv_out.conv.bias"]),
        (lambda: NonLocal1d(16, mode="concatenation"),
         ["g.conv.weight", "g.conv.bias", "conv_out.conv.weight", "conv_out.conv.bias",
          "theta.conv.weight", "theta.conv.bias", "phi.conv.weight", "phi.conv.bias",
          "concat_project.conv.weight"]),
        (lambda: GeneralizedAttention(16, num_heads=4),
         # a module's own parameters come first in a state dict, then its children's
         ["appr_bias", "geom_bias", "gamma", "query_conv.weight", "key_conv.weight",
          "value_conv.weight", "appr_geom_fc_x.weight", "appr_geom_fc_y.weight",
          "proj_conv.weight", "proj_conv.bias"]),
        (lambda: GeneralizedAttention(16, num_heads=4, attention_type="0010"),
         ["appr_bias", "gamma", "key_conv.weight", "value_conv.weight", "proj_conv.weight",
          "proj_conv.bias"]),
        (lambda: GeneralizedAttention(16, num_heads=4, attention_type="0100"),
         ["gamma", "query_conv.weight", "value_conv.weight", "appr_geom_fc_x.weight",
          "appr_geom_fc_y.weight", "proj_conv.weight", "proj_conv.bias"]),
        (lambda: GeneralizedAttention(256, spatial_range=3, num_heads=8, attention_type="1000"),
         ["gamma", "local_constraint_map", "query_conv.weight", "key_conv.weight",
          "value_conv.weight", "proj_conv.weight", "proj_conv.bias"]),
    ],
)
def test_state_dict_keys_are_mmcvs(build: Callable[[], nn.Module], keys: list[str]) -> None:
    assert list(build().state_dict()) == keys


def test_state_dict_shapes() -> None:
    cb = ContextBlock(64, 1 / 16).state_dict()
    assert cb["conv_mask.weight"].shape == (1, 64, 1, 1)
    assert cb["channel_add_conv.0.weight"].shape == (4, 64, 1, 1)
    assert cb["channel_add_conv.1.weight"].shape == (4, 1, 1)  # LayerNorm([planes, 1, 1])
    assert cb["channel_add_conv.3.weight"].shape == (64, 4, 1, 1)

    nl = NonLocal3d(9, reduction=4, mode="concatenation").state_dict()
    assert nl["g.conv.weight"].shape == (2, 9, 1, 1, 1)  # inter = 9 // 4
    assert nl["conv_out.conv.weight"].shape == (9, 2, 1, 1, 1)
    assert nl["concat_project.conv.weight"].shape == (1, 4, 1, 1)  # always a 2d conv
    assert NonLocal2d(3, reduction=8).inter_channels == 1  # max(3 // 8, 1)

    ga = GeneralizedAttention(512, spatial_range=1, num_heads=8, kv_stride=2).state_dict()
    assert ga["query_conv.weight"].shape == (512, 512, 1, 1)
    assert ga["appr_geom_fc_x.weight"].shape == (512, 256)  # position_embedding_dim // 2 in
    assert ga["appr_bias"].shape == ga["geom_bias"].shape == (512,)
    assert ga["local_constraint_map"].shape == (42, 42, 21, 21)
    assert ga["local_constraint_map"].dtype == torch.uint8
    ga = GeneralizedAttention(20, num_heads=3, position_embedding_dim=8).state_dict()
    assert ga["query_conv.weight"].shape == (18, 20, 1, 1)  # 3 heads of 20 // 3 channels
    assert ga["appr_geom_fc_y.weight"].shape == (18, 4)
    assert ga["proj_conv.weight"].shape == (20, 18, 1, 1)


def test_a_checkpoint_with_mmcv_keys_loads_strictly() -> None:
    source = NonLocal2d(8, sub_sample=True, norm_cfg=dict(type="BN"))
    _randomize(source)
    target = NonLocal2d(8, sub_sample=True, norm_cfg=dict(type="BN"))
    target.load_state_dict(source.state_dict(), strict=True)
    x = torch.randn(1, 8, 6, 6)
    source.eval()
    target.eval()
    torch.testing.assert_close(target(x), source(x))


# -- default init -------------------------------------------------------------------------------


def test_context_block_init() -> None:
    torch.manual_seed(0)
    block = ContextBlock(4096, 1 / 256, fusion_types=("channel_add", "channel_mul"))
    # conv_mask: kaiming normal, fan_in = 4096, gain sqrt(2); bias 0
    std = block.conv_mask.weight.std().item()
    assert std == pytest.approx(math.sqrt(2 / 4096), rel=0.1)
    assert torch.count_nonzero(block.conv_mask.bias) == 0
    assert block.conv_mask.inited is True
    for branch in (block.channel_add_conv, block.channel_mul_conv):
        assert branch is not None
        assert torch.count_nonzero(branch[3].weight) == 0 and torch.count_nonzero(branch[3].bias) == 0
        assert torch.count_nonzero(branch[0].weight) > 0  # the first conv keeps PyTorch's init
    # mul by sigmoid(0) halves, add of 0 keeps: the block starts as x * 0.5 with both fusions
    x = torch.randn(2, 4096, 2, 2)
    torch.testing.assert_close(block(x), x * 0.5)
    add_only = ContextBlock(16, 0.25)
    torch.testing.assert_close(add_only(x[:, :16]), x[:, :16])


def test_non_local_init() -> None:
    torch.manual_seed(0)
    block = NonLocal2d(256)  # inter = 128: 32768 weights per conv
    for child in (block.g, block.theta, block.phi):
        assert child.conv.weight.std().item() == pytest.approx(0.01, rel=0.05)
        assert torch.count_nonzero(child.conv.bias) == 0
    assert torch.count_nonzero(block.conv_out.conv.weight) == 0
    assert torch.count_nonzero(block.conv_out.conv.bias) == 0
    x = torch.randn(1, 256, 3, 3)
    torch.testing.assert_close(block(x), x)  # zeros_init: starts as the identity

    wide = NonLocal2d(256, std=0.05, zeros_init=False, sub_sample=True)
    assert wide.g[0].conv.weight.std().item() == pytest.approx(0.05, rel=0.05)
    assert wide.conv_out.conv.weight.std().item() == pytest.approx(0.05, rel=0.05)
    assert torch.count_nonzero(wide.conv_out.conv.bias) == 0
    # a later init_weights() keeps the std given at construction (mmcv would use 0.01)
    wide.init_weights()
    assert wide.phi[0].conv.weight.std().item() == pytest.approx(0.05, rel=0.05)
    wide.init_weights(std=0.2)
    assert wide.theta.conv.weight.std().item() == pytest.approx(0.2, rel=0.05)

    normed = NonLocal2d(16, norm_cfg=dict(type="BN"))
    assert torch.count_nonzero(normed.conv_out.bn.weight) == 0
    assert torch.count_nonzero(normed.conv_out.bn.bias) == 0
    assert normed.conv_out.conv.bias is None
    assert torch.count_nonzero(normed.conv_out.conv.weight) > 0

    gaussian = NonLocal1d(256, mode="gaussian")
    assert gaussian.g.conv.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert not hasattr(gaussian, "theta") and not hasattr(gaussian, "phi")


def test_generalized_attention_init() -> None:
    torch.manual_seed(0)
    block = GeneralizedAttention(256, num_heads=8)
    assert torch.count_nonzero(block.gamma) == 0
    x = torch.randn(1, 256, 5, 5)
    torch.testing.assert_close(block(x), x)  # gamma = 0: the identity
    bound = 1 / math.sqrt(2 * 32)  # qk_embed_dim = 256 // 8
    for bias in (block.appr_bias, block.geom_bias):
        assert bias.abs().max().item() <= bound
        assert bias.min().item() < -bound / 2 and bias.max().item() > bound / 2
    # kaiming uniform, a=1, leaky_relu, fan_in: U(-sqrt(3 / fan_in), sqrt(3 / fan_in))
    for layer, fan_in in ((block.query_conv, 256), (block.key_conv, 256),
                          (block.value_conv, 256), (block.proj_conv, 256),
                          (block.appr_geom_fc_x, 128), (block.appr_geom_fc_y, 128)):
        limit = math.sqrt(3 / fan_in)
        assert layer.weight.abs().max().item() <= limit
        assert layer.weight.std().item() == pytest.approx(limit / math.sqrt(3), rel=0.05)
    assert torch.count_nonzero(block.proj_conv.bias) == 0


def test_default_inits_do_not_undo_a_parents_init_cfg() -> None:
    class Net(BaseModule):
        def __init__(self) -> None:
            super().__init__(init_cfg=dict(type="Constant", val=0.5, layer="Conv2d"))
            self.context = ContextBlock(8, 0.5)
            self.non_local = NonLocal2d(8)
            self.attention = GeneralizedAttention(8, num_heads=2)

    net = Net()
    net.init_weights()
    assert torch.all(net.context.conv_mask.weight == 0.5)
    assert torch.all(net.context.channel_add_conv[3].weight == 0.5)
    assert torch.all(net.non_local.g.conv.weight == 0.5)
    assert torch.all(net.non_local.conv_out.conv.weight == 0.5)
    assert torch.all(net.attention.query_conv.weight == 0.5)


# -- ContextBlock forward: GCNet's formula -------------------------------------------------------


def _bottleneck_ref(branch: nn.Sequential, context: torch.Tensor) -> torch.Tensor:
    conv1, norm, _, conv2 = branch
    t = _conv1x1(conv1, context)  # (N, planes, 1, 1)
    mean = t.mean(dim=(1, 2, 3), keepdim=True)
    var = t.var(dim=(1, 2, 3), unbiased=False, keepdim=True)
    t = (t - mean) / torch.sqrt(var + norm.eps) * norm.weight + norm.bias
    return _conv1x1(conv2, torch.relu(t))


@pytest.mark.parametrize("pooling_type", ["att", "avg"])
@pytest.mark.parametrize(
    "fusion_types", [("channel_add",), ("channel_mul",), ("channel_add", "channel_mul")]
)
def test_context_block_matches_gcnet(pooling_type: str, fusion_types: tuple[str, ...]) -> None:
    block = ContextBlock(6, 0.5, pooling_type=pooling_type, fusion_types=fusion_types)
    _randomize(block, seed=1)
    x = torch.randn(2, 6, 4, 5)
    if pooling_type == "att":
        logits = _conv1x1(block.conv_mask, x).flatten(2)  # (N, 1, HW)
        weights = torch.softmax(logits, dim=-1)
        context = torch.einsum("nck,nk->nc", x.flatten(2), weights[:, 0])[..., None, None]
    else:
        context = x.mean(dim=(2, 3), keepdim=True)
    expected = x
    if "channel_mul" in fusion_types:
        assert block.channel_mul_conv is not None
        expected = expected * torch.sigmoid(_bottleneck_ref(block.channel_mul_conv, context))
    if "channel_add" in fusion_types:
        assert block.channel_add_conv is not None
        expected = expected + _bottleneck_ref(block.channel_add_conv, context)
    torch.testing.assert_close(block(x), expected, rtol=1e-5, atol=1e-5)


# -- Non-local forward: the four pairwise functions ----------------------------------------------


def _non_local_ref(block: Any, x: torch.Tensor) -> torch.Tensor:
    """y_i = sum_j f(x_i, x_j) g(x_j) / C(x), then x + W_z y (Wang et al., eq. 1-6)."""
    n = x.shape[0]
    pool = {3: lambda t: F.max_pool1d(t, 2), 4: lambda t: F.max_pool2d(t, 2),
            5: lambda t: F.max_pool3d(t, (1, 2, 2))}[x.dim()]
    sub = block.sub_sample

    def conv_of(child: nn.Module) -> nn.Module:
        return (child[0] if isinstance(child, nn.Sequential) else child).conv

    g = _conv1x1(conv_of(block.g), x)
    g = (pool(g) if sub else g).flatten(2)  # (N, C', M)
    if block.mode == "gaussian":
        theta = x.flatten(2)
        phi = (pool(x) if sub else x).flatten(2)
    else:
        theta = _conv1x1(block.theta.conv, x).flatten(2)  # (N, C', L)
        phi = _conv1x1(conv_of(block.phi), x)
        phi = (pool(phi) if sub else phi).flatten(2)  # (N, C', M)
    m = phi.shape[-1]
    if block.mode == "concatenation":
        proj = block.concat_project.conv.weight.flatten()  # (2C',)
        half = theta.shape[1]
        f = torch.relu(torch.einsum("c,ncl->nl", proj[:half], theta)[:, :, None]
                       + torch.einsum("c,ncm->nm", proj[half:], phi)[:, None, :]) / m
    else:
        dots = torch.einsum("ncl,ncm->nlm", theta, phi)
        if block.mode == "dot_product":
            f = dots / m
        elif block.mode == "embedded_gaussian" and block.use_scale:
            f = torch.softmax(dots / math.sqrt(theta.shape[1]), dim=-1)
        else:
            f = torch.softmax(dots, dim=-1)
    y = torch.einsum("nlm,ncm->ncl", f, g).reshape(n, -1, *x.shape[2:])
    z = _conv1x1(block.conv_out.conv, y)
    if block.conv_out.norm is not None:
        bn = block.conv_out.norm
        z = F.batch_norm(z, bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps)
    return x + z


@pytest.mark.parametrize("mode", ["gaussian", "embedded_gaussian", "dot_product", "concatenation"])
@pytest.mark.parametrize("sub_sample", [False, True])
@pytest.mark.parametrize("use_scale", [True, False])
def test_non_local_2d_matches_the_paper(mode: str, sub_sample: bool, use_scale: bool) -> None:
    block = NonLocal2d(6, sub_sample=sub_sample, mode=mode, use_scale=use_scale)
    _randomize(block, seed=2)
    x = torch.randn(2, 6, 4, 6)
    torch.testing.assert_close(block(x), _non_local_ref(block, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("cls", "shape"), [(NonLocal1d, (2, 6, 8)), (NonLocal3d, (1, 6, 3, 4, 6))]
)
@pytest.mark.parametrize("mode", ["gaussian", "embedded_gaussian", "dot_product", "concatenation"])
def test_non_local_1d_3d_match_the_paper(cls: type, shape: tuple[int, ...], mode: str) -> None:
    for sub_sample in (False, True):
        block = cls(6, sub_sample=sub_sample, mode=mode, reduction=3)
        _randomize(block, seed=3)
        x = torch.randn(shape)
        torch.testing.assert_close(block(x), _non_local_ref(block, x), rtol=1e-5, atol=1e-5)


def test_non_local_with_norm_matches_the_paper() -> None:
    block = NonLocal2d(6, norm_cfg=dict(type="BN"), zeros_init=False).eval()
    _randomize(block, seed=4)
    x = torch.randn(2, 6, 3, 3)
    torch.testing.assert_close(block(x), _non_local_ref(block, x), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(
    ("cls", "shape"),
    [(NonLocal1d, (2, 8, 7)), (NonLocal2d, (2, 8, 7, 5)), (NonLocal3d, (2, 8, 3, 7, 5))],
)
@pytest.mark.parametrize("mode", ["gaussian", "embedded_gaussian", "dot_product", "concatenation"])
@pytest.mark.parametrize("sub_sample", [False, True])
def test_non_local_output_shapes(cls: type, shape: tuple[int, ...], mode: str,
                                 sub_sample: bool) -> None:
    block = cls(8, sub_sample=sub_sample, mode=mode)
    assert block(torch.randn(shape)).shape == shape
    if sub_sample:  # keys and values are pooled by 2 over the spatial axes (3d: not over T)
        pooled = block.g(torch.randn(shape)).shape
        expected = {3: (2, 4, 3), 4: (2, 4, 3, 2), 5: (2, 4, 3, 3, 2)}[len(shape)]
        assert pooled == expected


# -- GeneralizedAttention forward: the four energy terms ----------------------------------------


def _sinusoid(d: float, dim: int) -> torch.Tensor:
    """[sin(d / 1000^(4k/dim)), cos(...)] for k < dim / 4: the paper's offset embedding."""
    freqs = torch.tensor([1000.0 ** (4 * k / dim) for k in range(dim // 4)])
    return torch.cat([torch.sin(d / freqs), torch.cos(d / freqs)])


def _attention_ref(block: Any, x: torch.Tensor) -> torch.Tensor:
    """Loop over query/key pairs: E_ij = sum of the enabled terms; softmax over j; gamma*out + x."""
    bits = block.attention_type
    heads, dim = block.num_heads, block.qk_embed_dim
    qs, ks, mag = block.q_stride, block.kv_stride, block.position_magnitude
    n = x.shape[0]
    xq, xk = x[:, :, ::qs, ::qs], x[:, :, ::ks, ::ks]
    h, w = xq.shape[2:]
    hk, wk = xk.shape[2:]
    q = _conv1x1(block.query_conv, xq) if bits[0] or bits[1] else None
    k = _conv1x1(block.key_conv, xk) if bits[0] or bits[2] else None
    v = _conv1x1(block.value_conv, xk)
    out = torch.zeros(n, heads * dim, h, w)
    for b in range(n):
        for y in range(h):
            for xx in range(w):
                energies = []
                for ky in range(hk):
                    for kx in range(wk):
                        e = torch.zeros(heads)
                        if bits[1] or bits[3]:
                            ex = _sinusoid((xx * qs - kx * ks) * mag, block.position_embedding_dim)
                            ey = _sinusoid((y * qs - ky * ks) * mag, block.position_embedding_dim)
                            r = (block.appr_geom_fc_x.weight @ ex
                                 + block.appr_geom_fc_y.weight @ ey) / math.sqrt(2)
                        for m in range(heads):
                            sl = slice(m * dim, (m + 1) * dim)
                            if bits[0]:
                                e[m] += q[b, sl, y, xx] @ k[b, sl, ky, kx]
                            if bits[1]:
                                e[m] += q[b, sl, y, xx] @ r[sl]
                            if bits[2]:
                                e[m] += block.appr_bias[sl] @ k[b, sl, ky, kx]
                            if bits[3]:
                                e[m] += block.geom_bias[sl] @ r[sl]
                        energies.append(e)
                attn = torch.softmax(torch.stack(energies), dim=0)  # (keys, heads)
                values = v[b].reshape(heads, dim, hk * wk)
                out[b, :, y, xx] = torch.einsum("jm,mdj->md", attn, values).reshape(-1)
    proj = _conv1x1(block.proj_conv, out)
    if qs > 1:
        proj = F.interpolate(proj, size=x.shape[2:], mode="bilinear", align_corners=False)
    return block.gamma * proj + x


@pytest.mark.parametrize("attention_type", [f"{i:04b}" for i in range(16)])
def test_generalized_attention_matches_the_paper(attention_type: str) -> None:
    block = GeneralizedAttention(8, num_heads=2, kv_stride=2, position_magnitude=2,
                                 attention_type=attention_type)
    _randomize(block, seed=5, scale=0.5)
    x = torch.randn(1, 8, 3, 4)
    with torch.no_grad():
        torch.testing.assert_close(block(x), _attention_ref(block, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attention_type", ["1111", "0101", "0010"])
def test_generalized_attention_strided_queries(attention_type: str) -> None:
    block = GeneralizedAttention(8, num_heads=2, q_stride=2, kv_stride=1,
                                 position_embedding_dim=12, attention_type=attention_type)
    _randomize(block, seed=6, scale=0.5)
    x = torch.randn(2, 8, 5, 4)
    with torch.no_grad():
        torch.testing.assert_close(block(x), _attention_ref(block, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("attention_type", ["1000", "0100", "0010", "0001", "1111", "1010"])
def test_generalized_attention_bits_choose_parameters(attention_type: str) -> None:
    block = GeneralizedAttention(16, num_heads=4, attention_type=attention_type)
    bits = [c == "1" for c in attention_type]
    assert block.attention_type == bits
    assert hasattr(block, "query_conv") == (bits[0] or bits[1])
    assert hasattr(block, "key_conv") == (bits[0] or bits[2])
    assert hasattr(block, "appr_geom_fc_x") == hasattr(block, "appr_geom_fc_y") == (bits[1] or bits[3])
    assert hasattr(block, "appr_bias") == bits[2]
    assert hasattr(block, "geom_bias") == bits[3]
    with torch.no_grad():
        block.gamma.fill_(1.0)
    x = torch.randn(2, 16, 6, 7)
    assert block(x).shape == x.shape


def test_generalized_attention_spatial_range_masks_far_keys() -> None:
    r, stride = 2, 2
    block = GeneralizedAttention(256, spatial_range=r, num_heads=8, kv_stride=stride,
                                 attention_type="1000")
    cmap = block.local_constraint_map
    assert cmap.shape == (84, 84, 42, 42) and not cmap.requires_grad
    # 0 (allowed) for key rows/cols floor((i - r) / s) .. floor((i + r + 1) / s), else 1
    for iy, ix in ((0, 0), (10, 3), (83, 40)):
        for ky in range(42):
            for kx in range(42):
                inside = (max((iy - r) // stride, 0) <= ky <= (iy + r + 1) // stride
                          and max((ix - r) // stride, 0) <= kx <= (ix + r + 1) // stride)
                assert cmap[iy, ix, ky, kx].item() == (0 if inside else 1)

    # the output at a query ignores keys outside its window
    local = GeneralizedAttention(256, spatial_range=0, num_heads=8, kv_stride=1,
                                 attention_type="1000")
    _randomize(local, seed=7, scale=0.05)
    x = torch.randn(1, 256, 8, 8)
    far = x.clone()
    far[:, :, 6:, 6:] += 1.0
    with torch.no_grad():
        a, b = local(x), local(far)
    torch.testing.assert_close(a[:, :, :3, :3], b[:, :, :3, :3])
    assert not torch.allclose(a[:, :, 6:, 6:], b[:, :, 6:, 6:])
    with pytest.raises(ValueError, match=r"query maps up to 84x84 .* got 85x4"):
        local(torch.randn(1, 256, 85, 4))


# -- meta device, to_empty ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "shape"),
    [
        (lambda: ContextBlock(16, 0.25, fusion_types=("channel_add", "channel_mul")), (2, 16, 5, 5)),
        (lambda: NonLocal2d(8, sub_sample=True, norm_cfg=dict(type="BN")), (2, 8, 6, 6)),
        (lambda: NonLocal1d(8, mode="concatenation"), (2, 8, 6)),
        (lambda: NonLocal3d(8, mode="gaussian", sub_sample=True), (1, 8, 2, 4, 4)),
        (lambda: GeneralizedAttention(256, spatial_range=2, num_heads=8, q_stride=2), (1, 256, 6, 6)),
    ],
)
def test_builds_under_the_meta_device(build: Callable[[], nn.Module], shape: tuple[int, ...]) -> None:
    with torch.device("meta"):
        block = build()
        out = block(torch.empty(shape))
    assert {t.device.type for t in block.state_dict().values()} == {"meta"}
    assert out.shape == shape and out.device.type == "meta"


def test_generalized_attention_reset_after_to_empty() -> None:
    reference = GeneralizedAttention(256, spatial_range=1, num_heads=8, kv_stride=1)
    with torch.device("meta"):
        block = GeneralizedAttention(256, spatial_range=1, num_heads=8, kv_stride=1)
    block.to_empty(device="cpu")
    block.reset_parameters()
    assert torch.equal(block.local_constraint_map, reference.local_constraint_map)
    assert torch.count_nonzero(block.gamma) == 0
    bound = 1 / math.sqrt(2 * 32)
    assert block.appr_bias.abs().max().item() <= bound
    assert block.query_conv.weight.abs().max().item() <= math.sqrt(3 / 256)


# -- bad arguments ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "exc", "match"),
    [
        (lambda: ContextBlock(0, 0.25), InvalidArgumentError, r"in_channels must be >= 1, but got 0"),
        (lambda: ContextBlock(16, 0), InvalidArgumentError,
         r"ratio must be a finite number in \(0, 1\], but got 0"),
        (lambda: ContextBlock(16, 2.0), InvalidArgumentError, r"ratio .* but got 2.0"),
        (lambda: ContextBlock(16, float("nan")), InvalidArgumentError, r"ratio .* got nan"),
        (lambda: ContextBlock(16, 1 / 32), InvalidArgumentError,
         r"int\(16 \* 0.03125\) has no channels; use ratio >= 0.0625"),
        (lambda: ContextBlock(16, 0.25, pooling_type="max"), InvalidArgumentError,
         r"pooling_type must be one of 'att', 'avg', but got 'max'"),
        (lambda: ContextBlock(16, 0.25, fusion_types="channel_add"), InvalidTypeError,
         r"fusion_types must be a list or tuple"),
        (lambda: ContextBlock(16, 0.25, fusion_types=()), InvalidArgumentError,
         r"at least one fusion"),
        (lambda: ContextBlock(16, 0.25, fusion_types=("channel_sum",)), InvalidArgumentError,
         r"each fusion_types entry must be one of 'channel_add', 'channel_mul', but got 'channel_sum'"),
        (lambda: NonLocal2d(True), InvalidTypeError, r"in_channels must be an int, but got True"),
        (lambda: NonLocal2d(16, mode="cosine"), InvalidArgumentError,
         r"mode must be one of 'gaussian', 'embedded_gaussian', 'dot_product', 'concatenation'"),
        (lambda: NonLocal2d(16, reduction=0), InvalidArgumentError, r"reduction must be >= 1"),
        (lambda: NonLocal3d(16, sub_sample="yes"), InvalidTypeError,
         r"NonLocal3d: sub_sample must be True or False, but got 'yes'"),
        (lambda: NonLocal1d(16, std=-0.1), InvalidArgumentError, r"std must be a finite number in \[0"),
        (lambda: NonLocal2d(16, use_scale=1), InvalidTypeError, r"use_scale must be True or False"),
        (lambda: GeneralizedAttention(16, attention_type="11"), InvalidArgumentError,
         r"four 0/1 bits .* but got '11'"),
        (lambda: GeneralizedAttention(16, attention_type=1111), InvalidTypeError,
         r"attention_type must be a string"),
        (lambda: GeneralizedAttention(16, num_heads=32), InvalidArgumentError,
         r"no channels per head with num_heads=32"),
        (lambda: GeneralizedAttention(18), InvalidArgumentError,
         r"multiple of 4, but position_embedding_dim resolves to 18 \(in_channels\)"),
        (lambda: GeneralizedAttention(64, spatial_range=2), InvalidArgumentError,
         r"spatial_range=2 needs in_channels 256 or 512"),
        (lambda: GeneralizedAttention(16, num_heads=4, kv_stride=0), InvalidArgumentError,
         r"kv_stride must be >= 1"),
        (lambda: GeneralizedAttention(16, num_heads=4, position_magnitude="big"), InvalidTypeError,
         r"position_magnitude must be a number"),
    ],
)
def test_bad_arguments(build: Callable[[], Any], exc: type[Exception], match: str) -> None:
    with pytest.raises(exc, match=match) as info:
        build()
    assert isinstance(info.value, AssertionError)  # mmcv asserts in these places


def test_wrong_input_channels() -> None:
    with pytest.raises(ValueError, match=r"ContextBlock expects an \(N, 16, H, W\) input"):
        ContextBlock(16, 0.25)(torch.randn(1, 8, 4, 4))
    with pytest.raises(ValueError, match=r"NonLocal2d expects 16 input channels"):
        NonLocal2d(16)(torch.randn(1, 8, 4, 4))
    with pytest.raises(ValueError, match=r"GeneralizedAttention expects an \(N, 16, H, W\)"):
        GeneralizedAttention(16, num_heads=4)(torch.randn(1, 16, 4))


# -- fuzzed arguments (only documented errors) ---------------------------------------------------

_FUZZ_BASE: dict[str, tuple[dict[str, Any], tuple[str, ...], tuple[int, ...]]] = {
    "ContextBlock": (dict(in_channels=8, ratio=0.5),
                     ("in_channels", "ratio", "pooling_type", "fusion_types"), (1, 4, 4)),
    "NonLocal2d": (dict(in_channels=8),
                   ("in_channels", "sub_sample", "reduction", "use_scale", "mode", "std",
                    "zeros_init"), (1, 4, 4)),
    "NonLocal1d": (dict(in_channels=8), ("in_channels", "reduction", "mode", "std"), (1, 6)),
    "GeneralizedAttention": (dict(in_channels=16, num_heads=4),
                             ("in_channels", "spatial_range", "num_heads", "position_embedding_dim",
                              "position_magnitude", "kv_stride", "q_stride", "attention_type"),
                             (1, 5, 6)),
}


def test_fuzzed_arguments_raise_documented_errors_naming_the_field() -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    values = st.one_of(
        st.none(), st.booleans(), st.integers(-4, 64), st.floats(allow_nan=True, width=32),
        st.text(max_size=6), st.lists(st.sampled_from(["channel_add", "channel_mul", "x"]), max_size=3),
        st.sampled_from(["att", "avg", "gaussian", "dot_product", "concatenation", "0101", "1111"]),
    )

    @settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        type_name = data.draw(st.sampled_from(sorted(_FUZZ_BASE)))
        base, fields, spatial = _FUZZ_BASE[type_name]
        field = data.draw(st.sampled_from(fields))
        value = data.draw(values)
        cfg = {"type": type_name, **base, field: value}
        try:
            _, layer = build_plugin_layer(cfg)
        except (TypeError, KeyError, ValueError) as exc:
            # the builder's message lists every argument; the layer's own error names the field
            cause = exc.__cause__ if exc.__cause__ is not None else exc
            assert field in str(cause), (cfg, cause)
            return
        x = torch.randn(spatial[0], layer.in_channels, *spatial[1:])
        with torch.no_grad():
            assert layer(x).shape == x.shape

    check()
