"""Checks that watch a file's whole body as it streams by, after its signature was admitted.

Each check sees every chunk once, keeps bounded state, and raises UnsupportedMediaType the moment
the content stops being what was admitted.
"""

from __future__ import annotations

import codecs
import re
import struct
from typing import Protocol

from domain.attachment import MediaKind
from domain.errors import UnsupportedMediaType

# Markup that makes a text file or an image a page a browser may run: refused wherever it appears.
_MARKUP_IN_TEXT = re.compile(
    rb"^\s*<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|script|svg|iframe|\?xml)", re.I
)
_MARKUP_IN_IMAGE = re.compile(rb"<script|<!doctype\s+html|<html[\s>]|<\?php|<svg\s", re.I)
_MARKUP_OVERLAP = 24  # bytes kept across chunk boundaries so a marker cut in two is still seen

# A ZIP archive is found from its end: the end-of-central-directory record sits in the last 22 to
# 65,557 bytes, and its comment length must reach the end of the file exactly.
_EOCD = b"PK\x05\x06"
_EOCD_SIZE = 22
_ZIP_TAIL = _EOCD_SIZE + 0xFFFF


class BodyCheck(Protocol):
    def feed(self, chunk: bytes) -> None: ...

    def finish(self) -> None: ...


class NoBodyCheck:
    def feed(self, chunk: bytes) -> None:
        return None

    def finish(self) -> None:
        return None


class Utf8TextCheck:
    """Plain text: valid UTF-8 all through, no NUL byte, and not a web page in disguise."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self._head = b""

    def feed(self, chunk: bytes) -> None:
        if b"\x00" in chunk:
            raise UnsupportedMediaType("A .txt file must be text; this one holds NUL bytes.")
        if len(self._head) < 64:
            self._head += chunk[: 64 - len(self._head)]
            if _MARKUP_IN_TEXT.match(self._head.removeprefix(codecs.BOM_UTF8)):
                raise UnsupportedMediaType(
                    "A .txt file must be plain text; this one is markup (HTML, SVG, XML)."
                )
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise UnsupportedMediaType("A .txt file must be UTF-8 text; this one is not.") from exc

    def finish(self) -> None:
        try:
            self._decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise UnsupportedMediaType(
                "A .txt file must be UTF-8 text; this one ends mid-character."
            ) from exc


class ImagePolyglotCheck:
    """An image that is also a script or an archive (GIFAR, a PNG with a ZIP appended) is refused."""

    def __init__(self) -> None:
        self._carry = b""
        self._tail = bytearray()

    def feed(self, chunk: bytes) -> None:
        window = self._carry + chunk
        if _MARKUP_IN_IMAGE.search(window):
            raise UnsupportedMediaType("The image carries markup or script; it is refused.")
        self._carry = window[-_MARKUP_OVERLAP:]
        self._tail += chunk
        if len(self._tail) > 2 * _ZIP_TAIL:
            del self._tail[: len(self._tail) - _ZIP_TAIL]

    def finish(self) -> None:
        tail = bytes(self._tail[-_ZIP_TAIL:])
        at = tail.rfind(_EOCD)
        while at != -1:
            if _is_end_record(tail, at):
                raise UnsupportedMediaType("The image has an archive appended; it is refused.")
            at = tail.rfind(_EOCD, 0, at)


def _is_end_record(tail: bytes, at: int) -> bool:
    """A ZIP end-of-central-directory record at `at`: one disk, as many entries there as in all, and
    its comment inside the file. Bytes after the comment do not stop unzip tools, so not us either."""
    if at + _EOCD_SIZE > len(tail):
        return False
    disk, cd_disk, entries_here, entries_total, _, _, comment_length = struct.unpack_from(
        "<HHHHIIH", tail, at + 4
    )
    fits = at + _EOCD_SIZE + comment_length <= len(tail)
    return bool(fits and disk == cd_disk == 0 and entries_here == entries_total)


def body_check_for(extension: str, kind: MediaKind) -> BodyCheck:
    if extension == "txt":
        return Utf8TextCheck()
    if kind is MediaKind.IMAGE:
        return ImagePolyglotCheck()
    return NoBodyCheck()
