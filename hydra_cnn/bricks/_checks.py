"""Argument checks shared by the plugin and dropout layers.

Each raises :class:`~hydra_cnn.common.InvalidTypeError` or
:class:`~hydra_cnn.common.InvalidArgumentError` (both also ``AssertionError``, where mmcv 1.7
asserts) with a message naming the layer, the argument, the value and what is accepted.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from typing import Any

from hydra_cnn.common import InvalidArgumentError, InvalidTypeError

__all__ = ["check_bool", "check_choice", "check_int", "check_real"]


def check_int(owner: str, name: str, value: Any, minimum: int | None = 1) -> int:
    """``value`` as an int, refusing bools, non-integers and values below ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(f"{owner}: {name} must be an int, but got {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidArgumentError(f"{owner}: {name} must be >= {minimum}, but got {value}")
    return int(value)


def check_real(owner: str, name: str, value: Any, low: float | None = None,
               high: float | None = None, *, low_open: bool = False) -> float:
    """``value`` as a float in ``[low, high]`` (``(low, high]`` with ``low_open``); no NaN."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{owner}: {name} must be a number, but got {value!r}")
    number = float(value)
    too_low = low is not None and (number <= low if low_open else number < low)
    if math.isnan(number) or math.isinf(number) or too_low or (high is not None and number > high):
        left = "(" if low_open else "["
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        raise InvalidArgumentError(
            f"{owner}: {name} must be a finite number in {left}{lo}, {hi}], but got {value!r}"
        )
    return number


def check_bool(owner: str, name: str, value: Any) -> bool:
    """``value`` if it is a bool."""
    if not isinstance(value, bool):
        raise InvalidTypeError(f"{owner}: {name} must be True or False, but got {value!r}")
    return value


def check_choice(owner: str, name: str, value: Any, accepted: Iterable[str]) -> str:
    """``value`` if it is one of ``accepted``."""
    options = tuple(accepted)
    if not isinstance(value, str) or value not in options:
        raise InvalidArgumentError(
            f"{owner}: {name} must be one of {', '.join(repr(o) for o in options)}, "
            f"but got {value!r}"
        )
    return value
