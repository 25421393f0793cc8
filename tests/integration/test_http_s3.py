"""The real app with STORAGE=s3 (moto on loopback): uploads land in the bucket, downloads stream
from it with ranges, deletes remove the object; with S3_PRESIGNED_DOWNLOADS=true a GET is a 307 to
a presigned URL, after the same access check, whose answer carries the contract's headers."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.files.s3 import MIN_PART_SIZE, S3Config
from adapters.memory import RecordingBroadcaster
from entrypoints.app import create_app
from entrypoints.settings import S3Settings, Settings
from tests import photos, samples
from tests.integration.http_fixtures import Api, bearer
from tests.s3 import Moto, contents, s3_settings, stored_objects

pytestmark = pytest.mark.s3

FILES = "/api/v1/media/files"


async def s3_api(settings: Settings, s3: S3Settings) -> AsyncIterator[Api]:
    app = create_app(replace(settings, s3=s3), broadcaster=RecordingBroadcaster())
    async with AsyncTestClient(app, timeout=30) as client:
        yield Api(client=client, upload_dir=settings.upload_dir)


@pytest.fixture
async def streamed(settings: Settings, s3_config: S3Config) -> AsyncIterator[Api]:
    async for api in s3_api(settings, s3_settings(replace(s3_config, part_size=MIN_PART_SIZE))):
        yield api


@pytest.fixture
async def presigned(settings: Settings, s3_config: S3Config) -> AsyncIterator[Api]:
    async for api in s3_api(settings, s3_settings(s3_config, presigned_downloads=True, presign_ttl=30)):
        yield api


async def uploaded(api: Api, body: bytes, name: str) -> dict[str, str]:
    conversation = await api.conversation("alice", ["bob"])
    message = await api.message("alice", conversation["id"])
    answer = await api.upload("alice", message["id"], (name, body))
    assert answer.status_code == 201, answer.text
    return answer.json()[0]  # type: ignore[no-any-return]


async def test_an_upload_lands_in_the_bucket_and_streams_back_with_ranges(
    streamed: Api, s3_config: S3Config, moto: Moto
) -> None:
    # A document: stored as it came (a video would be remuxed: test_a_video_is_scrubbed_in_the_bucket).
    body = samples.sample("zip", size=MIN_PART_SIZE * 2 + 1234)  # three parts, then the copy
    attachment = await uploaded(streamed, body, "photos.zip")
    held = contents(moto, s3_config.bucket)
    stored = stored_objects(attachment)
    assert (held.objects, held.versions, held.uploads) == (stored, len(stored), frozenset())
    assert streamed.stored_files() == set()  # nothing on local disk

    whole = await streamed.client.get(attachment["url"], headers=bearer("bob"))
    assert whole.status_code == 200
    assert whole.content == body
    assert whole.headers["content-type"] == "application/zip"
    part = await streamed.client.get(
        attachment["url"], headers={**bearer("bob"), "Range": "bytes=5242870-5242889"}
    )
    assert part.status_code == 206
    assert part.content == body[5242870:5242890]
    assert part.headers["content-range"] == f"bytes 5242870-5242889/{len(body)}"

    gone = await streamed.client.delete(f"/api/v1/media/{attachment['id']}", headers=bearer("alice"))
    assert gone.status_code == 204
    assert contents(moto, s3_config.bucket).objects == frozenset()
    assert (await streamed.client.get(attachment["url"], headers=bearer("bob"))).status_code == 404


@pytest.mark.skipif(photos.FFMPEG is None, reason=photos.NO_FFMPEG)
async def test_a_video_is_scrubbed_in_the_bucket(
    streamed: Api, s3_config: S3Config, moto: Moto, tmp_path: Path
) -> None:
    """No local path for ffmpeg here: it reads a private copy, and the remux is staged in the bucket."""
    clip = photos.phone_video(tmp_path, "mp4")
    attachment = await uploaded(streamed, clip, "IMG_0042.mp4")
    held = contents(moto, s3_config.bucket)
    assert (held.objects, held.uploads) == (stored_objects(attachment), frozenset())
    served = await streamed.client.get(attachment["url"], headers=bearer("bob"))
    assert served.status_code == 200
    assert attachment["scrubbed"] is True
    assert hashlib.sha256(served.content).hexdigest() == attachment["sha256"]
    for leak in photos.PHONE_LEAKS:
        assert leak not in served.content
    boxes = photos.top_boxes(served.content)
    assert boxes.index(b"moov") < boxes.index(b"mdat")


async def test_a_large_photos_preview_lands_beside_it_streams_back_and_goes_with_it(
    streamed: Api, s3_config: S3Config, moto: Moto
) -> None:
    attachment = await uploaded(streamed, photos.jpeg(2400, 1600), "big.jpg")
    stored = stored_objects(attachment)
    assert len(stored) == 3  # the file, its thumbnail, its preview
    assert contents(moto, s3_config.bucket).objects == stored
    preview = await streamed.client.get(attachment["preview_url"])
    assert preview.status_code == 200
    assert preview.headers["content-type"] == "image/webp"
    assert preview.content[:4] == b"RIFF"
    gone = await streamed.client.delete(f"/api/v1/media/{attachment['id']}", headers=bearer("alice"))
    assert gone.status_code == 204
    assert contents(moto, s3_config.bucket).objects == frozenset()


async def test_a_refused_upload_leaves_nothing_in_the_bucket(
    settings: Settings, s3_config: S3Config, moto: Moto
) -> None:
    capped = replace(settings, policy=replace(settings.policy, max_upload_size=MIN_PART_SIZE + 100))
    async for api in s3_api(capped, s3_settings(replace(s3_config, part_size=MIN_PART_SIZE))):
        conversation = await api.conversation("alice", [])
        message = await api.message("alice", conversation["id"])
        answer = await api.upload(
            "alice", message["id"], ("big.pdf", samples.sample("pdf", size=MIN_PART_SIZE * 2))
        )
        assert answer.status_code == 413
    held = contents(moto, s3_config.bucket)
    assert (held.objects, held.versions, held.uploads) == (frozenset(), 0, frozenset())


async def test_a_presigned_download_redirects_after_the_access_check(presigned: Api) -> None:
    body = samples.sample("pdf")
    attachment = await uploaded(presigned, body, "résumé.pdf")

    answer = await presigned.client.get(attachment["url"], headers=bearer("bob"), follow_redirects=False)
    assert answer.status_code == 307
    assert answer.headers["cache-control"] == "private, no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"
    from_s3 = httpx.get(answer.headers["location"])
    assert from_s3.status_code == 200
    assert from_s3.content == body
    assert from_s3.headers["content-type"] == "application/pdf"
    assert from_s3.headers["content-disposition"] == (
        "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )
    assert from_s3.headers["cache-control"] == "private, max-age=86400"

    # Strangers and odd names get the same 404 as ever, never a URL.
    for user, url in (("mallory", attachment["url"]), ("bob", f"{FILES}/x.pdf")):
        refused = await presigned.client.get(url, headers=bearer(user), follow_redirects=False)
        assert refused.status_code == 404
        assert "location" not in refused.headers
    # HEAD is answered by the service itself (a presigned URL is signed for one method).
    head = await presigned.client.head(attachment["url"], headers=bearer("bob"))
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(body))


async def test_a_signed_url_streams_from_the_bucket_and_redirects_to_it_with_no_header(
    streamed: Api, presigned: Api
) -> None:
    body = samples.sample("zip", size=MIN_PART_SIZE + 4321)
    attachment = await uploaded(streamed, body, "photos.zip")
    url = attachment["url"]  # signed for alice
    whole = await streamed.client.get(url)
    assert (whole.status_code, whole.content) == (200, body)
    part = await streamed.client.get(url, headers={"Range": "bytes=100-199"})
    assert (part.status_code, part.content) == (206, body[100:200])
    forged = await streamed.client.get(url.replace("u=alice", "u=bob"))
    unknown = await streamed.client.get(f"{FILES}/x.zip", headers=bearer("alice"))
    assert (forged.status_code, forged.content) == (unknown.status_code, unknown.content)

    document = await uploaded(presigned, samples.sample("pdf"), "d.pdf")
    answer = await presigned.client.get(document["url"], follow_redirects=False)
    assert answer.status_code == 307
    from_s3 = httpx.get(answer.headers["location"])
    assert (from_s3.status_code, from_s3.content) == (200, samples.sample("pdf"))
    head = await presigned.client.head(document["url"])
    assert (head.status_code, head.headers["content-length"]) == (200, str(len(samples.sample("pdf"))))
