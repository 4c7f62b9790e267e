"""Initializers (``KaimingInit``, ``PretrainedInit``, ...), the ``INITIALIZERS`` registry's
members, and :func:`initialize`, which applies init configs to a model.

An init config names an initializer by ``type`` and says where it applies::

    >>> initialize(model, dict(type='Kaiming', layer='Conv2d'))                # every Conv2d
    >>> initialize(model, dict(type='Normal', std=0.01, override=dict(name='fc')))  # model.fc
    >>> initialize(model, [dict(type='Constant', layer='Conv2d', val=1),         # in order
    ...                    dict(type='Constant', layer='BatchNorm2d', val=1, bias=0)])

``layer`` holds class names matched against every class in a module's MRO (so a subclass of
``nn.Conv2d`` matches ``'Conv2d'``, and ``'_BatchNorm'`` matches every batch norm).
``override=dict(name=..., ...)`` re-initialises the submodule ``name`` (a dotted path works
too), every layer with weights in it; with only ``name`` it reuses the parent's initializer.
hydra_cnn adds ``norm``: init configs applied after this one (the shipped ``init`` options use
it to keep norm layers at weight 1, bias 0).

A config may be a dict, an OmegaConf ``DictConfig``, a structured config (``KaimingInitConf()``)
or an initializer object (``KaimingInit(layer='Conv2d')``, what ``instantiate`` makes of an
``init`` option); a list of these applies in order. The caller's config is never mutated.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import logging
import numbers
import warnings
from collections.abc import Mapping
from typing import Any

from torch import nn

from hydra_cnn.init.functions import (
    bias_init_with_prob,
    constant_init,
    kaiming_init,
    normal_init,
    trunc_normal_init,
    uniform_init,
    xavier_init,
)
from hydra_cnn.init.report import (
    CHECKPOINT,
    CONFIG,
    LOADED,
    InitTracker,
    Writer,
    active_tracker,
    tracking,
    update_init_info,
)
from hydra_cnn.registry import INITIALIZERS, ConfigKeyError, build_from_cfg, cfg_to_dict, closest_match

__all__ = [
    "BaseInit",
    "Caffe2XavierInit",
    "ConstantInit",
    "KaimingInit",
    "NormalInit",
    "PretrainedInit",
    "TruncNormalInit",
    "UniformInit",
    "XavierInit",
    "initialize",
    "make_init",
    "update_init_info",
]

logger = logging.getLogger("hydra_cnn.init")

_MISSING = "???"


@functools.lru_cache(maxsize=4096)
def _mro_names(cls: Any) -> frozenset[str]:
    return frozenset(c.__name__ for c in cls.__mro__)


def _module_class_names() -> set[str]:
    """Names of every nn.Module subclass defined so far (to tell a typo from an absent layer)."""
    seen: set[type] = set()
    stack: list[type] = [nn.Module]
    while stack:
        sub: type
        for sub in stack.pop().__subclasses__():
            if sub not in seen:
                seen.add(sub)
                stack.append(sub)
    return {c.__name__ for c in seen} | {"Module"}


def _type_name(cls: type) -> str:
    """The name ``cls`` is registered under in INITIALIZERS (its class name if none)."""
    for name, member in INITIALIZERS.module_dict.items():
        if member is cls:
            return name
    return cls.__name__


def _plain(value: Any) -> Any:
    if type(value).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(value, resolve=True)
    return value


def _check_choice(owner: str, what: str, value: Any, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise ValueError(
            f"{owner} {what} must be one of {', '.join(map(repr, accepted))}, but got {value!r}"
        )


class BaseInit:
    """Base class of the weight initializers: holds ``bias``, ``bias_prob`` and ``layer``.

    Subclasses implement :meth:`init_module` (how one matching module is initialised) and
    :meth:`_report_args`; calling the initializer on a model applies it to every submodule
    whose class (or any class in its MRO) is named in ``layer``.

    Args:
        bias: value for every bias (default 0); a number.
        bias_prob: if set (a float in (0, 1)), the bias becomes
            ``bias_init_with_prob(bias_prob)`` instead (default None).
        layer: class name or list of class names to initialise (default None: nothing, unless
            ``wholemodule`` is set, as for ``override`` targets).

    Attributes:
        wholemodule: initialise every submodule that has a weight or bias, whatever ``layer``.
        override: ``override`` entries (dicts with ``name``) that :func:`initialize` applies
            after this initializer; set by :func:`make_init`.
        norm: initializers :func:`initialize` applies after this one (``norm`` key).

    Example:
        >>> init = ConstantInit(val=1, bias=0, layer=['Conv2d', 'Linear'])
        >>> init(model)                                            # doctest: +SKIP
    """

    override: list[dict[str, Any]] | None = None
    norm: list[Any] | None = None

    def __init__(
        self, *, bias: float = 0, bias_prob: float | None = None,
        layer: str | list[str] | None = None,
    ) -> None:
        name = type(self).__name__
        if isinstance(bias, bool) or not isinstance(bias, numbers.Real):
            raise TypeError(f"{name}: bias must be a number, but got {type(bias).__name__}: {bias!r}")
        if bias_prob is not None:
            if not isinstance(bias_prob, float):
                raise TypeError(
                    f"{name}: bias_prob must be a float, but got {type(bias_prob).__name__}: "
                    f"{bias_prob!r}"
                )
            bias = bias_init_with_prob(bias_prob)
        layer = _plain(layer)
        if layer is None:
            layers: list[str] = []
        elif isinstance(layer, str):
            layers = [layer]
        elif isinstance(layer, list | tuple) and all(isinstance(x, str) for x in layer):
            layers = list(layer)
        else:
            raise TypeError(
                f"{name}: layer must be a str or a list of str (class names), but got "
                f"{type(layer).__name__}: {layer!r}"
            )
        self.bias: float = bias
        self.bias_prob: float | None = bias_prob
        self.layer: list[str] = layers
        self.wholemodule: bool = False

    # -- what subclasses provide ---------------------------------------------------------------
    def init_module(self, module: nn.Module) -> None:
        """Initialise one matching module (its ``weight``/``bias`` may be missing)."""
        raise NotImplementedError(f"{type(self).__name__} must implement init_module()")

    def _report_args(self) -> dict[str, Any]:
        """The arguments shown in the init report."""
        return {"bias": self.bias}

    # -- applying ------------------------------------------------------------------------------
    @property
    def type_name(self) -> str:
        """The registry name of this initializer (``'Kaiming'``)."""
        return _type_name(type(self))

    def report_args(self) -> dict[str, Any]:
        """Arguments for the init report (``bias_prob`` included when it set the bias)."""
        args = self._report_args()
        if self.bias_prob is not None:
            args["bias_prob"] = self.bias_prob
        return args

    def _get_init_info(self) -> str:
        """A one-line description, e.g. ``'KaimingInit: a=0, mode=fan_out, ..., bias=0'``."""
        return f"{type(self).__name__}: " + ", ".join(
            f"{k}={v}" for k, v in self.report_args().items()
        )

    def matches(self, module: nn.Module) -> list[nn.Module]:
        """The submodules of ``module`` this initializer applies to, in ``modules()`` order.

        Warns when no ``layer`` entry matches anything, and when an entry names no
        ``nn.Module`` class at all (a typo), suggesting the closest name.
        """
        if self.wholemodule:
            return list(module.modules())
        wanted = set(self.layer)
        found: set[str] = set()
        hits = []
        for m in module.modules():
            cls: Any = m.__class__
            common = wanted & _mro_names(cls)
            if common:
                hits.append(m)
                found |= common
        missing = [n for n in self.layer if n not in found]
        if missing:
            self._warn_unmatched(module, missing, any_found=bool(found))
        return hits

    def _warn_unmatched(self, module: nn.Module, missing: list[str], any_found: bool) -> None:
        known = _module_class_names()
        where = type(module).__name__
        for n in missing:
            if n not in known:
                hit = closest_match(n, known)
                warnings.warn(
                    f"{self.type_name} init: layer {n!r} names no nn.Module class"
                    + (f"; did you mean {hit!r}?" if hit else "")
                    + f" It matches nothing in {where}.",
                    UserWarning, stacklevel=5,
                )
        if not any_found and all(n in known for n in missing):
            warnings.warn(
                f"{self.type_name} init: layer {self.layer!r} matches no module in {where}, so "
                "it initialises nothing.",
                UserWarning, stacklevel=5,
            )
        elif any_found:
            logger.debug("%s init: layer entries %s are absent from %s", self.type_name, missing,
                         where)

    def __call__(self, module: nn.Module) -> None:
        if not self.wholemodule and not self.layer:
            warnings.warn(
                f"{self.type_name} init has no layer (and is not applied to a whole module), so "
                "it initialises nothing.", UserWarning, stacklevel=2,
            )
            return
        for m in self.matches(module):
            self.init_module(m)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.report_args().items())
        extra = f", layer={self.layer!r}" if self.layer else ""
        extra += ", wholemodule=True" if self.wholemodule else ""
        return f"{type(self).__name__}({args}{extra})"


class ConstantInit(BaseInit):
    """Fill weights with ``val`` and biases with ``bias`` (``Constant``).

    Args:
        val: the weight value (required).
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> ConstantInit(val=1, bias=0, layer='Conv2d')(model)     # doctest: +SKIP
    """

    def __init__(self, val: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(val, bool) or not isinstance(val, numbers.Real):
            raise TypeError(f"ConstantInit: val must be a number, but got {val!r}")
        self.val: float = val

    def init_module(self, module: nn.Module) -> None:
        constant_init(module, self.val, self.bias)

    def _report_args(self) -> dict[str, Any]:
        return {"val": self.val, "bias": self.bias}


class XavierInit(BaseInit):
    """Xavier/Glorot init (``Xavier``; Glorot & Bengio, 2010).

    Args:
        gain: scaling factor (default 1).
        distribution: ``'normal'`` (default) or ``'uniform'``.
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> XavierInit(distribution='uniform', layer='Linear')(model)   # doctest: +SKIP
    """

    def __init__(self, gain: float = 1, distribution: str = "normal", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _check_choice("XavierInit", "distribution", distribution, ("normal", "uniform"))
        self.gain = gain
        self.distribution = distribution

    def init_module(self, module: nn.Module) -> None:
        xavier_init(module, self.gain, self.bias, self.distribution)

    def _report_args(self) -> dict[str, Any]:
        return {"gain": self.gain, "distribution": self.distribution, "bias": self.bias}


class NormalInit(BaseInit):
    """Weights from N(mean, std^2) (``Normal``).

    Args:
        mean: mean (default 0).
        std: standard deviation (default 1).
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> NormalInit(std=0.01, layer='Linear')(model)            # doctest: +SKIP
    """

    def __init__(self, mean: float = 0, std: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.mean = mean
        self.std = std

    def init_module(self, module: nn.Module) -> None:
        normal_init(module, self.mean, self.std, self.bias)

    def _report_args(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "bias": self.bias}


class TruncNormalInit(BaseInit):
    """Weights from N(mean, std^2) truncated to ``[a, b]`` (``TruncNormal``).

    Args:
        mean: mean of the untruncated normal (default 0).
        std: its standard deviation (default 1).
        a: lower cut-off, an absolute value (default -2).
        b: upper cut-off, an absolute value (default 2).
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> TruncNormalInit(std=0.02, layer='Linear')(model)       # doctest: +SKIP
    """

    def __init__(
        self, mean: float = 0, std: float = 1, a: float = -2, b: float = 2, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.mean = mean
        self.std = std
        self.a = a
        self.b = b

    def init_module(self, module: nn.Module) -> None:
        trunc_normal_init(module, self.mean, self.std, self.a, self.b, self.bias)

    def _report_args(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "a": self.a, "b": self.b, "bias": self.bias}


class UniformInit(BaseInit):
    """Weights from U(a, b) (``Uniform``).

    Args:
        a: lower bound (default 0).
        b: upper bound (default 1).
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> UniformInit(a=-0.1, b=0.1, layer='Conv2d')(model)      # doctest: +SKIP
    """

    def __init__(self, a: float = 0, b: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.a = a
        self.b = b

    def init_module(self, module: nn.Module) -> None:
        uniform_init(module, self.a, self.b, self.bias)

    def _report_args(self) -> dict[str, Any]:
        return {"a": self.a, "b": self.b, "bias": self.bias}


class KaimingInit(BaseInit):
    """He/Kaiming init (``Kaiming``; He et al., 2015).

    Args:
        a: negative slope of the rectifier after the layer (``leaky_relu``; default 0).
        mode: ``'fan_out'`` (default, as mmcv) or ``'fan_in'``.
        nonlinearity: the non-linearity's name for the gain (default ``'relu'``).
        distribution: ``'normal'`` (default) or ``'uniform'``.
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> KaimingInit(layer='Conv2d')(model)                     # doctest: +SKIP
    """

    def __init__(
        self,
        a: float = 0,
        mode: str = "fan_out",
        nonlinearity: str = "relu",
        distribution: str = "normal",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        _check_choice(type(self).__name__, "distribution", distribution, ("normal", "uniform"))
        _check_choice(type(self).__name__, "mode", mode, ("fan_in", "fan_out"))
        self.a = a
        self.mode = mode
        self.nonlinearity = nonlinearity
        self.distribution = distribution

    def init_module(self, module: nn.Module) -> None:
        kaiming_init(module, self.a, self.mode, self.nonlinearity, self.bias, self.distribution)

    def _report_args(self) -> dict[str, Any]:
        return {
            "a": self.a, "mode": self.mode, "nonlinearity": self.nonlinearity,
            "distribution": self.distribution, "bias": self.bias,
        }


class Caffe2XavierInit(KaimingInit):
    """Caffe2's "xavier" init (``Caffe2Xavier``): Kaiming uniform with ``a=1``, ``fan_in``,
    ``leaky_relu``; those four arguments are fixed.

    Args:
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> Caffe2XavierInit(layer='Conv2d')(model)                # doctest: +SKIP
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            a=1, mode="fan_in", nonlinearity="leaky_relu", distribution="uniform", **kwargs
        )

    def _report_args(self) -> dict[str, Any]:
        return {"bias": self.bias}


