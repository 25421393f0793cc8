"""One contract for the reads outside any unit of work (`Reading`: the chat's lists and pages
through `ChatQueries`, and the downloads' access check `AttachmentAccess` over it), on every
adapter: a unit of work of its own on memory, SQLite and PostgreSQL, SQLite read inline on the
loop's thread, PostgreSQL in autocommit. Writes go through the unit of work, as the service makes
them."""

from __future__ import annotations

import itertools
import sqlite3
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta

import anyio
import asyncpg
import pytest
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.memory import InMemoryUnitOfWorkFactory
from adapters.sql.database import create_engine, session_maker
from adapters.sql.reader import AutocommitReader, EngineReader, InlineSqliteReader, shares_file
from adapters.sql.reading import SqlReading
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from application.access import ReadingAccess
from application.ports.access import AttachmentAccess
from application.ports.unit_of_work import ReadingFactory, UnitOfWorkFactory
from application.queries import ChatQueries
from domain.attachment import Attachment, stored_name
from domain.errors import NotFound
from tests.databases import PG_HOST, PG_PORT, PG_USER
from tests.integration.test_repository_contract import T0, add, attachment, group, post


@dataclass
class Backend:
    uow: UnitOfWorkFactory
    reads: ReadingFactory
    url: str | None = None
    engine: AsyncEngine | None = None

    @property
    def access(self) -> AttachmentAccess:
        return ReadingAccess(self.reads)

    @property
    def queries(self) -> ChatQueries:
        return ChatQueries(self.uow, self.reads)


async def open_backend(request: pytest.FixtureRequest, name: str) -> AsyncIterator[Backend]:
    if name == "memory":
        uow = InMemoryUnitOfWorkFactory()
        yield Backend(uow, uow)
        return
    url = request.getfixturevalue("postgres_url" if name.startswith("postgres") else "sqlite_url")
    engine = create_engine(url)
    sql_uow = SqlUnitOfWorkFactory(session_maker(engine))
    own: SqlReading | None = (
        SqlReading(InlineSqliteReader(url, EngineReader(engine)))
        if name == "sqlite-inline"
        else SqlReading(AutocommitReader(url, size=4))
        if name == "postgres-autocommit"
        else None
    )
    try:
        yield Backend(sql_uow, own or sql_uow, url, engine)
    finally:
        if own is not None:
            await own.close()
        await engine.dispose()


@pytest.fixture(
    params=[
        "memory",
        "sqlite",
        "sqlite-inline",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("postgres-autocommit", marks=pytest.mark.postgres),
    ]
)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    async for opened in open_backend(request, request.param):
        yield opened


@pytest.fixture(params=["sqlite", "sqlite-inline"])
async def sqlite_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    async for opened in open_backend(request, request.param):
        yield opened


@pytest.fixture(params=[pytest.param("postgres-autocommit", marks=pytest.mark.postgres)])
async def postgres_backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    async for opened in open_backend(request, request.param):
        yield opened


async def attached_file(backend: Backend) -> Attachment:
    """A file attached to a message of a group of alice and bob, committed."""
    conversation = group("alice", "bob")
    await add(backend.uow, conversation)
    message = await post(backend.uow, conversation)
    attached = attachment(message)
    async with backend.uow() as tx:
        await tx.attachments.add(attached)
        await tx.commit()
    return attached


def attachment_like(model: Attachment, **changes: object) -> Attachment:
    """Another attachment (its own id and stored name) like `model`, with `changes`."""
    attachment_id = uuid.uuid4()
    return replace(model, id=attachment_id, filename=stored_name(attachment_id, model.extension), **changes)  # type: ignore[arg-type]


