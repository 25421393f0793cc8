"""Benchmark files the service's type policy admits: an MP4 (an `ftyp` box, then one `mdat` box)."""

from __future__ import annotations

import functools
import hashlib
import os
import struct
from pathlib import Path

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
        out.write(struct.pack(">I", mdat_size) + b"mdat")
        left = mdat_size - 8
        while left > 0:
            block = _BLOCK[: min(left, MiB)]
            out.write(block)
            left -= len(block)
    return path


@functools.cache
def sha256_of(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks (the benchmark files never change once written)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(MiB):
            digest.update(block)
    return digest.hexdigest()


def multipart_frame(boundary: str, fields: dict[str, str], filename: str) -> tuple[bytes, bytes]:
    """The bytes before and after one file's body in a multipart/form-data request: the fields
    first (so `message_id` is checked before the file streams), then the `file` part's header."""
    head = bytearray()
    for name, value in fields.items():
        head += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
    head += (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        "Content-Type: video/mp4\r\n\r\n"
    ).encode()
    return bytes(head), f"\r\n--{boundary}--\r\n".encode()
