"""Downloads through nginx with ACCEL_REDIRECT_PREFIX: the service checks and decides, nginx sends the
bytes. Real processes on loopback: one service with the setting and nginx in front of it with the
repository's template (deploy/nginx/chat-media.conf.template), and one service without it, over the
same database and files, whose answers are what a client gets today. Every case of
test_http_serve.py is asked of both; the client must not be able to tell them apart.

Skipped when nginx is not installed, except under CI=true, where it is required: this deployment's
promises (the store unreachable from outside, every download header kept) are only shown here.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from email.utils import parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from bench.nginx import Nginx, nginx_binary, start_front

from tests import photos, samples
from tests.databases import unavailable
from tests.integration.http_fixtures import SECRET, bearer
from tests.integration.server_process import Server, start_server
from tests.integration.test_http_serve import SECURITY_HEADERS, SERVED_AS
from tests.integration.ws_client import listen

pytestmark = pytest.mark.server

PREFIX = "/_stored/"
FILES = "/api/v1/media/files"
# Headers that name the hop rather than the answer: nginx writes its own.
HOP_HEADERS = {"date", "server", "connection", "keep-alive", "x-request-id"}  # the last: one per request
NGINX_SAYS = ("X-Sendfile-Type", "X-Accel-Redirect")  # what the template adds to what it passes on


@dataclass
class Stack:
    accel: Server  # ACCEL_REDIRECT_PREFIX set; clients reach it only through nginx
    direct: Server  # the service as it answers without nginx: what the client must still get
    nginx: Nginx
    upload_dir: Path

    def __post_init__(self) -> None:
        self.front = httpx.Client(base_url=f"http://127.0.0.1:{self.nginx.port}", timeout=30)
        self.behind = httpx.Client(base_url=self.accel.base, timeout=30)
        self.alone = httpx.Client(base_url=self.direct.base, timeout=30)

    def close(self) -> None:
        for client in (self.front, self.behind, self.alone):
            client.close()

    def both(
        self, method: str, path: str, headers: dict[str, str] | list[tuple[str, str]]
    ) -> tuple[httpx.Response, httpx.Response]:
        """The same request through nginx and to the service alone."""
        return self.front.request(method, path, headers=headers), self.alone.request(
            method, path, headers=headers
        )

    def handed_over(self, path: str, headers: dict[str, str] | list[tuple[str, str]]) -> str | None:
        """What the service behind nginx answered a GET with: the X-Accel-Redirect (with no body),
        or None when it sent the answer itself."""
        asked = [*(headers.items() if isinstance(headers, dict) else headers), NGINX_SAYS]
        r = self.behind.get(path, headers=asked)
        target = r.headers.get("x-accel-redirect")
        if target is not None:
            assert r.content == b""
            assert r.headers["content-length"] == "0"
        return target


def nginx_or_skip() -> str:
    binary = nginx_binary()
    if binary is None:
        unavailable("nginx is not installed (apt-get install nginx-light): the X-Accel-Redirect tests")
    return binary


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    binary = nginx_or_skip()
    workdir = tmp_path_factory.mktemp("accel")
    env = {"SWEEP_INTERVAL": "0", "UPLOAD_RATE": "0"}
    accel = start_server(workdir, SECRET, ACCEL_REDIRECT_PREFIX=PREFIX, **env)
    direct: Server | None = None
    nginx: Nginx | None = None
    try:
        direct = start_server(workdir, SECRET, **env)  # the same service.db and uploads/
        nginx = start_front(
            binary, workdir / "nginx", upstream=accel.port, upload_dir=accel.upload_dir, prefix=PREFIX
        )
        stack = Stack(accel, direct, nginx, accel.upload_dir)
        yield stack
        stack.close()
        assert "[alert]" not in nginx.errors()
    finally:
        if nginx is not None:
            nginx.stop()
        if direct is not None:
            direct.stop()
        accel.stop()


@dataclass
class Shared:
    attachment: dict[str, Any]
    body: bytes  # as stored
    stored: str  # the store's name of its bytes: shared by every upload of the same bytes

    @property
    def url(self) -> str:
        return str(self.attachment["url"])

    @property
    def name(self) -> str:
        return str(self.attachment["filename"])

    @property
    def etag(self) -> str:
        return f'"{self.attachment["sha256"]}"'


def share(stack: Stack, name: str, body: bytes) -> Shared:
    """alice shares a file with bob in a group, all of it through nginx (uploads included)."""
    client = stack.front
    r = client.post(
        "/api/v1/conversations",
        json={"kind": "group", "title": "t", "member_ids": ["bob"]},
        headers=bearer("alice"),
    )
    assert r.status_code == 201, r.text
    message = client.post(
        f"/api/v1/conversations/{r.json()['id']}/messages", json={"content": "hi"}, headers=bearer("alice")
    )
    assert message.status_code == 201, message.text
    r = client.post(
        "/api/v1/media/upload",
        data={"message_id": message.json()["id"]},
        files=[("file", (name, body, "application/octet-stream"))],
        headers=bearer("alice"),
    )
    assert r.status_code == 201, r.text
    [attachment] = r.json()
    # One copy per content: the module's uploads of the same bytes share the first one's file.
    [stored] = [
        path
        for path in stack.upload_dir.iterdir()
        if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == attachment["sha256"]
    ]
    return Shared(attachment, stored.read_bytes(), stored.name)


def same_answer(via: httpx.Response, alone: httpx.Response) -> None:
    """Status, body and every header alike, but for the ones that name the hop."""
    assert (via.status_code, len(via.content)) == (alone.status_code, len(alone.content))
    if via.content and via.headers.get("content-type") == "application/json" and via.status_code >= 400:
        # An error body names its request (each its own id): everything else is alike.
        assert via.json().pop("request_id") != alone.json().pop("request_id")
        assert {**via.json(), "request_id": ""} == {**alone.json(), "request_id": ""}
    else:
        assert via.content == alone.content

    def headers(r: httpx.Response) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in r.headers.multi_items() if k not in HOP_HEADERS)

    assert headers(via) == headers(alone)
    assert ("x-request-id" in via.headers) == ("x-request-id" in alone.headers)
    assert "x-accel-redirect" not in via.headers


def download_headers(r: httpx.Response, shared: Shared) -> None:
    """The promises of security.md, checked on their own (not only as equal to the direct answer)."""
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get_list(name) == [value], name
    assert r.headers.get_list("etag") == [shared.etag]
    assert r.headers["cache-control"].startswith("private")
    assert len(r.headers.get_list("last-modified")) == 1
    assert r.headers["content-disposition"].endswith(f"filename*=UTF-8''{shared.attachment['original_name']}")


@pytest.fixture(scope="module")
def large(stack: Stack) -> Shared:
    """A document of a known size, stored as it came (the ranges below are written for its size;
    a video would be remuxed to a size of its own)."""
    return share(stack, "report.pdf", samples.sample("pdf", size=700_000))


# ---- whole files ---------------------------------------------------------------------------------


@pytest.mark.parametrize("ext", sorted(SERVED_AS))
def test_every_type_is_sent_by_nginx_with_every_download_header(stack: Stack, ext: str) -> None:
    shared = share(stack, f"file.{ext}", samples.sample(ext, size=4096))
    assert stack.handed_over(shared.url, bearer("bob")) == f"{PREFIX}whole/{shared.stored}"
    via, alone = stack.both("GET", shared.url, bearer("bob"))
    same_answer(via, alone)
    assert (via.status_code, via.content) == (200, shared.body)
    assert via.headers.get_list("content-type") == [SERVED_AS[ext][0]]
    assert via.headers["content-length"] == str(len(shared.body))
    assert via.headers["content-disposition"].startswith(SERVED_AS[ext][1])
    download_headers(via, shared)


def test_a_thumbnail_is_sent_by_nginx_too(stack: Stack) -> None:
    shared = share(stack, "photo.jpg", photos.jpeg(800, 600))
    url = shared.attachment["thumbnail_url"]
    thumbnail = f"{shared.attachment['id']}.thumb.webp"
    assert stack.handed_over(url, bearer("bob")) == f"{PREFIX}whole/{thumbnail}"
    via, alone = stack.both("GET", url, bearer("bob"))
    same_answer(via, alone)
    assert via.content == (stack.upload_dir / thumbnail).read_bytes()
    ranged = stack.both("GET", url, {**bearer("bob"), "Range": "bytes=10-19"})
    same_answer(*ranged)
    assert ranged[0].status_code == 206


# ---- ranges --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    ["bytes=0-0", "bytes=100-299999", "bytes=699990-", "bytes=5-7000000", "bytes=-500", "bytes=-1400000"],
)
def test_one_range_is_sent_by_nginx_as_the_service_decided(stack: Stack, large: Shared, header: str) -> None:
    headers = {**bearer("bob"), "Range": header}
    assert stack.handed_over(large.url, headers) == f"{PREFIX}part/{large.stored}"
    via, alone = stack.both("GET", large.url, headers)
    same_answer(via, alone)
    assert via.status_code == 206
    first, last = via.headers["content-range"].removeprefix("bytes ").split("/")[0].split("-")
    assert via.content == large.body[int(first) : int(last) + 1]
    download_headers(via, large)


def test_the_whole_file_as_a_range_is_a_206_from_nginx(stack: Stack, large: Shared) -> None:
    headers = {**bearer("bob"), "Range": "bytes=0-"}
    assert stack.handed_over(large.url, headers) == f"{PREFIX}part/{large.stored}"
    via, alone = stack.both("GET", large.url, headers)
    same_answer(via, alone)
    assert (via.status_code, via.content) == (206, large.body)


@pytest.mark.parametrize("header", ["bytes=700000-", "bytes=700000-800000", "bytes=-0", "bytes=99999999999-"])
def test_an_unsatisfiable_range_is_the_services_416(stack: Stack, large: Shared, header: str) -> None:
    headers = {**bearer("bob"), "Range": header}
    assert stack.handed_over(large.url, headers) is None
    via, alone = stack.both("GET", large.url, headers)
    same_answer(via, alone)
    assert (via.status_code, via.content) == (416, b"")
    assert via.headers["content-range"] == f"bytes */{len(large.body)}"


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",
        "bytes=0-99,50-149,100-199",
        ",".join(["bytes=0-0"] + ["0-0"] * 200),
        "bytes=500-100",  # inverted: nginx's own range filter would say 416
        "bytes=abc",  # nginx: 416
        "bytes=0-10, -5",
        "items=0-10",
    ],
)
def test_ranges_the_service_ignores_are_the_whole_file_from_nginx(
    stack: Stack, large: Shared, header: str
) -> None:
    headers = {**bearer("bob"), "Range": header}
    assert stack.handed_over(large.url, headers) == f"{PREFIX}whole/{large.stored}"
    via, alone = stack.both("GET", large.url, headers)
    same_answer(via, alone)
    assert (via.status_code, via.content) == (200, large.body)
    assert "multipart" not in via.headers["content-type"]


@pytest.mark.parametrize(
    ("header", "first", "last"),
    [
        ("bytes =0-9", 0, 9),  # nginx: the whole file
        ("bytes= 0-9", 0, 9),
        ("bytes=0 - 9", 0, 9),
        ("bytes=0-99999999999999999999", 0, 699_999),  # 20 digits: nginx: 416
    ],
)
def test_a_range_nginx_would_read_otherwise_is_sent_by_the_service(
    stack: Stack, large: Shared, header: str, first: int, last: int
) -> None:
    headers = {**bearer("bob"), "Range": header}
    assert stack.handed_over(large.url, headers) is None
    via, alone = stack.both("GET", large.url, headers)
    same_answer(via, alone)
    assert (via.status_code, via.content) == (206, large.body[first : last + 1])


def test_two_range_fields_are_the_whole_file_from_nginx(stack: Stack, large: Shared) -> None:
    headers = [*bearer("bob").items(), ("Range", "bytes=0-9"), ("Range", "bytes=20-29")]
    assert stack.handed_over(large.url, headers) == f"{PREFIX}whole/{large.stored}"
    via, alone = stack.both("GET", large.url, headers)
    same_answer(via, alone)
    assert (via.status_code, via.content) == (200, large.body)


# ---- validators ----------------------------------------------------------------------------------


def test_if_none_match_is_the_services_304(stack: Stack, large: Shared) -> None:
    for inm in (large.etag, f'"nope", {large.etag}', f"W/{large.etag}", "*"):
        for extra in ({}, {"Range": "bytes=0-9"}):
            headers = {**bearer("bob"), "If-None-Match": inm, **extra}
            assert stack.handed_over(large.url, headers) is None
            via, alone = stack.both("GET", large.url, headers)
            same_answer(via, alone)
            assert (via.status_code, via.content) == (304, b"")
    # Stale, and nginx's own ETag for the file (hex mtime and size), which nginx must not honour.
    stat = (stack.upload_dir / large.stored).stat()
    for stale in ('"something-else"', f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'):
        headers = {**bearer("bob"), "If-None-Match": stale}
        assert stack.handed_over(large.url, headers) == f"{PREFIX}whole/{large.stored}"
        via, alone = stack.both("GET", large.url, headers)
        same_answer(via, alone)
        assert (via.status_code, via.content) == (200, large.body)


def test_if_modified_since(stack: Stack, large: Shared) -> None:
    last_modified = stack.alone.get(large.url, headers=bearer("bob")).headers["last-modified"]
    cached = {**bearer("bob"), "If-Modified-Since": last_modified}
    same_answer(*stack.both("GET", large.url, cached))
    assert stack.front.get(large.url, headers=cached).status_code == 304
    old = {**bearer("bob"), "If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT", "Range": "bytes=0-9"}
    assert stack.handed_over(large.url, old) == f"{PREFIX}part/{large.stored}"
    via, alone = stack.both("GET", large.url, old)
    same_answer(via, alone)
    assert via.status_code == 206


def test_if_range_matching_is_a_206_and_stale_is_the_whole_file(stack: Stack, large: Shared) -> None:
    last_modified = stack.alone.get(large.url, headers=bearer("bob")).headers["last-modified"]
    for validator in (large.etag, last_modified):
        headers = {**bearer("bob"), "Range": "bytes=0-9", "If-Range": validator}
        assert stack.handed_over(large.url, headers) == f"{PREFIX}part/{large.stored}"
        via, alone = stack.both("GET", large.url, headers)
        same_answer(via, alone)
        assert (via.status_code, via.content) == (206, large.body[:10])
    for stale in ('"0000"', f"W/{large.etag}", "Sat, 01 Jan 2000 00:00:00 GMT", "garbage"):
        headers = {**bearer("bob"), "Range": "bytes=0-9", "If-Range": stale}
        assert stack.handed_over(large.url, headers) == f"{PREFIX}whole/{large.stored}"
        via, alone = stack.both("GET", large.url, headers)
        same_answer(via, alone)
        assert (via.status_code, via.content) == (200, large.body)


def test_an_if_range_date_written_otherwise_is_sent_by_the_service(stack: Stack, large: Shared) -> None:
    """Our Last-Modified in another zone (which nginx does not read) and in RFC 850's format."""
    last_modified = parsedate_to_datetime(
        stack.alone.get(large.url, headers=bearer("bob")).headers["last-modified"]
    )
    for written in (
        (last_modified + timedelta(hours=1)).strftime("%a, %d %b %Y %H:%M:%S +0100"),
        last_modified.strftime("%A, %d-%b-%y %H:%M:%S GMT"),
    ):
        headers = {**bearer("bob"), "Range": "bytes=0-9", "If-Range": written}
        assert stack.handed_over(large.url, headers) is None
        via, alone = stack.both("GET", large.url, headers)
        same_answer(via, alone)
        assert (via.status_code, via.content) == (206, large.body[:10]), written


