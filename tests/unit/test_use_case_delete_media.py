"""Deleting a file, the order of events, and what a failed commit leaves behind."""

from __future__ import annotations

import uuid

import pytest

from application.delete_media import DeleteMedia
from application.events import MediaAttached, MediaDeleted, MessageCreated, MessageDeleted
from application.messages import DeleteMessage
from domain.errors import Forbidden, NotFound, StorageUnavailable
from tests.samples import sample
from tests.unit.factories import World, alices_message, file_part, message_field, upload_of

# ---- DeleteMedia ---------------------------------------------------------------------------------


async def test_the_uploader_deletes_the_last_file_and_the_message_has_no_media() -> None:
    world = World()
    message = await alices_message(world)
    [attachment] = await world.attach(message, ("a.png", sample("png")))
    world.events.clear()

    await world.delete_media(DeleteMedia(user_id="alice", media_id=attachment.id))

    assert attachment.id not in world.db.attachments
    assert world.files.files == {}
    assert world.db.messages[message.id].has_media is False
    assert world.events == [
        MediaDeleted(
            conversation_id=message.conversation_id,
            seq=3,
            message_id=message.id,
            media_id=attachment.id,
            has_media=False,
        )
    ]


async def test_the_message_keeps_its_media_while_other_files_remain() -> None:
    world = World()
    message = await alices_message(world)
    first, second = await world.attach(message, ("a.png", sample("png")), ("b.pdf", sample("pdf")))
    world.events.clear()

    await world.delete_media(DeleteMedia(user_id="alice", media_id=first.id))

    assert world.attachments_of(message.id) == [second]
    assert list(world.files.files) == [second.filename]
    assert world.db.messages[message.id].has_media is True

    await world.delete_media(DeleteMedia(user_id="alice", media_id=second.id))

    assert world.db.messages[message.id].has_media is False
    assert [(e.media_id, e.has_media) for e in world.events if isinstance(e, MediaDeleted)] == [
        (first.id, True),
        (second.id, False),
    ]


async def test_another_member_may_see_but_not_delete_a_file() -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)

    with pytest.raises(Forbidden):
        await world.delete_media(DeleteMedia(user_id="bob", media_id=attachment.id))

    assert world.db.attachments[attachment.id] == attachment
    assert attachment.filename in world.files.files
    assert world.db.messages[message.id].has_media is True
    assert world.events == []


@pytest.mark.parametrize("media", ["someone-elses", "unknown"])
async def test_an_outsider_is_told_the_file_is_not_there(media: str) -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)
    target = attachment.id if media == "someone-elses" else uuid.uuid4()

    with pytest.raises(NotFound):
        await world.delete_media(DeleteMedia(user_id="mallory", media_id=target))

    assert attachment.id in world.db.attachments
    assert attachment.filename in world.files.files
    assert world.events == []


async def test_a_file_deleted_twice_is_not_found_the_second_time() -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)
    await world.delete_media(DeleteMedia(user_id="alice", media_id=attachment.id))

    with pytest.raises(NotFound):
        await world.delete_media(DeleteMedia(user_id="alice", media_id=attachment.id))

    assert len(world.events) == 1


async def test_members_hear_of_each_change_in_the_order_it_was_made() -> None:
    world = World()
    group = await world.group("alice", "bob")
    message = await world.post("alice", group.id)
    first, second = await world.attach(message, ("a.png", sample("png")), ("b.pdf", sample("pdf")))
    await world.delete_media(DeleteMedia(user_id="alice", media_id=first.id))
    await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))

    assert world.events == [
        MessageCreated(conversation_id=group.id, seq=1, message=message, attachments=[]),
        MediaAttached(conversation_id=group.id, seq=2, message_id=message.id, attachments=[first, second]),
        MediaDeleted(
            conversation_id=group.id, seq=3, message_id=message.id, media_id=first.id, has_media=True
        ),
        MessageDeleted(conversation_id=group.id, seq=4, message_id=message.id),
    ]
    assert world.files.files == {}
    assert world.db.attachments == {}


# ---- a database that fails to commit -------------------------------------------------------------


async def test_a_failed_commit_on_upload_removes_the_published_files() -> None:
    world = World()
    message = await alices_message(world)
    world.uow.down = True

    with pytest.raises(StorageUnavailable):
        await world.upload(
            upload_of(
                "alice",
                message_field(message.id),
                file_part("a.png", sample("png")),
                file_part("b.pdf", sample("pdf")),
            )
        )

    assert world.files.files == {}
    assert world.files.staged_open == 0
    assert world.db.attachments == {}
    assert world.events == []


async def test_a_failed_commit_on_delete_media_keeps_the_file_and_tells_no_one() -> None:
    world = World()
    message = await alices_message(world)
    attachment = await world.seed_attachment(message)
    world.uow.down = True

    with pytest.raises(StorageUnavailable):
        await world.delete_media(DeleteMedia(user_id="alice", media_id=attachment.id))

    assert world.db.attachments[attachment.id] == attachment
    assert attachment.filename in world.files.files  # never a row pointing at a missing file
    assert world.events == []


async def test_a_failed_commit_on_delete_message_keeps_its_files_and_tells_no_one() -> None:
    world = World()
    message = await alices_message(world)
    attachments = await world.attach(message, ("a.png", sample("png")), ("b.gif", sample("gif")))
    world.uow.down = True

    with pytest.raises(StorageUnavailable):
        await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))

    assert world.attachments_of(message.id) == list(attachments)
    assert set(world.files.files) == {a.filename for a in attachments}
    assert not any(isinstance(e, MessageDeleted) for e in world.events)
    assert [type(e) for e in world.events] == [MediaAttached]
