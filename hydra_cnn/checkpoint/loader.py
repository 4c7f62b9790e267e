"""Load checkpoints from local files, URLs and model zoos into models (mmcv's API).

:func:`load_checkpoint` takes a model and a checkpoint name, loads it through the loader of its
scheme, strips ``module.`` prefixes, copies the weights and logs a short grouped report::

    >>> load_checkpoint(model, 'torchvision://resnet50')         # zoo name
    >>> load_checkpoint(model, 'https://host/model-1a2b3c4d.pth')  # verified, cached download
    >>> load_checkpoint(model, 'work_dirs/latest.pth', strict=True)

Schemes (``CheckpointLoader.register_scheme`` adds more; the longest matching prefix wins):

==================================  =====================================================
``/path/x.pth``, ``.pt``            ``torch.load(mmap=True, weights_only=True)``
``/path/x.safetensors``             safetensors (``pip install 'hydra-cnn[safetensors]'``)
``http://``, ``https://``           :func:`~hydra_cnn.checkpoint.download_checkpoint`
``torchvision://NAME``              the torchvision zoo (``modelzoo://`` is deprecated)
``open-mmlab://``, ``openmmlab://`` the open-mmlab zoo, merged with HOME's JSON files
``mmcls://NAME``                    the mmcls zoo; only ``backbone.`` keys, prefix removed
``/path/dir`` (holds ``.metadata``)  a torch.distributed.checkpoint directory (sharded save)
==================================  =====================================================

Checkpoints load with ``weights_only=True``: a pickle that needs any other global is refused
with :class:`UnsafeCheckpointError` naming it; pass ``weights_only=False`` only for files you
trust. There is never a silent fallback.
"""

from __future__ import annotations

import contextlib
import errno
import inspect
import json
import logging
import os
import pickle
import re
import secrets
import time
import warnings
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from hydra_cnn.checkpoint.dist import leader_first
from hydra_cnn.checkpoint.download import download_checkpoint
from hydra_cnn.checkpoint.errors import CheckpointFormatError, UnsafeCheckpointError
from hydra_cnn.checkpoint.sharded import is_dcp_checkpoint
from hydra_cnn.checkpoint.sniff import Sniff, sniff_file
from hydra_cnn.checkpoint.state_dict import (
    LoggerLike,
    check_state_dict,
    get_logger,
    get_state_dict,
    is_sharded,
    load_state_dict,
    unwrap_model,
    weights_to_cpu,
)
from hydra_cnn.checkpoint.zoo import ZooOverrides, zoo_url
from hydra_cnn.common import ConfigKeyError, InvalidArgumentError, closest_match

if TYPE_CHECKING:  # pragma: no cover
    from torch import nn

__all__ = [
    "CheckpointLoader",
    "_load_checkpoint",
    "_load_checkpoint_with_prefix",
    "load_checkpoint",
    "load_from_http",
    "load_from_local",
    "load_from_mmcls",
    "load_from_openmmlab",
    "load_from_torchvision",
    "save_checkpoint",
]

logger = logging.getLogger("hydra_cnn.checkpoint")
F = TypeVar("F", bound=Callable[..., Any])
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_DEFAULT_REVISE_KEYS: tuple[tuple[str, str], ...] = ((r"^module\.", ""),)


class CheckpointLoader:
    """Routes a checkpoint name to the loader registered for its prefix (longest prefix wins).

    A loader is ``fn(filename, map_location=None)`` returning the loaded object; the keyword
    arguments ``weights_only``, ``zoo`` and ``logger`` are passed when its signature names them.

    Example:
        >>> @CheckpointLoader.register_scheme('s3://')
        ... def load_from_s3(filename, map_location=None):
        ...     ...
    """

    _schemes: dict[str, Callable[..., Any]] = {}

    @classmethod
    def _register_scheme(cls, prefixes: str | Sequence[str], loader: Callable[..., Any],
                         force: bool = False) -> None:
        if isinstance(prefixes, str):
            prefixes = [prefixes]
        if not isinstance(prefixes, (list, tuple)) or not all(
                isinstance(p, str) for p in prefixes):
            raise TypeError(f"prefixes must be a str or a list/tuple of str, got {prefixes!r}")
        if not callable(loader):
            raise TypeError(f"loader must be callable, got {type(loader).__name__}")
        for prefix in prefixes:
            if prefix in cls._schemes and not force:
                raise ConfigKeyError(
                    f"{prefix!r} is already registered as a checkpoint loader "
                    f"({cls._schemes[prefix].__name__}); pass force=True to replace it"
                )
        for prefix in prefixes:
            cls._schemes[prefix] = loader

    @classmethod
    def register_scheme(cls, prefixes: str | Sequence[str], loader: Callable[..., Any] | None = None,
                        force: bool = False) -> Any:
        """Register a loader for one or more prefixes; works as a call or as a decorator.

        Args:
            prefixes: a prefix such as ``'s3://'``, or a list of them (plain strings; the
                longest matching one wins).
            loader: the loader function; default None returns a decorator.
            force: replace an existing registration; default False raises ``KeyError``.
        """
        if loader is not None:
            cls._register_scheme(prefixes, loader, force=force)
            return loader

        def _register(fn: F) -> F:
            cls._register_scheme(prefixes, fn, force=force)
            return fn

        return _register

    @classmethod
    def schemes(cls) -> list[str]:
        """The registered prefixes, longest first (``''`` is the local-path loader)."""
        return sorted(cls._schemes, key=lambda p: (-len(p), p))

    @classmethod
    def _get_checkpoint_loader(cls, path: str) -> Callable[..., Any]:
        best: str | None = None
        for prefix in cls._schemes:
            if path.startswith(prefix) and (best is None or len(prefix) > len(best)):
                best = prefix
        if not best:
            m = _SCHEME_RE.match(path)
            if m:
                known = [p for p in cls.schemes() if p]
                hit = closest_match(m.group(0), known)
                hint = f" Did you mean {hit!r}?" if hit else ""
                raise ValueError(
                    f"unknown checkpoint scheme {m.group(0)!r} in {path!r}.{hint} Registered "
                    f"schemes: {', '.join(known)} (or a local path); add one with "
                    f"CheckpointLoader.register_scheme"
                )
        if best is None:
            raise ValueError(f"no checkpoint loader matches {path!r}; registered schemes: "
                             f"{', '.join(cls.schemes())}")
        return cls._schemes[best]

    @classmethod
    def load_checkpoint(
        cls,
        filename: str,
        map_location: Any = None,
        logger: LoggerLike = None,
        *,
        weights_only: bool = True,
        zoo: ZooOverrides = None,
    ) -> Any:
        """Load a checkpoint through the loader of its scheme.

        Args:
            filename: a local path, a URL or a zoo name (``torchvision://resnet50``).
            map_location: passed to ``torch.load``; default None.
            logger: where the "load checkpoint from" line goes; default None.
            weights_only: refuse pickles that need unsafe globals; default True.
            zoo: zoo overrides for this call (name -> URL or path, or a JSON/YAML file).
        """
        filename = os.fspath(filename)
        loader = cls._get_checkpoint_loader(filename)
        log = get_logger(logger)
        if log is not None:
            kind = loader.__name__[10:] if loader.__name__.startswith("load_from_") else (
                loader.__name__)
            log.info("load checkpoint from %s path: %s", kind, filename)
        kwargs = _accepted_kwargs(loader, {"weights_only": weights_only, "zoo": zoo,
                                           "logger": logger})
        if not weights_only and "weights_only" not in kwargs:
            warnings.warn(f"the loader {loader.__name__} for {filename} takes no weights_only "
                          f"argument; weights_only=False has no effect there", stacklevel=2)
        return loader(filename, map_location, **kwargs)


