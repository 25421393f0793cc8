"""Media processing through the real app (SQLite, a real uploads folder, Pillow, and ffmpeg where it
is installed): a phone photo loses its location before it is stored, the thumbnail route answers
as the file route does, the attachment carries what was learnt, the bombs are refused."""

from __future__ import annotations

import hashlib
import io
import json
import time
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import blurhash
import pytest
from litestar.testing import AsyncTestClient
from PIL import Image

from adapters.memory import RecordingBroadcaster
from adapters.sql.database import create_engine, session_maker
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from domain.policy import MediaPolicy
from entrypoints.app import create_app
from entrypoints.settings import Settings
from entrypoints.ws_events import render
from tests import photos, samples
from tests.integration.http_fixtures import Api, bearer, plain, unsigned
from tests.integration.test_http_tus import create as tus_create
from tests.integration.test_http_tus import patch as tus_patch

CSP = "sandbox; default-src 'none'; media-src 'self'; style-src 'unsafe-inline'"


async def chat(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    group = await api.conversation("alice", ["bob"])
    return group, await api.message("alice", group["id"])


async def upload_one(api: Api, name: str, data: bytes) -> dict[str, Any]:
    _, message = await chat(api)
    r = await api.upload("alice", message["id"], (name, data))
    assert r.status_code == 201, r.text
    [attachment] = r.json()
    return attachment  # type: ignore[no-any-return]


def image(data: bytes) -> Image.Image:
    opened = Image.open(io.BytesIO(data))
    opened.load()
    return opened


async def test_after_upload_no_exif_is_left_in_the_stored_bytes(api: Api) -> None:
    original = photos.jpeg(1200, 900, orientation=6)
    assert photos.has_gps(original)
    attachment = await upload_one(api, "IMG_0042.JPG", original)

    on_disk = (api.upload_dir / attachment["filename"]).read_bytes()
    served = await api.client.get(attachment["url"], headers=bearer("bob"))
    assert served.status_code == 200
    assert served.content == on_disk
    for data in (on_disk, served.content):
        assert not photos.has_gps(data)
        assert b"Exif\x00\x00" not in data
        assert b"PhoneMaker" not in data
        assert b"http://ns.adobe.com" not in data
        assert not image(data).getexif()
    # Its size, hash and ETag are those of these bytes, not of the upload.
    digest = hashlib.sha256(on_disk).hexdigest()
    assert (attachment["size"], attachment["sha256"]) == (len(on_disk), digest)
    assert served.headers["etag"] == f'"{digest}"'
    assert served.headers["content-length"] == str(len(on_disk))
    # Turned upright: 1200 x 900 stored sideways is 900 x 1200 shown, red above blue.
    assert (attachment["width"], attachment["height"]) == (900, 1200) == image(on_disk).size
    top, bottom = photos.top_bottom_colours(image(on_disk))
    assert photos.near(top, photos.RED)
    assert photos.near(bottom, photos.BLUE)
    assert "duration_s" not in attachment


async def test_the_thumbnail_decodes_at_the_right_size_with_the_files_headers(api: Api) -> None:
    attachment = await upload_one(api, "photo.jpg", photos.jpeg(1600, 1200))
    assert attachment["thumbnail_url"].startswith(f"/api/v1/media/{attachment['id']}/thumbnail?")

    r = await api.client.get(attachment["thumbnail_url"], headers=bearer("bob"))
    assert r.status_code == 200
    thumbnail = image(r.content)
    assert (thumbnail.format, thumbnail.size) == ("WEBP", (320, 240))
    assert not thumbnail.getexif()
    etag = f'"{hashlib.sha256(r.content).hexdigest()}"'
    assert r.headers["etag"] == etag
    assert r.headers.get_list("content-type") == ["image/webp"]
    assert r.headers["content-disposition"].startswith('inline; filename="photo.webp"')
    for name, value in {
        "x-content-type-options": "nosniff",
        "content-security-policy": CSP,
        "referrer-policy": "no-referrer",
        "cross-origin-resource-policy": "same-site",
        "x-robots-tag": "noindex",
        "accept-ranges": "bytes",
    }.items():
        assert r.headers.get_list(name) == [value], name
    file = await api.client.get(attachment["url"], headers=bearer("bob"))
    assert r.headers["cache-control"] == file.headers["cache-control"]
    assert r.headers["cache-control"].startswith("private")
    # The validators and HEAD work as they do for the file.
    again = await api.client.get(
        attachment["thumbnail_url"], headers={**bearer("bob"), "If-None-Match": etag}
    )
    assert again.status_code == 304
    head = await api.client.head(attachment["thumbnail_url"], headers=bearer("alice"))
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)
    part = await api.client.get(attachment["thumbnail_url"], headers={**bearer("bob"), "Range": "bytes=0-3"})
    assert (part.status_code, part.content) == (206, r.content[:4])


