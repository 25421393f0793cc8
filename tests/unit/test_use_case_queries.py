"""Reading what a member may see: conversations, message history, a message's media."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.conversation import Message
from domain.errors import InvalidInput, NotFound
from tests.samples import sample
from tests.unit.factories import AttachmentFactory, World


async def history(world: World, sender: str, conversation_id: uuid.UUID, count: int) -> list[Message]:
    """`count` messages, oldest first."""
    return [await world.post(sender, conversation_id, f"message {n}") for n in range(count)]


# ---- conversations -------------------------------------------------------------------------------


async def test_the_callers_conversations_come_newest_activity_first() -> None:
    world = World()
    oldest = await world.group("alice", "bob", title="oldest")
    world.clock.tick()
    middle = await world.group("carol", "alice", title="middle")
    world.clock.tick()
    newest = await world.group("alice", title="newest")
    world.clock.tick()
    await world.group("mallory", "bob", title="not alice's")

    assert [c.id for c in await world.queries.conversations("alice")] == [newest.id, middle.id, oldest.id]

    world.clock.tick()
    await world.post("bob", oldest.id)  # activity by anyone moves it up for everyone

    assert [c.id for c in await world.queries.conversations("alice")] == [oldest.id, newest.id, middle.id]


async def test_an_upload_counts_as_activity() -> None:
    world = World()
    first = await world.group("alice")
    message = await world.post("alice", first.id)
    world.clock.tick()
    second = await world.group("alice")
    world.clock.tick()

    await world.attach(message, ("a.png", sample("png")))

    assert [c.id for c in await world.queries.conversations("alice")] == [first.id, second.id]


async def test_a_user_in_no_conversation_sees_none() -> None:
    world = World()
    await world.group("alice", "bob")
    assert list(await world.queries.conversations("mallory")) == []


async def test_one_conversation_is_shown_to_its_members_only() -> None:
    world = World()
    group = await world.group("alice", "bob")

    assert await world.queries.conversation("bob", group.id) == world.db.conversations[group.id]
    with pytest.raises(NotFound):
        await world.queries.conversation("mallory", group.id)
    with pytest.raises(NotFound):
        await world.queries.conversation("alice", uuid.uuid4())


# ---- messages ------------------------------------------------------------------------------------


async def test_messages_come_newest_first_in_pages_before_a_message() -> None:
    world = World()
    group = await world.group("alice", "bob")
    posted = await history(world, "alice", group.id, 7)

    first = await world.queries.messages("bob", group.id, before=None, limit=3)
    second = await world.queries.messages("bob", group.id, before=first[-1].message.id, limit=3)
    third = await world.queries.messages("bob", group.id, before=second[-1].message.id, limit=3)
    past_the_start = await world.queries.messages("bob", group.id, before=posted[0].id, limit=3)

    newest_first = posted[::-1]
    assert [m.message for m in first] == newest_first[0:3]
    assert [m.message for m in second] == newest_first[3:6]
    assert [m.message for m in third] == newest_first[6:7]
    assert list(past_the_start) == []


@settings(max_examples=40, deadline=None)
@given(count=st.integers(min_value=0, max_value=30), limit=st.integers(min_value=1, max_value=100))
async def test_walking_the_pages_gives_the_whole_history_once(count: int, limit: int) -> None:
    world = World()
    group = await world.group("alice")
    posted = await history(world, "alice", group.id, count)

    seen: list[Message] = []
    before = None
    while True:
        page = await world.queries.messages("alice", group.id, before=before, limit=limit)
        assert len(page) <= limit
        if not page:
            break
        seen += [m.message for m in page]
        before = page[-1].message.id

    assert seen == posted[::-1]


async def test_only_this_conversations_messages_are_listed() -> None:
    world = World()
    group = await world.group("alice", "bob")
    other = await world.group("alice")
    mine = await history(world, "alice", group.id, 2)
    elsewhere = await history(world, "alice", other.id, 2)

    page = await world.queries.messages("alice", group.id, before=None, limit=50)

    assert [m.message for m in page] == mine[::-1]
    with pytest.raises(NotFound):
        await world.queries.messages("alice", group.id, before=elsewhere[0].id, limit=50)


async def test_before_an_unknown_message_is_not_found() -> None:
    world = World()
    group = await world.group("alice")
    await history(world, "alice", group.id, 2)
    with pytest.raises(NotFound):
        await world.queries.messages("alice", group.id, before=uuid.uuid4(), limit=50)


async def test_attachments_come_inline_with_their_messages_in_order() -> None:
    world = World()
    group = await world.group("alice", "bob")
    plain, with_files = await history(world, "alice", group.id, 2)
    attachments = await world.attach(with_files, ("a.png", sample("png")), ("b.pdf", sample("pdf")))

    page = await world.queries.messages("bob", group.id, before=None, limit=50)

    assert [(m.message.id, m.message.has_media, list(m.attachments)) for m in page] == [
        (with_files.id, True, list(attachments)),
        (plain.id, False, []),
    ]


async def test_attachments_are_looked_up_only_for_messages_with_media() -> None:
    # A row on a message whose has_media is false is not listed: the flag is what the page trusts.
    world = World()
    group = await world.group("alice")
    message = await world.post("alice", group.id)
    stray = AttachmentFactory.build(message_id=message.id)
    world.db.attachments[stray.id] = stray

    [only] = await world.queries.messages("alice", group.id, before=None, limit=50)

    assert only.message.has_media is False
    assert list(only.attachments) == []


@pytest.mark.parametrize("limit", [0, -1, 101, 10_000])
async def test_a_limit_outside_1_to_100_is_invalid(limit: int) -> None:
    world = World()
    group = await world.group("alice")
    with pytest.raises(InvalidInput):
        await world.queries.messages("alice", group.id, before=None, limit=limit)


@pytest.mark.parametrize("limit", [1, 100])
async def test_a_limit_of_1_or_100_is_taken(limit: int) -> None:
    world = World()
    group = await world.group("alice")
    posted = await history(world, "alice", group.id, 101)
    page = await world.queries.messages("alice", group.id, before=None, limit=limit)
    assert [m.message for m in page] == posted[::-1][:limit]


@pytest.mark.parametrize("conversation", ["someone-elses", "unknown"])
async def test_a_non_member_reads_no_history(conversation: str) -> None:
    world = World()
    group = await world.group("alice", "bob")
    await history(world, "alice", group.id, 2)
    target = group.id if conversation == "someone-elses" else uuid.uuid4()
    with pytest.raises(NotFound):
        await world.queries.messages("mallory", target, before=None, limit=50)


# ---- media of a message --------------------------------------------------------------------------


async def test_members_list_a_messages_media_in_upload_order() -> None:
    world = World()
    group = await world.group("alice", "bob")
    message = await world.post("alice", group.id)
    first = await world.attach(message, ("a.png", sample("png")), ("b.jpg", sample("jpg")))
    second = await world.attach(message, ("c.txt", sample("txt")))
    await world.attach(await world.post("alice", group.id), ("d.png", sample("png")))

    assert list(await world.queries.media_of_message("bob", message.id)) == [*first, *second]


async def test_a_message_without_media_lists_none() -> None:
    world = World()
    group = await world.group("alice")
    message = await world.post("alice", group.id)
    assert list(await world.queries.media_of_message("alice", message.id)) == []


@pytest.mark.parametrize("message", ["someone-elses", "unknown"])
async def test_a_non_member_lists_no_media(message: str) -> None:
    world = World()
    group = await world.group("alice", "bob")
    posted = await world.post("alice", group.id)
    await world.seed_attachment(posted)
    target = posted.id if message == "someone-elses" else uuid.uuid4()
    with pytest.raises(NotFound):
        await world.queries.media_of_message("mallory", target)
