"""Hostile servers and careless inputs: partial answers, bombs, deep nesting, meta models,
uncopyable tensors, files where folders belong, waiting on locks, DNS failures.

Downloads run against real servers on 127.0.0.1 and check the invariants: (a) no file at the
final cache path, (b) no temp file, (c) a previously cached good file byte-identical; loads
check (d) the model unchanged.
"""

from __future__ import annotations

import gzip
import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

from hydra_cnn.checkpoint import (
    CheckpointFormatError,
    DownloadError,
    StateDictError,
    UnsafeCheckpointError,
    ZooFileError,
    download_checkpoint,
    get_state_dict,
    load_checkpoint,
    load_state_dict,
)
from hydra_cnn.checkpoint.index import read_record
from hydra_cnn.cli import main
from tests.checkpoint.ckpt_helpers import (
    assert_invariants,
    assert_model_unchanged,
    big_model,
    checkpoint_bytes,
    hashed_name,
    model_state,
    seed_good_file,
    send_status,
    serve,
    sha,
    small_model,
)

DEEP = 100_000


def _quantized() -> torch.Tensor:
    import warnings

    with warnings.catch_warnings():  # torch deprecates making them, not loading them
        warnings.simplefilter("ignore")
        return torch.quantize_per_tensor(torch.randn(4, 3, 3, 3), 0.1, 0, torch.qint8)


def _partial_206(data: bytes, upto: int, etag: str | None = None):
    """A route answering every request without Range with bytes 0..upto-1 as a 206."""

    def behaviour(h, n):
        if h.headers.get("Range"):
            serve(h, data)
            return
        headers = {"Content-Range": f"bytes 0-{upto - 1}/{len(data)}"}
        if etag:
            headers["ETag"] = etag
        h.send_response(206)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(upto))
        h.end_headers()
        h.wfile.write(data[:upto])

    return behaviour


# -- 206 answers to a request without Range ------------------------------------------------
def test_206_to_a_plain_get_is_never_cached_as_the_whole_file(home, cache, server):
    data = checkpoint_bytes(small_model(seed=3))
    before = seed_good_file(cache)

    def always_partial(h, n):  # ignores Range too: every answer is the first 1000 bytes
        h.send_response(206)
        h.send_header("Content-Range", f"bytes 0-999/{len(data)}")
        h.send_header("Content-Length", "1000")
        h.end_headers()
        h.wfile.write(data[:1000])

    server.routes["/latest.pth"] = always_partial
    with pytest.warns(UserWarning, match="cannot be verified"), pytest.raises(
            DownloadError, match=f"incomplete download: got 1000 of {len(data)}"):
        download_checkpoint(server.url("/latest.pth"), cache)
    assert not [p for p in cache.iterdir() if p.name.startswith("latest")]
    assert_invariants(cache, "latest.pth", before)
    first = server.count("/latest.pth")
    with pytest.warns(UserWarning), pytest.raises(DownloadError):  # asks again: nothing cached
        download_checkpoint(server.url("/latest.pth"), cache)
    assert server.count("/latest.pth") > first


def test_206_first_part_of_a_hashed_name_is_completed_with_range(home, cache, server):
    data = checkpoint_bytes(small_model(seed=4))
    name = hashed_name("part", data)
    server.routes[f"/{name}"] = _partial_206(data, 1000)
    path = download_checkpoint(server.url(f"/{name}"), cache)
    assert path.read_bytes() == data
    assert server.log[1]["headers"]["Range"] == "bytes=1000-"


def test_206_first_part_with_a_strong_etag_is_completed_for_an_unhashed_name(home, cache,
                                                                             server):
    data = checkpoint_bytes(small_model(seed=5))
    server.routes["/latest.pth"] = _partial_206(data, 1000, etag=f'"{sha(data)[:16]}"')
    with pytest.warns(UserWarning, match="cannot be verified"):
        path = download_checkpoint(server.url("/latest.pth"), cache)
    assert path.read_bytes() == data
    assert server.log[1]["headers"]["If-Range"] == f'"{sha(data)[:16]}"'


