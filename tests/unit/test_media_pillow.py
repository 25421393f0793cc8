"""The Pillow image processor on real files: what is stored (no metadata, turned upright, still
animated), the thumbnail and BlurHash, and the budget that refuses bombs before decoding."""

from __future__ import annotations

import io
import time

import blurhash
import pytest
from PIL import Image

from adapters.media_pillow import PillowImageProcessor, make_thumbnail
from adapters.media_workers import MediaWorkers
from application.ports.media import ProcessedMedia
from domain.attachment import THUMBNAIL_MAX_SIDE
from domain.errors import ImageTooLarge, UnsupportedMediaType
from domain.policy import MediaPolicy
from tests import photos, samples

processor = PillowImageProcessor(MediaPolicy(), MediaWorkers(1))


def process(data: bytes, image_format: str, policy: MediaPolicy | None = None) -> ProcessedMedia:
    chosen = processor if policy is None else PillowImageProcessor(policy, MediaWorkers(1))
    return chosen.process_bytes(data, image_format)


def opened(data: bytes | None) -> Image.Image:
    assert data is not None
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def test_a_phone_photo_is_stored_without_where_it_was_taken() -> None:
    original = photos.jpeg(400, 300)
    assert photos.has_gps(original)
    result = process(original, "JPEG")
    assert result.content is not None
    assert not photos.has_gps(result.content)
    stored = opened(result.content)
    assert not stored.getexif()
    assert "exif" not in stored.info
    assert "xmp" not in stored.info
    assert "comment" not in stored.info
    assert (result.width, result.height) == (400, 300) == stored.size


@pytest.mark.parametrize(
    ("orientation", "size", "first", "second", "where"),
    [
        (1, (400, 300), photos.RED, photos.BLUE, photos.side_colours),  # blue on the right
        (3, (400, 300), photos.BLUE, photos.RED, photos.side_colours),  # turned half round: left
        (6, (300, 400), photos.RED, photos.BLUE, photos.top_bottom_colours),  # a quarter clockwise
        (8, (300, 400), photos.BLUE, photos.RED, photos.top_bottom_colours),  # anticlockwise
        (2, (400, 300), photos.BLUE, photos.RED, photos.side_colours),  # mirrored
    ],
)
def test_the_orientation_is_applied_to_the_pixels(
    orientation: int,
    size: tuple[int, int],
    first: tuple[int, int, int],
    second: tuple[int, int, int],
    where: object,
) -> None:
    result = process(photos.jpeg(400, 300, orientation=orientation), "JPEG")
    stored = opened(result.content)
    assert stored.getexif().get(photos.ORIENTATION) is None  # no tag left to turn it again
    assert stored.size == size == (result.width, result.height)
    a, b = where(stored)  # type: ignore[operator]
    assert photos.near(a, first)
    assert photos.near(b, second)
    thumbnail = opened(result.thumbnail)
    assert thumbnail.width / thumbnail.height == pytest.approx(size[0] / size[1], rel=0.02)
    a, b = where(thumbnail)  # type: ignore[operator]
    assert photos.near(a, first)
    assert photos.near(b, second)
    assert not photos.has_gps(result.content or b"")


def test_turning_a_jpeg_keeps_its_quantisation_tables() -> None:
    original = photos.jpeg(400, 300, orientation=6)
    result = process(original, "JPEG")
    before, after = opened(original), opened(result.content)
    assert isinstance(after, type(before))
    assert after.quantization == before.quantization  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("size", "expected"),
    [((4000, 3000), (320, 240)), ((1000, 4000), (80, 320)), ((200, 100), (200, 100)), ((1, 1), (1, 1))],
)
def test_the_thumbnail_is_a_webp_at_most_320_on_its_long_side(
    size: tuple[int, int], expected: tuple[int, int]
) -> None:
    result = process(photos.jpeg(*size, gps=False), "JPEG")
    thumbnail = opened(result.thumbnail)
    assert thumbnail.format == "WEBP"
    assert thumbnail.size == expected
    assert max(thumbnail.size) <= THUMBNAIL_MAX_SIDE
    corner = photos.picture(*size).getpixel((0, 0))
    assert photos.near(thumbnail.convert("RGB").getpixel((0, 0)), corner)  # type: ignore[arg-type]
    assert not thumbnail.getexif()


def test_the_blurhash_is_a_valid_hash_of_the_colours() -> None:
    result = process(photos.jpeg(400, 300), "JPEG")
    assert result.blurhash is not None
    assert blurhash.components(result.blurhash) == (4, 3)
    painted = blurhash.decode(result.blurhash, 8, 6)
    red_left = painted[3][0]
    assert red_left[0] > red_left[2]  # the left of the placeholder is red, not blue
    portrait = process(photos.jpeg(300, 400, gps=False), "JPEG")
    assert portrait.blurhash is not None
    assert blurhash.components(portrait.blurhash) == (3, 4)


