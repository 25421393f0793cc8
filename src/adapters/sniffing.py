"""The `ContentSniffer` port on the `filetype` library: names a file's type from its first bytes.

filetype knows the signatures; this adapter corrects the few answers the policy cannot take as they
come (each found by running filetype 1.2 on real files):
- a .docx is a ZIP: filetype names it only when `word/` is among its first five entries, and names
  any ZIP whose first entry is in a `word/` folder one. Here it is an OPC package (it has
  `[Content_Types].xml` or `_rels/.rels`) with a `word/` entry, all within the window;
- a .doc is an OLE2 compound file, which filetype names only when the WordDocument stream starts
  in the first sector; its directory entry is looked for too. Any other OLE2 file is named as
  such, never None, which would pass for text;
- filetype takes any "BM" for a BMP, which would refuse a text starting "BMW" and admit two bytes as
  an image: a BMP needs its file header;
- ISO media whose brands filetype does not list (iso2…iso9, avc1, dash) is still MP4;
- HEIF (an iPhone's photos) is ISO media too, told by its `ftyp` brands: filetype knows only a major
  brand `heic`, or `mif1`/`msf1` with `heic` among the others. Any HEVC image brand (heic, heix,
  heim, heis, and the sequences' hevc, hevx...) makes it `image/heic`; the bare image-file brands
  (mif1, msf1) without an AV1 one make it `image/heif` (whether it decodes is the processor's call);
- RAR's MIME type has two spellings.
"""

from __future__ import annotations

import struct

import filetype

_DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_ALIASES = {"application/vnd.rar": "application/x-rar-compressed", "image/x-ms-bmp": "image/bmp"}

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_WORD_STREAM = "WordDocument".encode("utf-16-le")
_ZIP_ENTRY = b"PK\x03\x04"
_BMP_INFO_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})  # the DIB header versions
_MP4_BRANDS = frozenset({b"avc1", b"dash", b"mp71", b"M4V ", b"M4VP", b"MSNV"}) | {
    f"iso{n}".encode() for n in range(2, 10)
}
_HEVC_IMAGE_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"hevm", b"hevs"})
_HEIF_BRANDS = frozenset({b"mif1", b"msf1"})
_AV1_IMAGE_BRANDS = frozenset({b"avif", b"avis"})


class FiletypeSniffer:
    def sniff(self, head: bytes) -> str | None:
        mime: str | None = filetype.guess_mime(head)
        mime = _ALIASES.get(mime, mime) if mime else None
        if mime in ("application/zip", _DOCX):
            return _DOCX if _is_word_package(head) else "application/zip"
        if mime == "image/bmp" and not _is_bmp(head):
            return None
        if mime is None and head.startswith(_OLE2):
            return "application/msword" if _WORD_STREAM in head else "application/x-ole-storage"
        if mime is None and (heif := _heif_type(head)):
            return heif
        if mime is None and _is_mp4(head):
            return "video/mp4"
        return mime


def _is_word_package(head: bytes) -> bool:
    names = set()
    at = head.find(_ZIP_ENTRY)
    # Found by signature rather than walked: entries written with a data descriptor (Java's
    # ZipOutputStream, so Apache POI) leave their sizes out of the local header.
    while at != -1 and at + 30 <= len(head):
        (length,) = struct.unpack_from("<H", head, at + 26)
        names.add(head[at + 30 : at + 30 + length])
        at = head.find(_ZIP_ENTRY, at + 30 + length)
    is_package = b"[Content_Types].xml" in names or b"_rels/.rels" in names
    return is_package and any(name.startswith(b"word/") for name in names)


def _is_bmp(head: bytes) -> bool:
    if len(head) < 18:
        return False
    offset, info_size = struct.unpack_from("<II", head, 10)
    return info_size in _BMP_INFO_SIZES and offset >= 14 + info_size


def _ftyp_brands(head: bytes) -> tuple[bytes, frozenset[bytes]] | None:
    """An ISO media file's major brand and all its brands (the major among them), from `ftyp`."""
    if len(head) < 16 or head[4:8] != b"ftyp":
        return None
    (box_size,) = struct.unpack_from(">I", head)
    if not 16 <= box_size <= len(head):
        return None
    major = head[8:12]
    return major, frozenset({major} | {head[at : at + 4] for at in range(16, box_size - 3, 4)})


def _heif_type(head: bytes) -> str | None:
    found = _ftyp_brands(head)
    if found is None:
        return None
    major, brands = found
    if not brands.isdisjoint(_HEVC_IMAGE_BRANDS):
        return "image/heic"
    if major in _HEIF_BRANDS and brands.isdisjoint(_AV1_IMAGE_BRANDS):
        return "image/heif"
    return None


def _is_mp4(head: bytes) -> bool:
    found = _ftyp_brands(head)
    return found is not None and not found[1].isdisjoint(_MP4_BRANDS)
