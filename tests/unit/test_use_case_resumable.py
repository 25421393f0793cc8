"""Resumable uploads on the in-memory adapters: creation's refusals, appending at the offset, the
finish through the plain upload, termination, expiry and the sweep."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace

import pytest

from application.events import MediaAttached
from application.resumable import AppendToUpload, CreateUpload
from domain.errors import (
    Conflict,
    FileTooLarge,
    Forbidden,
    NotFound,
    QuotaExceeded,
    UnsupportedMediaType,
    UploadAborted,
)
from domain.policy import MediaPolicy
from tests.samples import sample
from tests.unit.factories import RESUMABLE_TTL, World, alices_message, chunked


def create(uploader: str, name: str, length: int, message_id: uuid.UUID | None = None) -> CreateUpload:
    return CreateUpload(uploader_id=uploader, original_name=name, length=length, message_id=message_id)


def append(uploader: str, upload_id: uuid.UUID, offset: int, data: bytes) -> AppendToUpload:
    return AppendToUpload(
        uploader_id=uploader, upload_id=upload_id, offset=offset, chunks=chunked(data, 4096)
    )


async def test_an_upload_in_three_appends_becomes_the_same_attachment_as_a_plain_upload() -> None:
    world = World()
    message = await alices_message(world)
    data = sample("png", 50_000)
    session = await world.resumable.create(create("alice", "holiday.png", len(data), message.id))

    for start, end in ((0, 20_000), (20_000, 40_000)):
        state = await world.resumable.append(append("alice", session.id, start, data[start:end]))
        assert (state.offset, state.attachment_id) == (end, None)
    assert world.events == []  # nothing is told before the last byte
    state = await world.resumable.append(append("alice", session.id, 40_000, data[40_000:]))

    attachment = world.db.attachments[state.attachment_id]  # type: ignore[index]
    assert attachment.message_id == message.id
    assert attachment.original_name == "holiday.png"
    assert attachment.sha256 == hashlib.sha256(data).hexdigest()
    assert world.files.files[attachment.filename][0] == data
    assert [type(e) for e in world.events] == [MediaAttached]
    assert world.partials.parts == {}  # the bytes went with the finish
    assert (await world.resumable.state("alice", session.id)).attachment_id == attachment.id


async def test_without_a_message_the_finished_upload_is_a_draft() -> None:
    world = World()
    data = sample("pdf")
    session = await world.resumable.create(create("alice", "a.pdf", len(data)))
    state = await world.resumable.append(append("alice", session.id, 0, data))
    assert world.db.attachments[state.attachment_id].message_id is None  # type: ignore[index]
    assert world.events == []


@pytest.mark.parametrize(
    ("name", "length", "error"),
    [
        ("run.exe", 100, UnsupportedMediaType),
        ("page.html", 100, UnsupportedMediaType),
        ("big.png", MediaPolicy().max_upload_size + 1, FileTooLarge),
    ],
)
async def test_creation_refuses_what_it_can_know(name: str, length: int, error: type[Exception]) -> None:
    world = World()
    with pytest.raises(error):
        await world.resumable.create(create("alice", name, length))
    assert world.db.uploads == {}


async def test_creation_refuses_a_length_past_the_quota() -> None:
    world = World(policy=MediaPolicy.from_lists(storage_quota=1_000))
    await world.drafts("alice", ("a.png", sample("png", 600)))
    with pytest.raises(QuotaExceeded):
        await world.resumable.create(create("alice", "b.png", 401))
    await world.resumable.create(create("alice", "b.png", 400))


async def test_creation_refuses_a_message_of_someone_else_or_unseen() -> None:
    world = World()
    message = await alices_message(world)  # alice and bob
    with pytest.raises(Forbidden):
        await world.resumable.create(create("bob", "a.png", 10, message.id))
    with pytest.raises(NotFound):
        await world.resumable.create(create("mallory", "a.png", 10, message.id))
    assert world.db.uploads == {}


async def test_a_wrong_offset_is_a_conflict_and_changes_nothing() -> None:
    world = World()
    data = sample("png", 10_000)
    session = await world.resumable.create(create("alice", "a.png", len(data)))
    await world.resumable.append(append("alice", session.id, 0, data[:4_000]))
    for offset in (0, 3_999, 4_001):
        with pytest.raises(Conflict):
            await world.resumable.append(append("alice", session.id, offset, data[offset:]))
    assert (await world.resumable.state("alice", session.id)).offset == 4_000


async def test_bytes_past_the_announced_length_are_refused_and_none_of_them_kept() -> None:
    world = World()
    data = sample("png", 10_000)
    session = await world.resumable.create(create("alice", "a.png", len(data)))
    await world.resumable.append(append("alice", session.id, 0, data[:4_000]))
    with pytest.raises(FileTooLarge):
        await world.resumable.append(append("alice", session.id, 4_000, data[4_000:] + b"x"))
    assert (await world.resumable.state("alice", session.id)).offset == 4_000


async def test_an_interrupted_append_keeps_what_came_and_resumes_from_there() -> None:
    world = World()
    data = sample("png", 100_000)
    session = await world.resumable.create(create("alice", "a.png", len(data)))

    async def cut_at_40_percent() -> object:
        yield data[:40_000]
        raise UploadAborted("The client went away before the upload finished.")

    with pytest.raises(UploadAborted):
        await world.resumable.append(
            AppendToUpload(uploader_id="alice", upload_id=session.id, offset=0, chunks=cut_at_40_percent())  # type: ignore[arg-type]
        )
    offset = (await world.resumable.state("alice", session.id)).offset
    assert offset == 40_000
    state = await world.resumable.append(append("alice", session.id, offset, data[offset:]))
    assert world.db.attachments[state.attachment_id].sha256 == hashlib.sha256(data).hexdigest()  # type: ignore[index]


async def test_a_session_is_its_creators_alone() -> None:
    world = World()
    session = await world.resumable.create(create("alice", "a.png", 100))
    with pytest.raises(NotFound):
        await world.resumable.state("bob", session.id)
    with pytest.raises(NotFound):
        await world.resumable.append(append("bob", session.id, 0, b"x"))
    with pytest.raises(NotFound):
        await world.resumable.terminate("bob", session.id)
    assert session.id in world.db.uploads


async def test_bytes_that_are_not_what_the_name_says_end_the_session_at_the_finish() -> None:
    world = World()
    data = sample("pdf")
    session = await world.resumable.create(create("alice", "a.png", len(data)))
    with pytest.raises(UnsupportedMediaType):
        await world.resumable.append(append("alice", session.id, 0, data))
    assert world.db.uploads == {}
    assert world.partials.parts == {}
    assert world.db.attachments == {}
    assert world.files.files == {}


async def test_termination_removes_the_session_and_its_bytes() -> None:
    world = World()
    session = await world.resumable.create(create("alice", "a.png", 10_000))
    await world.resumable.append(append("alice", session.id, 0, sample("png", 5_000)))
    await world.resumable.terminate("alice", session.id)
    assert world.db.uploads == {}
    assert world.partials.parts == {}
    with pytest.raises(NotFound):
        await world.resumable.state("alice", session.id)


async def test_an_expired_session_is_gone_for_its_creator_and_swept_with_its_bytes() -> None:
    world = World()
    session = await world.resumable.create(create("alice", "a.png", 10_000))
    await world.resumable.append(append("alice", session.id, 0, sample("png", 5_000)))
    fresh = await world.resumable.create(create("alice", "b.png", 10_000))
    world.clock.tick(RESUMABLE_TTL.total_seconds())

    with pytest.raises(NotFound):
        await world.resumable.append(append("alice", session.id, 5_000, b"x" * 5_000))
    world.db.uploads[fresh.id] = replace(fresh, expires_at=world.clock.now() + RESUMABLE_TTL)
    report = await world.sweep()

    assert report.uploads == 1
    assert set(world.db.uploads) == {fresh.id}
    assert world.partials.parts == {}


async def test_bytes_no_session_names_are_swept_once_older_than_the_ttl() -> None:
    world = World()
    stray = uuid.uuid4()
    await world.partials.append(stray, 0, chunked(b"abc", 2), 10)
    world.clock.tick(RESUMABLE_TTL.total_seconds() - 1)
    await world.sweep()
    assert stray in world.partials.parts
    world.clock.tick(2)
    await world.sweep()
    assert world.partials.parts == {}
