"""The file response through a small Litestar app: headers, 200/206/304/416, HEAD, names, pathsend,
and the store's file closed once every answer is over (and read only while it is open)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import anyio
import pytest
from litestar import Litestar, Request, Response, route
from litestar.exceptions import LitestarException
from litestar.testing import AsyncTestClient

from adapters.files.local import LocalFileStore
from adapters.memory import InMemoryFileStore
from application.ports.files import FileStore, OpenFile
from application.serve_media import Checked, Download
from domain.attachment import Attachment, MediaKind, stored_name
from domain.errors import NotFound, StorageUnavailable
from entrypoints.http.accel import AccelRedirect
from entrypoints.http.file_response import CHUNK_SIZE, FileResponse, download_response
from entrypoints.http.ranges import http_date

BODY = bytes(range(256)) * 4096 * 3 + b"end"  # 3 MiB + 3: several chunks of CHUNK_SIZE
SHA = "ab" * 32
PDF_NAME = 'rés"umé\u202e.pdf'


@dataclass
class Served:
    """What the test app serves, and how many of the store's files are open right now."""

    store: FileStore
    name: str
    content_type: str = "image/png"
    original_name: str = "cat.png"
    open_now: int = 0
    opened: int = 0
    seen: list[OpenFile] = field(default_factory=list)
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def extension(self) -> str:
        return self.name.rsplit(".", 1)[1]

    @asynccontextmanager
    async def open(self) -> AsyncIterator[OpenFile]:
        async with self.store.open(self.name) as file:
            self.open_now += 1
            self.opened += 1
            self.seen.append(file)
            try:
                yield file
            finally:
                self.open_now -= 1

    @asynccontextmanager
    async def open_download(self, checked: Checked) -> AsyncIterator[Download]:
        async with self.open() as file:
            yield Download(attachment=checked.attachment, file=file)


def make_app(served: Served, accel: AccelRedirect | None = None) -> Litestar:
    @route("/f", http_method=["GET", "HEAD"])
    async def serve(request: Request[Any, Any, Any]) -> FileResponse:
        checked = Checked(attachment=attachment(served))
        return await download_response(
            request, checked, served.open_download, accel=accel, local_path=local_path_of(served)
        )

    @route("/opened", http_method=["GET", "HEAD"])
    async def opened(request: Request[Any, Any, Any]) -> FileResponse:
        """A response made directly around a file opened by hand."""
        async with AsyncExitStack() as stack:
            file = await stack.enter_async_context(served.open())
            return FileResponse(
                Download(attachment=attachment(served), file=file),
                closing=stack.pop_all(),
                accel=accel,
                local_path=local_path_of(served)(file),
            )

    def not_found(_: Request[Any, Any, Any], exc: NotFound) -> Response[str]:
        return Response(str(exc), status_code=404)

    return Litestar([serve, opened], exception_handlers={NotFound: not_found}, openapi_config=None)


def local_path_of(served: Served) -> Callable[[object], str | None]:
    """The store's delivery fact, as the composition root hands it to the routes: the disk store's
    paths; none for the memory store."""
    return getattr(served.store, "local_path", lambda _: None)


def attachment(served: Served) -> Attachment:
    return Attachment(
        id=uuid.UUID(served.name.split(".")[0]),
        message_id=uuid.uuid4(),
        uploader_id="u",
        filename=served.name,
        original_name=served.original_name,
        content_type=served.content_type,
        kind=MediaKind.DOCUMENT,
        size=len(BODY),
        sha256=SHA,
        created_at=served.created_at,
    )


async def publish(store: FileStore, data: bytes, ext: str) -> str:
    name = stored_name(uuid.uuid4(), ext)
    async with store.stage() as staged:
        await staged.write(data)
        await staged.publish(name)
    return name


@pytest.fixture(params=["memory", "local"])
async def served(request: pytest.FixtureRequest, tmp_path: Path) -> Served:
    store: FileStore = InMemoryFileStore() if request.param == "memory" else LocalFileStore(tmp_path)
    return Served(store, await publish(store, BODY, "png"))


