"""How a staged file of the disk and S3 stores fills (`StagedFile.fill`): the bytes written, and
hashed and checked, side by side in worker threads while the next bytes arrive. An optimisation of
the adapters, behind the port: the use case hands over the chunks and gets their sha256 back.

The event loop only gathers the chunks as they came (the server's own bytes objects, never joined
or copied) into batches of about `BATCH` bytes, and hands each batch to two stages:
- the hash stage feeds every chunk, in order, to sha256 and to the body check, in a worker thread;
- the write stage writes each batch through the staged file: a blocking write (the local disk's
  writev) in a worker thread of its own, an async one (S3's parts) in a task.
A thread stage's run goes from one batch to the next without a round trip through the event loop
(a hop to a thread and back costs ~0.15 ms here), and waits up to `LINGER` for the next batch
before it lets its thread go: a body arriving at full speed costs one hop a stage, not one a batch
(with the disk's writes one a batch, a 50 MiB upload went at 469 MB/s; with a run of their own,
522, in turns), and a stalled one holds no thread.
Since the stages run side by side, a batch may be written before its check ends: the staged file is
private, and a refused upload's staged file is discarded like that of any other failure. A thread
stage holds at most `DEPTH` batches, the async write stage one, and the loop waits for room before
it gathers more: memory stays at a few batches (the same ones for both stages) whatever the size.
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
DEPTH = 2  # batches a thread stage may hold, the one it is working on included
LINGER = 0.05  # seconds a stage's run waits for the next batch before it lets its thread go

Batch = list[bytes]
Write = Callable[..., Awaitable[None]]  # `write(*chunks)`: appends the chunks, in order
BlockingWrite = Callable[[Batch], None]  # the same, blocking: run in a worker thread


async def fill(
    write: Write,
    chunks: AsyncIterable[bytes],
    check: BodyCheck | None = None,
    *,
    write_blocking: BlockingWrite | None = None,
) -> str:
    """Writes the chunks through `write`, feeding each to sha256 and to `check` on the way; returns
    the hex sha256 of what was written. What the chunks, the check or a write raise passes on.
    `write_blocking`, when given, is the same write as a blocking call, made in a worker thread."""
    digest = hashlib.sha256()
    batch: Batch = []
    batched = 0
    async with write_stages(write, digest, check or NoBodyCheck(), write_blocking=write_blocking) as send:
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
    write: Write, digest: hashlib._Hash, check: BodyCheck, *, write_blocking: BlockingWrite | None = None
) -> AsyncIterator[Callable[[Batch], Awaitable[None]]]:
    """Yields `send(batch)`, which returns once both stages have room for the batch. Leaving the
    block waits until every batch sent is hashed, checked and written. What a stage raises comes
    out of `send` or the block's end; an error in the block stops the stages."""

    def hash_batch(batch: Batch) -> None:
        for chunk in batch:
            digest.update(chunk)
            check.feed(chunk)

    # A blocking write gets a thread stage of its own, beside the hashing: in one thread after the
    # hashing it was slower here (436 against 504 MB/s for 50 MiB, in turns), though alone,
    # without the server beside it, one thread did the two faster than two threads side by side.
    threaded = [_ThreadStage(hash_batch)]
    if write_blocking is not None:
        threaded.append(_ThreadStage(write_blocking))
    to_write, writing = anyio.create_memory_object_stream[Batch]()  # no buffer: handed over, or waits
    # The loop waits for the thread stages in a thread of its own limiter: waiting on the shared
    # pool could take the tokens the stages' own runs need, and under load none might be left.
    waiting_room = anyio.CapacityLimiter(1)

    async def write_stage() -> None:
        async for batch in writing:
            await write(*batch)

    def stop() -> None:
        for stage in threaded:
            stage.stop()

    try:
        async with anyio.create_task_group() as stages:

            async def send(batch: Batch) -> None:
                if write_blocking is None:
                    await to_write.send(batch)
                for stage in threaded:
                    if stage.full():
                        # Abandoned when cancelled: the run that would make room may never start (it
                        # waits for a worker thread when a stage fails); stop() lets the thread go.
                        await anyio.to_thread.run_sync(
                            stage.wait_for_room, limiter=waiting_room, abandon_on_cancel=True
                        )
                for stage in threaded:
                    if stage.add(batch):
                        stages.start_soon(anyio.to_thread.run_sync, stage.run)

            if write_blocking is None:
                stages.start_soon(write_stage)
            try:
                yield send
            except BaseException:
                stop()
                raise
            to_write.close()  # the write stage ends after the last batch
            for stage in threaded:
                stage.close()  # a run waiting for the next batch ends once the last is done
    except BaseExceptionGroup as failed:  # the task group wraps what a stage or the block raised
        raise failed.exceptions[0] from None
    finally:
        stop()  # a no-op after a whole file; else it frees a wait for room left behind
        to_write.close()
        writing.close()


class _ThreadStage:
    """The batches waiting for one stage's `work` (hashing, or a blocking write), and the runs of a
    worker thread that take them in order: a run starts when a batch comes while none is going,
    and waits up to `LINGER` seconds for the next one before it ends (so that a body arriving at
    full speed costs one hop to a thread, not one a batch, while a slow one holds no thread)."""

    def __init__(self, work: Callable[[Batch], None]) -> None:
        self._work = work
        self._changed = threading.Condition()
        self._waiting: deque[Batch] = deque()  # the first is the one being worked on
        self._running = False  # a run was started, and has not ended yet
        self._stopped = False  # a run failed, or the receiving did: nothing more is done
        self._closed = False  # no batch will come any more

    def add(self, batch: Batch) -> bool:
        """Queues the batch; True when a run must be started for it."""
        with self._changed:
            if self._stopped:
                return False
            self._waiting.append(batch)
            self._changed.notify_all()
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

    def close(self) -> None:
        with self._changed:
            self._closed = True
            self._changed.notify_all()

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            self._waiting.clear()
            self._changed.notify_all()

    def run(self) -> None:
        """Works on the waiting batches in order (in a worker thread), until none comes."""
        while True:
            with self._changed:
                if not self._waiting and not self._stopped and not self._closed:
                    self._changed.wait(LINGER)
                if not self._waiting or self._stopped:
                    self._running = False
                    self._changed.notify_all()
                    return
                batch = self._waiting[0]
            try:
                self._work(batch)
            except BaseException:
                self.stop()
                with self._changed:
                    self._running = False
                raise
            with self._changed:
                if self._waiting:
                    self._waiting.popleft()
                self._changed.notify_all()
