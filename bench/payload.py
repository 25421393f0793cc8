"""Benchmark files the service's type policy admits: an MP4 of random bytes (an `ftyp` box, then
one `mdat` box: no video in it), a real MP4 that ffmpeg makes and pads to the size asked, and a ZIP
(one stored entry of random bytes)."""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path
from typing import BinaryIO

MiB = 1 << 20
FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"
_BLOCK = os.urandom(MiB)  # random, so nothing on the way can compress or deduplicate it


def write_mp4(path: Path, size: int) -> Path:
    """A valid-looking MP4 of exactly `size` bytes, written in 1 MiB blocks (never held whole)."""
    mdat_size = size - len(FTYP)
    if mdat_size < 8:
        raise ValueError("an MP4 needs at least 32 bytes")
    with path.open("wb") as out:
        out.write(FTYP)
        _random_box(out, b"mdat", mdat_size)
    return path


def _random_box(out: BinaryIO, kind: bytes, size: int) -> None:
    """An ISO media box of `size` bytes (header included) of random bytes, in 1 MiB blocks."""
    out.write(struct.pack(">I", size) + kind)
    left = size - 8
    while left > 0:
        block = _BLOCK[: min(left, MiB)]
        out.write(block)
        left -= len(block)


def write_video(path: Path, size: int) -> Path:
    """A real video of about `size` bytes, as a phone writes one: ffmpeg's 1920x1080 test pattern
    at 30 frames a second (MPEG-4 part 2 at high quality, so the frames fill it, as a phone's
    H.264 at its bitrate does) with AAC sound, the place and the device in its tags, and its index
    (`moov`) after the frames. The upload remuxes it: the stored file is a little smaller. Needs
    ffmpeg on PATH."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        raise RuntimeError("ffmpeg is not on PATH")
    seconds = max(2, size // (3 * 1024 * 1024))  # ~3.5 MiB a second at -q:v 2: -fs cuts it to size
    subprocess.run(
        [
            ffmpeg, "-nostdin", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=duration={seconds}:size=1920x1080:rate=30",
            "-f", "lavfi", "-i", f"sine=duration={seconds}",
            "-c:v", "mpeg4", "-q:v", "2", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-metadata", "location=+52.5208+013.4094/",
            "-metadata", "com.apple.quicktime.location.ISO6709=+52.5208+013.4094+035.000/",
            "-metadata", "com.apple.quicktime.model=iPhone 15 Pro",
            "-movflags", "+use_metadata_tags",
            "-fs", str(size - 512 * 1024),  # the index comes after what -fs counts
            str(path),
        ],
        check=True,
        timeout=300,
    )  # fmt: skip
    return path


def write_zip(path: Path, size: int) -> Path:
    """A valid ZIP of exactly `size` bytes: one stored (uncompressed) entry of random bytes, then its
    central directory and end record, written in 1 MiB blocks (never held whole)."""
    name = b"bench.bin"
    local = 30 + len(name)
    central = 46 + len(name)
    data_size = size - local - central - 22
    if data_size < 0:
        raise ValueError(f"a ZIP needs at least {local + central + 22} bytes")
    crc = 0
    left = data_size
    while left > 0:
        crc = zlib.crc32(_BLOCK[: min(left, MiB)], crc)
        left -= min(left, MiB)
    fixed = struct.pack("<HHHHHIII", 20, 0, 0, 0, 0, crc, data_size, data_size)
    with path.open("wb") as out:
        out.write(b"PK\x03\x04" + fixed + struct.pack("<HH", len(name), 0) + name)
        left = data_size
        while left > 0:
            block = _BLOCK[: min(left, MiB)]
            out.write(block)
            left -= len(block)
        out.write(b"PK\x01\x02" + struct.pack("<H", 20) + fixed)
        out.write(struct.pack("<HHHHHII", len(name), 0, 0, 0, 0, 0, 0) + name)
        out.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, central, local + data_size, 0))
    return path


@functools.cache
def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks (the benchmark files never change once written)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def multipart_frame(
    boundary: str, fields: dict[str, str], filename: str, content_type: str = "video/mp4"
) -> tuple[bytes, bytes]:
    """The bytes before and after one file's body in a multipart/form-data request: the fields
    first (so `message_id` is checked before the file streams), then the `file` part's header."""
    head = bytearray()
    for name, value in fields.items():
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    return bytes(head), f"\r\n--{boundary}--\r\n".encode()
