"""Databases for the tests: SQLite files copied from one migrated template, and a PostgreSQL
database of the test session's own (skipped with a reason when PostgreSQL does not answer, unless
CI=true, where it is required)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import uuid
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, NoReturn

import asyncpg
import pytest

from adapters.sql.database import upgrade_to_head

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
REQUIRED = os.environ.get("CI", "").lower() == "true"


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def unavailable(what: str) -> NoReturn:
    """Skip, or fail under CI=true, where every service-backed test is required."""
    if REQUIRED:
        pytest.fail(f"{what} (required because CI=true)")
    pytest.skip(what)


def run_blocking(coroutine: Coroutine[Any, Any, None]) -> None:
    """Runs a coroutine to its end from sync code, also when an event loop runs in this thread
    (a sync fixture asked for by an async one): then on a loop of its own in another thread."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(coroutine)
        return
    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, coroutine).result()


def sqlite_url_of(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.db"
    upgrade_to_head(sqlite_url_of(path))
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A migrated SQLite database of this test's own."""
    path = tmp_path / "service.db"
    shutil.copyfile(sqlite_template, path)
    return sqlite_url_of(path)


async def _admin(sql: str) -> None:
    connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database="postgres")
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def create_pg_database() -> str:
    """An empty database of its own; returns its SQLAlchemy URL. Drop it with `drop_pg_database`."""
    if not reachable(PG_HOST, PG_PORT):
        unavailable(f"PostgreSQL does not answer on {PG_HOST}:{PG_PORT}")
    name = f"chat_media_test_{uuid.uuid4().hex[:12]}"
    run_blocking(_admin(f'CREATE DATABASE "{name}"'))
    return f"postgresql+asyncpg://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    run_blocking(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    url = create_pg_database()
    try:
        upgrade_to_head(url)
        yield url
    finally:
        drop_pg_database(url)


TABLES = (
    "upload_sessions",
    "conversation_events",
    "media_attachments",
    "stored_contents",
    "messages",
    "conversation_members",
    "conversations",
)


@pytest.fixture
def postgres_url(postgres_session_url: str) -> Iterator[str]:
    """The session's migrated PostgreSQL database, emptied after each test."""
    yield postgres_session_url
    name = postgres_session_url.rsplit("/", 1)[1]

    async def empty() -> None:
        connection = await asyncpg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, database=name)
        try:
            await connection.execute(f"TRUNCATE {', '.join(TABLES)} CASCADE")
        finally:
            await connection.close()

    run_blocking(empty())


@pytest.fixture
def redis_url() -> str:
    if not reachable(REDIS_HOST, REDIS_PORT):
        unavailable(f"Redis does not answer on {REDIS_HOST}:{REDIS_PORT}")
    return f"redis://{REDIS_HOST}:{REDIS_PORT}/0"


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """An empty PostgreSQL database of this test's own, dropped after it."""
    url = create_pg_database()
    try:
        yield url
    finally:
        drop_pg_database(url)
