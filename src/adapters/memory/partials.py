"""The in-memory partial store: resumable uploads' bytes."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from adapters.clock import SystemClock
from application.ports.clock import Clock
from domain.errors import Conflict, FileTooLarge


class InMemoryPartialStore:
    """Resumable uploads' bytes in memory, each with when it was last written (by `clock`)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.parts: dict[uuid.UUID, tuple[bytearray, datetime]] = {}
        self._clock = clock or SystemClock()
        self._busy: set[uuid.UUID] = set()

    async def append(
        self, upload_id: uuid.UUID, offset: int, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        if upload_id in self._busy:
            raise Conflict("Another request is appending to this upload.")
        data, _ = self.parts.get(upload_id, (bytearray(), self._clock.now()))
        if len(data) != offset:
            raise Conflict(f"The upload is at offset {len(data)}, not {offset}.")
        self._busy.add(upload_id)
        try:
            received = bytearray()
            try:
                async for chunk in chunks:
                    received += chunk
                    if offset + len(received) > limit:
                        raise FileTooLarge(f"The upload would pass its announced length of {limit:,} bytes.")
            except FileTooLarge:
                raise
            except BaseException:
                self._keep(upload_id, data + received)  # what came before the error is kept
                raise
            self._keep(upload_id, data + received)
            return offset + len(received)
        finally:
            self._busy.discard(upload_id)

    def _keep(self, upload_id: uuid.UUID, data: bytearray) -> None:
        self.parts[upload_id] = (data, self._clock.now())

    async def length(self, upload_id: uuid.UUID) -> int:
        return len(self.parts.get(upload_id, (b"",))[0])

    async def read(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        data = bytes(self.parts.get(upload_id, (b"",))[0])
        for at in range(0, len(data), 1 << 16):
            yield data[at : at + (1 << 16)]

    async def delete(self, upload_id: uuid.UUID) -> None:
        self.parts.pop(upload_id, None)

    async def written_before(self, cutoff: datetime, limit: int) -> Sequence[uuid.UUID]:
        return [i for i, (_, written) in self.parts.items() if written < cutoff][:limit]
