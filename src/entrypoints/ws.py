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

import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, cast

import anyio
from litestar import WebSocket, websocket
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException, WebSocketDisconnect
from litestar.params import QueryParameter
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.metrics import OPEN_SOCKETS
from adapters.tokens import LEEWAY_SECONDS, InvalidToken
from entrypoints.http.auth import bearer_token
from entrypoints.ws_events import PING, ready, render
from entrypoints.ws_hub import CLOSE_TOO_SLOW, Mailbox, SocketHub

log = logging.getLogger(__name__)

WS_PATH = "/api/v1/ws"
HEARTBEAT = 25.0
SEND_TIMEOUT = 10.0
REPLAY_LIMIT = 1000
CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_REPLAY_TOO_LONG = 4409


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


SERVER_SEND = "chat_media.server_send"  # the scope key under which `KeepServerSend` leaves it


class KeepServerSend:
    """The ASGI app, with each WebSocket's scope carrying the server's own `send` (`SERVER_SEND`).

    Live frames go out through it, not through Litestar's two wrappers around it (a disconnect
    check the server makes anyway, and an HTTP-only flag): granian's send answers a future, which
    a mailbox can chain its next frame on without a task per frame (`Mailbox.send_from_now`)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.WEBSOCKET:
            cast("dict[str, Any]", scope)[SERVER_SEND] = send
        await self.app(scope, receive, send)


def _live_sender(socket: WebSocket) -> Callable[[str], Awaitable[None]]:  # type: ignore[type-arg]
    """Sends one live frame. No deadline of its own (a cancel scope per frame and per socket costs
    more than the rest of a fan-out): a client that stops reading holds its mailbox's one send in
    flight, the mailbox fills, and the overflow closes it (4008); one that is gone fails the
    heartbeat's deadline."""
    send: Send = cast("dict[str, Any]", socket.scope).get(SERVER_SEND) or socket.send

    def send_text(frame: str) -> Awaitable[None]:
        return send({"type": "websocket.send", "text": frame, "bytes": None})

    return send_text


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
    code, reason = 1000, ""
    # The mailbox receives events before the replay is read, so nothing falls between the two.
    with hub.mailbox(user_id) as mailbox:
        OPEN_SOCKETS.inc()
        try:
            expires_in = claims.expires_at + LEEWAY_SECONDS - time.time()
            with anyio.move_on_after(max(expires_in, 0)) as expiry:
                await _stream(socket, hub, mailbox, user_id, since)
            if expiry.cancelled_caught:
                code, reason = CLOSE_UNAUTHORIZED, "The token has expired; reconnect with a new one."
        except _Closed as closed:
            code, reason = closed.code, closed.reason
        except WebSocketDisconnect:
            code = 0
        finally:
            OPEN_SOCKETS.dec()
    if code:
        with contextlib.suppress(Exception):
            await socket.close(code, reason)


async def _stream(
    socket: WebSocket,  # type: ignore[type-arg]
    hub: SocketHub,
    mailbox: Mailbox,
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

    async def heartbeat() -> None:
        while True:
            await anyio.sleep(HEARTBEAT)
            await _send(socket, PING)

    async def asked_to_close() -> None:  # too far behind, or the service shutting down
        await mailbox.closing.wait()
        raise _Closed(mailbox.close_code, mailbox.close_reason)

    async def until_disconnect() -> None:
        while True:
            await socket.receive_data(mode="text")  # the client's frames (a pong, say) only keep it alive

    mailbox.send_from_now(_live_sender(socket), after=replayed)  # what came meanwhile, then live
    await _first_of(heartbeat, asked_to_close, until_disconnect)


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
