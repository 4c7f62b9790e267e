"""The import stack is strict: common <- registry <- configs <- bricks <- init <- models,
checkpoint <- cli. Checked on the source, so a violation fails here before it becomes a cycle.
The source is the package that is imported: the checkout, or the installed wheel under nox."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

# found without importing it; under nox the suite runs away from the checkout, on the wheel
_SPEC = importlib.util.find_spec("hydra_cnn")
assert _SPEC is not None and _SPEC.origin is not None
PKG = Path(_SPEC.origin).resolve().parent

# the layer of each top-level piece; a module may import only from its own layer or below
LAYERS = {
    "common": 0, "families": 0, "mmcv_ops": 0, "registry": 1, "configs": 2, "validation": 3,
    # bricks and init share a layer: the transformer bricks are BaseModules (as in mmcv)
    "bricks": 4, "init": 4, "checkpoint": 4, "models": 5, "analysis": 5,
    "cli": 6, "__main__": 7, "__init__": 7,
}


def _module_name(path: Path) -> str:
    rel = path.relative_to(PKG.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _piece(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(module, names, line) of every hydra_cnn import outside ``if TYPE_CHECKING:`` blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hydra_cnn"):
            base = PKG.parent / node.module.replace(".", "/")
            subs = [a.name for a in node.names
                    if (base / f"{a.name}.py").exists() or (base / a.name / "__init__.py").exists()]
            found += [(f"{node.module}.{name}", [], node.lineno) for name in subs]
            rest = [a.name for a in node.names if a.name not in subs]
            if rest:
                found.append((node.module, rest, node.lineno))
        elif isinstance(node, ast.Import):
            found += [(a.name, [], node.lineno) for a in node.names if a.name.startswith("hydra_cnn")]
    return found


# names of the public API that keep mmcv's leading underscore (_load_checkpoint, ...)
PUBLIC_API = {line.split(" as ")[0].strip() for line in (PKG / "__init__.pyi").read_text().splitlines()
              if " as " in line and line.strip().startswith("_")}
SOURCES = sorted(p for p in PKG.rglob("*.py") if "conf" not in p.relative_to(PKG).parts[:1])


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_imports_only_from_lower_layers(path: Path) -> None:
    here = _module_name(path)
    for module, _names, line in _imports(path):
        if module == "hydra_cnn":
            raise AssertionError(f"{here}:{line} imports the top-level package")
        assert LAYERS[_piece(module)] <= LAYERS[_piece(here)], (
            f"{here}:{line} imports {module}, a higher layer")


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PKG)))
def test_no_private_name_crosses_a_package(path: Path) -> None:
    here = _module_name(path)
    for module, names, line in _imports(path):
        same_package = module.rsplit(".", 1)[0] == here.rsplit(".", 1)[0] or module.startswith(here)
        if same_package:
            continue
        private = [n for n in names if n.startswith("_") and not n.endswith("__")
                   and n not in PUBLIC_API]
        private_module = [p for p in module.split(".") if p.startswith("_")]
        assert not private and not private_module, (
            f"{here}:{line} imports private {private or private_module} from {module}")


def test_no_import_cycles_between_modules() -> None:
    graph: dict[str, set[str]] = {}
    for path in SOURCES:
        here = _module_name(path)
        graph[here] = {m for m, _, _ in _imports(path) if m != here}
    seen: dict[str, int] = {}  # 1 = on the stack, 2 = done

    def visit(node: str, stack: list[str]) -> None:
        seen[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if nxt not in graph:
                continue
            if seen.get(nxt) == 1:
                cycle = [*stack[stack.index(nxt):], nxt] if nxt in stack else [node, nxt]
                raise AssertionError(f"import cycle: {' -> '.join(cycle)}")
            if nxt not in seen:
                visit(nxt, [*stack, nxt])
        seen[node] = 2

    for node in sorted(graph):
        if node not in seen:
            visit(node, [node])


def test_registry_imports_no_configs_hydra_or_omegaconf() -> None:
    text = (PKG / "registry.py").read_text(encoding="utf-8")
    tree = ast.parse(text)
    top = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    names = {(n.module if isinstance(n, ast.ImportFrom) else n.names[0].name) or "" for n in top}
    assert not any(m.startswith(("hydra_cnn.configs", "hydra.", "omegaconf", "torch")) or m == "hydra"
                   for m in names), names
