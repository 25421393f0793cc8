"""The WebSockets this process holds, by user, and the router that hands each published event to
the sockets of its audience.

Each socket has a `Mailbox`: a queue of at most `SOCKET_BACKLOG` frames that go onto the wire one
send at a time, each started as the one before completes. The router only appends to mailboxes
(starting a send where none is in flight), never waits on a socket, so one slow or dead client
never holds up the others; a mailbox that would pass its bound asks its socket to close
with 4008 (reconnect with `?since=`), and is never silently thinned.

The hub never closes a socket itself: it asks the socket's handler to (`Mailbox.close`). granian
does not send a close frame while another task of the connection awaits `receive()` (the handler
always has one waiting for the client's frames): the close waits for the client's next frame, and
at shutdown for ever. The handler stops its own tasks first, then closes at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import anyio

from adapters.broadcast import Delivery
from adapters.metrics import EVENTS_DELIVERED, MAILBOX_OVERFLOWS
from adapters.tokens import JwtVerifier
from application.queries import ChatQueries
from entrypoints.ws_events import render
from entrypoints.ws_order import CommitOrder

log = logging.getLogger(__name__)

SOCKET_BACKLOG = 256  # frames queued for one socket before it counts as too far behind
CLOSE_GOING_AWAY = 1001
CLOSE_TOO_SLOW = 4008
SHUTDOWN_GRACE = 1.0  # seconds the sockets get to be closed before the server stops
CLOSE_SOCKETS_SIGNAL = signal.SIGUSR1


Send = Callable[[str], Awaitable[None]]


class Mailbox:
    """One socket's frames, as (cursor, JSON text), oldest first, and whether the socket is asked
    to close (`closing`, with the code and the sentence to close with).

    Frames wait here until the socket's handler takes them (`next`) or, once it has called
    `send_from_now`, go out straight from `put`: one send in flight at a time, the next started
    by the previous one's completion. No task of the socket's wakes per frame: at 10,000 sockets
    a wake-up and an await per socket per event were most of a fan-out's cost."""

    __slots__ = (
        "_after",
        "_backlog",
        "_frames",
        "_in_flight",
        "_ready",
        "_send",
        "close_code",
        "close_reason",
        "closing",
    )

    def __init__(self, backlog: int = SOCKET_BACKLOG) -> None:
        self._backlog = backlog
        self._frames: deque[tuple[int, str]] = deque()
        self._ready = asyncio.Event()
        self._send: Send | None = None
        self._in_flight: asyncio.Future[None] | None = None
        self._after = -1
        self.closing = asyncio.Event()
        self.close_code = 0
        self.close_reason = ""

    def put(self, cursor: int, frame: str) -> None:
        if len(self._frames) >= self._backlog:
            if not self.closing.is_set():
                MAILBOX_OVERFLOWS.inc()
            self.close(CLOSE_TOO_SLOW, "The client fell too far behind; reconnect with ?since=<last cursor>.")
            return
        if self._in_flight is None and self._send is not None and not self._frames:
            if cursor > self._after:  # the common case, an idle socket: straight out, no queueing
                self._start(self._send, frame)
            return
        self._frames.append((cursor, frame))
        if self._send is None:
            self._ready.set()
        elif self._in_flight is None:
            self._send_next()

    def close(self, code: int, reason: str) -> None:
        """Asks the socket to close; the first reason given is the one it closes with."""
        if not self.closing.is_set():
            self.close_code, self.close_reason = code, reason
            self.closing.set()

    async def next(self) -> tuple[int, str]:
        """The oldest frame; waits for one (without a task switch when one is there)."""
        while not self._frames:
            self._ready.clear()
            await self._ready.wait()
        return self._frames.popleft()

    def send_from_now(self, send: Send, *, after: int = -1) -> None:
        """Sends every frame, those waiting first, with `send`, in order, one at a time; frames up
        to cursor `after` are dropped (the replay sent them). A send that fails asks the socket
        to close without a close frame (code 0): its peer is gone."""
        self._send, self._after = send, after
        if self._in_flight is None:
            self._send_next()

    def stop_sending(self) -> None:
        """No more sends (the socket is done); what waits stays unsent."""
        self._send = None

    def _send_next(self) -> None:
        send = self._send
        while send is not None and self._frames:
            cursor, frame = self._frames.popleft()
            if cursor > self._after:
                self._start(send, frame)
                return
        self._in_flight = None

    def _start(self, send: Send, frame: str) -> None:
        try:
            sent = send(frame)
            # The server's own send answers a future (granian's), chained on as it is; any other
            # awaitable becomes a task.
            if not asyncio.isfuture(sent):
                sent = asyncio.ensure_future(sent)
        except Exception:
            self._in_flight = None
            self.close(0, "")
            return
        self._in_flight = sent
        sent.add_done_callback(self._sent)

    def _sent(self, sent: asyncio.Future[None]) -> None:
        self._in_flight = None
        try:
            failed = sent.cancelled() or sent.exception() is not None
        except BaseException:
            failed = True
        if failed:
            self.close(0, "")
            self.stop_sending()
        else:
            self._send_next()

    def __len__(self) -> int:
        return len(self._frames)