async def test_the_thumbnail_route_tells_an_outsider_what_it_tells_for_an_unknown_id(api: Api) -> None:
    attachment = await upload_one(api, "a.png", photos.png())
    unknown = f"/api/v1/media/{uuid.uuid4()}/thumbnail"
    for method in ("GET", "HEAD"):
        outsider = await api.client.request(method, attachment["thumbnail_url"], headers=bearer("mallory"))
        nobody = await api.client.request(method, unknown, headers=bearer("mallory"))
        assert outsider.status_code == nobody.status_code == 404
        assert outsider.content == nobody.content
    assert (await api.client.get(plain(attachment["thumbnail_url"]))).status_code == 401
    # A thumbnail is reachable by its own route only: by name it is no file.
    by_name = f"/api/v1/media/files/{attachment['id']}.thumb.webp"
    assert (await api.client.get(by_name, headers=bearer("alice"))).status_code == 404


async def test_a_document_has_no_thumbnail_url_and_its_route_is_404(api: Api) -> None:
    attachment = await upload_one(api, "a.pdf", samples.sample("pdf"))
    assert not {"thumbnail_url", "width", "height", "duration_s", "blurhash"} & set(attachment)
    r = await api.client.get(f"/api/v1/media/{attachment['id']}/thumbnail", headers=bearer("bob"))
    assert r.status_code == 404
    assert r.json()["status_code"] == 404


async def test_the_new_fields_reach_the_listing_the_history_and_the_events(
    api: Api, settings: Settings, broadcaster: RecordingBroadcaster
) -> None:
    group, message = await chat(api)
    r = await api.upload("alice", message["id"], ("a.gif", photos.animated_gif(count=3, width=64, height=40)))
    assert r.status_code == 201, r.text
    [attachment] = r.json()
    assert (attachment["width"], attachment["height"]) == (64, 40)
    assert blurhash.components(attachment["blurhash"]) == (4, 3)
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    assert [unsigned(a) for a in listed.json()] == [unsigned(attachment)]
    history = await api.client.get(f"/api/v1/conversations/{group['id']}/messages", headers=bearer("bob"))
    assert [unsigned(a) for a in history.json()[0]["attachments"]] == [unsigned(attachment)]
    # The event as sent at once, and as replayed from the log to a client that reconnects: rendered
    # once for every member, so with the plain paths.
    sent = json.loads(render(broadcaster.deliveries[-1][0]))
    assert sent["attachments"] == [unsigned(attachment)]
    engine = create_engine(settings.database_url)
    try:
        async with SqlUnitOfWorkFactory(session_maker(engine))() as uow:
            replayed = [json.loads(render(logged)) for logged in await uow.events.since("bob", 0, 100)]
    finally:
        await engine.dispose()
    assert replayed[-1]["attachments"] == [unsigned(attachment)]
    # Still animated once stored.
    stored = Image.open(api.upload_dir / attachment["filename"])
    assert stored.n_frames == 3


async def test_deleting_removes_the_thumbnails_with_the_files(api: Api) -> None:
    _, message = await chat(api)
    r = await api.upload("alice", message["id"], ("a.jpg", photos.jpeg()), ("b.webp", photos.webp()))
    one, two = r.json()
    names = {one["filename"], two["filename"], f"{one['id']}.thumb.webp", f"{two['id']}.thumb.webp"}
    assert api.stored_files() == names
    assert (await api.client.delete(f"/api/v1/media/{one['id']}", headers=bearer("alice"))).status_code == 204
    assert api.stored_files() == {two["filename"], f"{two['id']}.thumb.webp"}
    assert (await api.client.get(one["thumbnail_url"], headers=bearer("alice"))).status_code == 404
    assert (
        await api.client.delete(f"/api/v1/messages/{message['id']}", headers=bearer("alice"))
    ).status_code == 204
    assert api.stored_files() == set()


