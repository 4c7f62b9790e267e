"""`python -m hydra_cnn list|show`: the options a user can pick and what they build."""

from __future__ import annotations

import subprocess
import sys

from omegaconf import OmegaConf


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hydra_cnn", *args], capture_output=True,
                          text=True, timeout=120)


def test_list_and_show() -> None:
    res = _cli("list", "layers/norm")
    assert res.returncode == 0, res.stderr
    assert "ln2d" in res.stdout and "hydra_cnn.bricks.norm.LayerNorm2d" in res.stdout
    res = _cli("show", "LeakyReLU")
    assert res.returncode == 0, res.stderr
    node = OmegaConf.create(res.stdout)
    assert node.type == "LeakyReLU" and node.negative_slope == 0.01


def test_unknown_names_are_one_line_errors() -> None:
    res = _cli("show", "gnn")
    assert res.returncode == 1 and "did you mean 'gn'" in res.stderr
    assert "Traceback" not in res.stderr
    res = _cli("list", "layers/nrom")
    assert res.returncode == 1 and "layers/norm" in res.stderr