@dataclass
class SocketHub:
    """What the socket endpoint needs, built once by `create_app`, and the sockets open now."""

    verifier: JwtVerifier
    queries: ChatQueries
    _closing: asyncio.Future[None] | None = None
    _all_closed: asyncio.Event | None = None  # set once close_all() has seen the last socket go
    _mailboxes: dict[str, set[Mailbox]] = field(default_factory=dict)

    @contextlib.contextmanager
    def mailbox(self, user_id: str) -> Iterator[Mailbox]:
        """A socket's mailbox, receiving the user's events from now until the block ends."""
        box = Mailbox()
        boxes = self._mailboxes.setdefault(user_id, set())
        boxes.add(box)
        try:
            yield box
        finally:
            box.stop_sending()
            boxes.discard(box)
            if not boxes:
                self._mailboxes.pop(user_id, None)
                if not self._mailboxes and self._all_closed is not None:
                    self._all_closed.set()

    def deliver(self, delivery: Delivery) -> None:
        mailboxes = self._mailboxes
        handed = 0
        for user_id in delivery.audience:
            for box in mailboxes.get(user_id, ()):
                box.put(delivery.cursor, delivery.frame)
                handed += 1
        if handed:
            EVENTS_DELIVERED.inc(handed)

    async def route(self, deliveries: AsyncIterator[Delivery]) -> None:
        """Hands every delivery to the mailboxes of its audience in cursor order, until cancelled."""
        order = CommitOrder(self.deliver, self._read_gap, self._reconnect_all)
        try:
            order.start_after(await self.queries.last_cursor())
        except Exception:
            log.warning("the event log does not answer: events are ordered from the first one heard")
        try:
            async for delivery in deliveries:
                order.hear(delivery)
        finally:
            await order.stop()

    async def _read_gap(self, after: int, upto: int) -> list[Delivery]:
        return [
            Delivery(cursor=logged.cursor, audience=list(audience), frame=render(logged).decode())
            for logged, audience in await self.queries.events_between(after, upto)
        ]

    def _reconnect_all(self) -> None:
        for boxes in self._mailboxes.values():
            for box in boxes:
                box.close(CLOSE_TOO_SLOW, "Events were missed here; reconnect with ?since=<last cursor>.")

    @property
    def users(self) -> int:
        """How many users have a socket here."""
        return len(self._mailboxes)

    async def close_all(self) -> None:
        """Asks every socket to close with 1001 and waits, at most `SHUTDOWN_GRACE`, until they have."""
        if not self._mailboxes:
            return
        self._all_closed = asyncio.Event()
        for boxes in self._mailboxes.values():
            for box in boxes:
                box.close(CLOSE_GOING_AWAY, "The service is shutting down; reconnect shortly.")
        with anyio.move_on_after(SHUTDOWN_GRACE):
            await self._all_closed.wait()

    def close_on_signal(self) -> None:
        """Closes every socket with 1001 when the process gets `CLOSE_SOCKETS_SIGNAL`.

        granian drops open WebSockets as soon as a worker is told to stop, and runs the lifespan
        shutdown only afterwards, too late to say goodbye; so the CLI's server sends this signal to
        its workers first and gives them `SHUTDOWN_GRACE` (see `entrypoints.server`)."""

        def on_signal() -> None:
            self._closing = asyncio.ensure_future(self.close_all())

        # Outside the main thread (a test client) there are no signals: close_all() at shutdown it is.
        with contextlib.suppress(RuntimeError, ValueError, NotImplementedError):
            asyncio.get_running_loop().add_signal_handler(CLOSE_SOCKETS_SIGNAL, on_signal)
