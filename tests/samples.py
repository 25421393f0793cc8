"""Real files for tests, built with the standard library: one small, valid file per allowed
extension, and the hostile files the service must refuse.

`sample(ext, size)` pads a file to exactly `size` bytes inside its own format, where the format has
room for it (a PNG text chunk, GIF and JPEG comments, a PDF comment, a RIFF JUNK chunk, an MP4
`free` box, a Matroska Void element, a ZIP or RAR member), so the padded file is still recognised
and still passes the body checks. Everything is deterministic: same arguments, same bytes.
"""

from __future__ import annotations

import io
import random
import struct
import zipfile
import zlib
from collections.abc import AsyncIterator, Callable

_LINE = b"The quick brown fox jumps over the lazy dog.\n"


def sample(ext: str, size: int | None = None) -> bytes:
    """A valid file of this extension; exactly `size` bytes when given (at least its smallest)."""
    build = _BUILDERS[ext]
    smallest = build(0)
    if size is None:
        return smallest
    if size < len(smallest):
        raise ValueError(f"the smallest .{ext} sample is {len(smallest)} bytes, not {size}")
    padded = build(size - len(smallest))
    assert len(padded) == size, f"the .{ext} builder missed {size} by {len(padded) - size}"
    return padded


async def cut(data: bytes, seed: int, largest: int) -> AsyncIterator[bytes]:
    """`data` as a body arrives: in pieces of 1 to `largest` bytes, the same for the same seed."""
    pieces = random.Random(seed)
    at = 0
    while at < len(data):
        size = pieces.randint(1, largest)
        yield data[at : at + size]
        at += size


def html_page() -> bytes:
    return (
        b"<!DOCTYPE html>\n<html><head><title>hi</title></head>"
        b"<body><script>alert(1)</script></body></html>\n"
    )


def svg_image() -> bytes:
    return (
        b'<?xml version="1.0" encoding="UTF-8"?>\n'
        b'<svg xmlns="http://www.w3.org/2000/svg" width="8" height="8" onload="alert(1)">'
        b'<rect width="8" height="8" fill="red"/></svg>\n'
    )


def text_with_nul() -> bytes:
    return b"looks like text\x00but is not\n"


def gif_with_script() -> bytes:
    """A GIF that decodes, and that a browser sniffing it as HTML would run."""
    return _gif(0, comment=b"<script>alert(1)</script>")


