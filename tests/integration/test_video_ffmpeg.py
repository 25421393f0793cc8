"""The ffmpeg video processor as child processes: real ffmpeg where it is installed, and stand-ins
that hang, babble or lie, to show the time limit, the output cap and the fallbacks. The stand-ins
are shell scripts, so these tests run whether or not ffmpeg is installed."""

from __future__ import annotations

import hashlib
import os
import struct
import tempfile
import threading
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from PIL import Image

from adapters.files.local import LocalFileStore
from adapters.media_workers import MediaWorkers
from adapters.memory import InMemoryFileStore
from adapters.video_ffmpeg import FfmpegVideoProcessor
from application.ports.media import ProcessedMedia
from domain.attachment import MediaKind
from domain.policy import Admission, MediaPolicy
from tests import photos, samples
from tests.integration.http_fixtures import SECRET, bearer
from tests.integration.server_process import running_server, wait_until

MP4 = Admission(extension="mp4", kind=MediaKind.VIDEO, content_type="video/mp4")
PROBED = (
    '{"streams": [{"index": 0, "codec_type": "video", "width": 64, "height": 48}],'
    ' "format": {"duration": "2.000000"}}'
)


def script(folder: Path, name: str, body: str) -> str:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def hanging(folder: Path, name: str) -> str:
    """A stand-in that writes its pid, then sleeps a minute (exec: the pid stays the sleeper's)."""
    return script(folder, name, f'echo $$ > "{folder / name}.pid"\nexec sleep 60')


def poster_hangs(folder: Path) -> str:
    """An ffmpeg whose poster (asked with -ss) hangs like `hanging`, and whose remux fails at once."""
    return script(
        folder,
        "ffmpeg",
        f'case " $* " in *" -ss "*) echo $$ > "{folder}/ffmpeg.pid"; exec sleep 60;; esac; exit 1',
    )


def gone(pid_file: Path) -> bool:
    try:
        os.kill(int(pid_file.read_text()), 0)
    except ProcessLookupError:
        return True
    return False


async def run(processor: FfmpegVideoProcessor, data: bytes = b"") -> ProcessedMedia:
    store = InMemoryFileStore()  # no local path: the processor copies the bytes to a private file
    async with AsyncExitStack() as session, store.stage() as staged:
        await staged.write(data or samples.sample("mp4"))
        return await processor.process(staged, MP4, lambda: session.enter_async_context(store.stage()))


async def test_an_ffmpeg_that_hangs_is_killed_at_the_time_limit(tmp_path: Path) -> None:
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        timeout=0.5,
        ffprobe=script(tmp_path, "ffprobe", f"echo '{PROBED}'"),
        ffmpeg=hanging(tmp_path, "ffmpeg"),
    )
    started = time.monotonic()
    result = await run(processor)
    assert time.monotonic() - started < 5
    assert result.thumbnail is None
    assert result.note == "ffmpeg did not finish within 0.5 s: kept as it came, no poster"
    assert (result.scrubbed, result.restaged) == (False, None)
    assert (result.width, result.height, result.duration_s) == (64, 48, 2.0)  # what ffprobe said stays
    assert gone(tmp_path / "ffmpeg.pid")


async def test_an_ffprobe_that_hangs_is_killed_too(tmp_path: Path) -> None:
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        timeout=0.5,
        ffprobe=hanging(tmp_path, "ffprobe"),
        ffmpeg=script(tmp_path, "ffmpeg", "exit 1"),
    )
    result = await run(processor)
    assert (result.width, result.thumbnail) == (None, None)
    assert result.note is not None
    assert gone(tmp_path / "ffprobe.pid")


