"""``model.pretrained`` renames keys: a mapping of the Pretrained entry's arguments."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate
from omegaconf import OmegaConf

from hydra_cnn import ResNet
from hydra_cnn.configs import ResNet18Conf


def _trainer_checkpoint(tmp_path: Path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A {'model': sd, 'epoch': 3} file whose classifier keys are 'head.*', as many trainers save."""
    torch.manual_seed(0)
    source = ResNet(depth=18, base_channels=8, num_classes=4)
    sd = {(("head." + k[3:]) if k.startswith("fc.") else k): v for k, v in source.state_dict().items()}
    path = tmp_path / "trainer.pth"
    torch.save({"model": sd, "epoch": 3}, path)
    return path, source.state_dict()


def test_pretrained_mapping_renames_keys_and_finds_the_state_dict(tmp_path: Path) -> None:
    path, expected = _trainer_checkpoint(tmp_path)
    model = ResNet(depth=18, base_channels=8, num_classes=4, pretrained={
        "checkpoint": str(path), "revise_keys": [[r"^head\.", "fc."]], "state_dict_key": "model"})
    model.init_weights()
    for key, value in model.state_dict().items():
        assert torch.equal(value, expected[key]), key


def test_pretrained_mapping_from_a_composed_config(tmp_path: Path) -> None:
    path, expected = _trainer_checkpoint(tmp_path)
    cfg = OmegaConf.structured(ResNet18Conf(base_channels=8, num_classes=4))
    cfg.pretrained = {"checkpoint": str(path), "revise_keys": [[r"^head\.", "fc."]]}
    model = instantiate(cfg)
    model.init_weights()
    assert torch.equal(model.fc.weight, expected["fc.weight"])


def test_pretrained_mapping_needs_a_checkpoint() -> None:
    with pytest.raises(TypeError, match="needs a 'checkpoint' key"):
        ResNet(depth=18, pretrained={"prefix": "backbone."})