@pytest.mark.parametrize(
    ("make", "image_format"),
    [
        (photos.png, "PNG"),
        (photos.webp, "WEBP"),
        (photos.animated_gif, "GIF"),
        (photos.animated_webp, "WEBP"),
    ],
)
def test_every_format_loses_its_metadata_and_gets_a_thumbnail(make: object, image_format: str) -> None:
    original = make()  # type: ignore[operator]
    result = process(original, image_format)
    stored = opened(result.content)
    assert stored.format == image_format
    assert not stored.getexif()
    assert not photos.has_gps(result.content or b"")
    assert opened(result.thumbnail).format == "WEBP"
    assert (result.width, result.height) == stored.size
    assert result.note is None


@pytest.mark.parametrize(
    ("make", "image_format"), [(photos.animated_gif, "GIF"), (photos.animated_webp, "WEBP")]
)
def test_an_animation_stays_animated(make: object, image_format: str) -> None:
    result = process(make(count=6), image_format)  # type: ignore[operator]
    assert opened(result.content).n_frames == 6


def test_transparency_survives_into_the_thumbnail() -> None:
    out = io.BytesIO()
    image = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (16, 16, 48, 48))
    image.save(out, "PNG")
    thumbnail = opened(process(out.getvalue(), "PNG").thumbnail)
    assert thumbnail.mode == "RGBA"
    assert thumbnail.getpixel((0, 0))[3] == 0  # type: ignore[index]


@pytest.mark.parametrize("mode", ["L", "LA", "P", "CMYK", "I;16", "1"])
def test_unusual_modes_make_thumbnails_too(mode: str) -> None:
    out = io.BytesIO()
    image_format = "JPEG" if mode == "CMYK" else "PNG"
    photos.picture(40, 30, mode="RGB").convert(mode if mode != "I;16" else "I").convert(mode).save(
        out, image_format
    )
    result = process(out.getvalue(), image_format)
    assert result.note is None
    assert opened(result.thumbnail).size == (40, 30)


@pytest.mark.parametrize("ext", ["jpg", "png", "gif", "webp", "bmp"])
def test_the_tiny_samples_are_processed(ext: str) -> None:
    image_format = {"jpg": "JPEG"}.get(ext, ext.upper())
    result = process(samples.sample(ext, size=1024), image_format)
    assert result.note is None
    assert opened(result.thumbnail).size == opened(samples.sample(ext)).size


def test_a_truncated_jpeg_is_kept_without_metadata_or_thumbnail_and_says_why() -> None:
    whole = photos.jpeg(400, 300)
    truncated = whole[: len(whole) * 2 // 3]
    result = process(truncated, "JPEG")
    assert result.thumbnail is None
    assert result.blurhash is None
    assert result.note is not None
    assert "truncated" in result.note
    assert result.content is not None
    assert not photos.has_gps(result.content)
    assert (result.width, result.height) == (400, 300)


def test_a_truncated_jpeg_that_needed_turning_is_kept_as_it_lies() -> None:
    whole = photos.jpeg(400, 300, orientation=6)
    result = process(whole[: len(whole) // 2], "JPEG")
    assert result.thumbnail is None
    assert result.note is not None
    assert "turned" in result.note
    assert not photos.has_gps(result.content or b"")


@pytest.mark.parametrize(
    ("bomb", "image_format", "said"),
    [
        (samples.png_claiming(100_000, 100_000), "PNG", "pixels"),  # 10 gigapixels in a few hundred bytes
        (samples.png_claiming(50_001, 1000), "PNG", "pixels"),  # just past the budget
        (samples.gif_with_frames(20_000, 512), "GIF", "frames"),  # past the frame count
        (samples.gif_with_frames(900, 1000), "GIF", "together"),  # 900 frames of 1 MP: past all pixels
    ],
    ids=["png-10-gigapixels", "png-just-past", "gif-20000-frames", "gif-900-megapixels"],
)
def test_bombs_are_refused_from_their_header_in_bounded_time(
    bomb: bytes, image_format: str, said: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(ImageTooLarge, match=said):
        process(bomb, image_format)
    assert time.perf_counter() - started < 2  # nothing was decoded: decoding would take minutes


def test_the_budget_is_the_policys() -> None:
    small_budget = MediaPolicy.from_lists(max_image_pixels=10_000, max_image_frames=3)
    with pytest.raises(ImageTooLarge):
        process(photos.jpeg(101, 100), "JPEG", small_budget)
    with pytest.raises(ImageTooLarge):
        process(photos.animated_gif(count=4), "GIF", small_budget)
    assert process(photos.jpeg(100, 100), "JPEG", small_budget).thumbnail is not None


@pytest.mark.parametrize(
    ("data", "image_format"),
    [(b"\xff\xd8 not a JPEG after all", "JPEG"), (samples.sample("png")[:20], "PNG"), (b"GIF89a", "GIF")],
)
def test_what_is_not_an_image_at_all_is_refused(data: bytes, image_format: str) -> None:
    with pytest.raises(UnsupportedMediaType):
        process(data, image_format)


def test_make_thumbnail_never_grows_an_image() -> None:
    made = make_thumbnail(photos.picture(20, 10))
    assert opened(made.webp).size == (20, 10)
