"""The built wheel works from an unrelated folder: options found, typed, aliasable."""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

APP = """\
import hydra, hydra_cnn
from hydra.utils import instantiate
@hydra.main(version_base="1.3", config_path="conf", config_name="config")
def main(cfg): print("BUILT", type(instantiate(cfg.layers.norm)(8)).__name__, hydra_cnn.__file__)
main()
"""
ALIAS_APP = """\
import hydra, hydra_cnn
from hydra.utils import instantiate
hydra_cnn.register_configs(aliases={"model/norm": "layers/norm"})
@hydra.main(version_base="1.3", config_path="conf", config_name="alias")
def main(cfg): print("BUILT", type(instantiate(cfg.model.norm)(8)).__name__)
main()
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the wheel and unpack it into a folder (dependencies come from this venv).

    ``HYDRA_CNN_WHEEL`` names an already built wheel to check instead (noxfile.py sets it: its
    copy of the tests has no source tree to build from).
    """
    tmp = tmp_path_factory.mktemp("wheel")
    if os.environ.get("HYDRA_CNN_WHEEL"):
        wheel = Path(os.environ["HYDRA_CNN_WHEEL"])
    else:
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
             "-q", "-w", str(tmp / "dist")],
            check=True, capture_output=True,
        )
        (wheel,) = (tmp / "dist").glob("hydra_cnn-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "hydra_cnn/py.typed" in names
    assert "hydra_cnn/conf/layers/norm/gn.yaml" in names
    assert "hydra_plugins/hydra_cnn_searchpath/__init__.py" in names
    assert not any(n.startswith("hydra_plugins/__init__") for n in names)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
         str(tmp / "site"), str(wheel)],
        check=True, capture_output=True,
    )
    app = tmp / "app"
    (app / "conf").mkdir(parents=True)
    (app / "app.py").write_text(APP)
    (app / "alias_app.py").write_text(ALIAS_APP)
    (app / "conf" / "config.yaml").write_text("defaults:\n  - layers/norm: bn\n  - _self_\n")
    (app / "conf" / "alias.yaml").write_text("defaults:\n  - model/norm: bn\n  - _self_\n")
    return tmp


def _run(tmp: Path, script: str, *overrides: str) -> subprocess.CompletedProcess[str]:
    # -S: no site processing, so the editable install of the checkout is not seen; the wheel
    # comes first on the path, the test environment's packages after it.
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp / "site"), sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]]
    ), "HYDRA_FULL_ERROR": "0"}
    return subprocess.run(
        [sys.executable, "-S", script, *overrides, "hydra.run.dir=out", "hydra/job_logging=none",
         "hydra/hydra_logging=none"],
        cwd=tmp / "app", env=env, capture_output=True, text=True, timeout=120,
    )


def test_wheel_app_composes_typed_options(installed: Path) -> None:
    ok = _run(installed, "app.py", "layers/norm=gn", "layers.norm.num_groups=2")
    assert ok.returncode == 0, ok.stderr
    assert "BUILT GroupNorm" in ok.stdout
    assert str(installed / "site") in ok.stdout  # the wheel's copy, not the checkout
    assert "deprecat" not in ok.stderr.lower()

    bad = _run(installed, "app.py", "layers/norm=gn", "layers.norm.num_groups=abc")
    assert bad.returncode != 0 and "BUILT" not in bad.stdout
    assert "layers.norm.num_groups" in bad.stderr and "Integer" in bad.stderr

    typo = _run(installed, "app.py", "layers/norm=gn", "layers.norm.num_grups=2")
    assert typo.returncode != 0 and "num_grups" in typo.stderr and "GNConf" in typo.stderr


def test_wheel_alias_groups(installed: Path) -> None:
    ok = _run(installed, "alias_app.py", "model/norm=gn", "model.norm.num_groups=4")
    assert ok.returncode == 0, ok.stderr
    assert "BUILT GroupNorm" in ok.stdout
    bad = _run(installed, "alias_app.py", "model/norm=gn", "model.norm.num_groups=abc")
    assert bad.returncode != 0 and "model.norm.num_groups" in bad.stderr