async def test_an_ffmpeg_that_babbles_is_stopped(tmp_path: Path) -> None:
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        timeout=20,
        ffprobe=script(tmp_path, "ffprobe", f"echo '{PROBED}'"),
        ffmpeg=script(tmp_path, "ffmpeg", "exec yes"),
    )
    result = await run(processor)
    assert result.thumbnail is None
    assert result.note is not None
    assert "far more" in result.note
    assert (result.width, result.height, result.duration_s) == (64, 48, 2.0)  # what ffprobe said stays


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        ("not json", "not JSON"),
        ('{"streams": [], "format": {}}', "no video stream"),
        ('{"streams": [{"width": 0, "height": 48}]}', "no video stream"),
        ('echo "moov atom not found" >&2; exit 1', "moov atom not found"),
    ],
)
async def test_what_ffprobe_cannot_read_gets_no_poster_and_says_why(
    tmp_path: Path, answer: str, said: str
) -> None:
    body = answer if answer.startswith("echo") else f"echo '{answer}'"
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        ffprobe=script(tmp_path, "ffprobe", body),
        ffmpeg=script(tmp_path, "ffmpeg", "exit 1"),
    )
    result = await run(processor)
    assert result.thumbnail is None
    assert result.note is not None
    assert said in result.note


async def test_a_frame_over_the_pixel_budget_gets_no_poster_and_its_ffmpeg_is_stopped(tmp_path: Path) -> None:
    huge = (
        '{"streams": [{"index": 0, "codec_type": "video", "width": 100000, "height": 100000}],'
        ' "format": {"duration": "1"}}'
    )
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        ffprobe=script(tmp_path, "ffprobe", f"sleep 0.5; echo '{huge}'"),
        ffmpeg=poster_hangs(tmp_path),
    )
    started = time.monotonic()
    result = await run(processor)
    assert time.monotonic() - started < 10  # not the 20 s time limit: stopped on ffprobe's answer
    assert result.thumbnail is None
    assert result.note is not None
    assert "pixels" in result.note
    assert (tmp_path / "ffmpeg.pid").exists()  # it had started beside ffprobe...
    assert gone(tmp_path / "ffmpeg.pid")  # ...and was stopped


@pytest.mark.skipif(photos.FFMPEG is None, reason=photos.NO_FFMPEG)
@pytest.mark.parametrize(("budget", "poster"), [(10_000, False), (320 * 240, True)])
async def test_ffmpeg_itself_decodes_no_frame_over_the_pixel_budget(
    tmp_path: Path, budget: int, poster: bool
) -> None:
    """The poster is decoded while ffprobe still runs, so the budget cannot wait for its answer:
    ffmpeg is given it too (twice it: its buffers are padded). Here ffprobe lies (a small frame),
    and the real ffmpeg still refuses a frame far over the budget, and decodes one within it."""
    clip = photos.video(tmp_path / "clip.mp4", seconds=2, width=320, height=240)
    processor = FfmpegVideoProcessor(
        MediaPolicy.from_lists(max_image_pixels=budget),
        MediaWorkers(1),
        ffprobe=script(tmp_path, "ffprobe", f"echo '{PROBED}'"),
    )
    result = await run(processor, clip)
    assert (result.thumbnail is not None) is poster
    if not poster:
        assert result.note is not None
        assert result.note.startswith("ffmpeg could not decode a frame")


@pytest.mark.parametrize(("duration", "seeks"), [("5.0", ["1.000"]), ("0.6", ["1.000", "0.200"])])
async def test_the_poster_is_taken_one_second_in_or_a_third_into_a_shorter_video(
    tmp_path: Path, duration: str, seeks: list[str]
) -> None:
    """The poster's ffmpeg starts beside ffprobe at 1 s, and is the only one a longer video needs;
    a shorter one's is stopped once ffprobe tells the duration, and taken a third of the way in."""
    frame = tmp_path / "frame.png"
    Image.new("RGB", (64, 48), "teal").save(frame)
    probed = (
        f'{{"streams": [{{"index": 0, "codec_type": "video", "width": 64, "height": 48}}],'
        f' "format": {{"duration": "{duration}"}}}}'
    )
    runs = tmp_path / "ffmpeg-runs"
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        ffprobe=script(tmp_path, "ffprobe", f"sleep 0.5; echo '{probed}'"),
        # Says where it was asked to seek, then (if not stopped first) answers with the frame.
        ffmpeg=script(
            tmp_path,
            "ffmpeg",
            # The remux (no -ss) writes an empty file at its output, the last argument.
            f'case " $* " in *" -ss "*) ;; *) for a; do out="$a"; done; : > "$out"; exit 0;; esac\n'
            f'while [ "$1" != "-ss" ]; do shift; done; echo "$2" >> "{runs}"; sleep 0.5; cat "{frame}"',
        ),
    )
    result = await run(processor)
    assert result.thumbnail is not None
    assert result.note is None
    # The first started beside ffprobe, before the duration was known.
    assert runs.read_text().split() == seeks