def _accepted_kwargs(fn: Callable[..., Any], candidates: dict[str, Any]) -> dict[str, Any]:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return {}
    named = {n for n, p in params.items()
             if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)}
    return {k: v for k, v in candidates.items() if k in named}


# -- reading files ---------------------------------------------------------------------------
_PAYLOAD_NOTE = ("If it should be a checkpoint, it was damaged or replaced: download or save it "
                 "again")


def _unsafe_error(filename: str, err: BaseException) -> UnsafeCheckpointError:
    text = str(err)
    m = re.search(r"GLOBAL ([\w.]+)", text)
    what = f"the global {m.group(1)!r}" if m else "an object"
    detail = text.split("WeightsUnpickler error:")[-1].strip().splitlines()[0] if text else ""
    return UnsafeCheckpointError(
        f"refused to load {filename}: it needs {what}, which weights_only=True does not allow "
        f"(loading it could run code). Only if you trust this file, pass weights_only=False, "
        f"or allow the global with torch.serialization.add_safe_globals([...]). "
        f"torch said: {detail}"
    )


def _format_error(filename: str, found: str, why: str = "") -> CheckpointFormatError:
    reason = f" ({why})" if why else ""
    return CheckpointFormatError(
        f"{filename} is not a readable checkpoint: it is {found}{reason}. {_PAYLOAD_NOTE}; "
        f"accepted: a torch.save file (.pth/.pt) or a .safetensors file"
    )


def _map_device(map_location: Any) -> str:
    import torch

    if map_location is None:
        return "cpu"
    if isinstance(map_location, (str, torch.device)):
        return str(map_location)
    raise TypeError(
        f"map_location for a .safetensors file must be None, a str or a torch.device, got "
        f"{type(map_location).__name__}"
    )


