"""The HTTP requests' Prometheus series (entrypoints.http.observe.RequestMetrics), read from the
process's registry after real requests through the app: counted by method, route template and
status, timed, errors apart, nothing left in progress, the probes left out. The same series under
granian's workers are scraped in test_metrics_and_logs.py."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from adapters.files.local.store import LocalFileStore
from application.ports.files import OpenFile
from entrypoints.app import create_app
from entrypoints.http.observe import RequestMetrics
from entrypoints.settings import Settings
from tests import samples
from tests.integration.http_fixtures import Api, bearer

FILES = "/api/v1/media/files/{filename}"
MESSAGES = "/api/v1/conversations/{conversation_id}/messages"


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, {"app_name": "chat-media", **labels}) or 0.0


def series(prefix: str) -> Iterator[tuple[str, dict[str, str], float]]:
    for family in REGISTRY.collect():
        for sample in family.samples:
            if sample.name.startswith(prefix):
                yield sample.name, sample.labels, sample.value


class BrokenOpen(LocalFileStore):
    """The disk store, with a bug where a stored file is opened."""

    @asynccontextmanager
    async def open(self, filename: str) -> AsyncIterator[OpenFile]:
        raise RuntimeError("a bug in the store (injected)")
        yield


async def test_requests_are_counted_by_route_and_status(api: Api) -> None:
    conversation = (await api.conversation("alice", ["bob"]))["id"]
    await api.message("alice", conversation)
    ok = {"method": "GET", "path": MESSAGES, "status_code": "200"}
    refused = {**ok, "status_code": "404"}
    before = {
        "ok": value("chat_media_requests_total", **ok),
        "refused": value("chat_media_requests_total", **refused),
        "timed": value("chat_media_request_duration_seconds_count", **ok),
        "seconds": value("chat_media_request_duration_seconds_sum", **ok),
    }
    for _ in range(3):
        answer = await api.client.get(f"/api/v1/conversations/{conversation}/messages", headers=bearer("bob"))
        assert answer.status_code == 200
    stranger = await api.client.get(f"/api/v1/conversations/{conversation}/messages", headers=bearer("eve"))
    assert stranger.status_code == 404

    assert value("chat_media_requests_total", **ok) - before["ok"] == 3
    assert value("chat_media_requests_total", **refused) - before["refused"] == 1
    assert value("chat_media_request_duration_seconds_count", **ok) - before["timed"] == 3
    assert value("chat_media_request_duration_seconds_sum", **ok) > before["seconds"]
    # A 404 is the caller's: no error counted for it.
    assert value("chat_media_requests_error_total", **refused) == 0
    # Every request has ended: nothing is left in progress on the route.
    assert value("chat_media_requests_in_progress", method="GET", path=MESSAGES) == 0


async def test_the_probes_are_not_counted(api: Api) -> None:
    for path in ("/health", "/health/live", "/health/ready"):
        assert (await api.client.get(path)).status_code == 200
    counted = {labels.get("path") for _, labels, _ in series("chat_media_request")}
    assert not {p for p in counted if p and p.startswith("/health")}


async def test_a_bug_is_counted_as_an_error_and_leaves_nothing_in_progress(settings: Settings) -> None:
    app = create_app(settings, files=BrokenOpen(settings.upload_dir))
    async with AsyncTestClient(app, timeout=30) as client:
        api = Api(client=client, upload_dir=settings.upload_dir)
        conversation = (await api.conversation("alice", ["bob"]))["id"]
        message = await api.message("alice", conversation)
        [stored] = (await api.upload("alice", message["id"], ("a.png", samples.sample("png")))).json()
        failed = {"method": "GET", "path": FILES, "status_code": "500"}
        before = value("chat_media_requests_error_total", **failed)
        answer = await client.get(stored["url"].partition("?")[0], headers=bearer("bob"))
        assert answer.status_code == 500
        assert value("chat_media_requests_error_total", **failed) - before == 1
        assert value("chat_media_requests_total", **failed) >= 1
        assert value("chat_media_requests_in_progress", method="GET", path=FILES) == 0


async def _routed(app: Any) -> None:
    # What Litestar's router leaves in the scope before a route's middleware runs.
    scope: Any = {"type": "http", "method": "POST", "path": "/test/metrics/x"}
    scope["path_template"] = "/test/metrics/{case}"

    async def receive() -> Any:
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        return None

    await RequestMetrics(app)(scope, receive, send)


async def test_a_request_its_client_left_is_no_error_and_an_escaped_one_is() -> None:
    route = {"method": "POST", "path": "/test/metrics/{case}"}

    async def left(scope: Any, receive: Any, send: Any) -> None:
        return None  # the client went away before any answer: nothing to send

    async def broken(scope: Any, receive: Any, send: Any) -> None:
        raise RuntimeError("a bug (injected)")

    await _routed(left)
    with pytest.raises(RuntimeError):
        await _routed(broken)
    assert value("chat_media_requests_total", status_code="499", **route) == 1
    assert value("chat_media_requests_error_total", status_code="499", **route) == 0
    assert value("chat_media_requests_total", status_code="500", **route) == 1
    assert value("chat_media_requests_error_total", status_code="500", **route) == 1
    assert value("chat_media_requests_in_progress", **route) == 0
