"""The in-memory unit of work: its repositories edit a copy of the database, which `commit()` swaps
in."""

from __future__ import annotations

import copy

from adapters.memory.database import MemoryDatabase
from adapters.memory.event_log import InMemoryEventLog
from adapters.memory.repositories import (
    InMemoryAttachmentRepository,
    InMemoryContentRepository,
    InMemoryConversationRepository,
    InMemoryMessageRepository,
    InMemoryUploadSessionRepository,
)


class InMemoryUnitOfWork:
    def __init__(self, db: MemoryDatabase) -> None:
        self._committed = db
        self._working = copy.copy(db)

    async def __aenter__(self) -> InMemoryUnitOfWork:
        self._working = MemoryDatabase(
            conversations=dict(self._committed.conversations),
            seqs=dict(self._committed.seqs),
            messages=dict(self._committed.messages),
            attachments=dict(self._committed.attachments),
            contents=dict(self._committed.contents),
            events=list(self._committed.events),
            uploads=dict(self._committed.uploads),
        )
        self.conversations = InMemoryConversationRepository(self._working)
        self.messages = InMemoryMessageRepository(self._working)
        self.attachments = InMemoryAttachmentRepository(self._working)
        self.contents = InMemoryContentRepository(self._working)
        self.events = InMemoryEventLog(self._working)
        self.uploads = InMemoryUploadSessionRepository(self._working)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None  # what was not committed is simply dropped

    async def commit(self) -> None:
        self._committed.__dict__.update(self._working.__dict__)
        await self.__aenter__()


class InMemoryUnitOfWorkFactory:
    def __init__(self, db: MemoryDatabase | None = None) -> None:
        self.db = db or MemoryDatabase()

    def __call__(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self.db)
