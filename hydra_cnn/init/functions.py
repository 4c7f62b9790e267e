"""Weight-init functions for one module (``constant_init``, ``kaiming_init``, ...), as in mmcv.

Each function writes ``module.weight`` and ``module.bias`` in place and skips either when the
module has none (the attribute is absent or ``None``), so they are safe to apply to any layer::

    >>> from torch import nn
    >>> conv = nn.Conv2d(3, 8, 3)
    >>> kaiming_init(conv)                    # kaiming normal, fan_out, relu; bias 0
    >>> constant_init(nn.BatchNorm2d(8), 1)   # weight 1, bias 0

Defaults are mmcv's (note ``kaiming_init``'s ``mode='fan_out'``, where torch uses ``fan_in``).
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import torch
from torch import nn

from hydra_cnn.common import InvalidArgumentError

__all__ = [
    "bias_init_with_prob",
    "caffe2_xavier_init",
    "constant_init",
    "kaiming_init",
    "normal_init",
    "trunc_normal_",
    "trunc_normal_init",
    "uniform_init",
    "xavier_init",
]

_DISTRIBUTIONS = ("uniform", "normal")
_MODES = ("fan_in", "fan_out")


def _tensor(module: nn.Module, name: str) -> torch.Tensor | None:
    value = getattr(module, name, None)
    return value if isinstance(value, torch.Tensor) else None


def _random_fill(w: torch.Tensor, fill: Any, *args: Any, **kwargs: Any) -> None:
    """``fill(w, *args, **kwargs)``; on a meta tensor, only its checks and a cheap write.

    A meta tensor holds no values, so a random fill there only has to raise what it would
    raise and count as a write (the version bump the init report records). torch runs random
    ops on meta tensors through slow Python decompositions (about 3 ms per ``normal_``), which
    would dominate the meta-device rehearsal of :func:`hydra_cnn.build_model`.
    """
    if w.is_meta:
        fill(torch.empty((1,) * w.dim(), dtype=w.dtype, device="cpu") if w.dim() else
             torch.empty((), dtype=w.dtype, device="cpu"), *args, **kwargs)
        with torch.no_grad():
            w.zero_()
        return
    fill(w, *args, **kwargs)


def _init_bias(module: nn.Module, bias: float) -> None:
    b = _tensor(module, "bias")
    if b is not None:
        nn.init.constant_(b, bias)


def _check_choice(what: str, value: Any, accepted: tuple[str, ...]) -> None:
    if value not in accepted:
        raise InvalidArgumentError(
            f"{what} must be one of {', '.join(repr(a) for a in accepted)}, but got {value!r}"
        )


def constant_init(module: nn.Module, val: float, bias: float = 0) -> None:
    """Fill a module's weight with ``val`` and its bias with ``bias``.

    Args:
        module: the layer (its ``weight``/``bias`` may be missing or None).
        val: the weight value.
        bias: the bias value (default 0).

    Example:
        >>> constant_init(nn.Conv2d(3, 3, 1), 1, 0)
    """
    w = _tensor(module, "weight")
    if w is not None:
        nn.init.constant_(w, val)
    _init_bias(module, bias)


def xavier_init(
    module: nn.Module, gain: float = 1, bias: float = 0, distribution: str = "normal"
) -> None:
    """Glorot/Xavier init of a module's weight (Glorot & Bengio, 2010); bias constant.

    Args:
        module: the layer.
        gain: scaling factor (default 1).
        bias: the bias value (default 0).
        distribution: ``'normal'`` (default) or ``'uniform'``.

    Raises:
        InvalidArgumentError: for another ``distribution`` (a ``ValueError`` and, as mmcv's
            assertion, an ``AssertionError``).

    Example:
        >>> xavier_init(nn.Conv2d(3, 3, 1), distribution='uniform')
    """
    _check_choice("xavier_init distribution", distribution, _DISTRIBUTIONS)
    w = _tensor(module, "weight")
    if w is not None:
        if distribution == "uniform":
            _random_fill(w, nn.init.xavier_uniform_, gain=gain)
        else:
            _random_fill(w, nn.init.xavier_normal_, gain=gain)
    _init_bias(module, bias)


def normal_init(module: nn.Module, mean: float = 0, std: float = 1, bias: float = 0) -> None:
    """Draw a module's weight from N(mean, std^2); bias constant.

    Args:
        module: the layer.
        mean: mean of the normal distribution (default 0).
        std: standard deviation (default 1).
        bias: the bias value (default 0).

    Example:
        >>> normal_init(nn.Conv2d(3, 3, 1), std=0.01)
    """
    w = _tensor(module, "weight")
    if w is not None:
        _random_fill(w, nn.init.normal_, mean, std)
    _init_bias(module, bias)


def trunc_normal_init(
    module: nn.Module,
    mean: float = 0,
    std: float = 1,
    a: float = -2,
    b: float = 2,
    bias: float = 0,
) -> None:
    """Draw a module's weight from N(mean, std^2) truncated to ``[a, b]``; bias constant.

    Args:
        module: the layer.
        mean: mean of the untruncated normal distribution (default 0).
        std: its standard deviation (default 1).
        a: lower cut-off, an absolute value (default -2).
        b: upper cut-off, an absolute value (default 2).
        bias: the bias value (default 0).

    Example:
        >>> trunc_normal_init(nn.Linear(8, 8), std=0.02)
    """
    w = _tensor(module, "weight")
    if w is not None:
        _random_fill(w, trunc_normal_, mean, std, a, b)
    _init_bias(module, bias)


def uniform_init(module: nn.Module, a: float = 0, b: float = 1, bias: float = 0) -> None:
    """Draw a module's weight from U(a, b); bias constant.

    Args:
        module: the layer.
        a: lower bound (default 0).
        b: upper bound (default 1).
        bias: the bias value (default 0).

    Example:
        >>> uniform_init(nn.Conv2d(3, 3, 1), a=-0.1, b=0.1)
    """
    w = _tensor(module, "weight")
    if w is not None:
        _random_fill(w, nn.init.uniform_, a, b)
    _init_bias(module, bias)


def kaiming_init(
    module: nn.Module,
    a: float = 0,
    mode: str = "fan_out",
    nonlinearity: str = "relu",
    bias: float = 0,
    distribution: str = "normal",
) -> None:
    """He/Kaiming init of a module's weight (He et al., 2015); bias constant.

    Args:
        module: the layer.
        a: negative slope of the rectifier after this layer (``leaky_relu`` only; default 0).
        mode: ``'fan_out'`` (default, as mmcv; torch defaults to ``'fan_in'``) or ``'fan_in'``.
        nonlinearity: the non-linearity's name for the gain (default ``'relu'``).
        bias: the bias value (default 0).
        distribution: ``'normal'`` (default) or ``'uniform'``.

    Raises:
        InvalidArgumentError: for another ``distribution`` or ``mode`` (a ``ValueError`` and,
            as mmcv's assertion, an ``AssertionError``).

    Example:
        >>> kaiming_init(nn.Conv2d(3, 3, 1))
    """
    _check_choice("kaiming_init distribution", distribution, _DISTRIBUTIONS)
    _check_choice("kaiming_init mode", mode, _MODES)
    w = _tensor(module, "weight")
    if w is not None:
        fill = nn.init.kaiming_uniform_ if distribution == "uniform" else nn.init.kaiming_normal_
        _random_fill(w, fill, a=a, mode=mode, nonlinearity=nonlinearity)
    _init_bias(module, bias)


def caffe2_xavier_init(module: nn.Module, bias: float = 0) -> None:
    """Caffe2's "xavier" init: ``kaiming_init(a=1, mode='fan_in', nonlinearity='leaky_relu',
    distribution='uniform')``, i.e. U(-sqrt(3/fan_in), sqrt(3/fan_in)).

    Args:
        module: the layer.
        bias: the bias value (default 0).

    Example:
        >>> caffe2_xavier_init(nn.Conv2d(3, 3, 1))
    """
    kaiming_init(
        module, a=1, mode="fan_in", nonlinearity="leaky_relu", bias=bias, distribution="uniform"
    )


def bias_init_with_prob(prior_prob: float) -> float:
    """The bias that makes a sigmoid output ``prior_prob`` (Focal Loss, Lin et al., 2017).

    Args:
        prior_prob: the prior probability, in (0, 1).

    Returns:
        ``-log((1 - prior_prob) / prior_prob)``.

    Example:
        >>> bias_init_with_prob(0.01)
        -4.59511985013459
    """
    if not 0 < prior_prob < 1:
        raise ValueError(f"prior_prob must be in (0, 1), but got {prior_prob!r}")
    return float(-math.log((1 - prior_prob) / prior_prob))


def _norm_cdf(x: float) -> float:
    return (1.0 + math.erf(x / math.sqrt(2.0))) / 2.0


def trunc_normal_(
    tensor: torch.Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0, b: float = 2.0
) -> torch.Tensor:
    """Fill ``tensor`` in place from N(mean, std^2) truncated to ``[a, b]``; return it.

    Inverse-CDF sampling: draw uniformly between the CDF values of ``a`` and ``b`` and map
    back through the normal's inverse CDF, so no value is rejected. Warns when ``mean`` is more
    than 2 std outside ``[a, b]`` (the result is then inaccurate).

    Args:
        tensor: the tensor to fill.
        mean: mean of the untruncated normal (default 0).
        std: its standard deviation (default 1).
        a: lower cut-off, an absolute value (default -2).
        b: upper cut-off, an absolute value (default 2).

    Example:
        >>> trunc_normal_(torch.empty(3, 5), std=0.02, a=-0.04, b=0.04).abs().max() <= 0.04
        tensor(True)
    """
    if not a < b:
        raise ValueError(f"trunc_normal_ needs a < b, but got a={a}, b={b}")
    if std <= 0:
        raise ValueError(f"trunc_normal_ needs std > 0, but got {std}")
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn(
            f"trunc_normal_: mean {mean} is more than 2 std from [a, b] = [{a}, {b}]; "
            "the distribution of values may be incorrect.",
            stacklevel=2,
        )
    lo = _norm_cdf((a - mean) / std)
    hi = _norm_cdf((b - mean) / std)
    with torch.no_grad():
        tensor.uniform_(2 * lo - 1, 2 * hi - 1)  # erfinv maps (-1, 1) onto the real line
        tensor.erfinv_()
        tensor.mul_(std * math.sqrt(2.0))
        tensor.add_(mean)
        tensor.clamp_(min=a, max=b)
    return tensor