def test_206_whose_content_length_contradicts_its_content_range_is_an_error(home, cache,
                                                                            server):
    data = checkpoint_bytes(small_model(seed=6))
    name = hashed_name("liar", data)
    before = seed_good_file(cache)

    def liar(h, n):
        h.send_response(206)
        h.send_header("Content-Range", f"bytes 0-999/{len(data)}")
        h.send_header("Content-Length", "500")
        h.end_headers()
        h.wfile.write(data[:500])

    server.routes[f"/{name}"] = liar
    with pytest.raises(DownloadError, match=r"Content-Range 'bytes 0-999/\d+' \(1000 bytes\) "
                                            r"but Content-Length 500"):
        download_checkpoint(server.url(f"/{name}"), cache)
    assert server.count(f"/{name}") == 1
    assert_invariants(cache, name, before)


@pytest.mark.parametrize("content_range", [None, "bytes 10-999/5000", "bytes 0-999/*",
                                           "bytes 0-9999/5000", "lines 0-9/10"])
def test_206_to_a_plain_get_without_a_usable_content_range_is_an_error(home, cache, server,
                                                                       content_range):
    data = checkpoint_bytes(small_model(seed=6))
    name = hashed_name("odd", data)
    headers = {"Content-Range": content_range} if content_range else {}
    body = data[:990] if content_range == "bytes 10-999/5000" else data[:1000]
    server.routes[f"/{name}"] = lambda h, n: send_status(h, 206, headers, body)
    with pytest.raises(DownloadError, match="request without Range with HTTP 206"):
        download_checkpoint(server.url(f"/{name}"), cache)
    assert_invariants(cache, name, {})


def test_206_resume_that_stops_before_the_end_is_resumed_again(home, cache, server):
    data = checkpoint_bytes(big_model(seed=1))
    name = hashed_name("short-range", data)
    cut = len(data) // 3

    def behaviour(h, n):
        if n == 1:
            serve(h, data, cut_at=cut)
        elif n == 2:  # a 206 for bytes=cut- that covers only 1000 bytes of the rest
            send_status(h, 206, {"Content-Range": f"bytes {cut}-{cut + 999}/{len(data)}"},
                        data[cut:cut + 1000])
        else:
            serve(h, data)

    server.routes[f"/{name}"] = behaviour
    path = download_checkpoint(server.url(f"/{name}"), cache)
    assert path.read_bytes() == data
    assert [r["headers"].get("Range") for r in server.log] == [
        None, f"bytes={cut}-", f"bytes={cut + 1000}-"]


# -- decompression bombs ---------------------------------------------------------------------
def test_gzip_body_decoding_far_beyond_what_was_sent_is_refused(home, cache, server):
    bomb = gzip.compress(b"\0" * (24 << 20), compresslevel=9)  # 24 MiB from ~24 KB
    name = "bomb-0123abcd.pth"
    before = seed_good_file(cache)
    server.routes[f"/{name}"] = lambda h, n: send_status(
        h, 200, {"Content-Encoding": "gzip"}, bomb)
    with pytest.raises(DownloadError, match=r"gzip-encoded body that decodes to more than 20 "
                                            r"times .* decompression bomb.*"
                                            r"HYDRA_CNN_MAX_DECODED_RATIO"):
        download_checkpoint(server.url(f"/{name}"), cache)
    assert_invariants(cache, name, before)


def test_gzip_body_of_a_real_checkpoint_stays_accepted(home, cache, server):
    data = checkpoint_bytes(small_model(seed=8))
    name = hashed_name("gz", data)
    server.routes[f"/{name}"] = lambda h, n: send_status(
        h, 200, {"Content-Encoding": "gzip"}, gzip.compress(data))
    assert download_checkpoint(server.url(f"/{name}"), cache).read_bytes() == data


@pytest.mark.parametrize("value", ["nan", "inf", "0.5", "-3", "big"])
def test_decoded_ratio_setting_is_checked(home, monkeypatch, value):
    monkeypatch.setenv("HYDRA_CNN_MAX_DECODED_RATIO", value)
    with pytest.raises(ValueError, match=f"HYDRA_CNN_MAX_DECODED_RATIO='{value}'.*>= 1"):
        download_checkpoint("http://127.0.0.1:9/x-01234567.pth")


def _zip_bomb(path: Path, n: int = 4_000_000) -> None:
    """A torch.save file of ``n`` zero floats, re-zipped with deflate (16 MB from ~16 KB)."""
    buf = io.BytesIO()
    torch.save({"state_dict": {"w": torch.zeros(n)}}, buf)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))


