"""Render the shipped YAML options from the dataclasses (the single source of truth).

``python -m hydra_cnn.configs.yaml_files`` (``make yaml``) rewrites the repository's
``conf/<group>/<option>.yaml``; a test fails when the files on disk differ from what this renders.
The files are the readable form of each option: an app that opts in
(:func:`hydra_cnn.register_configs`) gets the dataclasses themselves, so they stay typed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from hydra_cnn.common import conf_dir

__all__ = ["CONF_DIR", "expected_files", "render_option", "write_all"]

CONF_DIR = conf_dir()


def render_option(cls: type) -> str:
    """YAML text of one option: a comment naming its dataclass, then its values."""
    from omegaconf import OmegaConf

    doc = (cls.__doc__ or "").strip().splitlines()[0].replace("``", "")
    body = OmegaConf.to_yaml(OmegaConf.structured(cls))
    return (
        f"# {doc}\n"
        f"# Generated from {cls.__module__}.{cls.__name__} by "
        "`make yaml`; do not edit.\n"
        f"{body}"
    )


def expected_files() -> dict[Path, str]:
    """Path relative to ``conf/`` -> content, for every shipped option."""
    from hydra_cnn.configs.table import builtin_confs

    return {
        Path(c._group_) / f"{c._option_}.yaml": render_option(c)  # type: ignore[attr-defined]
        for c in builtin_confs()
    }


def write_all(root: Path = CONF_DIR) -> list[Path]:
    """Write every option file under ``root``; remove stale generated ones. Returns the paths."""
    files = expected_files()
    groups = {p.parts[0] for p in files}
    for group in groups:
        for old in (root / group).rglob("*.yaml"):
            if old.relative_to(root) not in files and "Generated from" in old.read_text():
                old.unlink()
    written = []
    for rel, text in sorted(files.items()):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


if __name__ == "__main__":
    paths = write_all()
    sys.stdout.write(f"wrote {len(paths)} option files under {CONF_DIR}\n")