async def test_members_see_an_attachment_others_are_told_they_are_not(backend: Backend) -> None:
    attached = await attached_file(backend)
    draft = replace(attachment_like(attached, uploader_id="carol"), message_id=None)
    async with backend.uow() as tx:
        await tx.attachments.add(draft)
        await tx.commit()
    for viewer, member in (("alice", True), ("bob", True), ("carol", False)):
        by_id = await backend.access.seen_by_id(viewer, attached.id)
        by_name = await backend.access.seen_by_filename(viewer, attached.filename)
        assert by_id is not None
        assert by_name is not None
        assert (by_id.attachment, by_id.viewer_is_member) == (attached, member)
        assert (by_name.attachment, by_name.viewer_is_member) == (attached, member)
    seen_draft = await backend.access.seen_by_filename("carol", draft.filename)
    assert seen_draft is not None
    assert (seen_draft.attachment, seen_draft.viewer_is_member) == (draft, False)
    assert await backend.access.seen_by_id("alice", uuid.uuid4()) is None
    assert await backend.access.seen_by_filename("alice", f"{uuid.uuid4()}.png") is None


async def test_what_is_committed_is_read_at_once(backend: Backend) -> None:
    """A member removed, or a file deleted, loses its access with the commit: no read is cached."""
    attached = await attached_file(backend)
    assert attached.message_id is not None
    async with backend.uow() as tx:
        message = await tx.messages.get(attached.message_id)
    assert message is not None
    seen = await backend.access.seen_by_filename("bob", attached.filename)
    assert seen is not None
    assert seen.viewer_is_member
    async with backend.uow() as tx:
        await tx.conversations.remove_member(message.conversation_id, "bob")
        assert await backend.access.seen_by_filename("bob", attached.filename) == seen  # not yet
        await tx.commit()
    after = await backend.access.seen_by_filename("bob", attached.filename)
    assert after is not None
    assert not after.viewer_is_member
    async with backend.uow() as tx:
        await tx.attachments.delete(attached.id)
        await tx.commit()
    assert await backend.access.seen_by_filename("alice", attached.filename) is None


async def test_a_locked_database_is_waited_for_without_stopping_the_loop(sqlite_backend: Backend) -> None:
    """Another connection writes with SQLite's exclusive lock on a database that left WAL mode
    (readers wait for such a lock, and SQLite calls their busy handler): the check answers once the
    lock goes, and the event loop runs on meanwhile."""
    backend = sqlite_backend
    assert backend.engine is not None
    assert backend.url is not None
    attached = await attached_file(backend)
    await backend.engine.dispose()  # its idle connections would keep the lock from being taken
    locker = sqlite3.connect(str(make_url(backend.url).database), isolation_level=None)
    locker.execute("PRAGMA journal_mode=DELETE")
    locker.execute("BEGIN EXCLUSIVE")
    beats: list[float] = []
    answered = anyio.Event()

    async def heartbeat() -> None:
        while not answered.is_set():
            beats.append(time.monotonic())
            await anyio.sleep(0.01)

    async def release() -> None:
        await anyio.sleep(0.5)
        locker.execute("ROLLBACK")

    try:
        with anyio.fail_after(15):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(heartbeat)
                tasks.start_soon(release)
                await anyio.sleep(0.05)  # both running before the check starts
                started = time.monotonic()
                seen = await backend.access.seen_by_id("bob", attached.id)
                waited = time.monotonic() - started
                answered.set()
    finally:
        locker.close()
    assert seen is not None
    assert seen.viewer_is_member
    assert waited >= 0.4  # it did wait for the lock...
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert max(gaps) < 0.25, f"the loop stood still for {max(gaps):.2f} s"  # ...without stopping the loop


def test_only_a_file_is_shared_with_another_connection() -> None:
    assert shares_file("sqlite+aiosqlite:///data/chat.db")
    assert shares_file("sqlite+aiosqlite:////tmp/x/chat.db")
    assert not shares_file("sqlite+aiosqlite://")
    assert not shares_file("sqlite+aiosqlite:///:memory:")
    assert not shares_file("sqlite+aiosqlite:///file:one?mode=memory&cache=shared&uri=true")
    assert not shares_file("postgresql+asyncpg://postgres@127.0.0.1:5432/test")


