"""One source of truth: registries, dataclasses and shipped YAML options must agree."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hydra_cnn import configs, registry
from hydra_cnn.configs.yaml_files import CONF_DIR, expected_files

SPEC_OPTIONS = {
    "layers/conv": {"conv", "conv1d", "conv2d", "conv3d", "conv_ws", "conv_aws",
                    "conv2d_adaptive_padding", "deconv", "deconv3d"},
    "layers/norm": {"bn", "bn1d", "bn2d", "bn3d", "sync_bn", "gn", "ln", "ln2d", "in", "in1d",
                    "in2d", "in3d"},
    "layers/act": {"relu", "leaky_relu", "prelu", "rrelu", "relu6", "elu", "sigmoid", "tanh",
                   "gelu", "silu", "swish", "hswish", "hsigmoid", "mish", "clamp", "clip"},
    "layers/upsample": {"nearest", "bilinear", "pixel_shuffle", "deconv", "deconv3d"},
    "layers/padding": {"zero", "reflect", "replicate"},
}


def _registry_for(group: str) -> registry.Registry:
    reg = registry.group_registry(group)  # block options (ConvModule, ...): PLUGIN_LAYERS
    assert reg is not None
    return reg


def test_spec_option_names_exist() -> None:
    table = {(g, o) for g, o, _ in configs.option_table()}
    for group, options in SPEC_OPTIONS.items():
        for option in options:
            assert (group, option) in table, f"missing option {group}/{option}"


def test_registries_and_dataclasses_agree() -> None:
    by_group: dict[str, set[str]] = {}
    for conf in configs.builtin_confs():
        if hasattr(conf, "type") and isinstance(conf.type, str):
            by_group.setdefault(conf._group_, set()).add(conf.type)
    for group, types in by_group.items():
        reg = _registry_for(group)
        builtin = {n for n in reg.names() if reg.is_builtin(n)}
        # blocks (ConvModule, ...) and plugins share PLUGIN_LAYERS; each group has its own options
        if group in ("layers/plugin", "layers/block"):
            builtin &= types | by_group["layers/block" if group == "layers/plugin" else "layers/plugin"]
            builtin -= by_group["layers/block" if group == "layers/plugin" else "layers/plugin"]
        assert types == builtin, f"{group}: configs {types ^ builtin} disagree with the registry"


def test_option_names_are_unique_per_group() -> None:
    seen: dict[tuple[str, str], type] = {}
    for group, option, conf in configs.option_table():
        assert (group, option) not in seen, f"{group}/{option} defined twice"
        seen[(group, option)] = conf


def test_yaml_files_match_dataclasses() -> None:
    expected = expected_files()
    for rel, text in expected.items():
        path = CONF_DIR / rel
        assert path.exists(), f"{rel} missing: run `make yaml`"
        assert path.read_text() == text, f"{rel} is stale: run `make yaml`"
    groups = {Path(rel).parts[0] for rel in expected}
    on_disk = {p.relative_to(CONF_DIR) for g in groups for p in (CONF_DIR / g).rglob("*.yaml")}
    assert on_disk == set(expected), f"unexpected YAML files: {on_disk - set(expected)}"


@pytest.mark.parametrize("conf", configs.builtin_confs(), ids=lambda c: c.__name__)
def test_dataclass_is_a_valid_structured_config(conf: type) -> None:
    node = OmegaConf.structured(conf)
    assert OmegaConf.get_type(node) is conf
    assert node._target_.startswith("hydra_cnn.")


def test_every_target_resolves() -> None:
    for conf in configs.builtin_confs():
        module, _, name = conf._target_.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
