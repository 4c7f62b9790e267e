"""Transformer bricks: mmcv 1.7's arguments, deprecated names, state-dict keys and behaviour."""

from __future__ import annotations

import copy
import warnings
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from torch import nn

import hydra_cnn
from hydra_cnn import configs
from hydra_cnn.bricks.transformer import (
    FFN,
    AdaptivePadding,
    BaseTransformerLayer,
    MultiheadAttention,
    PatchEmbed,
    PatchMerging,
    TransformerLayerSequence,
)
from hydra_cnn.registry import (
    ATTENTION,
    FEEDFORWARD_NETWORK,
    POSITIONAL_ENCODING,
    TRANSFORMER_LAYER,
    TRANSFORMER_LAYER_SEQUENCE,
)

D = 8
POST = ("self_attn", "norm", "ffn", "norm")
PRE = ("norm", "self_attn", "norm", "ffn")


def _mha(**kw: object) -> dict[str, object]:
    return {"type": "MultiheadAttention", "embed_dims": D, "num_heads": 2, **kw}


def _ffn(**kw: object) -> dict[str, object]:
    return {"type": "FFN", "embed_dims": D, "feedforward_channels": 16, **kw}


def _layer(order: tuple[str, ...] = POST, **kw: object) -> BaseTransformerLayer:
    torch.manual_seed(0)
    return BaseTransformerLayer(attn_cfgs=_mha(), ffn_cfgs=_ffn(), operation_order=order, **kw)


# -- registries and builders --------------------------------------------------------------------
def test_registries_hold_mmcvs_names_and_members() -> None:
    assert ATTENTION.name == "attention" and ATTENTION.get("MultiheadAttention") is MultiheadAttention
    assert FEEDFORWARD_NETWORK.name == "feed-forward Network" and FEEDFORWARD_NETWORK.get("FFN") is FFN
    assert TRANSFORMER_LAYER.get("BaseTransformerLayer") is BaseTransformerLayer
    assert TRANSFORMER_LAYER_SEQUENCE.get("TransformerLayerSequence") is TransformerLayerSequence
    assert POSITIONAL_ENCODING.name == "position encoding"
    assert not any(POSITIONAL_ENCODING.is_builtin(n) for n in POSITIONAL_ENCODING)  # as mmcv 1.7
    assert hydra_cnn.ATTENTION is ATTENTION  # exported as mmcv.cnn does


def test_builders_build_each_family() -> None:
    assert isinstance(hydra_cnn.build_attention(_mha()), MultiheadAttention)
    ffn = hydra_cnn.build_feedforward_network(dict(feedforward_channels=16), dict(type="FFN",
                                                                                  embed_dims=D))
    assert isinstance(ffn, FFN) and ffn.embed_dims == D
    layer = hydra_cnn.build_transformer_layer(
        dict(type="BaseTransformerLayer", attn_cfgs=_mha(), ffn_cfgs=_ffn(), operation_order=POST))
    seq = hydra_cnn.build_transformer_layer_sequence(
        dict(type="TransformerLayerSequence", num_layers=2,
             transformerlayers=dict(type="BaseTransformerLayer", attn_cfgs=_mha(),
                                    ffn_cfgs=_ffn(), operation_order=POST)))
    assert isinstance(layer, BaseTransformerLayer) and len(seq.layers) == 2
    with pytest.raises(KeyError, match="position encoding"):
        hydra_cnn.build_positional_encoding(dict(type="SinePositionalEncoding"))
    with pytest.raises(KeyError, match="MultiheadAttention"):
        hydra_cnn.build_attention(dict(type="MultiHeadAttention", embed_dims=D, num_heads=2))


def test_constructor_errors_keep_mmcvs_exception_classes() -> None:
    with pytest.raises(TypeError, match="MultiheadAttention"):
        hydra_cnn.build_attention(dict(type="MultiheadAttention", embed_dims=D))  # no num_heads
    with pytest.raises(AssertionError, match="divisible"):
        MultiheadAttention(D, 3)
    with pytest.raises(AssertionError, match="num_fcs should be no less than 2"):
        FFN(D, 16, num_fcs=1)


# -- MultiheadAttention -------------------------------------------------------------------------
def test_mha_is_torch_attention_plus_identity() -> None:
    torch.manual_seed(0)
    mha = MultiheadAttention(D, 2)
    ref = nn.MultiheadAttention(D, 2)
    ref.load_state_dict(mha.attn.state_dict())
    q, k = torch.randn(5, 3, D), torch.randn(7, 3, D)
    mask = torch.rand(5, 7) > 0.7
    pad = torch.zeros(3, 7, dtype=torch.bool)
    pad[0, -2:] = True
    out = mha(q, k, attn_mask=mask, key_padding_mask=pad)
    expected = q + ref(q, k, k, attn_mask=mask, key_padding_mask=pad)[0]
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(mha(q), q + ref(q, q, q)[0])  # key and value default to query


