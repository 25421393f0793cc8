"""Signed media URLs through the real app: what a browser's `<img>`, `<video>` and `<a download>`
get with no Authorization header, everything a forger or a leaver meets, re-signing, the policy a
client validates against, and CORS for a web client on another origin."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from litestar.testing import AsyncTestClient

from adapters.memory import RecordingBroadcaster
from entrypoints.app import create_app
from entrypoints.http.signed_urls import MediaUrlSigner
from entrypoints.settings import Settings
from tests import photos, samples
from tests.integration.http_fixtures import Api, bearer, new_id, plain

URL_KEY = "media-url-key-" + "m" * 40
OLD_URL_KEY = "old-media-url-key-" + "o" * 40
FILES = "/api/v1/media/files"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, media_url_secret=URL_KEY)


async def shared_photo(api: Api) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    """alice shares a photo with bob; carol is in no conversation with them."""
    group = await api.conversation("alice", ["bob"])
    message = await api.message("alice", group["id"])
    body = photos.png(64, 48)
    r = await api.upload("alice", message["id"], ("photo.png", body))
    assert r.status_code == 201, r.text
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    [attachment] = listed.json()
    stored = (api.upload_dir / attachment["filename"]).read_bytes()
    return group, attachment, stored


def with_query(url: str, params: dict[str, list[str]]) -> str:
    return f"{plain(url)}?{urlencode(params, doseq=True)}"


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


async def unknown_answer(api: Api, method: str = "GET") -> tuple[int, bytes]:
    """What any stranger is told about a file that does not exist."""
    r = await api.client.request(method, f"{FILES}/{new_id()}.png", headers=bearer("bob"))
    return r.status_code, r.content


async def test_a_signed_url_opens_the_file_with_no_header_for_get_head_ranges_and_validators(
    api: Api,
) -> None:
    _, attachment, stored = await shared_photo(api)
    url = attachment["url"]
    assert query(url)["u"] == ["bob"]

    whole = await api.client.get(url)
    assert (whole.status_code, whole.content) == (200, stored)
    by_bearer = await api.client.get(plain(url), headers=bearer("bob"))
    # The same answer as the bearer header's, but for how long a browser may keep it.
    same = {k: v for k, v in by_bearer.headers.items() if k not in ("cache-control", "date")}
    assert {k: v for k, v in whole.headers.items() if k in same} == same
    assert whole.headers["referrer-policy"] == "no-referrer"

    head = await api.client.head(url)
    assert (head.status_code, head.content, head.headers["content-length"]) == (200, b"", str(len(stored)))
    part = await api.client.get(url, headers={"Range": "bytes=0-7"})
    assert (part.status_code, part.content) == (206, stored[:8])
    assert part.headers["content-range"] == f"bytes 0-7/{len(stored)}"
    past = await api.client.get(url, headers={"Range": f"bytes={len(stored)}-"})
    assert past.status_code == 416
    etag = whole.headers["etag"]
    assert etag == f'"{hashlib.sha256(stored).hexdigest()}"'
    assert (await api.client.get(url, headers={"If-None-Match": etag})).status_code == 304
    stale = await api.client.get(url, headers={"Range": "bytes=0-7", "If-Range": '"another"'})
    assert (stale.status_code, stale.content) == (200, stored)

    thumbnail = await api.client.get(attachment["thumbnail_url"])
    assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/webp")


async def test_a_browser_keeps_a_signed_answer_no_longer_than_the_url_lives(api: Api) -> None:
    _, attachment, _ = await shared_photo(api)
    exp = int(query(attachment["url"])["exp"][0])
    r = await api.client.get(attachment["url"])
    kind, _, age = r.headers["cache-control"].partition(", max-age=")
    assert kind == "private"
    assert 0 < int(age) <= exp - time.time() + 1
    # The bearer path keeps its own day.
    assert (await api.client.get(plain(attachment["url"]), headers=bearer("bob"))).headers[
        "cache-control"
    ] == "private, max-age=86400"
    assert attachment["urls_expire_at"].startswith(time.strftime("%Y-%m-%d", time.gmtime(exp)))


def tampered(url: str) -> dict[str, str]:
    q = {k: v[0] for k, v in query(url).items()}
    exp, user, sig = q["exp"], q["u"], q["sig"]
    other = "B" if sig[0] != "B" else "C"
    base = plain(url)

    def qs(**params: str | list[str]) -> str:
        return f"{base}?{urlencode(params, doseq=True)}"

    return {
        "viewer": qs(exp=exp, u="carol", sig=sig),
        "expiry": qs(exp=str(int(exp) + 3600), u=user, sig=sig),
        "signature": qs(exp=exp, u=user, sig=other + sig[1:]),
        "truncated": qs(exp=exp, u=user, sig=sig[:20]),
        "no-sig": qs(exp=exp, u=user),
        "no-exp": qs(u=user, sig=sig),
        "no-u": qs(exp=exp, sig=sig),
        "sig-twice": qs(exp=exp, u=user, sig=[sig, sig]),
        "u-twice": qs(exp=exp, u=[user, user], sig=sig),
        "exp-twice": qs(exp=[exp, exp], u=user, sig=sig),
        "another-file": f"{FILES}/{new_id()}.png?exp={exp}&u={user}&sig={sig}",
        "empty": f"{base}?exp=&u=&sig=",
    }


@pytest.mark.parametrize("method", ["GET", "HEAD"])
async def test_every_tampered_url_is_the_unknown_names_404(api: Api, method: str) -> None:
    _, attachment, _ = await shared_photo(api)
    expected = await unknown_answer(api, method)
    assert expected[0] == 404
    for case, url in tampered(attachment["url"]).items():
        r = await api.client.request(method, url)
        assert (r.status_code, r.content) == expected, case
        ranged = await api.client.request(method, url, headers={"Range": "bytes=0-3"})
        assert (ranged.status_code, ranged.content) == expected, case
    # The untouched URL still works: the cases above failed for what they changed.
    assert (await api.client.request(method, attachment["url"])).status_code == 200


async def test_a_thumbnail_signature_opens_no_file_and_a_files_opens_no_thumbnail(api: Api) -> None:
    _, attachment, _ = await shared_photo(api)
    file_query = urlsplit(attachment["url"]).query
    thumb_query = urlsplit(attachment["thumbnail_url"]).query
    expected = await unknown_answer(api)
    for url in (
        f"{plain(attachment['thumbnail_url'])}?{file_query}",
        f"{plain(attachment['url'])}?{thumb_query}",
    ):
        r = await api.client.get(url)
        assert (r.status_code, r.content) == expected


async def test_an_expired_url_or_one_signed_for_someone_who_may_not_see_the_file_is_the_404(
    api: Api,
) -> None:
    _, attachment, _ = await shared_photo(api)
    path = plain(attachment["url"])
    expected = await unknown_answer(api)
    signer = MediaUrlSigner(URL_KEY)
    expired = f"{path}?{signer.query('bob', path, int(time.time()) - 1)}"
    for_carol = signer.for_viewer("carol").link(path)  # a true signature, for a non-member
    for url in (expired, for_carol):
        r = await api.client.get(url)
        assert (r.status_code, r.content) == expected
    # A URL signed with a key that is not ours, however well formed.
    foreign = MediaUrlSigner("not-our-key-" + "x" * 40).for_viewer("bob").link(path)
    assert ((r := await api.client.get(foreign)).status_code, r.content) == expected


async def test_a_member_who_leaves_loses_the_url_they_hold_at_once(api: Api) -> None:
    group, attachment, _ = await shared_photo(api)
    assert (await api.client.get(attachment["url"])).status_code == 200
    left = await api.client.delete(f"/api/v1/conversations/{group['id']}/members/bob", headers=bearer("bob"))
    assert left.status_code == 204
    expected = await unknown_answer(api)
    for url in (attachment["url"], attachment["thumbnail_url"]):
        r = await api.client.get(url)
        assert (r.status_code, r.content) == expected


async def test_a_deleted_attachment_or_message_closes_its_urls_at_once(api: Api) -> None:
    _, attachment, _ = await shared_photo(api)
    assert (
        await api.client.delete(f"/api/v1/media/{attachment['id']}", headers=bearer("alice"))
    ).status_code == 204
    assert (await api.client.get(attachment["url"])).status_code == 404
    assert (await api.client.get(attachment["thumbnail_url"])).status_code == 404

    _, second, _ = await shared_photo(api)
    assert (await api.client.get(second["url"])).status_code == 200
    removed = await api.client.delete(f"/api/v1/messages/{second['message_id']}", headers=bearer("alice"))
    assert removed.status_code == 204
    assert (await api.client.get(second["url"])).status_code == 404


async def test_a_signature_opens_only_downloads_never_another_route_or_method(api: Api) -> None:
    _, attachment, _ = await shared_photo(api)
    signature = urlsplit(attachment["url"]).query
    for method, path in (
        ("DELETE", f"/api/v1/media/{attachment['id']}"),
        ("GET", f"/api/v1/media/message/{attachment['message_id']}"),
        ("GET", "/api/v1/conversations"),
    ):
        r = await api.client.request(method, f"{path}?{signature}")
        assert r.status_code == 401, (method, path)
    # A signed path asked with another method: no route takes it, the file is untouched.
    assert (await api.client.post(attachment["url"])).status_code in (404, 405)
    assert (await api.client.get(attachment["url"])).status_code == 200


async def test_the_bearer_header_wins_over_a_query_and_works_on_the_plain_path(api: Api) -> None:
    _, attachment, stored = await shared_photo(api)
    broken = with_query(attachment["url"], {"exp": ["1"], "u": ["x"], "sig": ["y"]})
    r = await api.client.get(broken, headers=bearer("bob"))
    assert (r.status_code, r.content) == (200, stored)
    assert (await api.client.get(plain(attachment["url"]), headers=bearer("carol"))).status_code == 404
    assert (await api.client.get(plain(attachment["url"]))).status_code == 401


async def test_urls_signed_with_the_previous_key_work_while_it_is_configured(
    settings: Settings, broadcaster: RecordingBroadcaster
) -> None:
    old = replace(settings, media_url_secret=OLD_URL_KEY)
    async with AsyncTestClient(create_app(old, broadcaster=broadcaster), timeout=30) as client:
        api = Api(client=client, upload_dir=old.upload_dir)
        _, attachment, stored = await shared_photo(api)
    rotated = replace(settings, media_url_secret=URL_KEY, media_url_secret_previous=OLD_URL_KEY)
    async with AsyncTestClient(create_app(rotated, broadcaster=broadcaster), timeout=30) as client:
        r = await client.get(attachment["url"])
        assert (r.status_code, r.content) == (200, stored)
        fresh = await client.get(f"/api/v1/media/message/{attachment['message_id']}", headers=bearer("bob"))
        new_url = fresh.json()[0]["url"]
        assert new_url != attachment["url"]
    rotated_out = replace(settings, media_url_secret=URL_KEY)
    async with AsyncTestClient(create_app(rotated_out, broadcaster=broadcaster), timeout=30) as client:
        assert (await client.get(attachment["url"])).status_code == 404
        assert (await client.get(new_url)).status_code == 200


async def test_every_http_answer_carries_urls_signed_for_its_caller(api: Api) -> None:
    group = await api.conversation("alice", ["bob"])
    message = await api.message("alice", group["id"])
    uploaded = (await api.upload("alice", message["id"], ("p.png", photos.png()))).json()[0]
    draft = (await api.upload("alice", None, ("d.pdf", samples.sample("pdf")))).json()[0]
    sent = await api.client.post(
        f"/api/v1/conversations/{group['id']}/messages",
        json={"content": "", "attachment_ids": [draft["id"]]},
        headers=bearer("alice"),
    )
    answers = {
        "upload": [(uploaded, "alice")],
        "draft": [(draft, "alice")],
        "post-message": [(a, "alice") for a in sent.json()["attachments"]],
    }
    history = await api.client.get(f"/api/v1/conversations/{group['id']}/messages", headers=bearer("bob"))
    answers["history"] = [(a, "bob") for m in history.json() for a in m["attachments"]]
    media = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    answers["media-of-message"] = [(a, "bob") for a in media.json()]
    assert all(answers.values())
    for where, items in answers.items():
        for attachment, viewer in items:
            for key in ("url", "thumbnail_url"):
                if key in attachment:
                    assert query(attachment[key])["u"] == [viewer], where
                    assert (await api.client.get(attachment[key])).status_code == 200, (where, key)
            assert "urls_expire_at" in attachment, where


async def test_re_signing_answers_fresh_urls_for_what_the_caller_may_see_and_nothing_else(api: Api) -> None:
    _, attachment, _ = await shared_photo(api)
    document = (await api.upload("alice", attachment["message_id"], ("d.pdf", samples.sample("pdf")))).json()[
        0
    ]
    alices_draft = (await api.upload("alice", None, ("x.pdf", samples.sample("pdf")))).json()[0]
    ids = [attachment["id"], new_id(), alices_draft["id"], document["id"], attachment["id"]]
    r = await api.client.post("/api/v1/media/sign", json={"attachment_ids": ids}, headers=bearer("bob"))
    assert r.status_code == 200, r.text
    signed = r.json()
    # Bob's own view, in the order asked, each once; the unknown id and alice's draft left out alike.
    assert [s["id"] for s in signed] == [attachment["id"], document["id"]]
    assert set(signed[0]) == {"id", "url", "thumbnail_url", "urls_expire_at"}
    assert "thumbnail_url" not in signed[1]  # a PDF has none
    for item in signed:
        assert query(item["url"])["u"] == ["bob"]
        assert (await api.client.get(item["url"])).status_code == 200
    outsider = await api.client.post(
        "/api/v1/media/sign", json={"attachment_ids": ids}, headers=bearer("carol")
    )
    assert (outsider.status_code, outsider.json()) == (200, [])
    assert (await api.client.post("/api/v1/media/sign", json={"attachment_ids": ids})).status_code == 401


@pytest.mark.parametrize("ids", [[], [new_id() for _ in range(101)], ["not-a-uuid"]])
async def test_re_signing_takes_one_to_a_hundred_ids(api: Api, ids: list[str]) -> None:
    r = await api.client.post("/api/v1/media/sign", json={"attachment_ids": ids}, headers=bearer("bob"))
    assert r.status_code in (400, 422)
    assert "detail" in r.json()


async def test_the_policy_tells_a_client_what_an_upload_must_be(
    settings: Settings, broadcaster: RecordingBroadcaster
) -> None:
    quota = replace(
        settings,
        policy=replace(settings.policy, storage_quota=10_000, max_upload_size=5_000),
        upload_rate=7,
    )
    async with AsyncTestClient(create_app(quota, broadcaster=broadcaster), timeout=30) as client:
        api = Api(client=client, upload_dir=quota.upload_dir)
        assert (await client.get("/api/v1/media/policy")).status_code == 401
        before = (await client.get("/api/v1/media/policy", headers=bearer("alice"))).json()
        body = samples.sample("pdf")
        assert (await api.upload("alice", None, ("d.pdf", body))).status_code == 201
        after = (await client.get("/api/v1/media/policy", headers=bearer("alice"))).json()
    assert before["max_upload_size"] == 5_000
    assert before["extensions"] == {
        "image": ["bmp", "gif", "heic", "heif", "jpeg", "jpg", "png", "webp"],
        "document": ["doc", "docx", "pdf", "rar", "txt", "zip"],
        "video": ["avi", "mkv", "mov", "mp4", "webm"],
    }
    assert before["max_attachments_per_message"] == 10
    assert before["resumable"] == {"path": "/api/v1/media/uploads", "max_size": 5_000, "ttl_s": 86_400}
    assert before["quota"] == {"limit": 10_000, "used": 0, "remaining": 10_000}
    assert after["quota"] == {"limit": 10_000, "used": len(body), "remaining": 10_000 - len(body)}
    assert before["upload_rate_per_minute"] == 7
    assert before["max_image_pixels"] == settings.policy.max_image_pixels


async def test_without_a_quota_the_policy_says_so(api: Api) -> None:
    policy = (await api.client.get("/api/v1/media/policy", headers=bearer("alice"))).json()
    assert policy["quota"] == {"limit": None, "used": 0, "remaining": None}


async def test_no_log_line_carries_a_signature(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    _, attachment, _ = await shared_photo(api)
    signature = query(attachment["url"])["sig"][0]
    with caplog.at_level(logging.DEBUG):
        await api.client.get(attachment["url"])
        await api.client.get(attachment["url"], headers={"Range": "bytes=0-3"})
        for url in tampered(attachment["url"]).values():
            await api.client.get(url)
    ours = [r for r in caplog.records if not r.name.startswith("httpx")]  # the test client's own log
    assert all(signature not in r.getMessage() for r in ours)


WEB = "https://chat.example.com"


@pytest.fixture
async def cors_api(settings: Settings, broadcaster: RecordingBroadcaster) -> AsyncIterator[Api]:
    cors = replace(settings, cors_allow_origins=(WEB,))
    async with AsyncTestClient(create_app(cors, broadcaster=broadcaster), timeout=30) as client:
        yield Api(client=client, upload_dir=cors.upload_dir)


async def test_a_preflight_from_a_configured_origin_answers_without_a_token(cors_api: Api) -> None:
    for path, method, headers in (
        ("/api/v1/media/upload", "POST", "authorization"),
        ("/api/v1/media/uploads", "POST", "authorization, tus-resumable, upload-length, upload-metadata"),
        (
            f"/api/v1/media/uploads/{new_id()}",
            "PATCH",
            "authorization, tus-resumable, upload-offset, content-type",
        ),
        (f"{FILES}/{new_id()}.png", "GET", "range"),
    ):
        r = await cors_api.client.options(
            path,
            headers={
                "Origin": WEB,
                "Access-Control-Request-Method": method,
                "Access-Control-Request-Headers": headers,
            },
        )
        assert r.status_code == 204, (path, r.text)
        assert r.headers["access-control-allow-origin"] == WEB
        assert method in r.headers["access-control-allow-methods"]
        assert "access-control-allow-credentials" not in r.headers


async def test_an_answer_to_a_configured_origin_exposes_what_a_client_reads(cors_api: Api) -> None:
    _, attachment, stored = await shared_photo(cors_api)
    r = await cors_api.client.get(attachment["url"], headers={"Origin": WEB, "Range": "bytes=0-3"})
    assert (r.status_code, r.content) == (206, stored[:4])
    assert r.headers["access-control-allow-origin"] == WEB
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert exposed >= {
        "content-range",
        "content-length",
        "etag",
        "location",
        "upload-offset",
        "upload-length",
        "tus-resumable",
        "tus-version",
        "tus-max-size",
        "tus-extension",
        "retry-after",
        "upload-attachment-id",
    }


async def test_another_origin_gets_no_cors_grant(cors_api: Api, api: Api) -> None:
    evil = "https://evil.example.net"
    preflight = await cors_api.client.options(
        "/api/v1/media/upload", headers={"Origin": evil, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    r = await cors_api.client.get("/api/v1/conversations", headers={"Origin": evil, **bearer("alice")})
    assert r.status_code == 200
    assert "access-control-allow-origin" not in r.headers
    # None configured (the default): no CORS layer at all.
    plain_r = await api.client.get("/api/v1/conversations", headers={"Origin": WEB, **bearer("alice")})
    assert "access-control-allow-origin" not in plain_r.headers
