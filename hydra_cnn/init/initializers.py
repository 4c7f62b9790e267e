"""Initializers (``KaimingInit``, ``PretrainedInit``, ...): the ``INITIALIZERS`` registry's
members.

Each initializer is configured once and called on a module; ``layer`` holds class names matched
against every class in a module's MRO (so a subclass of ``nn.Conv2d`` matches ``'Conv2d'``, and
``'_BatchNorm'`` matches every batch norm)::

    >>> KaimingInit(layer='Conv2d')(model)                    # doctest: +SKIP
    >>> ConstantInit(val=1, layer='_BatchNorm')(model)        # doctest: +SKIP

Matching layers are visited as ``nn.Module.apply`` visits them (children before their parent),
so a seeded run draws the same values as mmcv 1.7. Arguments are checked when the initializer
is built, so a config with a bad value fails before anything is written.

:func:`initialize` (which applies init configs with their ``override`` and ``norm`` keys) and
:func:`make_init` live in :mod:`hydra_cnn.init.apply`; they are re-exported here.
"""

from __future__ import annotations

import functools
import logging
import math
import numbers
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import torch
from torch import nn

from hydra_cnn.common import InvalidArgumentError, closest_match
from hydra_cnn.init.apply import (
    Initializer,
    apply_inits,
    initialize,
    make_init,
    plan_inits,
    prepare_inits,
    to_plain,
)
from hydra_cnn.init.functions import (
    bias_init_with_prob,
    constant_init,
    kaiming_init,
    normal_init,
    trunc_normal_init,
    uniform_init,
    xavier_init,
)
from hydra_cnn.init.tracking import active_tracker, update_init_info
from hydra_cnn.registry import INITIALIZERS

__all__ = [
    "BaseInit",
    "Caffe2XavierInit",
    "ConstantInit",
    "Initializer",
    "KaimingInit",
    "NormalInit",
    "PretrainedInit",
    "TruncNormalInit",
    "UniformInit",
    "XavierInit",
    "apply_inits",
    "initialize",
    "make_init",
    "plan_inits",
    "prepare_inits",
    "update_init_info",
]

logger = logging.getLogger("hydra_cnn.init")

_plain = to_plain

#: Nonlinearity names ``torch.nn.init.calculate_gain`` accepts (Kaiming's gain).
NONLINEARITIES = (
    "linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
    "conv_transpose3d", "sigmoid", "tanh", "relu", "leaky_relu", "selu",
)


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


