"""How a statement is read, the one way every repository reads (`Reader.rows`): in the unit of
work's transaction (`SessionReader`), or, for the reads that need none (`Reading`: the chat's
lists and pages, the access check of every download), apart from any transaction, by the cheapest
way the database allows. `reader_for` picks that one for a DATABASE_URL.

On SQLite the reads run on the event loop's own thread (`InlineSqliteReader`). Through aiosqlite a
statement is four hand-offs to the connection's thread and back (cursor, execute, fetchall, close)
besides SQLAlchemy's asyncio layer, and with a pool of connections their threads fight the loop
for the GIL: a page of 50 messages made 157-171 req/s that way on the 2-vCPU test machine, 75% of
the worker's samples in aiosqlite's threads (`python -m bench.reads`, py-spy). An indexed read in
WAL mode takes tens of microseconds, and a reader in WAL mode waits for no writer, so reading here
costs the loop less than the hand-offs did. It must never wait all the same: its connection only
reads (`query_only`) and gives up at once when SQLite says busy (busy timeout 0: a recovery after a
crash, a database not in WAL mode). Then, and on any other database error, the statement goes
through `fallback`, the service's engine on aiosqlite, which waits its turn and reports what is
wrong as the rest of the service does.

On PostgreSQL a unit of work costs a ping (the main engine pings every connection it hands out),
BEGIN and ROLLBACK besides the statement: 1.1-1.5 ms against 0.4 ms for the statement alone in
autocommit on a pool of its own (`AutocommitReader`). That pool does not ping: a read can simply be
tried again, so a connection found dead (after a database restart) costs one retry, not an error.

Each statement sees what was committed when it runs; two statements of one request may see two
moments, which no read here minds (a membership check, then the page it allows).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy import Executable, Row, create_engine, event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import SingletonThreadPool

from adapters.sql.errors import translate
from domain.errors import StorageUnavailable

log = logging.getLogger(__name__)

Parameters = Mapping[str, Any]


class Reader(Protocol):
    async def rows(self, query: Executable, parameters: Parameters) -> Sequence[Row[Any]]:
        """The rows `query` selects with `parameters`."""
        ...


class ClosingReader(Reader, Protocol):
    async def close(self) -> None: ...


class SessionReader:
    """Through the unit of work's session: its reads see its own writes and its locks."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def rows(self, query: Executable, parameters: Parameters) -> Sequence[Row[Any]]:
        return (await self._session.execute(query, parameters)).all()


class EngineReader:
    """A connection of `engine`'s pool per statement, no transaction kept (nothing to roll back):
    the reads of an in-memory SQLite database (which only the engine's one connection sees), and
    the inline reader's fallback."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def rows(self, query: Executable, parameters: Parameters) -> Sequence[Row[Any]]:
        try:
            async with self._engine.connect() as connection:
                return (await connection.execute(query, parameters)).all()
        except (SQLAlchemyError, OSError) as exc:
            translate(exc)
            raise

    async def close(self) -> None:
        """The engine is the service's: it closes it."""


def _reader_pragmas(dbapi_connection: Any, _: object) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA query_only=ON")
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


class InlineSqliteReader:
    """On the loop's thread, from the SQLite file of `url` (the service's DATABASE_URL)."""

    def __init__(self, url: str, fallback: Reader) -> None:
        self._fallback = fallback
        # One connection per thread (the loop's), kept open: no pool checkout per read.
        self._engine: Engine = create_engine(
            make_url(url).set(drivername="sqlite+pysqlite"),
            poolclass=SingletonThreadPool,
            connect_args={"timeout": 0},
        )
        event.listen(self._engine, "connect", _reader_pragmas)
        self._connection: Connection | None = None

    async def rows(self, query: Executable, parameters: Parameters) -> Sequence[Row[Any]]:
        try:
            # One Connection kept for the loop's reads (opening one per statement was ~5% of a
            # listing). sqlite3 begins no transaction for a SELECT, so none holds a snapshot: the
            # rollback only ends the one SQLAlchemy counts as begun.
            if self._connection is None:
                self._connection = self._engine.connect()
            try:
                return self._connection.execute(query, parameters).all()
            finally:
                self._connection.rollback()
        except SQLAlchemyError as exc:
            log.debug("the inline SQLite read failed (%s): through the engine instead", exc)
            self._drop()
        return await self._fallback.rows(query, parameters)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.invalidate()  # a failed connection is not handed out again

    async def close(self) -> None:
        self._drop()
        self._engine.dispose()


class AutocommitReader:
    """One statement in autocommit, on a small pool of its own (PostgreSQL)."""

    # No overflow: a read past the pool's `size` waits for a connection rather than opening one
    # for a single statement (asyncpg's connect, its SSL attempt included, was 6% of a listing's
    # time when 8 were kept for 32 requests at once), and the process never opens more than its
    # budget (adapters.sql.database.ConnectionBudget).

    def __init__(self, url: str, size: int) -> None:
        self._engine: AsyncEngine = create_async_engine(
            url, isolation_level="AUTOCOMMIT", pool_size=size, max_overflow=0
        )

    async def rows(self, query: Executable, parameters: Parameters) -> Sequence[Row[Any]]:
        for attempt in (1, 2):
            try:
                async with self._engine.connect() as connection:
                    return (await connection.execute(query, parameters)).all()
            except DBAPIError as exc:
                if attempt == 1 and exc.connection_invalidated:
                    continue  # the pool is emptied of connections as old as this one: try again
                translate(exc)
                raise StorageUnavailable("The database does not answer; try again shortly.") from exc
            except (SQLAlchemyError, OSError) as exc:
                raise StorageUnavailable("The database does not answer; try again shortly.") from exc
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        await self._engine.dispose()


def reader_for(url: str, engine: AsyncEngine, connections: int) -> ClosingReader:
    """The cheapest reader outside transactions for DATABASE_URL `url`, whose engine is `engine`,
    with at most `connections` of its own (close it at shutdown)."""
    if shares_file(url):
        return InlineSqliteReader(url, EngineReader(engine))
    if make_url(url).get_backend_name() == "postgresql":
        return AutocommitReader(url, connections)
    return EngineReader(engine)


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
