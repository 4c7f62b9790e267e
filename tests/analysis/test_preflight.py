"""hydra/launcher=preflight: one table per sweep, no job run, non-zero exit on a failing job."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import torch
from hydra.core.config_store import ConfigStore

import hydra_cnn
from hydra_cnn.models import ResNet
from tests.test_readme_recipe import _recipe_files

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "examples" / "train.py"


def _run(args: list[str], cwd: Path, script: Path = APP) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    return subprocess.run([sys.executable, str(script), "-m", *args, "hydra/launcher=preflight"],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _rows(stdout: str) -> list[list[str]]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("job "))
    return [re.split(r"\s{2,}", line) for line in lines[start + 1:] if line[:1].isdigit()]


def test_a_good_sweep_is_counted_and_no_job_runs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    res = _run(["model/norm=bn,gn", "model/act=relu,gelu", f"hydra.sweep.dir={sweep}",
                "hydra.launcher.input_shape=[3,32,32]"], cwd=tmp_path)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = _rows(res.stdout)
    assert [r[:3] for r in rows] == [["0", "bn", "relu"], ["1", "bn", "gelu"], ["2", "gn", "relu"],
                                     ["3", "gn", "gelu"]]
    assert all(r[3].endswith(" M") and r[4].endswith("FLOPs") and r[5] == "ok" for r in rows)
    assert "FLOPs (multiply-adds) at input (3, 32, 32)" in res.stdout
    assert not [p for p in sweep.iterdir() if p.is_dir()]  # no job folder: nothing ran
    report = json.loads((sweep / "preflight.json").read_text())
    # the counts are those of the model the job would build (the app's ResNet-18, 32 wide)
    with torch.device("meta"):
        model = ResNet(depth=18, base_channels=32, num_classes=6)
    flops, params = hydra_cnn.get_model_complexity_info(model, (3, 32, 32), False, False)
    assert [(j["params"], j["flops"]) for j in report["jobs"]] == [(params, flops)] * 4
    assert report["seconds"]["compose"] > 0


def test_a_failing_job_is_named_in_the_table_and_the_exit_status(tmp_path: Path) -> None:
    res = _run(["model.depth=18,19", f"hydra.sweep.dir={tmp_path / 's'}",
                "hydra.launcher.input_shape=[3,32,32]"], cwd=tmp_path)
    assert res.returncode == 1
    rows = _rows(res.stdout)
    assert rows[0][:2] == ["0", "18"] and rows[0][4] == "ok"
    assert rows[1][:4] == ["1", "19", "-", "-"]
    assert rows[1][4].startswith("failed:") and "depth" in rows[1][4]
    assert "1 of 2 jobs fail; first, job 1 (model.depth=19)" in res.stderr


def test_own_project_from_the_readme_validates_every_job(tmp_path: Path) -> None:
    for name, code in _recipe_files().items():
        (tmp_path / name).write_text(code)
    env_free = tmp_path / "sweep"
    res = _run(["model/norm=bn,gn", "+model.norm.num_groups=4", f"hydra.sweep.dir={env_free}"],
               cwd=tmp_path, script=tmp_path / "train.py")
    assert res.returncode == 1, res.stdout
    rows = _rows(res.stdout)
    assert rows[0][1] == "bn" and rows[0][4].startswith("failed") and "num_groups" in rows[0][4]
    assert rows[1][1] == "gn" and "validated only" in rows[1][4]  # its model node has no _target_


def test_the_option_lives_in_the_launcher_group_only() -> None:
    import hydra_plugins.hydra_cnn_preflight  # noqa: F401  (what Hydra's plugin scan imports)

    groups = ConfigStore.instance().list("hydra/launcher")
    assert "preflight.yaml" in groups
    assert "preflight" not in ConfigStore.instance().list("")  # nothing at the root


NET_APP = """\
import hydra
import hydra_cnn

hydra_cnn.register_configs()  # opting in also makes hydra/launcher=preflight available


@hydra.main(version_base="1.3", config_path=None, config_name="app")
def main(cfg):
    raise SystemExit("a preflight runs no job")


if __name__ == "__main__":
    from hydra.core.config_store import ConfigStore

    ConfigStore.instance().store(name="app", node={
        "net": {"_target_": "torch.nn.Conv2d", "in_channels": 3, "out_channels": 8,
                "kernel_size": 3}})
    main()
"""


def test_own_project_counts_the_node_named_by_model_key(tmp_path: Path) -> None:
    (tmp_path / "net_app.py").write_text(NET_APP)
    res = _run(["net.out_channels=8,16", "hydra.launcher.model_key=net",
                "hydra.launcher.input_shape=[3,16,16]", f"hydra.sweep.dir={tmp_path / 's'}"],
               cwd=tmp_path, script=tmp_path / "net_app.py")
    assert res.returncode == 0, res.stderr
    jobs = json.loads((tmp_path / "s" / "preflight.json").read_text())["jobs"]
    # Conv2d(3, c, 3) on 16x16: 9*3*c MACs + c bias adds at each of 14*14 positions
    assert [(j["params"], j["flops"]) for j in jobs] == [
        (c * 28, float((27 * c + c) * 196)) for c in (8, 16)]
