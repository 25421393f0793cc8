"""Image files taken apart by their container, without decoding a pixel: the size and frame count a
header claims (what the decoding budget is checked on), and the file rewritten without its metadata.

Rewriting keeps what draws the image and nothing else, by a list of what to keep rather than of what
to drop: the pixels' segments or chunks, colour (ICC profile, gamma), transparency and animation
control. Gone are EXIF (GPS, camera, time, its embedded thumbnail), XMP, IPTC, comments, text and
time chunks, JFIF and MPF thumbnails, and anything after the image's end. The pixels' bytes are
copied as they are: no re-encoding, so nothing is lost, an animation stays one, and it is fast.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass


class DamagedImage(ValueError):
    """The container is not well formed enough to be taken apart."""


@dataclass(frozen=True, slots=True)
class Layout:
    width: int  # the largest frame or canvas, in stored orientation
    height: int
    frames: int  # how many frames it holds; counting stops past the caller's limit
    lossless: bool = False  # a WebP coded losslessly (VP8L)


@dataclass(frozen=True, slots=True)
class Rewritten:
    layout: Layout
    data: bytes | None  # the file without metadata; None when counting stopped past the limit


def rewrite(data: bytes, image_format: str, *, frame_limit: int) -> Rewritten:
    """`image_format` is Pillow's name for it (JPEG, PNG, GIF, WEBP, BMP)."""
    try:
        walk = _WALKERS[image_format]
    except KeyError:
        raise DamagedImage(f"no container walker for {image_format}") from None
    try:
        return walk(memoryview(data), frame_limit)
    except (IndexError, struct.error) as exc:
        raise DamagedImage(f"the {image_format} container ends in the middle of a header") from exc


# ---- JPEG: segments up to each scan, then the scan's entropy-coded bytes ---------------------------

_SOF = frozenset({*range(0xC0, 0xC4), *range(0xC5, 0xC8), *range(0xC9, 0xCC), *range(0xCD, 0xD0)})
_SCAN_END = re.compile(rb"\xff(?=[^\x00\xd0-\xd7])")  # a marker: not a stuffed byte, not a restart


def _keep_jpeg_segment(marker: int, payload: bytes) -> bytes | None:
    """The segment to write for this one (its payload, maybe shortened), or None to drop it."""
    if marker == 0xE0:  # JFIF: kept, but without the thumbnail it may carry
        return payload[:12] + b"\x00\x00" if payload.startswith(b"JFIF\x00") else None
    if marker == 0xE2:  # colour profile yes; MPF (a second image's index) no
        return payload if payload.startswith(b"ICC_PROFILE\x00") else None
    if marker == 0xEE:  # Adobe: says how the colours are coded
        return payload if payload.startswith(b"Adobe") else None
    if 0xE0 <= marker <= 0xEF or 0xF0 <= marker <= 0xFE:  # APPn (EXIF, XMP, IPTC...), JPGn, COM
        return None
    return payload


def _jpeg(data: memoryview, frame_limit: int) -> Rewritten:
    if bytes(data[:2]) != b"\xff\xd8":
        raise DamagedImage("a JPEG starts with SOI")
    out = [b"\xff\xd8"]
    size: tuple[int, int] | None = None
    at, end = 2, len(data)
    while at < end:
        if data[at] != 0xFF:
            raise DamagedImage("a JPEG segment starts with 0xFF")
        while at + 1 < end and data[at + 1] == 0xFF:  # fill bytes
            at += 1
        if at + 1 >= end:
            break
        marker = data[at + 1]
        if marker == 0xD9:  # the end: whatever follows (MPF images, an archive) is not the image
            out.append(b"\xff\xd9")
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        (length,) = struct.unpack_from(">H", data, at + 2)
        if length < 2:
            raise DamagedImage("a JPEG segment is shorter than its length field")
        payload = bytes(data[at + 4 : at + 2 + length])
        if marker in _SOF and size is None:
            height, width = struct.unpack_from(">HH", payload, 1)
            size = (width, height)
        kept = _keep_jpeg_segment(marker, payload)
        if kept is not None:
            out.append(struct.pack(">BBH", 0xFF, marker, len(kept) + 2) + kept)
        at += 2 + length
        if marker == 0xDA:  # entropy-coded data runs to the next marker
            found = _SCAN_END.search(data, at)
            scan_end = end if found is None else found.start()
            out.append(bytes(data[at:scan_end]))
            at = scan_end
    if size is None:
        raise DamagedImage("the JPEG has no frame header")
    return Rewritten(Layout(size[0], size[1], 1), b"".join(out))


# ---- PNG: chunks --------------------------------------------------------------------------------

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_KEEP = frozenset(
    {
        b"IHDR", b"PLTE", b"IDAT", b"IEND", b"tRNS",  # the image
        b"cHRM", b"gAMA", b"iCCP", b"sBIT", b"sRGB", b"cICP", b"mDCV", b"cLLI",  # its colours
        b"bKGD", b"pHYs",  # how to show it
        b"acTL", b"fcTL", b"fdAT",  # APNG animation
    }
)  # fmt: skip


