"""How a staged file of the disk and S3 stores fills (`StagedFile.fill`): the bytes written, and
hashed and checked, side by side in worker threads while the next bytes arrive. An optimisation of
the adapters, behind the port: the use case hands over the chunks and gets their sha256 back.

The event loop only gathers the chunks as they came (the server's own bytes objects, never joined
or copied) into batches of about `BATCH` bytes, and hands each batch to two stages:
- the hash stage feeds every chunk, in order, to sha256 and to the body check. It is the slowest
  stage (sha256 runs at ~1.1 GB/s), so it runs in one worker thread for as long as batches are
  waiting, going from one to the next without a round trip through the event loop (a hop to a
  thread and back costs ~0.15 ms here; with one per batch, the hashing waited on the loop's
  wake-ups a third of the time);
- the write stage writes each batch through the staged file (one writev on local disk).
Since the stages run side by side, a batch may be written before its check ends: the staged file is
private, and a refused upload's staged file is discarded like that of any other failure. The hash
stage holds at most `DEPTH` batches, the write stage one, and the loop waits for room before it
gathers more: memory stays at a few batches (the same ones for both stages) whatever the file's size.
"""

from __future__ import annotations

import hashlib
import threading
from collections import deque
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.to_thread

from domain.content_checks import BodyCheck, NoBodyCheck

BATCH = 1 << 20  # bytes gathered before a batch is handed to the stages
DEPTH = 2  # batches the hash stage may hold, the one it is working on included

Batch = list[bytes]
Write = Callable[..., Awaitable[None]]  # `write(*chunks)`: appends the chunks, in order


async def fill(write: Write, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
    """Writes the chunks through `write`, feeding each to sha256 and to `check` on the way; returns
    the hex sha256 of what was written. What the chunks, the check or a write raise passes on."""
    digest = hashlib.sha256()
    batch: Batch = []
    batched = 0
    async with write_stages(write, digest, check or NoBodyCheck()) as send:
        async for chunk in chunks:
            batch.append(chunk)
            batched += len(chunk)
            if batched >= BATCH:
                await send(batch)
                batch, batched = [], 0
        if batch:
            await send(batch)
    return digest.hexdigest()


@asynccontextmanager
async def write_stages(
    write: Write, digest: hashlib._Hash, check: BodyCheck
) -> AsyncIterator[Callable[[Batch], Awaitable[None]]]:
    """Yields `send(batch)`, which returns once both stages have room for the batch. Leaving the
    block waits until every batch sent is hashed, checked and written. What a stage raises comes
    out of `send` or the block's end; an error in the block stops the stages."""
    hashing = _HashStage(digest, check)
    to_write, writing = anyio.create_memory_object_stream[Batch]()  # no buffer: handed over, or waits
    # The loop waits for the hash stage in a thread of its own limiter: waiting on the shared pool
    # could take the tokens the hash stage's own runs need, and under load none might be left.
    waiting_room = anyio.CapacityLimiter(1)

    async def write_stage() -> None:
        async for batch in writing:
            await write(*batch)

    try:
        async with anyio.create_task_group() as stages:

            async def send(batch: Batch) -> None:
                await to_write.send(batch)
                if hashing.full():
                    # Abandoned when cancelled: the run that would make room may never start (it
                    # waits for a worker thread when a stage fails); stop() lets the thread go.
                    await anyio.to_thread.run_sync(
                        hashing.wait_for_room, limiter=waiting_room, abandon_on_cancel=True
                    )
                if hashing.add(batch):
                    stages.start_soon(anyio.to_thread.run_sync, hashing.run)

            stages.start_soon(write_stage)
            try:
                yield send
            except BaseException:
                hashing.stop()
                raise
            to_write.close()  # the write stage ends after the last batch
    except BaseExceptionGroup as failed:  # the task group wraps what a stage or the block raised
        raise failed.exceptions[0] from None
    finally:
        hashing.stop()  # a no-op after a whole file; else it frees a wait for room left behind
        to_write.close()
        writing.close()


class _HashStage:
    """The batches waiting to be hashed and checked, and the runs of a worker thread that take
    them in order: a run starts when a batch comes while none is going, and ends when none waits."""

    def __init__(self, digest: hashlib._Hash, check: BodyCheck) -> None:
        self._digest = digest
        self._check = check
        self._changed = threading.Condition()
        self._waiting: deque[Batch] = deque()  # the first is the one being hashed
        self._running = False  # a run was started, and has not seen the queue empty yet
        self._stopped = False  # a run failed, or the receiving did: nothing more is hashed

    def add(self, batch: Batch) -> bool:
        """Queues the batch; True when a run must be started for it."""
        with self._changed:
            if self._stopped:
                return False
            self._waiting.append(batch)
            start, self._running = not self._running, True
            return start

    def full(self) -> bool:
        with self._changed:
            return len(self._waiting) >= DEPTH

    def wait_for_room(self) -> None:
        """Blocks (in a worker thread) until a batch may be added."""
        with self._changed:
            while self._running and len(self._waiting) >= DEPTH:
                self._changed.wait()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._waiting.clear()
            self._changed.notify_all()

    def run(self) -> None:
        """Hashes and checks the waiting batches in order (in a worker thread), until none is left."""
        while True:
            with self._changed:
                if not self._waiting or self._stopped:
                    self._running = False
                    self._changed.notify_all()
                    return
                batch = self._waiting[0]
            try:
                for chunk in batch:
                    self._digest.update(chunk)
                    self._check.feed(chunk)
            except BaseException:
                self.stop()
                with self._changed:
                    self._running = False
                raise
            with self._changed:
                if self._waiting:
                    self._waiting.popleft()
                self._changed.notify_all()