FTYP = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2"


def box(kind: bytes, body: bytes, size: int | None = None) -> bytes:
    return struct.pack(">I", len(body) + 8 if size is None else size) + kind + body


@pytest.mark.parametrize(
    "data",
    [
        FTYP + box(b"mdat", os.urandom(5000)),  # what bench/payload.py's write_mp4 makes
        FTYP + box(b"mdat", os.urandom(5000), size=0),  # 0: the box runs to the end
        FTYP + box(b"free", bytes(10)) + b"\x00\x00\x00\x01mdat" + struct.pack(">Q", 5016) + bytes(5000),
    ],
    ids=["mdat", "mdat-to-the-end", "mdat-64-bit-size"],
)
async def test_an_mp4_without_its_index_starts_no_process(tmp_path: Path, data: bytes) -> None:
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        ffprobe=hanging(tmp_path, "ffprobe"),
        ffmpeg=hanging(tmp_path, "ffmpeg"),
    )
    result = await run(processor, data)
    assert result.thumbnail is None
    assert result.note is not None
    assert "'moov'" in result.note
    assert not (tmp_path / "ffprobe.pid").exists()
    assert not (tmp_path / "ffmpeg.pid").exists()


@pytest.mark.parametrize(
    "data",
    [
        FTYP + box(b"mdat", bytes(5000), size=9000),  # cut short: ffprobe says what is wrong
        FTYP + box(b"junk", bytes(10), size=4),  # a box too small to be one
    ],
    ids=["cut-short", "bad-box"],
)
async def test_an_mp4_whose_boxes_do_not_read_cleanly_goes_to_ffprobe(tmp_path: Path, data: bytes) -> None:
    processor = FfmpegVideoProcessor(
        MediaPolicy(),
        MediaWorkers(1),
        ffprobe=script(tmp_path, "ffprobe", 'echo "moov atom not found" >&2; exit 1'),
        ffmpeg=script(tmp_path, "ffmpeg", "exit 1"),
    )
    result = await run(processor, data)
    assert result.note == "ffprobe could not read the video: moov atom not found"