class PretrainedInit:
    """Load weights from a checkpoint (``Pretrained``): a path, URL or zoo name.

    Unlike the other initializers it has no ``layer``: it loads every key the checkpoint and
    the module share (``strict=False``). In a ``BaseModule``'s ``init_cfg`` it applies last,
    after the children's own configs.

    Args:
        checkpoint: what ``hydra_cnn.load_checkpoint`` accepts (``'torchvision://resnet50'``,
            ``'open-mmlab://...'``, a local ``.pth``, an ``https://`` URL).
        prefix: load only the keys under this prefix (``'backbone.'``), with the prefix
            stripped (default None: the whole checkpoint).
        map_location: where tensors are loaded first (default ``'cpu'``).
        zoo: extra zoo entries (name -> URL or path, or a JSON file) for this load only.
        revise_keys: ``(pattern, replacement)`` regex pairs applied to the keys (after
            ``prefix``); default None means ``[(r'^module\\.', '')]``, as ``load_checkpoint``.
        state_dict_key: the checkpoint entry holding the state dict (``'model'``, ...);
            default None finds it (see ``load_checkpoint``).

    Example:
        >>> PretrainedInit('torchvision://resnet50')(model)                  # doctest: +SKIP
        >>> PretrainedInit('detector.pth', prefix='backbone.')(backbone)     # doctest: +SKIP
    """

    override: list[dict[str, Any]] | None = None
    norm: list[Any] | None = None

    def __init__(
        self,
        checkpoint: str,
        prefix: str | None = None,
        map_location: str | None = "cpu",
        zoo: Any = None,
        revise_keys: Any = None,
        state_dict_key: str | None = None,
    ) -> None:
        checkpoint = _plain(checkpoint)
        if not isinstance(checkpoint, str) and not hasattr(checkpoint, "__fspath__"):
            raise TypeError(f"PretrainedInit: checkpoint must be a str or path, got {checkpoint!r}")
        if prefix is not None and not isinstance(prefix, str):
            raise TypeError(f"PretrainedInit: prefix must be a str or None, got {prefix!r}")
        if state_dict_key is not None and not isinstance(state_dict_key, str):
            raise TypeError(f"PretrainedInit: state_dict_key must be a str or None, got "
                            f"{state_dict_key!r}")
        revise_keys = _plain(revise_keys)
        if revise_keys is not None:  # YAML gives [[pattern, replacement], ...]
            pairs: list[Any] = list(revise_keys) if isinstance(revise_keys, (list, tuple)) else [0]
            if not all(isinstance(p, (list, tuple)) and len(p) == 2
                       and all(isinstance(x, str) for x in p) for p in pairs):
                raise TypeError(f"PretrainedInit: revise_keys must be a list of (pattern, "
                                f"replacement) string pairs, got {revise_keys!r}")
            revise_keys = [(p[0], p[1]) for p in pairs]
        self.checkpoint = str(checkpoint)
        self.prefix = prefix
        self.map_location = map_location
        self.zoo = _plain(zoo)
        self.revise_keys: list[tuple[str, str]] | None = revise_keys
        self.state_dict_key = state_dict_key

    @property
    def type_name(self) -> str:
        """The registry name of this initializer (``'Pretrained'``)."""
        return _type_name(type(self))

    def report_args(self) -> dict[str, Any]:
        """Arguments for the init report."""
        args: dict[str, Any] = {"checkpoint": self.checkpoint}
        for key in ("prefix", "revise_keys", "state_dict_key"):
            if getattr(self, key) is not None:
                args[key] = getattr(self, key)
        return args

    def _get_init_info(self) -> str:
        return f"{type(self).__name__}: load from {self.checkpoint}"

    def __call__(self, module: nn.Module) -> None:
        tracker = active_tracker()
        if tracker is not None and tracker.dry_run:
            return  # a meta-device rehearsal reads no checkpoint
        from hydra_cnn.checkpoint import load_checkpoint

        if self.prefix is None:
            logger.info("load model from: %s", self.checkpoint)
        else:
            logger.info("load %s in model from: %s", self.prefix, self.checkpoint)
        load_checkpoint(module, self.checkpoint, map_location=self.map_location, strict=False,
                        logger=logger, revise_keys=self.revise_keys, zoo=self.zoo,
                        state_dict_key=self.state_dict_key, prefix=self.prefix)

    def __repr__(self) -> str:
        return (f"PretrainedInit(checkpoint={self.checkpoint!r}, prefix={self.prefix!r}, "
                f"map_location={self.map_location!r})")