def test_mha_batch_first_is_the_transposed_computation() -> None:
    torch.manual_seed(0)
    seq, bf = MultiheadAttention(D, 2), MultiheadAttention(D, 2, batch_first=True)
    bf.load_state_dict(seq.state_dict())
    q = torch.randn(4, 6, D)  # (batch, n, C)
    torch.testing.assert_close(bf(q), seq(q.transpose(0, 1)).transpose(0, 1))
    assert bf.attn.batch_first is False  # mmcv transposes itself


def test_mha_positional_encodings() -> None:
    torch.manual_seed(0)
    mha = MultiheadAttention(D, 2)
    q, pos = torch.randn(5, 2, D), torch.randn(5, 2, D)
    # query_pos goes to the query and (same shape) the key, never to the value or the identity
    out = mha(q, query_pos=pos)
    expected = q + mha.attn(q + pos, q + pos, q)[0]
    torch.testing.assert_close(out, expected)
    k = torch.randn(7, 2, D)
    with pytest.warns(UserWarning, match="position encoding of key is missing"):
        mixed = mha(q, k, query_pos=pos)
    torch.testing.assert_close(mixed, q + mha.attn(q + pos, k, k)[0])
    kpos = torch.randn(7, 2, D)
    torch.testing.assert_close(mha(q, k, query_pos=pos, key_pos=kpos),
                               q + mha.attn(q + pos, k + kpos, k)[0])


def test_mha_state_dict_keys() -> None:
    assert sorted(MultiheadAttention(D, 2).state_dict()) == [
        "attn.in_proj_bias", "attn.in_proj_weight", "attn.out_proj.bias", "attn.out_proj.weight"]
    assert sorted(MultiheadAttention(D, 2, bias=False).state_dict()) == [
        "attn.in_proj_weight", "attn.out_proj.weight"]  # kwargs go to torch's attention


def test_mha_deprecated_dropout_sets_both_dropouts_and_leaks_nowhere() -> None:
    with pytest.warns(DeprecationWarning, match="dropout"):
        old = MultiheadAttention(D, 2, dropout=0.3)
    assert old.attn.dropout == 0.3 and old.dropout_layer.p == 0.3 and old.proj_drop.p == 0.0
    assert MultiheadAttention(D, 2).dropout_layer.p == 0.0  # the default was not changed
    passed = {"type": "DropPath", "drop_prob": 0.1}
    with pytest.warns(DeprecationWarning):
        MultiheadAttention(D, 2, dropout=0.2, dropout_layer=passed)
    assert passed == {"type": "DropPath", "drop_prob": 0.1}
    with pytest.warns(DeprecationWarning), pytest.raises(TypeError, match="dropout_layer is None"):
        MultiheadAttention(D, 2, dropout=0.2, dropout_layer=None)


def test_residual_is_the_deprecated_name_of_identity() -> None:
    torch.manual_seed(0)
    mha, ffn = MultiheadAttention(D, 2), FFN(D, 16)
    q, ident = torch.randn(3, 2, D), torch.randn(3, 2, D)
    with pytest.warns(DeprecationWarning, match='"residual" is deprecated'):
        old = mha(q, residual=ident)
    torch.testing.assert_close(old, mha(q, identity=ident))
    with pytest.warns(DeprecationWarning):
        torch.testing.assert_close(ffn(q, residual=ident), ffn(q, identity=ident))
    with pytest.raises(AssertionError, match="not both"):
        mha(q, residual=ident, identity=ident)


# -- FFN ----------------------------------------------------------------------------------------
def test_ffn_layout_keys_and_output() -> None:
    torch.manual_seed(0)
    ffn = FFN(D, 16)
    assert sorted(ffn.state_dict()) == ["layers.0.0.bias", "layers.0.0.weight", "layers.1.bias",
                                        "layers.1.weight"]
    assert isinstance(ffn.layers[0][0], hydra_cnn.Linear)
    x = torch.randn(2, 5, D)
    l0, l1 = ffn.layers[0][0], ffn.layers[1]
    torch.testing.assert_close(ffn(x), x + l1(F.relu(l0(x))))
    three = FFN(D, 16, num_fcs=3)
    assert "layers.1.0.weight" in three.state_dict() and three.layers[1][0].in_features == 16


