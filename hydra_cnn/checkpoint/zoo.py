"""Model zoo maps: names such as ``open-mmlab://resnet50_v1c`` resolved to URLs or files.

The maps are data files shipped in ``conf/zoo/`` in mmcv's JSON format (a flat object
name -> URL): ``open_mmlab.json``, ``mmcls.json``, ``torchvision.json`` and ``deprecated.json``
(old name -> new name). They are read when first needed, never at import.

HOME (read at every call, never cached) is ``$HYDRA_CNN_HOME``, else ``$MMCV_HOME``, else
``$XDG_CACHE_HOME/hydra_cnn``, else ``~/.cache/hydra_cnn``. A user ``open-mmlab.json`` or
``open_mmlab.json`` there merges over the shipped open-mmlab map (user keys win; the hyphen file
wins over the underscore file). Downloads are cached in ``HOME/checkpoints``.

An application overrides entries for one call with ``zoo=``: a mapping or a JSON/YAML file of
``name -> URL or path``. A bare name applies to every zoo scheme; a qualified one
(``'torchvision://resnet50'``) to that scheme only::

    >>> from hydra_cnn.checkpoint import zoo_url
    >>> zoo_url('torchvision://resnet50')
    'https://download.pytorch.org/models/resnet50-0676ba61.pth'
    >>> zoo_url('open-mmlab://mine', zoo={'mine': '/data/mine.pth'})
    '/data/mine.pth'

Values are http(s) URLs or file paths: absolute paths are used as they are, relative ones resolve
under HOME and may not leave it.
"""

from __future__ import annotations

import difflib
import functools
import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from hydra_cnn.checkpoint.errors import ZooFileError
from hydra_cnn.common import ConfigKeyError, brief, conf_dir

__all__ = [
    "ZOO_SCHEMES",
    "ZooOverrides",
    "get_cache_dir",
    "get_deprecated_model_names",
    "get_external_models",
    "get_home",
    "get_mmcls_models",
    "get_torchvision_models",
    "list_zoo",
    "load_zoo_file",
    "normalize_zoo",
    "zoo_url",
]

#: What ``zoo=`` accepts: None, a mapping name -> URL or path, or a JSON/YAML file of one.
ZooOverrides = Mapping[str, Any] | str | os.PathLike[str] | None

#: zoo scheme prefix -> the map it reads (aliases share a map).
ZOO_SCHEMES: dict[str, str] = {
    "torchvision://": "torchvision",
    "modelzoo://": "torchvision",  # deprecated alias (mmcv)
    "open-mmlab://": "open_mmlab",
    "openmmlab://": "open_mmlab",
    "mmcls://": "mmcls",
}
_CANONICAL_PREFIX = {"torchvision": "torchvision://", "open_mmlab": "open-mmlab://",
                     "mmcls": "mmcls://"}


# -- HOME ------------------------------------------------------------------------------------
def get_home() -> Path:
    """Return hydra_cnn's HOME folder (zoo files, ``checkpoints/`` cache); read at each call.

    ``$HYDRA_CNN_HOME``, else ``$MMCV_HOME``, else ``$XDG_CACHE_HOME/hydra_cnn``, else
    ``~/.cache/hydra_cnn``; ``~`` is expanded and the result made absolute. Nothing is created.
    """
    for var in ("HYDRA_CNN_HOME", "MMCV_HOME"):
        value = os.environ.get(var)
        if value:
            return Path(os.path.abspath(os.path.expanduser(value)))
    xdg = os.environ.get("XDG_CACHE_HOME") or "~/.cache"
    return Path(os.path.abspath(os.path.expanduser(os.path.join(xdg, "hydra_cnn"))))


def get_cache_dir() -> Path:
    """Return the download cache folder, ``HOME/checkpoints`` (not created here)."""
    return get_home() / "checkpoints"


# -- reading map files -----------------------------------------------------------------------
def _check_map(data: Any, source: str) -> dict[str, str]:
    if not isinstance(data, Mapping):
        raise ZooFileError(
            f"{source}: a zoo map must be an object of name -> URL or path, "
            f"got {type(data).__name__}"
        )
    out: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(key, str) or not key:
            raise ZooFileError(f"{source}: zoo names must be non-empty strings, got "
                               f"{brief(key)}")
        if not isinstance(value, str) or not value:
            raise ZooFileError(
                f"{source}: entry {key!r} must be a URL or a path (a non-empty string), "
                f"got {brief(value)}"
            )
        out[key] = value
    return out


