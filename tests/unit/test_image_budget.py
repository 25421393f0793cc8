"""The decoding budget and the thumbnail's stored name: pure domain rules."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.attachment import Attachment, MediaKind, is_stored_name, stored_name, thumbnail_name
from domain.errors import FileTooLarge, ImageTooLarge
from domain.policy import MAX_ANIMATION_PIXELS, MAX_IMAGE_FRAMES, MAX_IMAGE_PIXELS, MediaPolicy
from tests.unit.factories import AttachmentFactory

policy = MediaPolicy()


def test_the_defaults() -> None:
    assert (
        (policy.max_image_pixels, policy.max_image_frames, policy.max_animation_pixels)
        == (
            MAX_IMAGE_PIXELS,
            MAX_IMAGE_FRAMES,
            MAX_ANIMATION_PIXELS,
        )
        == (50_000_000, 1_000, 500_000_000)
    )


@pytest.mark.parametrize(
    ("width", "height", "frames"),
    [
        (4000, 3000, 1),  # a 12 MP phone photo
        (8000, 6000, 1),  # 48 MP
        (50_000_000, 1, 1),  # the budget exactly, however long and thin
        (480, 270, 1000),  # a long GIF
        (1920, 1080, 241),  # 499,737,600 pixels in all
    ],
)
def test_what_fits_the_budget_passes(width: int, height: int, frames: int) -> None:
    policy.check_image_budget(width=width, height=height, frames=frames)


@pytest.mark.parametrize(
    ("width", "height", "frames", "said"),
    [
        (100_000, 100_000, 1, "100,000 x 100,000 pixels"),
        (50_000_001, 1, 1, "at most 50,000,000 pixels"),
        (10, 10, 1001, "more than 1,000 frames"),
        (1920, 1080, 242, "242 frames hold"),
    ],
)
def test_what_passes_the_budget_is_413_with_a_sentence(
    width: int, height: int, frames: int, said: str
) -> None:
    with pytest.raises(ImageTooLarge, match=said) as refused:
        policy.check_image_budget(width=width, height=height, frames=frames)
    assert isinstance(refused.value, FileTooLarge)  # so it answers 413, as a file over the cap does


def test_the_budget_comes_from_the_lists_and_must_be_positive() -> None:
    small = MediaPolicy.from_lists(max_image_pixels=100, max_image_frames=2, max_animation_pixels=150)
    small.check_image_budget(width=10, height=10, frames=1)
    with pytest.raises(ImageTooLarge):
        small.check_image_budget(width=10, height=11)
    with pytest.raises(ImageTooLarge):
        small.check_image_budget(width=10, height=10, frames=2)  # 200 pixels in all
    for name in ("max_image_pixels", "max_image_frames", "max_animation_pixels"):
        with pytest.raises(ValueError, match="at least one"):
            MediaPolicy.from_lists(**{name: 0})  # type: ignore[arg-type]


@given(attachment_id=st.uuids(version=4))
def test_a_thumbnail_name_is_a_stored_name_beside_its_file(attachment_id: uuid.UUID) -> None:
    name = thumbnail_name(attachment_id)
    assert is_stored_name(name)
    assert name == f"{attachment_id}.thumb.webp"
    assert name != stored_name(attachment_id, "webp")


VALID = "3f2b8c1e-9a4d-4e6f-8b7a-0c1d2e3f4a5b"


@pytest.mark.parametrize(
    "name",
    [
        f"{VALID}.thumb.png",
        f"{VALID}.thumb.webp.png",
        f"{VALID}.thumb..webp",
        f"{VALID}.THUMB.webp",
        f"{VALID}.x.webp",
        f"../{VALID}.thumb.webp",
        f"{VALID}.thumb.webp/..",
        f"{VALID}.thumb.webp\n",
        f"{VALID}.thumb%2ewebp",
        f"{VALID}/thumb.webp",
        f"{VALID}.PREVIEW.webp",
        f"{VALID}.preview.jpg",
        f"{VALID}.preview.thumb.webp",
        f"{VALID}.previews.webp",
    ],
)
def test_nothing_else_shaped_like_a_thumbnail_is_a_stored_name(name: str) -> None:
    assert is_stored_name(f"{VALID}.thumb.webp")
    assert not is_stored_name(name)


def test_an_attachment_names_every_file_it_stores() -> None:
    plain: Attachment = AttachmentFactory.build(thumbnail_sha256=None)
    assert plain.thumbnail_filename is None
    assert plain.stored_names == (plain.filename,)
    shown: Attachment = AttachmentFactory.build(thumbnail_sha256="a" * 64, kind=MediaKind.IMAGE)
    assert shown.stored_names == (shown.filename, f"{shown.id}.thumb.webp")
    large: Attachment = AttachmentFactory.build(
        thumbnail_sha256="a" * 64, preview_sha256="b" * 64, kind=MediaKind.IMAGE
    )
    assert large.stored_names == (large.filename, f"{large.id}.thumb.webp", f"{large.id}.preview.webp")
    assert is_stored_name(f"{large.id}.preview.webp")
