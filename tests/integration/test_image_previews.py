"""The display-size preview of a large image, through the real app: a WebP of at most 1600 px at
`preview_url`, served as the thumbnail is (same access, headers, signed URLs), gone with its file."""

from __future__ import annotations

import hashlib
import uuid

from tests import photos
from tests.integration.http_fixtures import Api, bearer, plain
from tests.integration.test_media_processing import CSP, chat, image, upload_one


async def test_a_large_photo_gets_a_1600_px_webp_preview_with_the_files_headers(api: Api) -> None:
    attachment = await upload_one(api, "big.jpg", photos.jpeg(3000, 2000))
    assert attachment["preview_url"].startswith(f"/api/v1/media/{attachment['id']}/preview?")

    r = await api.client.get(attachment["preview_url"])  # the signed URL alone opens it
    assert r.status_code == 200, r.text
    preview = image(r.content)
    assert (preview.format, preview.size) == ("WEBP", (1600, 1067))
    assert not preview.getexif()
    assert b"PhoneMaker" not in r.content
    left, right = photos.side_colours(preview)
    assert photos.near(left, photos.RED)
    assert photos.near(right, photos.BLUE)
    etag = f'"{hashlib.sha256(r.content).hexdigest()}"'
    assert r.headers["etag"] == etag
    assert r.headers.get_list("content-type") == ["image/webp"]
    assert r.headers["content-disposition"].startswith('inline; filename="big.webp"')
    for name, value in {
        "x-content-type-options": "nosniff",
        "content-security-policy": CSP,
        "referrer-policy": "no-referrer",
        "cross-origin-resource-policy": "same-site",
        "accept-ranges": "bytes",
    }.items():
        assert r.headers.get_list(name) == [value], name
    assert r.headers["cache-control"].startswith("private")
    # The original stays the download, whole.
    file = await api.client.get(attachment["url"])
    assert image(file.content).size == (3000, 2000) == (attachment["width"], attachment["height"])
    assert len(r.content) < len(file.content)
    # The validators, HEAD and ranges work as they do for the file.
    again = await api.client.get(
        plain(attachment["preview_url"]), headers={**bearer("bob"), "If-None-Match": etag}
    )
    assert again.status_code == 304
    head = await api.client.head(plain(attachment["preview_url"]), headers=bearer("alice"))
    assert (head.status_code, head.content, head.headers["etag"]) == (200, b"", etag)
    # The thumbnail is still 320 px.
    thumbnail = await api.client.get(attachment["thumbnail_url"])
    assert image(thumbnail.content).size == (320, 213)


async def test_the_preview_is_the_members_alone(api: Api) -> None:
    attachment = await upload_one(api, "big.png", photos.png(2400, 1200))
    path = plain(attachment["preview_url"])
    unknown = f"/api/v1/media/{uuid.uuid4()}/preview"
    for method in ("GET", "HEAD"):
        outsider = await api.client.request(method, path, headers=bearer("mallory"))
        nobody = await api.client.request(method, unknown, headers=bearer("mallory"))
        assert outsider.status_code == nobody.status_code == 404
        assert outsider.content == nobody.content
    assert (await api.client.get(path)).status_code == 401
    # Another viewer's signed URL, or one for the thumbnail, does not open it.
    signed_for_alice = attachment["preview_url"].partition("?")[2]
    assert (await api.client.get(f"{path}?{signed_for_alice}", headers=bearer("mallory"))).status_code in (
        401,
        404,
    )
    thumbnail_query = attachment["thumbnail_url"].partition("?")[2]
    assert (await api.client.get(f"{path}?{thumbnail_query}")).status_code in (401, 404)
    # A preview is reachable by its own route only: by name it is no file.
    by_name = f"/api/v1/media/files/{attachment['id']}.preview.webp"
    assert (await api.client.get(by_name, headers=bearer("alice"))).status_code == 404


async def test_an_image_up_to_1600_px_and_an_animation_have_no_preview(api: Api) -> None:
    _, message = await chat(api)
    r = await api.upload(
        "alice",
        message["id"],
        ("small.jpg", photos.jpeg(1200, 900)),
        ("edge.jpg", photos.jpeg(1600, 1000)),
        ("moving.gif", photos.animated_gif(count=2, width=1800, height=100)),
    )
    assert r.status_code == 201, r.text
    for attachment in r.json():
        assert "preview_url" not in attachment, attachment["original_name"]
        assert "thumbnail_url" in attachment
        preview = await api.client.get(f"/api/v1/media/{attachment['id']}/preview", headers=bearer("bob"))
        assert preview.status_code == 404
        assert "no preview" in preview.json()["detail"]


async def test_a_heic_from_a_phone_gets_a_preview_turned_like_its_jpeg(api: Api) -> None:
    attachment = await upload_one(api, "IMG_0005.HEIC", photos.heic(2400, 1800, orientation=6))
    assert (attachment["width"], attachment["height"]) == (1800, 2400)
    preview = image((await api.client.get(attachment["preview_url"])).content)
    assert preview.size == (1200, 1600)
    top, bottom = photos.top_bottom_colours(preview)
    assert photos.near(top, photos.RED)
    assert photos.near(bottom, photos.BLUE)


async def test_deleting_removes_the_preview_with_the_file(api: Api) -> None:
    _, message = await chat(api)
    r = await api.upload("alice", message["id"], ("a.jpg", photos.jpeg(2000, 1000)), ("b.jpg", photos.jpeg()))
    one, two = r.json()
    assert api.stored_files() == {
        one["filename"],
        f"{one['id']}.thumb.webp",
        f"{one['id']}.preview.webp",
        two["filename"],
        f"{two['id']}.thumb.webp",
    }
    assert (await api.client.delete(f"/api/v1/media/{one['id']}", headers=bearer("alice"))).status_code == 204
    assert api.stored_files() == {two["filename"], f"{two['id']}.thumb.webp"}
    assert (await api.client.get(plain(one["preview_url"]), headers=bearer("alice"))).status_code == 404


async def test_fresh_signed_urls_carry_the_preview(api: Api) -> None:
    attachment = await upload_one(api, "big.jpg", photos.jpeg(2000, 1500))
    r = await api.client.post(
        "/api/v1/media/sign", json={"attachment_ids": [attachment["id"]]}, headers=bearer("bob")
    )
    assert r.status_code == 200, r.text
    [signed] = r.json()
    assert plain(signed["preview_url"]) == plain(attachment["preview_url"])
    assert (await api.client.get(signed["preview_url"])).status_code == 200