Initializer = BaseInit | PretrainedInit

INITIALIZERS.add_builtin("Constant", ConstantInit)
INITIALIZERS.add_builtin("Xavier", XavierInit)
INITIALIZERS.add_builtin("Normal", NormalInit)
INITIALIZERS.add_builtin("TruncNormal", TruncNormalInit)
INITIALIZERS.add_builtin("Uniform", UniformInit)
INITIALIZERS.add_builtin("Kaiming", KaimingInit)
INITIALIZERS.add_builtin("Caffe2Xavier", Caffe2XavierInit)
INITIALIZERS.add_builtin("Pretrained", PretrainedInit)


# -- building ----------------------------------------------------------------------------------
def _is_initializer(obj: Any) -> bool:
    return isinstance(obj, BaseInit | PretrainedInit)


def _override_items(override: Any) -> list[dict[str, Any]]:
    """Validate ``override`` and return it as a list of fresh dicts."""
    override = _plain(override)
    if override is None:
        return []
    if isinstance(override, Mapping):
        raw = [override]
    elif isinstance(override, list | tuple):
        raw = list(override)
    else:
        raise TypeError(
            f"override must be a dict or a list of dicts, but got {type(override).__name__}: "
            f"{override!r}"
        )
    items: list[dict[str, Any]] = []
    for item in raw:
        if not isinstance(item, Mapping):
            raise TypeError(f"each override must be a dict with a 'name' key, but got {item!r}")
        entry: dict[str, Any] = copy.deepcopy(dict(item))
        if "name" not in entry:
            raise ValueError(
                f"`override` must contain the key 'name' (the attribute to re-initialise), but "
                f"got {entry}"
            )
        if not isinstance(entry["name"], str):
            raise TypeError(f"override name must be a str, but got {entry['name']!r}")
        if len(entry) > 1 and "type" not in entry:
            raise ValueError(
                f"`override` {entry} has arguments but no 'type': give type=... with them, or "
                "only name=... to reuse the parent's initializer and arguments"
            )
        items.append(entry)
    return items


