"""The example application, run as a user runs it: a subprocess per command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf
from torch import nn

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "train.py"
FAST = ["train.steps=3", "data.num_train=256", "data.num_test=64"]


def _run(*args: str, cwd: Path, timeout: int = 240,
         cmd: list[str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0", "HYDRA_CNN_NO_PROGRESS": "1"}
    return subprocess.run(
        [*(cmd or [sys.executable]), str(APP), *args], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=timeout,
    )


def _model_from(run_dir: Path) -> nn.Module:
    cfg = OmegaConf.load(run_dir / "config.yaml")
    return instantiate(cfg.model)


def test_default_run_learns_and_writes_outputs(tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = _run(f"hydra.run.dir={out}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    for name in ("config.yaml", "model.txt", "init_report.txt", "init_report.json",
                 "metrics.json", "loss.png"):
        assert (out / name).is_file(), name
    metrics = json.loads((out / "metrics.json").read_text())
    # measured: 0.99 after the default 200 steps (chance is 1/6); a wide margin for other CPUs
    assert metrics["test_accuracy"] > 0.8, metrics
    assert str(out) in res.stdout  # tells the user where the outputs are
    report = json.loads((out / "init_report.json").read_text())
    assert report  # every parameter has a writer listed
    assert "Kaiming" in (out / "init_report.txt").read_text()


def test_swap_norm_and_act_everywhere(tmp_path: Path) -> None:
    out = tmp_path / "swap"
    res = _run("model/norm=gn", "model/act=leaky_relu", *FAST, f"hydra.run.dir={out}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    model = _model_from(out)
    kinds = [type(m) for m in model.modules()]
    assert nn.GroupNorm in kinds and nn.LeakyReLU in kinds
    assert not any(issubclass(k, nn.modules.batchnorm._BatchNorm) for k in kinds)
    assert nn.ReLU not in kinds
    assert "BatchNorm" not in (out / "model.txt").read_text()
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["model.norm"], metrics["model.act"]) == ("gn", "leaky_relu")


def test_init_swap_reaches_the_report(tmp_path: Path) -> None:
    out = tmp_path / "xavier"
    res = _run("model/init=xavier", *FAST, f"hydra.run.dir={out}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    text = (out / "init_report.txt").read_text()
    assert "Xavier" in text and "Kaiming" not in text


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_multirun_two_jobs_and_summary(tmp_path: Path, launcher: str) -> None:
    sweep = tmp_path / f"sweep-{launcher}"
    res = _run("-m", "model/act=relu,gelu", *FAST, f"hydra.sweep.dir={sweep}",
               f"hydra/launcher={launcher}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    for job in ("0", "1"):
        assert (sweep / job / "metrics.json").is_file()
    assert "model/act=gelu" in res.stdout and "accuracy" in res.stdout  # the summary table
    assert (sweep / "accuracy.png").is_file()
    rows = json.loads((sweep / "summary.json").read_text())
    assert [r["model.act"] for r in rows] == ["relu", "gelu"]


def test_torchrun_two_processes_one_output_dir(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    out = tmp_path / "ddp"
    res = _run("model/norm=sync_bn", *FAST, f"hydra.run.dir={out}", cwd=tmp_path,
               cmd=[torchrun, "--standalone", "--nproc_per_node=2"])
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    assert "SyncBatchNorm needs CUDA" in res.stderr  # SyncBN became BN on CPU, with a warning
    assert len(list(out.glob("metrics*.json"))) == 1  # only rank 0 wrote outputs


def test_cfg_job_prints_the_typed_config(tmp_path: Path) -> None:
    res = _run("--cfg", "job", "model/norm=gn", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    cfg = OmegaConf.create(res.stdout)
    assert cfg.model.norm_cfg.type == "GN" and cfg.model.norm_cfg.num_groups is None  # automatic groups
    assert cfg.model.depth == 18 and cfg.model.init_cfg.type == "Kaiming"


@pytest.mark.parametrize(
    "override, field",
    [
        ("model.norm_cfg.num_groups=abc", "model.norm_cfg.num_groups"),
        ("model.depht=18", "depht"),
        ("model/norm=gnn", "model/norm"),
    ],
)
def test_bad_override_fails_before_training(tmp_path: Path, override: str, field: str) -> None:
    overrides = ["model/norm=gn", override] if "num_groups" in override else [override]
    res = _run(*overrides, f"hydra.run.dir={tmp_path / 'bad'}", cwd=tmp_path)
    assert res.returncode != 0
    assert field in res.stderr
    assert not (tmp_path / "bad" / "metrics.json").exists()


def test_pretrained_checkpoint_is_loaded(tmp_path: Path) -> None:
    """model.pretrained=<path>: the saved weights end up in the trained run's starting point."""
    first = tmp_path / "first"
    res = _run(*FAST, f"hydra.run.dir={first}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    model = _model_from(first)
    torch.manual_seed(123)
    for p in model.parameters():
        torch.nn.init.normal_(p)
    ckpt = tmp_path / "mine.pth"
    torch.save({"state_dict": model.state_dict()}, ckpt)
    out = tmp_path / "second"
    res = _run("train.steps=0", "data.num_test=64", f"model.pretrained={ckpt}",
               f"hydra.run.dir={out}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    text = (out / "init_report.txt").read_text()
    assert "checkpoint" in text