def png_with_zip_appended() -> bytes:
    """A PNG that decodes, followed by a complete ZIP archive (what `unzip` opens from its end)."""
    return sample("png") + sample("zip")


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header claims width x height RGB pixels: what a decoder would allocate before it
    read a byte of the (tiny) image data."""
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 4096, 9))  # zlib's own: may differ by build
        + _png_chunk(b"IEND", b"")
    )


def gif_with_frames(frames: int, side: int) -> bytes:
    """An animated GIF of `frames` frames of side x side pixels, each coded in a few bytes (one pixel
    of each is coded: the rest of a frame is missing, so no frame decodes whole)."""
    frame = (
        b"\x21\xf9\x04\x00\x01\x00\x00\x00"  # graphic control: 10 ms delay
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, side, side, 0)
        + b"\x02\x02\x44\x01\x00"
    )
    loop = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
    head = b"GIF89a" + struct.pack("<HHBBB", side, side, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    return head + loop + frame * frames + b"\x3b"


def elf_executable() -> bytes:
    """A 64-bit Linux executable that exits 0: one ELF header, one PT_LOAD, nine bytes of code."""
    code = b"\xb8\x3c\x00\x00\x00\x31\xff\x0f\x05"  # mov eax, 60 (exit); xor edi, edi; syscall
    base = 0x400000
    size = 64 + 56 + len(code)
    ident = b"\x7fELF\x02\x01\x01" + bytes(9)
    header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 0x3E, 1, base + 120, 64, 0, 0, 64, 56, 1, 64, 0, 0)
    program = struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, size, size, 0x1000)
    return header + program + code


def windows_exe() -> bytes:
    """An MZ stub and a PE header for an x86 image with no sections: what an .exe starts with."""
    stub = b"This program cannot be run in DOS mode.\r\r\n$"
    dos = b"MZ" + struct.pack("<29H", 0x90, 3, 0, 4, 0, 0xFFFF, 0, 0xB8, 0, 0, 0, 0x40, *([0] * 17))
    dos += struct.pack("<I", 0x80)  # e_lfanew: where the PE header starts
    dos = (dos + stub).ljust(0x80, b"\x00")
    coff = struct.pack("<HHIIIHH", 0x14C, 0, 0, 0, 0, 0xE0, 0x0102)
    # PE32 optional header, up to its Subsystem (3: console); the data directories stay empty.
    optional = struct.pack("<HBB9I", 0x10B, 14, 0, 0, 0, 0, 0x1000, 0x1000, 0, 0x400000, 0x1000, 0x200)
    optional += struct.pack("<6H4IH", 6, 0, 0, 0, 6, 0, 0, 0x1000, 0x200, 0, 3)
    optional = optional.ljust(0xE0, b"\x00")
    return dos + b"PE\x00\x00" + coff + optional


# ---- padding helpers -----------------------------------------------------------------------------


def _text(n: int) -> bytes:
    return (_LINE * (n // len(_LINE) + 1))[:n]


def _split(total: int, low: int, high: int) -> list[int]:
    """Piece sizes between `low` and `high` that add up to `total` (which is at least `low`)."""
    count = -(-total // high)
    share, extra = divmod(total, count)
    return [share + 1] * extra + [share] * (count - extra)


# ---- images --------------------------------------------------------------------------------------


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _zlib_stored(data: bytes) -> bytes:
    """A zlib stream of one stored block: the same bytes whatever zlib build is installed."""
    block = b"\x01" + struct.pack("<HH", len(data), len(data) ^ 0xFFFF) + data
    return b"\x78\x01" + block + struct.pack(">I", zlib.adler32(data))


def _png(room: int) -> bytes:
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)  # 1x1, 8-bit RGB
    pixels = _zlib_stored(b"\x00\xff\x80\x00")  # filter byte, one orange pixel
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"tEXt", b"Comment\x00" + _text(room))
        + _png_chunk(b"IDAT", pixels)
        + _png_chunk(b"IEND", b"")
    )


def _gif(room: int, comment: bytes = b"sample") -> bytes:
    total = 1 + len(comment) + room  # comment sub-blocks, length bytes included
    data = comment + _text(total)
    blocks, at = bytearray(), 0
    for piece in _split(total, 2, 256):
        blocks += bytes([piece - 1]) + data[at : at + piece - 1]
        at += piece - 1
    return (
        b"GIF89a"
        + struct.pack("<HHBBB", 1, 1, 0x80, 0, 0)  # 1x1, a two-colour global table
        + b"\x00\x00\x00\xff\xff\xff"
        + b"\x21\xfe"
        + blocks
        + b"\x00"
        + b"\x2c"
        + struct.pack("<HHHHB", 0, 0, 1, 1, 0)
        + b"\x02\x02\x44\x01\x00"  # LZW: clear, pixel 0, end
        + b"\x3b"
    )


def _jpeg_segment(marker: int, data: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(data) + 2) + data


# An 8x8 greyscale baseline JPEG whose one block is flat grey: two one-symbol Huffman tables make its
# whole entropy-coded scan the two bits "0" (DC difference 0) and "0" (end of block).
_JPEG_HEAD = (
    b"\xff\xd8"
    + _jpeg_segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    + _jpeg_segment(0xDB, b"\x00" + b"\x01" * 64)
    + _jpeg_segment(0xC0, struct.pack(">BHHB", 8, 8, 8, 1) + b"\x01\x11\x00")
    + _jpeg_segment(0xC4, b"\x00\x01" + bytes(15) + b"\x00")
    + _jpeg_segment(0xC4, b"\x10\x01" + bytes(15) + b"\x00")
)
_JPEG_SCAN = _jpeg_segment(0xDA, b"\x01\x01\x00\x00\x3f\x00") + b"\x3f" + b"\xff\xd9"


def _jpeg(room: int) -> bytes:
    comment = b"sample"
    total = 4 + len(comment) + room  # COM segments, markers and lengths included
    data = comment + _text(total)
    segments, at = bytearray(), 0
    for piece in _split(total, 4, 65537):
        segments += _jpeg_segment(0xFE, data[at : at + piece - 4])
        at += piece - 4
    return _JPEG_HEAD + segments + _JPEG_SCAN


def _riff_chunk(fourcc: bytes, data: bytes) -> bytes:
    return fourcc + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) % 2)


def _riff(form: bytes, chunks: bytes, room: int, pad: bytes = b"JUNK") -> bytes:
    """A RIFF file padded by a last chunk; RIFF sizes are even, so an odd byte trails the file."""
    body = form + chunks + _riff_chunk(pad, bytes(room - room % 2))
    return b"RIFF" + struct.pack("<I", len(body)) + body + bytes(room % 2)


# A 1x1 lossless WebP bitstream (VP8L): its five prefix codes each hold one symbol, so the pixel
# takes no bits at all.
_VP8L = bytes.fromhex("2f000000100710111188 88fe07")


def _webp(room: int) -> bytes:
    # The extended format (VP8X) is the one that may carry chunks a reader does not know.
    vp8x = _riff_chunk(b"VP8X", b"\x10\x00\x00\x00" + bytes(6))  # alpha flag, canvas 1x1
    return _riff(b"WEBP", vp8x + _riff_chunk(b"VP8L", _VP8L), room, pad=b"SMPL")


def _bmp(room: int) -> bytes:
    pixels = b"\x00\x80\xff\x00"  # one BGR pixel, its row padded to four bytes
    offset = 14 + 40 + room  # the gap between the headers and the pixels holds the padding
    header = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    info = struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, len(pixels), 2835, 2835, 0, 0)
    return header + info + bytes(room) + pixels


# ---- documents and archives ----------------------------------------------------------------------


def _pdf(room: int) -> bytes:
    content = b"BT /F1 12 Tf 20 40 Td (Sample) Tj ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\n" % (len(objects) + 1)
    # Comment lines after the trailer: they move nothing that an offset points at.
    for piece in _split(2 + room, 2, 256):
        out += b"%" + b"~" * (piece - 2) + b"\n"
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _txt(room: int) -> bytes:
    return "Plain UTF-8 text: café, naïve, 日本語.\n".encode() + _text(room)


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3  # Unix, wherever the tests run
            info.external_attr = 0o644 << 16
            archive.writestr(info, data)
    return buffer.getvalue()


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/word/document.xml" ContentType="application/'
    'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
)
_PACKAGE_RELS = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    'relationships/officeDocument" Target="word/document.xml"/></Relationships>'
)
_DOCUMENT = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    f'<w:document xmlns:w="{_W}"><w:body><w:p><w:r><w:t>Sample</w:t></w:r></w:p></w:body></w:document>'
)


def _docx(room: int) -> bytes:
    # Word's own order: the content types first, then the relationships, then the parts.
    trailing_space = (b" " * 63 + b"\n") * (room // 64 + 1)
    return _zip(
        [
            ("[Content_Types].xml", _CONTENT_TYPES.encode()),
            ("_rels/.rels", _PACKAGE_RELS.encode()),
            ("word/document.xml", _DOCUMENT.encode() + trailing_space[:room]),
        ]
    )


def _plain_zip(room: int) -> bytes:
    return _zip([("readme.txt", b"A sample archive.\n" + _text(room))])


def _rar_block(kind: int, flags: int, body: bytes) -> bytes:
    header = struct.pack("<BHH", kind, flags, 7 + len(body)) + body
    return struct.pack("<H", zlib.crc32(header) & 0xFFFF) + header


def _rar(room: int) -> bytes:
    """A RAR 4 archive holding one stored (uncompressed) member."""
    data = b"A sample archive.\n" + _text(room)
    name = b"readme.txt"
    dos_time = (((2024 - 1980) << 9) | (1 << 5) | 1) << 16
    member = struct.pack(
        "<IIBIIBBHI", len(data), len(data), 0, zlib.crc32(data), dos_time, 20, 0x30, len(name), 0x20
    )
    return (
        b"Rar!\x1a\x07\x00"
        + _rar_block(0x73, 0, bytes(6))
        + _rar_block(0x74, 0x8000, member + name)
        + data
        + _rar_block(0x7B, 0x4000, b"")
    )


_SECTOR = 512
_ENDOFCHAIN, _FATSECT, _FREESECT, _NOSTREAM = 0xFFFFFFFE, 0xFFFFFFFD, 0xFFFFFFFF, 0xFFFFFFFF


def _ole_entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
    encoded = (name + "\x00").encode("utf-16-le") if name else b""
    return (
        encoded.ljust(64, b"\x00")
        + struct.pack("<HBB", len(encoded), kind, 1 if name else 0)
        + struct.pack("<III", _NOSTREAM, _NOSTREAM, child)
        + bytes(16 + 4 + 16)
        + struct.pack("<IQ", start, size)
    )


def _doc(room: int) -> bytes:
    """A Word 97 file: an OLE2 compound file whose WordDocument stream opens with a FIB.

    Sectors 0-7 hold the stream (4096 bytes, so it lives in the big sectors, not the mini stream),
    sector 8 the FAT, sector 9 the directory. The padding trails the last sector."""
    fib = struct.pack("<HHHHHH", 0xA5EC, 0x00C1, 0, 0x0409, 0, 0x0200)  # 0x0200: text in 1Table
    stream = fib.ljust(8 * _SECTOR, b"\x00")
    fat = [1, 2, 3, 4, 5, 6, 7, _ENDOFCHAIN, _FATSECT, _ENDOFCHAIN]
    fat_sector = struct.pack("<128I", *fat, *([_FREESECT] * (128 - len(fat))))
    directory = (
        _ole_entry("Root Entry", 5, 1, _ENDOFCHAIN, 0)
        + _ole_entry("WordDocument", 2, _NOSTREAM, 0, len(stream))
        + _ole_entry("", 0, _NOSTREAM, 0, 0) * 2
    )
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + bytes(16)
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + bytes(6)
        + struct.pack("<IIIIIIIII", 0, 1, 9, 0, 0x1000, _ENDOFCHAIN, 0, _ENDOFCHAIN, 0)
        + struct.pack("<109I", 8, *([_FREESECT] * 108))
    )
    return header + stream + fat_sector + directory + bytes(room)


# ---- videos --------------------------------------------------------------------------------------

# Every video holds one 8x8 grey frame that decodes: the JPEG above where the container takes JPEG
# (MP4, MOV, Matroska), an uncompressed bitmap in AVI, and a VP9 key frame in WebM (which admits no
# other codec of the kind: VP8, VP9 or AV1).
_FRAME = _JPEG_HEAD + _JPEG_SCAN


def _box(kind: bytes, *payload: bytes) -> bytes:
    data = b"".join(payload)
    return struct.pack(">I", 8 + len(data)) + kind + data


def _full_box(kind: bytes, version_flags: int, *payload: bytes) -> bytes:
    return _box(kind, struct.pack(">I", version_flags), *payload)


_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)


def _iso_media(ftyp: bytes, sample_entry: bytes, room: int) -> bytes:
    # ftyp, moov, mdat holding the frame, then a `free` box for the padding: no offset moves.
    visual = struct.pack(">6xHHH12xHHIIIH", 1, 0, 0, 8, 8, 0x480000, 0x480000, 0, 1)
    visual += bytes(32) + struct.pack(">Hh", 0x18, -1)
    head = _box(b"ftyp", ftyp)
    moov_without_offset = _moov(sample_entry, visual, chunk_offset=0)
    mdat_offset = len(head) + len(moov_without_offset) + 8
    return (
        head
        + _moov(sample_entry, visual, chunk_offset=mdat_offset)
        + _box(b"mdat", _FRAME)
        + _box(b"free", bytes(room))
    )


def _moov(sample_entry: bytes, visual: bytes, chunk_offset: int) -> bytes:
    entry = sample_entry[:4]
    extensions = sample_entry[4:]
    stbl = _box(
        b"stbl",
        _full_box(b"stsd", 0, struct.pack(">I", 1), _box(entry, visual, extensions)),
        _full_box(b"stts", 0, struct.pack(">III", 1, 1, 40)),
        _full_box(b"stss", 0, struct.pack(">II", 1, 1)),
        _full_box(b"stsc", 0, struct.pack(">IIII", 1, 1, 1, 1)),
        _full_box(b"stsz", 0, struct.pack(">III", 0, 1, len(_FRAME))),
        _full_box(b"stco", 0, struct.pack(">II", 1, chunk_offset)),
    )
    minf = _box(
        b"minf",
        _full_box(b"vmhd", 1, bytes(8)),
        _box(b"dinf", _full_box(b"dref", 0, struct.pack(">I", 1), _full_box(b"url ", 1))),
        stbl,
    )
    mdia = _box(
        b"mdia",
        _full_box(b"mdhd", 0, struct.pack(">IIIIHH", 0, 0, 1000, 40, 0x55C4, 0)),
        _full_box(b"hdlr", 0, bytes(4), b"vide", bytes(12), b"VideoHandler\x00"),
        minf,
    )
    tkhd = _full_box(
        b"tkhd",
        3,
        struct.pack(">IIIII8xhhhH", 0, 0, 1, 0, 40, 0, 0, 0, 0),
        _MATRIX,
        struct.pack(">II", 8 << 16, 8 << 16),
    )
    mvhd = _full_box(
        b"mvhd",
        0,
        struct.pack(">IIIIIH10x", 0, 0, 1000, 40, 0x10000, 0x100),
        _MATRIX,
        bytes(24),
        struct.pack(">I", 2),
    )
    return _box(b"moov", mvhd, _box(b"trak", tkhd, mdia))


def _esds() -> bytes:
    """MPEG-4 systems' way to say "this track is JPEG": object type 0x6C, a visual stream."""
    decoder_config = b"\x04\x0d" + struct.pack(">BB3sII", 0x6C, 0x11, bytes(3), 0, 0)
    es = b"\x03" + bytes([3 + len(decoder_config) + 3]) + struct.pack(">HB", 1, 0) + decoder_config
    return _full_box(b"esds", 0, es + b"\x06\x01\x02")