def _as_items(init_cfg: Any, what: str = "init_cfg") -> list[Any]:
    if _is_initializer(init_cfg) or isinstance(init_cfg, Mapping) or (
        dataclasses.is_dataclass(init_cfg) and not isinstance(init_cfg, type)
    ):
        return [init_cfg]
    if isinstance(init_cfg, list | tuple) or type(init_cfg).__name__ == "ListConfig":
        return list(init_cfg)
    raise TypeError(
        f"{what} must be a dict, a DictConfig, a structured init config (e.g. KaimingInitConf()),"
        f" an initializer object or a list of these, but got {type(init_cfg).__name__}: "
        f"{init_cfg!r}"
    )


def _prepare(item: Any) -> Initializer:
    """One config item -> an initializer object (with its override and norm attached)."""
    if _is_initializer(item):
        return item
    if isinstance(item, list | tuple):
        raise TypeError(f"an init config list may not nest lists, but got {item!r}")
    _, data = cfg_to_dict(item, what="init config")
    return make_init(**data)


def make_init(type: Any = None, *, override: Any = None, norm: Any = None,
              **kwargs: Any) -> Initializer:
    """Build the ``INITIALIZERS`` member ``type`` from keyword arguments: the ``init`` options'
    Hydra ``_target_``.

    Args:
        type: registered name (``'Kaiming'``, ``'Constant'``, ..., ``'Pretrained'``) or class.
        override: ``override`` entries (a dict or list of dicts with ``name``) that
            :func:`initialize` applies after this initializer (default None).
        norm: further init configs (a dict, a structured config, an initializer or a list)
            applied after this one; the shipped options set norm layers to weight 1, bias 0
            here (default None).
        **kwargs: the initializer's own arguments (``layer``, ``bias``, ``mode``, ...).

    Returns:
        The initializer object; :func:`initialize` and ``BaseModule(init_cfg=...)`` accept it.

    Example:
        >>> make_init(type='Kaiming', layer=['Conv2d'])
        KaimingInit(a=0, mode='fan_out', nonlinearity='relu', distribution='normal', bias=0, layer=['Conv2d'])
    """
    if type is None:
        raise ConfigKeyError(
            f"init config must contain the key 'type' (one of {', '.join(INITIALIZERS.names())}),"
            f" but got {kwargs!r}"
        )
    kwargs = {k: _plain(v) for k, v in kwargs.items()}
    missing = sorted(k for k, v in kwargs.items() if isinstance(v, str) and v == _MISSING)
    if missing:
        raise ValueError(f"{type} init config: {', '.join(missing)} must be set (got '???')")
    obj = build_from_cfg({"type": type, **kwargs}, INITIALIZERS)
    if not _is_initializer(obj):
        raise TypeError(f"INITIALIZERS type {type!r} built {obj!r}, which is not an initializer")
    items = _override_items(override)
    norms = [_prepare(c) for c in _as_items(_plain(norm), "norm")] if norm is not None else []
    obj.override = items or None
    obj.norm = norms or None
    return obj


