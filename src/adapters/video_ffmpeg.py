"""The video `MediaProcessor` on ffprobe and ffmpeg (Debian's `ffmpeg` package), run as child
processes: each video scrubbed and fast-started (`video_remux`), its size, duration and a poster
frame, within a time limit.

ffprobe reads the container's header for the size, rotation and duration while, beside it, ffmpeg
decodes one frame (one second in; a third of the way into a shorter video) scaled to the thumbnail
size, which Pillow turns into the WebP thumbnail and its BlurHash. ffmpeg is told the pixel budget
(`-max_pixels`, with room for its padding), so its decoder refuses a frame far over it before
ffprobe has said anything; a video ffprobe finds over the budget gets no poster, and the poster's
ffmpeg is stopped. Each video holds one media worker slot for both processes, gets `timeout`
seconds all in all (they are killed past them), and where `prlimit` exists each process runs under
an address-space limit. Once ffprobe has named the streams, the remux runs beside the poster. A
video ffprobe cannot read, or that ffmpeg does not remux in time, is kept as it came (`scrubbed`
False, and `note` says why); one whose poster does not decode in time is kept without one. Where
ffmpeg is not installed, videos are kept as they came: see the README for how to add it.
"""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
from PIL import Image

from adapters.child_process import ChildFailed, run_child
from adapters.media_pillow import Thumbnail, make_thumbnail
from adapters.media_workers import MediaWorkers
from adapters.video_inputs import has_no_index, readable_path
from adapters.video_probe import PROBE_ENTRIES, Probe, ProbeUnreadable, parse_probe
from adapters.video_remux import MUXER, AdoptWritten, InPlace, nothing_adopted, remux_into
from application.ports.files import MediaSource
from application.ports.media import ProcessedMedia, Restaged, Stage
from domain.attachment import THUMBNAIL_MAX_SIDE
from domain.errors import ImageTooLarge
from domain.policy import Admission, MediaPolicy

DEFAULT_TIMEOUT = 20.0  # seconds for probing, the remux and the poster together
MEMORY_LIMIT = 1 << 30  # address space of each child process, where prlimit can set it
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


