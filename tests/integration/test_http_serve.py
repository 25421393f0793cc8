"""`GET/HEAD /api/v1/media/files/{filename}` through the real app (SQLite and a real uploads folder):
the bytes and every download header security.md lists, ranges, validators, HEAD, what a non-member
and an odd name are told, and every id-taking route tried by someone it does not belong to (IDOR).

test_file_response.py shows the response class on a toy app; this file shows the route as a chat
app's client meets it, with real uploaded files."""

from __future__ import annotations

import hashlib
import io
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests import photos, samples
from tests.integration.http_fixtures import Api, bearer, new_id, unsigned

FILES = "/api/v1/media/files"
CSP = "sandbox; default-src 'none'; media-src 'self'; style-src 'unsafe-inline'"

# extension -> (the sniffed Content-Type, inline or attachment)
SERVED_AS = {
    "jpg": ("image/jpeg", "inline"),
    "png": ("image/png", "inline"),
    "gif": ("image/gif", "inline"),
    "webp": ("image/webp", "inline"),
    "mp4": ("video/mp4", "inline"),
    "webm": ("video/webm", "inline"),
    "mov": ("video/quicktime", "inline"),
    "pdf": ("application/pdf", "attachment"),
    "txt": ("text/plain; charset=utf-8", "attachment"),
    "zip": ("application/zip", "attachment"),
    "bmp": ("image/bmp", "attachment"),
    "avi": ("video/x-msvideo", "attachment"),
    "mkv": ("video/x-matroska", "attachment"),
    "docx": ("application/vnd.openxmlformats-officedocument.wordprocessingml.document", "attachment"),
}

# Sent on every answer that carries (or describes) the file: 200, 206, 416, 304 and HEAD.
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": CSP,
    "referrer-policy": "no-referrer",
    "cross-origin-resource-policy": "same-site",
    "x-robots-tag": "noindex",
    "accept-ranges": "bytes",
}


@dataclass
class Shared:
    """One file alice shared with bob in a group; mallory is in no conversation with them."""

    conversation: dict[str, Any]
    message: dict[str, Any]
    attachment: dict[str, Any]
    body: bytes

    @property
    def url(self) -> str:
        return str(self.attachment["url"])

    @property
    def etag(self) -> str:
        return f'"{hashlib.sha256(self.body).hexdigest()}"'


async def share(api: Api, name: str, body: bytes) -> Shared:
    group = await api.conversation("alice", ["bob"])
    message = await api.message("alice", group["id"])
    r = await api.upload("alice", message["id"], (name, body))
    assert r.status_code == 201, r.text
    [attachment] = r.json()
    # What is served is what is stored: the upload itself, or for an image, the upload without its
    # metadata, for a video its remux without its tags (test_media_processing.py and
    # test_video_scrub.py show what goes).
    stored = (api.upload_dir / attachment["filename"]).read_bytes()
    assert hashlib.sha256(stored).hexdigest() == attachment["sha256"]
    assert len(stored) == attachment["size"]
    if attachment["kind"] == "document" or attachment.get("scrubbed") is False:
        assert stored == body
    return Shared(group, message, attachment, stored)


def assert_security_headers(r: httpx.Response, etag: str) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert r.headers.get_list(name) == [value], name
    cache = r.headers["cache-control"]
    assert cache.split(",")[0].strip() == "private", cache
    assert "public" not in cache.lower()
    assert r.headers["etag"] == etag


def unknown_name(ext: str = "png") -> str:
    return f"{FILES}/{uuid.uuid4()}.{ext}"


def same_answer(a: httpx.Response, b: httpx.Response) -> None:
    """Byte-identical to the client: status, body and every header (aside from the Date and the
    upload rate limiter's count, which moves with every upload whoever asks)."""
    assert a.status_code == b.status_code
    assert a.content == b.content
    assert a.headers.get("content-type") == b.headers.get("content-type")

    def headers(r: httpx.Response) -> list[tuple[str, str]]:
        return sorted(
            (k, v) for k, v in r.headers.multi_items() if k != "date" and not k.startswith("ratelimit-")
        )

    assert headers(a) == headers(b)