@pytest.mark.parametrize(
    "condition",
    [
        {"If-Match": '"0000"'},
        {"If-Match": "*"},
        {"If-Unmodified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"},
    ],
)
def test_preconditions_nginx_would_answer_412_are_sent_by_the_service(
    stack: Stack, large: Shared, condition: dict[str, str]
) -> None:
    for extra in ({}, {"Range": "bytes=0-9"}):
        headers = {**bearer("bob"), **condition, **extra}
        assert stack.handed_over(large.url, headers) is None
        via, alone = stack.both("GET", large.url, headers)
        same_answer(via, alone)
        assert via.status_code in (200, 206)


@pytest.mark.parametrize("field", ["If-None-Match", "If-Range", "If-Match", "If-Modified-Since"])
def test_nginx_itself_refuses_a_conditional_field_sent_twice(stack: Stack, large: Shared, field: str) -> None:
    """A difference any nginx in front makes, X-Accel-Redirect or not (docs/deployment.md)."""
    value = {"If-Modified-Since": "Sat, 01 Jan 2000 00:00:00 GMT"}.get(field, '"x"')
    headers = [*bearer("bob").items(), ("Range", "bytes=0-9"), (field, value), (field, value)]
    via, alone = stack.both("GET", large.url, headers)
    assert via.status_code == 400
    assert alone.status_code in (200, 206)


