"""The body's deadlines over a fake ASGI channel: a stall and a trickle are cut off, a body that pays
for its waits with bytes is not, and the service's own time between reads is not the client's.

The limits are small (tenths of a second) and every test is bounded by `fail_after`; what is asserted
is the outcome, never how long it took."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import pytest

from domain.errors import UploadAborted
from entrypoints.http.body_deadline import BodyLimits, DeadlineReceive

Channel = Callable[[], Awaitable[dict[str, object]]]


def paced(pieces: list[bytes], pauses: list[float]) -> Channel:
    """A client that waits `pauses[i]` before it sends `pieces[i]` (the last one ends the body)."""
    sent = 0

    async def receive() -> dict[str, object]:
        nonlocal sent
        await anyio.sleep(pauses[sent])
        sent += 1
        return {"type": "http.request", "body": pieces[sent - 1], "more_body": sent < len(pieces)}

    return receive


async def read_all(receive: DeadlineReceive, between: float = 0.0) -> bytes:
    """Reads to the end of the body, as the upload does, spending `between` seconds on each chunk."""
    body = b""
    with anyio.fail_after(10):
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body", False):
                return body
            await anyio.sleep(between)


LIMITS = BodyLimits(idle_timeout=2.0, min_rate=4096, grace=0.2)


async def test_a_body_that_keeps_trickling_is_cut_off_by_the_rate() -> None:
    # 16 bytes every 20 ms: 800 bytes a second, never idle for the 2 s idle timeout, never done.
    trickle = paced([b"x" * 16] * 10_000, [0.02] * 10_000)

    with pytest.raises(UploadAborted, match="slower than 4,096 bytes a second"):
        await read_all(DeadlineReceive(trickle, LIMITS))


async def test_a_slow_body_above_the_rate_comes_in_whole() -> None:
    # 1 KiB every 20 ms, about 50 KiB a second: slow, and well above the floor.
    pieces = [bytes([n]) * 1024 for n in range(30)]

    body = await read_all(DeadlineReceive(paced(pieces, [0.02] * 30), LIMITS))

    assert body == b"".join(pieces)


async def test_bytes_received_pay_for_a_pause_and_no_more() -> None:
    fast = [b"y" * 1024] * 10  # 10 KiB at once: at 40 KiB/s they pay for 0.25 s of waiting
    limits = BodyLimits(idle_timeout=30.0, min_rate=40_960, grace=0.05)

    short = paced([*fast, b"end"], [0.0] * 10 + [0.05])
    assert await read_all(DeadlineReceive(short, limits)) == b"y" * 10_240 + b"end"
    long = paced([*fast, b"end"], [0.0] * 10 + [20.0])
    with pytest.raises(UploadAborted, match="slower than"):  # long before the 30 s idle timeout
        await read_all(DeadlineReceive(long, limits))


async def test_the_services_own_time_between_reads_is_not_counted_against_the_client() -> None:
    # 100 bytes per chunk, each there at once; the service spends 50 ms on each (a write to S3, say):
    # 2,000 bytes a second by the wall clock, below the floor, but the client never kept it waiting.
    pieces = [b"z" * 100] * 10

    body = await read_all(DeadlineReceive(paced(pieces, [0.0] * 10), LIMITS), between=0.05)

    assert body == b"z" * 1000


async def test_a_stall_is_cut_off_by_the_idle_timeout() -> None:
    stall = paced([b"a" * 10_000, b"b"], [0.0, 60.0])
    limits = BodyLimits(idle_timeout=0.2, min_rate=1024, grace=10.0)

    with pytest.raises(UploadAborted, match=r"stalled for 0\.2 seconds"):
        await read_all(DeadlineReceive(stall, limits))


async def test_without_a_minimum_rate_only_the_idle_timeout_holds() -> None:
    trickle = paced([b"x" * 16] * 20, [0.02] * 20)  # 800 bytes a second, past the grace

    body = await read_all(DeadlineReceive(trickle, BodyLimits(idle_timeout=2.0, min_rate=0, grace=0.1)))

    assert body == b"x" * 320


async def test_a_disconnect_is_passed_on_as_it_came() -> None:
    async def gone() -> dict[str, object]:
        return {"type": "http.disconnect"}

    assert await DeadlineReceive(gone, LIMITS)() == {"type": "http.disconnect"}
