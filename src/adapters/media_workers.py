"""The bounded pool media processing runs in: at most `total` files are decoded or probed at once,
in worker threads (Pillow releases the GIL while it decodes, resizes and encodes) or in child
processes (ffmpeg), so the event loop keeps serving other requests while they work."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

import anyio
import anyio.to_thread

T = TypeVar("T")


def default_workers() -> int:
    """One core is left to the event loop: on two cores, one file is processed at a time."""
    return max(1, (os.cpu_count() or 1) - 1)


class MediaWorkers:
    def __init__(self, total: int | None = None) -> None:
        self.total = total or default_workers()
        self._limiter: anyio.CapacityLimiter | None = None  # made on first use: it needs a loop

    @property
    def limiter(self) -> anyio.CapacityLimiter:
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self.total)
        return self._limiter

    async def run(self, work: Callable[..., T], *args: object) -> T:
        """`work(*args)` in a worker thread, once a slot is free."""
        return await anyio.to_thread.run_sync(work, *args, limiter=self.limiter)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Holds a slot while a child process works."""
        async with self.limiter:
            yield