def _png(data: memoryview, frame_limit: int) -> Rewritten:
    if bytes(data[:8]) != _PNG_SIGNATURE:
        raise DamagedImage("a PNG starts with its signature")
    out = [_PNG_SIGNATURE]
    size: tuple[int, int] | None = None
    declared = controls = 0
    at, end = 8, len(data)
    while at + 8 <= end:
        length, kind = struct.unpack_from(">I4s", data, at)
        if length > 0x7FFFFFFF:
            raise DamagedImage("a PNG chunk is longer than PNG allows")
        chunk_end = at + 12 + length
        if kind == b"IHDR":
            size = struct.unpack_from(">II", data, at + 8)
        elif kind == b"acTL":
            (declared,) = struct.unpack_from(">I", data, at + 8)
        elif kind == b"fcTL":
            controls += 1
            if controls > frame_limit:
                return Rewritten(Layout(*(size or (0, 0)), controls), None)
        if kind in _PNG_KEEP:
            out.append(bytes(data[at:chunk_end]))
        at = chunk_end
        if kind == b"IEND":
            break
    if size is None:
        raise DamagedImage("the PNG has no IHDR chunk")
    return Rewritten(Layout(size[0], size[1], max(1, declared, controls)), b"".join(out))


# ---- GIF: blocks of sub-blocks --------------------------------------------------------------------

_LOOPING = (b"NETSCAPE2.0", b"ANIMEXTS1.0")  # the application extensions that say how often to loop


def _sub_blocks_end(data: memoryview, at: int) -> int:
    """Where the run of sub-blocks starting at `at` ends (after its zero-length terminator)."""
    end = len(data)
    while at < end:
        size = data[at]
        at += 1 + size
        if size == 0:
            return at
    return end


def _gif(data: memoryview, frame_limit: int) -> Rewritten:
    if bytes(data[:6]) not in (b"GIF87a", b"GIF89a"):
        raise DamagedImage("a GIF starts with GIF87a or GIF89a")
    width, height, flags = struct.unpack_from("<HHB", data, 6)
    at = 13 + (3 << ((flags & 7) + 1) if flags & 0x80 else 0)
    out = [bytes(data[:at])]
    frames, end = 0, len(data)
    while at < end:
        block = data[at]
        if block == 0x3B:  # the trailer; anything after it is not the image
            out.append(b"\x3b")
            break
        if block == 0x21:  # an extension: keep frame control and looping, drop comments, XMP...
            label = data[at + 1]
            block_end = _sub_blocks_end(data, at + 2)
            looping = label == 0xFF and data[at + 2] == 11 and bytes(data[at + 3 : at + 14]) in _LOOPING
            if label == 0xF9 or looping:
                out.append(bytes(data[at:block_end]))
        elif block == 0x2C:  # an image: descriptor, local colour table, LZW code size, data
            frames += 1
            if frames > frame_limit:
                return Rewritten(Layout(width, height, frames), None)
            left, top, frame_width, frame_height, frame_flags = struct.unpack_from("<HHHHB", data, at + 1)
            width, height = max(width, left + frame_width), max(height, top + frame_height)
            table = 3 << ((frame_flags & 7) + 1) if frame_flags & 0x80 else 0
            block_end = _sub_blocks_end(data, at + 10 + table + 1)
            out.append(bytes(data[at:block_end]))
        else:  # not a block: the image ended early; what follows is dropped
            break
        at = block_end
    if frames == 0:
        raise DamagedImage("the GIF holds no image")
    return Rewritten(Layout(width, height, frames), b"".join(out))


# ---- WebP: RIFF chunks ----------------------------------------------------------------------------

_WEBP_KEEP = frozenset({b"VP8X", b"ICCP", b"ANIM", b"ANMF", b"ALPH", b"VP8 ", b"VP8L"})
_VP8X_EXIF, _VP8X_XMP = 0x08, 0x04


def _webp(data: memoryview, frame_limit: int) -> Rewritten:
    if bytes(data[:4]) != b"RIFF" or bytes(data[8:12]) != b"WEBP":
        raise DamagedImage("a WebP is a RIFF file of form WEBP")
    chunks: list[bytes] = []
    size: tuple[int, int] | None = None
    frames, lossless = 0, False
    at, end = 12, len(data)
    while at + 8 <= end:
        kind, length = struct.unpack_from("<4sI", data, at)
        payload = bytes(data[at + 8 : at + 8 + length])
        at += 8 + length + (length & 1)
        if kind == b"VP8X":
            canvas = payload[4:10]
            size = (1 + int.from_bytes(canvas[:3], "little"), 1 + int.from_bytes(canvas[3:], "little"))
            payload = bytes([payload[0] & ~(_VP8X_EXIF | _VP8X_XMP)]) + payload[1:]
        elif kind == b"ANMF":
            frames += 1
            if frames > frame_limit:
                return Rewritten(Layout(*(size or (0, 0)), frames), None)
        elif kind == b"VP8L" and size is None:
            (bits,) = struct.unpack_from("<I", payload, 1)
            size, lossless = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1), True
        elif kind == b"VP8 " and size is None:
            width, height = struct.unpack_from("<HH", payload, 6)
            size = (width & 0x3FFF, height & 0x3FFF)
        if kind in _WEBP_KEEP:
            chunks.append(kind + struct.pack("<I", len(payload)) + payload + b"\x00" * (len(payload) & 1))
    if size is None:
        raise DamagedImage("the WebP has no image chunk")
    body = b"WEBP" + b"".join(chunks)
    layout = Layout(size[0], size[1], max(1, frames), lossless)
    return Rewritten(layout, b"RIFF" + struct.pack("<I", len(body)) + body)


# ---- BMP: no metadata to remove, only a size to read ---------------------------------------------


def _bmp(data: memoryview, frame_limit: int) -> Rewritten:
    (info_size,) = struct.unpack_from("<I", data, 14)
    if info_size == 12:  # OS/2 1.x: 16-bit sizes
        width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
    return Rewritten(Layout(abs(width), abs(height), 1), bytes(data))


_WALKERS = {"JPEG": _jpeg, "PNG": _png, "GIF": _gif, "WEBP": _webp, "BMP": _bmp}
