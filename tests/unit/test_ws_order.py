"""Events heard out of order go on in cursor order, each once; a gap is read from the log."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from adapters.broadcast import Delivery
from entrypoints import ws_order
from entrypoints.ws_order import CommitOrder

WAIT = 0.05


def heard(cursor: int) -> Delivery:
    return Delivery(cursor=cursor, audience=["bob"], frame=f"heard {cursor}")


def from_log(cursor: int) -> Delivery:
    return Delivery(cursor=cursor, audience=["bob"], frame=f"log {cursor}")


class Log:
    """What the event log holds, and the gaps it was asked for."""

    def __init__(self, cursors: Sequence[int] = (), *, down: bool = False) -> None:
        self.cursors = set(cursors)
        self.down = down
        self.asked: list[tuple[int, int]] = []

    async def read(self, after: int, upto: int) -> list[Delivery]:
        self.asked.append((after, upto))
        if self.down:
            raise ConnectionError("the database does not answer")
        return [from_log(c) for c in sorted(self.cursors) if after < c <= upto]


class Sockets:
    def __init__(self) -> None:
        self.frames: list[str] = []
        self.reconnects = 0

    def deliver(self, delivery: Delivery) -> None:
        self.frames.append(delivery.frame)

    def reconnect_all(self) -> None:
        self.reconnects += 1


def order(log: Log, sockets: Sockets, start: int = 0) -> CommitOrder:
    ordered = CommitOrder(sockets.deliver, log.read, sockets.reconnect_all, gap_wait=WAIT)
    ordered.start_after(start)
    return ordered


async def test_an_event_heard_early_waits_for_the_earlier_one_and_both_go_on_in_order() -> None:
    log, sockets = Log(), Sockets()
    ordered = order(log, sockets)
    ordered.hear(heard(2))
    assert sockets.frames == []
    assert ordered.waiting == 1
    ordered.hear(heard(1))
    ordered.hear(heard(3))
    assert sockets.frames == ["heard 1", "heard 2", "heard 3"]
    await asyncio.sleep(WAIT * 3)
    assert log.asked == []  # nothing was missing long enough to read the log
    await ordered.stop()


async def test_an_event_heard_twice_or_from_before_the_start_goes_on_once() -> None:
    sockets = Sockets()
    ordered = order(Log(), sockets, start=10)
    for cursor in (9, 10, 11, 11, 12, 12):
        ordered.hear(heard(cursor))
    assert sockets.frames == ["heard 11", "heard 12"]
    await ordered.stop()


async def test_an_event_never_heard_is_read_from_the_log_after_the_wait() -> None:
    log, sockets = Log([1, 2, 3, 4]), Sockets()
    ordered = order(log, sockets)
    ordered.hear(heard(1))
    ordered.hear(heard(4))  # 2 and 3 were published by a process that died after its commit
    await asyncio.sleep(WAIT * 4)
    assert sockets.frames == ["heard 1", "log 2", "log 3", "heard 4"]
    assert log.asked == [(1, 3)]
    ordered.hear(heard(5))
    assert sockets.frames[-1] == "heard 5"
    await ordered.stop()


async def test_what_the_log_no_longer_has_is_passed_over() -> None:
    log, sockets = Log([3]), Sockets()  # 1 and 2: events of a conversation deleted since
    ordered = order(log, sockets)
    ordered.hear(heard(4))
    await asyncio.sleep(WAIT * 4)
    assert sockets.frames == ["log 3", "heard 4"]
    assert sockets.reconnects == 0
    await ordered.stop()


async def test_an_event_heard_while_the_log_is_read_goes_on_once() -> None:
    log, sockets = Log([1, 2]), Sockets()
    ordered = order(log, sockets)
    ordered.hear(heard(3))
    await asyncio.sleep(WAIT * 4)
    ordered.hear(heard(2))  # late after all
    assert sockets.frames == ["log 1", "log 2", "heard 3"]
    await ordered.stop()


async def test_a_log_that_does_not_answer_makes_every_socket_reconnect() -> None:
    log, sockets = Log(down=True), Sockets()
    ordered = order(log, sockets)
    ordered.hear(heard(3))
    await asyncio.sleep(WAIT * 4)
    assert sockets.reconnects == 1
    assert sockets.frames == ["heard 3"]  # the order goes on; the sockets read the gap themselves
    await ordered.stop()


async def test_a_gap_too_long_to_read_makes_every_socket_reconnect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ws_order, "FILL_LIMIT", 10)
    log, sockets = Log(range(1, 50)), Sockets()
    ordered = order(log, sockets)
    ordered.hear(heard(50))
    await asyncio.sleep(WAIT * 4)
    assert log.asked == []
    assert sockets.reconnects == 1
    assert sockets.frames == ["heard 50"]
    await ordered.stop()


async def test_without_a_start_the_first_event_heard_begins_the_order() -> None:
    sockets = Sockets()
    ordered = CommitOrder(sockets.deliver, Log().read, sockets.reconnect_all, gap_wait=WAIT)
    ordered.hear(heard(7))
    ordered.hear(heard(8))
    assert sockets.frames == ["heard 7", "heard 8"]
    await ordered.stop()
