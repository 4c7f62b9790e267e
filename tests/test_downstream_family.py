"""A downstream package declares a family in its own code (the docs/architecture.md example)
and gets what hydra_cnn's families get: close-match errors, typed options, validate, the CLI."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "docs" / "examples" / "token_mixer_family.py"
DOC = ROOT / "docs" / "architecture.md"

APP = '''\
import sys
import hydra
import torch
from hydra.core.config_store import ConfigStore
from hydra.utils import instantiate

import token_mixer_family as ext
import hydra_cnn

hydra_cnn.register_configs(aliases={"mixer": "layers/token_mixer"})
ConfigStore.instance().store(name="config", node=ext.BlockConf)


@hydra.main(version_base="1.3", config_path=None, config_name="config")
def main(cfg):
    block = ext.Block(cfg.embed_dims, mixer=instantiate(cfg.mixer))
    out = block(torch.randn(2, 5, cfg.embed_dims))
    print("BUILT", type(block.mixer).__name__, block.mixer.attn.num_heads, tuple(out.shape))


main()
'''

CHECKS = '''\
import io, contextlib
import pytest
import token_mixer_family as ext
import hydra_cnn
from hydra_cnn.cli import main as cli

with pytest.raises(KeyError, match="Did you mean 'SimpleAttention'"):
    ext.TOKEN_MIXERS.build(dict(type="SimpleAtention"), embed_dims=8)
with pytest.raises(hydra_cnn.ConfigValidationError, match="num_head.*Did you mean 'num_heads'"):
    hydra_cnn.validate({"_target_": "token_mixer_family.Block", "embed_dims": 8,
                        "mixer_cfg": {"type": "SimpleAttention", "num_head": 2}})
block = ext.Block(8, mixer_cfg=dict(type="SimpleAttention", num_heads=2))
assert block.mixer.attn.num_heads == 2
out = io.StringIO()
with contextlib.redirect_stdout(out):
    assert cli(["list", "layers/token_mixer"]) == 0
text = out.getvalue()
assert "token mixer registry" in text and "simple_attention" in text, text
assert "token_mixer_family.SimpleAttention" in text, text
print("CHECKED")
'''


def _run(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "script.py").write_text(script)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXAMPLE.parent), str(ROOT)])}
    return subprocess.run([sys.executable, "script.py", *args], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)


def test_doc_shows_the_example_file_exactly() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), re.S)
    assert EXAMPLE.read_text() in blocks, "docs/architecture.md must show token_mixer_family.py"


def test_downstream_family_composes_typed_options_in_a_hydra_app(tmp_path: Path) -> None:
    done = _run(tmp_path, APP, "+mixer=simple_attention", "mixer.num_heads=4",
                "hydra.run.dir=.", "hydra.output_subdir=null")
    assert done.returncode == 0, done.stderr
    assert "BUILT SimpleAttention 4 (2, 5, 16)" in done.stdout


@pytest.mark.parametrize("override, named", [("mixer.num_heads=many", "num_heads"),
                                             ("+mixer=simple_atention", "simple_attention")])
def test_downstream_family_rejects_bad_options_at_compose(tmp_path: Path, override: str,
                                                          named: str) -> None:
    args = ["+mixer=simple_attention", override] if override.startswith("mixer.") else [override]
    done = _run(tmp_path, APP, *args, "hydra.run.dir=.", "hydra.output_subdir=null")
    assert done.returncode != 0
    assert named in done.stderr


def test_downstream_family_gets_errors_validate_and_the_cli(tmp_path: Path) -> None:
    done = _run(tmp_path, CHECKS)
    assert done.returncode == 0, done.stderr
    assert "CHECKED" in done.stdout