# ---- the bytes and the headers ---------------------------------------------------------------------


@pytest.mark.parametrize("ext", sorted(SERVED_AS))
async def test_a_member_downloads_the_exact_bytes_with_every_download_header(api: Api, ext: str) -> None:
    body = samples.sample(ext, size=4096)
    before = datetime.now(UTC).replace(microsecond=0)
    shared = await share(api, f"file.{ext}", body)
    body = shared.body  # the stored bytes (an image's without its metadata)
    content_type, disposition = SERVED_AS[ext]
    assert shared.attachment["content_type"] == content_type

    r = await api.client.get(shared.url, headers=bearer("bob"))

    assert r.status_code == 200
    assert r.content == body
    assert r.headers.get_list("content-type") == [content_type]
    assert r.headers["content-length"] == str(len(body))
    assert r.headers["content-disposition"] == (
        f"{disposition}; filename=\"file.{ext}\"; filename*=UTF-8''file.{ext}"
    )
    assert_security_headers(r, f'"{hashlib.sha256(body).hexdigest()}"')
    assert r.headers["etag"] == f'"{shared.attachment["sha256"]}"'  # strong: no W/
    modified = parsedate_to_datetime(r.headers["last-modified"])
    assert before - timedelta(seconds=2) <= modified <= datetime.now(UTC) + timedelta(seconds=2)
    assert "content-range" not in r.headers
    assert "set-cookie" not in r.headers


async def test_the_uploader_downloads_too_and_both_members_get_the_same_answer(api: Api) -> None:
    shared = await share(api, "a.png", samples.sample("png"))
    alice = await api.client.get(shared.url, headers=bearer("alice"))
    bob = await api.client.get(shared.url, headers=bearer("bob"))
    same_answer(alice, bob)
    assert alice.content == shared.body


@pytest.mark.parametrize(
    ("original", "kind", "fallback", "utf8"),
    [
        ("Фото отпуска.jpg", "inline", "____ _______.jpg", quote("Фото отпуска.jpg", safe="")),
        ("résumé final.pdf", "attachment", "resume final.pdf", "r%C3%A9sum%C3%A9%20final.pdf"),
        ("日本語.txt", "attachment", "___.txt", "%E6%97%A5%E6%9C%AC%E8%AA%9E.txt"),
        ('say "hi" 100%.zip', "attachment", "say hi 100_.zip", "say%20hi%20100%25.zip"),
    ],
)
async def test_a_non_ascii_original_name_is_sent_as_filename_star_with_an_ascii_fallback(
    api: Api, original: str, kind: str, fallback: str, utf8: str
) -> None:
    ext = original.rsplit(".", 1)[1]
    shared = await share(api, original, samples.sample(ext))
    r = await api.client.get(shared.url, headers=bearer("bob"))
    assert r.status_code == 200
    disposition = r.headers["content-disposition"]
    assert disposition == f"{kind}; filename=\"{fallback}\"; filename*=UTF-8''{utf8}"
    assert disposition.isascii()
    # What the header's filename* decodes to is the name shown in the JSON.
    assert httpx.QueryParams(f"x={utf8}")["x"] == shared.attachment["original_name"]


# ---- ranges ------------------------------------------------------------------------------------------


@pytest.fixture
async def video(api: Api) -> Shared:
    return await share(api, "clip.mp4", photos.sizable_video(800_000))  # ranges in it


async def test_one_range_is_a_206_with_its_content_range(api: Api, video: Shared) -> None:
    size = len(video.body)
    cases = {
        "bytes=0-0": (0, 1),
        "bytes=100-299999": (100, 300_000),
        f"bytes={size - 10}-": (size - 10, size),
        f"bytes=5-{size * 10}": (5, size),  # clamped to the end
    }
    for header, (start, end) in cases.items():
        r = await api.client.get(video.url, headers={**bearer("bob"), "Range": header})
        assert r.status_code == 206, header
        assert r.content == video.body[start:end], header
        assert r.headers["content-range"] == f"bytes {start}-{end - 1}/{size}"
        assert r.headers["content-length"] == str(end - start)
        assert r.headers["content-type"] == "video/mp4"
        assert_security_headers(r, video.etag)


