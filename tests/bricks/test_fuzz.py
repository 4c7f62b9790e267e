"""Fuzzed layer configs: malformed layer configs raise only documented errors naming the field."""

from __future__ import annotations

import warnings
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from hydra_cnn import configs
from tests.bricks.cases import CASES, build

DOCUMENTED = (TypeError, KeyError, ValueError)

values = st.one_of(
    st.none(), st.booleans(), st.integers(-4, 64), st.floats(allow_nan=True, width=32),
    st.text(max_size=6), st.lists(st.integers(-2, 8), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
# the config groups the cases cover; each is built through its family (tests.bricks.cases.build)
GROUPS = sorted({c.group for c in CASES})


def _fields(case: Any) -> list[str]:
    conf = configs.schema_for(case.group, case.type)
    assert conf is not None
    return [f for f in conf.__dataclass_fields__ if not f.startswith("_") and f != "type"]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_one_bad_field(data: st.DataObject) -> None:
    case = data.draw(st.sampled_from(CASES))
    names = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)
    key = data.draw(st.one_of(st.sampled_from(_fields(case) or ["x"]), names))
    value = data.draw(values)
    cfg = {"type": case.type, **case.cfg, key: value}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            build(case, cfg)
    except DOCUMENTED as exc:
        assert key in str(exc), f"{type(exc).__name__} does not name {key!r}: {exc}"


@settings(max_examples=200, deadline=None)
@given(group=st.sampled_from(GROUPS), cfg=st.one_of(
    values, st.dictionaries(st.sampled_from(["type", "num_groups", "eps", "inplace", "x"]),
                            values, max_size=3)))
def test_random_configs(group: str, cfg: Any) -> None:
    """Random configs build a module or raise a documented error that says what was wrong."""
    case = next(c for c in CASES if c.group == group)
    before = repr(cfg)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            layer = build(case, cfg)
    except DOCUMENTED as exc:
        text = str(exc)
        named = [k for k in cfg if isinstance(k, str) and k in text] if isinstance(cfg, dict) else []
        # names a key of the config, the unknown type, or what a config must be or contain
        assert named or any(w in text for w in ("config", "type", "registered")), text
    else:
        assert isinstance(layer, nn.Module)
    assert repr(cfg) == before  # never mutated, built or not
