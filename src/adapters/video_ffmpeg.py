"""The video `MediaProcessor` on ffprobe and ffmpeg (Debian's `ffmpeg` package), run as child
processes: the size, duration and a poster frame of each video, within a time limit.

ffprobe reads the container's header for the size, rotation and duration while, beside it, ffmpeg
decodes one frame (one second in; a third of the way into a shorter video) scaled to the thumbnail
size, which Pillow turns into the WebP thumbnail and its BlurHash. ffmpeg is told the pixel budget
(`-max_pixels`, with room for its padding), so its decoder refuses a frame far over it before
ffprobe has said anything; a video ffprobe finds over the budget gets no poster, and the poster's
ffmpeg is stopped. Each video holds one media worker slot for both processes, gets `timeout`
seconds all in all (they are killed past them), and where `prlimit` exists each process runs under
an address-space limit. A video ffprobe cannot read, or that ffmpeg does not decode in time, is
kept as it came, without poster, and `note` says why. Where ffmpeg is not installed, videos are
kept the same way: see the README for how to add it.

The video's own bytes are stored as they came: their metadata (a phone's location among it) is not
removed yet.
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from anyio.abc import ByteReceiveStream, Process
from PIL import Image

from adapters.media_pillow import Thumbnail, make_thumbnail
from adapters.media_workers import MediaWorkers
from adapters.video_inputs import has_no_index, readable_path
from application.ports.files import MediaSource
from application.ports.media import ProcessedMedia
from domain.attachment import THUMBNAIL_MAX_SIDE
from domain.errors import ImageTooLarge
from domain.policy import Admission, MediaPolicy

DEFAULT_TIMEOUT = 20.0  # seconds for probing and the poster together
MEMORY_LIMIT = 1 << 30  # address space of each child process, where prlimit can set it
_MAX_OUTPUT = 8 << 20  # bytes read from a child's stdout or stderr before it is stopped
_INT_MAX = 2**31 - 1  # ffmpeg's ceiling for -max_pixels
_NO_INDEX = "the file has no 'moov' box (the index of its frames): nothing can play it"
POSTER_AT = 1.0  # seconds into the video the poster is taken from (the first frame if it is shorter)
# The demuxer is named, never guessed: a file admitted as an MP4 is read as one, and not as, say, an
# HLS playlist that would make ffmpeg open other files or URLs. Only plain files may be opened.
_DEMUXER = {
    "video/mp4": "mov",
    "video/x-m4v": "mov",
    "video/quicktime": "mov",
    "video/x-matroska": "matroska",
    "video/webm": "matroska",
    "video/x-msvideo": "avi",
}


class _Failed(Exception):
    """A child process failed; the message says how, in a line."""


class FfmpegVideoProcessor:
    def __init__(
        self,
        policy: MediaPolicy,
        workers: MediaWorkers,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        ffmpeg: str | None = None,
        ffprobe: str | None = None,
        local_path: Callable[[MediaSource], str | None] = lambda _: None,
    ) -> None:
        """`local_path` names a path ffmpeg may open for a staged file (the disk store's
        `local_path`); without one, the bytes are copied to a private temporary file first."""
        self._policy = policy
        self._local_path = local_path
        self._workers = workers
        self._timeout = timeout
        self._ffmpeg = ffmpeg or shutil.which("ffmpeg")
        self._ffprobe = ffprobe or shutil.which("ffprobe")
        prlimit = shutil.which("prlimit")
        self._limits = [prlimit, f"--as={MEMORY_LIMIT}", "--"] if prlimit else []

    @property
    def available(self) -> bool:
        return self._ffmpeg is not None and self._ffprobe is not None

    async def process(self, source: MediaSource, admission: Admission) -> ProcessedMedia:
        if self._ffmpeg is None or self._ffprobe is None:
            return ProcessedMedia(note="ffmpeg is not installed: the video gets no poster, size or duration")
        demuxer = _DEMUXER.get(admission.content_type)
        if demuxer is None:
            return ProcessedMedia(note=f"{admission.content_type} is not a video this processor reads")
        if demuxer == "mov" and await has_no_index(source):
            return ProcessedMedia(
                note="the file has no 'moov' box (the index of its frames): nothing can play it"
            )
        facts: dict[str, Any] = {}  # what ffprobe said, kept if the poster runs out of time
        async with readable_path(source, self._local_path(source)) as path, self._workers.slot():
            try:
                with anyio.fail_after(self._timeout):
                    source_options = ["-protocol_whitelist", "file", "-f", demuxer, "-i", path]
                    return await self._process(source_options, facts)
            except TimeoutError:
                return ProcessedMedia(
                    **facts, note=f"ffmpeg did not finish within {self._timeout:g} s: no poster"
                )

    async def _process(self, source: list[str], facts: dict[str, Any]) -> ProcessedMedia:
        """`source`: the input options, ending in `-i <path>`. The poster's ffmpeg starts beside
        ffprobe rather than after it: each costs ~0.1 s before it reads a byte (process start,
        shared libraries), and this way a video pays that once. The poster is taken at POSTER_AT
        (the probe's duration is not known yet); when the probe refuses the video, or finds it
        no longer than that, the poster's process is stopped, and a short video's poster is taken
        a third of the way in instead (as before), or from its first frame."""
        poster: list[bytes | _Failed] = []
        async with anyio.create_task_group() as posting:
            posting.start_soon(self._poster_into, poster, source, POSTER_AT)
            refused = await self._probe_facts(source, facts)
            duration = facts.get("duration_s")
            short = duration is not None and duration <= POSTER_AT
            if refused is not None or short:
                posting.cancel_scope.cancel()  # no poster at all, or none that far in
            if refused is not None:
                return refused
        frame = poster[0] if poster and not short else b""
        try:
            if isinstance(frame, _Failed):
                raise frame
            if not frame:  # shorter than POSTER_AT: a third of the way in, else the first frame
                at = duration / 3 if short and duration else 0.0
                frame = await self._poster(source, at)
                if not frame and at > 0:
                    frame = await self._poster(source, 0.0)
        except _Failed as exc:
            return ProcessedMedia(**facts, note=f"ffmpeg could not decode a frame: {exc}")
        if not frame:
            return ProcessedMedia(**facts, note="ffmpeg found no frame to make a poster of")
        try:
            thumbnail = await anyio.to_thread.run_sync(_thumbnail_of_png, frame)
        except (OSError, ValueError) as exc:
            return ProcessedMedia(**facts, note=f"the poster frame does not decode: {exc}")
        return ProcessedMedia(**facts, thumbnail=thumbnail.webp, blurhash=thumbnail.blurhash)

    async def _probe_facts(self, source: list[str], facts: dict[str, Any]) -> ProcessedMedia | None:
        """Fills `facts` from ffprobe; returns what to keep instead of a poster when there must be
        none (unreadable, no video stream, frames over the pixel budget), else None."""
        try:
            width, height, duration = _parse_probe(await self._probe(source))
        except _Failed as exc:
            return ProcessedMedia(note=f"ffprobe could not read the video: {exc}")
        facts.update(width=width, height=height, duration_s=duration)
        if width is None or height is None:
            return ProcessedMedia(**facts, note="the video has no video stream ffprobe can read")
        try:
            self._policy.check_image_budget(width=width, height=height)
        except ImageTooLarge as exc:
            return ProcessedMedia(**facts, note=f"no poster: {exc}")
        return None

    async def _poster_into(self, into: list[bytes | _Failed], source: list[str], at: float) -> None:
        try:
            into.append(await self._poster(source, at))
        except _Failed as exc:
            into.append(exc)

    async def _probe(self, source: list[str]) -> bytes:
        assert self._ffprobe is not None
        return await self._run(
            [
                self._ffprobe,
                "-v", "error",
                "-select_streams", "v:0",
                "-show_entries", "stream=width,height:stream_tags=rotate:stream_side_data=rotation"
                ":format=duration",
                "-of", "json",
                *source,
            ]
        )  # fmt: skip

    async def _poster(self, source: list[str], at: float) -> bytes:
        assert self._ffmpeg is not None
        side = THUMBNAIL_MAX_SIDE
        return await self._run(
            [
                self._ffmpeg,
                "-nostdin", "-hide_banner", "-v", "error",
                "-threads", "1", "-filter_threads", "1",
                # The decoder itself refuses frames far over the budget: it starts before ffprobe
                # has told their size. It counts its padded buffers (edges, alignment): twice the
                # budget lets every frame within it through.
                "-max_pixels", str(min(2 * self._policy.max_image_pixels, _INT_MAX)),
                "-ss", f"{at:.3f}",
                *source,
                "-map", "0:v:0", "-an", "-sn", "-dn",
                "-frames:v", "1",
                "-vf", f"scale=w='min(iw,{side})':h='min(ih,{side})':force_original_aspect_ratio=decrease",
                "-f", "image2pipe", "-c:v", "png", "pipe:1",
            ]
        )  # fmt: skip

    async def _run(self, command: list[str]) -> bytes:
        """The command's stdout; _Failed with its last error line when it exits non-zero. Killed
        when cancelled (the time limit) or when it writes more than _MAX_OUTPUT."""
        async with await anyio.open_process(
            [*self._limits, *command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        ) as process:
            out, err = bytearray(), bytearray()
            async with anyio.create_task_group() as tasks:
                assert process.stdout is not None
                assert process.stderr is not None
                tasks.start_soon(_drain, process, process.stdout, out)
                tasks.start_soon(_drain, process, process.stderr, err)
            code = await process.wait()
        if len(out) > _MAX_OUTPUT or len(err) > _MAX_OUTPUT:
            raise _Failed("it wrote far more than one frame, and was stopped")
        if code != 0:
            lines = err.decode(errors="replace").strip().splitlines()
            raise _Failed(lines[-1] if lines else f"it exited with status {code}")
        return bytes(out)


async def _drain(process: Process, stream: ByteReceiveStream, into: bytearray) -> None:
    async for chunk in stream:
        into += chunk
        if len(into) > _MAX_OUTPUT:
            process.kill()
            return


def _parse_probe(output: bytes) -> tuple[int | None, int | None, float | None]:
    """Width and height as shown (a rotation of 90 or 270 degrees swaps them), and the duration."""
    try:
        found = json.loads(output)
    except ValueError:
        raise _Failed("its answer is not JSON") from None
    streams = found.get("streams") or [{}]
    stream = streams[0]
    width, height = stream.get("width"), stream.get("height")
    rotation = stream.get("tags", {}).get("rotate") or next(
        (d.get("rotation") for d in stream.get("side_data_list", []) if "rotation" in d), 0
    )
    try:
        if int(float(rotation)) % 180:
            width, height = height, width
    except (TypeError, ValueError):
        pass
    try:
        duration: float | None = round(float(found.get("format", {}).get("duration")), 3)
    except (TypeError, ValueError):
        duration = None
    valid = isinstance(width, int) and isinstance(height, int) and width > 0 and height > 0
    return (width, height, duration) if valid else (None, None, duration)


def _thumbnail_of_png(frame: bytes) -> Thumbnail:
    with Image.open(io.BytesIO(frame), formats=["PNG"]) as image:
        return make_thumbnail(image)
