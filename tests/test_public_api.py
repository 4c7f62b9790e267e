"""The public surface is deliberate: one export map, a stub that agrees with it, every name
importable, moved names still working (with a warning), built-in name lists complete."""

from __future__ import annotations

import ast
import importlib
import re
import warnings
from pathlib import Path

import pytest

import hydra_cnn
import hydra_cnn.checkpoint
from hydra_cnn import configs
from hydra_cnn.families import FAMILIES
from hydra_cnn.registry import family_registry

ROOT = Path(__file__).resolve().parent.parent
PYI = Path(hydra_cnn.__file__).with_suffix(".pyi")


def stub_names(text: str) -> dict[str, str]:
    """Public name -> module of every ``from M import X as X`` in a stub, in any layout."""
    found = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                found[alias.asname or alias.name] = node.module
    return found


def test_stub_reader_keeps_one_line_and_parenthesised_imports() -> None:
    text = "from m import X as X\nfrom n import (\n    Y as Y,\n    Z as Z,\n)\n"
    assert stub_names(text) == {"X": "m", "Y": "n", "Z": "n"}


def test_stub_and_export_map_agree() -> None:
    assert stub_names(PYI.read_text()) == hydra_cnn.EXPORTS
    assert hydra_cnn.__all__ == sorted(hydra_cnn.EXPORTS)


@pytest.mark.parametrize("package", [hydra_cnn, hydra_cnn.checkpoint], ids=lambda m: m.__name__)
def test_every_exported_name_imports_from_its_module(package: object) -> None:
    exports: dict[str, str] = package.EXPORTS  # type: ignore[attr-defined]
    for name, module in exports.items():
        assert not name.startswith("_"), f"private name {name} exported"
        value = getattr(package, name)
        assert value is getattr(importlib.import_module(module), name)
    assert sorted(exports) == package.__all__  # type: ignore[attr-defined]
    assert set(exports) <= set(dir(package))


def test_checkpoint_type_checking_imports_match_its_exports() -> None:
    tree = ast.parse(Path(hydra_cnn.checkpoint.__file__).read_text())
    block = next(n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test))
    declared = {a.asname or a.name: node.module for node in block.body
                if isinstance(node, ast.ImportFrom) for a in node.names}
    assert declared == hydra_cnn.checkpoint.EXPORTS


def test_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'build_norm_layr'"):
        hydra_cnn.build_norm_layr  # noqa: B018


@pytest.mark.parametrize("package", [hydra_cnn, hydra_cnn.checkpoint], ids=lambda m: m.__name__)
def test_moved_names_still_work_with_a_deprecation_warning(package: object) -> None:
    moved: dict[str, str] = package.MOVED  # type: ignore[attr-defined]
    assert moved
    for name, home in moved.items():
        assert name not in package.__all__  # type: ignore[attr-defined]
        with pytest.warns(DeprecationWarning, match=re.escape(f"import it from {home}")):
            value = getattr(package, name)
        assert value is getattr(importlib.import_module(home), name)


def test_every_builtin_config_is_exported_by_configs() -> None:
    for conf in configs.builtin_confs():
        assert conf.__name__ in configs.__all__, f"add {conf.__name__} to hydra_cnn.configs"
        assert getattr(configs, conf.__name__) is conf


def _builtin_names(family: str) -> set[str]:
    reg = family_registry(family)
    return {n for n in reg.names() if reg.is_builtin(n)}


def test_readme_lists_every_builtin_layer_type() -> None:
    text = (ROOT / "README.md").read_text()
    listed = text[text.index("Types: conv"):text.index("Register your own")]
    words = set(re.findall(r"[\w]+", listed))
    for family in ("conv", "norm", "act", "upsample", "padding", "plugin", "dropout"):
        missing = _builtin_names(family) - words
        assert not missing, f"README.md's type list lacks {family} types {sorted(missing)}"


def test_configs_doc_lists_every_builtin_layer_option() -> None:
    text = (ROOT / "docs" / "configs.md").read_text()
    listed = set(re.findall(r"\w+", text[text.index("Option names"):text.index("## Your own")]))
    for conf in configs.builtin_confs():
        group, option = conf._group_, conf._option_  # type: ignore[attr-defined]
        if group in ("layers/conv", "layers/norm", "layers/act", "layers/upsample",
                     "layers/padding"):
            assert option in listed, f"docs/configs.md's option list lacks {group}/{option}"


def test_norm_builder_docstring_lists_every_builtin_norm() -> None:
    doc = hydra_cnn.build_norm_layer.__doc__ or ""
    missing = {n for n in _builtin_names("norm") if f"``{n}``" not in doc}
    assert not missing, f"build_norm_layer's docstring lacks {sorted(missing)}"


def test_import_hydra_cnn_stays_light() -> None:
    import subprocess
    import sys

    code = ("import sys, hydra_cnn; hydra_cnn.register_family; hydra_cnn.EXPORTS; "
            "print(sorted(m for m in ('torch', 'hydra', 'omegaconf') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_family_has_a_registry() -> None:
    for name in FAMILIES:
        assert family_registry(name).family is not None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert hydra_cnn.register_family is not None
