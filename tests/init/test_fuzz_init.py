"""Fuzzed init configs: malformed ones raise documented errors naming the field."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from hydra_cnn import initialize

DOCUMENTED = (TypeError, KeyError, ValueError, RuntimeError)
TYPES = ["Constant", "Xavier", "Normal", "TruncNormal", "Uniform", "Kaiming", "Caffe2Xavier"]
FIELDS = ["val", "bias", "bias_prob", "layer", "gain", "distribution", "mean", "std", "a", "b",
          "mode", "nonlinearity", "override"]

values = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3), st.floats(-2, 2, allow_nan=False),
    st.sampled_from(["Conv2d", "Linear", "normal", "uniform", "fan_in", "relu", "nope", ""]),
    st.lists(st.sampled_from(["Conv2d", "Linear", "BatchNorm2d", "Nope"]), max_size=3),
    st.dictionaries(st.sampled_from(["name", "type", "val"]),
                    st.sampled_from(["fc", "conv", "Constant", 1, "zz"]), max_size=3),
)


def _net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Flatten(), nn.Linear(4, 2))


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(type_=st.one_of(st.sampled_from(TYPES), st.from_regex(r"[A-Za-z]{1,6}", fullmatch=True)),
       key=st.sampled_from(FIELDS), value=values)
def test_one_bad_field(type_: str, key: str, value: Any) -> None:
    cfg = {"type": type_, "layer": ["Conv2d", "Linear"], "val": 1.0}
    cfg[key] = value
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            initialize(_net(), cfg)
    except DOCUMENTED as exc:
        text = str(exc)
        assert key in text or repr(type_) in text or repr(value) in text, f"{type(exc).__name__}: {text}"
