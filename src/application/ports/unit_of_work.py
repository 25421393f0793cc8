"""One transaction over the repositories and the event log; and `Reading`, the reads that need none."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from typing import Protocol

from application.ports.event_log import EventLog
from application.ports.repositories import (
    AttachmentReads,
    AttachmentRepository,
    ContentRepository,
    ConversationReads,
    ConversationRepository,
    MessageReads,
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


class Reading(Protocol):
    """The reads of a request that changes nothing (lists, pages, the access check of a download),
    each statement as committed when it runs, in no transaction: a chat client reads far more often
    than it writes, and on SQLite and PostgreSQL a transaction's round trips cost more than such a
    read itself (adapters/sql/reader.py). Nothing is cached: a member removed is refused by the next
    read after the commit. A unit of work is a `Reading` too (its reads see its transaction)."""

    @property
    def conversations(self) -> ConversationReads: ...

    @property
    def messages(self) -> MessageReads: ...

    @property
    def attachments(self) -> AttachmentReads: ...


class ReadingFactory(Protocol):
    """A `UnitOfWorkFactory` is one: the adapter sets without a cheaper read use their units of work."""

    def __call__(self) -> AbstractAsyncContextManager[Reading]: ...
