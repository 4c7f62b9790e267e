"""Loading: schemes, round trips through the zoos, prefixes, safetensors, saving, reports,
unsafe pickles (refused under weights_only=True) and mismatched keys (one report)."""

from __future__ import annotations

import json
import logging
import os
import pickle
import re
import sys
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from hydra_cnn.checkpoint import (
    CheckpointLoader,
    LoadReport,
    StrictLoadError,
    UnsafeCheckpointError,
    get_state_dict,
    load_checkpoint,
    load_from_local,
    load_state_dict,
    save_checkpoint,
)
from hydra_cnn.checkpoint.loader import _load_checkpoint, _load_checkpoint_with_prefix
from tests.checkpoint.ckpt_helpers import (
    assert_model_unchanged,
    checkpoint_bytes,
    hashed_name,
    model_state,
    small_model,
)


def _equal(model: nn.Module, other: nn.Module) -> bool:
    a, b = model.state_dict(), other.state_dict()
    return set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def _saved_bytes(model: nn.Module, tmp_path: Path) -> bytes:
    path = tmp_path / "saved.pth"
    save_checkpoint(model, path)
    return path.read_bytes()


# -- round trips -------------------------------------------------------------------------------
def test_round_trip_http_openmmlab_torchvision(home, cache, server, tmp_path):
    saved = small_model(seed=1)
    data = _saved_bytes(saved, tmp_path)
    name = hashed_name("mine", data)
    server.files[f"/{name}"] = data
    url = server.url(f"/{name}")

    fresh = small_model(seed=2)
    ckpt = load_checkpoint(fresh, url, logger="silent")
    assert _equal(fresh, saved) and ckpt["meta"]["hydra_cnn_version"]
    assert server.count() == 1

    (home / "open-mmlab.json").write_text(json.dumps({"mine": url}))
    fresh = small_model(seed=3)
    load_checkpoint(fresh, "open-mmlab://mine", logger="silent")
    assert _equal(fresh, saved)

    fresh = small_model(seed=4)
    load_checkpoint(fresh, "torchvision://resnet50", logger="silent",
                    zoo={"torchvision://resnet50": url})
    assert _equal(fresh, saved)
    assert server.count() == 1  # the second and third loads made no request
    assert sorted(p.name for p in cache.iterdir() if p.is_file()) == [name]


def test_openmmlab_relative_path_under_home(home, tmp_path):
    saved = small_model(seed=5)
    (home / "models").mkdir()
    save_checkpoint(saved, home / "models" / "r.pth")
    (home / "open_mmlab.json").write_text(json.dumps({"rel": "models/r.pth",
                                                       "gone": "models/gone.pth"}))
    fresh = small_model()
    load_checkpoint(fresh, "openmmlab://rel", logger="silent")
    assert _equal(fresh, saved)
    with pytest.raises(FileNotFoundError, match=r"open-mmlab://gone maps to .*gone.pth"):
        load_checkpoint(fresh, "open-mmlab://gone")


def test_mmcls_keeps_only_the_backbone(home, server):
    backbone = small_model(seed=6)
    sd = OrderedDict({f"backbone.{k}": v for k, v in backbone.state_dict().items()})
    sd["head.fc.weight"] = torch.zeros(3, 3)
    import io

    buf = io.BytesIO()
    torch.save({"state_dict": sd}, buf)
    name = hashed_name("cls", buf.getvalue())
    server.files[f"/{name}"] = buf.getvalue()
    fresh = small_model()
    ckpt = load_checkpoint(fresh, "mmcls://resnet50", strict=True, logger="silent",
                           zoo={"resnet50": server.url(f"/{name}")})
    assert set(ckpt["state_dict"]) == set(backbone.state_dict())
    assert _equal(fresh, backbone)


def test_load_checkpoint_with_prefix(tmp_path):
    backbone, neck = small_model(seed=1), small_model(seed=2)
    detector = nn.Module()
    detector.backbone, detector.neck = backbone, neck
    path = tmp_path / "det.pth"
    save_checkpoint(detector, path)
    sd = _load_checkpoint_with_prefix("backbone.", path)
    assert set(sd) == set(backbone.state_dict())
    assert _load_checkpoint_with_prefix("backbone", str(path)).keys() == sd.keys()
    fresh = small_model(seed=3)
    report = load_state_dict(fresh, sd, strict=True, logger="silent")
    assert report.ok and _equal(fresh, backbone)
    with pytest.raises(ValueError, match=r"'head\.' is not in the pretrained model .*backbone\."):
        _load_checkpoint_with_prefix("head", path)