@pytest.mark.parametrize(
    ("name", "bomb"),
    [
        ("bomb.png", samples.png_claiming(100_000, 100_000)),  # 10 gigapixels in a few hundred bytes
        ("frames.gif", samples.gif_with_frames(20_000, 512)),
    ],
    ids=["png-10-gigapixels", "gif-20000-frames"],
)
async def test_bombs_are_refused_with_413_quickly_and_keep_nothing(api: Api, name: str, bomb: bytes) -> None:
    _, message = await chat(api)
    started = time.perf_counter()
    r = await api.upload("alice", message["id"], ("fine.jpg", photos.jpeg()), (name, bomb))
    assert time.perf_counter() - started < 10
    assert r.status_code == 413, r.text
    assert r.json()["status_code"] == 413
    assert "accepted" in r.json()["detail"]
    assert api.stored_files() == set()
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("alice"))
    assert listed.json() == []


async def test_the_pixel_budget_is_a_setting(settings: Settings) -> None:
    small = replace(settings, policy=MediaPolicy.from_lists(max_image_pixels=100 * 100))
    async with AsyncTestClient(create_app(small), timeout=30) as client:
        api = Api(client=client, upload_dir=small.upload_dir)
        _, message = await chat(api)
        assert (await api.upload("alice", message["id"], ("a.jpg", photos.jpeg(101, 100)))).status_code == 413
        assert (await api.upload("alice", message["id"], ("a.jpg", photos.jpeg(100, 100)))).status_code == 201


async def test_a_truncated_jpeg_is_kept_without_thumbnail(api: Api) -> None:
    whole = photos.jpeg(800, 600)
    attachment = await upload_one(api, "cut.jpg", whole[: len(whole) // 2])
    assert "thumbnail_url" not in attachment
    assert "blurhash" not in attachment
    assert (attachment["width"], attachment["height"]) == (800, 600)
    assert not photos.has_gps((api.upload_dir / attachment["filename"]).read_bytes())


async def test_a_resumable_upload_is_processed_as_a_plain_one(api: Api) -> None:
    _, message = await chat(api)
    original = photos.jpeg(800, 600, orientation=8)
    r = await tus_create(api, "alice", "IMG_0002.JPG", len(original), message_id=message["id"])
    assert r.status_code == 201, r.text
    done = await tus_patch(api.client, "alice", r.headers["location"], 0, original)
    assert done.status_code == 204, done.text
    [attachment] = (
        await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    ).json()
    assert attachment["id"] == done.headers["upload-attachment-id"]
    assert (attachment["width"], attachment["height"]) == (600, 800)
    stored = (api.upload_dir / attachment["filename"]).read_bytes()
    assert not photos.has_gps(stored)
    assert hashlib.sha256(stored).hexdigest() == attachment["sha256"]
    assert (await api.client.get(attachment["thumbnail_url"], headers=bearer("bob"))).status_code == 200


# ---- videos: ffmpeg where it is installed ----------------------------------------------------------

needs_ffmpeg = pytest.mark.skipif(photos.FFMPEG is None, reason=photos.NO_FFMPEG)


@needs_ffmpeg
async def test_a_video_gets_its_size_duration_and_a_poster(api: Api, tmp_path: Path) -> None:
    clip = photos.video(tmp_path / "clip.mp4", seconds=2, width=640, height=360)
    attachment = await upload_one(api, "clip.mp4", clip)
    assert (attachment["width"], attachment["height"]) == (640, 360)
    assert attachment["duration_s"] == pytest.approx(2.0, abs=0.1)
    assert attachment["blurhash"]
    stored = (api.upload_dir / attachment["filename"]).read_bytes()
    assert stored != clip  # remuxed without its tags (test_video_scrub)
    assert (attachment["scrubbed"], attachment["sha256"]) == (True, hashlib.sha256(stored).hexdigest())
    r = await api.client.get(attachment["thumbnail_url"], headers=bearer("bob"))
    assert r.status_code == 200
    assert image(r.content).size == (320, 180)
    assert (await api.client.get(attachment["thumbnail_url"], headers=bearer("mallory"))).status_code == 404


@needs_ffmpeg
async def test_a_video_ffmpeg_cannot_decode_is_kept_without_poster(api: Api) -> None:
    broken = samples.sample("mp4")[:300]  # its header, and none of its frame
    attachment = await upload_one(api, "broken.mp4", broken)
    assert "thumbnail_url" not in attachment
    assert attachment["scrubbed"] is False  # nothing to remux: kept as it came, and it says so
    assert (api.upload_dir / attachment["filename"]).read_bytes() == broken
