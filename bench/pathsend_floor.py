"""The floor the service's own downloads are up against: a bare ASGI app on the same server
(granian, 1 worker), no framework, no database, no check, answering `GET /<name>` with the file
`<name>` of the directory in $FLOOR_ROOT by `http.response.pathsend`, as the service does.

Run as `FLOOR_ROOT=dir python -m bench.pathsend_floor PORT` (from the repository's root)."""

from __future__ import annotations

import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench.ws_floor import serve_bare

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

ROOT = Path(os.environ.get("FLOOR_ROOT", ".")).resolve()


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            event = await receive()
            if event["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif event["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path = ROOT / scope["path"].lstrip("/")
    if scope["path"] == "/health" or path.parent != ROOT or not path.is_file():
        body = b'{"status": "ok"}' if scope["path"] == "/health" else b"{}"
        status = 200 if scope["path"] == "/health" else 404
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-length", b"%d" % len(body))],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    headers = [
        (b"content-length", b"%d" % path.stat().st_size),
        (b"content-type", b"application/octet-stream"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.pathsend", "path": str(path)})


def main() -> None:
    serve_bare("bench.pathsend_floor:app", int(sys.argv[1]))


if __name__ == "__main__":
    main()