async def test_a_connection_the_server_dropped_costs_a_retry_not_an_error(postgres_backend: Backend) -> None:
    """The autocommit pool does not ping its connections: after the server ended every one of them
    (a restart, a failover), the next check still answers."""
    backend = postgres_backend
    assert backend.url is not None
    attached = await attached_file(backend)
    first = await backend.access.seen_by_filename("bob", attached.filename)
    assert first is not None
    database = str(make_url(backend.url).database)
    admin = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=database)
    try:
        ended = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await admin.close()
    assert ended >= 1  # the access pool's connection among them
    again = await backend.access.seen_by_filename("bob", attached.filename)
    assert again == first


# The chat's reads (ChatQueries over `Reading`): what a member sees, and what a non-member or a
# member just removed is told, read as committed each time.


async def test_a_members_conversations_come_newest_activity_first_with_their_members(
    backend: Backend,
) -> None:
    old, new, other = group("alice", "bob"), group("alice", "carol"), group("carol")
    await add(backend.uow, old, new, other)
    async with backend.uow() as tx:
        await tx.conversations.advance(old.id, T0 + timedelta(minutes=1))
        await tx.conversations.advance(new.id, T0 + timedelta(minutes=2))
        await tx.commit()
    listed = await backend.queries.conversations("alice")
    assert [(c.id, c.member_ids) for c in listed] == [
        (new.id, frozenset({"alice", "carol"})),
        (old.id, frozenset({"alice", "bob"})),
    ]
    assert await backend.queries.conversations("nobody") == []
    assert (await backend.queries.conversation("bob", old.id)).member_ids == frozenset({"alice", "bob"})
    with pytest.raises(NotFound):
        await backend.queries.conversation("bob", new.id)


async def test_a_page_of_messages_comes_newest_first_with_its_attachments(backend: Backend) -> None:
    conversation = group("alice", "bob")
    await add(backend.uow, conversation)
    messages = [await post(backend.uow, conversation) for _ in range(5)]
    files = {m.id: [attachment(m), attachment(m)] for m in messages[1::2]}
    async with backend.uow() as tx:
        for attached in files.values():
            for one in attached:
                await tx.attachments.add(one)
            await tx.messages.set_has_media(attached[0].message_id, True)  # type: ignore[arg-type]
        await tx.commit()
    page = await backend.queries.messages("bob", conversation.id, before=None, limit=3)
    assert [item.message.seq for item in page] == [5, 4, 3]
    assert [list(item.attachments) for item in page] == [[], files[messages[3].id], []]
    older = await backend.queries.messages("bob", conversation.id, before=page[-1].message.id, limit=3)
    assert [item.message.seq for item in older] == [2, 1]
    assert list(older[0].attachments) == files[messages[1].id]
    assert list(await backend.queries.media_of_message("alice", messages[3].id)) == files[messages[3].id]
    for viewer, message_id in (("carol", messages[3].id), ("alice", uuid.uuid4())):
        with pytest.raises(NotFound):  # not a member, or no such message: the same answer
            await backend.queries.media_of_message(viewer, message_id)
    elsewhere = group("alice")
    await add(backend.uow, elsewhere)
    with pytest.raises(NotFound):  # an anchor of another conversation is no anchor here
        await backend.queries.messages("alice", elsewhere.id, before=messages[0].id, limit=3)


async def test_a_removed_member_is_refused_by_the_next_read(backend: Backend) -> None:
    """No read is cached: the removal's commit is the end of every read of the conversation."""
    conversation = group("alice", "bob")
    await add(backend.uow, conversation)
    message = await post(backend.uow, conversation)
    assert await backend.queries.messages("bob", conversation.id, before=None, limit=10)
    assert await backend.queries.media_of_message("bob", message.id) == []
    async with backend.uow() as tx:
        await tx.conversations.remove_member(conversation.id, "bob")
        await tx.commit()
    reads: list[Callable[[], Awaitable[object]]] = [
        lambda: backend.queries.messages("bob", conversation.id, before=None, limit=10),
        lambda: backend.queries.media_of_message("bob", message.id),
        lambda: backend.queries.conversation("bob", conversation.id),
    ]
    for read in reads:
        with pytest.raises(NotFound):
            await read()
    assert await backend.queries.conversations("bob") == []
    assert [c.id for c in await backend.queries.conversations("alice")] == [conversation.id]