def _heif(major: bytes, *brands: bytes) -> Callable[[int], bytes]:
    """The head of a HEIF: its `ftyp` brands, then a `free` box for the padding. It sniffs as a
    HEIF and passes the body checks; it holds no image, so no decoder reads it (the real ones are
    made by pillow-heif in tests/photos.py)."""

    def build(room: int) -> bytes:
        head = _box(b"ftyp", major + bytes(4) + b"".join(brands))
        return head + _box(b"free", bytes(room))

    return build


def _mp4(room: int) -> bytes:
    ftyp = b"isom" + struct.pack(">I", 0x200) + b"isomiso2mp41"
    return _iso_media(ftyp, b"mp4v" + _esds(), room)


def _mov(room: int) -> bytes:
    ftyp = b"qt  " + struct.pack(">I", 0x20050300) + b"qt  "
    return _iso_media(ftyp, b"jpeg", room)


def _avi(room: int) -> bytes:
    frame = b"\x00\x80\xff\x00"  # one 24-bit pixel, its row padded to four bytes
    avih = struct.pack("<10I16x", 40000, 0, 0, 0x10, 1, 0, 1, len(frame), 1, 1)
    strh = struct.pack(
        "<4s4sIHHIIIIIIiI4h", b"vids", b"DIB ", 0, 0, 0, 0, 1, 25, 0, 1, len(frame), -1, 0, 0, 0, 1, 1
    )
    strf = struct.pack("<IiiHHIIiiII", 40, 1, 1, 1, 24, 0, len(frame), 0, 0, 0, 0)
    strl = _riff_chunk(b"LIST", b"strl" + _riff_chunk(b"strh", strh) + _riff_chunk(b"strf", strf))
    hdrl = _riff_chunk(b"LIST", b"hdrl" + _riff_chunk(b"avih", avih) + strl)
    movi = _riff_chunk(b"LIST", b"movi" + _riff_chunk(b"00db", frame))
    idx1 = _riff_chunk(b"idx1", struct.pack("<4sIII", b"00db", 0x10, 4, len(frame)))
    return _riff(b"AVI ", hdrl + movi + idx1, room)