def test_random_ranges_and_validators_are_answered_alike(stack: Stack, large: Shared) -> None:
    """Headers drawn from the forms clients send and the ones they should not; seeded, bounded."""
    size = len(large.body)
    last_modified = stack.alone.get(large.url, headers=bearer("bob")).headers["last-modified"]
    draw = random.Random(20_261_201)
    numbers = [0, 1, 9, 255, 256 * 1024, size - 1, size, size + 1, 10**18, 10**19]
    for _ in range(120):
        a, b = draw.choice(numbers), draw.choice(numbers)
        space = draw.choice(["", "", "", " "])
        headers = {
            **bearer("bob"),
            "Range": draw.choice(
                [
                    f"bytes={a}-{b}",
                    f"bytes={a}-",
                    f"bytes=-{b}",
                    f"bytes{space}={a}-{b}",
                    f"bytes={a}-{b},{b}-",
                ]
            ),
        }
        if draw.random() < 0.4:
            headers["If-Range"] = draw.choice([large.etag, last_modified, '"x"', f"W/{large.etag}"])
        via, alone = stack.both("GET", large.url, headers)
        same_answer(via, alone)


# ---- HEAD, who may see it, and what is not a stored file ------------------------------------------


def test_head_is_the_services_own_answer(stack: Stack) -> None:
    shared = share(stack, "notes.txt", samples.sample("txt"))
    for extra in ({}, {"Range": "bytes=2-5"}, {"If-None-Match": shared.etag}):
        headers = {**bearer("bob"), **extra}
        via, alone = stack.both("HEAD", shared.url, headers)
        same_answer(via, alone)
        assert via.content == b""
        assert "x-accel-redirect" not in stack.behind.head(shared.url, headers=headers).headers
    get, head = (
        stack.front.get(shared.url, headers=bearer("bob")),
        stack.front.head(shared.url, headers=bearer("bob")),
    )
    assert sorted((k, v) for k, v in get.headers.multi_items() if k not in HOP_HEADERS) == sorted(
        (k, v) for k, v in head.headers.multi_items() if k not in HOP_HEADERS
    )


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"Range": "bytes=0-9"},
        {"Range": "bytes=999999-"},
        {"If-None-Match": "*"},
        {"If-Range": "x", "Range": "bytes=0-1"},
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_non_member_through_nginx_is_answered_as_for_an_unknown_name(
    stack: Stack, method: str, extra: dict[str, str]
) -> None:
    shared = share(stack, "a.png", samples.sample("png"))
    headers = {**bearer("mallory"), **extra}
    outsider = stack.front.request(method, shared.url, headers=headers)
    unknown = stack.front.request(method, f"{FILES}/{uuid.uuid4()}.png", headers=headers)
    same_answer(outsider, unknown)
    assert outsider.status_code == 404
    same_answer(outsider, stack.alone.request(method, shared.url, headers=headers))
    assert shared.body not in outsider.content


