"""Real files: compressed zip entries, files that are not checkpoints, bad state dict entries,
deep nesting; and the checkpoint ergonomics of
SPEC section 9 (``state_dict_key``, wrapped state dicts, ``revise_keys``, ``Pretrained``).

Every failing load checks (d): the model is unchanged.
"""

from __future__ import annotations

import io
import json
import logging
import pickle
import re
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from torch import nn

from hydra_cnn.checkpoint import (
    CheckpointFormatError,
    StateDictError,
    UnsafeCheckpointError,
    load_checkpoint,
    load_from_local,
    load_state_dict,
    save_checkpoint,
)
from tests.checkpoint.ckpt_helpers import assert_model_unchanged, model_state, small_model


def _two_sizes(seed: int = 0) -> nn.Module:
    """A tiny tensor (read as garbage through mmap when deflated) and a larger one (which
    made mmap fail with 'Trying to resize storage')."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(2, 2), nn.Linear(64, 64))


def _rezip(src: Path, dst: Path, compression: int, only: str | None = None) -> None:
    """Copy a zip archive entry by entry, as a zip tool would, with other compression."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            method = compression if only is None or only in info.filename else zipfile.ZIP_STORED
            zout.writestr(info.filename, zin.read(info.filename), compress_type=method)


def _equal_to(model: nn.Module, sd: dict) -> bool:
    now = model.state_dict()
    return set(now) == set(sd) and all(torch.equal(now[k], sd[k]) for k in sd)


# -- 26: compressed zip entries under the default (mmap) path ---------------------------------
@pytest.mark.parametrize("only", [None, "data/0", "data.pkl"])
@pytest.mark.parametrize("strict", [True, False])
def test_deflated_entries_load_what_torch_load_reads(tmp_path, only, strict):
    src = _two_sizes(seed=1)
    save_checkpoint(src, tmp_path / "plain.pth")
    path = tmp_path / "rezipped.pth"
    _rezip(tmp_path / "plain.pth", path, zipfile.ZIP_DEFLATED, only)
    with zipfile.ZipFile(path) as z:
        assert any(i.compress_type == zipfile.ZIP_DEFLATED for i in z.infolist())
    reference = torch.load(path, weights_only=True)["state_dict"]  # torch's own zip reader
    model = _two_sizes(seed=2)
    load_checkpoint(model, path, strict=strict, logger="silent")
    assert _equal_to(model, reference) and _equal_to(model, src.state_dict())


def test_stored_rezip_still_memory_maps(tmp_path):
    src = _two_sizes(seed=1)
    save_checkpoint(src, tmp_path / "plain.pth")
    path = tmp_path / "stored.pth"
    _rezip(tmp_path / "plain.pth", path, zipfile.ZIP_STORED)
    sd = load_from_local(str(path))["state_dict"]
    assert _equal_to(src, sd)
    ptr = sd["1.weight"].data_ptr()
    with open("/proc/self/maps") as maps:
        spans = [tuple(int(x, 16) for x in ln.split()[0].split("-")) for ln in maps
                 if ln.rstrip().endswith(str(path))]
    assert any(lo <= ptr < hi for lo, hi in spans)  # still the fast path


# -- 30: local files that are not checkpoints -------------------------------------------------
def _safetensors_bytes() -> bytes:
    st = pytest.importorskip("safetensors.torch")
    return st.save({"0.weight": torch.zeros(4, 3, 3, 3)})


PAGE = b"<!doctype html><html><head><title>404</title></head></html>"


