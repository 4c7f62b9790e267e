"""Exceptions and warnings of the checkpoint package.

Every error names the bad value (a URL, a path, a zoo name, a key) and says what would work.
The classes subclass the built-in exception a caller would already catch:

- :class:`DownloadError` (an ``OSError``): the network or the server failed;
  :class:`ChecksumError`, :class:`OfflineError` and :class:`CorruptCacheError` refine it.
- :class:`UnsafeCheckpointError` (a ``pickle.UnpicklingError``): ``weights_only=True`` refused a
  global; the message names it and the ``weights_only=False`` opt-out.
- :class:`StrictLoadError` (a ``RuntimeError``, as torch and mmcv raise): ``strict=True`` found
  missing, unexpected or shape-mismatched keys; the model was left unchanged.
- :class:`ZooFileError` (a ``ValueError``): a malformed zoo map, with file, line and column.
- :class:`CheckpointFormatError` (a ``RuntimeError`` and a ``ValueError``): a file that is not a
  readable checkpoint (text, an HTML page, empty, a damaged zip, a bad safetensors header); the
  message names the path and what was found. :class:`StateDictError` (also a ``TypeError``): a
  state dict with a non-string key or a non-tensor value, found before anything was copied.
- :class:`ContentError` (a :class:`DownloadError`): a server answered 200 with something that is
  not a checkpoint (an HTML page, text, an empty or encoded body); nothing was cached.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from hydra_cnn.checkpoint.state_dict import LoadReport

__all__ = [
    "CheckpointFormatError",
    "ChecksumError",
    "ContentError",
    "CorruptCacheError",
    "DownloadError",
    "OfflineError",
    "StateDictError",
    "StrictLoadError",
    "UnsafeCheckpointError",
    "UnverifiedDownloadWarning",
    "ZooFileError",
]


class DownloadError(OSError):
    """A download failed (HTTP status, timeout, incomplete body, refused redirect, ...).

    Args:
        message: what failed, naming the URL.
        url: the URL that was being downloaded, or None.
    """

    def __init__(self, message: str, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class ChecksumError(DownloadError):
    """The SHA256 of a file does not start with the prefix its name carries.

    Args:
        message: the full message.
        url: the URL the bytes came from, or None for a cached file.
        expected: the hex prefix from the file name.
        actual: the full hex SHA256 of the bytes.
    """

    def __init__(
        self, message: str, url: str | None = None, *, expected: str = "", actual: str = ""
    ) -> None:
        super().__init__(message, url)
        self.expected = expected
        self.actual = actual


class CorruptCacheError(ChecksumError):
    """A cached file fails its hash check and cannot be replaced (offline or read-only cache)."""


class ContentError(DownloadError):
    """A server answered 200 with a body that is not a checkpoint; nothing was cached."""


class OfflineError(DownloadError):
    """Offline mode (``HYDRA_CNN_OFFLINE=1``) is on and the file is not in the cache."""


class UnsafeCheckpointError(pickle.UnpicklingError):
    """``weights_only=True`` refused a checkpoint because it needs a global that could run code."""


class StrictLoadError(RuntimeError):
    """``strict=True`` found missing, unexpected or shape-mismatched keys; nothing was copied.

    Args:
        message: the full message.
        report: the :class:`~hydra_cnn.checkpoint.state_dict.LoadReport` that was refused.
    """

    def __init__(self, message: str, report: LoadReport) -> None:
        super().__init__(message)
        self.report = report


class CheckpointFormatError(RuntimeError, ValueError):
    """A file is not a checkpoint hydra_cnn can read; the message names the path and what it holds.

    A ``RuntimeError`` (what torch raises for unreadable archives) and a ``ValueError``.
    """


class StateDictError(CheckpointFormatError, TypeError):
    """A state dict has a non-string key or a non-tensor value; nothing was copied."""


class ZooFileError(ValueError):
    """A zoo map (JSON or YAML) is malformed: the message names the file, line and column."""


class UnverifiedDownloadWarning(UserWarning):
    """A file was downloaded whose name carries no usable SHA256 prefix, so it was not verified."""
