"""The floor the fan-out is up against: a bare ASGI app on the same server (granian, 1 worker, the
service's settings), no framework, no database, no auth. Each socket gets `ready`, then a task
that sends whatever lands in its own `asyncio.Queue` (the service's design: one queue and one
sender per socket); `POST /api/v1/conversations/floor/messages` puts one `message.created` frame,
padded to the service's frame size, into every queue and answers `{"id": …}`.

Run as `python -m bench.ws_floor PORT` (from the repository's root)."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

FRAME_PAD = 196  # characters of padding: a frame about as long as the service's message.created
POST_PATH = "/api/v1/conversations/floor/messages"

_queues: set[asyncio.Queue[str]] = set()
_cursor = 0


async def _http(scope: Scope, receive: Receive, send: Send) -> None:
    global _cursor
    while (await receive()).get("more_body"):
        pass
    status, body = 404, b'{"detail": "not here"}'
    if scope["path"] == "/health":
        status, body = 200, b'{"status": "ok"}'
    elif scope["method"] == "POST" and scope["path"] == POST_PATH:
        _cursor += 1
        message_id = str(uuid.uuid4())
        frame = json.dumps(
            {
                "type": "message.created",
                "conversation_id": "floor",
                "seq": _cursor,
                "cursor": _cursor,
                "message": {"id": message_id, "content": "x" * FRAME_PAD},
            }
        )
        for queue in _queues:
            queue.put_nowait(frame)
        status, body = 201, json.dumps({"id": message_id}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _websocket(receive: Receive, send: Send) -> None:
    if (await receive())["type"] != "websocket.connect":
        return
    await send({"type": "websocket.accept"})
    await send({"type": "websocket.send", "text": json.dumps({"type": "ready", "cursor": _cursor})})
    queue: asyncio.Queue[str] = asyncio.Queue()

    async def pump() -> None:
        while True:
            await send({"type": "websocket.send", "text": await queue.get()})

    _queues.add(queue)
    sender = asyncio.create_task(pump())
    try:
        while (await receive())["type"] != "websocket.disconnect":
            pass
    finally:
        _queues.discard(queue)
        sender.cancel()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "http":
        await _http(scope, receive, send)
    elif scope["type"] == "websocket":
        await _websocket(receive, send)
    elif scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


def serve_bare(app: str, port: int, workers: int = 1) -> None:
    """`app` ("module:attribute") alone on granian, as the service runs: 1 worker, no access log."""
    from granian import Granian
    from granian.constants import Interfaces

    Granian(
        app, interface=Interfaces.ASGI, address="127.0.0.1", port=port, workers=workers, log_access=False
    ).serve()


def main() -> None:
    serve_bare("bench.ws_floor:app", int(sys.argv[1]))


if __name__ == "__main__":
    main()
