"""The example application, run as a user runs it: a subprocess per command."""

from __future__ import annotations

import importlib.util
import json
import os
import re
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


def _needs(module: str, what: str) -> pytest.MarkDecorator:
    """Skip unless ``module`` (part of the ``examples`` extra) is installed."""
    try:
        missing = importlib.util.find_spec(module) is None
    except ModuleNotFoundError:  # its parent package is missing too
        missing = True
    return pytest.mark.skipif(
        missing, reason=f"{what} is not installed (pip install 'hydra-cnn[examples]')"
    )


NEEDS_MATPLOTLIB = _needs("matplotlib", "matplotlib")
NEEDS_JOBLIB = _needs("hydra_plugins.hydra_joblib_launcher", "hydra-joblib-launcher")
NEEDS_OPTUNA = _needs("hydra_plugins.hydra_optuna_sweeper", "hydra-optuna-sweeper")


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


@NEEDS_MATPLOTLIB
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
    # params and FLOPs of the trained model at the data's input size, in every summary
    from hydra_cnn.analysis.complexity import complexity_summary

    counted = complexity_summary(_model_from(out), (3, 32, 32))
    assert metrics["parameters"] == counted["params"] and metrics["flops"] == counted["flops"]
    size = counted["text"]  # '2.8 M params, 9.94 MFLOPs at input (3, 32, 32)'
    assert "M params" in size and "MFLOPs" in size
    assert (out / "model.txt").read_text().splitlines()[0] == size
    assert (out / "init_report.txt").read_text().startswith(f"Init report of ResNet ({size}):")


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


@NEEDS_MATPLOTLIB
@pytest.mark.parametrize("launcher", ["basic", pytest.param("joblib", marks=NEEDS_JOBLIB)])
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
    assert all(r["flops"] > 0 and r["parameters"] > 0 for r in rows)
    assert re.search(r"params +GFLOPs\n.* 2\.80 M +0\.010\n", res.stdout)


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
        ("+model.init_cfg.foo=1", "model.init_cfg: initializer 'Kaiming' got an unexpected key 'foo'"),
        ("model.init_cfg.type=Kaimin", "Did you mean 'Kaiming'?"),
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


