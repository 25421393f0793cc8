"""Uploads the handler refuses, and the rule that a refused upload keeps nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from domain.errors import (
    FileTooLarge,
    Forbidden,
    InvalidInput,
    MalformedUpload,
    NotFound,
    UnsupportedMediaType,
)
from domain.policy import MediaPolicy
from entrypoints.http.multipart_form import FieldPart, FilePart
from tests import samples
from tests.samples import sample
from tests.unit.factories import (
    MiB,
    World,
    alices_message,
    assert_nothing_kept,
    chunked,
    file_part,
    message_field,
    upload_of,
)

CHUNK_SIZES = [1, 1000, MiB]


# ---- who may attach ------------------------------------------------------------------------------


@pytest.mark.parametrize("message_id_first", [True, False])
async def test_another_member_may_not_attach_to_a_message(message_id_first: bool) -> None:
    world = World()
    message = await alices_message(world)
    parts: list[FilePart | FieldPart] = [file_part("a.png", sample("png")), file_part("b.png", sample("png"))]
    parts.insert(0 if message_id_first else 2, message_field(message.id))

    with pytest.raises(Forbidden):
        await world.upload(upload_of("bob", *parts))

    assert_nothing_kept(world, message)


@pytest.mark.parametrize("message_id_first", [True, False])
@pytest.mark.parametrize("target", ["someone-elses", "unknown"])
async def test_an_outsider_is_told_the_message_is_not_there(message_id_first: bool, target: str) -> None:
    world = World()
    message = await alices_message(world)
    message_id = message.id if target == "someone-elses" else uuid.uuid4()
    parts: list[FilePart | FieldPart] = [file_part("a.png", sample("png"))]
    parts.insert(0 if message_id_first else 1, message_field(message_id))

    with pytest.raises(NotFound):
        await world.upload(upload_of("mallory", *parts))

    assert_nothing_kept(world, message)


# ---- malformed and invalid uploads ---------------------------------------------------------------


async def test_without_a_message_id_the_files_are_drafts_not_the_messages() -> None:
    world = World()
    message = await alices_message(world)
    [draft] = await world.upload(upload_of("alice", file_part("a.png", sample("png"))))
    assert draft.message_id is None
    assert world.attachments_of(message.id) == []
    assert world.db.messages[message.id].has_media is False
    assert world.events == []


@pytest.mark.parametrize("value", ["", "not-a-uuid", "1234", f"{uuid.uuid4()}x"])
async def test_a_message_id_that_is_not_a_uuid_is_invalid(value: str) -> None:
    world = World()
    message = await alices_message(world)
    with pytest.raises(InvalidInput):
        await world.upload(upload_of("alice", file_part("a.png", sample("png")), message_field(value)))
    assert_nothing_kept(world, message)


@pytest.mark.parametrize("with_message_id", [True, False])
async def test_an_upload_without_a_file_is_malformed(with_message_id: bool) -> None:
    world = World()
    message = await alices_message(world)
    parts = [message_field(message.id)] if with_message_id else []
    with pytest.raises(MalformedUpload):
        await world.upload(upload_of("alice", *parts))
    assert_nothing_kept(world, message)


async def test_ten_files_go_in_one_upload() -> None:
    world = World()
    message = await alices_message(world)
    attachments = await world.attach(message, *((f"{n}.png", sample("png", 1000 + n)) for n in range(10)))
    assert len(attachments) == len(world.files.files) == 10  # ten contents: one file each


@pytest.mark.parametrize("message_id_first", [True, False])
async def test_eleven_files_are_refused_and_none_kept(message_id_first: bool) -> None:
    world = World()
    message = await alices_message(world)
    parts: list[FilePart | FieldPart] = [file_part(f"{n}.png", sample("png")) for n in range(11)]
    parts.insert(0 if message_id_first else 11, message_field(message.id))

    with pytest.raises(InvalidInput):
        await world.upload(upload_of("alice", *parts))

    assert_nothing_kept(world, message)


async def test_an_empty_file_is_refused() -> None:
    world = World()
    message = await alices_message(world)
    with pytest.raises(InvalidInput):
        await world.attach(message, ("a.png", sample("png")), ("empty.txt", b""))
    assert_nothing_kept(world, message)


# ---- the size cap --------------------------------------------------------------------------------

CAP = 20_000


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
async def test_a_file_of_exactly_the_cap_is_kept(chunk_size: int) -> None:
    world = World(policy=MediaPolicy.from_lists(max_upload_size=CAP))
    message = await alices_message(world)
    data = sample("png", CAP)

    [attachment] = await world.upload(
        upload_of("alice", message_field(message.id), file_part("a.png", data, chunk_size))
    )

    assert attachment.size == CAP
    assert world.files.files[attachment.filename][0] == data


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
async def test_one_byte_over_the_cap_is_too_large_and_nothing_is_kept(chunk_size: int) -> None:
    world = World(policy=MediaPolicy.from_lists(max_upload_size=CAP))
    message = await alices_message(world)

    with pytest.raises(FileTooLarge):
        await world.upload(
            upload_of(
                "alice",
                message_field(message.id),
                file_part("fits.png", sample("png", CAP), chunk_size),
                file_part("over.png", sample("png", CAP + 1), chunk_size),
            )
        )

    assert_nothing_kept(world, message)


async def test_the_cap_holds_at_the_byte_for_files_of_several_megabytes() -> None:
    cap = 3 * MiB
    world = World(policy=MediaPolicy.from_lists(max_upload_size=cap))
    message = await alices_message(world)
    [kept] = await world.attach(message, ("clip.mp4", sample("mp4", cap)))
    assert world.files.files[kept.filename][0] == sample("mp4", cap)

    with pytest.raises(FileTooLarge):
        await world.attach(message, ("clip.mp4", sample("mp4", cap + 1)))

    assert list(world.files.files) == [kept.filename]
    assert world.attachments_of(message.id) == [kept]
    assert world.files.staged_open == 0


async def test_a_sender_who_never_stops_is_cut_off_at_the_first_chunk_past_the_cap() -> None:
    world = World(policy=MediaPolicy.from_lists(max_upload_size=CAP))
    message = await alices_message(world)
    data = sample("png", CAP)
    delivered = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal delivered
        async for chunk in chunked(data, 1000):
            delivered += len(chunk)
            yield chunk
        while True:  # a client that never stops sending
            delivered += 1000
            yield b"\x00" * 1000

    with pytest.raises(FileTooLarge):
        await world.upload(
            upload_of("alice", message_field(message.id), FilePart(original_name="a.png", chunks=endless()))
        )

    assert delivered == CAP + 1000  # it stopped at the first chunk past the cap
    assert_nothing_kept(world, message)


# ---- what the bytes are --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("page.png", samples.html_page()),
        ("page.txt", samples.html_page()),
        ("drawing.png", samples.svg_image()),
        ("drawing.txt", samples.svg_image()),
        ("photo.png", samples.png_with_zip_appended()),
        ("anim.gif", samples.gif_with_script()),
        ("report.pdf", samples.elf_executable()),
        ("photo.jpg", samples.windows_exe()),
        ("notes.txt", samples.text_with_nul()),
        ("notes.txt", b"caf\xe9 latin-1, not UTF-8\n"),
        ("photo.png", sample("jpg")),
        ("report.docx", sample("zip")),
        ("clip.webm", sample("mkv")),
        ("report.pdf", sample("txt")),
    ],
)
async def test_a_file_whose_bytes_are_not_what_its_name_says_is_refused(name: str, data: bytes) -> None:
    world = World()
    message = await alices_message(world)
    with pytest.raises(UnsupportedMediaType):
        await world.attach(message, (name, data))
    assert_nothing_kept(world, message)


@pytest.mark.parametrize(
    "name", ["run.exe", "page.html", "drawing.svg", "noextension", ".png", "archive.tar.gz"]
)
async def test_a_name_outside_the_allowed_extensions_is_refused(name: str) -> None:
    world = World()
    message = await alices_message(world)
    with pytest.raises(UnsupportedMediaType):
        await world.attach(message, (name, sample("png")))
    assert_nothing_kept(world, message)


@pytest.mark.parametrize("chunk_size", [1000, 4096, 65_536])
@pytest.mark.parametrize("in_first_batch", [1, 3, 6])
async def test_markup_cut_across_write_batches_is_still_found(chunk_size: int, in_first_batch: int) -> None:
    # The handler checks the body in batches of about 1 MiB: the first ends at the first chunk
    # boundary past 1 MiB, and "<script" straddles it.
    world = World()
    message = await alices_message(world)
    first_batch = -(-MiB // chunk_size) * chunk_size
    data = bytearray(sample("png", 2 * MiB))
    data[first_batch - in_first_batch : first_batch - in_first_batch + 7] = b"<script"

    with pytest.raises(UnsupportedMediaType):
        await world.upload(
            upload_of("alice", message_field(message.id), file_part("a.png", bytes(data), chunk_size))
        )

    assert_nothing_kept(world, message)


async def test_the_allowed_types_come_from_the_policy() -> None:
    world = World(policy=MediaPolicy.from_lists(images=["png"], documents=["pdf"], videos=[]))
    message = await alices_message(world)
    [kept] = await world.attach(message, ("a.png", sample("png")))

    for name, ext in [("b.jpg", "jpg"), ("c.mp4", "mp4"), ("d.txt", "txt")]:
        with pytest.raises(UnsupportedMediaType):
            await world.attach(message, (name, sample(ext)))

    assert world.attachments_of(message.id) == [kept]
    assert list(world.files.files) == [kept.filename]


@pytest.mark.parametrize("bad_at", [0, 1, 2])
async def test_one_bad_file_among_good_ones_keeps_none(bad_at: int) -> None:
    world = World()
    message = await alices_message(world)
    files = [("a.png", sample("png")), ("b.pdf", sample("pdf"))]
    files.insert(bad_at, ("evil.png", samples.png_with_zip_appended()))

    with pytest.raises(UnsupportedMediaType):
        await world.attach(message, *files)

    assert_nothing_kept(world, message)
