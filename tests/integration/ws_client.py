"""A real WebSocket client (httpx-ws) of the service's event stream, with bounded waits."""

from __future__ import annotations

import contextlib
import json
import queue
from collections.abc import Iterator
from typing import Any

import httpx
from httpx_ws import WebSocketDisconnect, WebSocketSession, connect_ws


class Events:
    """The frames one socket received, read with a deadline; pings are skipped."""

    def __init__(self, session: WebSocketSession) -> None:
        self.session = session

    def next(self, timeout: float = 10.0) -> dict[str, Any]:
        while True:
            frame = json.loads(self.session.receive_text(timeout=timeout))
            if frame["type"] != "ping":
                return frame  # type: ignore[no-any-return]

    def nothing_within(self, seconds: float) -> bool:
        try:
            frame = self.next(timeout=seconds)
        except (TimeoutError, queue.Empty):
            return True
        raise AssertionError(f"expected silence, got {frame}")

    def close_code(self, timeout: float = 10.0) -> tuple[int, str]:
        """Reads until the server closes the socket; returns its code and reason."""
        try:
            while True:
                self.session.receive_text(timeout=timeout)
        except WebSocketDisconnect as closed:
            return closed.code, closed.reason or ""


@contextlib.contextmanager
def listen(base: str, token: str | None, **params: str) -> Iterator[Events]:
    query = {**({"token": token} if token is not None else {}), **params}
    url = base.replace("http://", "ws://") + "/api/v1/ws"
    with (
        httpx.Client(timeout=10) as client,
        connect_ws(url, client, params=query, keepalive_ping_interval_seconds=None) as session,
    ):
        yield Events(session)
