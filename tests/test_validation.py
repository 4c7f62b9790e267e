"""validate(): catches what compose cannot, before anything is built."""

from __future__ import annotations

from typing import Any

import pytest
from omegaconf import OmegaConf

import hydra_cnn
from hydra_cnn import configs
from hydra_cnn.validation import ConfigValidationError


def _norm(**kw: Any) -> dict[str, Any]:
    return {"_target_": "hydra_cnn.make_norm", "_partial_": True, "type": "GN", **kw}


def test_valid_configs_pass() -> None:
    assert hydra_cnn.validate(hydra_cnn.configs.GNConf(num_groups=2)) == 1
    cfg = OmegaConf.create({"model": {"norm": _norm(num_groups=4), "act": {
        "_target_": "hydra_cnn.make_act", "_partial_": True, "type": "LeakyReLU"}}})
    assert hydra_cnn.validate(cfg) == 2
    plain = {"net": {"_target_": "torch.nn.Conv2d", "in_channels": 3, "out_channels": 4,
                     "kernel_size": 3}}
    assert hydra_cnn.validate(plain) == 1


@pytest.mark.parametrize(
    "cfg, pattern",
    [
        ({"layers": {"norm": _norm(num_grups=2)}},
         r"layers\.norm: .*unexpected key 'num_grups'.*Did you mean 'num_groups'"),
        ({"norm": _norm(type="GNN")}, r"norm\.type: .*Did you mean 'GN'"),
        ({"norm": _norm(num_groups="x")}, r"num_groups='x'.*expected int"),
        ({"m": {"_target_": "torch.nn.Conv2d", "in_channel": 3, "out_channels": 1,
                "kernel_size": 1}}, r"no argument 'in_channel'.*Did you mean 'in_channels'"),
        ({"m": {"_target_": "torch.nn.Conv2d", "out_channels": 1, "kernel_size": 1}},
         r"missing a required argument: 'in_channels'"),
        ({"m": {"_target_": "hydra_cnn.no_such_thing"}}, r"m\._target_: cannot locate"),
    ],
)
def test_problems_are_named(cfg: dict[str, Any], pattern: str) -> None:
    with pytest.raises(ConfigValidationError, match=pattern):
        hydra_cnn.validate(cfg)


def test_force_added_key_caught_before_build() -> None:
    """`+layers.norm.epss=1` passes compose (force-add); validate names it."""
    from hydra import compose
    from hydra.core.global_hydra import GlobalHydra

    from tests.hydra_app import opted_in

    GlobalHydra.instance().clear()
    with opted_in():
        cfg = compose(overrides=["+layers/norm=bn", "+layers.norm.epss=1"])
    GlobalHydra.instance().clear()
    with pytest.raises(ConfigValidationError, match="'epss'.*Did you mean 'eps'"):
        hydra_cnn.validate(cfg)


def test_error_is_type_and_value_error() -> None:
    with pytest.raises(TypeError, match=r"n: norm layer 'GN' got an unexpected key 'bad'"):
        hydra_cnn.validate({"n": _norm(bad=1)})
    with pytest.raises(ValueError, match="unexpected key 'bad'"):
        hydra_cnn.validate({"n": _norm(bad=1)})


@pytest.mark.parametrize("given", ["x", None, [1, 2], 3])
def test_validate_refuses_what_is_not_a_config(given: object) -> None:
    with pytest.raises(TypeError, match=f"validate\\(\\) takes a config .*but got {type(given).__name__}"):
        hydra_cnn.validate(given)


def test_validate_reports_mandatory_values_never_set() -> None:
    with pytest.raises(ValueError, match=r"n: .*'num_groups' is mandatory \('\?\?\?'\).*n\.num_groups="):
        hydra_cnn.validate({"n": _norm(num_groups="???")})


def test_validate_refuses_layernorm_on_conv_maps() -> None:
    cfg = {"model": {"_target_": "hydra_cnn.make_model", "type": "ResNet", "depth": 18,
                     "norm_cfg": {"type": "LN"}}}
    with pytest.raises(ValueError,
                       match=r"model\.norm_cfg: type 'LN' is nn\.LayerNorm.*'LN2d' \(option ln2d\)"):
        hydra_cnn.validate(cfg)


def test_unknown_type_is_also_a_key_error() -> None:
    with pytest.raises(KeyError, match="Did you mean 'GN'"):
        hydra_cnn.validate({"n": _norm(type="GNN")})


