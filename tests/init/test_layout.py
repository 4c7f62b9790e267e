"""The module layout of init/, models/ and the ConvModule bricks: one concern per module, no
import cycles (lazy imports inside functions count), no private name imported from another
package, and every import path users had before the split still works."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import hydra_cnn

PACKAGE = Path(hydra_cnn.__file__).parent
OWNED = ("hydra_cnn.init", "hydra_cnn.models", "hydra_cnn.bricks.conv_module",
         "hydra_cnn.bricks.fusion", "hydra_cnn.bricks.block_layers")


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _imports(path: Path, known: set[str]) -> list[tuple[str, str]]:
    """``(module, name)`` for every hydra_cnn import in the file, at any depth, except under
    ``if TYPE_CHECKING:``; ``name`` is ``''`` for a module import."""
    found: list[tuple[str, str]] = []

    class Visitor(ast.NodeVisitor):
        def visit_If(self, node: ast.If) -> None:
            test = node.test
            if getattr(test, "id", getattr(test, "attr", None)) == "TYPE_CHECKING":
                for stmt in node.orelse:
                    self.visit(stmt)
                return
            self.generic_visit(node)

        def visit_Import(self, node: ast.Import) -> None:
            found.extend((a.name, "") for a in node.names if a.name.startswith("hydra_cnn"))

        def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
            mod = node.module or ""
            if mod.startswith("hydra_cnn"):
                for a in node.names:
                    sub = f"{mod}.{a.name}"
                    found.append((sub, "") if sub in known else (mod, a.name))

    Visitor().visit(ast.parse(path.read_text()))
    return found


def _owned(name: str) -> bool:
    return any(name == o or name.startswith(o + ".") for o in OWNED)


def test_no_import_cycle_through_init_models_or_conv_module() -> None:
    mods = _modules()
    graph = {n: {m for m, _ in _imports(p, set(mods)) if m in mods and m != n}
             for n, p in mods.items()}

    def reaches(start: str, goal: str) -> bool:
        seen, stack = set(), [start]
        while stack:
            cur = stack.pop()
            if cur == goal:
                return True
            if cur not in seen:
                seen.add(cur)
                stack.extend(graph[cur])
        return False

    cycles = [(a, b) for a in mods if _owned(a) for b in graph[a]
              if b != a and not a.startswith(b + ".") and reaches(b, a)]
    assert cycles == []


def test_no_private_name_imported_from_another_package() -> None:
    mods = _modules()
    bad = []
    for name, path in mods.items():
        if not _owned(name):
            continue
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for mod, attr in _imports(path, set(mods)):
            other = mod if mods.get(mod, Path()).name == "__init__.py" else mod.rpartition(".")[0]
            # mmcv's own underscore names (``_load_checkpoint_with_prefix``) are public API
            private = (attr.startswith("_") and attr not in hydra_cnn.__all__) or (
                mod.rpartition(".")[2].startswith("_"))
            if private and other != package:
                bad.append(f"{name}: {mod} {attr}")
    assert bad == []


@pytest.mark.parametrize(("old", "names", "home"), [
    ("hydra_cnn.init.initializers", ["initialize", "make_init"], "hydra_cnn.init.apply"),
    ("hydra_cnn.init.initializers", ["update_init_info"], "hydra_cnn.init.tracking"),
    ("hydra_cnn.init.report", ["InitTracker", "Writer", "tracking", "active_tracker",
                               "mark_uninitialized", "update_init_info", "InitEntry",
                               "PYTORCH_DEFAULT", "UNINITIALIZED", "CHECKPOINT"],
     "hydra_cnn.init.tracking"),
])
def test_names_that_moved_still_import_from_their_old_module(old: str, names: list[str],
                                                             home: str) -> None:
    old_mod, home_mod = importlib.import_module(old), importlib.import_module(home)
    for name in names:
        assert getattr(old_mod, name) is getattr(home_mod, name), name
        assert name in old_mod.__all__


def test_public_names_keep_their_homes() -> None:
    for module, name in [("hydra_cnn.init.initializers", "KaimingInit"),
                         ("hydra_cnn.init.initializers", "PretrainedInit"),
                         ("hydra_cnn.init.report", "InitReport"),
                         ("hydra_cnn.init.report", "init_report"),
                         ("hydra_cnn.init.base_module", "BaseModule"),
                         ("hydra_cnn.init.meta", "build_model"),
                         ("hydra_cnn.bricks.conv_module", "ConvModule"),
                         ("hydra_cnn.bricks.fusion", "fuse_conv_bn")]:
        assert getattr(hydra_cnn, name) is getattr(importlib.import_module(module), name)
