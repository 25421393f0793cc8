"""The web client's build served at `/` beside the API: no token, its caching and security headers,
nothing outside WEB_DIR, and the API exactly as it was (its misses JSON 404s, its auth in place)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from entrypoints import cli, server
from entrypoints.app import create_app
from entrypoints.http.web import CONTENT_SECURITY_POLICY
from entrypoints.settings import Settings
from tests.integration.http_fixtures import SECRET, bearer

INDEX = b"<!doctype html><html><body><div id='root'></div><script src='/assets/app-abc123.js'></script>"
SCRIPT = b"console.log('chat');"
LOOT = b"TOP SECRET outside the build"
PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


def directives(cache_control: str | None) -> set[str]:
    return {d.strip() for d in (cache_control or "").split(",") if d.strip()}


@pytest.fixture
def dist(tmp_path: Path) -> Path:
    """A Vite build in repo/web/dist, with something worth stealing at every level above it."""
    dist = tmp_path / "repo" / "web" / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_bytes(INDEX)
    (dist / "assets" / "app-abc123.js").write_bytes(SCRIPT)
    for above in (dist.parent, dist.parent.parent, tmp_path):
        (above / "pyproject.toml").write_bytes(LOOT)
        (above / "etc").mkdir(exist_ok=True)
        (above / "etc" / "passwd").write_bytes(LOOT)
    return dist


@pytest.fixture
async def web(settings: Settings, dist: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(create_app(replace(settings, web_dir=dist)), timeout=30) as client:
        yield client


async def test_the_page_is_served_at_the_root_without_a_token(web: AsyncTestClient[Litestar]) -> None:
    r = await web.get("/")
    assert r.status_code == 200
    assert r.content == INDEX
    assert r.headers["content-type"].startswith("text/html")
    assert directives(r.headers.get("cache-control")) == {"no-cache"}
    for name, value in PAGE_HEADERS.items():
        assert r.headers.get(name) == value, name


async def test_hashed_assets_are_kept_for_a_year(web: AsyncTestClient[Litestar]) -> None:
    r = await web.get("/assets/app-abc123.js")
    assert r.status_code == 200
    assert r.content == SCRIPT
    assert r.headers["content-type"].split(";")[0] in ("text/javascript", "application/javascript")
    assert directives(r.headers.get("cache-control")) == {"public", "max-age=31536000", "immutable"}
    assert r.headers.get("x-content-type-options") == "nosniff"


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
@pytest.mark.parametrize("path", ["/api/v1/nope", "/api/nope", "/api/v1/conversations/x/nope", "/api"])
async def test_an_unknown_api_path_is_still_a_json_404(
    web: AsyncTestClient[Litestar], method: str, path: str
) -> None:
    r = await web.request(method, path, headers=bearer("alice"))
    assert r.status_code == 404, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert r.json()["status_code"] == 404
    assert INDEX not in r.content


async def test_the_api_keeps_its_auth_and_answers_as_before(web: AsyncTestClient[Litestar]) -> None:
    assert (await web.get("/api/v1/conversations")).status_code == 401
    r = await web.get("/api/v1/conversations", headers=bearer("alice"))
    assert r.status_code == 200, r.text
    assert "content-security-policy" not in r.headers  # the page's headers stay on the page
    assert (await web.get("/health")).json() == {"status": "ok"}
    assert (await web.get("/schema/openapi.json")).json()["info"]["title"] == "Chat media service"


async def test_without_a_build_the_root_is_404_and_the_api_works(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = tmp_path / "not-built"
    empty.mkdir()
    (empty / "assets").mkdir()
    with caplog.at_level(logging.WARNING, logger="entrypoints.app"):
        app = create_app(replace(settings, web_dir=empty))
    told = [r.getMessage() for r in caplog.records if "make web" in r.getMessage()]
    assert len(told) == 1
    assert str(empty) in told[0]
    async with AsyncTestClient(app, timeout=30) as client:
        r = await client.get("/")
        assert r.status_code == 404
        assert r.json()["status_code"] == 404
        assert (await client.get("/api/v1/conversations")).status_code == 401
        assert (await client.get("/api/v1/conversations", headers=bearer("alice"))).status_code == 200


async def raw_get(app: Any, path: str) -> tuple[int, bytes]:
    """A GET of `path` exactly as written: httpx would remove its dot segments before sending,
    which a client such as `curl --path-as-is` does not."""
    answer: dict[str, Any] = {"status": None, "body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        elif message["type"] == "http.response.body":
            answer["body"] += message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "client": ("127.0.0.1", 1234),
        "server": ("testserver", 80),
        "state": {},
    }
    await app(scope, receive, send)
    return answer["status"], answer["body"]


@pytest.mark.parametrize(
    "path",
    [
        "/../../pyproject.toml",
        "/assets/../../pyproject.toml",
        "/assets/../../../pyproject.toml",
        "/../../etc/passwd",
        "/assets/../../etc/passwd",
        "/../../../../../../../../etc/passwd",
    ],
)
async def test_dot_segments_reach_nothing_outside_the_build(
    web: AsyncTestClient[Litestar], path: str
) -> None:
    assert await raw_get(web.app, "/assets/app-abc123.js") == (200, SCRIPT)  # the way in works
    status, body = await raw_get(web.app, path)
    assert status == 404, (path, status, body)
    assert LOOT not in body
    assert b"root:" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/..%2f..%2fetc/passwd",
        "/..%2f..%2fpyproject.toml",
        "/assets/..%2f..%2f..%2fpyproject.toml",
        "/%2e%2e/etc/passwd",
    ],
)
async def test_encoded_traversal_reaches_nothing_outside_the_build(
    web: AsyncTestClient[Litestar], path: str
) -> None:
    r = await web.get(path)
    assert r.status_code == 404, (path, r.text)
    assert LOOT not in r.content
    assert b"root:" not in r.content


# ---- chat-media serve: the sign-in URL --------------------------------------------------------


class NoServer:
    def __init__(self, *_: object, **__: object) -> None: ...

    def serve(self) -> None: ...


@pytest.fixture
def serve_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sqlite_url: str) -> pytest.MonkeyPatch:
    monkeypatch.chdir(tmp_path)  # no .env of the checkout
    monkeypatch.setattr(server, "GracefulGranian", NoServer)
    for name, value in {
        "DATABASE_URL": sqlite_url,
        "UPLOAD_DIR": str(tmp_path / "uploads"),
        "JWT_SECRET": SECRET,
        "MEDIA_URL_SECRET": "m" * 40,
    }.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


def test_serve_prints_the_sign_in_url_when_the_client_is_built(
    serve_env: pytest.MonkeyPatch, dist: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_env.setenv("WEB_DIR", str(dist))
    cli.main(["serve", "--host", "127.0.0.1", "--port", "8123", "--user", "alice"])
    out = capsys.readouterr().out
    token = out.split("(valid 24 h):\n  ", 1)[1].split("\n", 1)[0]
    assert f"http://127.0.0.1:8123/#token={token}" in out
    assert "make web" not in out


def test_serve_says_how_to_build_the_client_when_it_is_not(
    serve_env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serve_env.setenv("WEB_DIR", str(tmp_path / "nothing-here"))
    cli.main(["serve", "--host", "127.0.0.1", "--port", "8123"])
    out = capsys.readouterr().out
    assert "#token=" not in out
    assert "make web" in out
