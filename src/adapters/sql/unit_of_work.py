"""One SQLAlchemy session per unit of work: the repositories share its transaction, `commit()` ends
it, leaving the block without committing rolls it back. Driver errors become the port's errors."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from adapters.clock import SystemClock
from adapters.sql.attachments import SqlAttachmentRepository
from adapters.sql.contents import SqlContentRepository
from adapters.sql.conversations import SqlConversationRepository
from adapters.sql.errors import translate
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
                    translate(exc)  # a failed rollback after a failure: the first one is the news
        if error is not None:
            translate(error)


class SqlUnitOfWorkFactory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock | None = None) -> None:
        self._sessions = sessions
        self._clock = clock or SystemClock()  # what the event log stamps its rows with

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self._sessions, self._clock)
