"""`GET /api/v1/ws`: every event of every conversation the user belongs to, as JSON text frames.

The socket is accepted first and authenticated second, so that a bad token is answered with the
contract's close code 4401 (a refusal before accept reaches browsers as a bare HTTP 403). Then:

- `ready` with the newest cursor, then, with `?since=<cursor>`, every logged event after it (at
  most `REPLAY_LIMIT`; past that the client is told to reload history: 4409), then live events.
  The subscription starts before the replay, so nothing falls between the two; a live event the
  replay already sent is skipped by its cursor.
- A socket whose queue overflows (`SOCKET_BACKLOG`), or that does not take the `ready` frame, a
  replayed event or a ping within `SEND_TIMEOUT`, is closed with 4008 and a sentence, never
  waited for.
- `ping` every `HEARTBEAT` seconds: a peer that is gone fails the send and is dropped.
- The token's expiry closes the socket (4401); shutting the service down closes it with 1001.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Annotated

import anyio
from litestar import WebSocket, websocket
from litestar.channels import ChannelsPlugin
from litestar.di import NamedDependency
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect
from litestar.params import QueryParameter

from adapters.broadcast import BoundedSubscriber, release, user_channel
from adapters.tokens import LEEWAY_SECONDS, InvalidToken, JwtVerifier
from application.queries import ChatQueries
from entrypoints.http.auth import bearer_token
from entrypoints.ws_events import PING, cursor_of, ready, render

log = logging.getLogger(__name__)

WS_PATH = "/api/v1/ws"
HEARTBEAT = 25.0
SEND_TIMEOUT = 10.0
REPLAY_LIMIT = 1000
SHUTDOWN_GRACE = 1.0  # seconds the sockets get to be closed before the server stops
CLOSE_SOCKETS_SIGNAL = signal.SIGUSR1

CLOSE_GOING_AWAY = 1001
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4008
CLOSE_REPLAY_TOO_LONG = 4409


@dataclass
class SocketHub:
    """What the socket endpoint needs, built once by `create_app`, and the sockets open now."""

    plugin: ChannelsPlugin
    verifier: JwtVerifier
    queries: ChatQueries
    open_sockets: set[WebSocket] = field(default_factory=set)  # type: ignore[type-arg]
    _closing: asyncio.Future[None] | None = None

    async def close_all(self) -> None:
        for socket in list(self.open_sockets):
            with contextlib.suppress(Exception):
                await socket.close(CLOSE_GOING_AWAY, "The service is shutting down; reconnect shortly.")

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


class _Closed(Exception):
    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def _send(socket: WebSocket, frame: bytes) -> None:  # type: ignore[type-arg]
    with anyio.move_on_after(SEND_TIMEOUT) as waited:
        await socket.send_text(frame.decode())
    if waited.cancelled_caught:
        raise _Closed(CLOSE_TOO_SLOW, "The client did not take events in time; reconnect with ?since=.")


async def _send_live(socket: WebSocket, frame: bytes) -> None:  # type: ignore[type-arg]
    # No deadline of its own: a cancel scope per frame and per socket costs more than the rest of
    # a fan-out. A client that stops reading blocks this send, its queue fills, and the overflow
    # closes it (4008); one that is gone fails the heartbeat's deadline.
    await socket.send_text(frame.decode())


@websocket(WS_PATH, summary="Events of every conversation the caller belongs to (token as ?token=)")
async def events_socket(
    socket: WebSocket,  # type: ignore[type-arg]
    hub: NamedDependency[SocketHub],
    since: Annotated[int | None, QueryParameter(ge=0)] = None,
) -> None:
    await socket.accept()
    try:
        claims = hub.verifier.verify(bearer_token(socket))
    except (InvalidToken, NotAuthorizedException) as exc:
        await socket.close(
            CLOSE_UNAUTHORIZED, str(exc.detail if isinstance(exc, NotAuthorizedException) else exc)
        )
        return
    user_id = claims.subject
    subscriber = await hub.plugin.subscribe(user_channel(user_id))
    assert isinstance(subscriber, BoundedSubscriber)
    hub.open_sockets.add(socket)
    code, reason = 1000, ""
    try:
        expires_in = claims.expires_at + LEEWAY_SECONDS - time.time()
        with anyio.move_on_after(max(expires_in, 0)) as expiry:
            await _stream(socket, hub, subscriber, user_id, since)
        if expiry.cancelled_caught:
            code, reason = CLOSE_UNAUTHORIZED, "The token has expired; reconnect with a new one."
    except _Closed as closed:
        code, reason = closed.code, closed.reason
    except WebSocketDisconnect:
        code = 0
    finally:
        hub.open_sockets.discard(socket)
        with anyio.CancelScope(shield=True):
            await release(hub.plugin, subscriber, user_id)
    if code:
        with contextlib.suppress(Exception):
            await socket.close(code, reason)


async def _stream(
    socket: WebSocket,  # type: ignore[type-arg]
    hub: SocketHub,
    subscriber: BoundedSubscriber,
    user_id: str,
    since: int | None,
) -> None:
    replayed = -1  # live events up to this cursor went out in the replay already
    await _send(socket, ready(await hub.queries.last_cursor() if since is None else since))
    if since is not None:
        replayed = since
        missed = await hub.queries.events_since(user_id, since, REPLAY_LIMIT + 1)
        if len(missed) > REPLAY_LIMIT:
            raise _Closed(
                CLOSE_REPLAY_TOO_LONG,
                f"More than {REPLAY_LIMIT} events were missed: reload the conversations' history.",
            )
        for logged in missed:
            await _send(socket, render(logged))
            replayed = logged.cursor

    async def live() -> None:
        async for frame in subscriber.iter_events():
            if cursor_of(frame) > replayed:
                await _send_live(socket, frame)

    async def heartbeat() -> None:
        while True:
            await anyio.sleep(HEARTBEAT)
            await _send(socket, PING)

    async def overflow() -> None:
        await subscriber.overflowed.wait()
        raise _Closed(CLOSE_TOO_SLOW, "The client fell too far behind; reconnect with ?since=<last cursor>.")

    async def until_disconnect() -> None:
        while True:
            await socket.receive_data(mode="text")  # the client's frames (a pong, say) only keep it alive

    await _first_of(live, heartbeat, overflow, until_disconnect)


async def _first_of(*tasks: Callable[[], Awaitable[None]]) -> None:
    """Runs the tasks until the first ends (or raises); the others are cancelled."""
    try:
        async with anyio.create_task_group() as group:

            async def run(task: Callable[[], Awaitable[None]]) -> None:
                await task()
                group.cancel_scope.cancel()

            for task in tasks:
                group.start_soon(run, task)
    except BaseExceptionGroup as failed:
        first = failed.exceptions[0]
        raise first from None
