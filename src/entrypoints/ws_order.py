"""Hands published events on in cursor order, so that a client's last cursor always means "I have
every event up to here", and `?since=` after it misses nothing.

Cursors follow commit order without gaps (`adapters.sql.event_log`), but publishing happens after
the commit, from many requests and processes: event 10 may be heard before 9. An event heard ahead
of its turn is held; when the missing ones come, they all go on in order. When one has not come
within `GAP_WAIT` (its publisher died after the commit, Redis dropped it), the log is read for
the gap, which by then is committed, and the events found go on as if heard; what the log no
longer has (a deleted conversation's events) is passed over. A gap too long to read, or a log that
does not answer, makes every socket reconnect with `?since=`: each then reads what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from adapters.broadcast import Delivery
from adapters.metrics import EVENTS_RECOVERED

log = logging.getLogger(__name__)

GAP_WAIT = 0.5  # seconds an event waits for an earlier one before the log is read for it
FILL_LIMIT = 1000  # a longer gap is not read here: every socket reconnects and reads its own


class CommitOrder:
    """Takes deliveries as heard, hands them to `deliver` in cursor order, each once."""

    def __init__(
        self,
        deliver: Callable[[Delivery], None],
        read_gap: Callable[[int, int], Awaitable[Sequence[Delivery]]],
        reconnect_all: Callable[[], None],
        *,
        gap_wait: float = GAP_WAIT,
    ) -> None:
        self._deliver = deliver
        self._read_gap = read_gap
        self._reconnect_all = reconnect_all
        self._gap_wait = gap_wait
        self._next: int | None = None  # the cursor due next; None until the start is known
        self._held: dict[int, Delivery] = {}
        self._filling: asyncio.Task[None] | None = None

    def start_after(self, cursor: int) -> None:
        """Everything up to `cursor` committed before this process listened: sockets read it from
        the log, so it is not waited for (and, if heard late, not handed on)."""
        if self._next is None:
            self._next = cursor + 1

    @property
    def waiting(self) -> int:
        """How many events are held for an earlier one."""
        return len(self._held)

    def hear(self, delivery: Delivery) -> None:
        if self._next is None:  # the log did not answer at start-up: begin with what comes first
            self._next = delivery.cursor
        if delivery.cursor < self._next or delivery.cursor in self._held:
            return  # handed on already (heard twice, or read from the log while it came)
        self._held[delivery.cursor] = delivery
        self._flush()
        if self._held and self._filling is None:
            self._filling = asyncio.create_task(self._fill_after_wait())

    async def stop(self) -> None:
        """Ends the wait for a gap, if one is running."""
        if self._filling is not None:
            self._filling.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._filling

    def _flush(self) -> None:
        assert self._next is not None
        while (delivery := self._held.pop(self._next, None)) is not None:
            self._next += 1
            self._hand_on(delivery)

    def _hand_on(self, delivery: Delivery) -> None:
        try:
            self._deliver(delivery)
        except Exception:  # one bad delivery must not silence every socket of the process
            log.exception("could not deliver event %d", delivery.cursor)

    async def _fill_after_wait(self) -> None:
        try:
            await asyncio.sleep(self._gap_wait)
            while self._held:
                await self._fill()
                if self._held:  # a later gap, heard meanwhile: give it its own wait
                    await asyncio.sleep(self._gap_wait)
        finally:
            self._filling = None

    async def _fill(self) -> None:
        assert self._next is not None
        after, upto = self._next - 1, min(self._held)
        if upto - after > FILL_LIMIT:
            log.warning("events %d to %d were not heard: every socket reconnects", after + 1, upto - 1)
            self._reconnect_all()
        else:
            try:
                found = await self._read_gap(after, upto - 1)
            except Exception:
                log.warning("events %d to %d were not heard and the log does not answer", after + 1, upto - 1)
                self._reconnect_all()
            else:
                for delivery in found:
                    if delivery.cursor not in self._held:
                        self._held[delivery.cursor] = delivery
                        EVENTS_RECOVERED.inc()
        # What neither came nor is in the log is gone for good (its conversation was deleted).
        for cursor in range(self._next, upto):
            if (late := self._held.pop(cursor, None)) is not None:
                self._hand_on(late)
        self._next = max(self._next, upto)
        self._flush()