async def test_without_ffmpeg_videos_are_kept_as_they_came(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing there
    processor = FfmpegVideoProcessor(MediaPolicy(), MediaWorkers(1))
    assert not processor.available
    result = await run(processor)
    assert result == ProcessedMedia(
        scrubbed=False, note="ffmpeg is not installed: the video is kept as it came, without size or poster"
    )


@pytest.mark.skipif(photos.FFMPEG is None, reason=photos.NO_FFMPEG)
async def test_real_ffmpeg_reads_a_video_the_store_has_no_path_for(tmp_path: Path) -> None:
    clip = photos.video(tmp_path / "clip.mp4", seconds=2, width=320, height=240)
    processor = FfmpegVideoProcessor(MediaPolicy(), MediaWorkers(1))
    result = await run(processor, clip)
    assert (result.width, result.height) == (320, 240)
    assert result.duration_s == pytest.approx(2.0, abs=0.1)
    assert result.thumbnail is not None
    assert result.note is None


@pytest.mark.server
def test_the_service_answers_others_while_ffmpeg_hangs(tmp_path: Path) -> None:
    """The service as a real process, with an ffmpeg that hangs on PATH: while an upload waits on
    it, the service answers another request; then the upload ends, with its video and no poster."""
    tools = tmp_path / "bin"
    tools.mkdir()
    script(tools, "ffprobe", f"echo '{PROBED}'")
    hanging(tools, "ffmpeg")
    path = f"{tools}{os.pathsep}{os.environ['PATH']}"
    with running_server(tmp_path, SECRET, PATH=path, MEDIA_TIMEOUT="5") as server:

        def call(method: str, url: str, user: str, **kwargs: Any) -> httpx.Response:
            return httpx.request(method, server.base + url, headers=bearer(user), timeout=30, **kwargs)

        group = call("POST", "/api/v1/conversations", "alice", json={"kind": "group", "member_ids": ["bob"]})
        message = call(
            "POST", f"/api/v1/conversations/{group.json()['id']}/messages", "alice", json={"content": "x"}
        )
        answers: dict[str, httpx.Response] = {}
        files = {"file": ("clip.mp4", samples.sample("mp4"))}
        uploading = threading.Thread(
            target=lambda: answers.update(
                upload=call(
                    "POST",
                    "/api/v1/media/upload",
                    "alice",
                    data={"message_id": message.json()["id"]},
                    files=files,
                )
            )
        )
        uploading.start()
        try:
            assert wait_until(lambda: (tools / "ffmpeg.pid").exists()), "the upload never reached ffmpeg"
            listed = call("GET", "/api/v1/conversations", "bob")
            assert listed.status_code == 200
            assert uploading.is_alive()  # answered while the upload hung in ffmpeg
        finally:
            uploading.join(timeout=30)
        r = answers["upload"]
        assert r.status_code == 201, r.text
        [attachment] = r.json()
        assert "thumbnail_url" not in attachment
        assert (attachment["width"], attachment["height"], attachment["duration_s"]) == (64, 48, 2.0)
        assert gone(tools / "ffmpeg.pid")


async def test_the_disk_store_takes_what_a_child_wrote_at_its_staged_path(tmp_path: Path) -> None:
    """The remux's in-place path: ffmpeg writes the staged file itself, which keeps its lock and
    is published with the bytes written there (and their sha256), not what was written before."""
    store = LocalFileStore(tmp_path / "store")
    written = os.urandom(3 * 1024 * 1024 + 17)
    async with store.stage() as staged:
        await staged.write(b"what was there before, longer than nothing")
        path = store.local_path(staged)
        assert path is not None
        with open(path, "wb") as child:  # as ffmpeg -y opens its output: truncated, same inode
            child.write(written)
        assert await store.adopt_written(staged) == hashlib.sha256(written).hexdigest()
        assert staged.size == len(written)
        assert await store.recover() == 0  # still held: no other process's recovery takes it
        await staged.publish("0b7e3f8c-1d2a-4c5b-9e6f-7a8b9c0d1e2f.mp4")
    assert (tmp_path / "store" / "0b7e3f8c-1d2a-4c5b-9e6f-7a8b9c0d1e2f.mp4").read_bytes() == written
    assert await store.adopt_written(object()) is None  # a stranger's file: the caller fills its own


@pytest.mark.skipif(photos.FFMPEG is None, reason=photos.NO_FFMPEG)
async def test_real_ffmpeg_remuxes_in_place_on_the_disk_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    private = tmp_path / "tmp"
    private.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private))  # where a private copy would go
    store = LocalFileStore(tmp_path / "store")
    clip = photos.phone_video(tmp_path, "mp4")
    processor = FfmpegVideoProcessor(
        MediaPolicy(), MediaWorkers(1), local_path=store.local_path, adopt_written=store.adopt_written
    )
    async with AsyncExitStack() as session, store.stage() as staged:
        await staged.write(clip)
        result = await processor.process(staged, MP4, lambda: session.enter_async_context(store.stage()))
        assert result.restaged is not None
        remuxed = b"".join([c async for c in result.restaged.file.read(0, result.restaged.size, 1 << 20)])
    assert result.scrubbed is True
    assert result.restaged.sha256 == hashlib.sha256(remuxed).hexdigest()
    assert photos.top_boxes(remuxed).index(b"moov") < photos.top_boxes(remuxed).index(b"mdat")
    for leak in photos.PHONE_LEAKS:
        assert leak not in remuxed
    assert not list(private.iterdir())  # no private copy made, of the source or of the remux