async def test_a_suffix_range_is_the_last_bytes(api: Api, video: Shared) -> None:
    size = len(video.body)
    r = await api.client.get(video.url, headers={**bearer("bob"), "Range": "bytes=-500"})
    assert r.status_code == 206
    assert r.content == video.body[-500:]
    assert r.headers["content-range"] == f"bytes {size - 500}-{size - 1}/{size}"
    longer = await api.client.get(video.url, headers={**bearer("bob"), "Range": f"bytes=-{size * 2}"})
    assert longer.status_code == 206
    assert longer.content == video.body
    assert longer.headers["content-range"] == f"bytes 0-{size - 1}/{size}"


@pytest.mark.parametrize(
    "header", ["bytes={size}-", "bytes={size}-{bigger}", "bytes=-0", "bytes=99999999999-"]
)
async def test_an_unsatisfiable_range_is_a_416_with_the_size(api: Api, video: Shared, header: str) -> None:
    size = len(video.body)
    r = await api.client.get(
        video.url, headers={**bearer("bob"), "Range": header.format(size=size, bigger=size + 100)}
    )
    assert r.status_code == 416
    assert r.content == b""
    assert r.headers["content-range"] == f"bytes */{size}"
    assert r.headers["content-length"] == "0"
    assert_security_headers(r, video.etag)


@pytest.mark.parametrize(
    "header",
    [
        "bytes=0-1,5-6",  # many
        "bytes=0-99,50-149,100-199",  # overlapping
        ",".join(["bytes=0-0"] + ["0-0"] * 200),  # a costly multipart would be 200 parts
        "bytes=500-100",  # inverted
        "bytes=0-10, -5",
        "items=0-10",
        "bytes=abc",
    ],
)
async def test_many_overlapping_or_inverted_ranges_get_the_whole_file_never_multipart(
    api: Api, video: Shared, header: str
) -> None:
    r = await api.client.get(video.url, headers={**bearer("bob"), "Range": header})
    assert r.status_code == 200
    assert r.content == video.body
    assert r.headers["content-type"] == "video/mp4"
    assert "multipart" not in r.headers["content-type"]
    assert "content-range" not in r.headers
    assert r.headers["content-length"] == str(len(video.body))


async def test_two_range_fields_get_the_whole_file(api: Api, video: Shared) -> None:
    r = await api.client.get(
        video.url,
        headers=[*bearer("bob").items(), ("Range", "bytes=0-9"), ("Range", "bytes=20-29")],
    )
    assert r.status_code == 200
    assert r.content == video.body


# ---- validators ----------------------------------------------------------------------------------


async def test_a_matching_if_none_match_is_a_304_with_no_body(api: Api, video: Shared) -> None:
    first = await api.client.get(video.url, headers=bearer("bob"))
    for inm in (first.headers["etag"], f'"nope", {first.headers["etag"]}', f"W/{first.headers['etag']}", "*"):
        r = await api.client.get(video.url, headers={**bearer("bob"), "If-None-Match": inm})
        assert r.status_code == 304, inm
        assert r.content == b""
        assert r.headers["etag"] == video.etag
        assert r.headers["cache-control"] == first.headers["cache-control"]
        assert "content-range" not in r.headers
    ranged = await api.client.get(
        video.url, headers={**bearer("bob"), "If-None-Match": video.etag, "Range": "bytes=0-9"}
    )
    assert (ranged.status_code, ranged.content) == (304, b"")
    stale = await api.client.get(video.url, headers={**bearer("bob"), "If-None-Match": '"something-else"'})
    assert (stale.status_code, stale.content) == (200, video.body)


