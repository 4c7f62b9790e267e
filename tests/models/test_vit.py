"""SimpleViT: the example Vision Transformer built from the transformer bricks and its configs."""

from __future__ import annotations

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

import hydra_cnn
from hydra_cnn import configs
from hydra_cnn.bricks.transformer import BaseTransformerLayer, MultiheadAttention

SMALL = dict(img_size=16, patch_size=4, embed_dims=16, num_layers=2, num_heads=2, num_classes=3)


def test_builds_and_classifies() -> None:
    net = hydra_cnn.SimpleViT(**SMALL)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 3)
    assert net(torch.randn(1, 3, 24, 20)).shape == (1, 3)  # other sizes interpolate positions
    layers = list(net.encoder.layers)
    assert len(layers) == 2 and all(isinstance(la, BaseTransformerLayer) and la.pre_norm
                                    for la in layers)
    features = hydra_cnn.SimpleViT(**{**SMALL, "num_classes": -1})
    assert features.fc is None and features(torch.randn(2, 3, 16, 16)).shape == (2, 16)


def test_norm_act_attention_and_drop_path_come_from_configs() -> None:
    net = hydra_cnn.SimpleViT(**SMALL, norm_cfg=dict(type="LN", eps=1e-6), act_cfg=dict(type="ReLU"),
                              attn_cfg=dict(type="MultiheadAttention", attn_drop=0.1),
                              drop_path_rate=0.2)
    kinds = {type(m) for m in net.modules()}
    assert nn.ReLU in kinds and nn.GELU not in kinds
    assert all(m.eps == 1e-6 for m in net.modules() if isinstance(m, nn.LayerNorm))
    attns = [m for m in net.modules() if isinstance(m, MultiheadAttention)]
    assert [a.attn.dropout for a in attns] == [0.1, 0.1]
    # stochastic depth rises linearly: 0 in the first layer, drop_path_rate in the last
    assert isinstance(attns[0].dropout_layer, nn.Dropout)
    assert attns[1].dropout_layer.drop_prob == pytest.approx(0.2)


def test_channel_norms_are_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match="use a norm of the last dimension such as type 'LN'"):
        hydra_cnn.SimpleViT(**SMALL, norm_cfg=dict(type="BN"))


def test_validate_accepts_layernorm_in_token_models_only() -> None:
    vit = OmegaConf.structured(configs.SimpleViTConf(**SMALL, norm_cfg={"type": "LN"}))
    assert hydra_cnn.validate(vit) >= 1
    resnet = OmegaConf.structured(configs.ResNet18Conf(norm_cfg={"type": "LN"}))
    with pytest.raises(hydra_cnn.ConfigValidationError, match="LN2d"):
        hydra_cnn.validate(resnet)


def test_options_instantiate_with_swapped_layer_options() -> None:
    cfg = OmegaConf.structured(configs.ViTTinyConf(num_layers=1, img_size=32, num_classes=4))
    cfg.norm_cfg = OmegaConf.structured(configs.LNConf())
    cfg.act_cfg = OmegaConf.structured(configs.SiLUConf())
    cfg.attn_cfg = OmegaConf.structured(configs.MultiheadAttentionConf(proj_drop=0.1))
    hydra_cnn.validate(cfg)
    net = instantiate(cfg)
    assert net.embed_dims == 192 and net.encoder.layers[0].attentions[0].num_heads == 3
    assert any(isinstance(m, nn.SiLU) for m in net.modules())
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 4)
