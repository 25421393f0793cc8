"""The downloads' access check, read outside any unit of work."""

from __future__ import annotations

import uuid
from typing import Protocol

from application.ports.repositories import AttachmentSeen


class AttachmentAccess(Protocol):
    """The access check of a download as a read of its own, outside any unit of work: what
    `AttachmentRepository.seen_by_id` and `seen_by_filename` answer, as committed when it reads.
    Downloads are most of a media service's requests: application.access.ReadingAccess answers it
    as one `Reading` statement, which the SQL adapters read without a transaction
    (adapters/sql/reader.py: 0.1-0.4 ms against 0.7-1.5 ms through a unit of work). Raises
    StorageUnavailable when the database does not answer."""

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None: ...

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None: ...
