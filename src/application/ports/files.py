"""Where the files' bytes live: staged while an upload arrives, published under their name,
opened for downloads, deleted, swept."""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Protocol

from domain.content_checks import BodyCheck


class MediaSource(Protocol):
    """Bytes a processor reads: a staged upload, before it is published."""

    @property
    def size(self) -> int: ...

    def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        """The bytes in `[start, end)`, in chunks of at most `chunk_size`."""
        ...


class StagedFile(MediaSource, Protocol):
    """A file being written where the store can publish it atomically; invisible until then. What
    was written can be read back (`MediaSource`) until it is published or discarded."""

    async def fill(self, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
        """Appends the chunks, in order, feeding each to sha256 and to `check` as it goes, and
        returns the hex sha256 of what this call wrote (the adapter may hash, check and write side
        by side, off the event loop). What the chunks or the check raise passes on; the staged
        file is then to be discarded. Raises StorageUnavailable when the store cannot be written."""
        ...

    async def publish(self, filename: str) -> None:
        """Makes the bytes durable and visible under `filename` in one step (fsync, rename)."""
        ...

    async def discard(self) -> None:
        """Removes what was written; safe to call after `publish` (it does nothing then)."""
        ...


class FileStore(Protocol):
    def stage(self) -> AbstractAsyncContextManager[StagedFile]:
        """A staged file that is discarded on leaving the block unless it was published."""
        ...

    def open(self, filename: str) -> AbstractAsyncContextManager[OpenFile]:
        """Opens a published file for reading; raises NotFound when it is not there. The bytes
        stay readable until the block ends, even if the file is deleted meanwhile."""
        ...

    async def delete(self, filename: str) -> None:
        """Removes a published file; a missing one is not an error."""
        ...

    async def check(self) -> None:
        """Raises StorageUnavailable when the store cannot be written."""
        ...

    async def published_before(self, cutoff: datetime, limit: int) -> Sequence[str]:
        """Names of published files last written before `cutoff` (at most `limit`), for the sweeper."""
        ...


class OpenFile(Protocol):
    @property
    def size(self) -> int: ...

    def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        """The bytes in `[start, end)`, in chunks of at most `chunk_size`."""
        ...
