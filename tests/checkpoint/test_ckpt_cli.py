"""``python -m hydra_cnn zoo list|url|download|verify``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from hydra_cnn.cli import main
from tests.checkpoint.ckpt_helpers import checkpoint_bytes, hashed_name, sha, small_model

TV = "https://download.pytorch.org/models/"


def test_python_dash_m_entry_point(home):
    out = subprocess.run([sys.executable, "-m", "hydra_cnn", "zoo", "url",
                          "torchvision://resnet50"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == TV + "resnet50-0676ba61.pth"


def test_list(home, capsys):
    assert main(["zoo", "list", "deprecated", "open-mmlab"]) == 0
    out = capsys.readouterr().out
    assert "# deprecated (4)" in out and "# open-mmlab (48)" in out
    assert "open-mmlab://resnet50_caffe_bgr" in out and "-> open-mmlab://detectron2/" in out
    assert main(["zoo", "list", "--json", "mmcls"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert list(data) == ["mmcls"] and len(data["mmcls"]) == 57
    assert main(["zoo", "list", "tv"]) == 1
    assert "unknown zoo 'tv'; accepted: open-mmlab" in capsys.readouterr().err


def test_url(home, capsys, tmp_path):
    assert main(["zoo", "url", "jhu/resnet50_gn_ws"]) == 0  # a bare name in one zoo
    assert capsys.readouterr().out.strip().endswith("resnet50_gn_ws-15beedd8.pth")
    assert main(["zoo", "url", "resnet50"]) == 1  # in torchvision and mmcls
    assert "torchvision://resnet50, mmcls://resnet50" in capsys.readouterr().err
    assert main(["zoo", "url", "resnet50_gnws"]) == 1
    assert "Did you mean" in capsys.readouterr().err
    zoo = tmp_path / "zoo.json"
    zoo.write_text(json.dumps({"mine": "/data/mine.pth"}))
    assert main(["zoo", "url", "open-mmlab://mine", "--zoo", str(zoo)]) == 0
    assert capsys.readouterr().out.strip() == "/data/mine.pth"


def test_download_and_verify(home, cache, server, capsys):
    data = checkpoint_bytes(small_model())
    name = hashed_name("cli", data)
    server.files[f"/{name}"] = data
    (home / "open-mmlab.json").write_text(json.dumps({"cli": server.url(f"/{name}")}))
    assert main(["zoo", "download", "open-mmlab://cli"]) == 0
    assert capsys.readouterr().out.strip() == str(cache / name)
    (cache / "plain.pth").write_bytes(b"no hash in the name")
    assert main(["zoo", "verify"]) == 0
    out = capsys.readouterr().out
    assert f"OK           {name}  {sha(data)} verified by its name" in out
    assert "NOT INDEXED  plain.pth  not downloaded by this cache" in out
    assert "1 ok, 0 corrupt, 0 missing, 1 not indexed" in out
    (cache / name).write_bytes(b"corrupt")
    assert main(["zoo", "verify"]) == 1
    assert f"CORRUPT      {name}  7 bytes, the index recorded {len(data)}" in (
        capsys.readouterr().out)
    assert main(["zoo", "verify", "--delete", "--yes"]) == 0
    assert f"deleted {cache / name}" in capsys.readouterr().out
    assert not (cache / name).exists() and (cache / "plain.pth").exists()
    assert not (cache / ".index" / f"{name}.json").exists()


# -- 34: zoo verify --delete deletes only what the cache's index says it downloaded ----------
USER_FILES = {"report-1a2b3c4d.pdf": b"%PDF-1.4 quarterly report",
              "main-3f2a1b9c.js": b"console.log('app')", "notes.txt": b"mine"}


def _user_folder(path) -> dict:
    path.mkdir(parents=True, exist_ok=True)
    for name, data in USER_FILES.items():
        (path / name).write_bytes(data)
    return {p.name: p.read_bytes() for p in path.iterdir() if p.is_file()}


def test_not_a_cache_folder(tmp_path, capsys):
    folder = tmp_path / "project"
    before = _user_folder(folder)
    assert main(["zoo", "verify", "--delete", "--yes", "--cache-dir", str(folder)]) == 1
    captured = capsys.readouterr()
    assert f"{folder} is not a hydra_cnn cache" in captured.err
    assert "nothing was deleted" in captured.err
    assert "NOT INDEXED  report-1a2b3c4d.pdf" in captured.out  # its hash is checked, not acted on
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_the_exact_command_from_the_issue(tmp_path):
    folder = tmp_path / "project"
    before = _user_folder(folder)
    out = subprocess.run([sys.executable, "-m", "hydra_cnn", "zoo", "verify", "--delete",
                          "--cache-dir", str(folder)], capture_output=True, text=True,
                         stdin=subprocess.DEVNULL, timeout=120)
    assert out.returncode == 1 and "nothing was deleted" in out.stderr
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def _cache_with_user_files(home, cache, server):
    good = checkpoint_bytes(small_model(seed=1))
    bad = checkpoint_bytes(small_model(seed=2))
    good_name, bad_name = hashed_name("good", good), hashed_name("bad", bad)
    server.files[f"/{good_name}"], server.files[f"/{bad_name}"] = good, bad
    server.files["/latest.pth"] = checkpoint_bytes(small_model(seed=3))
    from hydra_cnn.checkpoint import download_checkpoint

    download_checkpoint(server.url(f"/{good_name}"))
    download_checkpoint(server.url(f"/{bad_name}"))
    with pytest.warns(UserWarning):
        unhashed = download_checkpoint(server.url("/latest.pth"))
    unhashed.write_bytes(unhashed.read_bytes()[::-1])  # corrupt, same size
    (cache / bad_name).write_bytes(b"torn")
    user = _user_folder(cache)
    return good_name, bad_name, unhashed, user


def test_delete_asks_first(home, cache, server, capsys, monkeypatch):
    good_name, bad_name, unhashed, user = _cache_with_user_files(home, cache, server)
    monkeypatch.setattr(sys, "stdin", io.StringIO("n\n"))
    assert main(["zoo", "verify", "--delete"]) == 1
    captured = capsys.readouterr()
    assert "Delete 2 corrupt file(s) and 2 index record(s)" in captured.out
    assert "nothing was deleted (pass --yes" in captured.err
    assert (cache / bad_name).exists() and unhashed.exists()
    monkeypatch.setattr(sys, "stdin", io.StringIO("y\n"))
    assert main(["zoo", "verify", "--delete"]) == 0
    out = capsys.readouterr().out
    assert f"deleted {cache / bad_name}" in out and f"deleted {unhashed}" in out
    assert not (cache / bad_name).exists() and not unhashed.exists()
    assert (cache / good_name).exists()
    for name, data in user.items():
        if name in USER_FILES:
            assert (cache / name).read_bytes() == data  # never touched


def test_missing_files_and_bad_records(home, cache, server, capsys):
    good_name, bad_name, unhashed, _ = _cache_with_user_files(home, cache, server)
    (cache / good_name).unlink()
    (cache / ".index" / f"{bad_name}.json").write_text("{not json")
    assert main(["zoo", "verify", "--delete", "--yes"]) == 0
    out = capsys.readouterr().out
    assert f"MISSING      {good_name}" in out and f"BAD RECORD   {bad_name}" in out
    assert (cache / bad_name).exists()  # a file with a malformed record is left alone
    assert not (cache / ".index" / f"{good_name}.json").exists()  # the stale record goes
    assert not unhashed.exists()


def test_download_errors_are_one_line(home, server, capsys):
    name = hashed_name("absent", b"x")
    assert main(["zoo", "download", server.url(f"/{name}")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: HTTP 404") and "Traceback" not in err


def test_usage_errors(capsys):
    with pytest.raises(SystemExit, match=r"^2$") as info:  # argparse's usage-error exit code
        main([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
