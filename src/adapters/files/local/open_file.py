"""A published file opened on local disk: preads on one descriptor, closed only when no read holds it.

`local_path` is the file's real path, not `/proc/self/fd/<fd>`: granian opens a pathsend path in a
task of its own after `send` has returned, so once the fd is closed its number may already name
another open file, and that file's bytes would go out under this file's headers. Names are never
reused, so the real path names these bytes or nothing (granian's own 404 after a racing delete).
"""

from __future__ import annotations

import errno
import os
import threading
from collections.abc import AsyncIterator
from pathlib import Path

from adapters.files.local.reads import pread_range


class LocalOpenFile:
    def __init__(self, fd: int, info: os.stat_result, path: Path) -> None:
        self._fd = fd
        self._lock = threading.Lock()  # no pread runs on a closed, perhaps reused, descriptor
        self.size = info.st_size
        self.local_path: str | None = str(path)

    def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        return pread_range(
            self._pread,
            start,
            end,
            chunk_size,
            failed="Could not read the file.",
            short="The file is shorter than it was when opened.",
        )

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
