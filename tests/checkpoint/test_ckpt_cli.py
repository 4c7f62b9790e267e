"""``python -m hydra_cnn zoo list|url|download|verify``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ckpt_helpers import checkpoint_bytes, hashed_name, small_model

from hydra_cnn.cli import main

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
    assert f"OK           {name}" in out and "UNVERIFIABLE" in out
    assert "1 ok, 0 corrupt, 1 unverifiable" in out
    (cache / name).write_bytes(b"corrupt")
    assert main(["zoo", "verify"]) == 1
    assert f"CORRUPT      {name}" in capsys.readouterr().out
    assert main(["zoo", "verify", "--delete"]) == 0
    assert not (cache / name).exists()


def test_download_errors_are_one_line(home, server, capsys):
    name = hashed_name("absent", b"x")
    assert main(["zoo", "download", server.url(f"/{name}")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: HTTP 404") and "Traceback" not in err


def test_usage_errors(capsys):
    with pytest.raises(SystemExit) as info:
        main([])
    assert info.value.code == 2
    assert "COMMAND" in capsys.readouterr().err
