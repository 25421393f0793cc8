"""Posting and deleting messages, on the in-memory adapters."""

from __future__ import annotations

import uuid

import pytest

from application.events import MessageCreated, MessageDeleted
from application.messages import DeleteMessage, PostMessage
from domain.conversation import MAX_MESSAGE_LENGTH
from domain.errors import Forbidden, InvalidInput, NotFound, StorageUnavailable
from tests.samples import sample
from tests.unit.factories import START, World


def post(sender_id: str, conversation_id: uuid.UUID, content: str = "hi") -> PostMessage:
    return PostMessage(
        sender_id=sender_id, conversation_id=conversation_id, content=content, attachment_ids=[]
    )


# ---- PostMessage ---------------------------------------------------------------------------------


async def test_a_member_posts_a_message_and_the_members_hear_of_it_after_commit() -> None:
    world = World()
    group = await world.group("alice", "bob")
    world.clock.tick(60)

    message = (await world.post_message(post("bob", group.id, "hello"))).message

    assert world.db.messages[message.id] == message
    assert (message.sender_id, message.content, message.has_media) == ("bob", "hello", False)
    assert message.created_at == world.clock.now()
    assert world.events == [MessageCreated(conversation_id=group.id, seq=1, message=message, attachments=[])]


async def test_posting_moves_the_conversations_last_activity() -> None:
    world = World()
    group = await world.group("alice", "bob")
    later = world.clock.tick(3600)

    await world.post_message(post("alice", group.id))

    stored = world.db.conversations[group.id]
    assert stored.last_activity_at == later
    assert stored.created_at == START


async def test_sequence_numbers_strictly_increase_in_each_conversation() -> None:
    world = World()
    first = await world.group("alice", "bob")
    second = await world.group("alice", "carol")

    seqs: dict[uuid.UUID, list[int]] = {first.id: [], second.id: []}
    for n in range(6):
        conversation = first if n % 3 else second
        seqs[conversation.id].append(
            (await world.post_message(post("alice", conversation.id, f"{n}"))).message.seq
        )

    for numbers in seqs.values():
        assert numbers == sorted(set(numbers))
        assert numbers[0] >= 1


@pytest.mark.parametrize("content", ["", " ", "\n\t  "])
async def test_an_empty_message_is_refused(content: str) -> None:
    world = World()
    group = await world.group("alice")
    with pytest.raises(InvalidInput):
        await world.post_message(post("alice", group.id, content))
    assert world.db.messages == {}
    assert world.events == []


async def test_a_message_has_at_most_10000_characters() -> None:
    world = World()
    group = await world.group("alice")
    kept = (await world.post_message(post("alice", group.id, "x" * MAX_MESSAGE_LENGTH))).message
    world.clock.tick()

    with pytest.raises(InvalidInput):
        await world.post_message(post("alice", group.id, "x" * (MAX_MESSAGE_LENGTH + 1)))

    assert list(world.db.messages) == [kept.id]
    assert world.db.conversations[group.id].last_activity_at == START  # the refusal rolled back
    assert len(world.events) == 1


async def test_an_unknown_attachment_id_is_not_found_and_nothing_is_posted() -> None:
    world = World()
    group = await world.group("alice")
    with pytest.raises(NotFound):
        await world.post_message(
            PostMessage(
                sender_id="alice", conversation_id=group.id, content="hi", attachment_ids=[uuid.uuid4()]
            )
        )
    assert world.db.messages == {}


@pytest.mark.parametrize("conversation", ["someone-elses", "unknown"])
async def test_a_non_member_cannot_post(conversation: str) -> None:
    world = World()
    group = await world.group("alice", "bob")
    target = group.id if conversation == "someone-elses" else uuid.uuid4()

    with pytest.raises(NotFound) as refused:
        await world.post_message(post("mallory", target))

    assert str(refused.value) == "No such conversation."  # the same words either way
    assert world.db.messages == {}
    assert world.db.conversations[group.id].last_activity_at == START
    assert world.events == []


async def test_nothing_is_told_of_a_message_whose_commit_failed() -> None:
    world = World()
    group = await world.group("alice")
    world.uow.down = True

    with pytest.raises(StorageUnavailable):
        await world.post_message(post("alice", group.id))

    assert world.db.messages == {}
    assert world.events == []


# ---- DeleteMessage -------------------------------------------------------------------------------


async def test_the_sender_deletes_a_message_and_its_attachments_rows_and_files() -> None:
    world = World()
    group = await world.group("alice", "bob")
    message = await world.post("alice", group.id)
    kept = await world.post("alice", group.id, "stays")
    attachments = await world.attach(message, ("a.png", sample("png")), ("b.pdf", sample("pdf")))
    other = await world.attach(kept, ("c.png", sample("png")))
    world.events.clear()

    await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))

    assert message.id not in world.db.messages
    assert all(a.id not in world.db.attachments for a in attachments)
    # c.png has a.png's bytes: their one file stays for c.png, under the name it got first.
    assert set(world.files.files) == {other[0].stored_as} == {attachments[0].filename}
    assert kept.id in world.db.messages
    assert world.events == [MessageDeleted(conversation_id=group.id, seq=5, message_id=message.id)]


async def test_another_member_may_not_delete_a_message() -> None:
    world = World()
    group = await world.group("alice", "bob")
    message = await world.post("alice", group.id)
    [attachment] = await world.attach(message, ("a.png", sample("png")))
    world.events.clear()

    with pytest.raises(Forbidden):
        await world.delete_message(DeleteMessage(user_id="bob", message_id=message.id))

    assert message.id in world.db.messages
    assert attachment.id in world.db.attachments
    assert attachment.filename in world.files.files
    assert world.events == []


@pytest.mark.parametrize("message", ["someone-elses", "unknown"])
async def test_an_outsider_is_told_the_message_is_not_there(message: str) -> None:
    world = World()
    group = await world.group("alice", "bob")
    posted = await world.post("alice", group.id)
    target = posted.id if message == "someone-elses" else uuid.uuid4()
    world.events.clear()

    with pytest.raises(NotFound):
        await world.delete_message(DeleteMessage(user_id="mallory", message_id=target))

    assert posted.id in world.db.messages
    assert world.events == []


async def test_a_message_deleted_twice_is_not_found_the_second_time() -> None:
    world = World()
    group = await world.group("alice")
    message = await world.post("alice", group.id)
    await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))

    with pytest.raises(NotFound):
        await world.delete_message(DeleteMessage(user_id="alice", message_id=message.id))

    assert world.events == [
        MessageCreated(conversation_id=group.id, seq=1, message=message, attachments=[]),
        MessageDeleted(conversation_id=group.id, seq=2, message_id=message.id),
    ]
