"""What the installed torch accepts: feature checks for the range of torch versions supported.

hydra_cnn supports torch from 2.4 (2.6 on Python 3.13; see ``docs/compatibility.md``). Some
constructor arguments that the typed configs mirror exist only in newer torch releases; the
builders ask this module instead of comparing version numbers, because a feature check is
right for every build of torch (release, nightly, vendor fork).

    >>> from torch import nn
    >>> from hydra_cnn.bricks.torch_compat import accepts_argument
    >>> accepts_argument(nn.LayerNorm, "bias")
    True

Known gaps, oldest supported torch first:

- ``bias`` of ``BatchNorm*``, ``SyncBatchNorm``, ``GroupNorm`` and ``InstanceNorm*`` (torch
  2.12): the norm configs carry ``bias: true``; on an older torch the builder leaves the default
  ``bias=True`` out (the layer has a learnable shift, as before), and ``bias=False`` is an error
  (see :func:`adapt_norm_bias`).
- ``torch.load(weights_only=True)`` has published vulnerabilities before torch 2.10
  (CVE-2025-32434, code execution, fixed in 2.6; CVE-2026-24747, memory corruption, fixed in
  2.10): :func:`weights_only_advisory` says so, for loaders to warn before unpickling a file.
"""

from __future__ import annotations

import functools
import inspect
import re
from typing import Any

from hydra_cnn.common import InvalidArgumentError

__all__ = [
    "NORM_BIAS_SINCE",
    "SAFE_WEIGHTS_ONLY_SINCE",
    "TorchFeatureError",
    "accepts_argument",
    "adapt_norm_bias",
    "parse_version",
    "torch_version",
    "weights_only_advisory",
]

#: The first torch release whose BatchNorm, GroupNorm and InstanceNorm take ``bias=``.
NORM_BIAS_SINCE = (2, 12)
#: The first torch release without a published flaw in ``torch.load(weights_only=True)``.
SAFE_WEIGHTS_ONLY_SINCE = (2, 10)


class TorchFeatureError(InvalidArgumentError):
    """A config asks for something the installed torch cannot do (names the version and a way out).

    A ``ValueError`` (and, like hydra_cnn's other invalid-argument errors, an ``AssertionError``).
    """


def torch_version() -> tuple[int, int, int]:
    """The installed torch's ``(major, minor, patch)``, without local or pre-release suffixes.

    ``'2.4.1+cu121'`` gives ``(2, 4, 1)``, ``'2.13.0.dev20261001'`` gives ``(2, 13, 0)``.
    """
    import torch

    return parse_version(torch.__version__)


def parse_version(text: str) -> tuple[int, int, int]:
    """``(major, minor, patch)`` of a version string such as ``'2.4.1+cpu'``.

    Raises:
        ValueError: when ``text`` does not start with ``MAJOR.MINOR``.
    """
    match = re.match(r"\s*(\d+)\.(\d+)(?:\.(\d+))?", str(text))
    if match is None:
        raise ValueError(f"not a version number: {text!r} (expected e.g. '2.4.1')")
    major, minor, patch = match.groups()
    return int(major), int(minor), int(patch or 0)


@functools.lru_cache(maxsize=256)
def _parameters(cls: Any) -> tuple[frozenset[str], bool] | None:
    try:
        params = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return None
    names = frozenset(p.name for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD))
    return names, any(p.kind is p.VAR_KEYWORD for p in params)


def accepts_argument(cls: Any, name: str) -> bool:
    """Whether calling ``cls`` accepts the keyword argument ``name`` (also via ``**kwargs``).

    A class whose signature cannot be read counts as accepting it (torch decides at the call).

    Args:
        cls: a class or other callable, e.g. ``nn.BatchNorm2d``.
        name: the keyword, e.g. ``'bias'``.
    """
    try:
        found = _parameters(cls)
    except TypeError:  # unhashable callable object: inspect without the cache
        found = _parameters.__wrapped__(cls)
    if found is None:
        return True
    names, var_kw = found
    return var_kw or name in names


def _default(cls: Any, name: str) -> Any:
    try:
        param = inspect.signature(cls).parameters.get(name)
    except (TypeError, ValueError):
        return None
    return None if param is None or param.default is param.empty else param.default


def adapt_norm_bias(type_name: Any, cls: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """Fit a norm layer's ``bias`` argument to the installed torch; returns ``kwargs`` (edited).

    On a torch whose ``cls`` takes ``bias`` (2.12 and newer for torch's norms), or when
    ``kwargs`` has no ``bias``, nothing changes. Otherwise ``bias=True`` (the configs' default,
    which is what such a torch does anyway) is removed, and so is ``bias=False`` when the layer
    has no affine parameters at all (``affine=False``), since it then changes nothing.

    Args:
        type_name: the registry name, for the error message (e.g. ``'BN'``).
        cls: the norm class that will be called.
        kwargs: the keyword arguments for ``cls``; ``bias`` is popped from it when needed.

    Raises:
        TorchFeatureError: ``bias=False`` on an affine layer whose torch class has no ``bias``
            argument; the message names the torch version and the choices (``affine=False``,
            or torch >= 2.12).
    """
    if "bias" not in kwargs or accepts_argument(cls, "bias"):
        return kwargs
    bias = kwargs["bias"]
    affine = kwargs.get("affine", _default(cls, "affine"))
    if bias is True or (bias is False and affine is False):
        del kwargs["bias"]
        return kwargs
    if bias is False:
        import torch

        since = ".".join(map(str, NORM_BIAS_SINCE))
        name = getattr(cls, "__name__", repr(cls))
        raise TorchFeatureError(
            f"norm layer {type_name!r}: bias=False needs torch>={since}, but the installed torch "
            f"{torch.__version__} has no bias argument for {name}. Use affine=False (no learnable "
            f"scale or shift), or upgrade torch (pip install 'torch>={since}')."
        )
    return kwargs  # a non-bool value: the constructor's own error names it


def weights_only_advisory(version: str | None = None) -> str | None:
    """A warning for pickle checkpoints when the torch in use has a flawed ``weights_only`` loader.

    Args:
        version: a torch version string; default None means the installed torch.

    Returns:
        None from torch 2.10 on; otherwise a message naming the version, the advisories and
        the remedies (safetensors files, only trusted ``.pth`` files, or torch>=2.10).
    """
    if version is None:
        import torch

        version = torch.__version__
    if parse_version(version) >= SAFE_WEIGHTS_ONLY_SINCE:
        return None
    since = ".".join(map(str, SAFE_WEIGHTS_ONLY_SINCE))
    fixed = "CVE-2026-24747, fixed in 2.10" if parse_version(version) >= (2, 6) else (
        "CVE-2025-32434, code execution, fixed in 2.6; CVE-2026-24747, fixed in 2.10")
    return (
        f"torch {version} has published flaws in torch.load(weights_only=True) ({fixed}): a "
        f"crafted .pth file can still harm this process. Load only .pth files you trust, prefer "
        f".safetensors, or upgrade to torch>={since}."
    )