# -- mmcv-style ``type=`` model dicts ------------------------------------------------------------
def _mmdet_faster_rcnn(**backbone: Any) -> dict[str, Any]:
    """The shape of an mmdetection 2.x config: other projects' types around hydra_cnn's."""
    return dict(
        model=dict(
            type="FasterRCNN",
            backbone=dict(type="ResNet", depth=50, num_stages=4, out_indices=(0, 1, 2, 3),
                          frozen_stages=1, norm_cfg=dict(type="BN", requires_grad=True),
                          norm_eval=True, style="pytorch",
                          init_cfg=dict(type="Pretrained", checkpoint="torchvision://resnet50"),
                          **backbone),
            neck=dict(type="FPN", in_channels=[256, 512, 1024, 2048], out_channels=256,
                      num_outs=5, upsample_cfg=dict(mode="nearest")),
            roi_head=dict(type="StandardRoIHead",
                          bbox_head=dict(type="Shared4Conv1FCBBoxHead",
                                         norm_cfg=dict(type="GN", num_groups=32),
                                         act_cfg=dict(type="ReLU", inplace=True),
                                         init_cfg=dict(type="Normal", std=0.01,
                                                       override=dict(name="fc_cls")))),
        ),
        train_pipeline=[dict(type="LoadImageFromFile"), dict(type="RandomFlip", flip_ratio=0.5)],
        optimizer=dict(type="SGD", lr=0.02, momentum=0.9),
    )


def test_mmcv_style_config_is_checked_and_counted() -> None:
    result = hydra_cnn.validate(_mmdet_faster_rcnn())
    # ResNet + its norm_cfg + its init_cfg + bbox_head's norm_cfg, act_cfg and init_cfg
    assert result == result.checked == 6
    assert result.skipped == 8  # 7 other-project types and FPN's F.interpolate upsample_cfg
    assert result.skipped_types == ("FPN", "FasterRCNN", "LoadImageFromFile", "RandomFlip", "SGD",
                                    "Shared4Conv1FCBBoxHead", "StandardRoIHead")
    assert result.summary.startswith("validate: 6 node(s) checked, 8 skipped (types not in "
                                     "hydra_cnn: ")


@pytest.mark.parametrize(
    "mutate, pattern",
    [
        (lambda c: c["model"]["backbone"]["norm_cfg"].update(type="BNN"),
         r"model\.backbone\.norm_cfg\.type: 'BNN' is not registered.*Did you mean 'BN'\?"),
        (lambda c: c["model"]["backbone"]["norm_cfg"].update(requires_gard=False),
         r"model\.backbone\.norm_cfg: .*unexpected key 'requires_gard'.*'requires_grad'"),
        (lambda c: c["model"]["backbone"].update(norm_evl=True),
         r"model\.backbone: model 'ResNet' got an unexpected key 'norm_evl'.*'norm_eval'"),
        (lambda c: c["model"]["backbone"].update(depth="fifty"),
         r"model\.backbone: model 'ResNet': depth='fifty' has type str, expected int"),
        (lambda c: c["model"]["roi_head"]["bbox_head"]["act_cfg"].update(type="Relu"),
         r"bbox_head\.act_cfg\.type: .*Did you mean 'ReLU'\?"),
        (lambda c: c["model"]["roi_head"]["bbox_head"]["init_cfg"].update(type="Norml"),
         r"bbox_head\.init_cfg\.type: .*Did you mean 'Normal'\?"),
        (lambda c: c["model"]["roi_head"]["bbox_head"]["init_cfg"]["override"].update(sdt=1),
         r"init_cfg\.override: initializer 'Normal' got an unexpected key 'sdt'.*'std'"),
        (lambda c: c["model"]["roi_head"]["bbox_head"].update(conv_cfg=dict(type="DCNv2")),
         r"bbox_head\.conv_cfg\.type: 'DCNv2' is a type of mmcv's compiled operators "
         r"\(mmcv-full: mmcv\.ops\.ModulatedDeformConv2dPack"),
        (lambda c: c["model"]["backbone"]["init_cfg"].update(checkpont="x"),
         r"backbone\.init_cfg: .*'checkpont'.*Did you mean 'checkpoint'\?"),
        (lambda c: c["model"]["backbone"].update(
            plugins=[dict(cfg=dict(type="ContextBlock", ratio=1 / 16, pooling="avgg"),
                          stages=(False, True, True, True), position="after_conv3")]),
         r"backbone\.plugins\[0\]\.cfg: .*ContextBlock"),
    ],
)
def test_mmcv_style_config_problems_are_named(mutate: Any, pattern: str) -> None:
    cfg = _mmdet_faster_rcnn()
    mutate(cfg)
    with pytest.raises(ConfigValidationError, match=pattern):
        hydra_cnn.validate(cfg)