def test_without_matplotlib_the_run_finishes_and_says_so(tmp_path: Path) -> None:
    """A user without the ``examples`` extra: training and outputs, one line for the plots."""
    hidden = tmp_path / "hide" / "matplotlib"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text(
        "raise ModuleNotFoundError(\"No module named 'matplotlib'\", name='matplotlib')\n"
    )
    out = tmp_path / "run"
    env_path = os.pathsep.join(p for p in (str(hidden.parent), os.environ.get("PYTHONPATH")) if p)
    res = subprocess.run(
        [sys.executable, str(APP), *FAST, f"hydra.run.dir={out}"], cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": env_path, "HYDRA_FULL_ERROR": "0"},
        capture_output=True, text=True, timeout=240,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert (out / "metrics.json").is_file() and not (out / "loss.png").exists()
    # (validate's summary line counts skipped config nodes, not plots)
    lines = [ln for ln in res.stdout.splitlines()
             if ("skipped" in ln or "not installed" in ln) and "validate:" not in ln]
    assert lines == ["plots skipped: matplotlib is not installed (pip install 'hydra-cnn[examples]')"]


# --- Optuna (hydra/sweeper=optuna_search, examples/conf/hydra/sweeper/optuna_search.yaml) ------
SEARCHED = {"model/norm": {"bn", "gn", "ln2d"}, "model/act": {"relu", "leaky_relu", "gelu", "silu"},
            "model/init": {"kaiming", "xavier", "normal"}}


@NEEDS_OPTUNA
def test_optuna_option_maximises(tmp_path: Path) -> None:
    res = _run("hydra/sweeper=optuna_search", "--cfg", "hydra", "-p", "hydra.sweeper.direction",
               cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    assert res.stdout.strip() == "maximize"


def _trial_overrides(job: Path) -> dict[str, str]:
    lines = (job / ".hydra" / "overrides.yaml").read_text().splitlines()
    return dict(line[2:].split("=", 1) for line in lines if line.startswith("- "))


@NEEDS_OPTUNA
def test_optuna_study_searches_the_space_and_reports_the_best(tmp_path: Path) -> None:
    sweep = tmp_path / "optuna"
    res = _run("-m", "hydra/sweeper=optuna_search", "hydra.sweeper.n_trials=3", *FAST,
               f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = sorted(p.parent for p in sweep.glob("*/metrics.json"))
    assert len(jobs) == 3
    accuracy = {}
    for job in jobs:
        trial = _trial_overrides(job)
        for group, options in SEARCHED.items():
            assert trial[group] in options, (group, trial)
        assert 0.003 <= float(trial["train.lr"]) <= 0.1
        accuracy[job.name] = json.loads((job / "metrics.json").read_text())["test_accuracy"]
    best_job = max(accuracy, key=lambda k: accuracy[k])
    results = OmegaConf.load(sweep / "optimization_results.yaml")
    assert results.best_value == pytest.approx(max(accuracy.values()))  # maximised, not minimised
    assert f"best: job {best_job}, accuracy {accuracy[best_job]:.3f}" in res.stdout
    # readable labels: floats cut to 3 significant digits in the table
    lrs = re.findall(r"train\.lr=(\S+)", res.stdout.split(" job  overrides", 1)[1])
    assert len(lrs) >= 3 and all(len(v.replace("0.", "").lstrip("0")) <= 3 for v in lrs), lrs


@NEEDS_OPTUNA
def test_optuna_failing_trial_is_recorded_and_the_study_goes_on(tmp_path: Path) -> None:
    """A 3-trial grid over lr {-1, 0.02} x act {relu, gelu}: at least one trial of each kind."""
    sweep = tmp_path / "optuna-fail"
    res = _run("-m", "hydra/sweeper=optuna_search", "hydra/sweeper/sampler=grid",
               "hydra.sweeper.params=null", "train.lr=choice(-1.0,0.02)",
               "model/act=choice(relu,gelu)", "hydra.sweeper.n_trials=3", *FAST,
               f"hydra.sweep.dir={sweep}", cwd=tmp_path, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = json.loads((sweep / "summary.json").read_text())
    assert len(rows) == 3  # the study ran every trial
    failed = [r for r in rows if r["status"] == "failed"]
    done = [r for r in rows if r["status"] == "ok"]
    assert failed and done
    assert all("train.lr=-1.0" in r["overrides"] for r in failed)
    assert all("train.lr=0.02" in r["overrides"] for r in done)
    assert "Invalid learning rate" in res.stdout + res.stderr  # the trial's error, logged
    assert f"failed: {len(failed)} of 3 jobs" in res.stdout
    results = OmegaConf.load(sweep / "optimization_results.yaml")
    assert results.best_params["train.lr"] == 0.02


@pytest.mark.parametrize(
    "override, shown",
    [("train.lr=0.019167438854414746", "train.lr=0.0192"), ("train.lr=-1.0", "train.lr=-1"),
     ("train.steps=200", "train.steps=200"), ("model/norm=gn", "model/norm=gn"),
     ("train.lr=1e-05", "train.lr=1e-05"), ("flag", "flag")],
)
def test_summary_labels_shorten_floats(override: str, shown: str) -> None:
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        from sweep_summary import short_value
    finally:
        sys.path.remove(str(ROOT / "examples"))
    assert short_value(override) == shown


def test_vit_config_trains_with_swapped_layer_options(tmp_path: Path) -> None:
    out = tmp_path / "vit"
    small = ["model.embed_dims=16", "model.num_layers=1", "model.num_heads=2", "model.patch_size=8"]
    res = _run("--config-name", "vit", "model/act=relu", "model.attn_cfg.attn_drop=0.1",
               "model.norm_cfg.eps=1e-6", *small, *FAST, f"hydra.run.dir={out}", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["model"] == "vit_tiny" and metrics["model.attn"] == "mha"
    model = _model_from(out)
    assert type(model).__name__ == "SimpleViT"
    kinds = {type(m) for m in model.modules()}
    assert nn.ReLU in kinds and nn.GELU not in kinds
    assert all(m.eps == 1e-6 for m in model.modules() if isinstance(m, nn.LayerNorm))
    attn = model.encoder.layers[0].attentions[0]
    assert attn.attn.dropout == 0.1 and attn.batch_first


def test_torchrun_fsdp_shards_loads_pretrained_and_saves_from_rank_0(tmp_path: Path) -> None:
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent))
    assert torchrun is not None
    res = _run("--cfg", "job", "model/norm=gn", cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    torch.manual_seed(5)
    plain = instantiate(OmegaConf.create(res.stdout).model)
    plain.init_weights()
    from hydra_cnn.checkpoint import load_checkpoint, save_checkpoint

    save_checkpoint(plain, tmp_path / "pretrained.pth")
    out = tmp_path / "fsdp"
    # lr 0: the weights stay the checkpoint's, so the saved model shows what was loaded
    res = _run("dist=fsdp", "model/norm=gn", f"model.pretrained={tmp_path / 'pretrained.pth'}",
               "train.lr=0.0", "train.weight_decay=0.0", "train.save=full", *FAST,
               f"hydra.run.dir={out}", cwd=tmp_path,
               cmd=[torchrun, "--standalone", "--nproc_per_node=2"])
    assert res.returncode == 0, res.stderr[-3000:]
    metrics = json.loads((out / "metrics.json").read_text())
    assert (metrics["world_size"], metrics["dist"], metrics["model.norm"]) == (2, "fsdp", "gn")
    assert len(list(out.glob("metrics*.json"))) == 1  # only rank 0 wrote outputs
    assert "FSDP" in (out / "model.txt").read_text()  # the model was sharded
    assert "checkpoint" in (out / "init_report.txt").read_text()
    loaded = instantiate(OmegaConf.load(out / "config.yaml").model)
    load_checkpoint(loaded, str(out / "model.pth"), strict=True, logger="silent")
    for key, value in plain.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value), key
