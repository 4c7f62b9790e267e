"""One source of truth: registries, dataclasses and shipped YAML options must agree."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import sys
from pathlib import Path

import pytest
from omegaconf import OmegaConf

from hydra_cnn import configs, registry
from hydra_cnn.configs.layers import LAYER_CONFS
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
HYDRA_FIELDS = {"_target_", "_partial_", "type"}
# arguments the caller passes at build time, per group (exception 1 of the contract)
LATE = {
    "layers/conv": {"in_channels", "out_channels", "kernel_size", "stride", "padding"},
    "layers/norm": {"num_features", "num_channels", "normalized_shape"},
    "layers/act": set(),
    "layers/upsample": {"in_channels", "out_channels", "kernel_size", "stride", "padding", "mode"},
    "layers/padding": {"padding"},
}
BUILDER_KEYS = {"layers/norm": {"requires_grad"}}
RUNTIME_ONLY = {"process_group"}
# exception 4: fields an older supported torch lacks (torch < 2.12 has no norm bias=); the
# builder adapts them (hydra_cnn.bricks.torch_compat), so the config is the same on every torch
NEWER_THAN_TORCH = {"layers/norm": {"bias"}}


def _registry_for(group: str) -> registry.Registry:
    return getattr(registry, configs.GROUP_REGISTRY[group])  # type: ignore[no-any-return]


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


@pytest.mark.parametrize("conf", LAYER_CONFS, ids=lambda c: c.__name__)
def test_dataclass_mirrors_signature(conf: type) -> None:
    group = conf._group_
    cls = _registry_for(group).get(conf.type)
    assert cls is not None
    params = {
        n: p for n, p in inspect.signature(cls).parameters.items()
        if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    expected = set(params) - LATE[group] - RUNTIME_ONLY
    fields = {f.name: f for f in dataclasses.fields(conf)}
    got = set(fields) - HYDRA_FIELDS - BUILDER_KEYS.get(group, set())
    got -= NEWER_THAN_TORCH.get(group, set()) - set(params)
    assert got == expected, f"{conf.__name__}: extra {got - expected}, missing {expected - got}"
    instance = conf()
    for name in expected:
        default = getattr(instance, name)
        if name == "inplace":
            assert default is None  # exception 2: the block decides
        elif conf is configs.GNConf and name == "num_groups":
            assert default == 32  # exception 3
        elif params[name].default is inspect.Parameter.empty:
            assert default == "???", f"{conf.__name__}.{name} is required: MISSING expected"
        else:
            assert params[name].default == default, f"{conf.__name__}.{name}"


@pytest.mark.parametrize("conf", configs.builtin_confs(), ids=lambda c: c.__name__)
def test_dataclass_is_a_valid_structured_config(conf: type) -> None:
    node = OmegaConf.structured(conf)
    assert OmegaConf.get_type(node) is conf
    assert node._target_.startswith("hydra_cnn.")


def test_configs_package_does_not_import_torch() -> None:
    import subprocess

    code = (
        "import sys, hydra_cnn.configs as c; c.option_table(); "
        "import hydra_plugins.hydra_cnn_searchpath; "
        "print(','.join(m for m in ('torch',) if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_every_target_resolves() -> None:
    for conf in configs.builtin_confs():
        module, _, name = conf._target_.rpartition(".")
        assert callable(getattr(importlib.import_module(module), name))