def test_mmseg_dilated_backbone_and_top_level_norm_cfg() -> None:
    cfg = dict(
        norm_cfg=dict(type="SyncBN", requires_grad=True),
        model=dict(type="EncoderDecoder",
                   backbone=dict(type="ResNetV1c", depth=50, dilations=(1, 1, 2, 4),
                                 strides=(1, 2, 1, 1), contract_dilation=True,
                                 norm_cfg=dict(type="SyncBN", requires_grad=True)),
                   decode_head=dict(type="PSPHead", act_cfg=dict(type="HSwish"),
                                    init_cfg=dict(type="Normal", std=0.01,
                                                  override=dict(name="conv_seg")))),
    )
    # the top-level norm_cfg, the backbone, its norm_cfg, the head's act_cfg and init_cfg
    assert hydra_cnn.validate(cfg).checked == 5
    cfg["norm_cfg"] = dict(type="SynBN")
    with pytest.raises(ConfigValidationError, match=r"(?s)^.*\bnorm_cfg\.type: 'SynBN'.*'SyncBN'"):
        hydra_cnn.validate(cfg)


def test_hydra_cnn_model_type_needs_its_required_arguments() -> None:
    with pytest.raises(ConfigValidationError, match=r"backbone: model 'VGG' needs 'depth'"):
        hydra_cnn.validate({"backbone": {"type": "VGG"}})


def test_layernorm_in_an_mmcv_model_dict_is_refused() -> None:
    with pytest.raises(ConfigValidationError, match="use type 'LN2d'"):
        hydra_cnn.validate({"backbone": {"type": "ResNet", "depth": 18, "norm_cfg": {"type": "LN"}}})


# -- init configs everywhere -----------------------------------------------------------------------
def test_init_targets_are_checked() -> None:
    with pytest.raises(ConfigValidationError, match=r"<root>\.type: 'Kaimin' .*Did you mean 'Kaiming'"):
        hydra_cnn.validate({"_target_": "hydra_cnn.make_init", "type": "Kaimin"})
    with pytest.raises(ConfigValidationError,
                       match=r"init: initializer 'Kaiming' got an unexpected key 'foo'"):
        hydra_cnn.validate({"init": OmegaConf.to_container(OmegaConf.structured(
            configs.KaimingInitConf())) | {"foo": 1}})
    with pytest.raises(ConfigValidationError, match=r"override: an override entry needs a non-empty 'name'"):
        hydra_cnn.validate(configs.NormalInitConf(override={"type": "Constant", "val": 0}))
    with pytest.raises(ConfigValidationError,
                       match=r"<root>\.norm\.type: 'Constnt'.*Did you mean 'Constant'"):
        hydra_cnn.validate(configs.XavierInitConf(norm={"type": "Constnt", "val": 1}))
    assert hydra_cnn.validate(configs.KaimingInitConf()) == 2  # the option and its norm entry


def test_init_cfg_list_of_a_target_model_is_checked() -> None:
    model = {"_target_": "hydra_cnn.ResNet", "depth": 18,
             "init_cfg": [{"type": "Kaiming", "layer": "Conv2d"},
                          {"type": "Constant", "val": 1, "layer": ["_BatchNorm", "GroupNorm"]}]}
    assert hydra_cnn.validate(model) == 3
    model["init_cfg"][1]["vall"] = 1
    with pytest.raises(ConfigValidationError, match=r"init_cfg\[1\]: .*'vall'.*Did you mean 'val'"):
        hydra_cnn.validate(model)


# -- interpolations --------------------------------------------------------------------------------
def test_unresolvable_interpolation_names_key_and_interpolation() -> None:
    cfg = OmegaConf.create({"width": 8, "model": {"norm": _norm(num_groups="${widht}"),
                                                  "act": {"type": "${oops:1}"}}})
    with pytest.raises(ConfigValidationError) as info:
        hydra_cnn.validate(cfg)
    text = str(info.value)
    assert "model.norm.num_groups: the interpolation '${widht}' cannot be resolved" in text
    assert "model.act.type: the interpolation '${oops:1}' cannot be resolved" in text
    assert "oops" in text and "Traceback" not in text
    assert isinstance(info.value, ValueError)
    fine = OmegaConf.create({"width": 2, "norm": _norm(num_groups="${width}")})
    assert hydra_cnn.validate(fine) == 1