def _check_zip(path: str, filename: str, found: Sniff) -> bool:
    """Check a torch.save zip archive; return whether it can be memory-mapped.

    ``torch.load(mmap=True)`` maps each tensor's bytes straight from the file, which is only
    right for stored (uncompressed) entries: a re-zipped file with deflated entries would give
    other values, so it is read through torch's (decompressing) reader instead.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as err:
        raise _format_error(filename, found.description,
                            f"damaged or truncated: {err}") from err
    if not any(i.filename.endswith("data.pkl") for i in infos):
        raise _format_error(filename, f"a zip archive of {len(infos)} entries",
                            "no data.pkl entry, so not written by torch.save")
    _check_declared_sizes(infos, filename, found.size)
    compressed = [i.filename for i in infos if i.compress_type != zipfile.ZIP_STORED]
    if compressed:
        logger.debug("%s has %d compressed entries (e.g. %s); reading it without mmap",
                     filename, len(compressed), compressed[0])
    return not compressed


#: a zip checkpoint's entries may declare at most this many times the file's size, plus 1 MiB
ZIP_RATIO_DEFAULT = 20.0
_ZIP_RATIO_ENV = "HYDRA_CNN_MAX_ZIP_RATIO"
_ZIP_SLACK = 1 << 20


def _zip_ratio() -> float:
    """The zip-bomb cap, from ``HYDRA_CNN_MAX_ZIP_RATIO`` (read now) or the default 20."""
    raw = os.environ.get(_ZIP_RATIO_ENV, "").strip()
    if not raw:
        return ZIP_RATIO_DEFAULT
    try:
        value = float(raw)
    except ValueError:
        value = float("nan")
    if not (value >= 1 and value != float("inf")):
        raise ValueError(f"{_ZIP_RATIO_ENV}={raw!r} is not accepted: expected a finite number "
                         f">= 1 (how many times its file size a zip checkpoint's entries may "
                         f"declare)")
    return value


def _check_declared_sizes(infos: list[zipfile.ZipInfo], filename: str, size: int) -> None:
    """Refuse a zip whose entries declare far more bytes than the file holds (a zip bomb).

    The declared (uncompressed) sizes are what torch's reader allocates, so they are checked
    before anything is decompressed.
    """
    declared = sum(max(0, i.file_size) for i in infos)
    ratio = _zip_ratio()
    cap = ratio * size + _ZIP_SLACK
    if declared > cap:
        big = max(infos, key=lambda i: i.file_size)
        raise CheckpointFormatError(
            f"refused to load {filename}: its zip entries declare {declared} bytes once "
            f"decompressed, more than {ratio:g} times the file's {size} bytes (largest: "
            f"{big.filename!r}, {big.file_size} bytes from {big.compress_size}): a "
            f"decompression bomb? Nothing was read. Raise {_ZIP_RATIO_ENV} (now {ratio:g}) "
            f"only for a file you trust")


def _torch_load(path: str, filename: str, map_location: Any, weights_only: bool,
                found: Sniff) -> Any:
    import torch

    mmap = _check_zip(path, filename, found) if found.kind == "zip" else False
    try:
        return torch.load(path, map_location=map_location, weights_only=weights_only,
                          mmap=mmap)
    except pickle.UnpicklingError as err:
        text = str(err)
        if weights_only and "Weights only load failed" in text:
            if re.search(r"GLOBAL [\w.]+|Unsupported global", text):
                raise _unsafe_error(filename, err) from err
            detail = text.split("WeightsUnpickler error:")[-1].strip().splitlines()[0]
            if "restore data location" in detail:
                # a bad map_location, not a bad file (torch 2.4 wraps it here; 2.6 raises it as is)
                raise CheckpointFormatError(
                    f"torch.load could not read {filename} ({found.description}): {detail}"
                ) from err
            what = ("its pickle is not a plain checkpoint" if found.kind == "pickle"
                    else "torch.load could not parse it")
            raise _format_error(filename, found.description, f"{what}: {detail}") from err
        raise _format_error(filename, found.description, f"{type(err).__name__}: {err}") from err
    except RecursionError as err:
        raise _format_error(filename, found.description,
                            "it nests containers too deeply to be a checkpoint") from err
    except (EOFError, IndexError, KeyError, UnicodeDecodeError, zipfile.BadZipFile) as err:
        # what torch's readers raise on damaged or foreign bytes, often without a message
        raise _format_error(filename, found.description,
                            f"torch.load failed with {_first_line(err)}") from err
    except RuntimeError as err:
        if re.search(r"magic number|PytorchStreamReader|zip archive|unexpected EOF", str(err)):
            raise _format_error(filename, found.description,
                                f"torch.load failed with {_first_line(err)}") from err
        raise CheckpointFormatError(
            f"torch.load could not read {filename} ({found.description}): "
            f"{_first_line(err)}") from err
    except ValueError as err:
        # a damaged archive, but also a bad map_location: say what failed, keep the class
        raise CheckpointFormatError(
            f"torch.load could not read {filename} ({found.description}): "
            f"{_first_line(err)}") from err


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


def _check_safetensors(path: str, filename: str, found: Sniff) -> None:
    """Check a .safetensors file's header (length, JSON, offsets) before reading it."""
    if found.junk:
        raise _format_error(filename, found.description)
    size = found.size
    bad = f"a .safetensors file of {size} bytes with a bad header"
    if size < 8:
        raise _format_error(filename, bad, "shorter than the 8-byte header length")
    with open(path, "rb") as fh:
        declared = int.from_bytes(fh.read(8), "little")
        if declared == 0 or declared > size - 8:
            raise _format_error(filename, bad, f"the header length field says {declared} "
                                               f"bytes but {size - 8} follow it; truncated?")
        if declared > 100_000_000:
            raise _format_error(filename, bad, f"the header claims {declared} bytes (over "
                                               f"100 MB)")
        raw = fh.read(declared)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise _format_error(filename, bad, f"the header is not JSON: {err}") from err
    except RecursionError:
        raise _format_error(filename, bad, "its JSON header nests too deeply to describe "
                                           "tensors") from None
    if not isinstance(header, dict):
        raise _format_error(filename, bad, f"the header is a JSON {type(header).__name__}, "
                                           f"not an object")
    data = size - 8 - declared
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        offsets = entry.get("data_offsets") if isinstance(entry, dict) else None
        if (not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)):
            raise _format_error(filename, bad, f"tensor {key!r} has no valid data_offsets")
        if not 0 <= offsets[0] <= offsets[1] <= data:
            raise _format_error(filename, bad, f"tensor {key!r} needs bytes {offsets[0]}.."
                                               f"{offsets[1]} of a {data}-byte data section; "
                                               f"truncated?")


def _load_safetensors(path: str, filename: str, map_location: Any, found: Sniff) -> Any:
    try:
        from safetensors.torch import load_file
    except ImportError as err:
        raise ImportError(
            f"loading {filename} needs the safetensors package: "
            f"pip install 'hydra-cnn[safetensors]'"
        ) from err
    _check_safetensors(path, filename, found)
    device = _map_device(map_location)
    try:
        return load_file(path, device=device)
    except (OSError, MemoryError):
        raise
    except Exception as err:  # SafetensorError and friends never name the file
        raise _format_error(filename, found.description,
                            f"safetensors failed with {type(err).__name__}: {err}") from err


def load_from_local(filename: str, map_location: Any = None, *, weights_only: bool = True
                    ) -> Any:
    """Load a local checkpoint file (``.pth``/``.pt`` via torch.load, ``.safetensors``).

    The file's first bytes are checked first: text, an HTML page, an empty or zero-filled file,
    a damaged zip or a bad safetensors header raise :class:`CheckpointFormatError` naming the
    path and what was found. ``.pth`` zip archives are memory-mapped (``mmap=True``), so a large
    checkpoint is not held twice; one whose entries are compressed is read without mmap.

    Args:
        filename: the path (``~`` is expanded).
        map_location: where tensors go (``torch.load``'s argument); default None.
        weights_only: refuse pickles needing unsafe globals; default True.
    """
    path = os.path.expanduser(os.fspath(filename))
    map_location = _check_map_location(map_location)
    if os.path.isdir(path):
        return _load_directory(path, os.fspath(filename), map_location, weights_only)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"checkpoint file not found: {filename}")
    lower = path.lower()
    if lower.endswith(".pt2"):
        raise ValueError(f"{filename}: .pt2 (torch.export) archives are not checkpoints; "
                         f"accepted: .pth, .pt (torch.save) or .safetensors")
    found = sniff_file(path)
    if lower.endswith(".safetensors") or found.kind == "safetensors":
        return _load_safetensors(path, filename, map_location, found)
    if found.junk:
        raise _format_error(filename, found.description)
    if weights_only:
        _warn_if_weights_only_is_flawed()
    return _torch_load(path, filename, map_location, weights_only, found)


