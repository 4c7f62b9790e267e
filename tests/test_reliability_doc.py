"""docs/reliability.md names the tests that prove each promise: every one it names exists."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _named_tests(text: str) -> list[tuple[str, str]]:
    """(file under tests/, test name) for each `file::test` and each following `::test`."""
    out: list[tuple[str, str]] = []
    for line in text.splitlines():
        current = ""
        for ref in re.findall(r"`([\w/.]*::\w+)`", line):
            path, name = ref.split("::")
            if path == "file":  # the notation itself, in the introduction
                continue
            if path:
                current = path if "/" in path else f"checkpoint/{path}"
            out.append((current, name))
    return out


def test_every_test_the_reliability_doc_names_exists() -> None:
    refs = _named_tests((ROOT / "docs" / "reliability.md").read_text(encoding="utf-8"))
    assert len(refs) > 100
    missing = []
    for path, name in refs:
        source = ROOT / "tests" / path
        if not source.is_file() or not re.search(rf"^def {name}\(", source.read_text(
                encoding="utf-8"), re.M):
            missing.append(f"{path}::{name}")
    assert not missing, missing