# -- applying ----------------------------------------------------------------------------------
def _writer(tracker: InitTracker, owner: nn.Module, obj: Initializer, via: str) -> Writer:
    if isinstance(obj, PretrainedInit):
        return tracker.writer_for(owner, LOADED, CHECKPOINT, obj.report_args(), via)
    return tracker.writer_for(owner, CONFIG, obj.type_name, obj.report_args(), via)


def _resolve(module: nn.Module, item: dict[str, Any]) -> nn.Module:
    name = item["name"]
    try:
        target = module.get_submodule(name)
    except AttributeError:
        target = None
    if target is None:
        children = [n for n, _ in module.named_children()]
        hit = closest_match(name, children)
        raise RuntimeError(
            f"{type(module).__name__} has no submodule {name!r} to override (init_cfg override "
            f"{item}); its children are: {', '.join(children) or 'none'}."
            + (f" Did you mean {hit!r}?" if hit else "")
        )
    return target


def _reuse(obj: Initializer) -> Initializer:
    """The parent initializer, for an override that only gives ``name``."""
    clone = copy.copy(obj)
    clone.override = None
    clone.norm = None
    if isinstance(clone, BaseInit):
        clone.layer = []
    return clone


def apply_inits(module: nn.Module, inits: list[tuple[Initializer, str]],
                tracker: InitTracker) -> None:
    """Apply prepared initializers to ``module`` in order, each in a tracked frame; ``via``
    (the second item) names the config in the report. Used by :func:`initialize` and
    ``BaseModule``."""
    for obj, via in inits:
        is_pretrained = isinstance(obj, PretrainedInit)
        overrides = obj.override or []
        targets = [(item, _resolve(module, item)) for item in overrides]
        has_layer = isinstance(obj, BaseInit) and (bool(obj.layer) or obj.wholemodule)
        if not is_pretrained and not has_layer and not overrides and not obj.norm:
            warnings.warn(
                f"{obj.type_name} init config has neither 'layer' nor 'override', so it "
                f"initialises nothing in {type(module).__name__}; set layer=<class names> or "
                "override=dict(name=<attribute>)",
                UserWarning, stacklevel=4,
            )
            continue
        if is_pretrained or has_layer:
            with tracker.writing(module, _writer(tracker, module, obj, via)):
                obj(module)
        for companion in obj.norm or []:
            with tracker.writing(module, _writer(tracker, module, companion, f"{via}.norm")):
                companion(module)
        for item, target in targets:
            if set(item) == {"name"}:
                sub = _reuse(obj)
            else:
                sub = make_init(**{k: v for k, v in item.items() if k != "name"})
            if isinstance(sub, BaseInit):
                sub.wholemodule = True
            writer = _writer(tracker, module, sub, f"{via}.override[{item['name']}]")
            with tracker.writing(target, writer):
                sub(target)