def test_ffn_shares_one_activation_as_mmcv() -> None:
    ffn = FFN(D, 16, num_fcs=3, act_cfg=dict(type="PReLU"))
    assert ffn.layers[0][1] is ffn.activate is ffn.layers[1][1]
    assert {"activate.weight", "layers.0.1.weight", "layers.1.1.weight"} <= set(ffn.state_dict())


def test_ffn_identity_options_and_deprecated_names() -> None:
    torch.manual_seed(0)
    with pytest.warns(DeprecationWarning, match="add_residual"):
        plain = FFN(D, 16, add_residual=False)
    assert plain.add_identity is False
    x = torch.randn(2, D)
    torch.testing.assert_close(plain(x, torch.full_like(x, 5.0)), plain.layers(x))
    with pytest.warns(DeprecationWarning, match='"dropout" is deprecated'):
        dropped = FFN(D, 16, dropout=0.25)
    assert dropped.layers[0][2].p == 0.25 and dropped.layers[2].p == 0.25
    with pytest.raises(AssertionError, match="not both"):
        FFN(D, 16, dropout=0.1, ffn_drop=0.1)
    with pytest.warns(UserWarning, match="ignores the keyword arguments typo"):
        FFN(D, 16, typo=1)


# -- BaseTransformerLayer -----------------------------------------------------------------------
def test_layer_state_dict_keys() -> None:
    assert sorted(_layer().state_dict()) == [
        "attentions.0.attn.in_proj_bias", "attentions.0.attn.in_proj_weight",
        "attentions.0.attn.out_proj.bias", "attentions.0.attn.out_proj.weight",
        "ffns.0.layers.0.0.bias", "ffns.0.layers.0.0.weight", "ffns.0.layers.1.bias",
        "ffns.0.layers.1.weight", "norms.0.bias", "norms.0.weight", "norms.1.bias",
        "norms.1.weight"]


def test_post_norm_and_pre_norm_dataflow() -> None:
    x = torch.randn(5, 2, D)
    post = _layer(POST)
    attn, ffn, (n0, n1) = post.attentions[0], post.ffns[0], post.norms
    torch.testing.assert_close(post(x), n1(ffn(n0(attn(x)))))
    pre = _layer(PRE)
    attn, ffn, (n0, n1) = pre.attentions[0], pre.ffns[0], pre.norms
    a = x + attn.attn(n0(x), n0(x), n0(x))[0]
    torch.testing.assert_close(pre(x), a + ffn.layers(n1(a)))
    assert pre.pre_norm and not post.pre_norm and post.attentions[0].operation_name == "self_attn"


def test_cross_attention_uses_key_value_and_their_mask() -> None:
    torch.manual_seed(0)
    layer = BaseTransformerLayer(attn_cfgs=[_mha(), _mha()], ffn_cfgs=_ffn(),
                                 operation_order=("self_attn", "norm", "cross_attn", "norm",
                                                  "ffn", "norm"))
    q, mem = torch.randn(3, 2, D), torch.randn(6, 2, D)
    pad = torch.zeros(2, 6, dtype=torch.bool)
    pad[1, 4:] = True
    out = layer(q, mem, mem, key_padding_mask=pad)
    sa, ca = layer.attentions
    n0, n1, n2 = layer.norms
    h = n0(sa(q))
    h = n1(ca(h, mem, mem, key_padding_mask=pad))
    torch.testing.assert_close(out, n2(layer.ffns[0](h)))
    assert [a.operation_name for a in layer.attentions] == ["self_attn", "cross_attn"]


def test_attn_masks_forms() -> None:
    layer, x = _layer(), torch.randn(4, 2, D)
    mask = torch.rand(4, 4) > 0.5
    mask.fill_diagonal_(False)
    with pytest.warns(UserWarning, match="Use same attn_mask"):
        one = layer(x, attn_masks=mask)
    torch.testing.assert_close(one, layer(x, attn_masks=[mask]))
    with pytest.raises(AssertionError, match="attn_masks"):
        layer(x, attn_masks=[mask, mask])


