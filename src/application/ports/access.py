"""The downloads' access check, read outside any unit of work."""

from __future__ import annotations

import uuid
from typing import Protocol

from application.ports.repositories import AttachmentSeen


class AttachmentAccess(Protocol):
    """The access check of a download as a read of its own, outside any unit of work: what
    `AttachmentRepository.seen_by_id` and `seen_by_filename` answer, as committed when it reads.
    A port of its own because downloads are most of a media service's requests: the SQL adapters
    answer it in one statement without a transaction (adapters/sql/access.py: 0.1-0.4 ms against
    0.7-1.5 ms through a unit of work); application.access.UnitOfWorkAccess is the one every
    adapter set can use. Raises StorageUnavailable when the database does not answer."""

    async def seen_by_id(self, viewer: str, attachment_id: uuid.UUID) -> AttachmentSeen | None: ...

    async def seen_by_filename(self, viewer: str, filename: str) -> AttachmentSeen | None: ...