def test_zip_checkpoint_declaring_far_more_than_it_holds_is_refused(tmp_path, monkeypatch):
    path = tmp_path / "bomb.pth"
    _zip_bomb(path)
    assert path.stat().st_size < 200_000
    model = nn.Linear(2, 2)
    state = model_state(model)
    with pytest.raises(CheckpointFormatError, match=r"refused to load .*bomb\.pth: its zip "
                                                    r"entries declare \d+ bytes .* decompression "
                                                    r"bomb.*HYDRA_CNN_MAX_ZIP_RATIO"):
        load_checkpoint(model, path, logger="silent")
    assert_model_unchanged(model, state)
    monkeypatch.setenv("HYDRA_CNN_MAX_ZIP_RATIO", "10000")  # the documented way to allow it
    sd = load_checkpoint(nn.Module(), path, logger="silent")["state_dict"]
    assert sd["w"].shape == (4_000_000,) and not sd["w"].any()


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "lots"])
def test_zip_ratio_setting_is_checked(tmp_path, monkeypatch, value):
    path = tmp_path / "ok.pth"
    torch.save({"w": torch.ones(2)}, path)
    monkeypatch.setenv("HYDRA_CNN_MAX_ZIP_RATIO", value)
    with pytest.raises(ValueError, match=f"HYDRA_CNN_MAX_ZIP_RATIO='{value}'.*>= 1"):
        load_checkpoint(nn.Module(), path, logger="silent")


# -- tensors the model cannot take; meta-device models -------------------------------------
def _quantized_checkpoint(tmp_path: Path, model: nn.Module) -> Path:
    sd = {k: v.clone() + 1 for k, v in model.state_dict().items()}
    sd["0.weight"] = _quantized()
    path = tmp_path / "quantized.pth"
    torch.save({"state_dict": sd}, path)
    return path


@pytest.mark.parametrize("strict", [False, True])
@pytest.mark.filterwarnings("ignore:TypedStorage is deprecated")
def test_quantized_tensor_is_refused_naming_the_key_before_any_copy(tmp_path, strict):
    model = small_model(seed=1)
    state = model_state(model)
    path = _quantized_checkpoint(tmp_path, model)
    with pytest.raises(StateDictError, match=r"cannot load '0\.weight' .*quantized"):
        load_checkpoint(model, path, strict=strict, logger="silent")
    assert_model_unchanged(model, state)


def test_several_uncopyable_tensors_are_all_named(tmp_path):
    model = small_model(seed=1)
    state = model_state(model)
    sd = dict(model.state_dict())
    sd["0.weight"] = _quantized()
    sd["4.bias"] = torch.zeros(2).to_sparse()
    with pytest.raises(StateDictError, match=r"cannot load '0\.weight', '4\.bias' .*quantized"
                                             r".*torch\.sparse_coo"):
        load_state_dict(model, sd, logger="silent")
    assert_model_unchanged(model, state)


@pytest.mark.parametrize("strict", [False, True])
def test_load_into_a_meta_device_model_says_to_materialise_it(tmp_path, strict):
    src = small_model(seed=2)
    path = tmp_path / "w.pth"
    torch.save({"state_dict": src.state_dict()}, path)
    with torch.device("meta"):
        model = small_model(seed=2)
    with pytest.raises(RuntimeError, match=r"on the meta device .*to_empty\(device='cpu'\)"):
        load_checkpoint(model, path, strict=strict, logger="silent")
    assert all(p.is_meta for p in model.parameters())
    model.to_empty(device="cpu")
    report_model = load_checkpoint(model, path, strict=True, logger="silent")
    assert report_model is not None
    assert_model_unchanged(model, model_state(src))


# -- deep nesting ----------------------------------------------------------------------------
def test_deeply_nested_safetensors_header_names_the_file(tmp_path):
    header = b"[" * DEEP + b"]" * DEEP
    path = tmp_path / "deep.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    model = small_model()
    state = model_state(model)
    with pytest.raises(CheckpointFormatError, match=r"deep\.safetensors.*nests too deeply"):
        load_checkpoint(model, path, logger="silent")
    assert_model_unchanged(model, state)


def test_deeply_nested_user_zoo_json_names_the_file(home):
    (home / "open-mmlab.json").write_text("[" * DEEP + "]" * DEEP)
    with pytest.raises(ZooFileError, match=r"open-mmlab\.json: its JSON nests too deeply"):
        load_checkpoint(small_model(), "open-mmlab://vgg16_caffe", logger="silent")


