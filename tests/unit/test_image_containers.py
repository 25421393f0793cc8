"""The container walker: what each format's header claims, and the file rewritten without metadata,
on files Pillow writes the way cameras and editors do."""

from __future__ import annotations

import io
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageSequence

from adapters.image_containers import DamagedImage, rewrite
from tests import photos, samples
from tests.samples import gif_with_frames, png_claiming

FORMATS = {"jpg": "JPEG", "png": "PNG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP"}


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("make", "image_format"),
    [(photos.jpeg, "JPEG"), (photos.png, "PNG"), (photos.webp, "WEBP")],
)
def test_exif_xmp_and_text_are_removed_and_the_pixels_kept(make: object, image_format: str) -> None:
    original = make()  # type: ignore[operator]
    assert photos.has_gps(original)
    rewritten = rewrite(original, image_format, frame_limit=10)
    assert rewritten.data is not None
    assert not photos.has_gps(rewritten.data)
    after = decoded(rewritten.data)
    assert not after.getexif()
    assert not {"exif", "xmp", "XML:com.adobe.xmp", "comment", "Location", "Comment"} & set(after.info)
    assert after.tobytes() == decoded(original).tobytes()  # not re-encoded: the same pixels
    assert (rewritten.layout.width, rewritten.layout.height) == after.size


def test_a_jpeg_keeps_its_colour_profile_and_loses_its_thumbnails_and_what_trails_it() -> None:
    out = io.BytesIO()
    icc = b"\x00" * 128 + b"a made-up colour profile"
    photos.picture(64, 32).save(out, "JPEG", icc_profile=icc, exif=photos.phone_exif())
    # A second image after the end (what MPF-writing phones append), and a JFIF thumbnail.
    jfif_with_thumbnail = (
        struct.pack(">BBH", 0xFF, 0xE0, 2 + 14 + 3)
        + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x01\x01"
        + b"\xff\x00\x00"
    )
    original = out.getvalue()[:2] + jfif_with_thumbnail + out.getvalue()[2:] + photos.jpeg(16, 16)
    rewritten = rewrite(original, "JPEG", frame_limit=1).data
    assert rewritten is not None
    assert rewritten.endswith(b"\xff\xd9")
    assert rewritten.count(b"\xff\xd8") == 1
    assert decoded(rewritten).info.get("icc_profile") == icc
    assert b"\x01\x01\xff\x00\x00" not in rewritten  # the JFIF thumbnail's pixels
    assert not photos.has_gps(rewritten)


def test_a_progressive_jpeg_keeps_every_scan() -> None:
    out = io.BytesIO()
    photos.picture(120, 80).save(out, "JPEG", progressive=True, exif=photos.phone_exif())
    rewritten = rewrite(out.getvalue(), "JPEG", frame_limit=1).data
    assert rewritten is not None
    assert rewritten.count(b"\xff\xda") == out.getvalue().count(b"\xff\xda") > 1
    assert decoded(rewritten).tobytes() == decoded(out.getvalue()).tobytes()


@pytest.mark.parametrize(
    ("make", "image_format"), [(photos.animated_gif, "GIF"), (photos.animated_webp, "WEBP")]
)
def test_an_animation_stays_one(make: object, image_format: str) -> None:
    original = make(count=5)  # type: ignore[operator]
    rewritten = rewrite(original, image_format, frame_limit=10)
    assert rewritten.data is not None
    assert rewritten.layout.frames == 5
    after = Image.open(io.BytesIO(rewritten.data))
    assert after.n_frames == 5
    assert after.info.get("loop") == 0
    assert "comment" not in after.info
    assert not after.getexif()
    assert durations(rewritten.data) == durations(original) == [100] * 5


def durations(data: bytes) -> list[int]:
    image = Image.open(io.BytesIO(data))
    found = []
    for frame in ImageSequence.Iterator(image):
        frame.load()
        found.append(frame.info.get("duration"))
    return found


def test_an_apng_counts_its_frames() -> None:
    out = io.BytesIO()
    first, *rest = photos.frames(3, 16, 16)
    first.save(out, "PNG", save_all=True, append_images=rest, duration=50)
    rewritten = rewrite(out.getvalue(), "PNG", frame_limit=10)
    assert rewritten.layout.frames == 3
    assert rewritten.data is not None
    assert Image.open(io.BytesIO(rewritten.data)).n_frames == 3


@pytest.mark.parametrize("ext", sorted(FORMATS))
def test_the_samples_are_read_and_their_padding_dropped(ext: str) -> None:
    original = samples.sample(ext, size=2048)
    rewritten = rewrite(original, FORMATS[ext], frame_limit=1)
    assert rewritten.data is not None
    assert (rewritten.layout.width, rewritten.layout.height) == decoded(original).size
    assert decoded(rewritten.data).tobytes() == decoded(original).tobytes()
    if ext != "bmp":  # a BMP's gap between header and pixels is where its pixels are said to be
        assert len(rewritten.data) < len(original)


def test_the_header_is_read_without_decoding_and_counting_stops_past_the_limit() -> None:
    bomb = rewrite(png_claiming(100_000, 100_000), "PNG", frame_limit=10)
    assert (bomb.layout.width, bomb.layout.height) == (100_000, 100_000)
    frames = rewrite(gif_with_frames(20_000, 512), "GIF", frame_limit=100)
    assert frames.layout.frames == 101
    assert frames.data is None


@pytest.mark.parametrize(
    ("data", "image_format"),
    [
        (b"not a jpeg at all", "JPEG"),
        (b"\xff\xd8\xff\xe0\x00", "JPEG"),  # ends inside a segment header
        (b"\xff\xd8\xff\xd9", "JPEG"),  # no frame header
        (b"\x89PNG\r\n\x1a\n", "PNG"),  # no IHDR
        (b"GIF89a\x01\x00\x01\x00\x00\x00\x00\x3b", "GIF"),  # no image
        (b"RIFF\x04\x00\x00\x00WEBP", "WEBP"),  # no image chunk
        (b"BM", "BMP"),
        (b"", "TIFF"),
    ],
)
def test_what_cannot_be_taken_apart_is_damaged(data: bytes, image_format: str) -> None:
    with pytest.raises(DamagedImage):
        rewrite(data, image_format, frame_limit=1)


@settings(max_examples=300, deadline=None)
@given(
    ext=st.sampled_from(sorted(FORMATS)),
    cut=st.integers(min_value=0, max_value=4000),
    flips=st.lists(st.tuples(st.integers(min_value=0, max_value=4000), st.integers(0, 255)), max_size=4),
)
def test_a_truncated_or_corrupted_file_is_damaged_or_rewritten_never_anything_else(
    ext: str, cut: int, flips: list[tuple[int, int]]
) -> None:
    whole = bytearray(
        {"jpg": photos.jpeg(40, 30), "png": photos.png(), "webp": photos.webp()}.get(ext)
        or samples.sample(ext)
    )
    for at, value in flips:
        whole[at % len(whole)] = value
    data = bytes(whole[: cut % (len(whole) + 1)])
    try:
        rewritten = rewrite(data, FORMATS[ext], frame_limit=5)
    except DamagedImage:
        return
    assert rewritten.layout.width >= 0
    assert rewritten.data is None or len(rewritten.data) <= len(data) + 16
