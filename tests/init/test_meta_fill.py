"""Random inits on meta tensors: the same checks as on real ones, a recorded write, no slow op."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from hydra_cnn import kaiming_init, normal_init, trunc_normal_init, uniform_init, xavier_init


@pytest.mark.parametrize("fn", [kaiming_init, normal_init, trunc_normal_init, uniform_init,
                                xavier_init])
def test_meta_weight_counts_as_written(fn: object) -> None:
    with torch.device("meta"):
        conv = nn.Conv2d(8, 8, 3)
    before = conv.weight._version
    fn(conv)  # type: ignore[operator]
    assert conv.weight._version > before
    assert conv.weight.is_meta


def test_meta_and_real_raise_the_same_errors() -> None:
    class OneD(nn.Module):
        def __init__(self, device: str) -> None:
            super().__init__()
            self.weight = nn.Parameter(torch.empty(4, device=device))

    for device in ("cpu", "meta"):
        with pytest.raises(ValueError, match="fewer than 2 dimensions"):
            xavier_init(OneD(device))
        with pytest.raises(ValueError, match="Unsupported nonlinearity nope"):
            kaiming_init(nn.Conv2d(2, 2, 1, device=device), nonlinearity="nope")
