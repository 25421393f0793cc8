"""LocalFileStore: the directory, its staging area, and the calls on whole files.

A staged file holds an exclusive flock while it is written; a file in `.staging/` whose lock can be
taken lost its writer (a crash), and `recover()` removes it. Published files are direct children
of `root` named `<uuid>.<ext>`, opened without following links.
"""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from datetime import datetime
from pathlib import Path

import anyio
import anyio.to_thread

from adapters.files.local.open_file import LocalOpenFile
from adapters.files.local.staged import LocalStaged
from application.ports.files import OpenFile, StagedFile
from domain.attachment import is_stored_name
from domain.errors import NotFound, StorageUnavailable

_STAGING = ".staging"
_SUFFIX = ".part"


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
        if isinstance(file, LocalStaged | LocalOpenFile):
            return file.local_path
        return None

    async def adopt_written(self, file: object) -> str | None:
        """For one of this store's staged files that a child process wrote through `local_path`:
        takes those bytes as the file's and returns their sha256. None for any other file (the
        caller then fills a staged file the usual way). Another delivery fact, for ffmpeg."""
        if isinstance(file, LocalStaged):
            return await file.adopt_written()
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

    def _create_staged(self) -> LocalStaged:
        while True:
            path = self._staging / f"{uuid.uuid4().hex}{_SUFFIX}"
            flags = os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(path, flags, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                # Between create and lock, another process's recover() may have taken the lock and
                # removed the file: then this inode has no name any more, and we start again.
                if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                    return LocalStaged(self._root, path, fd)
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

    def _open(self, path: Path) -> LocalOpenFile:
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
        return LocalOpenFile(fd, info, path)

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