def _vint(n: int, width: int | None = None) -> bytes:
    """An EBML variable-size integer, in its shortest form unless a width is asked for."""
    length = width or next(k for k in range(1, 9) if n < (1 << (7 * k)) - 1)
    return ((1 << (7 * length)) | n).to_bytes(length, "big")


def _ebml(element_id: int, *children: bytes, width: int | None = None) -> bytes:
    data = b"".join(children)
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + _vint(len(data), width) + data


def _uint(element_id: int, value: int) -> bytes:
    return _ebml(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


class _BoolEncoder:
    """VP9's boolean arithmetic coder, as libvpx writes it (vpx_dsp/bitwriter.h)."""

    def __init__(self) -> None:
        self._low, self._range, self._count = 0, 255, -24
        self.out = bytearray()

    def put(self, bit: int, probability: int) -> None:
        split = 1 + (((self._range - 1) * probability) >> 8)
        low, span = (self._low + split, self._range - split) if bit else (self._low, split)
        shift = 8 - span.bit_length()
        span <<= shift
        count = self._count + shift
        if count >= 0:
            offset = shift - count
            if (low << (offset - 1)) & 0x80000000:  # carry into the bytes already written
                at = len(self.out) - 1
                while self.out[at] == 0xFF:
                    self.out[at] = 0
                    at -= 1
                self.out[at] += 1
            self.out.append((low >> (24 - offset)) & 0xFF)
            low = (low << offset) & 0xFFFFFF
            shift, count = count, count - 8
        self._low, self._range, self._count = (low << shift) & 0xFFFFFFFF, span, count

    def finish(self) -> bytes:
        for _ in range(32):
            self.put(0, 128)
        if self.out[-1] & 0xE0 == 0xC0:  # would read as a superframe index marker
            self.out.append(0)
        return bytes(self.out)


def _bool_coded(*decisions: tuple[int, int]) -> bytes:
    encoder = _BoolEncoder()
    for bit, probability in ((0, 128), *decisions):  # a zero marker bit opens every partition
        encoder.put(bit, probability)
    return encoder.finish()


def _vp9_key_frame() -> bytes:
    """An 8x8 lossless (q 0) profile-0 key frame: one block, DC-predicted and skipped, so grey."""
    compressed_header = _bool_coded((0, 128), (0, 252), (0, 252), (0, 252))  # no prob updates
    # One tile: partition NONE, skip, luma DC_PRED, chroma DC_PRED, at the key-frame probabilities.
    tile = _bool_coded((0, 158), (1, 192), (0, 137), (0, 144))
    fields = [
        (2, 2), (0, 1), (0, 1), (0, 1),  # frame marker, profile 0, not a shown-existing frame
        (0, 1), (1, 1), (0, 1),  # key frame, shown, not error resilient
        (0x498342, 24), (1, 3), (0, 1),  # sync code, BT.601, studio range
        (7, 16), (7, 16), (0, 1),  # 8x8, no separate render size
        (0, 1), (1, 1), (0, 2),  # no context refresh, parallel mode, context 0
        (0, 6), (0, 3), (0, 1),  # loop filter off, no deltas
        (0, 8), (0, 1), (0, 1), (0, 1),  # base q 0 and no deltas: lossless
        (0, 1), (0, 1),  # no segmentation, one tile row
        (len(compressed_header), 16),
    ]  # fmt: skip
    bits = "".join(format(value, f"0{width}b") for value, width in fields)
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big") + compressed_header + tile


def _matroska(doctype: bytes, codec: bytes, room: int) -> bytes:
    header = _ebml(
        0x1A45DFA3,
        _uint(0x4286, 1),
        _uint(0x42F7, 1),
        _uint(0x42F2, 4),
        _uint(0x42F3, 8),
        _ebml(0x4282, doctype),
        _uint(0x4287, 4),
        _uint(0x4285, 2),
    )
    info = _ebml(
        0x1549A966,
        _uint(0x2AD7B1, 1_000_000),
        _ebml(0x4D80, b"tests.samples"),
        _ebml(0x5741, b"tests.samples"),
    )
    video = _ebml(0xE0, _uint(0xB0, 8), _uint(0xBA, 8))
    track = _ebml(0xAE, _uint(0xD7, 1), _uint(0x73C5, 1), _uint(0x83, 1), _ebml(0x86, codec), video)
    frame = _FRAME if codec == b"V_MJPEG" else _vp9_key_frame()
    block = _ebml(0xA3, _vint(1), b"\x00\x00\x80", frame)  # track 1, at time 0, a key frame
    cluster = _ebml(0x1F43B675, _uint(0xE7, 0), block)
    # Eight-byte sizes on the Segment and the Void, so padding never changes the header lengths.
    void = _ebml(0xEC, bytes(room), width=8)
    return header + _ebml(0x18538067, info, _ebml(0x1654AE6B, track), cluster, void, width=8)


_BUILDERS: dict[str, Callable[[int], bytes]] = {
    "jpg": _jpeg,
    "jpeg": _jpeg,
    "png": _png,
    "gif": _gif,
    "webp": _webp,
    "bmp": _bmp,
    "heic": _heif(b"heic", b"mif1", b"heic", b"miaf"),
    "heif": _heif(b"mif1", b"mif1", b"miaf"),
    "pdf": _pdf,
    "doc": _doc,
    "docx": _docx,
    "txt": _txt,
    "zip": _plain_zip,
    "rar": _rar,
    "mp4": _mp4,
    "avi": _avi,
    "mov": _mov,
    "mkv": lambda room: _matroska(b"matroska", b"V_MJPEG", room),
    "webm": lambda room: _matroska(b"webm", b"V_VP9", room),
}


# The EICAR test file: harmless, and what every scanner reports as a virus by agreement. The tests'
# clamd knows it from a signature the tests write themselves (tests/clamd.py).
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def eicar_txt() -> bytes:
    return b"Nothing to see here.\n" + EICAR + b"\n"


def eicar_zip(*, deflated: bool = False) -> bytes:
    """A .zip whose one member is the EICAR file, stored as is or deflated (the scanner unpacks)."""
    buffer = io.BytesIO()
    method = zipfile.ZIP_DEFLATED if deflated else zipfile.ZIP_STORED
    with zipfile.ZipFile(buffer, "w", method) as archive:
        info = zipfile.ZipInfo("eicar.com", date_time=(2024, 1, 1, 0, 0, 0))
        info.create_system = 3
        info.external_attr = 0o644 << 16
        info.compress_type = method
        archive.writestr(info, EICAR)
    return buffer.getvalue()


def eicar_pdf() -> bytes:
    """A valid PDF (the sample's) with the EICAR string on a comment line after its trailer."""
    pdf = _pdf(0)
    at = pdf.rindex(b"startxref")
    return pdf[:at] + b"%" + EICAR + b"\n" + pdf[at:]