def test_a_file_on_disk_without_a_row_is_not_served(stack: Stack) -> None:
    # Bytes of this test's own: the module's other uploads share the copies of theirs.
    shared = share(stack, "a.png", photos.png(31, 17))
    stray = f"{uuid.uuid4()}.png"
    shutil.copyfile(stack.upload_dir / shared.stored, stack.upload_dir / stray)
    via, alone = stack.both("GET", f"{FILES}/{stray}", bearer("alice"))
    same_answer(via, alone)
    assert via.status_code == 404
    assert shared.body not in via.content


def test_the_store_is_unreachable_from_outside(stack: Stack) -> None:
    shared = share(stack, "a.png", samples.sample("png"))
    (stack.upload_dir / ".staging" / "x.png").write_bytes(shared.body)
    for path in (
        f"{PREFIX}whole/{shared.stored}",
        f"{PREFIX}part/{shared.stored}",
        f"{PREFIX}{shared.stored}",
        f"{PREFIX}whole/",
        f"{PREFIX}whole/.staging/x.png",
        f"/%5Fstored/whole/{shared.stored}",
        f"/_stored%2Fwhole%2F{shared.stored}",
        f"/api/../_stored/whole/{shared.stored}",
        f"/api/v1/media/files/..%2F..%2F..%2F..%2F_stored%2Fwhole%2F{shared.stored}",
        f"//_stored/whole/{shared.stored}",
    ):
        for headers in ({}, bearer("alice")):
            r = stack.front.get(path, headers=headers)
            assert r.status_code == 404, (path, r.status_code)
            assert shared.body not in r.content