def test_legacy_ffn_keywords_warn_and_set_the_ffn() -> None:
    with pytest.warns(DeprecationWarning) as record:
        layer = BaseTransformerLayer(attn_cfgs=_mha(), ffn_cfgs=_ffn(), operation_order=POST,
                                     feedforward_channels=32, ffn_dropout=0.1, ffn_num_fcs=3)
    for old in ("feedforward_channels", "ffn_dropout", "ffn_num_fcs"):
        assert any(f"`{old}`" in str(w.message) for w in record), old
    ffn = layer.ffns[0]
    assert (ffn.feedforward_channels, ffn.num_fcs, ffn.layers[0][2].p) == (32, 3, 0.1)
    with pytest.warns(UserWarning, match="ignores the keyword arguments ffn_dropot"):
        BaseTransformerLayer(attn_cfgs=_mha(), ffn_cfgs=_ffn(), operation_order=POST, ffn_dropot=0.1)


def test_default_ffn_takes_the_attention_width() -> None:
    layer = BaseTransformerLayer(attn_cfgs=_mha(), operation_order=POST)
    assert layer.ffns[0].embed_dims == D and layer.ffns[0].feedforward_channels == 1024
    with pytest.raises(AssertionError, match="embed_dims=16 differs"):
        BaseTransformerLayer(attn_cfgs=_mha(), ffn_cfgs=_ffn(embed_dims=16), operation_order=POST)


def test_layer_argument_errors_name_the_value() -> None:
    with pytest.raises(TypeError, match="operation_order"):
        BaseTransformerLayer(attn_cfgs=_mha())
    with pytest.raises(AssertionError, match="'attn'"):
        BaseTransformerLayer(attn_cfgs=_mha(), operation_order=("attn", "norm"))
    with pytest.raises(AssertionError, match="has 2 configs, but 1"):
        BaseTransformerLayer(attn_cfgs=[_mha(), _mha()], operation_order=POST)
    with pytest.raises(AssertionError, match="batch_first=True differs"):
        BaseTransformerLayer(attn_cfgs=_mha(batch_first=True), operation_order=POST)
    with pytest.raises(AssertionError, match="needs one"):
        BaseTransformerLayer(attn_cfgs=[], operation_order=("norm", "ffn"))


def test_layer_never_mutates_the_callers_configs() -> None:
    attn, ffn = [_mha()], [_ffn()]
    before = copy.deepcopy((attn, ffn))
    BaseTransformerLayer(attn_cfgs=attn, ffn_cfgs=ffn, operation_order=POST, batch_first=True)
    with pytest.warns(DeprecationWarning):
        BaseTransformerLayer(attn_cfgs=attn, ffn_cfgs=ffn, operation_order=POST,
                             feedforward_channels=4)
    assert (attn, ffn) == before


# -- TransformerLayerSequence -------------------------------------------------------------------
def test_sequence_chains_layers() -> None:
    torch.manual_seed(0)
    cfg = dict(type="BaseTransformerLayer", attn_cfgs=_mha(), ffn_cfgs=_ffn(), operation_order=PRE)
    seq = TransformerLayerSequence(cfg, num_layers=3)
    assert seq.num_layers == 3 and seq.embed_dims == D and seq.pre_norm
    assert "layers.2.attentions.0.attn.in_proj_weight" in seq.state_dict()
    x = torch.randn(4, 2, D)
    expected = x
    for layer in seq.layers:
        expected = layer(expected)
    torch.testing.assert_close(seq(x, None, None), expected)
    with pytest.raises(AssertionError, match="has 2 configs, but 3"):
        TransformerLayerSequence([cfg, cfg], num_layers=3)
    with pytest.raises(TypeError, match="num_layers"):
        TransformerLayerSequence(cfg)
    with pytest.raises(KeyError, match="type"):
        TransformerLayerSequence({k: v for k, v in cfg.items() if k != "type"}, num_layers=1)


# -- patches ------------------------------------------------------------------------------------
def test_adaptive_padding() -> None:
    pad = AdaptivePadding(kernel_size=3, stride=2)
    assert pad.get_pad_shape((6, 7)) == (1, 2)
    assert pad(torch.zeros(1, 1, 6, 7)).shape == (1, 1, 7, 9)
    x = torch.ones(1, 1, 4, 4)
    same = AdaptivePadding(kernel_size=3, padding="same")(x)
    corner = AdaptivePadding(kernel_size=3, padding="corner")(x)
    assert same.shape == corner.shape == (1, 1, 6, 6)
    assert same[0, 0, 0].sum() == 0 and same[0, 0, 1, 1] == 1  # one on every side
    assert corner[0, 0, 0, 0] == 1 and corner[0, 0, -2:].sum() == 0  # all bottom/right
    unpadded = torch.ones(1, 1, 4, 4)
    assert AdaptivePadding(kernel_size=2, stride=2)(unpadded) is unpadded
    with pytest.raises(AssertionError, match="'corner'"):
        AdaptivePadding(padding="valid")