@pytest.mark.parametrize("suffix,text", [(".json", "[" * DEEP + "]" * DEEP),
                                         (".yaml", "[" * DEEP + "]" * DEEP)])
def test_deeply_nested_zoo_file_names_the_file(home, tmp_path, suffix, text):
    path = tmp_path / f"zoo{suffix}"
    path.write_text(text)
    with pytest.raises(ZooFileError, match=rf"zoo\{suffix}: its \w+ nests too deeply"):
        load_checkpoint(small_model(), "open-mmlab://mine", zoo=str(path), logger="silent")


def test_deeply_nested_zoo_mapping_entry_is_named_briefly(home):
    deep: dict[str, object] = {}
    node = deep
    for _ in range(5000):
        node["a"] = {}
        node = node["a"]  # type: ignore[assignment]
    with pytest.raises(ZooFileError, match=r"entry 'mine' must be a URL or a path .*got "
                                           r"\{'a': \{'a': \{'a': \{\.\.\.\}\}\}\}"):
        load_checkpoint(small_model(), "open-mmlab://mine", zoo={"mine": deep}, logger="silent")


def test_deeply_nested_index_record_is_ignored_and_repaired(home, cache, server, capsys):
    data = checkpoint_bytes(small_model(seed=9))
    server.files["/latest.pth"] = data
    with pytest.warns(UserWarning):
        path = download_checkpoint(server.url("/latest.pth"), cache)
    record = cache / ".index" / f"{path.name}.json"
    record.write_text("[" * DEEP + "]" * DEEP)
    assert main(["zoo", "verify", "--cache-dir", str(cache)]) == 0
    out = capsys.readouterr()
    assert f"BAD RECORD   {path.name}" in out.out and "Traceback" not in out.err
    with pytest.warns(UserWarning):
        again = download_checkpoint(server.url("/latest.pth"), cache)
    assert again == path and again.read_bytes() == data
    assert server.count("/latest.pth") == 2  # the unreadable record could not vouch for it
    repaired = read_record(cache, path.name)
    assert repaired is not None and repaired.sha256 == sha(data)


# -- files where the cache keeps folders; folders given as checkpoints -----------------------
@pytest.mark.parametrize("hashed", [True, False])
@pytest.mark.parametrize("folder", [".index", ".locks"])
def test_regular_file_where_the_cache_keeps_a_folder_fails_before_downloading(
        home, cache, server, folder, hashed):
    data = checkpoint_bytes(small_model(seed=10))
    name = hashed_name("f", data) if hashed else "latest.pth"
    server.files[f"/{name}"] = data
    before = seed_good_file(cache)
    (cache / folder).write_text("not a folder")
    before[folder] = b"not a folder"
    with pytest.raises(NotADirectoryError, match=rf"{folder} is a file, but the cache keeps"):
        if hashed:
            download_checkpoint(server.url(f"/{name}"), cache)
        else:
            with pytest.warns(UserWarning, match="cannot be verified"):
                download_checkpoint(server.url(f"/{name}"), cache)
    assert server.count() == 0
    assert_invariants(cache, name, before)
    assert not [p for p in cache.iterdir() if p.name.startswith("latest")]