def _children(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """``module.named_children()`` as a list (each child once), without its generator."""
    out = [(n, c) for n, c in module._modules.items() if c is not None]
    if len(out) > 1 and len({id(c) for _, c in out}) < len(out):
        return list(module.named_children())
    return out


def _apply_order(module: nn.Module) -> Iterator[tuple[str, nn.Module]]:
    """``(path, submodule)`` pairs in the order ``module.apply(fn)`` calls ``fn``: each child's
    subtree first, then the module itself (a module registered twice is visited twice, as
    there). Iterative, so deep models do not hit the recursion limit."""
    stack = [("", module, iter(_children(module)))]
    while stack:
        path, m, children = stack[-1]
        for name, child in children:
            sub = f"{path}.{name}" if path else name
            stack.append((sub, child, iter(_children(child))))
            break
        else:
            stack.pop()
            yield path, m


def _number(owner: str, name: str, value: Any) -> float:
    """``value`` if it is a finite real number (not a bool); TypeError/ValueError otherwise."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"{owner}: {name} must be a number, but got {type(value).__name__}: {value!r}"
        )
    if not math.isfinite(value):
        raise ValueError(f"{owner}: {name} must be a finite number, but got {value!r}")
    return value  # type: ignore[return-value]


def _check_choice(owner: str, what: str, value: Any, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise InvalidArgumentError(
            f"{owner} {what} must be one of {', '.join(map(repr, accepted))}, but got {value!r}"
        )


class BaseInit(Initializer):
    """Base class of the weight initializers: holds ``bias``, ``bias_prob`` and ``layer``.

    Subclasses implement :meth:`init_module` (how one matching module is initialised) and
    :meth:`_report_args`; calling the initializer on a model applies it to every submodule
    whose class (or any class in its MRO) is named in ``layer``, children before their parent
    (``nn.Module.apply``'s order, as mmcv).

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
        needs_fan: class attribute, True for initializers that compute fan-in/fan-out
            (``Xavier``, ``Kaiming``): they refuse weights with fewer than 2 dimensions
            before anything is written.

    Example:
        >>> init = ConstantInit(val=1, bias=0, layer=['Conv2d', 'Linear'])
        >>> init(model)                                            # doctest: +SKIP
    """

    needs_fan: ClassVar[bool] = False

    def __init__(
        self, *, bias: float = 0, bias_prob: float | None = None,
        layer: str | list[str] | None = None,
    ) -> None:
        name = type(self).__name__
        if isinstance(bias, bool) or not isinstance(bias, numbers.Real):
            raise TypeError(f"{name}: bias must be a number, but got {type(bias).__name__}: {bias!r}")
        if not math.isfinite(bias):
            raise ValueError(f"{name}: bias must be a finite number, but got {bias!r}")
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

    def applies_by_itself(self) -> bool:
        """Whether it selects layers (``layer`` or ``wholemodule``)."""
        return bool(self.layer) or self.wholemodule

    def for_whole_module(self) -> BaseInit:
        """A copy that initialises every layer with a weight or bias (an ``override`` target)."""
        clone = super().for_whole_module()
        assert isinstance(clone, BaseInit)
        clone.layer = []
        clone.wholemodule = True
        return clone

    def _named_matches(self, module: nn.Module) -> tuple[list[tuple[str, nn.Module]], set[str]]:
        if self.wholemodule:
            return list(_apply_order(module)), set()
        wanted = set(self.layer)
        found: set[str] = set()
        hits = []
        for path, m in _apply_order(module):
            cls: Any = m.__class__
            common = wanted & _mro_names(cls)
            if common:
                hits.append((path, m))
                found |= common
        return hits, found

    def matches(self, module: nn.Module) -> list[nn.Module]:
        """The submodules of ``module`` this initializer applies to, in the order it applies to
        them: ``module.apply``'s order, each child's subtree before its parent.

        Warns when no ``layer`` entry matches anything, and when an entry names no
        ``nn.Module`` class at all (a typo), suggesting the closest name.
        """
        hits, found = self._named_matches(module)
        if not self.wholemodule:
            missing = [n for n in self.layer if n not in found]
            if missing:
                self._warn_unmatched(module, missing, any_found=bool(found))
        return [m for _, m in hits]

    def check(self, module: nn.Module) -> None:
        """Raise ``ValueError`` if a layer it would initialise in ``module`` cannot take it (a
        fan-based init on a weight with fewer than 2 dimensions); writes nothing."""
        if not self.needs_fan or not self.applies_by_itself():
            return
        for path, m in self._named_matches(module)[0]:
            weight = getattr(m, "weight", None)
            if isinstance(weight, torch.Tensor) and weight.dim() < 2:
                where = f"{path!r} ({type(m).__name__})" if path else type(m).__name__
                raise ValueError(
                    f"{self.type_name} init cannot initialise {where} in "
                    f"{type(module).__name__}: its weight has shape {tuple(weight.shape)}, and "
                    f"{self.type_name} computes fan-in/fan-out, which needs at least 2 "
                    "dimensions. Leave it out of layer= (or of the override target), or give it "
                    "an init without fans (Constant, Normal, Uniform, TruncNormal)."
                )

    def touched(self, module: nn.Module) -> list[Any] | None:
        """The weights and biases of the layers it initialises in ``module``."""
        if not self.applies_by_itself():
            return []
        out = []
        for _, m in self._named_matches(module)[0]:
            for attr in ("weight", "bias"):
                t = getattr(m, attr, None)
                if isinstance(t, torch.Tensor):
                    out.append(t)
        return out

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
        if not self.applies_by_itself():
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
        _number("ConstantInit", "val", val)
        self.val: float = val

    def init_module(self, module: nn.Module) -> None:
        constant_init(module, self.val, self.bias)

    def _report_args(self) -> dict[str, Any]:
        return {"val": self.val, "bias": self.bias}


class XavierInit(BaseInit):
    """Xavier/Glorot init (``Xavier``; Glorot & Bengio, 2010).

    Args:
        gain: scaling factor (default 1).
        distribution: ``'normal'`` (default) or ``'uniform'``; another value raises
            ``InvalidArgumentError`` (a ``ValueError`` and, as in mmcv, an ``AssertionError``).
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> XavierInit(distribution='uniform', layer='Linear')(model)   # doctest: +SKIP
    """

    needs_fan = True

    def __init__(self, gain: float = 1, distribution: str = "normal", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _number("XavierInit", "gain", gain)
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
        mean: mean (default 0); a finite number.
        std: standard deviation (default 1); a finite number >= 0.
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> NormalInit(std=0.01, layer='Linear')(model)            # doctest: +SKIP
    """

    def __init__(self, mean: float = 0, std: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _number("NormalInit", "mean", mean)
        if _number("NormalInit", "std", std) < 0:
            raise ValueError(f"NormalInit: std must be >= 0, but got {std!r}")
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
        std: its standard deviation (default 1); > 0.
        a: lower cut-off, an absolute value (default -2).
        b: upper cut-off, an absolute value (default 2); greater than ``a``.
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> TruncNormalInit(std=0.02, layer='Linear')(model)       # doctest: +SKIP
    """

    def __init__(
        self, mean: float = 0, std: float = 1, a: float = -2, b: float = 2, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        for name, value in (("mean", mean), ("std", std), ("a", a), ("b", b)):
            _number("TruncNormalInit", name, value)
        if std <= 0:
            raise ValueError(f"TruncNormalInit: std must be > 0, but got {std!r}")
        if not a < b:
            raise ValueError(f"TruncNormalInit: a must be less than b, but got a={a!r}, b={b!r}")
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
        b: upper bound (default 1); at least ``a``.
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> UniformInit(a=-0.1, b=0.1, layer='Conv2d')(model)      # doctest: +SKIP
    """

    def __init__(self, a: float = 0, b: float = 1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _number("UniformInit", "a", a)
        _number("UniformInit", "b", b)
        if a > b:
            raise ValueError(f"UniformInit: a must be <= b, but got a={a!r}, b={b!r}")
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
        nonlinearity: the non-linearity's name for the gain (default ``'relu'``; one of
            :data:`NONLINEARITIES`).
        distribution: ``'normal'`` (default) or ``'uniform'``. A bad ``mode``,
            ``nonlinearity`` or ``distribution`` raises ``InvalidArgumentError`` (a
            ``ValueError`` and, as in mmcv, an ``AssertionError``).
        **kwargs: ``bias`` (default 0), ``bias_prob``, ``layer``: see :class:`BaseInit`.

    Example:
        >>> KaimingInit(layer='Conv2d')(model)                     # doctest: +SKIP
    """

    needs_fan = True

    def __init__(
        self,
        a: float = 0,
        mode: str = "fan_out",
        nonlinearity: str = "relu",
        distribution: str = "normal",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        owner = type(self).__name__
        _number(owner, "a", a)
        _check_choice(owner, "distribution", distribution, ("normal", "uniform"))
        _check_choice(owner, "mode", mode, ("fan_in", "fan_out"))
        _check_choice(owner, "nonlinearity", nonlinearity, NONLINEARITIES)
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


class PretrainedInit(Initializer):
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
        weights_only: refuse pickles that need globals beyond tensors and plain containers
            (default True); set False (``weights_only: false`` in the config) only for a file
            you trust.

    Example:
        >>> PretrainedInit('torchvision://resnet50')(model)                  # doctest: +SKIP
        >>> PretrainedInit('detector.pth', prefix='backbone.')(backbone)     # doctest: +SKIP
    """

    loads_checkpoint: ClassVar[bool] = True
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
        weights_only: bool = True,
    ) -> None:
        checkpoint = _plain(checkpoint)
        if not isinstance(weights_only, bool):
            raise TypeError(f"PretrainedInit: weights_only must be True or False, got "
                            f"{weights_only!r}")
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
        self.weights_only = weights_only

    @property
    def type_name(self) -> str:
        """The registry name of this initializer (``'Pretrained'``)."""
        return super().type_name

    def report_args(self) -> dict[str, Any]:
        """Arguments for the init report."""
        args: dict[str, Any] = {"checkpoint": self.checkpoint}
        for key in ("prefix", "revise_keys", "state_dict_key"):
            if getattr(self, key) is not None:
                args[key] = getattr(self, key)
        if not self.weights_only:
            args["weights_only"] = False
        return args

    def _get_init_info(self) -> str:
        return f"{type(self).__name__}: load from {self.checkpoint}"

    def touched(self, module: nn.Module) -> list[Any] | None:
        """Nothing to snapshot: a failing ``load_checkpoint`` leaves the model unchanged."""
        return []

    def __call__(self, module: nn.Module) -> None:
        tracker = active_tracker()
        if tracker is not None and tracker.dry_run:
            return  # a meta-device rehearsal reads no checkpoint
        from hydra_cnn.checkpoint import UnsafeCheckpointError, load_checkpoint

        if self.prefix is None:
            logger.info("load model from: %s", self.checkpoint)
        else:
            logger.info("load %s in model from: %s", self.prefix, self.checkpoint)
        try:
            load_checkpoint(module, self.checkpoint, map_location=self.map_location,
                            strict=False, logger=logger, revise_keys=self.revise_keys,
                            zoo=self.zoo, state_dict_key=self.state_dict_key,
                            prefix=self.prefix, weights_only=self.weights_only)
        except UnsafeCheckpointError as err:
            where = ("set weights_only: false on its Pretrained init config (init_cfg=dict("
                     "type='Pretrained', checkpoint=..., weights_only=False); for a model's "
                     "pretrained argument use the mapping form pretrained=dict(checkpoint=..., "
                     "weights_only=False), on the command line "
                     "'model.pretrained={checkpoint: PATH, weights_only: false}')")
            raise UnsafeCheckpointError(
                str(err).replace("pass weights_only=False", where)) from err

    def __repr__(self) -> str:
        return (f"PretrainedInit(checkpoint={self.checkpoint!r}, prefix={self.prefix!r}, "
                f"map_location={self.map_location!r})")


INITIALIZERS.add_builtin("Constant", ConstantInit)
INITIALIZERS.add_builtin("Xavier", XavierInit)
INITIALIZERS.add_builtin("Normal", NormalInit)
INITIALIZERS.add_builtin("TruncNormal", TruncNormalInit)
INITIALIZERS.add_builtin("Uniform", UniformInit)
INITIALIZERS.add_builtin("Kaiming", KaimingInit)
INITIALIZERS.add_builtin("Caffe2Xavier", Caffe2XavierInit)
INITIALIZERS.add_builtin("Pretrained", PretrainedInit)
