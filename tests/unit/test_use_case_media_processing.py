"""The upload, serve and delete use cases with media processing (Pillow on the in-memory store):
what is stored is what was processed, thumbnails live and die with their file, bombs keep nothing."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from application.delete_media import DeleteMedia
from application.messages import DeleteMessage
from application.ports.files import MediaSource
from application.ports.media import ProcessedMedia, Restaged, Stage
from domain.attachment import MediaKind, Rendition, is_stored_name, rendition_name, thumbnail_name
from domain.errors import ImageTooLarge, NotFound, StorageUnavailable
from domain.policy import Admission
from tests import photos, samples
from tests.unit.factories import World, alices_message, assert_nothing_kept


async def read(world: World, opening: object) -> bytes:
    async with opening as download:  # type: ignore[attr-defined]
        return b"".join([chunk async for chunk in download.file.read(0, download.file.size, 1 << 20)])


async def test_what_is_stored_hashed_and_served_is_the_processed_photo() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    original = photos.jpeg(400, 300, orientation=6)

    [attachment] = await world.attach(message, ("IMG_0001.JPG", original))

    stored, _ = world.files.files[attachment.filename]
    assert not photos.has_gps(stored)
    assert stored != original
    assert (attachment.size, attachment.sha256) == (len(stored), hashlib.sha256(stored).hexdigest())
    assert (attachment.width, attachment.height) == (300, 400)  # as shown: turned upright
    assert attachment.duration_s is None
    assert attachment.blurhash
    assert await read(world, world.serve("bob", attachment.filename)) == stored
    assert world.files.staged_open == 0
    assert set(world.files.files) == {attachment.filename, thumbnail_name(attachment.id)}


async def test_the_thumbnail_is_served_to_members_only() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    [attachment] = await world.attach(message, ("a.png", photos.png(640, 480)))
    assert attachment.thumbnail_filename == thumbnail_name(attachment.id)
    assert is_stored_name(thumbnail_name(attachment.id))

    async with world.serve_thumbnail("bob", attachment.id) as download:
        assert (download.content_type, download.extension) == ("image/webp", "webp")
        assert download.sha256 == attachment.thumbnail_sha256
    data = await read(world, world.serve_thumbnail("alice", attachment.id))
    assert hashlib.sha256(data).hexdigest() == attachment.thumbnail_sha256
    assert Image.open(io.BytesIO(data)).size == (320, 240)

    for who, media_id in [("mallory", attachment.id), ("bob", uuid.uuid4())]:
        with pytest.raises(NotFound, match="No such file"):
            await read(world, world.serve_thumbnail(who, media_id))


async def test_a_thumbnail_is_never_served_as_a_file() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    [attachment] = await world.attach(message, ("a.png", photos.png()))
    with pytest.raises(NotFound):
        await read(world, world.serve("alice", thumbnail_name(attachment.id)))


async def test_a_document_has_no_thumbnail_and_its_member_is_told_so() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    [attachment] = await world.attach(message, ("a.pdf", samples.sample("pdf")))
    assert attachment.thumbnail_sha256 is None
    assert attachment.width is None
    assert attachment.stored_names == (attachment.filename,)
    with pytest.raises(NotFound, match="no thumbnail"):
        await read(world, world.serve_thumbnail("bob", attachment.id))


async def test_deleting_a_file_or_its_message_removes_the_thumbnails_too() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    one, two = await world.attach(message, ("a.png", photos.png()), ("b.gif", photos.animated_gif()))
    assert len(world.files.files) == 4
    await world.delete_media(DeleteMedia(user_id="alice", media_id=one.id))
    assert set(world.files.files) == set(two.stored_names)
    await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))
    assert world.files.files == {}


async def test_a_failed_commit_removes_the_thumbnails_it_published() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    world.uow.down = True
    with pytest.raises(StorageUnavailable):
        await world.attach(message, ("a.png", photos.png()), ("b.jpg", photos.jpeg()))
    assert_nothing_kept(world, message)


@pytest.mark.parametrize(
    ("name", "bomb"),
    [
        ("bomb.png", samples.png_claiming(100_000, 100_000)),
        ("frames.gif", samples.gif_with_frames(20_000, 64)),
    ],
    ids=["png-10-gigapixels", "gif-20000-frames"],
)
async def test_a_bomb_keeps_nothing_of_the_upload(name: str, bomb: bytes) -> None:
    world = World.with_processing()
    message = await alices_message(world)
    with pytest.raises(ImageTooLarge):
        await world.attach(message, ("fine.jpg", photos.jpeg()), (name, bomb))
    assert_nothing_kept(world, message)


async def test_an_image_that_does_not_decode_whole_is_kept_without_thumbnail() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    whole = photos.jpeg(400, 300)
    [attachment] = await world.attach(message, ("cut.jpg", whole[: len(whole) // 2]))
    assert attachment.thumbnail_sha256 is None
    assert attachment.blurhash is None
    assert (attachment.width, attachment.height) == (400, 300)
    assert not photos.has_gps(world.files.files[attachment.filename][0])


class Recording:
    """A processor that says what it was given and hands back what it was told to."""

    def __init__(self, result: ProcessedMedia) -> None:
        self.result = result
        self.seen: list[tuple[bytes, Admission]] = []

    async def process(self, source: MediaSource, admission: Admission, stage: Stage) -> ProcessedMedia:
        chunks: AsyncIterator[bytes] = source.read(0, source.size, 7)
        self.seen.append((b"".join([c async for c in chunks]), admission))
        return self.result


async def test_each_kind_goes_to_its_own_processor_and_the_rest_is_stored_as_it_came() -> None:
    video = Recording(
        ProcessedMedia(width=8, height=8, duration_s=0.04, thumbnail=b"poster", blurhash="L00000")
    )
    world = World(processors={MediaKind.VIDEO: video})
    message = await alices_message(world)
    clip, notes = samples.sample("mp4"), samples.sample("txt")

    shown, text = await world.attach(message, ("clip.mp4", clip), ("notes.txt", notes))

    assert [(data, admission.kind) for data, admission in video.seen] == [(clip, MediaKind.VIDEO)]
    assert (shown.width, shown.height, shown.duration_s, shown.blurhash) == (8, 8, 0.04, "L00000")
    assert world.files.files[shown.filename][0] == clip  # no content given: the upload's bytes
    assert world.files.files[thumbnail_name(shown.id)][0] == b"poster"
    assert shown.thumbnail_sha256 == hashlib.sha256(b"poster").hexdigest()
    assert world.files.files[text.filename][0] == notes
    assert text.stored_names == (text.filename,)


class Remuxing:
    """A processor that writes its output into a file the upload stages for it, as the video
    remux does, and says it scrubbed the file."""

    def __init__(self, output: bytes) -> None:
        self.output = output

    async def process(self, source: MediaSource, admission: Admission, stage: Stage) -> ProcessedMedia:
        staged = await stage()

        async def chunks() -> AsyncIterator[bytes]:
            yield self.output

        sha256 = await staged.fill(chunks())
        return ProcessedMedia(restaged=Restaged(staged, staged.size, sha256), scrubbed=True)


async def test_a_restaged_output_is_what_is_stored_hashed_and_sized_and_nothing_else_is_left() -> None:
    world = World(processors={MediaKind.VIDEO: Remuxing(b"the remux, without the tags")})
    message = await alices_message(world)

    [shown] = await world.attach(message, ("clip.mp4", samples.sample("mp4")))

    assert world.files.files[shown.filename][0] == b"the remux, without the tags"
    assert (shown.size, shown.sha256) == (27, hashlib.sha256(b"the remux, without the tags").hexdigest())
    assert shown.scrubbed is True
    assert set(world.files.files) == {shown.filename}  # the upload's own bytes were not published
    assert world.files.staged_open == 0


async def test_a_heic_is_stored_as_the_jpeg_it_became_under_its_own_name() -> None:
    world = World.with_processing()
    message = await alices_message(world)

    [attachment] = await world.attach(message, ("IMG_0001.HEIC", photos.heic(400, 300, orientation=6)))

    stored, _ = world.files.files[attachment.filename]
    assert (attachment.content_type, attachment.extension) == ("image/jpeg", "jpg")
    assert attachment.original_name == "IMG_0001.HEIC"
    assert Image.open(io.BytesIO(stored)).format == "JPEG"
    assert not photos.has_gps(stored)
    assert (attachment.width, attachment.height) == (300, 400)
    assert set(world.files.files) == {attachment.filename, thumbnail_name(attachment.id)}
    async with world.serve("bob", attachment.filename) as download:
        assert (download.content_type, download.extension) == ("image/jpeg", "jpg")


def test_a_conversion_names_its_bytes_their_type_and_extension_together() -> None:
    with pytest.raises(ValueError, match="together"):
        ProcessedMedia(content=b"x", content_type="image/jpeg")
    with pytest.raises(ValueError, match="together"):
        ProcessedMedia(content_type="image/jpeg", extension="jpg")
    assert ProcessedMedia(content=b"x", content_type="image/jpeg", extension="jpg").extension == "jpg"


async def test_a_large_image_gets_a_preview_served_and_deleted_as_its_thumbnail_is() -> None:
    world = World.with_processing()
    message = await alices_message(world)
    [large, small] = await world.attach(
        message, ("big.jpg", photos.jpeg(3000, 2000)), ("s.png", photos.png())
    )
    preview_name = rendition_name(large.id, Rendition.PREVIEW)
    assert large.rendition_filename(Rendition.PREVIEW) == preview_name
    assert is_stored_name(preview_name)
    assert small.preview_sha256 is None
    assert set(large.stored_names) == {large.filename, thumbnail_name(large.id), preview_name}

    async with world.serve_preview("bob", large.id) as download:
        assert (download.content_type, download.extension) == ("image/webp", "webp")
        assert download.sha256 == large.preview_sha256
    data = await read(world, world.serve_preview("bob", large.id))
    assert Image.open(io.BytesIO(data)).size == (1600, 1067)
    with pytest.raises(NotFound, match="No such file"):
        await read(world, world.serve_preview("mallory", large.id))
    with pytest.raises(NotFound, match="no preview"):
        await read(world, world.serve_preview("bob", small.id))
    with pytest.raises(NotFound):
        await read(world, world.serve("alice", preview_name))  # by its own route only

    await world.delete_media(DeleteMedia(user_id="alice", media_id=large.id))
    assert preview_name not in world.files.files
    assert thumbnail_name(large.id) not in world.files.files
