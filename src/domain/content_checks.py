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
# In text, where a browser's sniffer looks: at the first thing after the leading blank space.
_MARKUP_IN_TEXT = re.compile(
    rb"<(!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|script|svg|iframe|\?xml)", re.I
)
_TEXT_HEAD = 64  # bytes from the first one that is not blank: where the markup above must start
# Blank space (ASCII whitespace, byte order marks) that may come before it. A browser sniffs at most
# 1,445 bytes (WHATWG MIME Sniffing's resource header); a text file that opens with more blank space
# than this is refused as hiding what it is, so nothing past the bound needs looking at.
MAX_LEADING_BLANK = 4096
_BLANK = re.compile(rb"[ \t\n\r\f\v]*+(?:\xef\xbb\xbf[ \t\n\r\f\v]*+)*+")
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
    """Plain text: valid UTF-8 all through, no NUL byte, and not a web page in disguise: what follows
    the leading blank space (at most MAX_LEADING_BLANK bytes of it) must not open as markup. Holds at
    most `_TEXT_HEAD` bytes, however the chunks fall."""

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")(errors="strict")
        self._blank = 0  # leading blank bytes seen
        self._head = b""  # a byte order mark cut in two while blank; then the head after the blank
        self._in_blank = True
        self._looking = True

    def feed(self, chunk: bytes) -> None:
        if b"\x00" in chunk:
            raise UnsupportedMediaType("A .txt file must be text; this one holds NUL bytes.")
        if self._looking:
            self._look(chunk)
        try:
            self._decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            raise UnsupportedMediaType("A .txt file must be UTF-8 text; this one is not.") from exc

    def _look(self, chunk: bytes) -> None:
        if self._in_blank:
            # Enough to pass the bound and read a head beyond it: no more is scanned or copied.
            data = self._head + chunk[: MAX_LEADING_BLANK - self._blank + _TEXT_HEAD + 3]
            found = _BLANK.match(data)
            blank = found.end() if found else 0
            self._blank += blank
            if self._blank > MAX_LEADING_BLANK:
                raise UnsupportedMediaType(
                    f"A .txt file may open with at most {MAX_LEADING_BLANK:,} bytes of blank space; "
                    "this one opens with more."
                )
            rest = data[blank:]
            if len(rest) < 3 and codecs.BOM_UTF8.startswith(rest):  # nothing yet, or half a mark
                self._head = rest
                return
            self._in_blank = False
            self._head = rest[:_TEXT_HEAD]
        else:
            self._head += chunk[: _TEXT_HEAD - len(self._head)]
        if _MARKUP_IN_TEXT.match(self._head):
            raise UnsupportedMediaType("A .txt file must be plain text; this one is markup (HTML, SVG, XML).")
        self._looking = len(self._head) < _TEXT_HEAD

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
