"""The in-memory file store, with its staged and opened files."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from adapters.clock import SystemClock
from adapters.files import write_pipeline
from application.ports.clock import Clock
from application.ports.files import OpenFile, StagedFile
from domain.content_checks import BodyCheck
from domain.errors import Conflict, NotFound


class _MemoryStaged:
    def __init__(self, store: InMemoryFileStore) -> None:
        self._store = store
        self._buffer = bytearray()
        self.published = False

    @property
    def size(self) -> int:
        return len(self._buffer)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        for offset in range(start, min(end, len(self._buffer)), chunk_size):
            yield bytes(self._buffer[offset : min(offset + chunk_size, end)])

    async def fill(self, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
        return await write_pipeline.fill(self.write, chunks, check)

    async def write(self, *chunks: bytes) -> None:
        for chunk in chunks:
            self._buffer += chunk

    async def publish(self, filename: str) -> None:
        if filename in self._store.files:
            raise Conflict(f"A file named {filename} is already stored.")
        self._store.files[filename] = (bytes(self._buffer), self._store.clock.now())
        self.published = True

    async def discard(self) -> None:
        self._buffer.clear()


@dataclass(frozen=True)
class _MemoryOpenFile:
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        for offset in range(start, end, chunk_size):
            yield self.data[offset : min(offset + chunk_size, end)]


class InMemoryFileStore:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()  # when each file was published, for the sweeper
        self.files: dict[str, tuple[bytes, datetime]] = {}
        self.staged_open = 0  # staged files not yet published or discarded

    @asynccontextmanager
    async def stage(self) -> AsyncIterator[StagedFile]:
        staged = _MemoryStaged(self)
        self.staged_open += 1
        try:
            yield staged
        finally:
            self.staged_open -= 1
            await staged.discard()

    @asynccontextmanager
    async def open(self, filename: str) -> AsyncIterator[OpenFile]:
        if filename not in self.files:
            raise NotFound("No such file.")
        yield _MemoryOpenFile(self.files[filename][0])

    async def delete(self, filename: str) -> None:
        self.files.pop(filename, None)

    async def check(self) -> None:
        return None

    async def published_before(self, cutoff: datetime, limit: int) -> Sequence[str]:
        return [name for name, (_, written) in self.files.items() if written < cutoff][:limit]