def _bad_files() -> list[tuple[str, object, str]]:
    """(file name, bytes or a builder, what the message must say was found)."""
    return [
        ("notes.pth", b"r2 = some text that starts with r\n", "text of 34 bytes starting 'r2 = "),
        ("page.pth", PAGE, f"an HTML page of {len(PAGE)} bytes (a login or error page?)"),
        ("empty.pth", b"", "an empty file (0 bytes)"),
        ("zeros.pth", b"\x00" * 1000, "1000 zero bytes"),
        ("truncated.pth", lambda good: good[: len(good) // 2],
         "damaged or truncated"),
        ("foreign.zip.pth", "zip", "no data.pkl entry, so not written by torch.save"),
        ("random.pth", bytes(range(1, 256)) * 4, "unrecognised binary data"),
        ("plain_pickle.pth", pickle.dumps({"a": 1}, protocol=2), "a pickle of"),
        ("short.safetensors", b"\x10\x00", "shorter than the 8-byte header length"),
        ("len.safetensors", lambda good: (10**6).to_bytes(8, "little") + b"{}",
         "the header length field says 1000000 bytes but 2 follow it"),
        ("json.safetensors", lambda good: (5).to_bytes(8, "little") + b"{nope",
         "the header is not JSON"),
        ("cut.safetensors", "cut", "needs bytes 0..432 of a"),
        ("text.safetensors", b"this is not a tensor file\n", "text of 26 bytes"),
    ]


def _write_bad(tmp_path: Path, name: str, content: object) -> Path:
    good = io.BytesIO()
    torch.save({"state_dict": small_model().state_dict()}, good)
    path = tmp_path / name
    if content == "zip":
        with zipfile.ZipFile(path, "w") as z:
            z.writestr("readme.txt", "a zip, but not from torch.save")
    elif content == "cut":
        path.write_bytes(_safetensors_bytes()[:-100])
    elif callable(content):
        path.write_bytes(content(good.getvalue()))
    else:
        assert isinstance(content, bytes)
        path.write_bytes(content)
    return path


@pytest.mark.parametrize(("name", "content", "found"), _bad_files())
def test_not_a_checkpoint(tmp_path, name, content, found):
    path = _write_bad(tmp_path, name, content)
    model = small_model()
    state = model_state(model)
    with pytest.raises(CheckpointFormatError, match=(
            rf"^{re.escape(str(path))} is not a readable checkpoint: it is .*{re.escape(found)}.*"
            r"accepted: a torch\.save file \(\.pth/\.pt\) or a \.safetensors file$")) as info:
        load_checkpoint(model, path, logger="silent")
    assert "weights_only=False" not in str(info.value)
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, ValueError)
    assert_model_unchanged(model, state)


@pytest.mark.parametrize(("name", "content", "found"), _bad_files()[:3])
def test_through_pretrained(tmp_path, name, content, found):
    from hydra_cnn.init import initialize

    path = _write_bad(tmp_path, name, content)
    model = small_model()
    state = model_state(model)
    with pytest.raises(CheckpointFormatError, match=re.escape(found)):
        initialize(model, dict(type="Pretrained", checkpoint=str(path)))
    assert_model_unchanged(model, state)


class _NeedsAGlobal:
    def __reduce__(self):
        return (print, ("hello",))


def test_only_a_real_pickle_needing_a_global_mentions_the_opt_out(tmp_path):
    path = tmp_path / "global.pth"
    torch.save({"state_dict": {}, "x": _NeedsAGlobal()}, path)
    with pytest.raises(UnsafeCheckpointError, match=r"needs the global '(builtins\.)?print'.*"
                                                    r"weights_only=False"):
        load_checkpoint(small_model(), path)


def test_map_location_errors_keep_torchs_reason(tmp_path):
    save_checkpoint(small_model(), tmp_path / "m.pth")
    with pytest.raises(RuntimeError, match=r"torch.load could not read .*m\.pth .*"):
        load_checkpoint(small_model(), tmp_path / "m.pth", map_location="nodevice")


