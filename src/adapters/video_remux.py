"""The remux that scrubs a video before it is published: ffmpeg copies the streams that play (no
re-encode) into a fresh container of the same format, without the source's tags.

Gone: every global and per-stream tag (a phone's `location`, `©xyz`,
`com.apple.quicktime.location.ISO6709`, make, model, software, creation time, titles), chapters,
data tracks (timed metadata, where phones put a GPS track), attachments and cover images, and the
muxer's own version string (`+bitexact`). Kept: the video, audio and subtitle streams, each one's
language, the rotation (a display matrix, not a tag: a stream copy carries it), the timing and
edit lists. An MP4/MOV is written with its index (`moov`) first (`+faststart`), so a browser plays
it from the first bytes it fetches.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import anyio

from adapters.child_process import run_child
from adapters.video_probe import Probe
from application.ports.files import MediaSource
from application.ports.media import Restaged, Stage

_READ_CHUNK = 1 << 20
# The muxer each admitted type is written back with: the container it came in.
MUXER = {
    "video/mp4": "mp4",
    "video/x-m4v": "mp4",
    "video/quicktime": "mov",
    "video/x-matroska": "matroska",
    "video/webm": "webm",
    "video/x-msvideo": "avi",
}
_FASTSTART = {"mp4", "mov"}


def remux_command(ffmpeg: list[str], source: list[str], probe: Probe, muxer: str, output: str) -> list[str]:
    """`ffmpeg`: the program and what runs it (prlimit); `source`: the input options, ending in
    `-i <path>`."""
    maps: list[str] = []
    for position, stream in enumerate(probe.kept):
        maps += ["-map", f"0:{stream.index}"]
        if stream.language is not None:
            maps += [f"-metadata:s:{position}", f"language={stream.language}"]
    return [
        *ffmpeg,
        "-nostdin", "-hide_banner", "-v", "error",
        *source,
        *maps,
        "-map_metadata", "-1", "-map_metadata:s", "-1", "-map_chapters", "-1",
        "-c", "copy",
        "-fflags", "+bitexact",
        *(["-movflags", "+faststart"] if muxer in _FASTSTART else []),
        "-f", muxer, "-y", output,
    ]  # fmt: skip


AdoptWritten = Callable[[object], Awaitable[str | None]]


async def nothing_adopted(_: object) -> str | None:
    return None


@dataclass(frozen=True, slots=True)
class InPlace:
    """The disk store's two delivery facts that let ffmpeg write a staged file itself."""

    local_path: Callable[[MediaSource], str | None]
    adopt_written: AdoptWritten


async def remux_into(
    ffmpeg: list[str], source: list[str], probe: Probe, muxer: str, stage: Stage, in_place: InPlace
) -> Restaged:
    """Remuxes into a fresh staged file. Where the store has it on local disk, ffmpeg writes it
    there and the store takes the bytes as they are (hashing them, one read from the page cache).
    Elsewhere ffmpeg writes a private temporary file (the MP4 muxer seeks back over what it wrote,
    so it cannot write to a pipe), which then fills the staged file. Raises ChildFailed when ffmpeg
    refuses (the staged file is then left to the session, which discards it)."""
    staged = await stage()
    target = in_place.local_path(staged)
    if target is not None:
        await run_child(remux_command(ffmpeg, source, probe, muxer, target))
        sha256 = await in_place.adopt_written(staged)
        if sha256 is not None:
            return Restaged(staged, staged.size, sha256)
    fd, path = tempfile.mkstemp(prefix="chat-media-", suffix=f".{muxer}")
    os.close(fd)
    try:
        await run_child(remux_command(ffmpeg, source, probe, muxer, path))
        sha256 = await staged.fill(_chunks_of(path))
        return Restaged(staged, staged.size, sha256)
    finally:
        os.unlink(path)


async def _chunks_of(path: str) -> AsyncIterator[bytes]:
    async with await anyio.open_file(path, "rb") as file:
        while chunk := await file.read(_READ_CHUNK):
            yield chunk