async def test_if_range_with_a_stale_validator_gets_the_whole_file(api: Api, video: Shared) -> None:
    fresh = await api.client.get(
        video.url, headers={**bearer("bob"), "Range": "bytes=0-9", "If-Range": video.etag}
    )
    assert (fresh.status_code, fresh.content) == (206, video.body[:10])
    last_modified = fresh.headers["last-modified"]
    by_date = await api.client.get(
        video.url, headers={**bearer("bob"), "Range": "bytes=0-9", "If-Range": last_modified}
    )
    assert (by_date.status_code, by_date.content) == (206, video.body[:10])
    for stale in ('"0000"', f"W/{video.etag}", "Sat, 01 Jan 2000 00:00:00 GMT", "garbage"):
        r = await api.client.get(
            video.url, headers={**bearer("bob"), "Range": "bytes=0-9", "If-Range": stale}
        )
        assert r.status_code == 200, stale
        assert r.content == video.body
        assert "content-range" not in r.headers


# ---- HEAD ----------------------------------------------------------------------------------------


async def test_head_has_the_headers_of_a_get_and_no_body(api: Api) -> None:
    shared = await share(api, "notes.txt", samples.sample("txt"))
    get = await api.client.get(shared.url, headers=bearer("bob"))
    head = await api.client.head(shared.url, headers=bearer("bob"))
    assert head.status_code == 200
    assert head.content == b""
    assert sorted(head.headers.multi_items()) == sorted(get.headers.multi_items())
    assert head.headers["content-length"] == str(len(shared.body))
    ranged = await api.client.head(shared.url, headers={**bearer("bob"), "Range": "bytes=2-5"})
    assert (ranged.status_code, ranged.content) == (206, b"")
    assert ranged.headers["content-range"] == f"bytes 2-5/{len(shared.body)}"
    assert_security_headers(ranged, shared.etag)
    cached = await api.client.head(shared.url, headers={**bearer("bob"), "If-None-Match": shared.etag})
    assert (cached.status_code, cached.content) == (304, b"")


# ---- who may see it --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"Range": "bytes=0-9"},
        {"Range": "bytes=999999-"},  # a 416 would tell the size
        {"If-None-Match": "*"},  # a 304 would tell the file exists
        {"If-Range": "garbage", "Range": "bytes=0-1"},
    ],
)
@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_a_non_member_is_answered_exactly_as_for_an_unknown_name(
    api: Api, method: str, extra: dict[str, str]
) -> None:
    shared = await share(api, "a.png", samples.sample("png"))
    headers = {**bearer("mallory"), **extra}
    if "If-None-Match" in extra:
        headers["If-None-Match"] = shared.etag
    outsider = await api.client.request(method, shared.url, headers=headers)
    unknown = await api.client.request(method, unknown_name("png"), headers=headers)
    same_answer(outsider, unknown)
    assert outsider.status_code == 404
    assert shared.body not in outsider.content
    if method == "GET":
        assert outsider.json() == {"status_code": 404, "detail": outsider.json()["detail"]}


async def test_the_same_uuid_with_another_extension_is_unknown(api: Api) -> None:
    shared = await share(api, "a.png", samples.sample("png"))
    stem = shared.attachment["filename"].rsplit(".", 1)[0]
    for ext in ("jpg", "gif", "txt"):
        r = await api.client.get(f"{FILES}/{stem}.{ext}", headers=bearer("alice"))
        same_answer(r, await api.client.get(unknown_name(ext), headers=bearer("alice")))
        assert r.status_code == 404


# ---- odd names --------------------------------------------------------------------------------------


ODD_NAMES = [
    "..%2F..%2Fetc%2Fpasswd",
    "..%2F..%2Fsecret.png",
    "..%2Fservice.db",
    "%2e%2e",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "..%5C..%5Csecret.png",
    "x.png%00.jpg",
    "{stem}.png%00.jpg",
    "{stem}.png%00",
    "{stem}.png%20",
    "%20{stem}.png",
    "{STEM}.png",  # upper-case UUID of a stored file
    "{stem}.PNG",
    "{stem}",
    "{uuid1}.png",  # a UUID of another version than the ones the service gives
    ".staging",
    ".staging%2F{stem}.png",
    "%2Estaging%2F{stem}.png.part",
    "{stem}.png.",
    "%C3%A9t%C3%A9.png",
    "a" * 4000 + ".png",
    "%ff%fe.png",
]