# -- 31 / 37: values that are not tensors, integer keys, deep nesting -------------------------
def _deep(levels: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(levels):
        node["n"] = {}
        node = node["n"]
    return root


def _saved(tmp_path: Path, sd: dict, wrap: bool = True) -> Path:
    path = tmp_path / "odd.pth"
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(20_000)  # pickling 3000 levels needs it; loading must not
    try:
        torch.save({"state_dict": sd} if wrap else sd, path)
    finally:
        sys.setrecursionlimit(limit)
    return path


def _good_first(model: nn.Module, **extra: object) -> OrderedDict:
    """A state dict whose good keys come first, so a half-load would be visible."""
    sd = OrderedDict((k, v + 1) for k, v in model.state_dict().items())
    sd.update(extra)
    return sd


@pytest.mark.parametrize(("bad", "message"), [
    ({"4.bias": 3.5}, r"maps '4\.bias' to the float 3\.5, not a tensor"),
    ({"4.bias": "zeros"}, r"maps '4\.bias' to the str 'zeros', not a tensor"),
    ({"4.bias": [1.0, 2.0]}, r"maps '4\.bias' to a list of 2 items, not a tensor"),
    ({"4.bias": {"inner": torch.zeros(2)}}, r"maps '4\.bias' to a dict of 1 entries.*"
                                            r"state_dict_key='4\.bias'"),
    ({"extra": None}, r"maps 'extra' to None, not a tensor"),
    ({7: torch.zeros(2)}, r"has the key 7 \(type int\); keys must be strings"),
    ({"deep": _deep(3000)}, r"maps 'deep' to a dict of 1 entries"),
    ({"4.bias": _deep(3000)}, r"maps '4\.bias' to a dict of 1 entries"),
])
@pytest.mark.parametrize("strict", [False, True])
def test_bad_entries_fail_before_any_copy(tmp_path, bad, message, strict):
    model = small_model(seed=1)
    state = model_state(model)
    sd = _good_first(model)
    if "4.bias" in bad:
        del sd["4.bias"]
    sd.update(bad)
    path = _saved(tmp_path, sd)
    with pytest.raises(StateDictError, match=message) as info:
        load_checkpoint(model, path, strict=strict, logger="silent")
    assert str(path) in str(info.value) and "Nothing was copied" in str(info.value)
    assert_model_unchanged(model, state)
    with pytest.raises(StateDictError, match=message):  # the function itself checks too
        load_state_dict(model, sd, strict=strict, logger="silent")
    assert_model_unchanged(model, state)


def test_deeply_nested_checkpoint(tmp_path):
    model = small_model(seed=1)
    state = model_state(model)
    path = _saved(tmp_path, _deep(3000), wrap=False)
    with pytest.raises(StateDictError, match=r"maps 'n' to a dict of 1 entries, not a tensor"):
        load_checkpoint(model, path, logger="silent")
    assert_model_unchanged(model, state)


def test_tensors_torch_cannot_copy(tmp_path):
    model = small_model(seed=1)
    state = model_state(model)
    sd = _good_first(model)
    sd["4.bias"] = torch.zeros(2).to_sparse()
    with pytest.raises(StateDictError, match=r"cannot load '4\.bias'.*layout torch\.sparse_coo"):
        load_state_dict(model, sd, logger="silent")
    sd["4.bias"] = torch.zeros(2, device="meta")
    with pytest.raises(StateDictError, match=r"cannot load '4\.bias'.*meta device"):
        load_state_dict(model, sd, logger="silent")
    assert_model_unchanged(model, state)


def test_extra_state_may_hold_anything():
    class WithExtra(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.lin = nn.Linear(2, 2)
            self.note = "x"

        def get_extra_state(self) -> object:
            return {"note": self.note}

        def set_extra_state(self, state: object) -> None:
            assert isinstance(state, dict)
            self.note = state["note"]

    src, dst = WithExtra(), WithExtra()
    src.note = "from the checkpoint"
    report = load_state_dict(dst, src.state_dict(), strict=True, logger="silent")
    assert report.ok and dst.note == "from the checkpoint"


def test_malformed_metadata_is_ignored_with_a_warning():
    model = small_model(seed=1)
    sd = OrderedDict(small_model(seed=2).state_dict())
    sd._metadata = ["not", "a", "dict"]  # type: ignore[attr-defined]
    with pytest.warns(UserWarning, match="ignoring the malformed _metadata"):
        report = load_state_dict(model, sd, strict=True, logger="silent")
    assert report.ok


# -- SPEC 9: state dicts under other keys, state_dict_key, revise_keys ------------------------
@pytest.mark.parametrize("key", ["model", "module", "state_dict", "model_state_dict"])
def test_state_dict_under_another_key(tmp_path, caplog, key):
    src = small_model(seed=1)
    path = tmp_path / "wrapped.pth"
    torch.save({key: src.state_dict(), "epoch": 3, "optimizer": {"state": {}}}, path)
    model = small_model(seed=2)
    with caplog.at_level(logging.INFO, logger="hydra_cnn.checkpoint"):
        ckpt = load_checkpoint(model, path, strict=True)
    assert _equal_to(model, src.state_dict()) and ckpt["epoch"] == 3
    said = f"the state dict of {path} sits under {key!r}"
    assert (said in caplog.text) == (key != "state_dict")  # mmcv's own format needs no note


def test_several_state_dicts_are_ambiguous(tmp_path):
    src, ema = small_model(seed=1), small_model(seed=2)
    path = tmp_path / "two.pth"
    torch.save({"model": src.state_dict(), "ema": ema.state_dict(), "step": 10}, path)
    model = small_model(seed=3)
    state = model_state(model)
    with pytest.raises(ValueError, match=r"holds several state dicts, under 'model', 'ema'; "
                                         r"choose one with state_dict_key="):
        load_checkpoint(model, path)
    assert_model_unchanged(model, state)
    load_checkpoint(model, path, strict=True, state_dict_key="ema", logger="silent")
    assert _equal_to(model, ema.state_dict())
    with pytest.raises(KeyError, match=r"state_dict_key='emma' is not in the checkpoint .*"
                                       r"Did you mean 'ema'\?.*'model', 'ema', 'step'"):
        load_checkpoint(model, path, state_dict_key="emma")


def test_custom_revise_keys_that_load_nothing_warn(tmp_path):
    src = small_model(seed=1)
    holder = nn.Module()
    holder.module = nn.Sequential()
    holder.module.add_module("body", src)
    path = tmp_path / "dp.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in src.state_dict().items()}}, path)
    model = small_model(seed=2)
    state = model_state(model)
    rules = [(r"^head\.", "fc.")]
    expected = (f"revise_keys={rules!r} loads none of the keys of {path}, but the default rule "
                f"(r'^module\\.', '') would load 9")
    with pytest.warns(UserWarning, match=re.escape(expected)):
        load_checkpoint(model, path, revise_keys=rules, logger="silent")
    assert_model_unchanged(model, state)  # as asked: nothing matched
    load_checkpoint(model, path, strict=True, logger="silent",
                    revise_keys=[(r"^module\.", ""), *rules])
    assert _equal_to(model, src.state_dict())


@pytest.mark.parametrize(("rules", "error"), [
    ("^module", "revise_keys must be a list of"),
    ([("^a", "b", "c")], "revise_keys entries must be"),
    ([("(", "")], "is not a valid regex"),
])
def test_bad_revise_keys(tmp_path, rules, error):
    save_checkpoint(small_model(), tmp_path / "m.pth")
    with pytest.raises((TypeError, ValueError), match=error):
        load_checkpoint(small_model(), tmp_path / "m.pth", revise_keys=rules)


def test_prefix_then_revise_keys(tmp_path):
    src = small_model(seed=1)
    path = tmp_path / "det.pth"
    torch.save({"model": {f"backbone.old.{k}": v for k, v in src.state_dict().items()}}, path)
    model = small_model(seed=2)
    load_checkpoint(model, path, strict=True, prefix="backbone", logger="silent",
                    revise_keys=[(r"^old\.", "")])
    assert _equal_to(model, src.state_dict())


# -- Pretrained: revise_keys, prefix and state_dict_key from a config ------------------------
def test_pretrained_takes_revise_keys_prefix_and_state_dict_key(tmp_path):
    from hydra.utils import instantiate

    from hydra_cnn.configs import PretrainedInitConf
    from hydra_cnn.init import initialize

    src = small_model(seed=1)
    path = tmp_path / "ckpt.pth"
    torch.save({"net": {f"encoder.head.{k}": v for k, v in src.state_dict().items()},
                "ema": {"x": torch.zeros(1)}}, path)
    model = small_model(seed=2)
    initialize(model, dict(type="Pretrained", checkpoint=str(path), prefix="encoder.",
                           revise_keys=[[r"^head\.", ""]], state_dict_key="net"))
    assert _equal_to(model, src.state_dict())

    conf = PretrainedInitConf(checkpoint=str(path), prefix="encoder",
                              revise_keys=[[r"^head\.", ""]], state_dict_key="net")
    init = instantiate(conf)
    model = small_model(seed=3)
    init(model)
    assert _equal_to(model, src.state_dict())
    assert init.report_args()["revise_keys"] == [(r"^head\.", "")]
    with pytest.raises(TypeError, match="revise_keys must be a list of"):
        initialize(model, dict(type="Pretrained", checkpoint=str(path), revise_keys="^head"))


def test_pretrained_yaml_option_has_the_new_fields():
    from hydra_cnn.configs.yaml_files import CONF_DIR

    text = (CONF_DIR / "init" / "pretrained.yaml").read_text()
    assert "revise_keys: null" in text and "state_dict_key: null" in text


def test_sniff_descriptions_are_json_safe():
    from hydra_cnn.checkpoint.sniff import sniff_bytes

    found = sniff_bytes(b'{"a": 1}', 8)
    assert found.kind == "text" and json.dumps(found.description)


def test_old_torch_warns_once_that_weights_only_is_not_a_full_guard(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import warnings

    import torch

    from hydra_cnn.checkpoint import loader

    path = tmp_path / "w.pth"
    torch.save({"w": torch.ones(2)}, path)

    monkeypatch.setattr(loader, "_ADVISED", [])
    monkeypatch.setattr(torch, "__version__", "2.10.0")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loader.load_from_local(str(path))  # torch >= 2.10: no warning
    monkeypatch.setattr(loader, "_ADVISED", [])
    monkeypatch.setattr(torch, "__version__", "2.4.1")
    with pytest.warns(UserWarning, match=r"torch 2\.4\.1 has published flaws .*torch>=2\.10"):
        loader.load_from_local(str(path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loader.load_from_local(str(path))  # once per process
