"""Say what a file or a downloaded body holds, from its first bytes, for checks and errors.

:func:`sniff_file` reads at most :data:`HEAD_SIZE` bytes and returns a :class:`Sniff`: the kind
(``'zip'``, ``'pickle'``, ``'tar'``, ``'safetensors'`` for the formats a checkpoint can have;
``'empty'``, ``'html'``, ``'text'``, ``'zeros'`` for what a checkpoint never is; ``'binary'``
for anything else) and a description for messages::

    >>> sniff_bytes(b'<!DOCTYPE html><html>...</html>', 74).description
    'an HTML page of 74 bytes (a login or error page?)'

The loader refuses the ``junk`` kinds before ``torch.load`` sees them, and the downloader never
caches them.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

__all__ = ["HEAD_SIZE", "JUNK_KINDS", "Sniff", "sniff_bytes", "sniff_file"]

#: Bytes read from the start of a file to tell what it is.
HEAD_SIZE = 4096
#: Kinds that are never a checkpoint.
JUNK_KINDS = frozenset({"empty", "html", "text", "zeros"})

_HTML = re.compile(rb"^\s*(<!doctype\s+html|<html|<head|<body|<!--|<\?xml[^>]*>\s*<html)",
                   re.IGNORECASE)
# torch's legacy format starts with its pickled magic number 0x1950a86a20f9469cfc6c; with pickle
# protocol 0 or 1 (torch.save(..., pickle_protocol=0)) that is readable text
_TORCH_MAGIC_TEXT = re.compile(rb"^[LI]119547037146038801333356")
_TAR_MAGIC_AT = 257


@dataclass(frozen=True)
class Sniff:
    """What a file holds, as far as its first bytes tell.

    Args:
        kind: ``'zip'``, ``'pickle'``, ``'tar'``, ``'safetensors'``, ``'empty'``, ``'html'``,
            ``'text'``, ``'zeros'`` or ``'binary'``.
        size: the whole size in bytes.
        description: a phrase for messages, e.g. ``'an HTML page of 74 bytes (a login or error
            page?)'``.
    """

    kind: str
    size: int
    description: str

    @property
    def junk(self) -> bool:
        """True when this is never a checkpoint (empty, HTML, text, zeros)."""
        return self.kind in JUNK_KINDS


def _is_text(head: bytes) -> bool:
    if b"\x00" in head:
        return False
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError as err:
        if err.start < len(head) - 3:  # not just a character cut at the end of the head
            return False
        text = head[:err.start].decode("utf-8")
    if not text:
        return False
    printable = sum(1 for c in text if c.isprintable() or c in "\t\n\r\f\v")
    return printable >= 0.95 * len(text)


def _snippet(head: bytes) -> str:
    text = head[:60].decode("utf-8", errors="replace")
    return text.split("\n", 1)[0][:40]


def sniff_bytes(head: bytes, size: int, noun: str = "file") -> Sniff:
    """Tell what a file holds from its first bytes.

    Args:
        head: the first bytes (up to :data:`HEAD_SIZE` are used).
        size: the whole size in bytes.
        noun: what to call it in the description of an empty one (``'file'`` or ``'body'``);
            default ``'file'``.
    """
    head = head[:HEAD_SIZE]
    if size == 0:
        return Sniff("empty", 0, f"an empty {noun} (0 bytes)")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        return Sniff("zip", size, f"a zip archive of {size} bytes")
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return Sniff("pickle", size, f"a pickle of {size} bytes")
    if _TORCH_MAGIC_TEXT.match(head):
        return Sniff("pickle", size, f"a text-protocol pickle of {size} bytes")
    if head[_TAR_MAGIC_AT:_TAR_MAGIC_AT + 5] == b"ustar":
        return Sniff("tar", size, f"a tar archive of {size} bytes")
    if len(head) >= 10 and head[8:9] == b"{":
        declared = int.from_bytes(head[:8], "little")
        if 0 < declared <= size - 8:
            return Sniff("safetensors", size, f"a safetensors file of {size} bytes")
    if not head.strip(b"\x00"):
        if len(head) >= size:
            return Sniff("zeros", size, f"{size} zero bytes (a preallocated or torn file?)")
        return Sniff("zeros", size, f"{size} bytes starting with {len(head)} zero bytes (a "
                                    f"preallocated or torn file?)")
    if _is_text(head):
        if _HTML.match(head) or b"<html" in head[:1024].lower():
            return Sniff("html", size, f"an HTML page of {size} bytes (a login or error page?)")
        return Sniff("text", size, f"text of {size} bytes starting {_snippet(head)!r}")
    return Sniff("binary", size, f"{size} bytes of unrecognised binary data starting "
                                 f"{head[:8].hex(' ')}")


def sniff_file(path: str | os.PathLike[str]) -> Sniff:
    """Tell what a file holds from its first :data:`HEAD_SIZE` bytes.

    Args:
        path: the file.
    """
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        head = fh.read(HEAD_SIZE)
    return sniff_bytes(head, size)