def _load_directory(path: str, filename: str, map_location: Any, weights_only: bool) -> Any:
    """A folder given as a checkpoint: refused, naming the checkpoint files inside it.

    A torch.distributed.checkpoint directory is loaded by :func:`load_checkpoint` before a
    folder gets here; here it is refused with that advice.
    """
    del map_location, weights_only  # no folder format is read here
    if is_dcp_checkpoint(path):
        raise IsADirectoryError(
            errno.EISDIR, f"{filename} is a sharded checkpoint directory "
                          f"(torch.distributed.checkpoint): load it into a model with "
                          f"load_checkpoint(model, {filename!r})", filename)
    try:
        inside = sorted(e.name for e in os.scandir(path) if e.is_file() and e.name.lower()
                        .endswith((".pth", ".pt", ".safetensors", ".ckpt", ".bin")))
    except OSError:
        inside = []
    hint = (f"; it holds {', '.join(inside[:5])}{' ...' if len(inside) > 5 else ''}: pass one "
            f"of them" if inside else "")
    raise IsADirectoryError(
        errno.EISDIR, f"{filename} is a directory, not a checkpoint file{hint}. Accepted: a "
                      f"torch.save file (.pth/.pt) or a .safetensors file (load_checkpoint "
                      f"also takes a sharded checkpoint directory, one holding a .metadata "
                      f"file)", filename)


def _check_map_location(map_location: Any) -> Any:
    """``map_location`` as ``torch.load`` takes it; an int is a device index (as ``Module.to``)."""
    import torch

    if isinstance(map_location, bool):
        raise TypeError(f"map_location must be None, a str, a torch.device, a device index, a "
                        f"dict or a callable, got {map_location!r}")
    if isinstance(map_location, int):
        if map_location < 0:
            raise ValueError(f"map_location={map_location} is not a device index (accepted: "
                             f"an int >= 0, a str such as 'cpu' or 'cuda:0', a torch.device)")
        try:
            return torch.device(map_location)  # the accelerator with that index, as torch does
        except RuntimeError as err:
            raise ValueError(f"map_location={map_location} names accelerator device "
                             f"{map_location}, but torch says: {err}. Use map_location='cpu' "
                             f"(or a device this machine has)") from err
    if map_location is None or isinstance(map_location, (str, torch.device, dict)) or callable(
            map_location):
        return map_location
    raise TypeError(f"map_location must be None, a str, a torch.device, a device index, a dict "
                    f"or a callable, got {type(map_location).__name__}: {map_location!r}")


_ADVISED: list[str] = []


def _warn_if_weights_only_is_flawed() -> None:
    """Once per process: on torch < 2.10, say that ``weights_only=True`` is not a full guard."""
    from hydra_cnn.bricks.torch_compat import weights_only_advisory

    if _ADVISED:
        return
    advisory = weights_only_advisory()
    _ADVISED.append(advisory or "")
    if advisory:
        warnings.warn(advisory, UserWarning, stacklevel=3)


def load_from_http(
    filename: str,
    map_location: Any = None,
    model_dir: str | os.PathLike[str] | None = None,
    *,
    weights_only: bool = True,
    **download_options: Any,
) -> Any:
    """Download (or reuse from the cache) an http(s) checkpoint, then load it.

    Under torch.distributed the lowest rank of each node downloads first; a failure there
    raises on every rank.

    Args:
        filename: the URL; its file name's ``-<8+ hex>`` suffix is verified.
        map_location: passed to ``torch.load``; default None.
        model_dir: the cache folder; default None means ``HOME/checkpoints``.
        weights_only: refuse pickles needing unsafe globals; default True.
        **download_options: fields of :class:`~hydra_cnn.checkpoint.DownloadSettings`.
    """
    path = leader_first(lambda: download_checkpoint(filename, model_dir, **download_options),
                        filename)
    return load_from_local(str(path), map_location, weights_only=weights_only)


def _load_zoo(filename: str, map_location: Any, weights_only: bool, zoo: ZooOverrides) -> Any:
    target = zoo_url(filename, zoo)
    if target.startswith(("http://", "https://")):
        return load_from_http(target, map_location, weights_only=weights_only)
    if not os.path.exists(target):
        raise FileNotFoundError(f"{filename} maps to {target}, which does not exist")
    return load_from_local(target, map_location, weights_only=weights_only)


def load_from_torchvision(filename: str, map_location: Any = None, *, weights_only: bool = True,
                          zoo: ZooOverrides = None) -> Any:
    """Load ``torchvision://NAME`` (``resnet50``, ``resnet50.imagenet1k_v2``,
    ``ResNet50_Weights.IMAGENET1K_V1``); ``modelzoo://`` is a deprecated alias.

    Args:
        filename: the zoo name.
        map_location: passed to ``torch.load``; default None.
        weights_only: refuse pickles needing unsafe globals; default True.
        zoo: overrides for this call; default None.
    """
    return _load_zoo(filename, map_location, weights_only, zoo)


def load_from_openmmlab(filename: str, map_location: Any = None, *, weights_only: bool = True,
                        zoo: ZooOverrides = None) -> Any:
    """Load ``open-mmlab://NAME`` or ``openmmlab://NAME`` (deprecated names warn).

    Args:
        filename: the zoo name.
        map_location: passed to ``torch.load``; default None.
        weights_only: refuse pickles needing unsafe globals; default True.
        zoo: overrides for this call; default None.
    """
    return _load_zoo(filename, map_location, weights_only, zoo)


