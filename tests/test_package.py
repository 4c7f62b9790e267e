"""The public namespace: lazy, complete, and light to import."""

from __future__ import annotations

import subprocess
import sys

import pytest

import hydra_cnn

HEAVY = ("torch", "hydra", "omegaconf", "requests", "tqdm", "filelock", "numpy")


# what importing (and using) a piece may not pull in: the torch-free pieces, in one table
LIGHT = {
    "import hydra_cnn": HEAVY,
    "import hydra_cnn.common, hydra_cnn.families": HEAVY,
    "import hydra_cnn.registry": HEAVY,
    "import hydra_cnn.configs; hydra_cnn.configs.option_table()": ("torch", "requests", "tqdm"),
    "import hydra_cnn.configs.init, hydra_cnn.configs.models, hydra_cnn.configs.plugins":
        ("torch", "requests", "tqdm"),
    "import hydra_cnn.configs as c; c.register_configs(groups=['layers/norm', 'init', 'model'])":
        ("torch", "requests", "tqdm"),
}


@pytest.mark.parametrize("code", list(LIGHT), ids=list(LIGHT))
def test_import_is_light(code: str) -> None:
    check = f"import sys; {code}; print([m for m in {LIGHT[code]!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves() -> None:
    missing = []
    for name in hydra_cnn.__all__:
        try:
            getattr(hydra_cnn, name)
        except (AttributeError, ImportError) as exc:
            missing.append(f"{name}: {exc}")
    assert not missing, missing
    assert set(hydra_cnn.__all__) <= set(dir(hydra_cnn))


def test_unknown_name_raises_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        hydra_cnn.nope  # noqa: B018


def test_spec_names_are_exported() -> None:
    for name in (
        "build_conv_layer", "build_norm_layer", "build_activation_layer", "build_upsample_layer",
        "build_padding_layer", "build_plugin_layer", "make_conv", "make_norm", "make_act",
        "make_upsample", "make_padding", "Registry", "build_from_cfg", "CONV_LAYERS",
        "NORM_LAYERS", "ACTIVATION_LAYERS", "UPSAMPLE_LAYERS", "PADDING_LAYERS", "PLUGIN_LAYERS",
        "INITIALIZERS", "MODELS", "infer_abbr", "is_norm", "Scale", "ConvWS2d", "ConvAWS2d",
        "conv_ws_2d", "Conv2dAdaptivePadding", "PixelShufflePack", "HSigmoid", "HSwish", "Swish",
        "Clamp", "LayerNorm2d", "validate", "register_configs", "register_family",
    ):
        assert name in hydra_cnn.__all__, name
    for name in ("GNConf", "LeakyReLUConf", "ConvModuleConf", "KaimingInitConf", "ResNetConf"):
        assert name in hydra_cnn.configs.__all__, name  # the structured configs' home