def test_the_event_socket_works_through_the_template(stack: Stack) -> None:
    """The template carries the rest of the service too: the WebSocket upgrade, then an event."""
    base = f"http://127.0.0.1:{stack.nginx.port}"
    r = stack.front.post(
        "/api/v1/conversations",
        json={"kind": "group", "title": "t", "member_ids": ["bob"]},
        headers=bearer("alice"),
    )
    with listen(base, bearer("bob")["Authorization"].removeprefix("Bearer ")) as socket:
        assert socket.next()["type"] == "ready"
        posted = stack.front.post(
            f"/api/v1/conversations/{r.json()['id']}/messages",
            json={"content": "via nginx"},
            headers=bearer("alice"),
        )
        assert posted.status_code == 201
        event = socket.next()
        assert (event["type"], event["message"]["content"]) == ("message.created", "via nginx")


def test_the_service_behind_nginx_hands_over_only_what_it_checked(stack: Stack, large: Shared) -> None:
    """The control: the cases above did go through nginx, and nothing but a member's GET does."""
    assert stack.handed_over(large.url, bearer("bob")) == f"{PREFIX}whole/{large.stored}"
    assert stack.handed_over(large.url, bearer("mallory")) is None
    assert stack.behind.get(large.url, headers=bearer("mallory")).status_code == 404
    assert "x-accel-redirect" not in stack.alone.get(large.url, headers=bearer("bob")).headers
    assert stack.alone.get(large.url, headers=bearer("bob")).content == large.body
    # Reached without nginx (a health check, a client on the inside): the bytes, as before.
    inside = stack.behind.get(large.url, headers=bearer("bob"))
    assert "x-accel-redirect" not in inside.headers
    assert inside.content == large.body
    # A client cannot ask nginx to skip the service's check by naming the header itself.
    spoofed = stack.front.get(large.url, headers={**bearer("mallory"), "X-Sendfile-Type": "X-Accel-Redirect"})
    assert spoofed.status_code == 404


