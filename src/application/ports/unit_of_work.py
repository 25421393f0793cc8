"""One transaction over the repositories and the event log."""

from __future__ import annotations

from typing import Protocol

from application.ports.event_log import EventLog
from application.ports.repositories import (
    AttachmentRepository,
    ContentRepository,
    ConversationRepository,
    MessageRepository,
    UploadSessionRepository,
)


class UnitOfWork(Protocol):
    """One transaction over the repositories. Leaving the block without `commit()` rolls back."""

    conversations: ConversationRepository
    messages: MessageRepository
    attachments: AttachmentRepository
    contents: ContentRepository
    events: EventLog
    uploads: UploadSessionRepository

    async def commit(self) -> None: ...

    async def __aenter__(self) -> UnitOfWork: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self) -> UnitOfWork: ...