@pytest.mark.parametrize("odd", ODD_NAMES)
async def test_traversal_and_odd_names_are_404_never_500(api: Api, odd: str) -> None:
    shared = await share(api, "a.png", samples.sample("png"))
    # Something worth stealing next to the store, and a stray copy of the file in staging.
    (api.upload_dir.parent / "secret.png").write_bytes(b"TOP SECRET")
    stem = shared.attachment["filename"].rsplit(".", 1)[0]
    (api.upload_dir / ".staging" / f"{stem}.png").write_bytes(shared.body)
    name = odd.format(stem=stem, STEM=stem.upper(), uuid1=uuid.uuid1())
    for method in ("GET", "HEAD"):
        r = await api.client.request(method, f"{FILES}/{name}", headers=bearer("alice"))
        assert r.status_code == 404, (method, name, r.status_code, r.text)
        assert b"TOP SECRET" not in r.content
        assert b"root:" not in r.content
        assert shared.body not in r.content
        if method == "GET":
            assert r.json()["status_code"] == 404
    # The real name still works: the 404s above came from the names, not from a broken store.
    assert (await api.client.get(shared.url, headers=bearer("alice"))).content == shared.body


# ---- IDOR: every id-taking route, tried by someone it does not belong to ---------------------------


@dataclass
class TwoRooms:
    """Conversation A (alice, bob) and conversation C (carol, dave), each with a message and a file."""

    a: dict[str, Any]
    a_message: dict[str, Any]
    a_file: dict[str, Any]
    c: dict[str, Any]
    c_message: dict[str, Any]
    c_file: dict[str, Any]


@pytest.fixture
async def rooms(api: Api) -> TwoRooms:
    a = await api.conversation("alice", ["bob"])
    a_message = await api.message("alice", a["id"], "in A")
    [a_file] = (await api.upload("alice", a_message["id"], ("a.png", samples.sample("png")))).json()
    c = await api.conversation("carol", ["dave"])
    c_message = await api.message("carol", c["id"], "in C")
    r = await api.upload("carol", c_message["id"], ("c.pdf", samples.sample("pdf")))
    assert r.status_code == 201, r.text
    [c_file] = r.json()
    return TwoRooms(a, a_message, a_file, c, c_message, c_file)


def upload_request(message_id: str) -> dict[str, Any]:
    return {
        "data": {"message_id": message_id},
        "files": [("file", ("x.png", io.BytesIO(samples.sample("png")), "image/png"))],
    }


# (name, method, path template, request kwargs template): `{id}` is C's id of the right kind, or an
# unknown one; `{a}` is A's id, which the caller may use.
IDOR_ROUTES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("serve", "GET", FILES + "/{file}", {}),
    ("serve-head", "HEAD", FILES + "/{file}", {}),
    ("serve-range", "GET", FILES + "/{file}", {"headers": {"Range": "bytes=0-3"}}),
    ("media-of-message", "GET", "/api/v1/media/message/{message}", {}),
    ("delete-media", "DELETE", "/api/v1/media/{media}", {}),
    ("delete-message", "DELETE", "/api/v1/messages/{message}", {}),
    ("conversation", "GET", "/api/v1/conversations/{conversation}", {}),
    ("history", "GET", "/api/v1/conversations/{conversation}/messages", {}),
    ("post-message", "POST", "/api/v1/conversations/{conversation}/messages", {"json": {"content": "hi"}}),
    (
        "add-self",
        "POST",
        "/api/v1/conversations/{conversation}/members",
        {"json": {"member_ids": ["alice"]}},
    ),
    ("upload-to", "POST", "/api/v1/media/upload", {"upload": "{message}"}),
    ("history-anchor", "GET", "/api/v1/conversations/{a}/messages", {"params": {"before": "{message}"}}),
    (
        "attach-foreign-file",
        "POST",
        "/api/v1/conversations/{a}/messages",
        {"json": {"content": "look", "attachment_ids": ["{media}"]}},
    ),
]


