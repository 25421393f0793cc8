"""Reading a range of a descriptor in chunks, each pread in a worker thread: what a staged file
and an open one both do."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anyio.to_thread

from domain.errors import StorageUnavailable


async def pread_range(
    pread: Callable[[int, int], bytes], start: int, end: int, chunk_size: int, *, failed: str, short: str
) -> AsyncIterator[bytes]:
    """The bytes in `[start, end)` by `pread(length, offset)`; StorageUnavailable saying `failed`
    when a read fails, `short` when the file ends first."""
    offset = start
    while offset < end:
        try:
            chunk = await anyio.to_thread.run_sync(pread, min(chunk_size, end - offset), offset)
        except OSError as exc:
            raise StorageUnavailable(failed) from exc
        if not chunk:
            raise StorageUnavailable(short)
        offset += len(chunk)
        yield chunk
