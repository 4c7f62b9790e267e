"""The built wheel works from an unrelated folder: opt-in options, typed, aliasable; apps that
do not opt in see nothing of hydra_cnn."""

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
hydra_cnn.register_configs()
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
# an app of someone else's that does not opt in: its own model group has one option
PLAIN_APP = """\
import hydra, hydra_cnn
from hydra_cnn import build_norm_layer, get_torchvision_models
@hydra.main(version_base="1.3", config_path="conf", config_name="plain")
def main(cfg): print("MODEL", cfg.model.name, len(get_torchvision_models()))
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
    assert "hydra_cnn/__init__.pyi" in names
    # every shipped option (rendered from the dataclasses, whatever its group) and every data
    # file of the checkout's conf/ is in the wheel
    from hydra_cnn.configs.yaml_files import expected_files

    shipped = {f"hydra_cnn/conf/{rel.as_posix()}" for rel in expected_files()}
    if (ROOT / "conf").is_dir():
        shipped |= {f"hydra_cnn/conf/{p.relative_to(ROOT / 'conf').as_posix()}"
                    for p in (ROOT / "conf").rglob("*") if p.suffix in (".yaml", ".json")}
    assert "hydra_cnn/conf/layers/norm/gn.yaml" in shipped
    assert "hydra_cnn/conf/zoo/torchvision.json" in names
    assert not shipped - set(names), f"missing from the wheel: {sorted(shipped - set(names))}"
    # one plugin: the preflight launcher (no search-path plugin: apps' config trees unchanged)
    assert {n.split("/")[1] for n in names if n.startswith("hydra_plugins/")} == {
        "hydra_cnn_preflight"}
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target",
         str(tmp / "site"), str(wheel)],
        check=True, capture_output=True,
    )
    app = tmp / "app"
    (app / "conf").mkdir(parents=True)
    (app / "app.py").write_text(APP)
    (app / "alias_app.py").write_text(ALIAS_APP)
    (app / "plain_app.py").write_text(PLAIN_APP)
    (app / "conf" / "model").mkdir()
    (app / "conf" / "model" / "mine.yaml").write_text("name: mine\n")
    (app / "conf" / "plain.yaml").write_text("defaults:\n  - model: mine\n  - _self_\n")
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


def test_wheel_app_that_does_not_opt_in_sees_nothing(installed: Path) -> None:
    ok = _run(installed, "plain_app.py")
    assert ok.returncode == 0, ok.stderr
    assert "MODEL mine" in ok.stdout  # and the zoo maps load from the wheel's data
    helped = _run(installed, "plain_app.py", "--help")
    assert "model: mine" in helped.stdout
    for leaked in ("layers/", "_schema", "resnet", "init:"):
        assert leaked not in helped.stdout
    # hydra_cnn's resnet18 is not an option of this app's model group
    other = _run(installed, "plain_app.py", "model=resnet18")
    assert other.returncode != 0 and "Could not find 'model/resnet18'" in other.stderr


def test_wheel_adds_only_the_preflight_launcher_option(installed: Path) -> None:
    """Hydra's plugin scan finds the launcher in the installed wheel; an app that does not
    opt in sees it only as an option of hydra/launcher, never among its own groups."""
    hydra_help = _run(installed, "plain_app.py", "--hydra-help")
    assert hydra_help.returncode == 0, hydra_help.stderr
    launcher_line = next(line for line in hydra_help.stdout.splitlines()
                         if line.startswith("hydra/launcher:"))
    assert "preflight" in launcher_line
    app_help = _run(installed, "plain_app.py", "--help")
    assert app_help.returncode == 0 and "preflight" not in app_help.stdout