def fill(template: Any, ids: dict[str, str]) -> Any:
    if isinstance(template, str):
        return template.format(**ids)
    if isinstance(template, dict):
        return {k: fill(v, ids) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, ids) for v in template]
    return template


async def call(api: Api, method: str, path: str, kwargs: dict[str, Any], user: str) -> httpx.Response:
    kwargs = dict(kwargs)
    headers = {**bearer(user), **kwargs.pop("headers", {})}
    if "upload" in kwargs:
        kwargs.update(upload_request(kwargs.pop("upload")))
    return await api.client.request(method, path, headers=headers, **kwargs)


@pytest.mark.parametrize(("route", "method", "path", "kwargs"), IDOR_ROUTES, ids=[r[0] for r in IDOR_ROUTES])
async def test_every_id_of_conversation_c_is_unknown_to_a_member_of_a(
    api: Api, rooms: TwoRooms, route: str, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    theirs = {
        "a": rooms.a["id"],
        "conversation": rooms.c["id"],
        "message": rooms.c_message["id"],
        "media": rooms.c_file["id"],
        "file": rooms.c_file["filename"],
    }
    unknown = {
        "a": rooms.a["id"],
        "conversation": new_id(),
        "message": new_id(),
        "media": new_id(),
        "file": f"{uuid.uuid4()}.pdf",
    }
    files_before = api.stored_files()
    outsider = await call(api, method, fill(path, theirs), fill(kwargs, theirs), "alice")
    nobody = await call(api, method, fill(path, unknown), fill(kwargs, unknown), "alice")

    assert outsider.status_code in (404, 422), (route, outsider.status_code, outsider.text)
    if route != "attach-foreign-file":  # naming ids in a body may be a 422 for unknown ids alike
        assert outsider.status_code == 404, (route, outsider.text)
    same_answer(outsider, nobody)
    # Nothing of C changed, and nothing of it reached A.
    assert api.stored_files() == files_before
    c_media = await api.client.get(f"/api/v1/media/message/{rooms.c_message['id']}", headers=bearer("dave"))
    assert [unsigned(a) for a in c_media.json()] == [unsigned(rooms.c_file)]
    c_now = await api.client.get(f"/api/v1/conversations/{rooms.c['id']}", headers=bearer("carol"))
    assert c_now.json()["member_ids"] == ["carol", "dave"]
    c_history = await api.client.get(
        f"/api/v1/conversations/{rooms.c['id']}/messages", headers=bearer("carol")
    )
    assert [m["id"] for m in c_history.json()] == [rooms.c_message["id"]]
    a_history = await api.client.get(f"/api/v1/conversations/{rooms.a['id']}/messages", headers=bearer("bob"))
    for message in a_history.json():
        assert rooms.c_file["id"] not in {a["id"] for a in message["attachments"]}
    assert (await api.client.get(rooms.c_file["url"], headers=bearer("bob"))).status_code == 404


async def test_the_members_of_c_still_have_their_file(api: Api, rooms: TwoRooms) -> None:
    """The control for the IDOR test: the ids it tries are live ones."""
    for user in ("carol", "dave"):
        r = await api.client.get(rooms.c_file["url"], headers=bearer(user))
        assert (r.status_code, r.content) == (200, samples.sample("pdf"))
    listed = await api.client.get(f"/api/v1/media/message/{rooms.c_message['id']}", headers=bearer("dave"))
    assert [unsigned(a) for a in listed.json()] == [unsigned(rooms.c_file)]
    assert (await api.client.get(rooms.a_file["url"], headers=bearer("carol"))).status_code == 404