def load_from_mmcls(filename: str, map_location: Any = None, *, weights_only: bool = True,
                    zoo: ZooOverrides = None) -> dict[str, Any]:
    """Load ``mmcls://NAME`` and keep only its backbone: ``{'state_dict': {key: tensor}}``.

    Args:
        filename: the zoo name.
        map_location: passed to ``torch.load``; default None.
        weights_only: refuse pickles needing unsafe globals; default True.
        zoo: overrides for this call; default None.
    """
    ckpt = _load_zoo(filename, map_location, weights_only, zoo)
    sd = ckpt["state_dict"] if isinstance(ckpt, Mapping) and "state_dict" in ckpt else ckpt
    if not isinstance(sd, Mapping):
        raise RuntimeError(f"No state_dict found in checkpoint file {filename}")
    new = OrderedDict((k[len("backbone."):], v) for k, v in sd.items()
                      if k.startswith("backbone."))
    if not new:
        raise ValueError(f"{filename} has no 'backbone.' keys; mmcls:// loads the backbone of "
                         f"an mmcls classifier checkpoint")
    return {"state_dict": new}


CheckpointLoader.register_scheme("", load_from_local)
CheckpointLoader.register_scheme(["http://", "https://"], load_from_http)
CheckpointLoader.register_scheme(["torchvision://", "modelzoo://"], load_from_torchvision)
CheckpointLoader.register_scheme(["open-mmlab://", "openmmlab://"], load_from_openmmlab)
CheckpointLoader.register_scheme("mmcls://", load_from_mmcls)


# -- mmcv's functions ------------------------------------------------------------------------
def _load_checkpoint(
    filename: str | os.PathLike[str],
    map_location: Any = None,
    logger: LoggerLike = None,
    weights_only: bool = True,
    zoo: ZooOverrides = None,
) -> Any:
    """Load a checkpoint (path, URL or zoo name) and return what it holds.

    Args:
        filename: a local path, an http(s) URL or a zoo name.
        map_location: passed to ``torch.load``; default None.
        logger: where messages go; default None.
        weights_only: refuse pickles needing unsafe globals; default True.
        zoo: zoo overrides for this call; default None.
    """
    return CheckpointLoader.load_checkpoint(os.fspath(filename), map_location, logger,
                                            weights_only=weights_only, zoo=zoo)


def _tensor_count(value: Any) -> int:
    """How many tensor values a mapping with string keys holds (0 if it is not one)."""
    import torch

    if not isinstance(value, Mapping) or not value:
        return 0
    if not all(isinstance(k, str) for k in value):
        return 0
    return sum(1 for v in value.values() if isinstance(v, torch.Tensor))


def _state_dict_of(ckpt: Any, filename: str, state_dict_key: str | None = None,
                   logger: LoggerLike = "silent") -> Mapping[str, Any]:
    """Find the state dict in a loaded checkpoint.

    ``state_dict_key`` names the entry; otherwise ``'state_dict'`` (mmcv's format), else the
    checkpoint itself when it holds tensors at the top level, else the one entry that is a
    mapping of tensors (``{'model': sd, 'epoch': 3}``, logged). Several such entries are an
    error naming them.
    """
    if not isinstance(ckpt, Mapping):
        raise RuntimeError(
            f"No state_dict found in checkpoint file {filename}: it holds a "
            f"{type(ckpt).__name__}, expected a dict of tensors or a dict with 'state_dict'"
        )
    if state_dict_key is not None:
        if not isinstance(state_dict_key, str):
            raise TypeError(f"state_dict_key must be a str or None, got {state_dict_key!r}")
        if state_dict_key not in ckpt:
            keys = [repr(k) for k in ckpt if isinstance(k, str)][:12]
            hit = closest_match(state_dict_key, [k for k in ckpt if isinstance(k, str)])
            hint = f" Did you mean {hit!r}?" if hit else ""
            raise ConfigKeyError(f"state_dict_key={state_dict_key!r} is not in the checkpoint "
                                 f"{filename}.{hint} Its top-level keys: {', '.join(keys)}")
        sd = ckpt[state_dict_key]
        if not isinstance(sd, Mapping):
            raise RuntimeError(f"No state_dict found in checkpoint file {filename}: its "
                               f"{state_dict_key!r} entry is a {type(sd).__name__}")
        return sd
    if "state_dict" in ckpt:
        sd = ckpt["state_dict"]
        if not isinstance(sd, Mapping):
            raise RuntimeError(f"No state_dict found in checkpoint file {filename}: its "
                               f"'state_dict' entry is a {type(sd).__name__}")
        return sd
    if _tensor_count(ckpt) or not ckpt:
        return ckpt
    candidates = [k for k, v in ckpt.items()
                  if isinstance(v, Mapping) and 2 * _tensor_count(v) >= max(1, len(v))]
    if len(candidates) > 1:
        raise ValueError(
            f"the checkpoint {filename} holds several state dicts, under "
            f"{', '.join(repr(k) for k in candidates)}; choose one with state_dict_key=")
    if candidates:
        key = candidates[0]
        log = get_logger(logger)
        if log is not None:
            log.info("the state dict of %s sits under %r; loading it from there "
                     "(state_dict_key=%r)", filename, key, key)
        return ckpt[key]
    return ckpt


def _with_prefix(sd: Mapping[str, Any], prefix: str, name: str) -> OrderedDict[str, Any]:
    """The keys of ``sd`` under ``prefix`` with it removed (``_metadata`` too)."""
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string such as 'backbone.', got "
                         f"{prefix!r}")
    if not prefix.endswith("."):
        prefix += "."
    out: OrderedDict[str, Any] = OrderedDict(
        (k[len(prefix):], v) for k, v in sd.items() if k.startswith(prefix))
    if not out:
        tops = sorted({k.split(".", 1)[0] + "." for k in sd})
        raise InvalidArgumentError(  # also an AssertionError, as mmcv raises
            f"{prefix!r} is not in the pretrained model {name}: no key starts with it; its "
            f"top-level prefixes are {', '.join(tops[:12])}")
    metadata = getattr(sd, "_metadata", None)
    if isinstance(metadata, Mapping):
        stem = prefix[:-1]
        out._metadata = OrderedDict(  # type: ignore[attr-defined]
            ("" if k == stem else k[len(prefix):], v) for k, v in metadata.items()
            if isinstance(k, str) and (k == stem or k.startswith(prefix)))
    return out


