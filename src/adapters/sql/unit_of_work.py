"""One SQLAlchemy session per unit of work: the repositories share its transaction, `commit()` ends
it, leaving the block without committing rolls it back. Driver errors become the port's errors."""

from __future__ import annotations

from advanced_alchemy.exceptions import RepositoryError
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.clock import SystemClock
from adapters.sql.attachments import SqlAttachmentRepository
from adapters.sql.contents import SqlContentRepository
from adapters.sql.conversations import SqlConversationRepository
from adapters.sql.event_log import SqlEventLog
from adapters.sql.messages import SqlMessageRepository
from adapters.sql.upload_sessions import SqlUploadSessionRepository
from application.ports.clock import Clock
from application.ports.event_log import EventLog
from application.ports.repositories import (
    AttachmentRepository,
    ContentRepository,
    ConversationRepository,
    MessageRepository,
    UploadSessionRepository,
)
from domain.errors import Conflict, StorageUnavailable


class SqlUnitOfWork:
    conversations: ConversationRepository
    messages: MessageRepository
    attachments: AttachmentRepository
    contents: ContentRepository
    events: EventLog
    uploads: UploadSessionRepository

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._session: AsyncSession | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        session = self._sessions()
        self._session = session
        self.conversations = SqlConversationRepository(session)
        self.messages = SqlMessageRepository(session)
        self.attachments = SqlAttachmentRepository(session)
        self.contents = SqlContentRepository(session)
        self.events = SqlEventLog(session, self._clock)
        self.uploads = SqlUploadSessionRepository(session)
        return self

    async def commit(self) -> None:
        assert self._session is not None, "commit() outside the unit of work's block"
        await self._session.commit()

    async def __aexit__(self, *exc_info: object) -> None:
        error = exc_info[1] if isinstance(exc_info[1], BaseException) else None
        session, self._session = self._session, None
        if session is not None:
            try:
                # close() rolls back what was not committed and hands the connection back to the
                # pool already reset: a rollback() before it would cost SQLite a second round trip.
                await session.close()
            except (SQLAlchemyError, OSError) as exc:
                if error is None:
                    _translate(exc)  # a failed rollback after a failure: the first one is the news
        if error is not None:
            _translate(error)


# PostgreSQL's SQLSTATEs for a transaction that lost a race with another one (serialization
# failure, deadlock): the same request again is the remedy, as for a unique key taken meanwhile.
LOST_RACE_SQLSTATES = frozenset({"40001", "40P01"})


def _sqlstate(error: BaseException | None) -> str | None:
    original = getattr(error, "orig", None)  # the driver's own exception, under SQLAlchemy's
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    return state if isinstance(state, str) else None


# SQLite's primary result code for an error in the SQL itself (no such table or column, a syntax
# error), which sqlite3 raises as an OperationalError like a locked or unreadable file.
SQLITE_ERROR = 1


def _sql_itself_is_wrong(error: BaseException | None) -> bool:
    code = getattr(getattr(error, "orig", None), "sqlite_errorcode", None)
    return isinstance(code, int) and code & 0xFF == SQLITE_ERROR


def _translate(error: BaseException) -> None:
    """Re-raises what the port names: a lost connection is StorageUnavailable (503), a lost race
    (an integrity violation, a serialization failure, a deadlock) is Conflict (409). Anything
    else (a programming or data error, a bug) passes as it is: a 500 with an error id, logged
    with its traceback, never a 409 that would send a client into retrying a bug."""
    cause = error.__cause__ if isinstance(error, RepositoryError) else error
    if isinstance(cause, IntegrityError) or (_sqlstate(cause) or "") in LOST_RACE_SQLSTATES:
        raise Conflict("The change conflicts with another one made at the same time; try again.") from error
    if _sql_itself_is_wrong(cause):
        return
    if isinstance(cause, OperationalError | OSError | ConnectionError) or (
        isinstance(cause, DBAPIError) and cause.connection_invalidated
    ):
        raise StorageUnavailable("The database does not answer; try again shortly.") from error


class SqlUnitOfWorkFactory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()  # what the event log stamps its rows with

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, self._clock)