def test_patch_embed() -> None:
    embed = PatchEmbed(3, 16, kernel_size=4, stride=4, norm_cfg=dict(type="LN"), input_size=30)
    assert type(embed.projection) is nn.Conv2d  # conv_type 'Conv2d' is torch's class
    assert embed.init_input_size == (30, 30) and embed.init_out_size == (8, 8)
    tokens, hw = embed(torch.zeros(2, 3, 30, 30))
    assert tokens.shape == (2, 64, 16) and hw == (8, 8)
    assert sorted(embed.state_dict()) == ["norm.bias", "norm.weight", "projection.bias",
                                          "projection.weight"]
    plain = PatchEmbed(3, 16, kernel_size=3, stride=2, padding=1, input_size=(9, 10))
    assert plain.adaptive_padding is None and plain.norm is None
    assert plain(torch.zeros(1, 3, 9, 10))[1] == plain.init_out_size == (5, 5)
    assert PatchEmbed(3, 16, kernel_size=4).init_out_size is None


def test_patch_merging_is_unfold_channel_major() -> None:
    merge = PatchMerging(2, 3, norm_cfg=None)
    assert sorted(merge.state_dict()) == ["reduction.weight"]
    grid = torch.arange(2 * 2 * 2, dtype=torch.float).reshape(1, 2, 2, 2)  # (B, C, H, W)
    tokens = grid.flatten(2).transpose(1, 2)  # (B, H*W, C)
    with torch.no_grad():
        merge.reduction.weight.copy_(torch.eye(3, 8))
    out, hw = merge(tokens, (2, 2))
    # channel 0's four positions first, then channel 1's
    assert hw == (1, 1) and out.flatten().tolist() == [0.0, 1.0, 2.0]
    odd, hw = PatchMerging(4, 8)(torch.randn(2, 5 * 7, 4), (5, 7))
    assert odd.shape == (2, 3 * 4, 8) and hw == (3, 4)  # 'corner' keeps the last row/column
    with pytest.raises(AssertionError, match="wrong size"):
        merge(tokens, (2, 3))
    with pytest.raises(AssertionError, match="sequence"):
        merge(tokens, 4)  # type: ignore[arg-type]


# -- init and configs ---------------------------------------------------------------------------
def test_init_cfg_initialises_the_bricks() -> None:
    ffn = FFN(D, 16, init_cfg=dict(type="Constant", val=0.5, bias=0.0, layer="Linear"))
    ffn.init_weights()
    assert torch.all(ffn.layers[0][0].weight == 0.5) and torch.all(ffn.layers[1].bias == 0)


def test_typed_options_instantiate_to_factories() -> None:
    attn = instantiate(configs.MultiheadAttentionConf(attn_drop=0.1))
    mha = attn(embed_dims=D, num_heads=2, batch_first=True)
    assert isinstance(mha, MultiheadAttention) and mha.attn.dropout == 0.1 and mha.batch_first
    ffn = instantiate(configs.FFNConf(num_fcs=3))(embed_dims=D, feedforward_channels=16)
    assert isinstance(ffn, FFN) and ffn.num_fcs == 3
    # a layer takes the factories as its configs (embed_dims etc. added to a copy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer = BaseTransformerLayer(
            attn_cfgs=instantiate(configs.MultiheadAttentionConf()).keywords | {
                "embed_dims": D, "num_heads": 2},
            ffn_cfgs=instantiate(configs.FFNConf()).keywords | {"feedforward_channels": 16},
            operation_order=PRE)
    assert layer.ffns[0].embed_dims == D


def test_a_downstream_positional_encoding_gets_a_typed_option(request: pytest.FixtureRequest,
                                                              unregister: Any) -> None:
    @POSITIONAL_ENCODING.register_module()
    class LearnedPositionalEncoding(nn.Module):  # mmdet registers its own like this
        def __init__(self, num_feats: int, row_num_embed: int = 50) -> None:
            super().__init__()
            self.row_embed = nn.Embedding(row_num_embed, num_feats)

    unregister(POSITIONAL_ENCODING, "LearnedPositionalEncoding")
    built = hydra_cnn.build_positional_encoding(dict(type="LearnedPositionalEncoding", num_feats=4))
    assert built.row_embed.weight.shape == (50, 4)
    compose_option = request.getfixturevalue("compose_option")  # the app opts in after the import
    node = compose_option("layers/positional_encoding", "learned_positional_encoding",
                          "layers.positional_encoding.num_feats=8")
    assert instantiate(node)().row_embed.weight.shape == (50, 8)
