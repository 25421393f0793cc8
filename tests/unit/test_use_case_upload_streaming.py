"""Files of several megabytes through the upload's stages (hashing and writing beside the
receiving): every byte in order whatever the cuts, memory held to a few batches, and a failing
write, a refused batch, a client gone or a cancelled upload keeping nothing and never hanging."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest

from adapters.files.write_pipeline import BATCH, DEPTH, write_stages
from adapters.memory import InMemoryFileStore
from application.ports.files import StagedFile
from domain.content_checks import NoBodyCheck
from domain.conversation import Message
from domain.errors import StorageUnavailable, UnsupportedMediaType, UploadAborted
from entrypoints.http.multipart_form import FilePart
from tests.samples import cut, sample
from tests.unit.factories import (
    FormUpload,
    MiB,
    World,
    alices_message,
    assert_nothing_kept,
    message_field,
    upload_of,
)

TIME_LIMIT = 20  # seconds: a hang fails the test instead of stalling the suite
LARGEST = 400_000  # bytes in the largest chunk (granian hands over ~400 KiB at a time)

LARGEST_PIECE = 700_000  # bytes: the largest piece `cut` makes of a body


class SlowFullStore(InMemoryFileStore):
    """The memory store, whose staged files take `delay` seconds per write and fail once a file
    would pass `capacity` bytes (a full disk)."""

    def __init__(self, *, delay: float = 0.0, capacity: int | None = None) -> None:
        super().__init__()
        self.delay = delay
        self.capacity = capacity
        self.writing: list[StagedFile] = []

    @asynccontextmanager
    async def stage(self) -> AsyncIterator[StagedFile]:
        async with super().stage() as staged:
            write = staged.write

            async def slow_write(*chunks: bytes) -> None:
                await anyio.sleep(self.delay)
                if self.capacity is not None and staged.size + sum(map(len, chunks)) > self.capacity:
                    raise StorageUnavailable("The disk is full.")
                await write(*chunks)

            staged.write = slow_write  # type: ignore[method-assign]
            self.writing.append(staged)
            yield staged


def one_file(message: Message, name: str, chunks: AsyncIterator[bytes]) -> FormUpload:
    return upload_of("alice", message_field(message.id), FilePart(original_name=name, chunks=chunks))


@pytest.mark.parametrize("seed", range(6))
async def test_a_large_file_cut_anywhere_is_stored_and_hashed_whole(seed: int) -> None:
    world = World()
    message = await alices_message(world)
    data = sample("mp4", 7 * MiB + 12_345)

    with anyio.fail_after(TIME_LIMIT):
        [attachment] = await world.upload(
            upload_of(
                "alice",
                message_field(message.id),
                FilePart(original_name="a.mp4", chunks=cut(data, seed, LARGEST_PIECE)),
            )
        )

    assert world.files.files[attachment.filename][0] == data
    assert (attachment.size, attachment.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    assert world.files.staged_open == 0


async def test_a_slow_disk_holds_the_receiving_back_to_a_few_batches() -> None:
    store = SlowFullStore(delay=0.02)
    world = World(files=store)
    message = await alices_message(world)
    data = sample("mp4", 12 * MiB)
    ahead: list[int] = []  # bytes taken from the client and not yet written, at each chunk

    async def watched() -> AsyncIterator[bytes]:
        taken = 0
        async for chunk in cut(data, seed=1, largest=LARGEST):
            ahead.append(taken - store.writing[0].size)
            taken += len(chunk)
            yield chunk

    with anyio.fail_after(TIME_LIMIT):
        [attachment] = await world.upload(one_file(message, "a.mp4", watched()))

    assert world.files.files[attachment.filename][0] == data
    # Not written yet, at most: the batch being written, the one waiting to be, the one being
    # gathered (each a little over BATCH: it ends with the chunk that passed it).
    assert max(ahead) <= 3 * (BATCH + LARGEST)
    assert max(ahead) >= 2 * BATCH  # the disk was the slow side: the bound was what held it


async def test_a_slow_hash_stage_holds_the_sender_back_too() -> None:
    class SlowCheck:
        """A body check that takes 5 ms a chunk: the hash stage is the slow side."""

        fed = 0

        def feed(self, chunk: bytes) -> None:
            time.sleep(0.005)
            self.fed += len(chunk)

        def finish(self) -> None:
            return None

    check = SlowCheck()
    digest = hashlib.sha256()
    ahead: list[int] = []  # bytes sent and not yet hashed, before each batch is sent
    data = sample("mp4", 12 * BATCH)
    with anyio.fail_after(TIME_LIMIT):
        async with InMemoryFileStore().stage() as staged:
            async with write_stages(staged.write, digest, check) as send:
                for at in range(0, len(data), BATCH):
                    ahead.append(at - check.fed)
                    await send([data[i : i + BATCH // 4] for i in range(at, at + BATCH, BATCH // 4)])
            assert [chunk async for chunk in staged.read(0, staged.size, len(data))] == [data]
    assert digest.digest() == hashlib.sha256(data).digest()
    assert max(ahead) <= DEPTH * BATCH
    assert max(ahead) >= BATCH


async def test_a_write_failing_midway_fails_the_upload_and_keeps_nothing() -> None:
    world = World(files=SlowFullStore(capacity=5 * MiB // 2))
    message = await alices_message(world)

    with anyio.fail_after(TIME_LIMIT), pytest.raises(StorageUnavailable):
        await world.upload(
            upload_of(
                "alice",
                message_field(message.id),
                FilePart(
                    original_name="a.mp4", chunks=cut(sample("mp4", 8 * MiB), seed=2, largest=LARGEST_PIECE)
                ),
            )
        )

    assert_nothing_kept(world, message)


async def test_a_body_refused_megabytes_in_keeps_nothing() -> None:
    world = World()
    message = await alices_message(world)
    text = bytearray(b"plain text, line after line\n" * (6 * MiB // 28))
    text[3 * MiB + 5] = 0  # a NUL byte in the fourth megabyte: not text after all

    with anyio.fail_after(TIME_LIMIT), pytest.raises(UnsupportedMediaType):
        await world.upload(
            upload_of(
                "alice",
                message_field(message.id),
                FilePart(original_name="notes.txt", chunks=cut(bytes(text), seed=3, largest=LARGEST_PIECE)),
            )
        )

    assert_nothing_kept(world, message)


async def test_a_client_gone_midway_keeps_nothing() -> None:
    world = World()
    message = await alices_message(world)

    async def going_away() -> AsyncIterator[bytes]:
        async for chunk in cut(sample("mp4", 3 * MiB), seed=4, largest=LARGEST_PIECE):
            yield chunk
        raise UploadAborted("The client went away before the upload finished.")

    with anyio.fail_after(TIME_LIMIT), pytest.raises(UploadAborted):
        await world.upload(
            upload_of(
                "alice", message_field(message.id), FilePart(original_name="a.mp4", chunks=going_away())
            )
        )

    assert_nothing_kept(world, message)


async def test_a_cancelled_upload_stops_at_once_and_keeps_nothing() -> None:
    world = World(files=SlowFullStore(delay=0.01))
    message = await alices_message(world)
    stalled = anyio.Event()

    async def stalling() -> AsyncIterator[bytes]:
        async for chunk in cut(sample("mp4", 4 * MiB), seed=5, largest=LARGEST_PIECE):
            yield chunk
        stalled.set()
        await anyio.sleep_forever()
        yield b""  # never reached

    with anyio.fail_after(TIME_LIMIT):
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(
                world.upload,
                upload_of(
                    "alice", message_field(message.id), FilePart(original_name="a.mp4", chunks=stalling())
                ),
            )
            await stalled.wait()
            tasks.cancel_scope.cancel()

    assert_nothing_kept(world, message)
    assert world.files.staged_open == 0


def test_a_failing_write_frees_a_sender_waiting_for_the_hash_stage_that_never_began() -> None:
    """Under load the hash stage may still wait for a worker thread when the write stage fails:
    the sender, waiting for room in the hash stage (in a thread), must be let go all the same.
    Run in a thread of its own, so that a hang fails the test instead of stalling the suite."""
    outcome: list[BaseException | None] = []

    async def scenario() -> None:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = 1
        held = threading.Event()
        store = SlowFullStore(delay=0.05, capacity=5 * BATCH // 2)
        try:
            async with anyio.create_task_group() as hog:
                hog.start_soon(anyio.to_thread.run_sync, held.wait)  # takes the only token
                await anyio.sleep(0.1)
                try:
                    async with (
                        store.stage() as staged,
                        write_stages(staged.write, hashlib.sha256(), NoBodyCheck()) as send,
                    ):
                        for _ in range(6):
                            await send([bytes(BATCH)])
                except StorageUnavailable as exc:
                    outcome.append(exc)
                else:
                    outcome.append(None)
                held.set()
        finally:
            held.set()

    runner = threading.Thread(target=anyio.run, args=(scenario,), daemon=True)
    runner.start()
    runner.join(TIME_LIMIT)
    assert not runner.is_alive(), "the sender was never let go"
    assert len(outcome) == 1
    assert isinstance(outcome[0], StorageUnavailable)
