"""The FileStore on local disk: staged in `root/.staging/`, published by link (never overwriting).

A staged file holds an exclusive flock while it is written; a file in `.staging/` whose lock can be
taken lost its writer (a crash), and `recover()` removes it. Each write is one writev, after which
the disk is asked to start on those bytes (Linux's sync_file_range), and every `FLUSH_EVERY` bytes
a flush (fdatasync) is started in a thread of its own while the next bytes arrive, so that the
fsync at publish finds little left to do. sync_file_range alone gets the bytes to the device but
not out of its write cache: on the test machine's virtual disk the final fsync still took 1.3 ms
per MiB written (55-65 ms for 50 MiB, a quarter of the upload) however early the bytes had gone
out; flushed as they come, a 50 MiB upload's takes 9-15 ms. Published files are direct children
of `root` named `<uuid>.<ext>`, opened without following links.

`local_path` is the file's real path, not `/proc/self/fd/<fd>`: granian opens a pathsend path in a
task of its own after `send` has returned, so once the fd is closed its number may already name
another open file, and that file's bytes would go out under this file's headers. Names are never
reused, so the real path names these bytes or nothing (granian's own 404 after a racing delete).
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat
import threading
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path

import anyio
import anyio.to_thread

from adapters.files import write_pipeline
from application.ports.files import OpenFile, StagedFile
from domain.attachment import is_stored_name
from domain.content_checks import BodyCheck
from domain.errors import Conflict, NotFound, StorageUnavailable

_STAGING = ".staging"
_SUFFIX = ".part"
_IOV_MAX = os.sysconf("SC_IOV_MAX")  # buffers one writev takes
_SYNC_FILE_RANGE_WRITE = 2
FLUSH_EVERY = 8 << 20  # bytes written between two flushes started during the upload


def _writeback_starter() -> Callable[[int, int, int], object] | None:
    """Linux's sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE), which starts writing a
    range to disk without waiting for it (the os module has no binding); None elsewhere."""
    function = getattr(ctypes.CDLL(None, use_errno=True), "sync_file_range", None)
    if function is None:
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return lambda fd, offset, length: function(fd, offset, length, _SYNC_FILE_RANGE_WRITE)


_start_writeback = _writeback_starter()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class _LocalStaged:
    def __init__(self, root: Path, path: Path, fd: int) -> None:
        self._root = root
        self._path = path
        self._fd = fd  # -1 once closed; opened for reading too, so a processor can read it back
        self._linked = False  # the temporary name is gone
        self._size = 0
        self._flushed = 0  # bytes the last flush was started after
        self._flushing: threading.Thread | None = None  # joined before the fd is closed

    @property
    def size(self) -> int:
        return self._size

    @property
    def local_path(self) -> str | None:
        return None if self._linked or self._fd < 0 else str(self._path)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        offset, end = start, min(end, self._size)
        while offset < end:
            try:
                chunk = await anyio.to_thread.run_sync(self._pread, min(chunk_size, end - offset), offset)
            except OSError as exc:
                raise StorageUnavailable("Could not read the file back.") from exc
            if not chunk:
                raise StorageUnavailable("The staged file is shorter than what was written.")
            offset += len(chunk)
            yield chunk

    def _pread(self, length: int, offset: int) -> bytes:
        if self._fd < 0:
            raise OSError(errno.EBADF, "the staged file is closed")
        return os.pread(self._fd, length, offset)

    async def fill(self, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
        return await write_pipeline.fill(self.write, chunks, check)

    async def write(self, *chunks: bytes) -> None:
        try:
            await anyio.to_thread.run_sync(self._write, chunks)
        except OSError as exc:
            raise StorageUnavailable("Could not write the file.") from exc

    def _write(self, chunks: tuple[bytes, ...]) -> None:
        if self._fd < 0:
            raise OSError(errno.EBADF, "the staged file is closed")
        start = self._size
        views = [memoryview(chunk) for chunk in chunks if chunk]
        while views:
            written = os.writev(self._fd, views[:_IOV_MAX])
            self._size += written
            while views and written >= len(views[0]):  # drop what went whole; cut what went in part
                written -= len(views.pop(0))
            if written:
                views[0] = views[0][written:]
        if _start_writeback is not None:
            # The disk starts on these bytes now, while the next ones arrive, so that the fsync at
            # publish finds little left to write. Best effort: that fsync is what makes them durable.
            _start_writeback(self._fd, start, self._size - start)
        if self._size - self._flushed >= FLUSH_EVERY and not (self._flushing and self._flushing.is_alive()):
            self._flushed = self._size
            self._flushing = threading.Thread(target=self._flush, args=(self._fd,), daemon=True)
            self._flushing.start()

    @staticmethod
    def _flush(fd: int) -> None:
        # Best effort: the fsync at publish is what makes the bytes durable, and reports failures.
        with suppress(OSError):
            os.fdatasync(fd)

    def _settle(self) -> None:
        """Waits for the flush under way, if any (the fd must outlive it)."""
        if self._flushing is not None:
            self._flushing.join()
            self._flushing = None

    async def publish(self, filename: str) -> None:
        if not is_stored_name(filename):
            raise ValueError(f"{filename!r} is not a stored name")
        try:
            await anyio.to_thread.run_sync(self._publish, self._root / filename)
        except FileExistsError:
            raise Conflict(f"A file named {filename} is already stored.") from None
        except OSError as exc:
            raise StorageUnavailable("Could not store the file.") from exc

    def _publish(self, target: Path) -> None:
        if self._fd < 0 or self._linked:
            raise OSError(errno.EBADF, "the staged file was already published or discarded")
        self._settle()
        os.fsync(self._fd)
        os.link(self._path, target)  # unlike rename, refuses to replace an existing file
        try:
            _fsync_dir(self._root)
        except OSError:
            target.unlink(missing_ok=True)  # all or nothing: not durable, so not visible
            raise
        # Published. The temporary name is only a second link to the same bytes: if it cannot go
        # now, recover() removes it once the lock is released.
        with suppress(OSError):
            self._path.unlink()
        self._linked = True
        self._close()

    async def discard(self) -> None:
        await anyio.to_thread.run_sync(self._discard)

    def _discard(self) -> None:
        if not self._linked:
            self._path.unlink(missing_ok=True)
            self._linked = True
        self._close()

    def _close(self) -> None:
        self._settle()
        fd, self._fd = self._fd, -1
        if fd >= 0:
            os.close(fd)  # also releases the flock


class _LocalOpenFile:
    def __init__(self, fd: int, info: os.stat_result, path: Path) -> None:
        self._fd = fd
        self._lock = threading.Lock()  # no pread runs on a closed, perhaps reused, descriptor
        self.size = info.st_size
        self.local_path: str | None = str(path)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        offset = start
        while offset < end:
            want = min(chunk_size, end - offset)
            try:
                chunk = await anyio.to_thread.run_sync(self._pread, want, offset)
            except OSError as exc:
                raise StorageUnavailable("Could not read the file.") from exc
            if not chunk:
                raise StorageUnavailable("The file is shorter than it was when opened.")
            offset += len(chunk)
            yield chunk

    def _pread(self, length: int, offset: int) -> bytes:
        with self._lock:
            if self._fd < 0:
                raise OSError(errno.EBADF, "the file was closed")
            return os.pread(self._fd, length, offset)

    def close(self, *, wait: bool = True) -> bool:
        """Closes the descriptor; False (nothing done) when `wait` is off and a read holds it."""
        if not self._lock.acquire(blocking=wait):
            return False
        try:
            fd, self._fd = self._fd, -1
        finally:
            self._lock.release()
        if fd >= 0:
            os.close(fd)  # a regular file's: returns at once
        return True


class LocalFileStore:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        self._staging = self._root / _STAGING
        try:
            self._root.mkdir(parents=True, exist_ok=True)
            self._staging.mkdir(mode=0o700, exist_ok=True)
            self._staging.chmod(0o700)
        except OSError as exc:
            raise StorageUnavailable(f"The file store at {self._root} cannot be created.") from exc

    @property
    def root(self) -> Path:
        return self._root

    def local_path(self, file: object) -> str | None:
        """A path the server (pathsend), nginx or ffmpeg may open for the bytes of one of this
        store's staged or open files; None for any other. A delivery fact the composition root
        hands to the entrypoint and the video processor, not part of the use cases' ports."""
        if isinstance(file, _LocalStaged | _LocalOpenFile):
            return file.local_path
        return None

    @asynccontextmanager
    async def stage(self) -> AsyncIterator[StagedFile]:
        try:
            with anyio.CancelScope(shield=True):  # a file created while cancelled would leak
                staged = await anyio.to_thread.run_sync(self._create_staged)
        except OSError as exc:
            raise StorageUnavailable("Could not create a file.") from exc
        try:
            yield staged
        finally:
            with anyio.CancelScope(shield=True):
                await staged.discard()

    def _create_staged(self) -> _LocalStaged:
        while True:
            path = self._staging / f"{uuid.uuid4().hex}{_SUFFIX}"
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(path, flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Between create and lock, another process's recover() may have taken the lock and
                # removed the file: then this inode has no name any more, and we start again.
                if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                    return _LocalStaged(self._root, path, fd)
            except (BlockingIOError, FileNotFoundError):
                pass
            except BaseException:
                os.close(fd)
                path.unlink(missing_ok=True)
                raise
            os.close(fd)

    async def recover(self) -> int:
        """Removes the staged files whose writer died (their lock is free); returns how many.
        Safe while other processes write: a file a live writer holds is left alone."""
        try:
            return await anyio.to_thread.run_sync(self._recover)
        except OSError as exc:
            raise StorageUnavailable(f"The file store at {self._root} cannot be read.") from exc

    def _recover(self) -> int:
        removed = 0
        with os.scandir(self._staging) as entries:
            names = [entry.path for entry in entries]
        for path in names:
            try:
                fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
            except OSError:
                continue  # gone meanwhile, or a link: not ours to touch
            try:
                if not stat.S_ISREG(os.fstat(fd).st_mode):
                    continue
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # a live writer holds it
            else:
                try:
                    os.unlink(path)
                    removed += 1
                except FileNotFoundError:
                    pass
            finally:
                os.close(fd)
        return removed

    @asynccontextmanager
    async def open(self, filename: str) -> AsyncIterator[OpenFile]:
        if not is_stored_name(filename):
            raise NotFound("No such file.")
        with anyio.CancelScope(shield=True):  # an fd opened while cancelled would leak
            opened = await anyio.to_thread.run_sync(self._open, self._root / filename)
        try:
            yield opened
        finally:
            # Closed here when no read is under way (every pathsend or X-Accel download): a hop
            # to a worker thread and back costs more than the close itself.
            if not opened.close(wait=False):
                with anyio.CancelScope(shield=True):
                    await anyio.to_thread.run_sync(opened.close)

    def _open(self, path: Path) -> _LocalOpenFile:
        try:
            # O_NOFOLLOW: a link is no file of ours; O_NONBLOCK: a FIFO cannot hang the open.
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise NotFound("No such file.") from None
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise NotFound("No such file.") from None
            raise StorageUnavailable("Could not open the file.") from exc
        try:
            info = os.fstat(fd)
        except OSError as exc:
            os.close(fd)
            raise StorageUnavailable("Could not open the file.") from exc
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            raise NotFound("No such file.")
        return _LocalOpenFile(fd, info, path)

    async def delete(self, filename: str) -> None:
        if not is_stored_name(filename):
            return  # no such name is ever stored
        try:
            await anyio.to_thread.run_sync(self._delete, self._root / filename)
        except OSError as exc:
            raise StorageUnavailable("Could not delete the file.") from exc

    def _delete(self, path: Path) -> None:
        path.unlink(missing_ok=True)  # not fsynced: a file that comes back after a crash is swept

    async def published_before(self, cutoff: datetime, limit: int) -> Sequence[str]:
        try:
            return await anyio.to_thread.run_sync(self._published_before, cutoff.timestamp(), limit)
        except OSError as exc:
            raise StorageUnavailable(f"The file store at {self._root} cannot be read.") from exc

    def _published_before(self, cutoff: float, limit: int) -> list[str]:
        names: list[str] = []
        with os.scandir(self._root) as entries:
            for entry in entries:
                if len(names) == limit:
                    break
                if not is_stored_name(entry.name) or not entry.is_file(follow_symlinks=False):
                    continue
                with suppress(FileNotFoundError):
                    if entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        names.append(entry.name)
        return names

    async def check(self) -> None:
        try:
            await anyio.to_thread.run_sync(self._probe)
        except OSError as exc:
            raise StorageUnavailable(f"The file store at {self._root} cannot be written.") from exc

    def _probe(self) -> None:
        path = self._staging / f"probe-{uuid.uuid4().hex}{_SUFFIX}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, b"probe")
        finally:
            os.close(fd)
            path.unlink(missing_ok=True)
