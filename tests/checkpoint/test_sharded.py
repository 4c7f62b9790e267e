"""Checkpoints of models sharded with FSDP2 (``fully_shard``), with 2 real gloo processes.

One pair of worker processes (sharded_worker.py) runs every sharded check and reports them;
the tests here prepare its files and check what it reports and wrote, including loading its
outputs into plain models in this process (no process group). No test can hang: the workers
have a watchdog and a collective timeout, and are killed when the test ends.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections import OrderedDict
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from hydra_cnn.checkpoint import _load_checkpoint, load_checkpoint, save_checkpoint
from hydra_cnn.checkpoint.sharded import is_dcp_checkpoint, read_provenance
from tests.checkpoint.ckpt_helpers import HTTPTestServer, hashed_name
from tests.checkpoint.sharded_models import Net, batch, make_resnet

WORKER = str(Path(__file__).with_name("sharded_worker.py"))
WORLD = 2


def _lines_logger(name: str) -> tuple[logging.Logger, list[str]]:
    lines: list[str] = []
    log = logging.getLogger(name)
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.Handler()
    handler.emit = lambda record: lines.append(record.getMessage())  # type: ignore[method-assign]
    log.addHandler(handler)
    return log, lines


def _prepare(work: Path) -> None:
    torch.manual_seed(0)
    net = Net()
    with torch.no_grad():
        net.scale.uniform_()
    save_checkpoint(net, work / "full.pth")
    save_checkpoint(net, work / "plain_dcp", sharded=True)  # one process, no process group
    sd = net.state_dict()
    nested = OrderedDict((f"net.{k.replace('fc.', 'old_fc.')}", v) for k, v in sd.items())
    torch.save({"model": nested, "epoch": 3}, work / "nested.pth")
    (work / "bad.pth").write_text("<html>not a checkpoint</html>\n")
    torch.save({k: v for k, v in sd.items() if k != "fc.bias"}, work / "missing_key.pth")
    wrong = dict(sd)
    wrong["fc.weight"] = torch.zeros(2, 5)
    torch.save(wrong, work / "wrong_shape.pth")
    torch.manual_seed(0)
    resnet = make_resnet()
    resnet.init_weights()
    save_checkpoint(resnet, work / "resnet.pth")


@pytest.fixture(scope="module")
def sharded_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, Any]]]:
    work = tmp_path_factory.mktemp("sharded")
    _prepare(work)
    server = HTTPTestServer()
    data = (work / "full.pth").read_bytes()
    url_path = f"/models/{hashed_name('net', data)}"
    server.files[url_path] = data
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "CKPT_WATCHDOG": "150",
           "OMP_NUM_THREADS": "1", "HYDRA_CNN_HOME": str(work / "home"),
           "NO_PROXY": "127.0.0.1", "no_proxy": "127.0.0.1", "SHARDED_URL": server.url(url_path)}
    init_file = work / "store"
    procs = [subprocess.Popen([sys.executable, WORKER, str(r), str(WORLD), str(init_file),
                               str(work)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for r in range(WORLD)]
    results = []
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=200)
            lines = [ln for ln in out.splitlines() if ln.startswith("{")]
            assert proc.returncode == 0 and lines, f"worker failed:\n{err[-4000:]}"
            results.append(json.loads(lines[-1]))
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=10)
        server.close()
    results[0]["requests"] = server.count(url_path)
    return work, results


def test_full_checkpoint_loads_into_a_sharded_model_as_into_a_plain_one(sharded_run) -> None:
    work, results = sharded_run
    log, lines = _lines_logger("plain-load")
    load_checkpoint(Net(), str(work / "full.pth"), logger=log)
    for res in results:
        assert res["is_dtensor"] == "DTensor"
        assert res["load_equal"] and res["prefix_equal"]
        assert res["plain_dcp_equal"]  # a directory saved by one process, resharded over 2
        assert res["forward_after_load"]  # also when a forward left the units unsharded
        # the same report as one process; rank 0 also says what it read
        assert res["load_report"] == (lines if res["rank"] == 0 else lines[-1:])
        assert "hydra_cnn_version" in res["returned_meta"]  # every rank gets the meta


def test_url_and_zoo_name_are_downloaded_by_rank_0_only(sharded_run) -> None:
    _, results = sharded_run
    assert all(res["url_equal"] and res["zoo_equal"] for res in results)
    assert results[0]["requests"] == 1  # one download, by rank 0; the zoo load reused it


def test_pretrained_init_cfg_loads_into_a_sharded_resnet(sharded_run) -> None:
    assert all(res["pretrained_equal"] for res in sharded_run[1])


def test_a_failure_on_rank_0_raises_the_same_error_on_every_rank(sharded_run) -> None:
    _, results = sharded_run
    for key, kind in (("bad_file", "CheckpointFormatError"), ("strict", "StrictLoadError"),
                      ("shape", "StrictLoadError")):
        errors = {res[key] for res in results}
        assert len(errors) == 1, errors  # the same error everywhere (rank 1's file was good)
        assert errors.pop().startswith(kind)
    assert "bad.pth" in results[1]["bad_file"]
    differs = {res["differs"] for res in results}  # found on rank 1: rank 0 raises it too
    assert len(differs) == 1 and "model differs between ranks" in differs.pop()
    assert all(res["strict_report_missing"] == ["fc.bias"] for res in results)
    assert all(res["unchanged_after_errors"] for res in results)


def test_shape_mismatch_skips_that_key_and_loads_the_rest(sharded_run) -> None:
    for res in sharded_run[1]:
        assert any("shape mismatch in 1 key" in ln and "fc.weight" in ln
                   for ln in res["skip_report"]), res["skip_report"]
        values = res["skip_values"]
        assert values.pop("fc.weight") is False and all(values.values())


def test_full_save_from_a_sharded_model_loads_into_a_plain_model(sharded_run) -> None:
    work, results = sharded_run
    assert results[0]["saved_full_files"] == ["saved_full.pth"]  # no temp file left
    ref, out = Net(), Net()
    load_checkpoint(ref, str(work / "full.pth"), logger="silent")
    ckpt = load_checkpoint(out, str(work / "saved_full.pth"), strict=True, logger="silent")
    assert ckpt["meta"]["note"] == "x"
    for k, v in ref.state_dict().items():
        assert torch.equal(out.state_dict()[k], v), k


def test_resume_from_a_sharded_directory_continues_training_identically(sharded_run) -> None:
    work, results = sharded_run
    assert all(res["resume_equal"] for res in results)  # 2 ranks: bit for bit
    assert all(res["dcp_not_dir"].startswith("IsADirectoryError") for res in results)
    dcp = work / "dcp"
    assert is_dcp_checkpoint(dcp)
    record = read_provenance(dcp)
    assert record["world_size"] == WORLD and record["config"] == {"lr": 0.1, "world": WORLD}
    assert record["torch_version"] == torch.__version__ and record["hydra_cnn_version"]
    # into a plain model in one process without a process group (resharded by DCP)
    model = Net()
    optim = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    load_checkpoint(model, str(dcp), optimizer=optim, strict=True, logger="silent")
    for step in (2, 3):
        parts = [batch(step, r, WORLD) for r in range(WORLD)]
        x, y = torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])
        loss = nn.functional.mse_loss(model(x), y)
        optim.zero_grad()
        loss.backward()
        optim.step()
    straight = torch.load(work / "straight.pth", weights_only=True)
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, straight[k], rtol=1e-5, atol=1e-6)


def test_sharded_save_of_a_plain_model_without_process_group(tmp_path: Path) -> None:
    torch.manual_seed(0)
    net, other = Net(), Net()
    save_checkpoint(net, tmp_path / "dir", sharded=True, meta={"epoch": 1})
    save_checkpoint(net, tmp_path / "dir", sharded=True, meta={"epoch": 2})  # replaces it
    out = load_checkpoint(other, str(tmp_path / "dir"), logger="silent")
    assert out["meta"]["epoch"] == 2 and out["provenance"]["world_size"] == 1
    assert all(torch.equal(other.state_dict()[k], v) for k, v in net.state_dict().items())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]
    # prefix and revise_keys map the stored keys as for a file
    child = nn.Sequential(OrderedDict(head=nn.Linear(5, 3)))
    load_checkpoint(child, str(tmp_path / "dir"), revise_keys=[(r"^fc\.", "head.")],
                    logger="silent")
    assert torch.equal(child.head.weight, net.fc.weight)


def test_sharded_checkpoint_errors_name_the_problem(tmp_path: Path) -> None:
    net = Net()
    save_checkpoint(net, tmp_path / "dir", sharded=True)
    with pytest.raises(ValueError, match="holds no optimizer state"):
        load_checkpoint(Net(), str(tmp_path / "dir"),
                        optimizer=torch.optim.SGD(net.parameters(), lr=0.1))
    with pytest.raises(RuntimeError, match="strict=True") as err:
        load_checkpoint(nn.Linear(5, 3), str(tmp_path / "dir"), strict=True)
    assert "unexpected" in str(err.value)
    with pytest.raises(KeyError, match="no 'ema' entry"):
        load_checkpoint(Net(), str(tmp_path / "dir"), state_dict_key="ema")
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "notes.txt").write_text("x")
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_checkpoint(Net(), str(tmp_path / "plain"))
    with pytest.raises(IsADirectoryError, match=r"sharded checkpoint directory.*load_checkpoint"):
        _load_checkpoint(str(tmp_path / "dir"))  # mmcv's reader of files: says what to use
    with pytest.raises(FileExistsError, match="refusing to replace"):
        save_checkpoint(net, tmp_path / "plain", sharded=True)
    with pytest.raises(ValueError, match="checkpoint file"):
        load_checkpoint(Net(), str(tmp_path / "x.pth"),
                        optimizer=torch.optim.SGD(net.parameters(), lr=0.1))
