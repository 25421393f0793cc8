"""Uploading files to a message, streamed through the in-memory store with the real sniffer: what
a good upload leaves behind."""

from __future__ import annotations

import hashlib
import itertools
import unicodedata
import uuid
from collections.abc import AsyncIterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from application.events import MediaAttached, MessageDeleted
from application.messages import DeleteMessage
from domain.attachment import MediaKind, is_stored_name
from domain.errors import NotFound, UnsupportedMediaType
from domain.policy import ACCEPTED_SIGNATURES
from entrypoints.http.multipart_form import FieldPart, FilePart
from tests.samples import sample
from tests.unit.factories import MiB, World, alices_message, file_part, message_field, upload_of

CHUNK_SIZES = [1, 1000, MiB]


# ---- what a good upload leaves behind ------------------------------------------------------------


@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
async def test_an_upload_stores_the_bytes_the_row_and_tells_the_members(chunk_size: int) -> None:
    world = World()
    message = await alices_message(world)
    data = sample("png", 20_000)

    [attachment] = await world.upload(
        upload_of("alice", message_field(message.id), file_part("photo.png", data, chunk_size))
    )

    assert world.db.attachments[attachment.id] == attachment
    assert (attachment.message_id, attachment.uploader_id) == (message.id, "alice")
    assert (attachment.size, attachment.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert (attachment.kind, attachment.content_type) == (MediaKind.IMAGE, "image/png")
    assert attachment.created_at == world.clock.now()
    assert world.files.files[attachment.filename][0] == data
    assert world.files.staged_open == 0
    assert world.db.messages[message.id].has_media is True
    assert world.events == [
        MediaAttached(
            conversation_id=message.conversation_id, seq=2, message_id=message.id, attachments=[attachment]
        )
    ]


async def test_several_files_come_back_in_order_with_one_event() -> None:
    world = World()
    message = await alices_message(world)
    files = [
        ("a.png", sample("png")),
        ("b.pdf", sample("pdf")),
        ("c.mp4", sample("mp4")),
        ("d.txt", sample("txt")),
    ]

    attachments = await world.attach(message, *files)

    assert [a.original_name for a in attachments] == ["a.png", "b.pdf", "c.mp4", "d.txt"]
    assert [a.kind for a in attachments] == [
        MediaKind.IMAGE,
        MediaKind.DOCUMENT,
        MediaKind.VIDEO,
        MediaKind.DOCUMENT,
    ]
    assert [world.files.files[a.filename][0] for a in attachments] == [data for _, data in files]
    assert world.attachments_of(message.id) == list(attachments)
    assert len({a.filename for a in attachments}) == 4
    assert world.events == [
        MediaAttached(
            conversation_id=message.conversation_id, seq=2, message_id=message.id, attachments=attachments
        )
    ]


@pytest.mark.parametrize("ext", sorted(ACCEPTED_SIGNATURES))
async def test_every_allowed_type_is_admitted_as_its_kind(ext: str) -> None:
    world = World()
    message = await alices_message(world)

    [attachment] = await world.attach(message, (f"file.{ext}", sample(ext)))

    assert attachment.kind is world.policy.kinds[ext]
    assert attachment.content_type in (ACCEPTED_SIGNATURES[ext] - {None}) | {"text/plain; charset=utf-8"}


async def test_a_second_upload_adds_to_the_first() -> None:
    world = World()
    message = await alices_message(world)
    first = await world.attach(message, ("a.png", sample("png")))
    second = await world.attach(message, ("b.gif", sample("gif")))

    assert world.attachments_of(message.id) == [*first, *second]
    assert world.db.messages[message.id].has_media is True
    assert len(world.events) == 2


async def test_the_message_id_may_come_after_the_files() -> None:
    world = World()
    message = await alices_message(world)

    attachments = await world.upload(
        upload_of(
            "alice",
            file_part("a.png", sample("png")),
            file_part("b.jpg", sample("jpg")),
            message_field(f"  {message.id}  "),
        )
    )

    assert world.attachments_of(message.id) == list(attachments)
    assert len(world.files.files) == 2


@pytest.mark.parametrize(("name", "ext"), [("PHOTO.PNG", "png"), ("Scan.Jpeg", "jpeg"), ("clip.MoV", "mov")])
async def test_the_stored_name_is_a_fresh_uuid_and_the_lower_cased_extension(name: str, ext: str) -> None:
    world = World()
    message = await alices_message(world)

    [attachment] = await world.attach(message, (name, sample(ext)))

    stem, _, stored_ext = attachment.filename.partition(".")
    assert stored_ext == ext
    assert uuid.UUID(stem) == attachment.id
    assert is_stored_name(attachment.filename)
    assert list(world.files.files) == [attachment.filename]


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        ("holiday.png", "holiday.png"),
        ("../../etc/passwd.png", "passwd.png"),
        ("C:\\Users\\me\\Photo.PNG", "Photo.PNG"),
        ("evil\u202egpj.png", "evilgpj.png"),
        ('say "cheese".png', "say cheese.png"),
        ("tab\tand\x00nul.png", "tabandnul.png"),
        ("  spaced out .png", "spaced out .png"),
        ("x" * 300 + ".png", "x" * 251 + ".png"),
    ],
)
async def test_the_original_name_is_cleaned_for_display(sent: str, shown: str) -> None:
    world = World()
    message = await alices_message(world)
    [attachment] = await world.attach(message, (sent, sample("png")))
    assert attachment.original_name == shown


