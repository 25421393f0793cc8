"""One contract for the repositories and the unit of work, run over every adapter: memory, SQLite
and PostgreSQL. A new adapter is proven by adding one parameter to `uow`."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from adapters.memory import InMemoryUnitOfWorkFactory
from adapters.sql.database import create_engine, session_maker
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from application.events import MediaAttached, MessageCreated, MessageDeleted
from application.ports.unit_of_work import UnitOfWork, UnitOfWorkFactory
from domain.attachment import Attachment, MediaKind, Rendition, rendition_name, stored_name, thumbnail_name
from domain.conversation import (
    MAX_GROUP_MEMBERS,
    Conversation,
    ConversationKind,
    Message,
    new_conversation,
    new_message,
)
from domain.errors import NotFound

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def uow(request: pytest.FixtureRequest) -> AsyncIterator[UnitOfWorkFactory]:
    if request.param == "memory":
        yield InMemoryUnitOfWorkFactory()
        return
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")
    engine = create_engine(url)
    try:
        yield SqlUnitOfWorkFactory(session_maker(engine))
    finally:
        await engine.dispose()


def group(creator: str = "alice", *members: str, at: datetime = T0) -> Conversation:
    return new_conversation(
        creator_id=creator, kind=ConversationKind.GROUP, title="g", member_ids=list(members), now=at
    )


def attachment(message: Message, uploader: str = "alice", at: datetime = T0) -> Attachment:
    attachment_id = uuid.uuid4()
    return Attachment(
        id=attachment_id,
        message_id=message.id,
        uploader_id=uploader,
        filename=stored_name(attachment_id, "png"),
        original_name="a.png",
        content_type="image/png",
        kind=MediaKind.IMAGE,
        size=60_000_000_000,  # past 32 bits: a BigInteger column
        sha256="ab" * 32,
        created_at=at,
        content_name=stored_name(attachment_id, "png"),
    )


async def post(uow: UnitOfWorkFactory, conversation: Conversation, sender: str = "alice") -> Message:
    async with uow() as tx:
        seq = await tx.conversations.advance(conversation.id, T0)
        message = new_message(
            conversation_id=conversation.id, seq=seq, sender_id=sender, content="hi", now=T0
        )
        await tx.messages.add(message)
        await tx.commit()
    return message


async def attachment_in(
    tx: UnitOfWork, *, attachment_id: uuid.UUID | None = None, filename: str | None = None
) -> Attachment | None:
    if attachment_id is not None:
        seen = await tx.attachments.seen_by_id("nobody", attachment_id)
    else:
        assert filename is not None
        seen = await tx.attachments.seen_by_filename("nobody", filename)
    return None if seen is None else seen.attachment


async def add(uow: UnitOfWorkFactory, *conversations: Conversation) -> None:
    async with uow() as tx:
        for conversation in conversations:
            await tx.conversations.add(conversation)
        await tx.commit()


async def test_a_conversation_reads_back_as_it_was_written(uow: UnitOfWorkFactory) -> None:
    conversation = group("alice", "bob", "carol")
    await add(uow, conversation)
    async with uow() as tx:
        assert await tx.conversations.get(conversation.id) == conversation
        assert await tx.conversations.get(uuid.uuid4()) is None


async def test_what_is_not_committed_is_rolled_back(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    async with uow() as tx:
        await tx.conversations.add(conversation)

    async def fail_midway() -> None:
        async with uow() as tx:
            await tx.conversations.add(group())
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        await fail_midway()
    async with uow() as tx:
        assert await tx.conversations.get(conversation.id) is None
        assert await tx.conversations.list_for_member("alice") == []


async def test_direct_conversations_are_found_by_their_pair(uow: UnitOfWorkFactory) -> None:
    direct = new_conversation(
        creator_id="bob", kind=ConversationKind.DIRECT, title=None, member_ids=["alice"], now=T0
    )
    await add(uow, direct, group("alice", "bob"))
    async with uow() as tx:
        assert await tx.conversations.find_direct("alice", "bob") == direct
        assert await tx.conversations.find_direct("bob", "alice") == direct
        assert await tx.conversations.find_direct("alice", "carol") is None


async def test_members_list_their_conversations_by_latest_activity(uow: UnitOfWorkFactory) -> None:
    old, new, other = group("alice", at=T0), group("alice", "bob", at=T0), group("carol", at=T0)
    await add(uow, old, new, other)
    async with uow() as tx:
        await tx.conversations.advance(new.id, T0 + timedelta(minutes=1))
        await tx.conversations.advance(old.id, T0 + timedelta(minutes=2))
        await tx.commit()
    async with uow() as tx:
        assert [c.id for c in await tx.conversations.list_for_member("alice")] == [old.id, new.id]
        assert [c.id for c in await tx.conversations.list_for_member("bob")] == [new.id]
        assert await tx.conversations.list_for_member("nobody") == []


async def test_a_full_group_reads_back_whole_and_one_member_is_checked_alone(uow: UnitOfWorkFactory) -> None:
    members = [f"member-{i:04d}" for i in range(MAX_GROUP_MEMBERS - 1)]
    big, small = group("alice", *members), group("bob", "alice")
    await add(uow, big, small)
    async with uow() as tx:
        stored = await tx.conversations.get(big.id)
        assert stored is not None
        assert stored.member_ids == {"alice", *members}
        assert len(stored.member_ids) == MAX_GROUP_MEMBERS
        assert await tx.conversations.is_member(big.id, "member-0500")
        assert not await tx.conversations.is_member(big.id, "bob")
        assert not await tx.conversations.is_member(uuid.uuid4(), "alice")
        listed = {c.id: c.member_ids for c in await tx.conversations.list_for_member("alice")}
        assert listed == {big.id: big.member_ids, small.id: small.member_ids}


async def test_adding_members_keeps_those_already_there(uow: UnitOfWorkFactory) -> None:
    conversation = group("alice", "bob")
    await add(uow, conversation)
    async with uow() as tx:
        await tx.conversations.add_members(conversation.id, frozenset({"bob", "carol"}))
        await tx.commit()
    async with uow() as tx:
        stored = await tx.conversations.get(conversation.id)
        assert stored is not None
        assert stored.member_ids == {"alice", "bob", "carol"}
        assert [c.id for c in await tx.conversations.list_for_member("carol")] == [conversation.id]


async def test_a_removed_member_is_no_member_within_the_transaction_and_after(uow: UnitOfWorkFactory) -> None:
    conversation, other = group("alice", "bob", "carol"), group("bob")
    await add(uow, conversation, other)
    message = await post(uow, conversation, sender="bob")
    async with uow() as tx:
        await tx.conversations.get(conversation.id)  # loaded before the change, in the same session
        await tx.conversations.remove_member(conversation.id, "bob")
        stored = await tx.conversations.get(conversation.id)
        assert stored is not None
        assert stored.member_ids == {"alice", "carol"}
        await tx.commit()
    async with uow() as tx:
        stored = await tx.conversations.get(conversation.id)
        assert stored is not None
        assert stored.member_ids == {"alice", "carol"}
        assert [c.id for c in await tx.conversations.list_for_member("bob")] == [other.id]
        assert [c.id for c in await tx.conversations.list_for_member("alice")] == [conversation.id]
        assert await tx.messages.get(message.id) == message  # what they sent stays


async def test_removing_a_member_not_there_is_not_found_and_changes_nothing(uow: UnitOfWorkFactory) -> None:
    conversation = group("alice", "bob")
    await add(uow, conversation)
    for conversation_id, user_id in [(conversation.id, "mallory"), (uuid.uuid4(), "alice")]:
        with pytest.raises(NotFound):
            async with uow() as tx:
                await tx.conversations.remove_member(conversation_id, user_id)
    async with uow() as tx:
        await tx.conversations.remove_member(conversation.id, "bob")
        with pytest.raises(NotFound):  # the second removal of the same member
            await tx.conversations.remove_member(conversation.id, "bob")
    async with uow() as tx:  # not committed: rolled back
        stored = await tx.conversations.get(conversation.id)
        assert stored is not None
        assert stored.member_ids == {"alice", "bob"}


async def test_the_last_member_leaving_leaves_the_conversation_in_place(uow: UnitOfWorkFactory) -> None:
    conversation = group("alice")
    await add(uow, conversation)
    message = await post(uow, conversation)
    async with uow() as tx:
        await tx.conversations.remove_member(conversation.id, "alice")
        await tx.commit()
    async with uow() as tx:
        stored = await tx.conversations.get(conversation.id)
        assert stored is not None
        assert stored.member_ids == frozenset()
        assert await tx.conversations.list_for_member("alice") == []
        assert await tx.messages.get(message.id) == message
        await tx.conversations.add_members(conversation.id, frozenset({"bob"}))  # the row still works
        await tx.commit()
    async with uow() as tx:
        stored = await tx.conversations.get(conversation.id)
        assert stored is not None
        assert stored.member_ids == {"bob"}


async def test_a_member_who_left_is_replayed_nothing_of_the_conversation(uow: UnitOfWorkFactory) -> None:
    conversation = group("alice", "bob")
    await add(uow, conversation)
    message = await post(uow, conversation)
    async with uow() as tx:
        start = await tx.events.last_cursor()
        logged = await tx.events.append(
            MessageCreated(conversation_id=conversation.id, seq=1, message=message, attachments=[])
        )
        await tx.conversations.remove_member(conversation.id, "bob")
        await tx.commit()
    async with uow() as tx:
        assert await tx.events.since("bob", start, 10) == []
        assert list(await tx.events.since("alice", start, 10)) == [logged]


async def test_advance_numbers_changes_without_gaps_or_repeats(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    seen: list[int] = []

    async def bump() -> None:
        async with uow() as tx:
            seen.append(await tx.conversations.advance(conversation.id, T0))
            await tx.commit()

    async with anyio.create_task_group() as tasks:
        for _ in range(10):
            tasks.start_soon(bump)
    assert sorted(seen) == list(range(1, 11))


async def test_history_pages_newest_first(uow: UnitOfWorkFactory) -> None:
    conversation, elsewhere = group(), group()
    await add(uow, conversation, elsewhere)
    messages = [await post(uow, conversation) for _ in range(5)]
    foreign = await post(uow, elsewhere)
    async with uow() as tx:
        first = await tx.messages.list_page(conversation.id, before=None, limit=2)
        assert [m.id for m in first] == [messages[4].id, messages[3].id]
        rest = await tx.messages.list_page(conversation.id, before=first[-1].id, limit=10)
        assert [m.id for m in rest] == [m.id for m in reversed(messages[:3])]
        assert await tx.messages.get(messages[0].id) == messages[0]
        with pytest.raises(NotFound):
            await tx.messages.list_page(conversation.id, before=foreign.id, limit=10)


async def test_attachments_keep_upload_order_and_count(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    message, other = await post(uow, conversation), await post(uow, conversation)
    batch = [attachment(message) for _ in range(4)]
    later = attachment(message, at=T0 + timedelta(seconds=1))
    async with uow() as tx:
        for item in [*batch, attachment(other)]:
            await tx.attachments.add(item)
        await tx.attachments.add(later)
        await tx.messages.set_has_media(message.id, True)
        await tx.commit()
    async with uow() as tx:
        assert list(await tx.attachments.list_for_messages([message.id])) == [*batch, later]
        assert await tx.attachments.count_for_message(message.id) == 5
        assert await attachment_in(tx, attachment_id=batch[1].id) == batch[1]
        assert await attachment_in(tx, filename=batch[2].filename) == batch[2]
        assert await attachment_in(tx, filename=f"{uuid.uuid4()}.png") is None
        assert await tx.attachments.list_for_messages([]) == []
        stored = await tx.messages.get(message.id)
        assert stored is not None
        assert stored.has_media


async def test_an_attachment_is_seen_with_whether_the_viewer_is_a_member_now(uow: UnitOfWorkFactory) -> None:
    conversation = group("alice", "bob")
    await add(uow, conversation)
    message = await post(uow, conversation)
    attached = attachment(message)
    draft = replace(attachment(message, uploader="carol"), message_id=None)
    async with uow() as tx:
        await tx.attachments.add(attached)
        await tx.attachments.add(draft)
        await tx.commit()
    async with uow() as tx:
        for viewer, member in (("bob", True), ("carol", False)):
            by_id = await tx.attachments.seen_by_id(viewer, attached.id)
            by_name = await tx.attachments.seen_by_filename(viewer, attached.filename)
            assert by_id is not None
            assert by_name is not None
            assert (by_id.attachment, by_id.viewer_is_member) == (attached, member)
            assert (by_name.attachment, by_name.viewer_is_member) == (attached, member)
        seen_draft = await tx.attachments.seen_by_filename("carol", draft.filename)
        assert seen_draft is not None
        assert (seen_draft.attachment, seen_draft.viewer_is_member) == (draft, False)
        await tx.conversations.remove_member(conversation.id, "bob")
        after = await tx.attachments.seen_by_id("bob", attached.id)
        assert after is not None
        assert not after.viewer_is_member
        assert await tx.attachments.seen_by_id("bob", uuid.uuid4()) is None


async def test_what_processing_learnt_reads_back(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    message = await post(uow, conversation)
    learnt = replace(
        attachment(message),
        width=4032,
        height=3024,
        duration_s=12.345,
        blurhash="LEHV6nWB2yk8pyo0adR*.7kCMdnj",
        thumbnail_sha256="cd" * 32,
        preview_sha256="ef" * 32,
    )
    unknown = replace(attachment(message), sha256="ef" * 32)
    # Too small for a preview, and bytes of its own.
    thumbnailed = replace(attachment(message), sha256="12" * 32, thumbnail_sha256="ab" * 32)
    shared = replace(attachment(message), content_name=learnt.filename)  # learnt's bytes
    async with uow() as tx:
        for each in (learnt, unknown, thumbnailed, shared):
            assert await tx.contents.refer(each.sha256, each.size, each.filename) == each.stored_as
            await tx.attachments.add(each)
        await tx.commit()
    async with uow() as tx:
        assert await attachment_in(tx, attachment_id=learnt.id) == learnt
        assert await attachment_in(tx, attachment_id=unknown.id) == unknown
        assert unknown.width is None
        assert unknown.thumbnail_filename is None
        assert list(await tx.attachments.list_for_messages([message.id])) == [
            learnt,
            unknown,
            thumbnailed,
            shared,
        ]
        # What the sweeper asks: a content's file is named, and a rendition by its row when the
        # row says it has one; an attachment's own name under which no content is stored is not.
        preview = Rendition.PREVIEW
        asked = [
            learnt.filename,
            thumbnail_name(learnt.id),
            rendition_name(learnt.id, preview),
            unknown.filename,
            thumbnail_name(unknown.id),  # its row has no thumbnail
            rendition_name(unknown.id, preview),
            thumbnailed.filename,
            thumbnail_name(thumbnailed.id),
            rendition_name(thumbnailed.id, preview),  # a thumbnail but no preview
            thumbnail_name(uuid.uuid4()),  # no row at all
            rendition_name(uuid.uuid4(), preview),
            stored_name(uuid.uuid4(), "png"),
            shared.filename,  # its bytes are learnt's file
        ]
        assert await tx.attachments.stored_filenames(asked) == {
            learnt.filename,
            thumbnail_name(learnt.id),
            rendition_name(learnt.id, preview),
            unknown.filename,
            thumbnailed.filename,
            thumbnail_name(thumbnailed.id),
        }


async def test_unscanned_attachments_are_listed_in_id_order_until_marked_scanned(
    uow: UnitOfWorkFactory,
) -> None:
    conversation = group()
    await add(uow, conversation)
    message = await post(uow, conversation)
    waiting = sorted((replace(attachment(message), unscanned=True) for _ in range(3)), key=lambda a: a.id)
    scanned = attachment(message)
    async with uow() as tx:
        for item in [*waiting, scanned]:
            await tx.attachments.add(item)
        await tx.commit()
    async with uow() as tx:
        assert list(await tx.attachments.unscanned(10)) == waiting
        assert list(await tx.attachments.unscanned(1, after=waiting[0].id)) == [waiting[1]]
        await tx.attachments.mark_scanned(waiting[1].id)
        await tx.attachments.mark_scanned(uuid.uuid4())  # gone meanwhile: not an error
        await tx.commit()
    async with uow() as tx:
        assert [a.id for a in await tx.attachments.unscanned(10)] == [waiting[0].id, waiting[2].id]
        assert await attachment_in(tx, attachment_id=waiting[1].id) == replace(waiting[1], unscanned=False)


async def test_an_attachment_needs_its_message(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    ghost = new_message(conversation_id=conversation.id, seq=99, sender_id="alice", content="", now=T0)
    with pytest.raises(NotFound):
        async with uow() as tx:
            await tx.attachments.add(attachment(ghost))


async def test_deleting_a_message_cascades_to_its_attachments(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    message, kept = await post(uow, conversation), await post(uow, conversation)
    gone, stays = attachment(message), attachment(kept)
    async with uow() as tx:
        await tx.attachments.add(gone)
        await tx.attachments.add(stays)
        await tx.commit()
    async with uow() as tx:
        await tx.messages.delete(message.id)
        await tx.commit()
    async with uow() as tx:
        assert await tx.messages.get(message.id) is None
        assert await attachment_in(tx, attachment_id=gone.id) is None
        assert await attachment_in(tx, filename=gone.filename) is None
        assert await attachment_in(tx, attachment_id=stays.id) == stays


async def test_deleting_one_attachment(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    message = await post(uow, conversation)
    first, second = attachment(message), attachment(message)
    async with uow() as tx:
        await tx.attachments.add(first)
        await tx.attachments.add(second)
        await tx.commit()
    async with uow() as tx:
        await tx.attachments.delete(first.id)
        await tx.attachments.delete(uuid.uuid4())  # an unknown id is no error
        await tx.commit()
    async with uow() as tx:
        assert list(await tx.attachments.list_for_messages([message.id])) == [second]
        assert await tx.attachments.count_for_message(message.id) == 1


async def refer_and_add(tx: UnitOfWork, each: Attachment, *, offer: bool = True) -> Attachment:
    """What an upload does in its transaction: a reference to the content, then the row naming it."""
    name = await tx.contents.refer(each.sha256, each.size, each.filename if offer else None)
    assert name is not None
    referring = replace(each, content_name=name)
    await tx.attachments.add(referring)
    return referring


async def test_contents_count_their_references_and_the_last_says_its_file_goes(
    uow: UnitOfWorkFactory,
) -> None:
    conversation = group()
    await add(uow, conversation)
    message, other = await post(uow, conversation), await post(uow, conversation)
    sha = "ab" * 32
    async with uow() as tx:
        assert await tx.contents.get(sha) is None
        assert await tx.contents.refer(sha, 10, None) is None  # nothing to refer to, nothing offered
        first = await refer_and_add(tx, attachment(message))
        second = await refer_and_add(tx, attachment(message))  # offers its name: refers to first's
        third = await refer_and_add(tx, replace(attachment(other), thumbnail_sha256="cd" * 32), offer=False)
        await tx.commit()
    assert first.stored_as == second.stored_as == third.stored_as == first.filename
    async with uow() as tx:
        content = await tx.contents.get(sha)
        assert content is not None
        assert (content.name, content.size, content.refs) == (first.filename, first.size, 3)
        assert await tx.attachments.delete(first.id) == []  # two left: the file stays
        assert await tx.attachments.delete(first.id) == []  # gone already: no second drop
        await tx.commit()
    async with uow() as tx:
        assert (await tx.contents.get(sha) or content).refs == 2
        assert await tx.attachments.delete_for_message(message.id) == []
        assert await tx.attachments.delete_for_message(other.id) == [
            thumbnail_name(third.id),
            first.filename,
        ]
        await tx.commit()
    async with uow() as tx:
        assert await tx.contents.get(sha) is None
        assert await tx.contents.refer(sha, 10, None) is None  # the last went: nothing to refer to
        assert await tx.attachments.stored_filenames([first.filename]) == frozenset()


async def test_a_reference_rolled_back_is_not_counted(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    message = await post(uow, conversation)
    async with uow() as tx:
        kept = await refer_and_add(tx, attachment(message))
        await tx.commit()
    async with uow() as tx:
        await refer_and_add(tx, attachment(message))  # never committed
    async with uow() as tx:
        assert await tx.attachments.delete(kept.id) == [kept.filename]
        await tx.commit()
    async with uow() as tx:
        assert await tx.contents.get(kept.sha256) is None


async def test_a_message_deleted_drops_the_references_of_its_attachments(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    message, kept = await post(uow, conversation), await post(uow, conversation)
    async with uow() as tx:
        twice = [await refer_and_add(tx, attachment(message)) for _ in range(2)]
        stays = await refer_and_add(tx, attachment(kept))
        alone = await refer_and_add(tx, replace(attachment(message), sha256="ef" * 32))
        await tx.commit()
    async with uow() as tx:
        assert sorted(await tx.attachments.delete_for_message(message.id)) == [alone.filename]
        await tx.messages.delete(message.id)
        await tx.commit()
    async with uow() as tx:
        content = await tx.contents.get(stays.sha256)
        assert content is not None
        assert (content.name, content.refs) == (twice[0].filename, 1)
        assert await tx.contents.get(alone.sha256) is None


async def test_a_message_deleted_while_an_upload_to_it_commits_drops_that_reference_too(
    uow: UnitOfWorkFactory,
) -> None:
    """The upload's row is in, not committed, when the message's delete starts: the delete waits
    for it (PostgreSQL: the message's lock; SQLite: the one writer) and drops its reference, never
    leaving it to the foreign key's cascade, which would delete the row and keep the count."""
    if isinstance(uow, InMemoryUnitOfWorkFactory):
        pytest.skip("the in-memory units of work do not run side by side")
    conversation = group()
    await add(uow, conversation)
    message = await post(uow, conversation)
    dropped: list[str] = []

    async def delete_message() -> None:
        async with uow() as tx:
            dropped.extend(await tx.attachments.delete_for_message(message.id))
            await tx.messages.delete(message.id)
            await tx.commit()

    async with uow() as upload:
        landed = await refer_and_add(upload, attachment(message))
        async with anyio.create_task_group() as tg:
            tg.start_soon(delete_message)
            await anyio.sleep(0.3)  # the delete is waiting by now (the outcome does not depend on it)
            await upload.commit()
    assert dropped == [landed.filename]
    async with uow() as tx:
        assert await tx.contents.get(landed.sha256) is None
        assert await attachment_in(tx, attachment_id=landed.id) is None


async def test_a_message_is_held_for_its_attachments_while_it_is_there(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    message = await post(uow, conversation)
    async with uow() as tx:
        assert await tx.messages.hold(message.id) is True
        assert await tx.messages.hold(uuid.uuid4()) is False
        await tx.commit()


async def test_the_event_log_replays_a_members_conversations_in_cursor_order(uow: UnitOfWorkFactory) -> None:
    mine, theirs = group("alice", "bob"), group("carol")
    await add(uow, mine, theirs)
    message = await post(uow, mine)
    first_attachment = attachment(message)
    async with uow() as tx:
        start = await tx.events.last_cursor()
        created = await tx.events.append(
            MessageCreated(conversation_id=mine.id, seq=1, message=message, attachments=[])
        )
        hidden = await tx.events.append(
            MessageDeleted(conversation_id=theirs.id, seq=1, message_id=uuid.uuid4())
        )
        attached = await tx.events.append(
            MediaAttached(
                conversation_id=mine.id, seq=2, message_id=message.id, attachments=[first_attachment]
            )
        )
        await tx.commit()
    async with uow() as tx:
        assert created.cursor < hidden.cursor < attached.cursor
        assert start < created.cursor
        assert await tx.events.last_cursor() == attached.cursor
        assert list(await tx.events.since("bob", start, 10)) == [created, attached]
        assert list(await tx.events.since("bob", created.cursor, 10)) == [attached]
        assert list(await tx.events.since("bob", start, 1)) == [created]
        assert list(await tx.events.since("carol", start, 10)) == [hidden]
        assert await tx.events.since("nobody", start, 10) == []


def deleted(conversation: Conversation, seq: int) -> MessageDeleted:
    return MessageDeleted(conversation_id=conversation.id, seq=seq, message_id=uuid.uuid4())


async def test_a_rolled_back_event_leaves_no_gap_in_the_cursors(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    async with uow() as tx:
        start = await tx.events.last_cursor()
        await tx.events.append(deleted(conversation, 1))  # left without commit(): rolled back
    async with uow() as tx:
        kept = await tx.events.append(deleted(conversation, 1))
        await tx.commit()
    assert kept.cursor == start + 1


async def test_the_events_between_two_cursors_come_with_their_audience_now(uow: UnitOfWorkFactory) -> None:
    mine, theirs = group("alice", "bob"), group("carol")
    await add(uow, mine, theirs)
    async with uow() as tx:
        start = await tx.events.last_cursor()
        first = await tx.events.append(deleted(mine, 1))
        second = await tx.events.append(deleted(theirs, 1))
        third = await tx.events.append(deleted(mine, 2))
        await tx.commit()
    async with uow() as tx:
        assert list(await tx.events.between(start, third.cursor)) == [
            (first, frozenset({"alice", "bob"})),
            (second, frozenset({"carol"})),
            (third, frozenset({"alice", "bob"})),
        ]
        assert list(await tx.events.between(first.cursor, second.cursor)) == [(second, frozenset({"carol"}))]
        assert await tx.events.between(third.cursor, third.cursor + 10) == []


@pytest.mark.parametrize(
    "uow", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_replay_misses_no_event_whatever_the_order_of_the_commits(uow: UnitOfWorkFactory) -> None:
    """One transaction logs an event and stays open while a second logs one and tries to commit; a
    client resumes with `since` in between and again after both: it gets each event once. With
    cursors taken at insert (a sequence), the second committed at once with the higher cursor,
    the client moved past the first, and never saw it."""
    conversation = group("alice", "bob")
    await add(uow, conversation)
    async with uow() as tx:
        start = await tx.events.last_cursor()
    heard: list[int] = []
    last = start

    async def resume() -> None:  # a client reconnecting with the last cursor it was given
        nonlocal last
        async with uow() as tx:
            for logged in await tx.events.since("bob", last, 10):
                heard.append(logged.event.seq)
                last = logged.cursor

    second_done = anyio.Event()

    async def second() -> None:
        async with uow() as tx:
            await tx.events.append(deleted(conversation, 2))
            await tx.commit()
        second_done.set()

    with anyio.fail_after(10):
        async with uow() as first:
            await first.events.append(deleted(conversation, 1))
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(second)
                with anyio.move_on_after(0.5):  # long enough for the second to commit, if it can
                    await second_done.wait()
                await resume()
                await first.commit()
        await resume()
    assert heard == [1, 2]


async def test_an_event_not_committed_is_not_logged(uow: UnitOfWorkFactory) -> None:
    conversation = group()
    await add(uow, conversation)
    async with uow() as tx:
        before = await tx.events.last_cursor()
        await tx.events.append(
            MessageDeleted(conversation_id=conversation.id, seq=1, message_id=uuid.uuid4())
        )
    async with uow() as tx:
        assert await tx.events.since("alice", before, 10) == []
