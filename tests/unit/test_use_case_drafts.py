"""Drafts (uploads without a message), sending them with a message, and the storage quota."""

from __future__ import annotations

import uuid

import pytest

from application.delete_media import DeleteMedia
from application.events import MessageCreated
from application.messages import PostMessage
from domain.errors import Conflict, FileTooLarge, Forbidden, InvalidInput, NotFound, QuotaExceeded
from domain.policy import MediaPolicy
from tests.samples import sample
from tests.unit.factories import World, alices_message


def send(sender: str, conversation: uuid.UUID, *ids: uuid.UUID, content: str = "") -> PostMessage:
    return PostMessage(
        sender_id=sender, conversation_id=conversation, content=content, attachment_ids=list(ids)
    )


async def test_an_upload_without_a_message_is_a_draft_nobody_hears_of() -> None:
    world = World()
    [draft] = await world.drafts("alice", ("a.png", sample("png")))
    assert draft.message_id is None
    assert world.db.attachments[draft.id] == draft
    assert draft.filename in world.files.files
    assert world.events == []


async def test_a_draft_is_served_to_its_uploader_alone() -> None:
    world = World()
    await world.group("alice", "bob")
    [draft] = await world.drafts("alice", ("a.png", sample("png")))
    async with world.serve("alice", draft.filename) as download:
        assert download.attachment == draft
    with pytest.raises(NotFound, match="No such file"):
        async with world.serve("bob", draft.filename):
            pass


async def test_sending_drafts_attaches_them_in_one_transaction_and_one_event() -> None:
    world = World()
    group = await world.group("alice", "bob")
    first, second = await world.drafts("alice", ("a.png", sample("png")), ("b.pdf", sample("pdf")))
    third, fourth = await world.drafts("alice", ("c.zip", sample("zip")), ("d.txt", sample("txt")))

    posted = await world.post_message(send("alice", group.id, fourth.id, first.id, second.id, content=""))

    assert posted.message.has_media is True
    assert [a.id for a in posted.attachments] == [fourth.id, first.id, second.id]
    assert all(a.message_id == posted.message.id for a in posted.attachments)
    assert world.attachments_of(posted.message.id) == list(posted.attachments)
    assert world.db.attachments[third.id].message_id is None  # not named: still a draft
    [event] = world.events
    assert isinstance(event, MessageCreated)
    assert event.message == posted.message
    assert list(event.attachments) == list(posted.attachments)
    # Now the members see them.
    async with world.serve("bob", first.filename) as download:
        assert download.attachment.message_id == posted.message.id


async def test_the_same_draft_named_twice_is_attached_once() -> None:
    world = World()
    group = await world.group("alice")
    [draft] = await world.drafts("alice", ("a.png", sample("png")))
    posted = await world.post_message(send("alice", group.id, draft.id, draft.id))
    assert [a.id for a in posted.attachments] == [draft.id]


async def test_another_users_draft_is_not_found_and_nothing_changes() -> None:
    world = World()
    group = await world.group("alice", "bob")
    [bobs] = await world.drafts("bob", ("a.png", sample("png")))
    with pytest.raises(NotFound):
        await world.post_message(send("alice", group.id, bobs.id, content="mine now?"))
    assert world.db.messages == {}
    assert world.db.attachments[bobs.id].message_id is None
    assert world.events == []


async def test_a_file_the_sender_sees_but_did_not_upload_is_forbidden() -> None:
    world = World()
    message = await alices_message(world)
    [alices] = await world.attach(message, ("a.png", sample("png")))
    with pytest.raises(Forbidden):
        await world.post_message(send("bob", message.conversation_id, alices.id, content="fwd"))
    assert world.db.attachments[alices.id].message_id == message.id
    assert len(world.db.messages) == 1


async def test_a_draft_already_sent_is_a_conflict() -> None:
    world = World()
    group = await world.group("alice")
    [draft] = await world.drafts("alice", ("a.png", sample("png")))
    first = await world.post_message(send("alice", group.id, draft.id))
    with pytest.raises(Conflict):
        await world.post_message(send("alice", group.id, draft.id, content="again"))
    assert list(world.db.messages) == [first.message.id]


async def test_a_message_takes_at_most_ten_files_and_needs_something() -> None:
    world = World()
    group = await world.group("alice")
    with pytest.raises(InvalidInput):
        await world.post_message(send("alice", group.id, *(uuid.uuid4() for _ in range(11)), content="x"))
    with pytest.raises(InvalidInput):
        await world.post_message(send("alice", group.id, content="  "))


async def test_deleting_a_draft_tells_no_one() -> None:
    world = World()
    [draft] = await world.drafts("alice", ("a.png", sample("png")))
    with pytest.raises(NotFound):
        await world.delete_media(DeleteMedia(user_id="bob", media_id=draft.id))
    await world.delete_media(DeleteMedia(user_id="alice", media_id=draft.id))
    assert world.db.attachments == {}
    assert world.files.files == {}
    assert world.events == []


async def test_the_storage_quota_holds_at_the_byte_drafts_included() -> None:
    world = World(policy=MediaPolicy.from_lists(storage_quota=30_000))
    message = await alices_message(world)
    await world.drafts("alice", ("a.pdf", sample("pdf", 10_000)))
    await world.attach(message, ("b.pdf", sample("pdf", 20_000)))  # exactly the quota
    with pytest.raises(QuotaExceeded, match="30,000"):
        await world.drafts("alice", ("c.txt", b"x"))
    assert len(world.db.attachments) == 2
    assert len(world.files.files) == 2
    assert world.files.staged_open == 0
    await world.drafts("bob", ("d.pdf", sample("pdf", 30_000)))  # a quota per user


async def test_a_batch_over_the_quota_keeps_none_of_its_files() -> None:
    world = World(policy=MediaPolicy.from_lists(storage_quota=25_000))
    with pytest.raises(QuotaExceeded):
        await world.drafts("alice", ("a.pdf", sample("pdf", 10_000)), ("b.pdf", sample("pdf", 20_000)))
    assert world.db.attachments == {}
    assert world.files.files == {}


async def test_the_size_cap_still_speaks_first() -> None:
    world = World(policy=MediaPolicy.from_lists(max_upload_size=1_000, storage_quota=100_000))
    with pytest.raises(FileTooLarge):
        await world.drafts("alice", ("a.pdf", sample("pdf", 2_000)))