@pytest.fixture
async def client(served: Served) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(make_app(served)) as c:
        yield c


async def last_modified(served: Served) -> datetime:
    return served.created_at  # a stored file's bytes last changed when its attachment was made


async def test_a_whole_file_with_every_download_header(
    client: AsyncTestClient[Litestar], served: Served
) -> None:
    r = await client.get("/f")
    assert r.status_code == 200
    assert r.content == BODY
    h = r.headers
    assert h["content-type"] == "image/png"
    assert h["x-content-type-options"] == "nosniff"
    assert h["content-security-policy"] == (
        "sandbox; default-src 'none'; media-src 'self'; style-src 'unsafe-inline'"
    )
    assert h["content-disposition"] == "inline; filename=\"cat.png\"; filename*=UTF-8''cat.png"
    assert h["cache-control"] == "private, max-age=86400"
    assert h["referrer-policy"] == "no-referrer"
    assert h["cross-origin-resource-policy"] == "same-site"
    assert h["x-robots-tag"] == "noindex"
    assert h["etag"] == f'"{SHA}"'
    assert h["last-modified"] == http_date(await last_modified(served))
    assert h["accept-ranges"] == "bytes"
    assert h["content-length"] == str(len(BODY))
    assert "content-range" not in h
    assert served.open_now == 0