class _Made:
    """What the processes learnt and made of one video so far: kept when the time runs out."""

    def __init__(self) -> None:
        self.facts: dict[str, Any] = {}  # width, height, duration_s: what ffprobe said
        self.restaged: Restaged | None = None
        self.thumbnail: Thumbnail | None = None
        self.notes: list[str] = []
        self.poster_wanted = True

    def result(self) -> ProcessedMedia:
        thumbnail = self.thumbnail
        return ProcessedMedia(
            **self.facts,
            restaged=self.restaged,
            scrubbed=self.restaged is not None,
            thumbnail=None if thumbnail is None else thumbnail.webp,
            blurhash=None if thumbnail is None else thumbnail.blurhash,
            note="; ".join(self.notes) or None,
        )


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
        adopt_written: AdoptWritten = nothing_adopted,
    ) -> None:
        """`local_path` names a path ffmpeg may open for a staged file (the disk store's
        `local_path`); without one, the bytes are copied to a private temporary file first. The
        remux writes there too, taken by `adopt_written` (the disk store's), when both are given."""
        self._policy = policy
        self._local_path = local_path
        self._in_place = InPlace(local_path, adopt_written)
        self._workers = workers
        self._timeout = timeout
        self._ffmpeg = ffmpeg or shutil.which("ffmpeg")
        self._ffprobe = ffprobe or shutil.which("ffprobe")
        prlimit = shutil.which("prlimit")
        self._limits = [prlimit, f"--as={MEMORY_LIMIT}", "--"] if prlimit else []

    @property
    def available(self) -> bool:
        return self._ffmpeg is not None and self._ffprobe is not None

    async def process(self, source: MediaSource, admission: Admission, stage: Stage) -> ProcessedMedia:
        if self._ffmpeg is None or self._ffprobe is None:
            return ProcessedMedia(
                scrubbed=False,
                note="ffmpeg is not installed: the video is kept as it came, without size or poster",
            )
        demuxer = _DEMUXER.get(admission.content_type)
        if demuxer is None:
            return ProcessedMedia(
                scrubbed=False, note=f"{admission.content_type} is not a video this processor reads"
            )
        if demuxer == "mov" and await has_no_index(source):
            return ProcessedMedia(scrubbed=False, note=_NO_INDEX)
        made = _Made()
        async with readable_path(source, self._local_path(source)) as path, self._workers.slot():
            source_options = ["-protocol_whitelist", "file", "-f", demuxer, "-i", path]
            with anyio.move_on_after(self._timeout) as deadline:
                await self._work(source_options, MUXER[admission.content_type], stage, made)
        if deadline.cancelled_caught:
            missing = [] if made.restaged is not None else ["kept as it came"]
            if made.poster_wanted and made.thumbnail is None:
                missing.append("no poster")
            made.notes.append(f"ffmpeg did not finish within {self._timeout:g} s: {', '.join(missing)}")
        return made.result()

    async def _work(self, source: list[str], muxer: str, stage: Stage, made: _Made) -> None:
        """`source`: the input options, ending in `-i <path>`. The poster's ffmpeg starts beside
        ffprobe rather than after it: each costs ~0.1 s before it reads a byte (process start,
        shared libraries), and this way a video pays that once. The poster is taken at POSTER_AT
        (the probe's duration is not known yet); when the probe refuses the video, or finds it
        no longer than that, the poster's process is stopped, and a short video's poster is taken
        a third of the way in instead (as before), or from its first frame. The remux needs the
        probe's streams: it starts when the probe ends, beside the poster."""
        poster: list[bytes | ChildFailed] = []
        posting = anyio.CancelScope()
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(self._poster_into, poster, source, POSTER_AT, posting)
            probe = await self._probe_facts(source, made)
            duration = made.facts.get("duration_s")
            short = duration is not None and duration <= POSTER_AT
            if not made.poster_wanted or short:
                posting.cancel()  # no poster at all, or none that far in
            if probe is not None:  # a stream copy decodes nothing: frames over the budget pass
                await self._remux(source, probe, muxer, stage, made)
        if made.poster_wanted:
            await self._poster_from(source, poster[0] if poster and not short else b"", short, made)

    async def _remux(self, source: list[str], probe: Probe, muxer: str, stage: Stage, made: _Made) -> None:
        assert self._ffmpeg is not None
        try:
            made.restaged = await remux_into(
                [*self._limits, self._ffmpeg], source, probe, muxer, stage, self._in_place
            )
        except ChildFailed as exc:
            made.notes.append(f"kept as it came: ffmpeg could not remux it: {exc}")

    async def _poster_from(
        self, source: list[str], frame: bytes | ChildFailed, short: bool, made: _Made
    ) -> None:
        duration = made.facts.get("duration_s")
        try:
            if isinstance(frame, ChildFailed):
                raise frame
            if not frame:  # shorter than POSTER_AT: a third of the way in, else the first frame
                at = duration / 3 if short and duration else 0.0
                frame = await self._poster(source, at)
                if not frame and at > 0:
                    frame = await self._poster(source, 0.0)
        except ChildFailed as exc:
            made.notes.append(f"ffmpeg could not decode a frame: {exc}")
            return
        if not frame:
            made.notes.append("ffmpeg found no frame to make a poster of")
            return
        try:
            made.thumbnail = await anyio.to_thread.run_sync(_thumbnail_of_png, frame)
        except (OSError, ValueError) as exc:
            made.notes.append(f"the poster frame does not decode: {exc}")

    async def _probe_facts(self, source: list[str], made: _Made) -> Probe | None:
        """Fills `made.facts` from ffprobe and says when there must be no poster (unreadable, no
        video stream, frames over the pixel budget); returns the probe, or None when ffprobe
        cannot read the video at all (nothing is remuxed then: the video is kept as it came)."""
        try:
            probe = parse_probe(await self._probe(source))
        except (ChildFailed, ProbeUnreadable) as exc:
            made.poster_wanted = False
            made.notes.append(f"ffprobe could not read the video: {exc}")
            return None
        width, height = probe.width, probe.height
        made.facts.update(width=width, height=height, duration_s=probe.duration_s)
        if width is None or height is None:
            made.poster_wanted = False
            made.notes.append("the video has no video stream ffprobe can read")
            return probe
        try:
            self._policy.check_image_budget(width=width, height=height)
        except ImageTooLarge as exc:
            made.poster_wanted = False
            made.notes.append(f"no poster: {exc}")
        return probe

    async def _poster_into(
        self, into: list[bytes | ChildFailed], source: list[str], at: float, scope: anyio.CancelScope
    ) -> None:
        with scope:
            try:
                into.append(await self._poster(source, at))
            except ChildFailed as exc:
                into.append(exc)

    async def _probe(self, source: list[str]) -> bytes:
        assert self._ffprobe is not None
        return await run_child(
            [
                *self._limits,
                self._ffprobe,
                "-v",
                "error",
                "-show_entries",
                PROBE_ENTRIES,
                "-of",
                "json",
                *source,
            ]
        )

    async def _poster(self, source: list[str], at: float) -> bytes:
        assert self._ffmpeg is not None
        side = THUMBNAIL_MAX_SIDE
        return await run_child(
            [
                *self._limits,
                self._ffmpeg,
                "-nostdin", "-hide_banner", "-v", "error",
                "-threads", "1", "-filter_threads", "1",
                # The decoder itself refuses frames far over the budget: it starts before ffprobe
                # has told their size. It counts its padded buffers (edges, alignment): twice the
                # budget lets every frame within it through.
                "-max_pixels", str(min(2 * self._policy.max_image_pixels, _INT_MAX)),
                "-ss", f"{at:.3f}",
                *source,
                "-map", "0:V:0", "-an", "-sn", "-dn",
                "-frames:v", "1",
                "-vf", f"scale=w='min(iw,{side})':h='min(ih,{side})':force_original_aspect_ratio=decrease",
                "-f", "image2pipe", "-c:v", "png", "pipe:1",
            ]
        )  # fmt: skip


def _thumbnail_of_png(frame: bytes) -> Thumbnail:
    with Image.open(io.BytesIO(frame), formats=["PNG"]) as image:
        return make_thumbnail(image)
