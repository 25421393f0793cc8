"""The write pipeline with a blocking write (the local disk's): the write is a thread stage of its own
beside the hashing. Every byte in order and hashed whatever the cuts, the receiving held back by a
slow write, a failing write failing the fill without a hang, and a stalled body holding no thread."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import AsyncIterator

import anyio
import anyio.to_thread
import pytest

from adapters.files.write_pipeline import BATCH, DEPTH, LINGER, fill
from domain.errors import StorageUnavailable
from tests.samples import cut, sample

TIME_LIMIT = 20  # seconds: a hang fails the test instead of stalling the suite
MiB = 1 << 20

LARGEST_PIECE = 2_100_000  # bytes: the largest piece `cut` makes of a body


class Disk:
    """A blocking write into memory, `delay` seconds a batch, failing past `capacity` bytes; and
    the async write the pipeline must not use when a blocking one is given."""

    def __init__(self, *, delay: float = 0.0, capacity: int | None = None) -> None:
        self.data = bytearray()
        self.delay = delay
        self.capacity = capacity
        self.threads: set[int] = set()

    def write_blocking(self, batch: list[bytes]) -> None:
        self.threads.add(threading.get_ident())
        time.sleep(self.delay)
        if self.capacity is not None and len(self.data) + sum(map(len, batch)) > self.capacity:
            raise StorageUnavailable("The disk is full.")
        for chunk in batch:
            self.data += chunk

    async def write(self, *chunks: bytes) -> None:
        raise AssertionError("the async write was used beside a blocking one")


@pytest.mark.parametrize("seed", range(4))
async def test_every_byte_is_written_in_order_and_hashed(seed: int) -> None:
    disk = Disk()
    data = sample("mp4", 9 * MiB + 4321)

    with anyio.fail_after(TIME_LIMIT):
        sha256 = await fill(disk.write, cut(data, seed, LARGEST_PIECE), write_blocking=disk.write_blocking)

    assert bytes(disk.data) == data
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert threading.get_ident() not in disk.threads  # written off the event loop


async def test_a_slow_write_holds_the_receiving_back_to_a_few_batches() -> None:
    disk = Disk(delay=0.02)
    data = sample("mp4", 12 * MiB)
    ahead: list[int] = []  # bytes taken from the client and not yet written, at each chunk

    async def watched() -> AsyncIterator[bytes]:
        taken = 0
        async for chunk in cut(data, seed=1, largest=400_000):
            ahead.append(taken - len(disk.data))
            taken += len(chunk)
            yield chunk

    with anyio.fail_after(TIME_LIMIT):
        await fill(disk.write, watched(), write_blocking=disk.write_blocking)

    assert bytes(disk.data) == data
    # The batches the write stage holds, the one being gathered (each ends with the chunk that
    # passed BATCH), and the one that waited for room.
    assert max(ahead) <= (DEPTH + 2) * (BATCH + 400_000)
    assert max(ahead) >= 2 * BATCH  # the write was the slow side: the bound was what held it


async def test_a_write_failing_midway_fails_the_fill_without_a_hang() -> None:
    disk = Disk(delay=0.01, capacity=5 * MiB // 2)

    with anyio.fail_after(TIME_LIMIT), pytest.raises(StorageUnavailable):
        await fill(
            disk.write,
            cut(sample("mp4", 8 * MiB), seed=2, largest=LARGEST_PIECE),
            write_blocking=disk.write_blocking,
        )

    assert len(disk.data) <= 5 * MiB // 2


async def test_a_stalled_body_holds_no_worker_thread() -> None:
    disk = Disk()
    limiter = anyio.to_thread.current_default_thread_limiter()
    borrowed: list[float] = []
    data = sample("mp4", 3 * MiB)

    async def stalling() -> AsyncIterator[bytes]:
        yield data[: 2 * MiB]
        await anyio.sleep(LINGER * 4)  # the client goes quiet: the stages' runs let their threads go
        borrowed.append(limiter.borrowed_tokens)
        yield data[2 * MiB :]

    with anyio.fail_after(TIME_LIMIT):
        sha256 = await fill(disk.write, stalling(), write_blocking=disk.write_blocking)

    assert borrowed == [0]
    assert bytes(disk.data) == data
    assert sha256 == hashlib.sha256(data).hexdigest()