# -- local files -------------------------------------------------------------------------------
def test_local_pth_pt_and_legacy_format(tmp_path):
    model = small_model(seed=1)
    torch.save(model.state_dict(), tmp_path / "plain.pt")
    torch.save({"state_dict": model.state_dict()}, tmp_path / "legacy.pth",
               _use_new_zipfile_serialization=False)
    for name in ("plain.pt", "legacy.pth"):
        fresh = small_model(seed=2)
        load_checkpoint(fresh, str(tmp_path / name), strict=True, logger="silent")
        assert _equal(fresh, model)
    with pytest.raises(FileNotFoundError, match="checkpoint file not found: .*absent.pth"):
        load_checkpoint(model, tmp_path / "absent.pth")
    (tmp_path / "x.pt2").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"\.pt2 .* accepted: \.pth, \.pt"):
        load_from_local(str(tmp_path / "x.pt2"))


def test_local_pth_is_memory_mapped(tmp_path):
    model = small_model(seed=1)
    path = tmp_path / "m.pth"
    save_checkpoint(model, path)
    sd = load_from_local(str(path))["state_dict"]
    ptr = sd["0.weight"].data_ptr()
    mapped = False
    with open("/proc/self/maps") as maps:
        for line in maps:
            if line.rstrip().endswith(str(path)):
                lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                mapped = mapped or lo <= ptr < hi
    assert mapped  # backed by the file, not a second copy in memory


def test_safetensors_round_trip_and_missing_extra(tmp_path, monkeypatch):
    pytest.importorskip("safetensors")
    model = small_model(seed=1)
    path = tmp_path / "m.safetensors"
    save_checkpoint(model, path, meta={"epoch": 3})
    fresh = small_model(seed=2)
    load_checkpoint(fresh, path, strict=True, logger="silent")
    assert _equal(fresh, model)
    with pytest.raises(ValueError, match="holds tensors only"):
        save_checkpoint(model, tmp_path / "o.safetensors",
                        optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(ImportError, match=r"pip install 'hydra-cnn\[safetensors\]'"):
        load_checkpoint(fresh, path)


# -- saving ------------------------------------------------------------------------------------
def test_save_checkpoint_contents(tmp_path):
    model = small_model(seed=1)
    model.register_buffer("scratch", torch.ones(3), persistent=False)
    model.CLASSES = ("cat", "dog")
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    path = tmp_path / "sub" / "ckpt.pth"
    save_checkpoint(torch.nn.DataParallel(model), path, optimizer={"sgd": optim},
                    meta={"epoch": 2})
    ckpt = torch.load(path, weights_only=True)
    assert "scratch" not in ckpt["state_dict"]  # non-persistent buffers are not saved
    assert not any(k.startswith("module.") for k in ckpt["state_dict"])
    assert ckpt["meta"]["epoch"] == 2 and ckpt["meta"]["CLASSES"] == ("cat", "dog")
    assert set(ckpt["optimizer"]) == {"sgd"}
    with pytest.raises(TypeError, match="meta must be a dict or None"):
        save_checkpoint(model, path, meta=[1])
    with pytest.raises(TypeError, match="optimizer must be None"):
        save_checkpoint(model, path, optimizer="sgd")
    with pytest.raises(ValueError, match="local files only"):
        save_checkpoint(model, "s3://bucket/x.pth")


def test_save_checkpoint_is_atomic(tmp_path):
    model = small_model(seed=1)
    path = tmp_path / "ckpt.pth"
    save_checkpoint(model, path)
    good = path.read_bytes()
    # pickle raises AttributeError up to Python 3.13 ("Can't get" on 3.13) and PicklingError
    # from 3.14 on
    with pytest.raises((AttributeError, pickle.PicklingError),
                       match=r"Can't (pickle|get) local object .*<lambda>"):
        save_checkpoint(model, path, meta={"bad": lambda: None})
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt.pth"]


# -- 20: a malicious pickle ------------------------------------------------------------------
class Payload:
    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("force_env", [False, True])
def test_malicious_pickle_is_refused(tmp_path, monkeypatch, force_env):
    if force_env:  # overrides only call sites that leave weights_only unset
        monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    marker = tmp_path / "pwned"
    model = small_model(seed=1)
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": small_model(seed=2).state_dict(), "x": Payload(str(marker))}, path)
    state = model_state(model)
    # the global is 'io.open' up to Python 3.11 and '_io.open' from 3.12 on
    with pytest.raises(UnsafeCheckpointError, match=(
            rf"^refused to load {re.escape(str(path))}: it needs the global '_?io\.open', "
            r"which weights_only=True does not allow")) as info:
        load_checkpoint(model, path)
    assert "Only if you trust this file, pass weights_only=False" in str(info.value)
    assert not marker.exists()
    assert_model_unchanged(model, state)


def test_served_malicious_pickle(home, cache, server, tmp_path):
    marker = tmp_path / "pwned"
    import io

    buf = io.BytesIO()
    torch.save({"x": Payload(str(marker))}, buf)
    name = hashed_name("evil", buf.getvalue())
    server.files[f"/{name}"] = buf.getvalue()
    model = small_model()
    with pytest.raises(UnsafeCheckpointError, match="weights_only=False"):
        load_checkpoint(model, server.url(f"/{name}"))
    assert not marker.exists()


def test_explicit_opt_out_only(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {}, "x": Payload(str(marker))}, path)
    _load_checkpoint(path, weights_only=False)  # the caller trusts it
    assert marker.exists()