def _parse_json(text: str, source: str) -> dict[str, str]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise ZooFileError(
            f"{source}: malformed JSON at line {err.lineno}, column {err.colno}: {err.msg}"
        ) from err
    except RecursionError:
        raise ZooFileError(f"{source}: its JSON nests too deeply to be a zoo map (an object of "
                           f"name -> URL or path)") from None
    return _check_map(data, source)


def _parse_yaml(text: str, source: str) -> dict[str, str]:
    import yaml  # lazily: PyYAML comes with omegaconf

    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ZooFileError(f"{source}: malformed YAML{where}: {err.problem or err}") from err
    except yaml.YAMLError as err:
        raise ZooFileError(f"{source}: malformed YAML: {err}") from err
    except RecursionError:
        raise ZooFileError(f"{source}: its YAML nests too deeply to be a zoo map (a mapping of "
                           f"name -> URL or path)") from None
    return _check_map({} if data is None else data, source)


def load_zoo_file(path: str | os.PathLike[str]) -> dict[str, str]:
    """Read a zoo map file (JSON, or YAML for ``.yaml``/``.yml``) into a name -> value dict.

    Args:
        path: the file. Malformed content raises :class:`ZooFileError` naming the file, line and
            column; a missing file raises ``FileNotFoundError``.
    """
    p = Path(os.path.expanduser(os.fspath(path)))
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise FileNotFoundError(f"zoo file not found: {p}") from None
    except UnicodeDecodeError as err:
        raise ZooFileError(f"{p}: not UTF-8 text ({err})") from err
    if p.suffix.lower() in (".yaml", ".yml"):
        return _parse_yaml(text, str(p))
    return _parse_json(text, str(p))


@functools.cache
def _shipped(name: str) -> dict[str, str]:
    path = conf_dir() / "zoo" / f"{name}.json"
    return _parse_json(path.read_text(encoding="utf-8"), str(path))


# -- the getters (mmcv names) ----------------------------------------------------------------
def get_torchvision_models() -> dict[str, str]:
    """Return the torchvision zoo map: mmcv's names (``resnet50`` = V1) and ``<arch>.<weights>``.

    Static data, so torchvision is not needed: ``resnet50.imagenet1k_v2``, ``resnet50.default``
    and the other names of torchvision's ``*_Weights`` enums.
    """
    return dict(_shipped("torchvision"))


def get_external_models() -> dict[str, str]:
    """Return the open-mmlab zoo map with the user's HOME files merged over it.

    ``HOME/open_mmlab.json`` then ``HOME/open-mmlab.json`` (the hyphen file wins) update the
    shipped map; user keys win. Relative paths in them resolve under HOME when used.
    """
    models = dict(_shipped("open_mmlab"))
    home = get_home()
    for fname in ("open_mmlab.json", "open-mmlab.json"):
        path = home / fname
        if path.is_file():
            models.update(load_zoo_file(path))
    return models


def get_mmcls_models() -> dict[str, str]:
    """Return the mmcls zoo map (classification checkpoints; ``mmcls://`` loads the backbone)."""
    return dict(_shipped("mmcls"))


def get_deprecated_model_names() -> dict[str, str]:
    """Return the deprecated open-mmlab names: old name -> new name (each target exists)."""
    return dict(_shipped("deprecated"))


_GETTERS = {
    "torchvision": get_torchvision_models,
    "open_mmlab": get_external_models,
    "mmcls": get_mmcls_models,
}


def list_zoo(kind: str) -> dict[str, str]:
    """Return one zoo map by kind.

    Args:
        kind: ``'torchvision'``, ``'open_mmlab'`` (or ``'open-mmlab'``), ``'mmcls'`` or
            ``'deprecated'``.
    """
    key = kind.replace("-", "_")
    if key == "deprecated":
        return get_deprecated_model_names()
    if key not in _GETTERS:
        raise ValueError(
            f"unknown zoo {kind!r}; accepted: torchvision, open-mmlab, mmcls, deprecated"
        )
    return _GETTERS[key]()


# -- overrides and resolution ----------------------------------------------------------------
def normalize_zoo(zoo: ZooOverrides) -> dict[str, str]:
    """Turn a ``zoo=`` argument into a plain name -> value dict.

    Args:
        zoo: None (no overrides), a mapping name -> URL or path (an OmegaConf ``DictConfig``
            works), or the path of a JSON/YAML file holding one.
    """
    if zoo is None:
        return {}
    if isinstance(zoo, (str, os.PathLike)):
        return load_zoo_file(zoo)
    if isinstance(zoo, Mapping):
        return _check_map(dict(zoo.items()), "zoo=")
    raise TypeError(
        f"zoo must be None, a mapping of name -> URL or path, or a JSON/YAML file path; "
        f"got {type(zoo).__name__}"
    )


