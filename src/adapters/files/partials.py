"""The PartialStore on local disk: one file per resumable upload, `<root>/<upload id hex>.part`
(the file store puts root at `UPLOAD_DIR/.resumable`).

Its length is the upload's offset. An append takes an exclusive flock (a second append to the same
upload is refused, not interleaved), checks the length, writes at the end and fsyncs before it
answers, so an offset told to a client survives a crash. An append refused for passing the
announced length is cut back to where it started.
"""

from __future__ import annotations

import fcntl
import os
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import suppress
from datetime import datetime
from pathlib import Path
from typing import TypeVar

import anyio
import anyio.to_thread

from domain.errors import Conflict, FileTooLarge, StorageUnavailable

_SUFFIX = ".part"
_BATCH = 1 << 20  # bytes gathered before one hop to a worker thread
_READ_CHUNK = 1 << 20
T = TypeVar("T")


class LocalPartialStore:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        try:
            self._root.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageUnavailable(f"The upload store at {self._root} cannot be created.") from exc

    def _path(self, upload_id: uuid.UUID) -> Path:
        return self._root / f"{upload_id.hex}{_SUFFIX}"

    async def append(
        self, upload_id: uuid.UUID, offset: int, chunks: AsyncIterator[bytes], limit: int
    ) -> int:
        with anyio.CancelScope(shield=True):  # an fd opened while cancelled would leak
            fd = await _blocking(self._open_locked, self._path(upload_id), offset)
        written = offset
        pending = bytearray()
        try:
            try:
                async for chunk in chunks:
                    if written + len(pending) + len(chunk) > limit:
                        await _blocking(os.ftruncate, fd, offset)
                        raise FileTooLarge(f"The upload would pass its announced length of {limit:,} bytes.")
                    pending += chunk
                    if len(pending) >= _BATCH:
                        written += await _blocking(_write_all, fd, bytes(pending))
                        pending.clear()
            except FileTooLarge:
                raise
            except BaseException:
                with anyio.CancelScope(shield=True):  # what came before the break is kept
                    await _blocking(_write_sync, fd, bytes(pending))
                raise
            await _blocking(_write_sync, fd, bytes(pending))
            return written + len(pending)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(os.close, fd)  # also releases the flock

    def _open_locked(self, path: Path, offset: int) -> int:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            length = os.fstat(fd).st_size
        except BlockingIOError:
            os.close(fd)
            raise Conflict("Another request is appending to this upload.") from None
        except BaseException:
            os.close(fd)
            raise
        if length != offset:
            os.close(fd)
            raise Conflict(f"The upload is at offset {length}, not {offset}.")
        return fd

    async def length(self, upload_id: uuid.UUID) -> int:
        try:
            return (await _blocking(os.stat, self._path(upload_id))).st_size
        except FileNotFoundError:
            return 0

    async def read(self, upload_id: uuid.UUID) -> AsyncIterator[bytes]:
        with anyio.CancelScope(shield=True):
            fd = await _blocking(os.open, self._path(upload_id), os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        try:
            while chunk := await _blocking(os.read, fd, _READ_CHUNK):
                yield chunk
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(os.close, fd)

    async def delete(self, upload_id: uuid.UUID) -> None:
        with suppress(FileNotFoundError):
            await _blocking(os.unlink, self._path(upload_id))

    async def written_before(self, cutoff: datetime, limit: int) -> Sequence[uuid.UUID]:
        return await _blocking(self._written_before, cutoff.timestamp(), limit)

    def _written_before(self, cutoff: float, limit: int) -> list[uuid.UUID]:
        found: list[uuid.UUID] = []
        with os.scandir(self._root) as entries:
            for entry in entries:
                if len(found) == limit:
                    break
                stem, suffix = entry.name[: -len(_SUFFIX)], entry.name[-len(_SUFFIX) :]
                if suffix != _SUFFIX or not entry.is_file(follow_symlinks=False):
                    continue
                with suppress(FileNotFoundError, ValueError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        found.append(uuid.UUID(hex=stem))
        return found


async def _blocking(func: Callable[..., T], *args: object) -> T:
    """`func(*args)` in a worker thread; a disk failure becomes the port's error (a missing file
    passes as it is: the callers decide what it means)."""
    try:
        return await anyio.to_thread.run_sync(func, *args)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise StorageUnavailable("Could not write or read the upload's bytes.") from exc


def _write_all(fd: int, data: bytes) -> int:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]
    return len(data)


def _write_sync(fd: int, data: bytes) -> int:
    _write_all(fd, data)
    os.fsync(fd)
    return len(data)
