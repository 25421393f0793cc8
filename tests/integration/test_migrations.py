"""The migrations build exactly what the models describe, and go down to nothing again, on SQLite
and on PostgreSQL, each from an empty database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, func, insert, inspect, select

from adapters.sql.database import (
    alembic_config,
    create_engine,
    downgrade_to_base,
    session_maker,
    upgrade_to_head,
)
from adapters.sql.models import (
    AttachmentRow,
    ConversationRow,
    EventRow,
    MessageRow,
    StoredContentRow,
    metadata,
)
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from application.events import MessageDeleted
from tests.databases import create_pg_database, drop_pg_database, sqlite_url_of

TABLES = {
    "conversations",
    "event_cursor",
    "conversation_members",
    "messages",
    "media_attachments",
    "conversation_events",
    "upload_sessions",
    "stored_contents",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url_of(tmp_path / "empty.db")
        return
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)


def _tables(connection: Connection) -> set[str]:
    return set(inspect(connection).get_table_names()) - {"alembic_version"}


def _drift(connection: Connection) -> list[object]:
    # SQLite reflects advanced-alchemy's GUID (BINARY(16)) as NUMERIC: types are compared on PostgreSQL.
    options = {"compare_type": connection.dialect.name != "sqlite"}
    return list(compare_metadata(MigrationContext.configure(connection, opts=options), metadata))


async def _inspect(url: str) -> tuple[set[str], list[object]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            return await connection.run_sync(_tables), await connection.run_sync(_drift)
    finally:
        await engine.dispose()


async def test_upgrade_head_then_downgrade_base(empty_url: str) -> None:
    upgrade_to_head(empty_url)
    tables, drift = await _inspect(empty_url)
    assert tables == TABLES
    assert drift == [], "the models and the migrations disagree: run `make migration msg=...`"
    downgrade_to_base(empty_url)
    assert (await _inspect(empty_url))[0] == set()
    upgrade_to_head(empty_url)  # and back up: the downgrade left nothing in the way
    assert (await _inspect(empty_url))[0] == TABLES


async def test_the_event_cursor_goes_on_from_the_newest_event_logged_before_it(empty_url: str) -> None:
    """A database with events from before the counter: the next cursor is past every one of them,
    so no client's remembered cursor ever names a second event; and down again, the table's own
    ids go on past the counter's."""
    config = alembic_config(empty_url)
    command.upgrade(config, "b29406883c42")  # the revision before the counter
    engine = create_engine(empty_url)
    conversation = uuid.uuid4()
    now = datetime.now(UTC)
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(ConversationRow).values(
                    id=conversation, kind="group", last_seq=2, created_at=now, last_activity_at=now
                )
            )
            for seq in (1, 2):
                await connection.execute(
                    insert(EventRow).values(
                        conversation_id=conversation,
                        seq=seq,
                        kind="message.deleted",
                        payload=b"{}",
                        created_at=now,
                    )
                )
            newest = await connection.scalar(select(func.max(EventRow.id)))
        command.upgrade(config, "head")
        async with SqlUnitOfWorkFactory(session_maker(engine))() as tx:
            assert await tx.events.last_cursor() == newest
            logged = await tx.events.append(
                MessageDeleted(conversation_id=conversation, seq=3, message_id=uuid.uuid4())
            )
            await tx.commit()
        assert logged.cursor == newest + 1
        await engine.dispose()
        command.downgrade(config, "b29406883c42")
        async with engine.begin() as connection:
            await connection.execute(
                insert(EventRow).values(
                    conversation_id=conversation, seq=4, kind="message.deleted", payload=b"{}", created_at=now
                )
            )
            assert await connection.scalar(select(func.max(EventRow.id))) == newest + 2
    finally:
        await engine.dispose()


async def test_the_contents_are_backfilled_one_per_sha256_counting_its_attachments(empty_url: str) -> None:
    """Attachments from before one copy per content: each sha256 becomes one content, stored as
    the first of its files by name and counted once per attachment; no file moves, and the copies
    left unnamed are for the orphan sweep."""
    config = alembic_config(empty_url)
    command.upgrade(config, "a7c4e2f19d36")  # the revision before the contents
    engine = create_engine(empty_url)
    now = datetime.now(UTC)
    conversation, message = uuid.uuid4(), uuid.uuid4()
    shared = sorted(f"{uuid.uuid4()}.png" for _ in range(3))
    alone = f"{uuid.uuid4()}.pdf"
    try:
        async with engine.begin() as connection:
            await connection.execute(
                insert(ConversationRow).values(
                    id=conversation, kind="group", last_seq=1, created_at=now, last_activity_at=now
                )
            )
            await connection.execute(
                insert(MessageRow.__table__).values(
                    id=message,
                    conversation_id=conversation,
                    seq=1,
                    sender_id="alice",
                    content="",
                    has_media=True,
                    created_at=now,
                )
            )
            for position, (name, sha) in enumerate([*((n, "ab" * 32) for n in shared), (alone, "cd" * 32)]):
                await connection.execute(
                    insert(AttachmentRow.__table__).values(
                        id=uuid.uuid4(),
                        message_id=message,
                        position=position,
                        uploader_id="alice",
                        filename=name,
                        original_name=name,
                        content_type="image/png",
                        kind="image",
                        size=10,
                        sha256=sha,
                        created_at=now,
                    )
                )
        await engine.dispose()
        command.upgrade(config, "head")
        async with engine.connect() as connection:
            contents = {
                row.sha256: (row.name, row.refs)
                for row in await connection.execute(
                    select(StoredContentRow.sha256, StoredContentRow.name, StoredContentRow.refs)
                )
            }
            named = dict(
                (await connection.execute(select(AttachmentRow.filename, AttachmentRow.content_name))).all()
            )
        assert contents == {"ab" * 32: (shared[0], 3), "cd" * 32: (alone, 1)}
        assert named == {**dict.fromkeys(shared, shared[0]), alone: alone}
        await engine.dispose()
        command.downgrade(config, "a7c4e2f19d36")
    finally:
        await engine.dispose()
