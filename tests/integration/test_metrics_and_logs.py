"""What an operator sees, against the real service (granian, two workers over Redis): `/metrics`
in Prometheus' text format behind its token, counting what real traffic did in either worker; one
JSON log line per request with the request id the answer and its error body carry, and never a
token, a signed URL's query or a file's bytes."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests import samples
from tests.integration.http_fixtures import SECRET, bearer
from tests.integration.server_process import Server, running_server, wait_until
from tests.integration.ws_client import listen

pytestmark = pytest.mark.server

METRICS_TOKEN = "scraper-secret-" + "m" * 20
MAX_UPLOAD = 200_000


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from tests.databases import REDIS_HOST, REDIS_PORT, reachable, unavailable

    if not reachable(REDIS_HOST, REDIS_PORT):  # two workers share their events through Redis
        unavailable(f"Redis does not answer on {REDIS_HOST}:{REDIS_PORT}")
    with running_server(
        tmp_path_factory.mktemp("observed"),
        SECRET,
        workers=2,
        METRICS_TOKEN=METRICS_TOKEN,
        LOG_FORMAT="json",
        MAX_UPLOAD_SIZE=str(MAX_UPLOAD),
        REDIS_URL=f"redis://{REDIS_HOST}:{REDIS_PORT}/0",
    ) as running:
        yield running


def scrape(server: Server) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    answer = httpx.get(f"{server.base}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def total(metrics: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str) -> float:
    wanted = set(labels.items())
    return sum(value for (n, got), value in metrics.items() if n == name and wanted <= got)


def call(server: Server, method: str, path: str, user: str, **kwargs: Any) -> httpx.Response:
    return httpx.request(method, server.base + path, headers=bearer(user), timeout=30, **kwargs)


def group(server: Server, owner: str, *members: str) -> str:
    body = {"kind": "group", "title": "t", "member_ids": list(members)}
    return str(call(server, "POST", "/api/v1/conversations", owner, json=body).json()["id"])


def upload(server: Server, message_id: str, name: str, body: bytes) -> httpx.Response:
    files = {"file": (name, body)}
    return call(server, "POST", "/api/v1/media/upload", "alice", data={"message_id": message_id}, files=files)


def log_lines(server: Server) -> list[dict[str, Any]]:
    lines = []
    for line in server.log.read_text().splitlines():
        if line.startswith("{"):
            lines.append(json.loads(line))
    return lines


def test_metrics_are_off_the_public_api(server: Server) -> None:
    assert httpx.get(f"{server.base}/metrics").status_code == 401
    wrong = httpx.get(f"{server.base}/metrics", headers={"Authorization": "Bearer " + "x" * 35})
    assert wrong.status_code == 401
    assert "chat_media" not in wrong.text
    assert "/metrics" not in httpx.get(f"{server.base}/schema/openapi.json").text


def test_metrics_count_what_real_traffic_did_in_every_worker(server: Server) -> None:
    before = scrape(server)
    conversation = group(server, "alice", "bob")
    png = samples.sample("png")
    with listen(server.base, _token("bob")) as bob:
        bob.next()  # ready
        assert wait_until(lambda: total(scrape(server), "chat_media_websockets_open") == 1)
        message = call(
            server, "POST", f"/api/v1/conversations/{conversation}/messages", "alice", json={"content": "hi"}
        ).json()
        assert bob.next()["type"] == "message.created"
        stored = [
            upload(server, message["id"], "a.png", png)
            for _ in range(4)  # several requests: granian spreads them over both workers
        ]
        assert [r.status_code for r in stored] == [201] * 4
        for _ in range(4):
            assert bob.next()["type"] == "media.attached"
        spoofed = upload(server, message["id"], "b.png", b"%PDF-1.7 not a png at all" * 10)
        too_large = upload(server, message["id"], "c.pdf", b"%PDF-1.7\n" + b"0" * (MAX_UPLOAD + 10))
        assert (spoofed.status_code, too_large.status_code) == (415, 413)
        url = stored[0].json()[0]["url"]
        downloaded = httpx.get(server.base + url)
        assert len(downloaded.content) == stored[0].json()[0]["size"]  # as stored: metadata gone
        head = httpx.head(server.base + url)
        assert head.status_code == 200
    after = scrape(server)

    def grew(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert grew("chat_media_uploads_total", kind="image") == 4
    assert grew("chat_media_upload_bytes_total", kind="image") == 4 * stored[0].json()[0]["size"]
    assert grew("chat_media_upload_refusals_total", reason="type") == 1
    assert grew("chat_media_upload_refusals_total", reason="size") == 1
    assert grew("chat_media_downloads_total", via="direct") == 1  # the HEAD carried no bytes
    assert grew("chat_media_download_bytes_total", via="direct") == len(downloaded.content)
    assert grew("chat_media_events_published_total") == 5
    assert grew("chat_media_events_delivered_total") >= 5  # bob's socket; alice had none
    assert grew("chat_media_processing_seconds_count", kind="image") == 4
    upload_route = {"path": "/api/v1/media/upload", "method": "POST"}
    assert grew("chat_media_requests_total", status_code="201", **upload_route) == 4
    assert grew("chat_media_requests_total", status_code="415", **upload_route) == 1
    assert grew("chat_media_request_duration_seconds_count", **upload_route) == 6
    # The download's body went by pathsend (the server reads the file): its time counts all the same.
    download_route = {"path": "/api/v1/media/files/{filename}", "method": "GET", "status_code": "200"}
    assert grew("chat_media_request_duration_seconds_count", **download_route) == 1
    assert grew("chat_media_request_duration_seconds_sum", **download_route) > 0
    # The socket closed with the block: the live gauge of open sockets is back to nothing.
    assert wait_until(lambda: total(scrape(server), "chat_media_websockets_open") == 0)


def test_one_json_line_per_request_with_its_id_and_no_secret(server: Server) -> None:
    conversation = group(server, "alice")
    message = call(
        server, "POST", f"/api/v1/conversations/{conversation}/messages", "alice", json={"content": "x"}
    ).json()
    png = samples.sample("png")
    [attachment] = upload(server, message["id"], "a.png", png).json()
    signed = attachment["url"]
    assert "sig=" in signed
    ours = "trace-" + str(time.monotonic_ns())
    refused = httpx.get(
        f"{server.base}/api/v1/conversations/{conversation}",
        headers={**bearer("mallory"), "X-Request-ID": ours},
    )
    assert refused.status_code == 404
    assert refused.headers["x-request-id"] == ours
    assert refused.json()["request_id"] == ours
    unknown = httpx.get(f"{server.base}/api/v1/nothing/here", headers={"X-Request-ID": "bad id with spaces"})
    made = unknown.headers["x-request-id"]
    assert made != "bad id with spaces"
    assert len(made) == 32
    assert unknown.json()["request_id"] == made
    assert httpx.get(server.base + signed).status_code == 200

    assert wait_until(lambda: any(line.get("request_id") == made for line in log_lines(server)))
    lines = log_lines(server)
    access = {line["request_id"]: line for line in lines if line.get("logger") == "chat_media.access"}
    mine = access[ours]
    assert mine["status"] == 404
    assert mine["method"] == "GET"
    assert mine["route"] == "/api/v1/conversations/{conversation_id}"
    assert mine["user_id"] == "mallory"
    assert mine["bytes_out"] == len(refused.content)
    assert mine["duration_ms"] >= 0
    assert mine["level"] == "info"
    assert access[made]["status"] == 404
    download = next(line for line in access.values() if line["path"] == signed.split("?")[0])
    assert (download["status"], download["bytes_out"]) == (200, attachment["size"])

    # The request lines (the CLI's banner above them prints a development token on purpose).
    text = "\n".join(line for line in server.log.read_text().splitlines() if line.startswith("{"))
    assert "sig=" not in text
    assert signed.split("?")[1] not in text  # a signed URL's query is a key
    assert "Bearer" not in text
    assert "eyJhbGciOi" not in text  # the start of every JWT's header
    assert png[8:40].hex() not in text
    assert "IHDR" not in text


def _token(user: str) -> str:
    from adapters.tokens import mint_token

    return mint_token(SECRET, user)


def test_a_500_names_its_request_and_the_log_holds_its_traceback(tmp_path: Path) -> None:
    with running_server(tmp_path, SECRET, LOG_FORMAT="json", METRICS_TOKEN=METRICS_TOKEN) as server:
        conversation = group(server, "alice")
        with sqlite3.connect(tmp_path / "service.db") as database:  # a bug's stand-in: SQL that cannot run
            database.execute("DROP TABLE conversation_events")
        failed = httpx.post(
            f"{server.base}/api/v1/conversations/{conversation}/messages",
            json={"content": "hi"},
            headers={**bearer("alice"), "X-Request-ID": "the-failing-one"},
        )
        assert failed.status_code == 500
        body = failed.json()
        assert body["request_id"] == failed.headers["x-request-id"] == "the-failing-one"
        assert body["error_id"] in body["detail"]
        assert total(scrape(server), "chat_media_internal_errors_total") == 1

        def traceback_logged() -> bool:
            return any(
                line.get("request_id") == "the-failing-one" and "no such table" in line.get("traceback", "")
                for line in log_lines(server)
            )

        assert wait_until(traceback_logged)
        [error] = [line for line in log_lines(server) if line.get("traceback")]
        assert error["level"] == "error"
        assert body["error_id"] in error["msg"]