def _load_checkpoint_with_prefix(
    prefix: str,
    filename: str | os.PathLike[str],
    map_location: Any = None,
    zoo: ZooOverrides = None,
    *,
    weights_only: bool = True,
    state_dict_key: str | None = None,
) -> OrderedDict[str, Any]:
    """Load the part of a checkpoint under ``prefix`` (``'backbone.'``), with it removed.

    Args:
        prefix: the key prefix; a missing trailing ``.`` is added.
        filename: a local path, an http(s) URL or a zoo name.
        map_location: passed to ``torch.load``; default None.
        zoo: zoo overrides for this call; default None.
        weights_only: refuse pickles needing unsafe globals; default True.
        state_dict_key: the checkpoint entry holding the state dict; default None finds it
            (see :func:`load_checkpoint`).
    """
    name = os.fspath(filename)
    if not isinstance(prefix, str) or not prefix:
        raise ValueError(f"prefix must be a non-empty string such as 'backbone.', got "
                         f"{prefix!r}")
    ckpt = _load_checkpoint(name, map_location, weights_only=weights_only, zoo=zoo)
    sd = _state_dict_of(ckpt, name, state_dict_key)
    check_state_dict(sd, name)
    return _with_prefix(sd, prefix, name)


def _revise(sd: Mapping[str, Any], revise_keys: Sequence[tuple[str, str]], name: str
            ) -> OrderedDict[str, Any]:
    """Apply ``(pattern, replacement)`` rules to every key (and ``_metadata``), in order."""
    metadata = getattr(sd, "_metadata", None)
    if not isinstance(metadata, Mapping):
        metadata = None
    out: OrderedDict[str, Any] = OrderedDict(sd)
    for pattern, repl in revise_keys:
        revised: OrderedDict[str, Any] = OrderedDict()
        for k, v in out.items():
            new = re.sub(pattern, repl, k)
            if new in revised:
                raise ValueError(f"revise_keys ({pattern!r} -> {repl!r}) maps two keys of "
                                 f"{name} to {new!r}")
            revised[new] = v
        out = revised
        if metadata is not None:
            metadata = OrderedDict((re.sub(pattern, repl, k), v) for k, v in metadata.items()
                                   if isinstance(k, str))
    out._metadata = metadata if metadata is not None else OrderedDict()  # type: ignore[attr-defined]
    return out


def _check_revise_keys(revise_keys: Any) -> list[tuple[str, str]]:
    if isinstance(revise_keys, (str, bytes)) or not isinstance(revise_keys, Sequence):
        raise TypeError(f"revise_keys must be a list of (pattern, replacement) pairs, got "
                        f"{revise_keys!r}")
    pairs: list[tuple[str, str]] = []
    for item in revise_keys:
        if (isinstance(item, (str, bytes)) or not isinstance(item, Sequence) or len(item) != 2
                or not all(isinstance(x, str) for x in item)):
            raise TypeError(f"revise_keys entries must be (pattern, replacement) pairs of "
                            f"strings, got {item!r} in {revise_keys!r}")
        try:
            re.compile(item[0])
        except re.error as err:
            raise ValueError(f"revise_keys pattern {item[0]!r} is not a valid regex: "
                             f"{err}") from err
        pairs.append((item[0], item[1]))
    return pairs


def _warn_if_default_rule_needed(model: nn.Module, original: Mapping[str, Any],
                                 revised: Mapping[str, Any],
                                 revise_keys: list[tuple[str, str]], name: str) -> None:
    """Warn when custom ``revise_keys`` load nothing but the default rule would have."""
    if tuple(revise_keys) == _DEFAULT_REVISE_KEYS or any(
            p == _DEFAULT_REVISE_KEYS[0][0] for p, _ in revise_keys):
        return
    model_keys = set(unwrap_model(model).state_dict().keys())
    if not model_keys or model_keys & set(revised):
        return
    combined = [*_DEFAULT_REVISE_KEYS, *revise_keys]
    try:
        hits = len(model_keys & set(_revise(original, combined, name)))
    except ValueError:
        return
    if hits:
        warnings.warn(
            f"revise_keys={revise_keys!r} loads none of the keys of {name}, but the default "
            f"rule (r'^module\\.', '') would load {hits}: a custom revise_keys replaces the "
            f"default, so add it first: revise_keys={combined!r}", UserWarning, stacklevel=3)