def test_a_file_gone_from_disk_is_the_services_404(stack: Stack) -> None:
    shared = share(stack, "gone.pdf", samples.sample("pdf", 3001))  # bytes of its own: it unlinks them
    (stack.upload_dir / shared.stored).unlink()
    via, alone = stack.both("GET", shared.url, bearer("alice"))
    same_answer(via, alone)
    assert via.status_code == 404


# ---- the template's internal locations on their own, behind a stand-in for the service ------------


class _HandsOver(BaseHTTPRequestHandler):
    """Answers every GET with the X-Accel-Redirect the test names in `X-Test-Target`, and keeps
    the X-Sendfile-Type fields each request arrived with."""

    protocol_version = "HTTP/1.1"
    sendfile_types: list[list[str]] = []  # one stand-in per test session

    def do_GET(self) -> None:
        self.sendfile_types.append(self.headers.get_all("X-Sendfile-Type") or [])
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("X-Accel-Redirect", self.headers.get("X-Test-Target", PREFIX))  # PREFIX: 404
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@dataclass
class Template:
    front: httpx.Client
    store: Path
    outside: Path


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Template]:
    binary = nginx_or_skip()
    workdir = tmp_path_factory.mktemp("template")
    store, outside = workdir / "uploads", workdir / "outside"
    store.mkdir()
    outside.mkdir()
    upstream = ThreadingHTTPServer(("127.0.0.1", 0), _HandsOver)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    try:
        nginx = start_front(
            binary, workdir / "nginx", upstream=upstream.server_address[1], upload_dir=store, prefix=PREFIX
        )
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{nginx.port}", timeout=10) as front:
                yield Template(front, store, outside)
        finally:
            nginx.stop()
    finally:
        upstream.shutdown()
        upstream.server_close()


def handed(template: Template, target: str) -> httpx.Response:
    return template.front.get("/anything", headers={"X-Test-Target": target})


