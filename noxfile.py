"""The compatibility matrix: the test suite against the built wheel, for one Python and torch.

    pip install nox                                   # or: pip install -e '.[dev]'
    nox -s tests -P 3.10 -- torch==2.4.1              # the floor on Python 3.10-3.12
    nox -s tests -P 3.13 -- torch==2.6.0              # the floor on Python 3.13
    nox -s tests -P 3.11                              # torch==2.13.0, the CI pin
    nox -s tests -P 3.10 -- torch==2.4.1 numpy==1.26.4 -- -x tests/bricks
    nox -s minimal -P 3.11                            # without the `examples` extra

Arguments after nox's ``--`` are pip requirements installed before the package (torch first, so
its version is the one asked for; default ``torch==2.13.0``); a second ``--`` starts pytest's
arguments. The session builds the wheel, installs it with every extra into a fresh virtualenv,
copies ``tests/``, ``examples/`` and ``README.md`` to a temporary folder and runs pytest there, so
the tests import the installed package, never the source tree (the session checks that first).

A torch other than the local CPU build comes from PyPI with its CUDA libraries (5-7 GB per
environment): run one environment at a time and delete ``.nox/`` afterwards. Results and how
to read them: docs/compatibility.md.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
DEFAULT_TORCH = "torch==2.13.0"  # the Makefile's TORCH (a local CPU wheel on the dev machines)
EXTRAS = "dev,safetensors,examples"

nox.options.sessions = ["tests"]
nox.options.reuse_existing_virtualenvs = False


def _split(posargs: list[str]) -> tuple[list[str], list[str]]:
    """(pip requirements, pytest arguments): the pytest ones follow a ``--``."""
    if "--" in posargs:
        cut = posargs.index("--")
        return posargs[:cut], posargs[cut + 1:]
    return list(posargs), []


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """Build the wheel, install it with a chosen torch and every extra, run the suite."""
    _suite(session, EXTRAS)


@nox.session(python=PYTHONS)
def minimal(session: nox.Session) -> None:
    """The suite with only the safetensors (and dev) extras: example tests skip with a reason."""
    _suite(session, "dev,safetensors")


def _suite(session: nox.Session, extras: str) -> None:
    requirements, pytest_args = _split(session.posargs)
    if not any(r.split("[")[0].strip().lower().startswith("torch") for r in requirements):
        requirements.insert(0, DEFAULT_TORCH)
    tmp = Path(session.create_tmp()).resolve()
    for sub in ("dist", "suite"):
        shutil.rmtree(tmp / sub, ignore_errors=True)

    # The wheel is built by this session's interpreter from the checkout.
    session.install("setuptools>=77", "wheel")
    session.run("python", "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                "-w", str(tmp / "dist"), str(ROOT))
    (wheel,) = (tmp / "dist").glob("hydra_cnn-*.whl")

    # torch first, alone, so the package's own floor cannot pull a different one; the same
    # requirements again with the package keep the resolver on them.
    session.install(*requirements)
    session.install(f"{wheel}[{extras}]", *requirements)
    session.install("--force-reinstall", "--no-deps", str(wheel))  # a reused venv (-r) too

    suite = tmp / "suite"
    shutil.copytree(ROOT / "tests", suite / "tests",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copytree(ROOT / "examples", suite / "examples",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "outputs", "multirun"))
    shutil.copy2(ROOT / "pyproject.toml", suite / "pyproject.toml")  # pytest's settings only
    shutil.copy2(ROOT / "README.md", suite / "README.md")  # tests/test_readme_recipe.py reads it
    session.chdir(suite)

    session.run(
        "python", "-c",
        "import sys, sysconfig, hydra_cnn, torch, numpy, hydra; from pathlib import Path; "
        "where = Path(hydra_cnn.__file__).resolve(); "
        "site = Path(sysconfig.get_paths()['purelib']).resolve(); "
        "assert where.parent.parent == site, f'hydra_cnn from {where}, not from {site}'; "
        "print('python', sys.version.split()[0], '| torch', torch.__version__, '| numpy', "
        "numpy.__version__, '| hydra', hydra.__version__, '| hydra_cnn from', where.parent)",
    )
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider", *(pytest_args or ["-q"]),
        env={"HYDRA_CNN_WHEEL": str(wheel)},  # tests/test_wheel.py checks this wheel
    )