def load_checkpoint(
    model: nn.Module,
    filename: str | os.PathLike[str],
    map_location: Any = None,
    strict: bool = False,
    logger: LoggerLike = None,
    revise_keys: Sequence[tuple[str, str]] | None = _DEFAULT_REVISE_KEYS,
    weights_only: bool = True,
    zoo: ZooOverrides = None,
    *,
    state_dict_key: str | None = None,
    prefix: str | None = None,
    optimizer: Any = None,
) -> Any:
    """Load a checkpoint into ``model``; return the whole checkpoint and log a short report.

    The state dict is ``checkpoint[state_dict_key]`` when that is given; otherwise
    ``checkpoint['state_dict']`` (mmcv's format), the checkpoint itself when it holds tensors,
    or the one entry that is a dict of tensors (``{'model': sd, 'epoch': 3}``; an info line
    says so; several such entries are an error naming them). Everything is checked before the
    first tensor is copied: a failing call leaves the model unchanged.

    Sharded models (FSDP2 ``fully_shard``, DTensor parameters) work too; every rank makes the
    same call. Rank 0 reads or downloads the checkpoint, the others receive their shards one
    tensor at a time; an error raises on every rank with every model unchanged. On the other
    ranks the return value holds the checkpoint's ``'meta'`` only.

    A torch.distributed.checkpoint directory (written by ``save_checkpoint(..., sharded=True)``)
    loads into a model sharded over any number of ranks or into a plain model; ``optimizer=``
    restores the optimizer saved with it (to resume training). It returns
    ``{'meta': ..., 'provenance': ...}`` from the directory's provenance record.

    Args:
        model: the model (DataParallel/DDP wrappers are unwrapped).
        filename: a local path, an http(s) URL, a zoo name (``open-mmlab://NAME``, ...) or a
            sharded checkpoint directory.
        map_location: passed to ``torch.load``; default None.
        strict: raise :class:`StrictLoadError` on any missing, unexpected or shape-mismatched
            key, with the model unchanged; default False (mismatched keys are skipped).
        logger: where the report goes: None, a Logger, a logger name or ``'silent'``.
        revise_keys: ``(pattern, replacement)`` regex pairs applied to every key in order;
            default ``[(r'^module\\.', '')]`` (also for None) strips DataParallel prefixes. A
            custom list replaces the default; when it loads nothing but the default would
            have, a warning says so.
        weights_only: refuse pickles needing unsafe globals; default True.
        zoo: zoo overrides for this call (name -> URL or path, or a JSON/YAML file).
        state_dict_key: the checkpoint entry holding the state dict (``'model'``,
            ``'module'``, ``'state_dict'``, ...); default None finds it as described above
            (``'model'`` in a sharded checkpoint directory).
        prefix: load only the keys under this prefix (``'backbone.'``), with it removed,
            before ``revise_keys`` apply; default None loads every key.
        optimizer: an optimizer (or a dict name -> optimizer) to restore from a sharded
            checkpoint directory; default None. Not accepted for checkpoint files.
    """
    name = os.fspath(filename)
    rules = _check_revise_keys(_DEFAULT_REVISE_KEYS if revise_keys is None else revise_keys)
    if prefix is not None and (not isinstance(prefix, str) or not prefix):
        raise ValueError(f"prefix must be None or a non-empty string such as 'backbone.', "
                         f"got {prefix!r}")
    local = os.path.expanduser(name)
    if not _SCHEME_RE.match(name) and is_dcp_checkpoint(local):
        return _load_sharded_directory(model, local, name, strict, logger, rules, prefix,
                                       state_dict_key, optimizer)
    if optimizer is not None:
        raise ValueError(f"optimizer= restores an optimizer from a sharded checkpoint "
                         f"directory (one holding a .metadata file), but {name} is not one; "
                         f"for a checkpoint file, optimizer.load_state_dict("
                         f"checkpoint['optimizer'])")

    def read() -> tuple[Any, OrderedDict[str, Any]]:
        ckpt = _load_checkpoint(name, map_location, logger, weights_only=weights_only, zoo=zoo)
        sd = _state_dict_of(ckpt, name, state_dict_key, logger)
        check_state_dict(sd, name)  # before re.sub meets an integer key
        if prefix is not None:
            sd = _with_prefix(sd, prefix, name)
        revised = _revise(sd, rules, name)
        _warn_if_default_rule_needed(model, sd, revised, rules, name)
        if prefix is None and tuple(rules) == _DEFAULT_REVISE_KEYS:  # custom rules: as asked
            revised = _strip_common_prefix(model, revised, name, logger)
        return ckpt, revised

    if is_sharded(model):
        from hydra_cnn.checkpoint.sharded import load_full_into_sharded

        call = (name, bool(strict), prefix, tuple(rules), state_dict_key, bool(weights_only))
        return load_full_into_sharded(model, name, read, strict=strict, logger=logger,
                                      call=call)
    ckpt, revised = read()
    load_state_dict(model, revised, strict=strict, logger=logger, source=name)
    return ckpt


def _load_sharded_directory(model: nn.Module, path: str, name: str, strict: bool,
                            logger: LoggerLike, rules: list[tuple[str, str]],
                            prefix: str | None, state_dict_key: str | None,
                            optimizer: Any) -> Any:
    """A sharded checkpoint directory loads through DCP (other directories are refused by
    :func:`load_from_local`)."""
    from hydra_cnn.checkpoint.sharded import load_dcp

    def rename(stored: Mapping[str, Any]) -> Mapping[str, Any]:
        keys: Mapping[str, Any] = stored
        if prefix is not None:
            keys = _with_prefix(keys, prefix, name)
        return _revise(keys, rules, name)

    return load_dcp(model, path, name, strict=strict, logger=logger, rename=rename,
                    state_dict_key=state_dict_key, optimizer=optimizer)


#: share of the model's keys a stripped prefix must match to be taken without being asked
_PREFIX_SHARE = 0.9


def _strip_common_prefix(model: nn.Module, sd: OrderedDict[str, Any], name: str,
                         logger: LoggerLike) -> OrderedDict[str, Any]:
    """When no key matches the model but one common prefix (``net.``) hides them, strip it.

    A state dict written by another tool (a LightningModule's ``net.``, a wrapper's
    ``model.``) matches none of the model's keys as it is. If removing one first component
    makes at least 90% of the model's keys match, and only one component does, it is removed
    with an info line naming it; if several do, a warning says which ``prefix=`` to pass.
    """
    model_keys = {k for k in get_state_dict(model, keep_vars=True)
                  if k.rsplit(".", 1)[-1] != "num_batches_tracked"}
    if not model_keys or not sd or model_keys & set(sd):
        return sd
    tops = sorted({k.split(".", 1)[0] for k in sd if "." in k})
    hits: dict[str, int] = {}
    for top in tops:
        stem = top + "."
        hits[top] = len(model_keys & {k[len(stem):] for k in sd if k.startswith(stem)})
    good = [t for t in tops if hits[t] >= _PREFIX_SHARE * len(model_keys)]
    if len(good) > 1:
        warnings.warn(
            f"none of the keys of {name} match the model, but each of the prefixes "
            f"{', '.join(repr(t + '.') for t in good)} would match "
            f"{', '.join(str(hits[t]) for t in good)} of its {len(model_keys)} keys; choose "
            f"one with prefix= (e.g. prefix={good[0] + '.'!r})", UserWarning, stacklevel=3)
        return sd
    if not good:
        return sd
    chosen = good[0] + "."
    log = get_logger(logger)
    if log is not None:
        log.info("no key of %s matches the model as it is; its keys sit under %r, loading "
                 "them with that prefix removed (prefix=%r)", name, chosen, chosen)
    return _with_prefix(sd, chosen, name)


