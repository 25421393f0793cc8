"""What ffprobe and ffmpeg are given: a path they can open for a staged video, and the cheap check
that an MP4/MOV has an index at all before any child process starts for it."""

from __future__ import annotations

import os
import struct
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

from application.ports.files import MediaSource

_COPY_CHUNK = 1 << 20
_MAX_TOP_BOXES = 1_000  # top-level boxes of an MP4/MOV walked for its `moov` before ffprobe decides


async def has_no_index(source: MediaSource) -> bool:
    """True when an MP4/MOV's top-level boxes read whole, to the file's end, and none is `moov`:
    ffprobe would only say "moov atom not found", after two processes had started for it. False
    when one is `moov`, or when the boxes do not read cleanly (ffprobe then says what is wrong)."""
    offset, size = 0, source.size
    for _ in range(_MAX_TOP_BOXES):
        if offset == size:
            return True
        header = b"".join([chunk async for chunk in source.read(offset, offset + 16, 16)])
        if len(header) < 8:
            return False
        length, kind = struct.unpack(">I4s", header[:8])
        if kind == b"moov":
            return False
        if length == 1 and len(header) == 16:  # a 64-bit size follows the type
            (length,) = struct.unpack(">Q", header[8:])
        elif length == 0:  # the last box: it runs to the end
            length = size - offset
        if length < 8 or offset + length > size:
            return False
        offset += length
    return False


@asynccontextmanager
async def readable_path(source: MediaSource, local: str | None) -> AsyncIterator[str]:
    """A path ffmpeg can open: the staged file's own (`local`), or a private temporary copy."""
    if local is not None:
        yield local
        return
    fd, path = tempfile.mkstemp(prefix="chat-media-", suffix=".video")
    try:
        with os.fdopen(fd, "wb") as copy:
            async for chunk in source.read(0, source.size, _COPY_CHUNK):
                await anyio.to_thread.run_sync(copy.write, chunk)
        yield path
    finally:
        os.unlink(path)
