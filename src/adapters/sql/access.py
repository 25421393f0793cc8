"""The downloads' access check (`AttachmentAccess`) as one statement read apart from the units of
work: inline on SQLite, in autocommit on PostgreSQL. `attachment_access` picks the one for a URL.

On SQLite the check reads on the event loop's own thread. Through aiosqlite a statement is four
hand-offs to the connection's thread and back (cursor, execute, fetchall, close) besides
SQLAlchemy's asyncio layer: the check took 0.7-1.1 ms that way on the 2-vCPU test machine, most of
it threads waking each other, against 0.1-0.2 ms read here (`python -m bench download`). One row
read by an index in WAL mode is that quick, and a reader in WAL mode waits for no writer, so this
read costs the loop less than the hand-offs did. It must never wait all the same: its connection
only reads (`query_only`) and gives up at once when SQLite says busy (busy timeout 0: a recovery
after a crash, a database not in WAL mode). Then, and on any other database error, the check goes
through `fallback`, a unit of work on aiosqlite, which waits its turn and reports what is wrong as
the rest of the service does.

On PostgreSQL a unit of work costs a ping (the main engine pings every connection it hands out),
BEGIN and ROLLBACK besides the statement: 1.1-1.5 ms against 0.4 ms for the statement alone in
autocommit on a pool of its own. That pool does not ping: a read can simply be tried again, so a
connection found dead (after a database restart) costs one retry, not an error.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlalchemy import Select, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import SingletonThreadPool

from adapters.sql import statements
from adapters.sql.mappers import seen_of
from application.access import UnitOfWorkAccess
from application.ports.access import AttachmentAccess
from application.ports.repositories import AttachmentSeen
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.errors import StorageUnavailable

log = logging.getLogger(__name__)


def _reader_pragmas(dbapi_connection: Any, _: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


class SqliteAttachmentAccess:
    """`AttachmentAccess` read inline from the SQLite file of `url` (the service's DATABASE_URL)."""

    def __init__(self, url: str, fallback: AttachmentAccess) -> None:
        self._fallback = fallback
        # One connection per thread (the loop's), kept open: no pool checkout per read.
        self._engine: Engine = create_engine(
            make_url(url).set(drivername="sqlite+pysqlite"),
            poolclass=SingletonThreadPool,
            connect_args={"timeout": 0},
        )
        event.listen(self._engine, "connect", _reader_pragmas)

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None:
        return await self._read(
            statements.SEEN_BY_ID,
            {"id": attachment_id, "viewer": viewer},
            lambda: self._fallback.seen_by_id(viewer, attachment_id),
        )

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None:
        return await self._read(
            statements.SEEN_BY_FILENAME,
            {"filename": filename, "viewer": viewer},
            lambda: self._fallback.seen_by_filename(viewer, filename),
        )

    async def _read(
        self,
        query: Select[Any],
        parameters: dict[str, object],
        fallback: Callable[[], Awaitable[AttachmentSeen | None]],
    ) -> AttachmentSeen | None:
        try:
            with self._engine.connect() as connection:
                return seen_of(connection.execute(query, parameters).first())
        except SQLAlchemyError as exc:
            log.debug("the inline SQLite read failed (%s): through a unit of work instead", exc)
        return await fallback()

    async def close(self) -> None:
        self._engine.dispose()


class AutocommitAttachmentAccess:
    """`AttachmentAccess` as one statement in autocommit, on a small pool of its own (PostgreSQL)."""

    POOL_SIZE = 4  # a check holds its connection for well under a millisecond
    MAX_OVERFLOW = 8

    def __init__(self, url: str) -> None:
        self._engine: AsyncEngine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", pool_size=self.POOL_SIZE, max_overflow=self.MAX_OVERFLOW
        )

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None:
        return await self._read(statements.SEEN_BY_ID, {"id": attachment_id, "viewer": viewer})

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None:
        return await self._read(statements.SEEN_BY_FILENAME, {"filename": filename, "viewer": viewer})

    async def _read(self, query: Select[Any], parameters: dict[str, object]) -> AttachmentSeen | None:
        for attempt in (1, 2):
            try:
                async with self._engine.connect() as connection:
                    return seen_of((await connection.execute(query, parameters)).first())
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue  # the pool is emptied of connections as old as this one: try again
                raise StorageUnavailable("The database does not answer; try again shortly.") from exc
            except (SQLAlchemyError, OSError) as exc:
                raise StorageUnavailable("The database does not answer; try again shortly.") from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        await self._engine.dispose()


class ClosingAccess(AttachmentAccess, Protocol):
    async def close(self) -> None: ...


def attachment_access(url: str, uow: UnitOfWorkFactory) -> ClosingAccess | None:
    """The cheaper read for DATABASE_URL `url` (close it at shutdown), or None: then the check goes
    through a unit of work of `uow` (an in-memory SQLite database, which no other connection sees)."""
    if shares_file(url):
        return SqliteAttachmentAccess(url, UnitOfWorkAccess(uow))
    if make_url(url).get_backend_name() == "postgresql":
        return AutocommitAttachmentAccess(url)
    return None


def shares_file(url: str) -> bool:
    """Whether another connection to `url` sees the same database: a SQLite file, not memory."""
    parsed = make_url(url)
    database = parsed.database or ""
    return (
        parsed.get_backend_name() == "sqlite"
        and database not in ("", ":memory:")
        and "mode=memory" not in database
        and parsed.query.get("mode") != "memory"
    )
