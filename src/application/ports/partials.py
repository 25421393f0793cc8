"""The bytes of resumable uploads in progress."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Protocol


class PartialStore(Protocol):
    """The bytes of resumable uploads in progress, one growing file per session. Its length is the
    upload's offset: what it holds is durable once `append` returned."""

    async def append(
        self, upload_id: uuid.UUID, offset: int, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        """Appends the chunks and returns the new length, synced to disk. Raises Conflict when the
        length is not `offset` (a missing upload has length 0) or another append to it is running;
        FileTooLarge, keeping none of this append, when the length would pass `limit`. When the
        chunks end in an error (the client went away), what came is kept and synced, and the
        error passes on."""
        ...

    async def length(self, upload_id: uuid.UUID) -> int:
        """What was received so far; 0 for an unknown upload."""
        ...

    def read(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        """The bytes received, in order, in chunks."""
        ...

    async def delete(self, upload_id: uuid.UUID) -> None:
        """A missing upload is not an error."""
        ...

    async def written_before(self, cutoff: datetime, limit: int) -> Sequence[uuid.UUID]:
        """At most `limit` uploads last written before `cutoff`, for the sweeper."""
        ...