# -- 21: missing, unexpected and mismatched keys -----------------------------------------------
def _mismatched_checkpoint(model: nn.Module) -> OrderedDict:
    sd = OrderedDict((k, v.clone() + 1) for k, v in model.state_dict().items())
    del sd["4.weight"], sd["4.bias"]  # missing
    sd["head.weight"] = torch.zeros(2)  # unexpected
    sd["head.bias"] = torch.zeros(2)
    sd["0.weight"] = torch.zeros(4, 1, 3, 3)  # shape mismatch
    return sd


def test_one_report_lists_all_three(caplog):
    model = small_model(seed=1)
    state = model_state(model)
    with caplog.at_level(logging.WARNING, logger="hydra_cnn.checkpoint"):
        report = load_state_dict(model, _mismatched_checkpoint(model))
    assert isinstance(report, LoadReport) and not report.ok
    assert report.missing == ["4.weight", "4.bias"]
    assert report.unexpected == ["head.weight", "head.bias"]
    assert report.mismatched == [("0.weight", (4, 1, 3, 3), (4, 3, 3, 3))]
    text = str(report)
    assert "missing 2 keys: 4.* (2)" in text
    assert "unexpected 2 keys: head.* (2)" in text
    assert "shape mismatch in 1 key (skipped): 0.weight (checkpoint (4, 1, 3, 3), model " \
           "(4, 3, 3, 3))" in text
    assert text in caplog.text
    now = model.state_dict()
    assert torch.equal(now["0.weight"], state["0.weight"])  # skipped, not half-copied
    assert torch.equal(now["0.bias"], state["0.bias"] + 1)  # the rest loaded


def test_strict_raises_and_leaves_the_model_unchanged(tmp_path):
    model = small_model(seed=1)
    path = tmp_path / "bad.pth"
    torch.save({"state_dict": _mismatched_checkpoint(model)}, path)
    state = model_state(model)
    with pytest.raises(StrictLoadError, match=r"^Error\(s\) in loading state_dict for Sequential "
                       r"\(strict=True; nothing was copied, the model is unchanged\)") as info:
        load_checkpoint(model, path, strict=True)
    msg = str(info.value)
    assert "nothing was copied" in msg and "missing 2 keys" in msg
    assert "unexpected 2 keys" in msg and "shape mismatch in 1 key" in msg
    assert isinstance(info.value, RuntimeError)
    assert_model_unchanged(model, state)


def test_strict_accepts_keys_a_module_fills_itself():
    from hydra_cnn.bricks.conv_ws import ConvAWS2d

    model = nn.Sequential(ConvAWS2d(3, 4, 3), nn.BatchNorm2d(4))
    full = model.state_dict()
    sd = OrderedDict((k, v) for k, v in full.items()
                     if "weight_gamma" not in k and "weight_beta" not in k
                     and "num_batches" not in k)
    sd._metadata = full._metadata  # BN version 2: num_batches_tracked is reported missing
    report = load_state_dict(model, sd, strict=True, logger="silent")
    assert report.ok and report.ignored == ["1.num_batches_tracked"]


def test_report_groups_keys_shortly():
    model = nn.Sequential(OrderedDict(
        [(f"layer{i}", nn.Sequential(nn.Conv2d(2, 2, 1), nn.Conv2d(2, 2, 1))) for i in range(9)]
    ))
    report = load_state_dict(model, {}, logger="silent")
    lines = str(report).splitlines()
    assert lines[0] == "loaded 0 of 36 keys"
    assert lines[1] == ("missing 36 keys: layer0.* (4), layer1.* (4), layer2.* (4), "
                        "layer3.* (4), layer4.* (4), layer5.* (4), ... and 12 more; "
                        "first: layer0.0.weight, layer0.0.bias, layer0.1.weight")
    assert report.missing_keys == report.missing