def prepare_inits(init_cfg: Any, what: str = "init_cfg") -> list[tuple[Initializer, str]]:
    """Turn any accepted init config into ``(initializer, via)`` pairs, validating all of them
    before anything is applied."""
    items = _as_items(init_cfg, what)
    single = len(items) == 1
    return [(_prepare(x), what if single else f"{what}[{i}]") for i, x in enumerate(items)]


def initialize(module: nn.Module, init_cfg: Any, *, report: bool = True) -> None:
    """Initialise ``module`` with one init config or a list of them, applied in order.

    Args:
        module: the model.
        init_cfg: a dict with ``type`` (plus ``layer``, ``override``, ``norm`` and the
            initializer's arguments), a ``DictConfig``, a structured config, an initializer
            object, or a list of these. Never mutated.
        report: record the init report (default True), read back with ``init_report(module)``
            (``BaseModule.init_report()``). A later call adds to the same report.

    Raises:
        TypeError: a config of the wrong type, a bad ``bias``/``bias_prob``/``layer``.
        KeyError: no ``type``, or one not registered.
        ValueError: an ``override`` without ``name``, or with arguments but no ``type``.
        RuntimeError: an ``override`` naming no submodule.

    Example:
        >>> model = nn.Sequential(nn.Conv2d(3, 3, 3), nn.Linear(1, 2))
        >>> initialize(model, dict(type='Constant', layer=['Conv2d', 'Linear'], val=1))
        >>> model[1].weight
        Parameter containing:
        tensor([[1.],
                [1.]], requires_grad=True)
    """
    if not isinstance(module, nn.Module):
        raise TypeError(f"module must be an nn.Module, but got {type(module).__name__}")
    inits = prepare_inits(init_cfg)
    with tracking(module, report=report) as tracker:
        apply_inits(module, inits, tracker)
