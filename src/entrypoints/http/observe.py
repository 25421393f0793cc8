"""What an operator sees of the HTTP traffic: a request id on every answer, one log line per
request, and the Prometheus metrics at `/metrics`.

`RequestLog` wraps the whole ASGI app, outside Litestar, so that every answer is seen, the router's
404s and the exception middleware's included. The id is the client's `X-Request-ID` when it is a
plain token (letters, digits, `.-_:`, at most 128), else one made here; it is echoed in the answer's
`X-Request-ID`, in every error body (`entrypoints.http.errors`) and on every log record written
while the request is handled. The line names the route's template, the path without its query (a
signed URL's query is a credential; a file's content is never read here), the user id the
authentication found, the status, the bytes, the duration; never a header's value.
"""

from __future__ import annotations

import hmac
import logging
import re
import time
import uuid
from typing import Any, cast

from litestar import Request, Response, get
from litestar.enums import ScopeType
from litestar.exceptions import NotAuthorizedException
from litestar.handlers import HTTPRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapters.metrics import HTTP_ERRORS, HTTP_IN_PROGRESS, HTTP_REQUESTS, HTTP_SECONDS, exposition
from entrypoints.logs import request_id

log = logging.getLogger("chat_media.access")

REQUEST_ID_HEADER = b"x-request-id"
QUIET_PATHS = ("/health", "/metrics")  # probes and scrapes, seconds apart: logged at DEBUG
_PLAIN_ID = re.compile(rb"[A-Za-z0-9._:-]{1,128}")


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return value
    return None


class RequestLog:
    """The ASGI app with a request id and a log line per HTTP request (other scopes pass as they are)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        given = _header(scope, REQUEST_ID_HEADER)
        rid = given.decode() if given is not None and _PLAIN_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        answer = {"status": 0, "bytes": 0, "length": 0}

        async def observed_send(sent: Message) -> None:
            message = cast("dict[str, Any]", sent)  # the pathsend extension is not in Litestar's types
            kind = message["type"]
            if kind == "http.response.start":
                answer["status"] = message["status"]
                headers = list(message.get("headers") or ())
                for key, value in headers:
                    if key.lower() == b"content-length":
                        answer["length"] = int(value)
                message["headers"] = [*headers, (REQUEST_ID_HEADER, rid.encode())]
            elif kind == "http.response.body":
                answer["bytes"] += len(message.get("body", b""))
            elif kind == "http.response.pathsend":  # the server sends the file: its length is the body's
                answer["bytes"] += answer["length"]
            await send(sent)

        try:
            await self.app(scope, receive, observed_send)
        except BaseException:
            answer["status"] = answer["status"] or 500
            raise
        finally:
            length = _header(scope, b"content-length")
            duration_ms = round((time.perf_counter() - started) * 1000, 2)
            log.log(
                logging.DEBUG if scope["path"].startswith(QUIET_PATHS) else logging.INFO,
                "%s %s %s %d B %.1f ms",
                scope["method"],
                scope["path"],
                answer["status"],
                answer["bytes"],
                duration_ms,
                extra={
                    "method": scope["method"],
                    "route": scope.get("path_template"),
                    "path": scope["path"],
                    "status": answer["status"],
                    "user_id": getattr(scope.get("user"), "id", None),
                    "bytes_in": int(length) if length is not None and length.isdigit() else None,
                    "bytes_out": answer["bytes"],
                    "duration_ms": duration_ms,
                },
            )
            request_id.reset(token)


APP_NAME = "chat-media"  # the `app_name` label, as Litestar's middleware gave it
CLIENT_GONE = 499  # nginx's code for a request whose client left before any answer: no error of ours


class RequestMetrics:
    """The HTTP requests' Prometheus series (count, duration, errors, in progress) by method, route
    template and status: Litestar's middleware's names and labels, at a fraction of its cost. It
    built a `Request`, a label dict, a `functools.wraps` closure and four `labels()` look-ups (each
    under a lock) per request. Here a request costs two clocks, a closure and dict look-ups of the
    series' children, made once per (method, route, status): as few as the routes' answers.

    A Litestar middleware (it runs once routed, so the route's template is known from the start),
    on HTTP only: on the WebSocket route it would wrap every frame of a fan-out. The duration runs
    until the app returns, so an answer the server sends itself (pathsend) counts whole, where
    Litestar's counted none of it; an exception that escapes counts as a 500, a request left with
    no answer and no error (its client went away) as nginx's 499."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._done: dict[tuple[str, str, int], tuple[Any, Any, Any]] = {}
        self._running: dict[tuple[str, str], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP or scope["path"].startswith(QUIET_PATHS):
            await self.app(scope, receive, send)
            return
        method, route = scope["method"], scope.get("path_template", "")  # Litestar routed: always there
        running = self._running.get((method, route))
        if running is None:
            running = self._running[method, route] = HTTP_IN_PROGRESS.labels(method, route, APP_NAME)
        status = CLIENT_GONE  # until an answer starts
        started = time.perf_counter()

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        running.inc()
        try:
            await self.app(scope, receive, noting_status)
        except BaseException:
            status = 500 if status == CLIENT_GONE else status
            raise
        finally:
            elapsed = time.perf_counter() - started
            running.dec()
            count, seconds, errors = self._series(method, route, status)
            count.inc()
            seconds.observe(elapsed)
            if errors is not None:
                errors.inc()

    def _series(self, method: str, route: str, status: int) -> tuple[Any, Any, Any]:
        found = self._done.get((method, route, status))
        if found is None:
            labels = (method, route, str(status), APP_NAME)
            errors = HTTP_ERRORS.labels(*labels) if status >= 500 else None
            found = self._done[method, route, status] = (
                HTTP_REQUESTS.labels(*labels),
                HTTP_SECONDS.labels(*labels),
                errors,
            )
        return found


def metrics_route(token: str) -> HTTPRouteHandler:
    """`GET /metrics` for a scraper that sends `Authorization: Bearer <METRICS_TOKEN>`."""
    expected = f"Bearer {token}".encode()

    @get("/metrics", include_in_schema=False, sync_to_thread=True)
    def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
        given = request.headers.get("authorization", "").encode()
        if not hmac.compare_digest(given, expected):
            raise NotAuthorizedException("The metrics need the METRICS_TOKEN as a bearer token.")
        body, content_type = exposition()
        return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})

    return metrics
