"""The downloads' access check on SQLite, read on the event loop's own thread.

Through aiosqlite a statement is four hand-offs to the connection's thread and back (cursor,
execute, fetchall, close) besides SQLAlchemy's asyncio layer: the check took 0.7-0.8 ms that way
on the 2-vCPU test machine, most of it threads waking each other, against under 0.1 ms read here
(bench: `python -m bench download`). One row read by an index in WAL mode is that quick, and a
reader in WAL mode waits for no writer, so this read costs the loop less than the hand-offs did.

It must never wait all the same: its connection only reads (`query_only`) and gives up at once when
SQLite says busy (busy timeout 0: a recovery after a crash, a database not in WAL mode yet). Then,
and on any other database error, the check goes through `fallback`, a unit of work on aiosqlite,
which waits its turn and reports what is wrong as the rest of the service does.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.pool import SingletonThreadPool

from adapters.sql.repositories import seen_by_query, seen_of
from application.ports import AttachmentAccess, AttachmentSeen

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

    async def seen_by(
        self, viewer: str, *, attachment_id: uuid.UUID | None = None, filename: str | None = None
    ) -> AttachmentSeen | None:
        query, parameters = seen_by_query(viewer, attachment_id=attachment_id, filename=filename)
        try:
            with self._engine.connect() as connection:
                return seen_of(connection.execute(query, parameters).first())
        except SQLAlchemyError as exc:
            log.debug("the inline SQLite read failed (%s): through a unit of work instead", exc)
        return await self._fallback.seen_by(viewer, attachment_id=attachment_id, filename=filename)

    def close(self) -> None:
        self._engine.dispose()


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