def test_wrappers_and_revise_keys(tmp_path):
    model = small_model(seed=1)
    wrapped = nn.DataParallel(model)
    assert set(get_state_dict(wrapped)) == set(model.state_dict())
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": wrapped.state_dict()}, path)  # keys start with 'module.'
    fresh = small_model(seed=2)
    load_checkpoint(nn.DataParallel(fresh), path, strict=True, logger="silent")
    assert _equal(fresh, model)
    holder = nn.Module()
    holder.backbone = small_model(seed=3)
    torch.save(model.state_dict(), tmp_path / "plain.pth")
    load_checkpoint(holder, tmp_path / "plain.pth", strict=True, logger="silent",
                    revise_keys=[(r"^", "backbone.")])
    assert _equal(holder.backbone, model)


def test_non_dict_checkpoint(tmp_path):
    torch.save([torch.ones(1)], tmp_path / "list.pth")
    with pytest.raises(RuntimeError, match="No state_dict found in checkpoint file .*list"):
        load_checkpoint(small_model(), tmp_path / "list.pth")


def test_load_logs_a_short_report(tmp_path, caplog):
    model = small_model(seed=1)
    save_checkpoint(model, tmp_path / "m.pth")
    with caplog.at_level(logging.INFO, logger="hydra_cnn.checkpoint"):
        load_checkpoint(small_model(seed=2), tmp_path / "m.pth")
    assert "load checkpoint from local path" in caplog.text
    assert f"loaded 9 of 9 keys from {tmp_path / 'm.pth'}" in caplog.text


# -- schemes -----------------------------------------------------------------------------------
def test_unknown_scheme_lists_the_registered_ones():
    with pytest.raises(ValueError, match=r"^unknown checkpoint scheme 's3://' in 's3://bucket/x\.pth'"
                       r".* Registered schemes: ") as info:
        load_checkpoint(small_model(), "s3://bucket/x.pth")
    msg = str(info.value)
    for scheme in ("http://", "https://", "torchvision://", "open-mmlab://", "mmcls://"):
        assert scheme in msg
    with pytest.raises(ValueError, match="Did you mean 'mmcls://'"):
        _load_checkpoint("mmcl://resnet50")


def test_register_scheme(tmp_path):
    calls = []
    saved = dict(CheckpointLoader._schemes)
    try:
        @CheckpointLoader.register_scheme("mem://")
        def load_mem(filename, map_location=None):
            calls.append(("mem", filename))
            return {"state_dict": small_model(seed=1).state_dict()}

        CheckpointLoader.register_scheme(["mem://special/"], lambda f, m=None: (
            calls.append(("special", f)) or {"state_dict": small_model(seed=2).state_dict()}))
        fresh = small_model(seed=3)
        load_checkpoint(fresh, "mem://special/x", logger="silent")  # the longest prefix wins
        load_checkpoint(fresh, "mem://x", logger="silent")
        assert [c[0] for c in calls] == ["special", "mem"]
        assert _equal(fresh, small_model(seed=1))
        with pytest.raises(KeyError, match="already registered.*force=True"):
            CheckpointLoader.register_scheme("mem://", load_mem)
        CheckpointLoader.register_scheme("mem://", load_mem, force=True)
        with pytest.raises(TypeError, match="prefixes must be a str"):
            CheckpointLoader.register_scheme(3, load_mem)  # type: ignore[arg-type]
        with pytest.warns(UserWarning, match="weights_only=False has no effect"):
            _load_checkpoint("mem://x", weights_only=False)
    finally:
        CheckpointLoader._schemes.clear()
        CheckpointLoader._schemes.update(saved)


def test_modelzoo_alias_warns(home, server, tmp_path):
    model = small_model(seed=1)
    save_checkpoint(model, tmp_path / "m.pth")
    with pytest.warns(DeprecationWarning, match="modelzoo:// scheme is deprecated"):
        load_checkpoint(small_model(), "modelzoo://resnet50", logger="silent",
                        zoo={"resnet50": str(tmp_path / "m.pth")})


def test_map_location_reaches_torch_load(tmp_path):
    model = small_model(seed=1)
    save_checkpoint(model, tmp_path / "m.pth")
    sd = _load_checkpoint(tmp_path / "m.pth", map_location="meta")["state_dict"]
    assert sd["0.weight"].device.type == "meta"
    assert os.path.exists(tmp_path / "m.pth")


def test_checkpoint_bytes_helper_is_loadable():
    assert checkpoint_bytes(small_model())[:2] == b"PK"
