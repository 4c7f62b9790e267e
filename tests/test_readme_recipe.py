"""The README's "In your own project" recipe, followed literally in a fresh folder, works."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def _recipe_files() -> dict[str, str]:
    """File name -> code of every block marked ``<!-- own-project: NAME -->`` in the README."""
    text = README.read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- own-project: (\S+) -->\s*```python\n(.*?)```", text, re.S)
    assert blocks, "the README has no own-project recipe"
    return dict(blocks)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("own_project")
    for name, code in _recipe_files().items():
        (folder / name).write_text(code)
    return folder


def _run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run([sys.executable, "train.py", *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=300)


def test_card_command_swaps_norm_and_act(project: Path) -> None:
    out = _run(project, "model/norm=gn", "model/act=leaky_relu")
    assert out.returncode == 0, out.stderr
    # widths 16 and 32: automatic groups fit both
    assert "GroupNorm(16, 16" in out.stdout and "GroupNorm(32, 32" in out.stdout
    assert out.stdout.count("LeakyReLU") == 2 and "BatchNorm" not in out.stdout


def test_help_lists_the_groups_and_nothing_internal(project: Path) -> None:
    out = _run(project, "--help")
    assert out.returncode == 0, out.stderr
    assert re.search(r"^model/norm: bn, bn1d, .*gn, .*ln2d", out.stdout, re.M)
    assert re.search(r"^model/act: .*leaky_relu", out.stdout, re.M)
    assert "_schema" not in out.stdout and "layers/" not in out.stdout


def test_a_wrong_value_fails_at_compose_naming_the_field(project: Path) -> None:
    out = _run(project, "model/norm=gn", "model.norm.num_groups=abc")
    assert out.returncode != 0
    assert "model.norm.num_groups" in out.stderr and "Integer" in out.stderr


def test_six_job_sweep(project: Path, tmp_path: Path) -> None:
    out = _run(project, "-m", "model/norm=bn,gn,in", "model/act=relu,silu",
               f"hydra.sweep.dir={tmp_path}")
    assert out.returncode == 0, out.stderr
    jobs = sorted(p.name for p in tmp_path.iterdir() if p.is_dir() and p.name.isdigit())
    assert jobs == [str(i) for i in range(6)]
    for norm in ("BatchNorm2d", "GroupNorm", "InstanceNorm2d"):
        assert out.stdout.count(norm) >= 2 * 2  # two layers in each of two jobs
    assert out.stdout.count("SiLU") == 3 * 2


def test_init_option_applies_and_the_default_init_is_replaced(project: Path) -> None:
    """The recipe applies model/init after building: the option's initializer wrote the convs
    and the linear, its norm companion the norms; only the norms' running-stat buffers keep
    their constructor values."""
    import ast

    for option, writer in (("xavier", "Xavier"), ("kaiming", "Kaiming")):
        out = _run(project, f"model/init={option}")
        assert out.returncode == 0, out.stderr
        writers = ast.literal_eval(out.stdout.strip().splitlines()[-1])
        # two conv weights, the linear's weight and bias; two norms' weight and bias; the two
        # batch norms' running_mean, running_var and num_batches_tracked buffers
        assert writers == {writer: 4, "Constant": 4, "PyTorch default": 6}
