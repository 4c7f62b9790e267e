"""Model zoo and checkpoints: verified, resumable, concurrent-safe downloads and safe loading.

    >>> from hydra_cnn.checkpoint import load_checkpoint
    >>> ckpt = load_checkpoint(model, 'torchvision://resnet50')          # zoo name -> URL
    >>> ckpt = load_checkpoint(model, 'open-mmlab://mine', zoo={'mine': '/data/mine.pth'})

- :mod:`~hydra_cnn.checkpoint.zoo`: HOME, the zoo maps and their getters, ``zoo=`` overrides.
- :mod:`~hydra_cnn.checkpoint.download`: :func:`download_checkpoint` into ``HOME/checkpoints``.
- :mod:`~hydra_cnn.checkpoint.loader`: schemes, :func:`load_checkpoint`,
  :func:`save_checkpoint`.
- :mod:`~hydra_cnn.checkpoint.state_dict`: :func:`load_state_dict` and its :class:`LoadReport`.
- :mod:`~hydra_cnn.checkpoint.sharded`: sharded models (FSDP2) and torch.distributed.checkpoint
  directories, reached through :func:`load_checkpoint` and :func:`save_checkpoint`.
- :mod:`~hydra_cnn.checkpoint.index`: the cache's provenance records (URL, size, sha256).
- :mod:`~hydra_cnn.checkpoint.sniff`: what a file holds, for checks and error messages.

Importing this package is light: torch, requests, tqdm and filelock are imported by the
functions that need them, and every environment variable is read at call time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from hydra_cnn.common import lazy_exports

_BY_MODULE: dict[str, tuple[str, ...]] = {
    "hydra_cnn.checkpoint.zoo": (
        "get_home", "get_cache_dir", "get_torchvision_models", "get_external_models",
        "get_mmcls_models", "get_deprecated_model_names", "load_zoo_file", "zoo_url",
    ),
    "hydra_cnn.checkpoint.download": ("DownloadSettings", "download_checkpoint"),
    "hydra_cnn.checkpoint.loader": (
        "CheckpointLoader", "load_checkpoint", "load_from_local", "load_from_http",
        "load_from_torchvision", "load_from_openmmlab", "load_from_mmcls", "save_checkpoint",
    ),
    "hydra_cnn.checkpoint.state_dict": (
        "LoadReport", "load_state_dict", "get_state_dict", "weights_to_cpu", "check_state_dict",
    ),
    "hydra_cnn.checkpoint.errors": (
        "DownloadError", "ChecksumError", "CorruptCacheError", "OfflineError",
        "UnsafeCheckpointError", "StrictLoadError", "ZooFileError", "UnverifiedDownloadWarning",
        "CheckpointFormatError", "StateDictError", "ContentError",
    ),
    "hydra_cnn.checkpoint.dist": ("get_dist_info",),
}

#: public name -> defining module (the same lazy-export rule as the top-level package)
EXPORTS: dict[str, str] = {name: module for module, names in _BY_MODULE.items() for name in names}

#: mmcv's private loaders: still at their module, deprecated here for one release
MOVED: dict[str, str] = {
    "_load_checkpoint": "hydra_cnn.checkpoint.loader",
    "_load_checkpoint_with_prefix": "hydra_cnn.checkpoint.loader",
}

__all__ = sorted(EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, EXPORTS, MOVED)


if TYPE_CHECKING:  # pragma: no cover
    from hydra_cnn.checkpoint.dist import get_dist_info
    from hydra_cnn.checkpoint.download import DownloadSettings, download_checkpoint
    from hydra_cnn.checkpoint.errors import (
        CheckpointFormatError,
        ChecksumError,
        ContentError,
        CorruptCacheError,
        DownloadError,
        OfflineError,
        StateDictError,
        StrictLoadError,
        UnsafeCheckpointError,
        UnverifiedDownloadWarning,
        ZooFileError,
    )
    from hydra_cnn.checkpoint.loader import (
        CheckpointLoader,
        load_checkpoint,
        load_from_http,
        load_from_local,
        load_from_mmcls,
        load_from_openmmlab,
        load_from_torchvision,
        save_checkpoint,
    )
    from hydra_cnn.checkpoint.state_dict import (
        LoadReport,
        check_state_dict,
        get_state_dict,
        load_state_dict,
        weights_to_cpu,
    )
    from hydra_cnn.checkpoint.zoo import (
        get_cache_dir,
        get_deprecated_model_names,
        get_external_models,
        get_home,
        get_mmcls_models,
        get_torchvision_models,
        load_zoo_file,
        zoo_url,
    )
