"""Zoo maps, HOME, user JSON files, ``zoo=`` overrides and their errors (malformed files, unknown names)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from hydra_cnn.checkpoint import (
    ZooFileError,
    get_deprecated_model_names,
    get_external_models,
    get_home,
    get_mmcls_models,
    get_torchvision_models,
    load_zoo_file,
    zoo_url,
)
from hydra_cnn.checkpoint.cache import check_cache_name, file_name_from_url, hash_prefix
from hydra_cnn.common import conf_dir

OPENMMLAB = "https://download.openmmlab.com/pretrain/third_party/"
TV = "https://download.pytorch.org/models/"


# -- the shipped maps ------------------------------------------------------------------------
@pytest.mark.parametrize(("key", "file"), [
    ("vgg16_caffe", "vgg16_caffe-292e1171.pth"),
    ("detectron/resnet50_caffe", "resnet50_caffe-788b5fa3.pth"),
    ("detectron2/resnet50_caffe", "resnet50_msra-5891d200.pth"),
    ("resnext50_32x4d", "resnext50-32x4d-0ab1a123.pth"),
    ("detectron/resnet50_gn", "resnet50_gn-9186a21c.pth"),
    ("jhu/resnet50_gn_ws", "resnet50_gn_ws-15beedd8.pth"),
    ("msra/hrnetv2_w18", "hrnetv2_w18-00eb2006.pth"),
    ("res2net101_v1d_26w_4s", "res2net101_v1d_26w_4s_mmdetv2-f0a600f9.pth"),
    ("regnetx_400mf", "regnetx_400mf-a5b10d96.pth"),
    ("regnetx_1.6gf", "regnetx_1.6gf-5791c176.pth"),
])
def test_open_mmlab_keys_and_urls(home, key, file):
    assert get_external_models()[key] == OPENMMLAB + file


def test_map_sizes_and_values(home):
    ext, mmcls, tv, dep = (get_external_models(), get_mmcls_models(),
                           get_torchvision_models(), get_deprecated_model_names())
    assert (len(ext), len(mmcls), len(dep)) == (48, 57, 4)
    assert len(tv) > 200
    for mapping in (ext, mmcls, tv):
        assert all(isinstance(v, str) and v.startswith("https://") for v in mapping.values())
        for url in mapping.values():  # every file name is a safe cache name
            check_cache_name(file_name_from_url(url))
    assert all(v in ext for v in dep.values())  # every deprecated target exists


def test_torchvision_names(home):
    tv = get_torchvision_models()
    assert tv["resnet50"] == TV + "resnet50-0676ba61.pth"  # V1, as in mmcv
    assert tv["resnet50.imagenet1k_v1"] == TV + "resnet50-0676ba61.pth"
    assert tv["resnet50.imagenet1k_v2"] == tv["resnet50.default"] == TV + "resnet50-11ad3fa6.pth"
    assert tv["shufflenetv2_x1.5"].startswith(TV)  # mmcv's nulls are filled
    assert hash_prefix("resnet50-0676ba61.pth") == "0676ba61"
    for name in ("ResNet50_Weights.IMAGENET1K_V1", "resnet50.imagenet1k_v1"):
        assert zoo_url(f"torchvision://{name}") == TV + "resnet50-0676ba61.pth"
    assert zoo_url("torchvision://Wide_ResNet50_2_Weights.DEFAULT") == tv[
        "wide_resnet50_2.default"]


def test_maps_ship_as_package_data():
    zoo = conf_dir() / "zoo"
    names = sorted(p.name for p in zoo.iterdir() if p.name.endswith((".json", ".yaml")))
    assert names == ["deprecated.json", "mmcls.json", "open_mmlab.json", "torchvision.json"]
    for name in names:
        json.loads(zoo.joinpath(name).read_text())


def test_getters_return_copies(home):
    get_torchvision_models()["resnet50"] = "x"
    assert get_torchvision_models()["resnet50"].startswith(TV)


def test_deprecated_name_warns_and_resolves(home):
    with pytest.warns(DeprecationWarning, match="open-mmlab://resnet50_caffe_bgr is deprecated "
                                                "in favor of open-mmlab://detectron2/resnet50"):
        url = zoo_url("open-mmlab://resnet50_caffe_bgr")
    assert url == OPENMMLAB + "resnet50_msra-5891d200.pth"
    with pytest.warns(DeprecationWarning, match="modelzoo:// scheme is deprecated"):
        assert zoo_url("modelzoo://resnet50") == TV + "resnet50-0676ba61.pth"


# -- HOME --------------------------------------------------------------------------------------
def test_home_order_read_at_call_time(monkeypatch, tmp_path):
    for var in ("HYDRA_CNN_HOME", "MMCV_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "user"))
    assert get_home() == tmp_path / "user" / ".cache" / "hydra_cnn"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert get_home() == tmp_path / "xdg" / "hydra_cnn"
    monkeypatch.setenv("MMCV_HOME", str(tmp_path / "mmcv"))
    assert get_home() == tmp_path / "mmcv"
    monkeypatch.setenv("HYDRA_CNN_HOME", "~/hc")
    assert get_home() == tmp_path / "user" / "hc"
    assert not (tmp_path / "user").exists()  # nothing is created


# -- user JSON files ---------------------------------------------------------------------------
def test_user_files_merge_hyphen_over_underscore(home):
    (home / "open_mmlab.json").write_text(json.dumps(
        {"vgg16_caffe": "https://a/x-11111111.pth", "mine": "https://a/u-22222222.pth",
         "both": "https://a/under-33333333.pth"}))
    (home / "open-mmlab.json").write_text(json.dumps({"both": "https://a/hyph-44444444.pth"}))
    models = get_external_models()
    assert models["vgg16_caffe"] == "https://a/x-11111111.pth"  # user keys win
    assert models["mine"] == "https://a/u-22222222.pth"
    assert models["both"] == "https://a/hyph-44444444.pth"
    assert models["detectron/resnet50_gn"].startswith(OPENMMLAB)


def test_paths_absolute_relative_and_escaping(home, tmp_path):
    (home / "open-mmlab.json").write_text(json.dumps({
        "abs": str(tmp_path / "abs.pth"), "rel": "models/r.pth", "out": "../outside.pth",
        "tilde": "~/t.pth",
    }))
    assert zoo_url("open-mmlab://abs") == str(tmp_path / "abs.pth")
    assert zoo_url("open-mmlab://rel") == str(home / "models" / "r.pth")
    with pytest.raises(ValueError, match=r"'out' maps to the relative path '../outside.pth', "
                                         r"which leaves HOME"):
        zoo_url("open-mmlab://out")
    assert zoo_url("openmmlab://abs") == str(tmp_path / "abs.pth")


@pytest.mark.parametrize(("text", "where"), [
    ('{"a": "https://x/a.pth",\n  "b": }', r"malformed JSON at line 2, column 8: "),
    # Python 3.13 points at the comma ("Illegal trailing comma", column 24), older ones at
    # the brace after it (column 25)
    ('{"a": "https://x/a.pth",}', r"malformed JSON at line 1, column 2[45]: \w"),
    ("[1, 2]", "must be an object"),
    ('{"a": null}', "entry 'a' must be a URL or a path"),
    ('{"a": 3}', "entry 'a' must be a URL or a path"),
])
def test_malformed_user_json(home, text, where):
    path = home / "open-mmlab.json"
    path.write_text(text)
    with pytest.raises(ZooFileError, match=rf"^{re.escape(str(path))}: .*{where}"):
        get_external_models()


def test_malformed_yaml_zoo_file(home, tmp_path):
    bad = tmp_path / "zoo.yaml"
    bad.write_text("mine: https://x/m.pth\nother: [unclosed\n")
    with pytest.raises(ZooFileError, match=rf"{bad}: malformed YAML at line 3, column 1"):
        zoo_url("open-mmlab://mine", zoo=bad)
    good = tmp_path / "good.yml"
    good.write_text("mine: /data/m.pth\n")
    assert zoo_url("open-mmlab://mine", zoo=str(good)) == "/data/m.pth"


def test_unknown_zoo_name_suggests(home):
    with pytest.raises(KeyError, match=r"^unknown open-mmlab model 'resnet50_v1' "
                       r"\(in open-mmlab://resnet50_v1\)\. Did you mean ") as info:
        zoo_url("open-mmlab://resnet50_v1")
    msg = str(info.value)
    assert "Did you mean 'resnet50_v1c'" in msg and "zoo list open-mmlab" in msg
    with pytest.raises(KeyError, match="Did you mean 'resnet50'"):
        zoo_url("torchvision://resnet5O")
    with pytest.raises(ValueError, match="is not a zoo name"):
        zoo_url("s3://bucket/x.pth")


# -- zoo= overrides ----------------------------------------------------------------------------
def test_zoo_overrides_for_one_call(home, tmp_path):
    zoo = {"resnet50": "/bare.pth", "torchvision://resnet50": "/qualified.pth",
           "extra": "https://h/e-12345678.pth"}
    assert zoo_url("torchvision://resnet50", zoo=zoo) == "/qualified.pth"
    assert zoo_url("mmcls://resnet50", zoo=zoo) == "/bare.pth"
    assert zoo_url("open-mmlab://extra", zoo=zoo) == "https://h/e-12345678.pth"
    assert zoo_url("torchvision://resnet50").startswith(TV)  # no global state
    path = tmp_path / "zoo.json"
    path.write_text(json.dumps({"mine": "rel/m.pth"}))
    assert zoo_url("open-mmlab://mine", zoo=path) == str(home / "rel" / "m.pth")
    with pytest.raises(ValueError, match="accepted: an http"):
        zoo_url("open-mmlab://x", zoo={"x": "s3://b/x.pth"})
    with pytest.raises(TypeError, match="zoo must be None, a mapping"):
        zoo_url("open-mmlab://x", zoo=["x"])  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError, match="zoo file not found"):
        zoo_url("open-mmlab://x", zoo=tmp_path / "absent.json")


def test_zoo_overrides_from_an_omegaconf_node(home):
    from omegaconf import OmegaConf

    node = OmegaConf.create({"open-mmlab://mine": "/m.pth"})
    assert zoo_url("openmmlab://mine", zoo=node) == "/m.pth"


def test_load_zoo_file_json(tmp_path):
    path = tmp_path / "z.json"
    path.write_text('{"a": "https://x/a-12345678.pth"}')
    assert load_zoo_file(path) == {"a": "https://x/a-12345678.pth"}


# -- import stays light ------------------------------------------------------------------------
def test_import_is_light():
    code = (
        "import sys, hydra_cnn, hydra_cnn.checkpoint\n"
        "from hydra_cnn.checkpoint import zoo_url, download_checkpoint, load_checkpoint\n"
        "zoo_url('torchvision://resnet50')\n"
        "heavy = ['torch', 'requests', 'tqdm', 'filelock', 'urllib3']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(Path(__file__).parent))
    assert out.stdout.strip() == "[]"
