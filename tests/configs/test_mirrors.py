"""Every shipped structured config mirrors its target's constructor: one table, every config.

The documented exceptions (SPEC section 5, docs/configs.md), and nothing else:

1. late arguments the caller passes (the family table's ``late``; blocks: in/out channels and
   kernel size; upsample options: ``mode``, the type is the mode) are left out, except a conv's
   geometry (the family's ``block_decides``: ``kernel_size``, ``stride``, ``padding``,
   ``dilation``), which is a field whose ``None`` default means "the block decides";
2. ``inplace: Optional[bool] = None`` means "the block decides";
3. ``GNConf.num_groups: Optional[int] = None`` means automatic groups;

4. a default the family's builder sets (the family table's ``defaults``: norm ``eps=1e-5``,
   mmcv's rule), which the config shares so that every route builds the same layer;

5. a field the installed torch lacks (norm ``bias`` before torch 2.12; the builder adapts it);

plus keys only a builder reads (``requires_grad``, ``type``), a runtime object
(``process_group``), tuples written as lists (YAML has no tuples), the init options' useful
defaults (``layer`` covers convs and linears, ``norm`` keeps norms at 1/0, Caffe2Xavier's fixed
Kaiming arguments) and the fields a preset (``ResNet50Conf``, ``ViTTinyConf``) fixes.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any

import pytest

import hydra_cnn.registry as registry
from hydra_cnn import configs
from hydra_cnn.families import family_for_group

HYDRA_FIELDS = {"_target_", "_partial_", "type"}
# exception 5: fields an older supported torch lacks (torch < 2.12 has no norm bias=); the
# builder adapts them (hydra_cnn.bricks.torch_compat), so the config is the same on every torch
NEWER_THAN_TORCH = {"layers/norm": {"bias"}}
RUNTIME_ONLY = {"process_group"}
INIT_EXTRAS = {"override", "norm", "seed"}  # make_init reads them; not initializer arguments


def _target_class(conf: Any) -> Any:
    family = family_for_group(conf._group_)
    assert family is not None
    if family.target is None:  # blocks target their class directly
        module, _, name = conf._target_.rpartition(".")
        import importlib

        return getattr(importlib.import_module(module), name)
    cls = registry.family_registry(family).get(conf.type)
    assert cls is not None, f"{conf.__name__}: type {conf.type!r} is not registered"
    return cls


def _params(cls: Any, follow_mro: bool = False) -> dict[str, inspect.Parameter]:
    """Constructor parameters; with ``follow_mro``, also those ``**kwargs`` passes to bases
    (initializers take ``BaseInit``'s ``layer``/``bias``/``bias_prob`` that way)."""
    if not follow_mro:
        return {n: p for n, p in inspect.signature(cls).parameters.items()
                if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
    params: dict[str, inspect.Parameter] = {}
    for klass in reversed(cls.__mro__):
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.name != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
                params[p.name] = p
    return params


def _late(conf: Any) -> set[str]:
    family = family_for_group(conf._group_)
    assert family is not None
    late = (set(family.late) - set(family.block_decides)) | set(family.builder_keys)
    if conf._group_ == "layers/upsample":
        late.add("mode")
    return late


@pytest.mark.parametrize("conf", configs.builtin_confs(), ids=lambda c: c.__name__)
def test_dataclass_mirrors_its_target(conf: Any) -> None:
    cls = _target_class(conf)
    params = _params(cls, follow_mro=conf._group_ == "init")
    if conf._group_ == "layers/block" and cls.__name__ == "DepthwiseSeparableConvModule":
        from hydra_cnn import ConvModule  # its **kwargs go to ConvModule (groups is refused)

        params = {**{n: p for n, p in _params(ConvModule).items() if n != "groups"}, **params}
    if conf._group_ == "init" and conf.type == "Caffe2Xavier":
        for fixed in ("a", "mode", "nonlinearity", "distribution"):
            params.pop(fixed, None)
    fields = {f.name for f in dataclasses.fields(conf)} - HYDRA_FIELDS
    fields -= NEWER_THAN_TORCH.get(conf._group_, set()) - set(params)
    expected = set(params) - _late(conf) - RUNTIME_ONLY
    extra_ok = (INIT_EXTRAS if conf._group_ == "init" else set()) | set(
        (family_for_group(conf._group_) or object).builder_keys)  # type: ignore[attr-defined]
    assert fields - extra_ok == expected, (
        f"{conf.__name__}: extra {fields - extra_ok - expected}, missing {expected - fields}")
    instance = conf()
    family = family_for_group(conf._group_)
    forced = dict(family.defaults) if family is not None else {}  # the builder's (norm eps)
    # a preset (a shipped config subclassing another, e.g. ViTTinyConf) fixes the fields it
    # redeclares; the general config it refines is checked against the constructor
    preset = set(inspect.get_annotations(conf)) if any(
        base in configs.builtin_confs() for base in conf.__bases__) else set()
    for name in sorted(expected - preset):
        value, default = getattr(instance, name), forced.get(name, params[name].default)
        if name == "inplace" and conf._group_ == "layers/act":
            assert value is None, "exception 2: the block decides"
        elif family is not None and name in family.block_decides:
            assert value is None, "exception 1: the block decides the conv geometry"
        elif conf is configs.GNConf and name == "num_groups":
            assert value is None, "exception 3: automatic groups"
        elif conf._group_ == "init" and name == "layer":
            assert value, "init options cover convs and linears by default"
        elif default is inspect.Parameter.empty:
            assert value == "???" or (conf._group_ == "model" and name == "depth"), name
        elif isinstance(default, tuple):
            assert list(value) == list(default), name
        else:
            assert value == default, f"{conf.__name__}.{name}: {value!r} != {default!r}"
