"""Videos scrubbed before they are stored, through the real app (SQLite, a real uploads folder, the
real ffmpeg): what a phone writes into the container (the place, the make and model, chapter
names) is gone from the stored bytes, what plays the file (streams, rotation, language, timing)
stays, an MP4's index comes first, and what the attachment says of the file is what is served."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests import photos
from tests.integration.http_fixtures import Api, bearer
from tests.integration.test_media_processing import upload_one

pytestmark = pytest.mark.skipif(photos.FFMPEG is None, reason=photos.NO_FFMPEG)


def tags_of(found: dict[str, object]) -> dict[str, str]:
    tags = found.get("tags")
    return dict(tags) if isinstance(tags, dict) else {}


@pytest.mark.parametrize("container", ["mp4", "mov", "mkv", "webm"])
async def test_a_phone_video_loses_its_place_device_and_chapters_and_keeps_what_plays_it(
    api: Api, tmp_path: Path, container: str
) -> None:
    clip = photos.phone_video(tmp_path, container)
    for leak in (b"52.5208", b"Home of Alice"):
        assert leak in clip  # the test's own premise: the phone's tags are there before the upload
    attachment = await upload_one(api, f"IMG_0042.{container}", clip)
    stored = api.upload_dir / attachment["filename"]
    data = stored.read_bytes()

    for leak in photos.PHONE_LEAKS:
        assert leak not in data, leak
    found = photos.probe(stored)
    format_tags = tags_of(found["format"])
    assert not {"location", "location-eng", "title"} & set(format_tags)
    assert format_tags.get("encoder") in (None, "Lavf")  # Matroska names its muxer, with no version
    assert not [key for key in format_tags if key.startswith("com.apple")]
    assert found["chapters"] == []
    streams = found["streams"]
    assert [s["codec_type"] for s in streams] == ["video", "audio"]  # the chapter track is gone
    assert tags_of(streams[1]).get("language") == "fra"
    assert attachment["scrubbed"] is True
    assert attachment["duration_s"] == pytest.approx(2.0, abs=0.1)
    if container in ("mp4", "mov"):
        boxes = photos.top_boxes(data)
        assert boxes.index(b"moov") < boxes.index(b"mdat")  # fast start: the index first
        rotations = [d.get("rotation") for d in streams[0].get("side_data_list", [])]
        assert rotations in ([90], [-90])  # the picture is still turned as it was shot
        assert (attachment["width"], attachment["height"]) == (360, 640)

    # What the attachment says of the file is what is served.
    assert attachment["size"] == len(data)
    assert attachment["sha256"] == hashlib.sha256(data).hexdigest()
    r = await api.client.get(attachment["url"], headers=bearer("bob"))
    assert r.status_code == 200
    assert r.content == data
    assert r.headers["etag"].strip('"') in (attachment["sha256"], f'W/"{attachment["sha256"]}"')