def test_directory_given_as_a_checkpoint_says_it_is_a_directory(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir()
    torch.save({"w": torch.ones(1)}, folder / "epoch_3.pth")
    model = small_model()
    state = model_state(model)
    with pytest.raises(IsADirectoryError, match=r"run is a directory, not a checkpoint file; "
                                                r"it holds epoch_3\.pth"):
        load_checkpoint(model, folder, logger="silent")
    with pytest.raises(IsADirectoryError, match=r"run is a directory"):  # through a zoo name
        load_checkpoint(model, "open-mmlab://mine", zoo={"mine": str(folder)}, logger="silent")
    assert_model_unchanged(model, state)


def test_zoo_verify_of_a_missing_cache_dir_fails(tmp_path, capsys):
    assert main(["zoo", "verify", "--cache-dir", str(tmp_path / "typo")]) == 2
    assert "typo does not exist; nothing was verified" in capsys.readouterr().err


def test_map_location_as_a_device_index(tmp_path):
    path = tmp_path / "w.pth"
    torch.save({"w": torch.ones(2)}, path)
    if torch.cuda.is_available():
        assert load_checkpoint(nn.Module(), path, map_location=0,
                               logger="silent")["w"].device == torch.device("cuda", 0)
    else:
        with pytest.raises(ValueError, match=r"map_location=0 names accelerator device 0.*"
                                             r"map_location='cpu'"):
            load_checkpoint(nn.Module(), path, map_location=0, logger="silent")
    with pytest.raises(TypeError, match=r"map_location must be None, a str.*got True"):
        load_checkpoint(nn.Module(), path, map_location=True, logger="silent")
    with pytest.raises(ValueError, match=r"map_location=-1 is not a device index"):
        load_checkpoint(nn.Module(), path, map_location=-1, logger="silent")


# -- DNS, locks ------------------------------------------------------------------------------
def test_name_resolution_failure_is_not_retried(home, cache, caplog):
    with caplog.at_level(logging.WARNING, logger="hydra_cnn.checkpoint"), pytest.raises(
            DownloadError, match=r"cannot resolve the host name 'no-such-host\.invalid'.*not "
                                 r"retried"):
        download_checkpoint("http://no-such-host.invalid/x-01234567.pth", cache)
    assert "retrying" not in caplog.text


_HOLDER = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from hydra_cnn.checkpoint.cache import cache_lock
    with cache_lock(Path(sys.argv[1]), sys.argv[2], None):
        print("held", flush=True)
        time.sleep(float(sys.argv[3]))
""")


def test_a_waiting_process_says_whom_it_waits_for(home, cache, server, caplog):
    data = checkpoint_bytes(small_model(seed=11))
    name = hashed_name("w", data)
    server.files[f"/{name}"] = data
    cache.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(cache), name, "30"],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with caplog.at_level(logging.INFO, logger="hydra_cnn.checkpoint"):
            path = download_checkpoint(server.url(f"/{name}"), cache, lock_timeout=1.5)
    finally:
        holder.kill()
        holder.wait()
    assert path.read_bytes() == data
    assert f"waiting for pid {holder.pid} on host {os.uname().nodename}" in caplog.text
    assert f"waited 2 s for pid {holder.pid}" in caplog.text or "waited 1 s" in caplog.text


def test_a_stale_lock_holder_is_detected(home, cache, server, caplog):
    data = checkpoint_bytes(small_model(seed=12))
    name = hashed_name("s", data)
    server.files[f"/{name}"] = data
    cache.mkdir(parents=True)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    # a lock still held (another process holds the flock) whose recorded holder is dead
    code = textwrap.dedent("""
        import fcntl, sys, time
        fh = open(sys.argv[1], "a")
        fcntl.flock(fh, fcntl.LOCK_EX)
        print("held", flush=True)
        time.sleep(30)
    """)
    import hashlib

    locks = cache / ".locks"
    locks.mkdir()
    stem = hashlib.sha256(name.encode()).hexdigest()[:32]
    (locks / f"{stem}.owner").write_text(json.dumps(
        {"pid": dead.pid, "host": os.uname().nodename, "file": name, "since": "earlier"}))
    holder = subprocess.Popen([sys.executable, "-c", code, str(locks / f"{stem}.lock")],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        start = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="hydra_cnn.checkpoint"):
            path = download_checkpoint(server.url(f"/{name}"), cache, lock_timeout=60)
        waited = time.monotonic() - start
    finally:
        holder.kill()
        holder.wait()
    assert path.read_bytes() == data
    assert f"pid {dead.pid} on host {os.uname().nodename}" in caplog.text
    assert "is no longer running (a stale lock)" in caplog.text
    assert waited < 30  # not the 60 s lock timeout


# -- wrappers inside models, prefixes, key reports, Pretrained weights_only ----------------
def test_nested_data_parallel_is_unwrapped_as_mmcv_does(tmp_path):
    model = nn.Sequential(nn.DataParallel(nn.Conv2d(3, 4, 3)), nn.BatchNorm2d(4))
    assert list(get_state_dict(model))[:2] == ["0.weight", "0.bias"]
    src = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    report = load_state_dict(model, src.state_dict(), strict=True, logger="silent")
    assert report.loaded[:2] == ["0.weight", "0.bias"] and report.ok
    assert torch.equal(model[0].module.weight, src[0].weight)
    path = tmp_path / "m.pth"
    from hydra_cnn.checkpoint import save_checkpoint

    save_checkpoint(model, path)
    plain = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    load_checkpoint(plain, path, strict=True, logger="silent")
    assert torch.equal(plain[0].weight, src[0].weight)


def test_keys_under_one_common_prefix_are_found_and_named(tmp_path, caplog):
    src = small_model(seed=3)
    path = tmp_path / "lightning.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in src.state_dict().items()},
                "epoch": 2}, path)
    model = small_model(seed=4)
    with caplog.at_level(logging.INFO, logger="hydra_cnn.checkpoint"):
        load_checkpoint(model, path, strict=True)
    assert "its keys sit under 'net.'" in caplog.text and "prefix='net.'" in caplog.text
    assert_model_unchanged(model, model_state(src))


def test_lightning_checkpoint_with_an_optimizer_partial_is_refused_naming_it(tmp_path):
    import functools

    src = small_model(seed=3)
    path = tmp_path / "epoch=9-step=500.ckpt"
    torch.save({"state_dict": {f"net.{k}": v for k, v in src.state_dict().items()},
                "hyper_parameters": {"optimizer": functools.partial(torch.optim.Adam, lr=1e-3)}},
               path)
    model = small_model(seed=4)
    state = model_state(model)
    with pytest.raises(UnsafeCheckpointError, match=r"needs the global 'functools\.partial'.*"
                                                    r"weights_only=False"):
        load_checkpoint(model, path, logger="silent")
    assert_model_unchanged(model, state)
    load_checkpoint(model, path, weights_only=False, strict=True, logger="silent")
    assert_model_unchanged(model, model_state(src))


def test_two_candidate_prefixes_ask_which_prefix_to_pass(tmp_path):
    src = small_model(seed=3)
    sd = {f"model.{k}": v for k, v in src.state_dict().items()}
    sd.update({f"ema.{k}": v + 1 for k, v in src.state_dict().items()})
    path = tmp_path / "two.ckpt"
    torch.save({"state_dict": sd}, path)
    model = small_model(seed=4)
    state = model_state(model)
    with pytest.warns(UserWarning, match=r"prefixes 'ema\.', 'model\.' would match .* choose "
                                         r"one with prefix="):
        load_checkpoint(model, path, logger="silent")
    assert_model_unchanged(model, state)
    load_checkpoint(model, path, prefix="model.", strict=True, logger="silent")
    assert_model_unchanged(model, model_state(src))


def test_mismatch_report_shows_the_first_keys_in_full():
    model = nn.Sequential(nn.Sequential(nn.Conv2d(2, 2, 1), nn.GroupNorm(1, 2)),
                          nn.Sequential(nn.Conv2d(2, 2, 1), nn.GroupNorm(1, 2)))
    sd = {k.replace(".1.", ".9."): v for k, v in model.state_dict().items()}
    report = load_state_dict(model, sd, logger="silent")
    text = str(report)
    assert "missing 4 keys: 0.* (2), 1.* (2); first: 0.1.weight, 0.1.bias, 1.1.weight" in text
    assert "unexpected 4 keys: 0.* (2), 1.* (2); first: 0.9.weight, 0.9.bias, 1.9.weight" in text


def _unsafe_checkpoint(tmp_path: Path, model: nn.Module) -> Path:
    path = tmp_path / "with_path.pth"
    torch.save({"state_dict": model.state_dict(), "meta": {"dir": Path("/data")}}, path)
    return path


def test_pretrained_refusal_names_the_config_option_and_the_option_works(tmp_path):
    from hydra_cnn import initialize

    src = small_model(seed=5)
    path = _unsafe_checkpoint(tmp_path, src)
    model = small_model(seed=6)
    state = model_state(model)
    with pytest.raises(UnsafeCheckpointError, match=r"weights_only: false on its Pretrained "
                                                    r"init config.*pretrained=dict\(checkpoint="):
        initialize(model, dict(type="Pretrained", checkpoint=str(path)))
    assert_model_unchanged(model, state)
    initialize(model, dict(type="Pretrained", checkpoint=str(path), weights_only=False))
    assert_model_unchanged(model, model_state(src))


def test_pretrained_config_carries_weights_only():
    from hydra.utils import instantiate

    from hydra_cnn.configs import PretrainedInitConf

    conf = PretrainedInitConf(checkpoint="x.pth")
    assert conf.weights_only is True
    init = instantiate(PretrainedInitConf(checkpoint="x.pth", weights_only=False))
    assert init.weights_only is False
    from hydra_cnn.init.initializers import PretrainedInit

    with pytest.raises(TypeError, match="weights_only must be True or False, got 'no'"):
        PretrainedInit("x.pth", weights_only="no")