def _split_scheme(filename: str) -> tuple[str, str]:
    for prefix in sorted(ZOO_SCHEMES, key=len, reverse=True):
        if filename.startswith(prefix):
            return prefix, filename[len(prefix):]
    raise ValueError(
        f"{filename!r} is not a zoo name; accepted prefixes: {', '.join(ZOO_SCHEMES)}"
    )


def _normalize_torchvision_name(name: str, models: Mapping[str, str]) -> str:
    if name in models:
        return name
    # 'ResNet50_Weights.IMAGENET1K_V1' -> 'resnet50.imagenet1k_v1' (torchvision's enum names)
    lowered = name.lower()
    if "_weights." in lowered:
        lowered = lowered.replace("_weights.", ".")
    return lowered


def _resolve_value(name: str, value: str) -> str:
    if value.startswith(("http://", "https://")):
        return value
    if "://" in value:
        raise ValueError(
            f"zoo entry {name!r} maps to {value!r}; accepted: an http(s) URL or a file path"
        )
    expanded = os.path.expanduser(value)
    if os.path.isabs(expanded):
        return expanded
    home = str(get_home())
    joined = os.path.normpath(os.path.join(home, expanded))
    if os.path.commonpath([home, joined]) != home:
        raise ValueError(
            f"zoo entry {name!r} maps to the relative path {value!r}, which leaves HOME "
            f"({home}); use a path inside HOME or an absolute path"
        )
    return joined


def _unknown(kind: str, prefix: str, name: str, models: Mapping[str, str]) -> ConfigKeyError:
    close = difflib.get_close_matches(name.lower(), [k.lower() for k in models], n=3, cutoff=0.6)
    by_lower = {k.lower(): k for k in models}
    hint = ""
    if close:
        hint = " Did you mean " + ", ".join(repr(by_lower[c]) for c in close) + "?"
    label = kind.replace("_", "-")
    return ConfigKeyError(
        f"unknown {label} model {name!r} (in {prefix}{name}).{hint} {len(models)} names are "
        f"known: list them with `python -m hydra_cnn zoo list {label}`, or pass "
        f"zoo={{{name!r}: URL_OR_PATH}}."
    )


def zoo_url(filename: str, zoo: ZooOverrides = None) -> str:
    """Resolve a zoo name (``open-mmlab://NAME``, ``torchvision://NAME``, ...) to a URL or path.

    Args:
        filename: ``scheme://NAME`` with a zoo scheme: ``torchvision://`` (``modelzoo://`` is a
            deprecated alias), ``open-mmlab://``, ``openmmlab://`` or ``mmcls://``.
        zoo: overrides for this call (see :func:`normalize_zoo`); default None. A key
            ``'scheme://NAME'`` wins over a bare ``'NAME'``, which wins over the zoo maps.

    Returns:
        An http(s) URL, or an absolute file path.
    """
    prefix, name = _split_scheme(filename)
    kind = ZOO_SCHEMES[prefix]
    if prefix == "modelzoo://":
        warnings.warn(
            f"the modelzoo:// scheme is deprecated, use torchvision://{name}",
            DeprecationWarning, stacklevel=3,
        )
    overrides = normalize_zoo(zoo)
    aliases = [p for p, k in ZOO_SCHEMES.items() if k == kind]

    def from_overrides(n: str) -> str | None:
        for p in [prefix, *aliases]:
            if p + n in overrides:
                return overrides[p + n]
        return overrides.get(n)

    hit = from_overrides(name)
    if hit is not None:
        return _resolve_value(name, hit)
    models = _GETTERS[kind]()
    if kind == "open_mmlab":
        deprecated = get_deprecated_model_names()
        if name in deprecated and name not in models:
            new = deprecated[name]
            warnings.warn(
                f"{prefix}{name} is deprecated in favor of {prefix}{new}",
                DeprecationWarning, stacklevel=3,
            )
            name = new
            hit = from_overrides(name)
            if hit is not None:
                return _resolve_value(name, hit)
    elif kind == "torchvision":
        normalized = _normalize_torchvision_name(name, models)
        if normalized != name:
            hit = from_overrides(normalized)
            if hit is not None:
                return _resolve_value(normalized, hit)
            name = normalized
    if name not in models:
        raise _unknown(kind, _CANONICAL_PREFIX[kind], name, models)
    return _resolve_value(name, models[name])