def save_checkpoint(
    model: nn.Module,
    filename: str | os.PathLike[str],
    optimizer: Any = None,
    meta: dict[str, Any] | None = None,
    *,
    sharded: bool = False,
    config: Any = None,
) -> None:
    """Save ``{'meta', 'state_dict'[, 'optimizer']}`` atomically (temp file, then rename).

    Non-persistent buffers are not saved; tensors are moved to the CPU. A ``.safetensors``
    name writes the state dict in that format (``meta`` as JSON metadata; no optimizer).

    A sharded model (FSDP2, DTensor parameters) is gathered one tensor at a time to rank 0,
    which writes one full checkpoint that loads into a plain model; every rank makes the call
    and an error raises on every rank. With ``sharded=True`` the path is a directory written
    with torch.distributed.checkpoint (each rank its shards, the optimizer's too), plus a
    ``provenance.json`` (world size, hydra_cnn and torch versions, ``meta``, ``config``);
    :func:`load_checkpoint` loads it over any number of ranks, or into a plain model.

    Args:
        model: the model (DataParallel/DDP wrappers are unwrapped; ``model.CLASSES``, when
            set, is stored in ``meta``).
        filename: a local path; its folder is created.
        optimizer: an optimizer, a dict name -> optimizer, or None (default).
        meta: extra metadata (a dict); default None.
        sharded: write a sharded checkpoint directory; default False (one file).
        config: the run's config (a dict, DictConfig or dataclass) recorded with the
            checkpoint (``meta['config']`` in a file); default None.
    """
    import torch

    if meta is None:
        meta = {}
    elif not isinstance(meta, dict):
        raise TypeError(f"meta must be a dict or None, but got {type(meta).__name__}")
    if not isinstance(sharded, bool):
        raise TypeError(f"sharded must be True or False, got {sharded!r}")
    from hydra_cnn.common import __version__

    meta = dict(meta)
    meta.update(hydra_cnn_version=__version__, time=time.asctime())
    model = unwrap_model(model)
    classes = getattr(model, "CLASSES", None)
    if classes is not None:
        meta.setdefault("CLASSES", classes)
    name = os.fspath(filename)
    if _SCHEME_RE.match(name):
        raise ValueError(f"save_checkpoint writes local files only, got {name!r}")
    path = Path(os.path.expanduser(name))
    if sharded:
        from hydra_cnn.checkpoint.sharded import save_sharded

        save_sharded(model, path, optimizer, meta, config)
        return
    if config is not None:
        from hydra_cnn.checkpoint.sharded import _plain_config

        meta.setdefault("config", _plain_config(config))
    if is_sharded(model):
        from hydra_cnn.checkpoint.sharded import full_state_dicts, run_on_rank0

        sd, optim = full_state_dicts(model, optimizer)
        full: dict[str, Any] = {"meta": meta, "state_dict": sd}
        if optim is not None:
            full["optimizer"] = optim
        run_on_rank0(lambda: _write_file(full, path), f"saving {path}")
        return
    checkpoint: dict[str, Any] = {"meta": meta,
                                  "state_dict": weights_to_cpu(get_state_dict(model))}
    if isinstance(optimizer, torch.optim.Optimizer):
        checkpoint["optimizer"] = optimizer.state_dict()
    elif isinstance(optimizer, dict):
        checkpoint["optimizer"] = {}
        for key, optim in optimizer.items():
            if not isinstance(optim, torch.optim.Optimizer):
                raise TypeError(f"optimizer[{key!r}] is a {type(optim).__name__}, not a "
                                f"torch.optim.Optimizer")
            checkpoint["optimizer"][key] = optim.state_dict()
    elif optimizer is not None:
        raise TypeError(f"optimizer must be None, an Optimizer or a dict of them, got "
                        f"{type(optimizer).__name__}")
    _write_file(checkpoint, path)


def _write_file(checkpoint: dict[str, Any], path: Path) -> None:
    """Write ``checkpoint`` to ``path`` atomically (temp file, fsync, rename)."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    existed = path.exists()
    writer: _RecordingWriter | None = None
    try:
        if path.suffix.lower() == ".safetensors":
            _save_safetensors(checkpoint, tmp)
        else:
            with open(tmp, "xb") as fh:
                writer = _RecordingWriter(fh)
                torch.save(checkpoint, writer)  # type: ignore[arg-type]
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except Exception as err:
        cause = writer.error if writer is not None and writer.error is not None else err
        if isinstance(cause, OSError) and cause.errno in _NO_SPACE:
            kept = (f"the existing {path} is intact" if existed
                    else "nothing was written there")
            raise OSError(cause.errno, f"no space left on the device (or a quota or file size "
                                       f"limit: {cause.strerror}) while saving {path}; {kept}. "
                                       f"Free some space or save elsewhere", str(path)) from err
        raise
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


_NO_SPACE = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})


class _RecordingWriter:
    """A file wrapper for torch.save that remembers the first write error.

    torch's zip writer turns a failed write into "enforce fail ... unexpected pos"; the recorded
    ``OSError`` says what really happened (no space left, a file size limit).
    """

    def __init__(self, fh: Any) -> None:
        self.fh = fh
        self.error: OSError | None = None

    def write(self, data: Any) -> int:
        try:
            return int(self.fh.write(data))
        except OSError as err:
            self.error = self.error or err
            raise

    def flush(self) -> None:
        try:
            self.fh.flush()
        except OSError as err:
            self.error = self.error or err
            raise


def _save_safetensors(checkpoint: dict[str, Any], tmp: Path) -> None:
    if "optimizer" in checkpoint:
        raise ValueError("a .safetensors checkpoint holds tensors only; save the optimizer to a "
                         ".pth file")
    try:
        from safetensors.torch import save_file
    except ImportError as err:
        raise ImportError("saving .safetensors needs the safetensors package: "
                          "pip install 'hydra-cnn[safetensors]'") from err
    tensors = {k: v.contiguous() for k, v in checkpoint["state_dict"].items()}
    try:
        save_file(tensors, str(tmp),
                  metadata={"meta": json.dumps(checkpoint["meta"], default=str)})
    except OSError:
        raise
    except Exception as err:  # SafetensorError wraps the io error in its message
        code = re.search(r"(?:code:|os error) (\d+)", str(err))
        if code and int(code.group(1)) in _NO_SPACE:
            raise OSError(int(code.group(1)), os.strerror(int(code.group(1)))) from err
        raise