async def test_one_range_is_a_206(client: AsyncTestClient[Litestar], served: Served) -> None:
    cases = {
        "bytes=0-0": (0, 1),
        "bytes=100-299999": (100, 300_000),  # crosses chunk boundaries
        f"bytes={len(BODY) - 3}-": (len(BODY) - 3, len(BODY)),
        "bytes=-5": (len(BODY) - 5, len(BODY)),
        f"bytes=10-{10 * len(BODY)}": (10, len(BODY)),
    }
    for header, (start, end) in cases.items():
        r = await client.get("/f", headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == BODY[start:end]
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{len(BODY)}"
        assert r.headers["content-length"] == str(end - start)
        assert r.headers["etag"] == f'"{SHA}"'
        assert r.headers["x-content-type-options"] == "nosniff"
    assert served.open_now == 0


async def test_a_range_past_the_end_is_a_416(client: AsyncTestClient[Litestar], served: Served) -> None:
    r = await client.get("/f", headers={"Range": f"bytes={len(BODY)}-"})
    assert r.status_code == 416
    assert r.content == b""
    assert r.headers["content-range"] == f"bytes */{len(BODY)}"
    assert r.headers["content-length"] == "0"
    assert r.headers["content-security-policy"].startswith("sandbox;")
    assert r.headers["etag"] == f'"{SHA}"'
    assert served.open_now == 0


@pytest.mark.parametrize(
    "header", ["bytes=0-1,5-6", "bytes=0-0,0-0,0-0,0-0", "bytes=9-1", "lines=1-2", "bytes=x"]
)
async def test_many_or_broken_ranges_get_the_whole_file(
    client: AsyncTestClient[Litestar], header: str
) -> None:
    r = await client.get("/f", headers={"Range": header})
    assert r.status_code == 200
    assert r.content == BODY
    assert "content-range" not in r.headers
    assert "multipart" not in r.headers["content-type"]


@pytest.mark.parametrize("inm", [f'"{SHA}"', f'W/"{SHA}"', f'"other", "{SHA}"', "*"])
async def test_a_matching_if_none_match_is_a_304(
    client: AsyncTestClient[Litestar], served: Served, inm: str
) -> None:
    r = await client.get("/f", headers={"If-None-Match": inm, "Range": "bytes=0-1"})
    assert r.status_code == 304
    assert r.content == b""
    assert r.headers["etag"] == f'"{SHA}"'
    assert r.headers["cache-control"] == "private, max-age=86400"
    assert served.open_now == 0


async def test_if_modified_since(client: AsyncTestClient[Litestar], served: Served) -> None:
    modified = await last_modified(served)
    r = await client.get("/f", headers={"If-Modified-Since": http_date(modified)})
    assert r.status_code == 304
    assert r.content == b""
    r = await client.get("/f", headers={"If-Modified-Since": http_date(modified - timedelta(days=1))})
    assert r.status_code == 200
    assert r.content == BODY
    # an If-None-Match that does not match wins over a date that would
    r = await client.get("/f", headers={"If-None-Match": '"other"', "If-Modified-Since": http_date(modified)})
    assert r.status_code == 200


async def test_if_range(client: AsyncTestClient[Litestar], served: Served) -> None:
    r = await client.get("/f", headers={"Range": "bytes=0-9", "If-Range": f'"{SHA}"'})
    assert (r.status_code, r.content) == (206, BODY[:10])
    r = await client.get(
        "/f", headers={"Range": "bytes=0-9", "If-Range": http_date(await last_modified(served))}
    )
    assert (r.status_code, r.content) == (206, BODY[:10])
    for stale in ('"changed"', f'W/"{SHA}"', "Mon, 01 Jan 2001 00:00:00 GMT", "nonsense"):
        r = await client.get("/f", headers={"Range": "bytes=0-9", "If-Range": stale})
        assert (r.status_code, r.content) == (200, BODY), stale


async def test_head_has_the_headers_and_no_body(client: AsyncTestClient[Litestar], served: Served) -> None:
    get = await client.get("/f")
    head = await client.head("/f")
    assert head.status_code == 200
    assert head.content == b""
    assert dict(head.headers) == dict(get.headers)
    ranged = await client.head("/f", headers={"Range": "bytes=5-9"})
    assert ranged.status_code == 206
    assert ranged.content == b""
    assert ranged.headers["content-length"] == "5"
    assert ranged.headers["content-range"] == f"bytes 5-9/{len(BODY)}"
    assert served.open_now == 0


async def test_a_hostile_name_becomes_a_safe_attachment_name(tmp_path: Path) -> None:
    store = LocalFileStore(tmp_path)
    served = Served(store, await publish(store, b"%PDF-1.7", "pdf"), "application/pdf", PDF_NAME)
    async with AsyncTestClient(make_app(served)) as client:
        r = await client.get("/f")
    assert r.headers["content-disposition"] == (
        "attachment; filename=\"resume.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    )


@pytest.mark.parametrize(
    ("original", "ascii_name", "utf8_name"),
    [
        ("документ.pdf", "________.pdf", "%D0%B4%D0%BE%D0%BA%D1%83%D0%BC%D0%B5%D0%BD%D1%82.pdf"),
        ("a\\b\r\n%20c.pdf", "b_20c.pdf", "b%2520c.pdf"),  # path dropped, controls gone, % kept safe
        ("evil\u202egpj.exe", "evilgpj.pdf", "evilgpj.pdf"),  # the extension is the stored one
        ("x;y=1'.pdf", "x;y=1'.pdf", "x%3By%3D1%27.pdf"),
    ],
)
async def test_content_disposition_names(
    tmp_path: Path, original: str, ascii_name: str, utf8_name: str
) -> None:
    store = InMemoryFileStore()
    served = Served(store, await publish(store, b"%PDF-1.7", "pdf"), "application/pdf", original)
    async with AsyncTestClient(make_app(served)) as client:
        r = await client.get("/f")
    assert r.headers["content-disposition"] == (
        f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{utf8_name}"
    )


async def test_text_keeps_its_one_charset() -> None:
    store = InMemoryFileStore()
    served = Served(store, await publish(store, b"hello", "txt"), "text/plain; charset=utf-8", "a.txt")
    async with AsyncTestClient(make_app(served)) as client:
        r = await client.get("/f")
    assert r.headers.get_list("content-type") == ["text/plain; charset=utf-8"]
    assert r.headers["content-disposition"].startswith("attachment;")


async def test_download_response_opens_the_file_once_and_closes_it(
    client: AsyncTestClient[Litestar], served: Served
) -> None:
    r = await client.get("/f", headers={"Range": "bytes=1-2"})
    assert (r.status_code, r.content) == (206, BODY[1:3])
    assert served.opened == 1
    assert served.open_now == 0


async def test_a_missing_file_is_an_ordinary_404(client: AsyncTestClient[Litestar], served: Served) -> None:
    await served.store.delete(served.name)
    assert (await client.get("/f")).status_code == 404
    assert (await client.get("/opened")).status_code == 404
    assert served.open_now == 0


# --- the ASGI callable driven by hand: pathsend, disconnects, failing sends ---------------------


def scope(
    method: str = "GET", headers: dict[str, str] | None = None, pathsend: bool = True
) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": "/f",
        "raw_path": b"/f",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "extensions": {"http.response.pathsend": {}} if pathsend else {},
        "state": {},
    }


async def call(
    app: Litestar, asgi_scope: dict[str, Any], *, disconnect: bool = False, fail_after: int | None = None
) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []
    asked = 0

    async def receive() -> dict[str, Any]:
        nonlocal asked
        asked += 1
        if asked == 1:
            return {"type": "http.request", "body": b"", "more_body": False}
        if disconnect:
            return {"type": "http.disconnect"}
        await anyio.sleep_forever()
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        if fail_after is not None and len(sent) >= fail_after:
            raise OSError("connection reset")
        sent.append(message)

    await app(asgi_scope, receive, send)  # type: ignore[arg-type]
    return sent


@pytest.fixture
async def local_served(tmp_path: Path) -> Served:
    store = LocalFileStore(tmp_path)
    return Served(store, await publish(store, BODY, "png"))


async def test_a_whole_get_goes_by_pathsend_when_the_server_offers_it(local_served: Served) -> None:
    app = make_app(local_served)
    sent = await call(app, scope())
    assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"]
    assert sent[0]["status"] == 200
    assert (b"content-length", str(len(BODY)).encode()) in sent[0]["headers"]
    path = sent[1]["path"]
    assert path == str(local_served.store.root / local_served.name)  # type: ignore[attr-defined]
    assert Path(path).read_bytes() == BODY
    assert local_served.open_now == 0


async def test_a_range_of_the_whole_file_goes_by_pathsend_as_a_206(local_served: Served) -> None:
    app = make_app(local_served)
    for header in ("bytes=0-", f"bytes=-{len(BODY)}", f"bytes=0-{len(BODY) * 2}"):
        sent = await call(app, scope(headers={"Range": header}))
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.pathsend"], header
        assert sent[0]["status"] == 206
        headers = dict(sent[0]["headers"])
        assert headers[b"content-range"] == f"bytes 0-{len(BODY) - 1}/{len(BODY)}".encode()
        assert headers[b"content-length"] == str(len(BODY)).encode()
    short = await call(app, scope(headers={"Range": "bytes=1-"}))
    assert "http.response.pathsend" not in {m["type"] for m in short}
    assert b"".join(m.get("body", b"") for m in short[1:]) == BODY[1:]
    assert local_served.open_now == 0


async def test_ranges_and_servers_without_pathsend_are_streamed(local_served: Served) -> None:
    app = make_app(local_served)
    ranged = await call(app, scope(headers={"Range": "bytes=10-300009"}))
    assert ranged[0]["status"] == 206
    bodies = ranged[1:]
    assert {m["type"] for m in bodies} == {"http.response.body"}
    assert all(len(m["body"]) <= CHUNK_SIZE for m in bodies)
    assert [m["more_body"] for m in bodies] == [True] * (len(bodies) - 1) + [False]
    assert b"".join(m["body"] for m in bodies) == BODY[10:300010]
    plain = await call(app, scope(pathsend=False))
    assert b"".join(m.get("body", b"") for m in plain[1:]) == BODY
    assert "http.response.pathsend" not in {m["type"] for m in plain}
    assert local_served.open_now == 0


async def test_head_and_304_send_no_body_even_with_pathsend(local_served: Served) -> None:
    app = make_app(local_served)
    head = await call(app, scope("HEAD"))
    assert [m["type"] for m in head] == ["http.response.start", "http.response.body"]
    assert head[1] == {"type": "http.response.body", "body": b"", "more_body": False}
    cached = await call(app, scope(headers={"If-None-Match": f'"{SHA}"'}))
    assert cached[0]["status"] == 304
    assert cached[1]["body"] == b""


async def test_a_store_without_a_local_path_is_streamed_under_pathsend() -> None:
    store = InMemoryFileStore()
    served = Served(store, await publish(store, BODY, "png"))
    sent = await call(make_app(served), scope())
    assert "http.response.pathsend" not in {m["type"] for m in sent}
    assert b"".join(m.get("body", b"") for m in sent[1:]) == BODY


async def test_a_client_that_goes_away_stops_the_stream_and_the_file_is_closed(local_served: Served) -> None:
    sent = await call(make_app(local_served), scope(pathsend=False), disconnect=True)
    body = b"".join(m.get("body", b"") for m in sent[1:])
    assert len(body) < len(BODY)
    assert BODY.startswith(body)
    assert local_served.open_now == 0


async def test_a_failing_send_still_closes_the_file(local_served: Served) -> None:
    with pytest.raises(LitestarException, match="after response started") as caught:
        await call(make_app(local_served), scope(pathsend=False), fail_after=2)
    assert isinstance(caught.value.__cause__, OSError)
    assert local_served.open_now == 0
    with pytest.raises(StorageUnavailable):  # the descriptor is closed, not left for reuse
        await anext(local_served.seen[0].read(0, 1, 1))


async def test_with_accel_redirect_a_get_is_handed_to_nginx_with_no_body(local_served: Served) -> None:
    app = make_app(local_served, AccelRedirect("/_stored/"))
    nginx = {"X-Sendfile-Type": "X-Accel-Redirect"}
    whole = await call(app, scope(headers=nginx))
    ranged = await call(app, scope(headers={**nginx, "Range": "bytes=10-19"}))
    for sent, status, target in ((whole, 200, "whole"), (ranged, 206, "part")):
        assert [m["type"] for m in sent] == ["http.response.start", "http.response.body"]
        assert sent[0]["status"] == status
        headers = dict(sent[0]["headers"])
        assert headers[b"x-accel-redirect"] == f"/_stored/{target}/{local_served.name}".encode()
        assert headers[b"content-length"] == b"0"
        assert headers[b"etag"] == f'"{SHA}"'.encode()
        assert sent[1] == {"type": "http.response.body", "body": b"", "more_body": False}
    assert dict(ranged[0]["headers"])[b"content-range"] == f"bytes 10-19/{len(BODY)}".encode()
    head = await call(app, scope("HEAD", headers=nginx))
    assert b"x-accel-redirect" not in dict(head[0]["headers"])
    direct = await call(app, scope())  # not through nginx: the bytes, by pathsend
    assert [m["type"] for m in direct] == ["http.response.start", "http.response.pathsend"]
    assert dict(head[0]["headers"])[b"content-length"] == str(len(BODY)).encode()
    assert local_served.opened == 2  # HEAD's and the direct GET's: what nginx sends is not opened here
    assert local_served.open_now == 0


async def test_with_accel_redirect_an_open_file_off_this_disk_is_still_streamed() -> None:
    store = InMemoryFileStore()
    served = Served(store, await publish(store, BODY, "png"))
    sent = await call(
        make_app(served, AccelRedirect("/_stored/")),
        {**scope(headers={"X-Sendfile-Type": "X-Accel-Redirect"}), "path": "/opened", "raw_path": b"/opened"},
    )
    assert b"x-accel-redirect" not in dict(sent[0]["headers"])
    assert b"".join(m.get("body", b"") for m in sent[1:]) == BODY
