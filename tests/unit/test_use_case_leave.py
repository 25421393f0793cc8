"""Leaving a conversation (RemoveMember) on the in-memory adapters: who may remove whom, and that a
member who leaves loses every way in at once, as if the conversation had never been theirs."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest

from application.conversations import AddMembers, RemoveMember
from application.messages import DeleteMessage, PostMessage
from application.resumable import AppendToUpload, CreateUpload
from domain.conversation import Conversation, ConversationKind, Message
from domain.errors import Conflict, Forbidden, NotFound
from tests.samples import sample
from tests.unit.factories import GroupFactory, World, chunked


def leave(conversation_id: uuid.UUID, user_id: str, member_id: str | None = None) -> RemoveMember:
    return RemoveMember(user_id=user_id, conversation_id=conversation_id, member_id=member_id or user_id)


async def refusal(call: Awaitable[object]) -> str:
    """The NotFound a call raises, as a sentence (what the client would read)."""
    with pytest.raises(NotFound) as refused:
        await call
    return str(refused.value)


async def served(world: World, user_id: str, filename: str) -> bytes:
    async with world.serve(user_id, filename) as download:
        return b"".join([c async for c in download.file.read(0, download.file.size, 4096)])


async def thumbnail(world: World, user_id: str, media_id: uuid.UUID) -> None:
    async with world.serve_thumbnail(user_id, media_id):
        pass


async def a_group_with_a_file(world: World) -> tuple[Conversation, Message, Message]:
    """A group of alice, bob and carol; a message of alice's with a file, and one of bob's."""
    group = await world.group("alice", "bob", "carol")
    alices = await world.post("alice", group.id)
    await world.attach(alices, ("a.png", sample("png")))
    bobs = await world.post("bob", group.id, "mine")
    world.events.clear()
    world.broadcaster.deliveries.clear()
    return group, world.db.messages[alices.id], bobs


async def test_a_member_who_leaves_sees_nothing_of_it_exactly_as_for_unknown_ids() -> None:
    world = World.with_processing()  # the PNG gets a thumbnail
    group, message, _ = await a_group_with_a_file(world)
    [attachment] = world.attachments_of(message.id)
    assert attachment.thumbnail_filename is not None
    assert await served(world, "bob", attachment.filename)  # a member, until...

    await world.remove_member(leave(group.id, "bob"))

    assert world.db.conversations[group.id].member_ids == {"alice", "carol"}
    assert await world.queries.conversations("bob") == []
    unknown_file = f"{uuid.uuid4()}.png"
    views: list[tuple[Callable[[uuid.UUID, str], Awaitable[object]], uuid.UUID, uuid.UUID]] = [
        (lambda c, u: world.queries.conversation(u, c), group.id, uuid.uuid4()),
        (lambda c, u: world.queries.messages(u, c, before=None, limit=50), group.id, uuid.uuid4()),
        (lambda m, u: world.queries.media_of_message(u, m), message.id, uuid.uuid4()),
        (lambda a, u: thumbnail(world, u, a), attachment.id, uuid.uuid4()),
    ]
    for view, known, unknown in views:
        assert await refusal(view(known, "bob")) == await refusal(view(unknown, "bob"))
        await view(known, "carol")  # the others keep it
    assert await refusal(served(world, "bob", attachment.filename)) == await refusal(
        served(world, "bob", unknown_file)
    )
    assert await served(world, "carol", attachment.filename)


async def test_a_member_who_left_can_no_longer_post_upload_or_delete_there() -> None:
    world = World()
    group, _, bobs = await a_group_with_a_file(world)
    await world.remove_member(leave(group.id, "bob"))

    with pytest.raises(NotFound):
        await world.post("bob", group.id)
    with pytest.raises(NotFound):
        await world.attach(bobs, ("late.png", sample("png")))
    with pytest.raises(NotFound):
        await world.delete_message(DeleteMessage(user_id="bob", message_id=bobs.id))
    assert world.db.messages[bobs.id] == bobs  # what they sent stays with the others
    assert world.attachments_of(bobs.id) == []
    assert world.events == []


async def test_no_event_of_the_conversation_is_for_a_member_who_left() -> None:
    world = World()
    group, _, _ = await a_group_with_a_file(world)
    before = len(world.db.events)

    await world.remove_member(leave(group.id, "bob"))
    await world.post("alice", group.id, "after bob left")

    [(logged, audience)] = world.broadcaster.deliveries
    assert audience == {"alice", "carol"}
    assert await world.queries.events_since("bob", 0, 100) == []  # nothing replayed, old or new
    assert [e.cursor for e in await world.queries.events_since("carol", before, 100)] == [logged.cursor]


async def test_a_resumable_upload_begun_before_leaving_does_not_land_after() -> None:
    world = World()
    group, _, bobs = await a_group_with_a_file(world)
    data = sample("png", 10_000)
    session = await world.resumable.create(
        CreateUpload(uploader_id="bob", original_name="a.png", length=len(data), message_id=bobs.id)
    )
    await world.remove_member(leave(group.id, "bob"))

    with pytest.raises(NotFound):
        await world.resumable.append(
            AppendToUpload(uploader_id="bob", upload_id=session.id, offset=0, chunks=chunked(data, 4096))
        )
    assert world.attachments_of(bobs.id) == []
    assert world.files.files.keys() == {a.filename for a in world.db.attachments.values()}


async def test_the_leavers_drafts_stay_theirs() -> None:
    world = World()
    group, _, _ = await a_group_with_a_file(world)
    [draft] = await world.drafts("bob", ("note.pdf", sample("pdf")))
    await world.remove_member(leave(group.id, "bob"))

    assert await served(world, "bob", draft.filename) == sample("pdf")
    elsewhere = await world.group("bob", "dave")
    posted = await world.post_message(
        PostMessage(sender_id="bob", conversation_id=elsewhere.id, content="", attachment_ids=[draft.id])
    )
    assert [a.id for a in posted.attachments] == [draft.id]


async def test_another_members_id_is_forbidden_and_removes_no_one() -> None:
    world = World()
    group, _, _ = await a_group_with_a_file(world)

    with pytest.raises(Forbidden, match="only themselves"):
        await world.remove_member(leave(group.id, "alice", member_id="bob"))
    with pytest.raises(Forbidden):  # a user who is no member, named by a member: the same
        await world.remove_member(leave(group.id, "alice", member_id="mallory"))
    assert world.db.conversations[group.id].member_ids == {"alice", "bob", "carol"}


@pytest.mark.parametrize("named", ["mallory", "bob"])
async def test_a_non_member_is_answered_as_for_an_unknown_conversation(named: str) -> None:
    world = World()
    group, _, _ = await a_group_with_a_file(world)

    known = await refusal(world.remove_member(leave(group.id, "mallory", member_id=named)))
    unknown = await refusal(world.remove_member(leave(uuid.uuid4(), "mallory", member_id=named)))

    assert known == unknown
    assert world.db.conversations[group.id].member_ids == {"alice", "bob", "carol"}


async def test_leaving_twice_is_not_found_the_second_time() -> None:
    world = World()
    group, _, _ = await a_group_with_a_file(world)
    await world.remove_member(leave(group.id, "bob"))
    with pytest.raises(NotFound):
        await world.remove_member(leave(group.id, "bob"))


async def test_a_direct_conversation_cannot_be_left() -> None:
    world = World()
    pair = (
        await world.start(
            GroupFactory.build(creator_id="alice", kind=ConversationKind.DIRECT, member_ids=["bob"])
        )
    ).conversation

    with pytest.raises(Conflict, match="exactly two members"):
        await world.remove_member(leave(pair.id, "bob"))
    assert world.db.conversations[pair.id].member_ids == {"alice", "bob"}


async def test_a_group_whose_last_member_leaves_stays_as_it_is_seen_by_no_one() -> None:
    world = World()
    group = await world.group("alice")
    message = await world.post("alice", group.id)
    attachment = await world.seed_attachment(message)
    before = world.db.messages[message.id]

    await world.remove_member(leave(group.id, "alice"))

    assert world.db.conversations[group.id].member_ids == frozenset()
    assert world.db.messages[message.id] == before
    assert attachment.filename in world.files.files
    for user in ("alice", "bob"):
        with pytest.raises(NotFound):
            await world.queries.conversation(user, group.id)
        with pytest.raises(NotFound):
            await world.add_members(AddMembers(user_id=user, conversation_id=group.id, member_ids=[user]))
        with pytest.raises(NotFound):
            await served(world, user, attachment.filename)


async def test_a_member_who_left_and_is_added_again_sees_it_again() -> None:
    world = World()
    group, message, _ = await a_group_with_a_file(world)
    await world.remove_member(leave(group.id, "bob"))
    await world.add_members(AddMembers(user_id="alice", conversation_id=group.id, member_ids=["bob"]))

    assert [m.message.id for m in await world.queries.messages("bob", group.id, before=None, limit=50)][
        -1
    ] == message.id