def test_the_stand_in_is_served_by_the_template(template: Template) -> None:
    """The control for the cases below: a plain file under the store is sent."""
    (template.store / "plain.png").write_bytes(b"plain bytes")
    r = handed(template, f"{PREFIX}whole/plain.png")
    assert (r.status_code, r.content) == (200, b"plain bytes")


def test_nginx_tells_the_service_it_takes_the_download_whatever_the_client_said(
    template: Template,
) -> None:
    (template.store / "plain.png").write_bytes(b"plain bytes")
    for said in ({}, {"X-Sendfile-Type": "X-Sendfile"}, {"X-Sendfile-Type": "X-Accel-Redirect"}):
        _HandsOver.sendfile_types.clear()
        r = template.front.get("/anything", headers={"X-Test-Target": f"{PREFIX}whole/plain.png", **said})
        assert r.status_code == 200
        assert _HandsOver.sendfile_types == [["X-Accel-Redirect"]], said


def test_a_link_in_the_store_is_never_followed(template: Template) -> None:
    (template.outside / "secret.png").write_bytes(b"TOP SECRET")
    (template.store / "inside.png").write_bytes(b"inside")
    os.symlink(template.outside / "secret.png", template.store / "out.png")
    os.symlink(template.store / "inside.png", template.store / "in.png")
    os.symlink(template.outside, template.store / "dir")
    for target in ("whole/out.png", "part/out.png", "whole/in.png", "whole/dir/secret.png"):
        r = handed(template, PREFIX + target)
        assert r.status_code == 404, target
        assert b"TOP SECRET" not in r.content
        assert b"inside" not in r.content


def test_a_file_deleted_after_the_check_is_the_services_own_404(stack: Stack, template: Template) -> None:
    r = handed(template, f"{PREFIX}whole/{uuid.uuid4()}.png")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/json"
    # What the service answers when the row is there and the file is not.
    shared = share(stack, "gone.png", photos.png(29, 13))  # bytes of its own: it unlinks them
    (stack.upload_dir / shared.stored).unlink()
    theirs = stack.alone.get(shared.url, headers=bearer("alice")).json()
    assert theirs.pop("request_id")  # the service's request; the stand-in sent none to name
    assert json.loads(r.content) == {**theirs, "request_id": ""}
    assert theirs == {"status_code": 404, "detail": "No such file."}


def test_no_directory_is_listed_and_nothing_outside_the_two_locations_is_served(template: Template) -> None:
    (template.store / "a.png").write_bytes(b"a")
    for target in ("whole/", "part/", "", "a.png", "whole/../a.png", "other/a.png"):
        r = handed(template, PREFIX + target)
        assert r.status_code == 404, target
        assert b"a.png" not in r.content


# ---- signed media URLs ---------------------------------------------------------------------------


def test_a_signed_url_is_checked_by_the_service_and_sent_by_nginx_with_no_header(stack: Stack) -> None:
    shared = share(stack, "photo.png", photos.png(64, 48))
    url = shared.url  # signed for alice, who uploaded it
    assert "sig=" in url
    assert stack.handed_over(url, {}) == f"{PREFIX}whole/{shared.stored}"
    via, alone = stack.both("GET", url, {})
    same_answer(via, alone)
    assert (via.status_code, via.content) == (200, shared.body)
    download_headers(via, shared)
    ranged = stack.both("GET", url, {"Range": "bytes=4-11"})
    same_answer(*ranged)
    assert (ranged[0].status_code, ranged[0].content) == (206, shared.body[4:12])
    head = stack.both("HEAD", url, {})
    same_answer(*head)
    assert (stack.front.get(url, headers={"If-None-Match": shared.etag})).status_code == 304
    # Tampered: the unknown name's 404, from the service, before nginx is handed anything.
    unknown = stack.front.get(f"{FILES}/{uuid.uuid4()}.png", headers=bearer("alice"))
    forged = stack.front.get(url.replace("u=alice", "u=bob"))
    assert forged.status_code == unknown.status_code == 404
    assert {**forged.json(), "request_id": ""} == {**unknown.json(), "request_id": ""}
    # nginx's access log names the path, never the signature.
    signature = url.rsplit("sig=", 1)[1]
    log = stack.nginx.access_log()
    assert f"GET {FILES}/{shared.name} " in log
    assert signature not in log
    assert "sig=" not in log
