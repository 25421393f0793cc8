"""iPhone photos (HEIC) through the real app: made here by pillow-heif with GPS in their EXIF and a
rotation in their container, stored and served as upright JPEGs without any of it."""

from __future__ import annotations

import hashlib
import io
import time
from dataclasses import replace

import blurhash
import pillow_heif
import pytest
from litestar.testing import AsyncTestClient
from PIL import ImageCms

from adapters.heif_photos import JPEG_QUALITY
from domain.policy import MediaPolicy
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests import photos, samples
from tests.integration.http_fixtures import Api, bearer
from tests.integration.test_media_processing import chat, image, upload_one


async def test_a_heic_is_stored_and_served_as_an_upright_jpeg_without_exif(api: Api) -> None:
    original = photos.heic(1200, 900, orientation=6)
    assert photos.heif_gps(original)
    assert b"irot" in original  # turned by the container, as an iPhone's are, and by its EXIF
    attachment = await upload_one(api, "IMG_0001.HEIC", original)

    assert attachment["content_type"] == "image/jpeg"
    assert attachment["filename"] == f"{attachment['id']}.jpg"
    assert attachment["original_name"] == "IMG_0001.HEIC"
    on_disk = (api.upload_dir / attachment["filename"]).read_bytes()
    served = await api.client.get(attachment["url"], headers=bearer("bob"))
    assert served.status_code == 200
    assert served.content == on_disk
    assert served.headers.get_list("content-type") == ["image/jpeg"]
    # Downloaded under its own name, with the extension of what it now is.
    assert served.headers["content-disposition"].startswith('inline; filename="IMG_0001.jpg"')
    stored = image(on_disk)
    assert stored.format == "JPEG"
    assert not stored.getexif()
    assert not photos.has_gps(on_disk)
    assert b"Exif\x00\x00" not in on_disk
    assert b"PhoneMaker" not in on_disk
    assert b"http://ns.adobe.com" not in on_disk
    digest = hashlib.sha256(on_disk).hexdigest()
    assert (attachment["size"], attachment["sha256"]) == (len(on_disk), digest)
    # Upright, turned once: 1200 x 900 stored sideways is 900 x 1200 shown, red above blue, at the
    # original's size (not scaled).
    assert (attachment["width"], attachment["height"]) == (900, 1200) == stored.size
    top, bottom = photos.top_bottom_colours(stored)
    assert photos.near(top, photos.RED)
    assert photos.near(bottom, photos.BLUE)
    # Thumbnail and placeholder as for any image.
    thumbnail = await api.client.get(attachment["thumbnail_url"], headers=bearer("bob"))
    assert thumbnail.status_code == 200
    assert (image(thumbnail.content).format, image(thumbnail.content).size) == ("WEBP", (240, 320))
    assert blurhash.components(attachment["blurhash"]) == (3, 4)


async def test_a_heic_keeps_its_quality_as_a_jpeg(api: Api) -> None:
    """Quality 90 (JPEG_QUALITY): the JPEG differs from the HEIC's own pixels by little."""
    original = photos.heic(640, 480, quality=90)
    attachment = await upload_one(api, "IMG_0002.heic", original)
    stored = image((api.upload_dir / attachment["filename"]).read_bytes()).convert("RGB")

    decoded = pillow_heif.open_heif(original).to_pillow().convert("RGB")
    assert stored.size == decoded.size == (640, 480)
    differences = [
        abs(a - b)
        for x, y in ((10, 10), (320, 240), (470, 240), (500, 100), (630, 470))
        for a, b in zip(stored.getpixel((x, y)), decoded.getpixel((x, y)), strict=True)  # type: ignore[arg-type]
    ]
    assert max(differences) <= 8, (JPEG_QUALITY, differences)


@pytest.mark.parametrize("name", ["IMG_0003.heic", "IMG_0003.HEIF"])
async def test_a_heif_extension_without_heif_bytes_is_refused_and_keeps_nothing(api: Api, name: str) -> None:
    _, message = await chat(api)
    r = await api.upload("alice", message["id"], (name, photos.jpeg()))
    assert r.status_code == 415, r.text
    assert "content is a image/jpeg file" in r.json()["detail"]
    assert api.stored_files() == set()


async def test_heif_brands_without_an_image_are_refused(api: Api) -> None:
    _, message = await chat(api)
    r = await api.upload("alice", message["id"], ("IMG_0004.heic", samples.sample("heic", 4096)))
    assert r.status_code == 415, r.text
    assert "HEIF" in r.json()["detail"]
    assert api.stored_files() == set()


async def test_a_heic_over_the_pixel_budget_is_refused_before_it_is_decoded(settings: Settings) -> None:
    small = replace(settings, policy=MediaPolicy.from_lists(max_image_pixels=100 * 100))
    async with AsyncTestClient(create_app(small), timeout=30) as client:
        api = Api(client=client, upload_dir=small.upload_dir)
        _, message = await chat(api)
        too_large = await api.upload("alice", message["id"], ("a.heic", photos.heic(101, 100)))
        assert too_large.status_code == 413, too_large.text
        assert "accepted" in too_large.json()["detail"]
        assert api.stored_files() == set()
        fits = await api.upload("alice", message["id"], ("a.heic", photos.heic(100, 100)))
        assert fits.status_code == 201, fits.text


async def test_a_heic_whose_header_claims_400_megapixels_is_refused_at_once(api: Api) -> None:
    _, message = await chat(api)
    bomb = photos.heic_claiming(20_000, 20_000)
    assert len(bomb) < 10_000
    started = time.perf_counter()
    r = await api.upload("alice", message["id"], ("IMG_0006.HEIC", bomb))
    assert time.perf_counter() - started < 5
    assert r.status_code == 413, r.text
    assert "20,000 x 20,000" in r.json()["detail"]
    assert api.stored_files() == set()


async def test_a_heic_keeps_its_colour_profile_as_a_jpeg(api: Api) -> None:
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    picture = photos.picture(64, 48)
    picture.info["icc_profile"] = profile
    out = io.BytesIO()
    pillow_heif.from_pillow(picture).save(out, quality=80)
    attachment = await upload_one(api, "IMG_0007.heic", out.getvalue())
    stored = image((api.upload_dir / attachment["filename"]).read_bytes())
    assert stored.info.get("icc_profile") == profile
