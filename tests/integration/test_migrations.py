"""The migrations build exactly what the models describe, and go down to nothing again, on SQLite
and on PostgreSQL, each from an empty database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, inspect

from adapters.sql.database import create_engine, downgrade_to_base, upgrade_to_head
from adapters.sql.models import metadata
from tests.databases import create_pg_database, drop_pg_database, sqlite_url_of

TABLES = {
    "conversations",
    "conversation_members",
    "messages",
    "media_attachments",
    "conversation_events",
    "upload_sessions",
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