@settings(max_examples=60, deadline=None)
@given(stem=st.text(max_size=300), ext=st.sampled_from(["png", "PNG", "Png"]))
async def test_any_name_is_refused_or_shown_safely(stem: str, ext: str) -> None:
    world = World()
    message = await alices_message(world)
    upload = upload_of("alice", message_field(message.id), file_part(f"{stem}.{ext}", sample("png")))

    if not stem.strip():
        with pytest.raises(UnsupportedMediaType):
            await world.upload(upload)
        return
    [attachment] = await world.upload(upload)

    shown = attachment.original_name
    assert shown.lower().endswith(".png")
    assert len(".png") < len(shown) <= 255
    assert not set(shown) & set('/\\"\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f')
    assert all(unicodedata.category(ch)[0] != "C" for ch in shown)
    assert attachment.filename.endswith(".png")


@settings(max_examples=40, deadline=None)
@given(
    ext=st.sampled_from(["png", "txt", "docx", "mp4"]),
    cuts=st.lists(st.integers(min_value=1, max_value=29_999), max_size=40, unique=True),
)
async def test_how_the_bytes_are_cut_changes_nothing(ext: str, cuts: list[int]) -> None:
    world = World()
    message = await alices_message(world)
    data = sample(ext, 30_000)
    edges = [0, *sorted(cuts), len(data)]

    async def pieces() -> AsyncIterator[bytes]:
        for start, end in itertools.pairwise(edges):
            yield data[start:end]

    [attachment] = await world.upload(
        upload_of("alice", message_field(message.id), FilePart(original_name=f"f.{ext}", chunks=pieces()))
    )

    assert world.files.files[attachment.filename][0] == data
    assert (attachment.size, attachment.sha256) == (len(data), hashlib.sha256(data).hexdigest())


# ---- the message going away meanwhile ------------------------------------------------------------


@pytest.mark.parametrize("message_id_first", [True, False])
async def test_a_message_deleted_during_the_upload_takes_the_published_files_with_it(
    message_id_first: bool,
) -> None:
    world = World()
    message = await alices_message(world)
    data = sample("png", 5000)

    async def deleting_midway() -> AsyncIterator[bytes]:
        yield data[:1000]
        await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))
        yield data[1000:]

    parts: list[FilePart | FieldPart] = [
        file_part("first.png", sample("png")),
        FilePart(original_name="second.png", chunks=deleting_midway()),
    ]
    parts.insert(0 if message_id_first else 2, message_field(message.id))

    with pytest.raises(NotFound):
        await world.upload(upload_of("alice", *parts))

    assert world.files.files == {}
    assert world.files.staged_open == 0
    assert world.db.attachments == {}
    assert world.events == [
        MessageDeleted(conversation_id=message.conversation_id, seq=2, message_id=message.id)
    ]
