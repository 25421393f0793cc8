"""security.md, promise by promise: the test that shows each one holding.

Where an earlier test already shows a promise it is named here and not repeated; what none showed is
tested below, through the real app wherever that is possible. A promise the code does not keep yet
is tested all the same, marked `xfail(strict=True)` with the issue that will add it.

Each promise of security.md, and under it the tests that show it (file::name):

Identity
  fixed algorithm list; `alg: none` refused
      test_http_auth.py::test_bad_tokens_are_401_never_500
  key confusion (HS signed with the public key)
      test_http_auth.py::test_public_key_mode_refuses_key_confusion
  `kid`/`jku`/`x5u`/embedded `jwk` never widen
      test_security_promises.py::test_token_headers_never_widen_what_is_accepted
      test_http_auth.py::test_bad_tokens_are_401_never_500 (jku+kid)
  `exp` and `sub` required; `nbf` honoured
      test_http_auth.py::test_bad_tokens_are_401_never_500
  small leeway
      test_security_promises.py::test_a_small_leeway_and_no_more
  `iss`/`aud` when configured
      test_http_auth.py::test_issuer_and_audience_are_checked_when_configured
  only the `Bearer` scheme
      test_http_auth.py::test_bad_tokens_are_401_never_500
  HEAD and OPTIONS no way around auth
      test_http_auth.py::test_every_route_needs_a_token_head_and_options_included
  garbage or huge tokens: 401, never 500
      test_http_auth.py::test_bad_tokens_are_401_never_500

Access
  the caller checked before any file is touched
      test_security_promises.py::test_the_caller_is_checked_before_any_file_is_touched
  non-member == unknown id, GET/HEAD/ranges
      test_http_serve.py::test_a_non_member_is_answered_exactly_as_for_an_unknown_name
  every id in every route (IDOR)
      test_http_serve.py::test_every_id_of_conversation_c_is_unknown_to_a_member_of_a
      test_http_chat.py::test_a_user_sees_only_their_conversations
      test_http_media.py::test_listing_media_is_for_members_only
  C's attachment named in a message of A
      test_http_serve.py::test_every_id_of_conversation_c_is_unknown_to_a_member_of_a
      [attach-foreign-file]
  a member who leaves loses access at once
      test_security_promises.py::test_a_member_who_leaves_loses_access_at_once
      test_use_case_leave.py (every view, events and replay, uploads begun before, drafts kept)
      test_ws.py::test_a_member_who_leaves_hears_nothing_more_of_the_conversation

Names and paths
  the stored name is always `<uuid>.<ext>`
      test_http_media.py::test_upload_stores_the_file_under_a_uuid_name_and_marks_the_message
  served only through a row (no row: no file)
      test_http_media.py::test_a_file_in_the_store_without_a_row_is_not_served
  under the root, never following a link out
      test_security_promises.py::test_a_link_out_of_the_store_is_never_served
      test_file_store_contract.py::test_a_link_out_of_the_root_is_no_file
      test_http_serve.py::test_traversal_and_odd_names_are_404_never_500
  original name cleaned (controls, bidi, /, NUL)
      test_security_promises.py::test_the_original_name_is_cleaned_for_display
      test_file_response.py::test_content_disposition_names
  RFC 6266 `filename*` with an ASCII fallback
      test_http_serve.py::test_a_non_ascii_original_name_is_sent_as_filename_star_with_an_ascii_fallback

Types
  the bytes decide, the extension must agree
      test_http_media.py::test_spoofed_or_forbidden_types_are_415_and_keep_nothing
  the client's Content-Type is ignored
      test_security_promises.py::test_the_clients_content_type_is_ignored
  HTML, SVG, JS and executables never get in
      test_http_media.py::test_spoofed_or_forbidden_types_are_415_and_keep_nothing (blank.txt too)
      test_security_promises.py::test_scripts_and_programs_never_get_in
      test_content_checks.py::test_a_web_page_after_a_screen_of_blank_lines_fails
      test_content_checks.py::test_blank_space_up_to_the_bound_does_not_hide_markup
      test_content_checks.py::test_a_web_page_after_blank_space_cut_anywhere_still_fails
      test_content_checks.py::test_more_blank_space_than_the_bound_fails_whatever_follows
  polyglots refused or re-encoded
      test_http_media.py::test_spoofed_or_forbidden_types_are_415_and_keep_nothing
      (gifar.gif, zipped.png)
  PDF, text, archives: attachment + sandbox CSP
      test_http_serve.py::test_a_member_downloads_the_exact_bytes_with_every_download_header

Resources
  the size cap at the byte, honest length or not
      test_http_media.py::test_the_size_cap_holds_at_the_byte
      test_server_faults.py::test_a_body_over_the_cap_is_413_whatever_the_content_length_says
  ... with memory flat
      test_security_promises.py::test_memory_stays_flat_while_a_large_file_streams_in
  part counts and part headers bounded
      test_security_promises.py::test_part_counts_and_part_headers_are_bounded
      test_multipart_form.py::test_broken_bodies_are_malformed
  pixel budget (bombs refused undecoded)
      test_security_promises.py::test_a_decompression_bomb_is_refused_by_its_pixel_count
      test_media_processing.py::test_bombs_are_refused_with_413_quickly_and_keep_nothing
  frame budget
      test_security_promises.py::test_an_animation_over_the_frame_budget_is_refused
  one range; many/overlapping/inverted: whole
      test_http_serve.py::test_one_range_is_a_206_with_its_content_range
      test_http_serve.py::test_many_overlapping_or_inverted_ranges_get_the_whole_file_never_multipart
      test_http_serve.py::test_an_unsatisfiable_range_is_a_416_with_the_size
  a trickling body cut off at a deadline
      test_security_promises.py::test_a_stalled_upload_is_cut_off_and_keeps_nothing
      test_multipart_form.py::test_a_stalled_body_is_cut_off
      test_security_promises.py::test_a_body_that_keeps_trickling_is_cut_off_at_a_deadline
      test_security_promises.py::test_a_resumable_patch_that_keeps_trickling_is_cut_off_the_same_way
      test_security_promises.py::test_a_slow_but_honest_upload_above_the_rate_comes_in (the control)
      test_body_deadline.py (the rate, its grace, what counts as the client's time)
  quotas and rates answer 413/429
      test_security_promises.py::test_a_burst_of_uploads_meets_a_429
      test_http_drafts.py::test_the_storage_quota_holds_at_the_byte

Durability and consistency
  temp file, fsync, rename, fsync the directory
      test_file_store_contract.py::test_files_are_private_to_the_service
      test_file_store_contract.py::test_publish_never_replaces_a_stored_file
      test_file_store_contract.py::test_leaving_the_block_unpublished_discards
  then commit the row, then broadcast
      test_security_promises.py::test_every_event_is_broadcast_after_its_commit
  any failure before commit removes the file
      test_security_promises.py::test_a_failure_before_the_commit_removes_every_published_file
      test_http_media.py::test_the_store_failing_at_commit_time_keeps_nothing
  a crash is cleaned at start-up
      test_server_faults.py::test_a_server_killed_mid_write_is_clean_after_restart
      test_file_store_contract.py::test_recover_removes_what_a_killed_writer_left
  ... and by the sweeper
      test_security_promises.py::test_a_published_file_whose_row_never_came_is_swept
  delete commits first, unlinks after
      test_security_promises.py::test_delete_commits_the_row_before_the_file_goes
  after every fault test: files == rows
      each fault test above ends on the store and the rows
  a download racing a delete: whole 200 or 404
      test_server_faults.py::test_a_download_racing_a_delete_is_whole_or_404
      test_file_store_contract.py::test_an_open_file_stays_whole_after_a_delete

Headers on every download
  all of them, on 200 (and 206/416/304/HEAD)
      test_http_serve.py::test_a_member_downloads_the_exact_bytes_with_every_download_header
      test_http_serve.py: the range, validator and HEAD tests
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import struct
import time
import tracemalloc
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import anyio
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from litestar import Litestar
from litestar.testing import AsyncTestClient

from adapters.files.local import LocalFileStore
from application.events import Event, Logged, MediaAttached, MediaDeleted, MessageCreated, MessageDeleted
from application.ports.files import StagedFile
from domain.content_checks import BodyCheck
from domain.errors import StorageUnavailable
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests import photos, samples
from tests.integration.http_fixtures import SECRET, Api, bearer, new_id

FILES = "/api/v1/media/files"


# ---- helpers: the database and the store, seen from outside the app -----------------------------


def db_path(settings: Settings) -> Path:
    prefix = "sqlite+aiosqlite:///"
    assert settings.database_url.startswith(prefix), settings.database_url
    return Path(settings.database_url.removeprefix(prefix))


def attachment_rows(settings: Settings) -> set[str]:
    """The stored names the database holds rows for, read with a connection of its own."""
    with sqlite3.connect(db_path(settings)) as db:
        return {name for (name,) in db.execute("SELECT filename FROM media_attachments")}


def message_exists(settings: Settings, message_id: uuid.UUID) -> bool:
    with sqlite3.connect(db_path(settings)) as db:
        found = db.execute(
            "SELECT count(*) FROM messages WHERE id IN (?, ?, ?)",
            (message_id.bytes, message_id.hex, str(message_id)),
        ).fetchone()
    return bool(found[0])


def published(api: Api) -> set[str]:
    return {name for name in api.stored_files() if not name.startswith(".staging")}


async def chat(api: Api) -> tuple[dict[str, Any], dict[str, Any]]:
    group = await api.conversation("alice", ["bob"])
    return group, await api.message("alice", group["id"])


def multipart(*parts: tuple[bytes, bytes], boundary: str = "sec-boundary") -> tuple[bytes, dict[str, str]]:
    """A raw multipart body from (part headers, part body) pairs, and its Content-Type header."""
    body = b"".join(
        b"--" + boundary.encode() + b"\r\n" + head + b"\r\n\r\n" + data + b"\r\n" for head, data in parts
    )
    return body + f"--{boundary}--\r\n".encode(), {
        "Content-Type": f"multipart/form-data; boundary={boundary}"
    }


def file_part(
    filename: bytes, data: bytes, content_type: bytes = b"application/octet-stream"
) -> tuple[bytes, bytes]:
    head = (
        b'Content-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: '
        + content_type
    )
    return head, data


def field_part(name: str, value: str) -> tuple[bytes, bytes]:
    return f'Content-Disposition: form-data; name="{name}"'.encode(), value.encode()


# ---- Identity ----------------------------------------------------------------------------------------


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def claims(**extra: object) -> dict[str, object]:
    return {"sub": "alice", "exp": int(time.time()) + 600, **extra}


async def test_token_headers_never_widen_what_is_accepted(settings: Settings) -> None:
    ours = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    attacker_jwk = json.loads(RSAAlgorithm.to_jwk(attacker.public_key()))
    attacker_secret = b"attacker-secret-" + b"z" * 40
    widening_headers: list[dict[str, Any]] = [
        {"jwk": attacker_jwk},
        {"jwk": attacker_jwk, "kid": "ours"},
        {"jku": "https://evil.example/jwks.json", "kid": "attacker"},
        {"x5u": "https://evil.example/cert.pem"},
        {"x5c": [b64url(b"not a certificate")]},
    ]
    forged = [jwt.encode(claims(), attacker, algorithm="RS256", headers=h) for h in widening_headers]
    forged.append(
        jwt.encode(
            claims(),
            attacker_secret,
            algorithm="HS256",
            headers={"jwk": {"kty": "oct", "k": b64url(attacker_secret)}},
        )
    )
    public_pem = (
        ours.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )

    def signed_by_our_secret(headers: dict[str, Any]) -> str:
        return jwt.encode(claims(), SECRET, algorithm="HS256", headers=headers)

    def signed_by_our_key(headers: dict[str, Any]) -> str:
        return jwt.encode(claims(), ours, algorithm="RS256", headers=headers)

    modes: list[tuple[Settings, Callable[[dict[str, Any]], str]]] = [
        (settings, signed_by_our_secret),
        (replace(settings, jwt_secret=None, jwt_public_key=public_pem), signed_by_our_key),
    ]
    for mode, genuine in modes:
        async with AsyncTestClient(create_app(mode)) as client:

            async def status(token: str) -> int:
                r = await client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {token}"})
                return r.status_code

            for token in forged:
                assert await status(token) == 401, jwt.get_unverified_header(token)
            # The control: the same headers on a token our key signed change nothing either way.
            for headers in widening_headers:
                assert await status(genuine(headers)) == 200, headers


async def test_a_small_leeway_and_no_more(api: Api) -> None:
    now = int(time.time())

    async def status(payload: dict[str, object]) -> int:
        token = jwt.encode(payload, SECRET, algorithm="HS256")
        r = await api.client.get("/api/v1/conversations", headers={"Authorization": f"Bearer {token}"})
        return r.status_code

    assert await status({"sub": "alice", "exp": now - 5}) == 200  # a clock a few seconds off
    assert await status({"sub": "alice", "exp": now + 600, "nbf": now + 5}) == 200
    assert await status({"sub": "alice", "exp": now - 90}) == 401
    assert await status({"sub": "alice", "exp": now + 600, "nbf": now + 90}) == 401


# ---- Access ------------------------------------------------------------------------------------------


@dataclass
class SpyStore:
    """The local store, with every touch recorded: which names were opened, which deleted (and
    whether a row still named the file at that moment), and publishes that fail on demand."""

    inner: LocalFileStore
    settings: Settings
    opened: list[str] = field(default_factory=list)
    deleted: list[tuple[str, bool]] = field(default_factory=list)
    publishes: int = 0
    fail_publish_number: int | None = None

    def stage(self) -> Any:
        return self._stage()

    @asynccontextmanager
    async def _stage(self) -> AsyncIterator[StagedFile]:
        async with self.inner.stage() as staged:
            yield _SpyStaged(staged, self)

    def open(self, filename: str) -> Any:
        self.opened.append(filename)
        return self.inner.open(filename)

    async def delete(self, filename: str) -> None:
        self.deleted.append((filename, filename in attachment_rows(self.settings)))
        await self.inner.delete(filename)

    async def check(self) -> None:
        await self.inner.check()

    async def published_before(self, cutoff: datetime, limit: int) -> Sequence[str]:
        return await self.inner.published_before(cutoff, limit)


@dataclass
class _SpyStaged:
    inner: StagedFile
    spy: SpyStore

    @property
    def size(self) -> int:
        return self.inner.size

    def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        return self.inner.read(start, end, chunk_size)

    async def fill(self, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
        return await self.inner.fill(chunks, check)

    async def publish(self, filename: str) -> None:
        self.spy.publishes += 1
        if self.spy.publishes == self.spy.fail_publish_number:
            raise StorageUnavailable("The disk is full (injected).")
        await self.inner.publish(filename)

    async def discard(self) -> None:
        await self.inner.discard()


@pytest.fixture
async def spied(settings: Settings) -> AsyncIterator[tuple[Api, SpyStore]]:
    spy = SpyStore(LocalFileStore(settings.upload_dir), settings)
    async with AsyncTestClient(create_app(settings, files=spy), timeout=30) as client:
        yield Api(client=client, upload_dir=settings.upload_dir), spy


async def test_the_caller_is_checked_before_any_file_is_touched(spied: tuple[Api, SpyStore]) -> None:
    api, spy = spied
    _, message = await chat(api)
    [attachment] = (await api.upload("alice", message["id"], ("a.png", samples.sample("png")))).json()
    url = attachment["url"]
    for method, headers in [
        ("GET", {}),
        ("HEAD", {}),
        ("GET", {"Range": "bytes=0-3"}),
        ("GET", {"If-None-Match": f'"{attachment["sha256"]}"'}),
    ]:
        r = await api.client.request(method, url, headers={**bearer("mallory"), **headers})
        assert r.status_code == 404
    assert (await api.client.get(f"{FILES}/{uuid.uuid4()}.png", headers=bearer("mallory"))).status_code == 404
    assert (
        await api.client.get(f"{FILES}/..%2F..%2Fetc%2Fpasswd", headers=bearer("alice"))
    ).status_code == 404
    assert spy.opened == []
    # Deleting: an outsider and a member without the right never reach the store either.
    assert (
        await api.client.delete(f"/api/v1/media/{attachment['id']}", headers=bearer("mallory"))
    ).status_code == 404
    assert (
        await api.client.delete(f"/api/v1/media/{attachment['id']}", headers=bearer("bob"))
    ).status_code == 403
    assert (
        await api.client.delete(f"/api/v1/messages/{message['id']}", headers=bearer("bob"))
    ).status_code == 403
    assert spy.deleted == []
    # The control: a member's download does open it.
    assert (await api.client.get(url, headers=bearer("bob"))).status_code == 200
    assert spy.opened == [attachment["filename"]]


def same_answer(a: Any, b: Any) -> None:
    """Byte-identical to the client: status, body and headers (aside from the Date)."""

    def seen(r: Any) -> tuple[int, bytes, list[tuple[str, str]]]:
        return r.status_code, r.content, sorted((k, v) for k, v in r.headers.multi_items() if k != "date")

    assert seen(a) == seen(b)


async def test_a_member_who_leaves_loses_access_at_once(api: Api) -> None:
    group, message = await chat(api)
    [attachment] = (await api.upload("alice", message["id"], ("a.png", samples.sample("png")))).json()
    assert (await api.client.get(attachment["url"], headers=bearer("bob"))).status_code == 200
    conversation = f"/api/v1/conversations/{group['id']}"

    left = await api.client.delete(f"{conversation}/members/bob", headers=bearer("bob"))

    assert (left.status_code, left.content) == (204, b"")
    unknown_conversation = f"/api/v1/conversations/{new_id()}"
    for method, path, unknown, extra in [
        ("GET", conversation, unknown_conversation, {}),
        ("GET", f"{conversation}/messages", f"{unknown_conversation}/messages", {}),
        ("GET", f"/api/v1/media/message/{message['id']}", f"/api/v1/media/message/{new_id()}", {}),
        ("GET", attachment["url"], f"{FILES}/{uuid.uuid4()}.png", {}),
        ("HEAD", attachment["url"], f"{FILES}/{uuid.uuid4()}.png", {}),
        ("GET", attachment["url"], f"{FILES}/{uuid.uuid4()}.png", {"Range": "bytes=0-3"}),
        ("GET", attachment["thumbnail_url"], f"/api/v1/media/{new_id()}/thumbnail", {}),
    ]:
        headers = {**bearer("bob"), **extra}
        after = await api.client.request(method, path, headers=headers)
        same_answer(after, await api.client.request(method, unknown, headers=headers))
        assert after.status_code == 404, (method, path)
    mine = await api.client.get("/api/v1/conversations", headers=bearer("bob"))
    assert group["id"] not in [c["id"] for c in mine.json()]
    # The control: the member who stayed sees it all as before.
    assert (await api.client.get(attachment["url"], headers=bearer("alice"))).status_code == 200
    stayed = await api.client.get(conversation, headers=bearer("alice"))
    assert stayed.json()["member_ids"] == ["alice"]


# ---- Names and paths ---------------------------------------------------------------------------------


async def test_a_link_out_of_the_store_is_never_served(api: Api, tmp_path: Path) -> None:
    _, message = await chat(api)
    [attachment] = (await api.upload("alice", message["id"], ("a.png", samples.sample("png")))).json()
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"TOP SECRET, outside the store")
    stored = api.upload_dir / attachment["filename"]
    stored.unlink()
    stored.symlink_to(secret)  # someone with shell access, or a bug elsewhere, swapped the file
    for method in ("GET", "HEAD"):
        r = await api.client.request(method, attachment["url"], headers=bearer("alice"))
        assert r.status_code == 404, (method, r.status_code)
        assert b"TOP SECRET" not in r.content
        assert r.headers.get("content-length") != str(secret.stat().st_size)
    # A link inside the store is no file either.
    [other] = (await api.upload("alice", message["id"], ("b.png", samples.sample("png", size=200)))).json()
    stored.unlink()
    stored.symlink_to(api.upload_dir / other["filename"])
    assert (await api.client.get(attachment["url"], headers=bearer("alice"))).status_code == 404


@pytest.mark.parametrize(
    ("sent", "shown"),
    [
        (b"..\\..\\a\x07b\xe2\x80\xaegnp.exe.png", "abgnp.exe.png"),  # path, BEL, RIGHT-TO-LEFT OVERRIDE
        (b"a/b/../c\x00d.png", "cd.png"),  # slashes and a NUL
        (b"x\x1b[31mred\x7f.png", "x[31mred.png"),  # an ANSI escape and DEL
        (b"\xe2\x81\xa6safe\xe2\x81\xa9\xe2\x80\x8f.png", "safe.png"),  # isolates and a RLM
    ],
)
async def test_the_original_name_is_cleaned_for_display(api: Api, sent: bytes, shown: str) -> None:
    _, message = await chat(api)
    body, headers = multipart(field_part("message_id", message["id"]), file_part(sent, samples.sample("png")))
    r = await api.client.post("/api/v1/media/upload", content=body, headers={**bearer("alice"), **headers})
    assert r.status_code == 201, r.text
    [attachment] = r.json()
    assert attachment["original_name"] == shown
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    assert listed.json()[0]["original_name"] == shown
    served = await api.client.get(attachment["url"], headers=bearer("bob"))
    disposition = served.headers["content-disposition"]
    assert disposition.isascii()
    assert disposition.isprintable()
    assert f'filename="{shown}"' in disposition
    assert attachment["filename"] != shown  # the stored name is the service's own, never the client's


# ---- Types -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "body", "claimed", "sniffed"),
    [
        (b"a.png", samples.sample("png"), b"text/html", "image/png"),
        (b"a.pdf", samples.sample("pdf"), b"image/png", "application/pdf"),
        (b"a.txt", samples.sample("txt"), b"text/html; charset=utf-8", "text/plain; charset=utf-8"),
        (b"a.mp4", samples.sample("mp4"), b"image/svg+xml", "video/mp4"),
    ],
)
async def test_the_clients_content_type_is_ignored(
    api: Api, name: bytes, body: bytes, claimed: bytes, sniffed: str
) -> None:
    _, message = await chat(api)
    raw, headers = multipart(field_part("message_id", message["id"]), file_part(name, body, claimed))
    r = await api.client.post("/api/v1/media/upload", content=raw, headers={**bearer("alice"), **headers})
    assert r.status_code == 201, r.text
    [attachment] = r.json()
    assert attachment["content_type"] == sniffed
    served = await api.client.get(attachment["url"], headers=bearer("bob"))
    assert served.headers.get_list("content-type") == [sniffed]
    # The upload's bytes; for an image, without its metadata (test_media_processing.py); for a video,
    # its remux without its tags, where ffmpeg is installed (test_video_scrub.py).
    if attachment.get("scrubbed"):
        assert hashlib.sha256(served.content).hexdigest() == attachment["sha256"]
    else:
        assert served.content == (body if attachment["kind"] != "image" else strip_png_text(body))


def strip_png_text(png: bytes) -> bytes:
    """The PNG without its tEXt chunks: what the service stores of the sample PNG."""
    out, at = bytearray(png[:8]), 8
    while at < len(png):
        (length,) = struct.unpack_from(">I", png, at)
        if png[at + 4 : at + 8] != b"tEXt":
            out += png[at : at + 12 + length]
        at += 12 + length
    return bytes(out)


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("app.js", b"fetch('/api/v1/conversations').then(r => r.text()).then(alert)\n"),
        ("app.mjs", b"export default 1;\n"),
        ("page.htm", samples.html_page()),
        ("page.xhtml", samples.html_page()),
        ("icon.svgz", samples.svg_image()),
        ("setup.exe", samples.windows_exe()),
        ("run.sh", b"#!/bin/sh\nrm -rf ~\n"),
        ("run", samples.elf_executable()),
        ("notes.txt", b"<script>alert(document.cookie)</script>\n"),
        ("notes.txt", b"\xef\xbb\xbf<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>\n"),
        ("notes.txt", b"  <html><body>hi</body></html>\n"),
        ("clip.mp4", samples.elf_executable()),
        ("archive.zip", samples.windows_exe()),
        ("photo.jpg", samples.svg_image()),
    ],
)
async def test_scripts_and_programs_never_get_in(
    api: Api, settings: Settings, name: str, body: bytes
) -> None:
    _, message = await chat(api)
    r = await api.upload("alice", message["id"], (name, body))
    assert r.status_code == 415, r.text
    assert r.json()["status_code"] == 415
    assert api.stored_files() == set()
    assert attachment_rows(settings) == set()


# ---- Resources ---------------------------------------------------------------------------------------


async def test_part_counts_and_part_headers_are_bounded(api: Api) -> None:
    _, message = await chat(api)
    eleven = [(f"f{i}.txt", b"hello\n") for i in range(11)]
    r = await api.upload("alice", message["id"], *eleven)
    assert r.status_code in (400, 413, 422), r.text
    assert api.stored_files() == set()
    many_fields = [field_part(f"x{i}", "1") for i in range(100)]
    body, headers = multipart(
        field_part("message_id", message["id"]), *many_fields, file_part(b"a.png", samples.sample("png"))
    )
    r = await api.client.post("/api/v1/media/upload", content=body, headers={**bearer("alice"), **headers})
    assert r.status_code == 400, r.text
    huge_header = (
        b'Content-Disposition: form-data; name="file"; filename="a.png"\r\nX-Padding: ' + b"p" * 65_536
    )
    body, headers = multipart(field_part("message_id", message["id"]), (huge_header, samples.sample("png")))
    r = await api.client.post("/api/v1/media/upload", content=body, headers={**bearer("alice"), **headers})
    assert r.status_code == 400, r.text
    many_headers = b"\r\n".join(
        [b'Content-Disposition: form-data; name="file"; filename="a.png"'] + [b"X-A: b"] * 200
    )
    body, headers = multipart(field_part("message_id", message["id"]), (many_headers, samples.sample("png")))
    r = await api.client.post("/api/v1/media/upload", content=body, headers={**bearer("alice"), **headers})
    assert r.status_code == 400, r.text
    assert api.stored_files() == set()
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("alice"))
    assert listed.json() == []


async def test_a_decompression_bomb_is_refused_by_its_pixel_count(api: Api) -> None:
    _, message = await chat(api)
    bomb = samples.png_claiming(60_000, 60_000)  # 3.6 gigapixels, about 10 GB decoded, in 100 bytes
    assert len(bomb) < 1000
    r = await api.upload("alice", message["id"], ("bomb.png", bomb))
    assert r.status_code in (413, 415, 422), r.text
    assert api.stored_files() == set()


async def test_an_animation_over_the_frame_budget_is_refused(api: Api) -> None:
    _, message = await chat(api)
    frames = samples.gif_with_frames(20_000, 512)  # 20,000 frames of 512x512: 5 gigapixels in 400 KB
    r = await api.upload("alice", message["id"], ("anim.gif", frames))
    assert r.status_code in (413, 415, 422), r.text
    assert api.stored_files() == set()


async def test_the_budget_tests_use_files_the_service_takes_apart_from_their_size(api: Api) -> None:
    """The control for the two budget tests: the same builders, small, are accepted today and after."""
    _, message = await chat(api)
    r = await api.upload(
        "alice",
        message["id"],
        ("small.png", samples.png_claiming(32, 32)),
        ("anim.gif", samples.gif_with_frames(3, 8)),
    )
    assert r.status_code == 201, r.text
    assert [a["content_type"] for a in r.json()] == ["image/png", "image/gif"]


# An ASGI driver, for bodies the test client cannot send: it reads a whole request body before the app
# sees any of it. The app runs on this test's event loop, on the same database and store.


@dataclass
class Answer:
    status: int | None = None
    body: bytearray = field(default_factory=bytearray)


async def drive(
    app: Litestar,
    path: str,
    headers: dict[str, str],
    next_chunk: Callable[[], Any],
    *,
    within: float,
    method: str = "POST",
) -> Answer:
    """Sends `method` to `path`, taking each body message from `await next_chunk()` (bytes, or None at
    the end), and gives up after `within` seconds."""
    answer = Answer()
    finished = anyio.Event()
    ended = False

    async def receive() -> dict[str, Any]:
        nonlocal ended
        if ended:
            await finished.wait()
            return {"type": "http.disconnect"}
        chunk = await next_chunk()
        if chunk is None:
            ended = True
            return {"type": "http.request", "body": b"", "more_body": False}
        return {"type": "http.request", "body": chunk, "more_body": True}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer.status = message["status"]
        elif message["type"] == "http.response.body":
            answer.body += message.get("body", b"")
            if not message.get("more_body", False):
                finished.set()

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
        "state": {},
    }
    with anyio.move_on_after(within):
        await app(scope, receive, send)  # type: ignore[arg-type]
    return answer


def upload_head(
    message_id: str, filename: str, boundary: str = "drive-boundary"
) -> tuple[bytes, bytes, dict[str, str]]:
    preamble = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="message_id"\r\n\r\n{message_id}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n\r\n'
    ).encode()
    headers = {**bearer("alice"), "content-type": f"multipart/form-data; boundary={boundary}"}
    return preamble, f"\r\n--{boundary}--\r\n".encode(), headers


async def test_memory_stays_flat_while_a_large_file_streams_in(api: Api, settings: Settings) -> None:
    _, message = await chat(api)
    size = 40 * 1024 * 1024
    body = samples.sample("zip", size=size)  # a document: stored as it came, so its size is known
    preamble, tail, headers = upload_head(message["id"], "big.zip")
    view = memoryview(body)
    pieces = iter([preamble, *(view[i : i + 256 * 1024] for i in range(0, size, 256 * 1024)), tail])

    async def next_chunk() -> bytes | None:
        piece = next(pieces, None)
        return None if piece is None else bytes(piece)

    app = create_app(settings)
    tracemalloc.start()
    try:
        answer = await drive(app, "/api/v1/media/upload", headers, next_chunk, within=60)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert answer.status == 201, bytes(answer.body)
    [attachment] = json.loads(answer.body)
    assert attachment["size"] == size
    assert (api.upload_dir / attachment["filename"]).stat().st_size == size
    assert peak < 12 * 1024 * 1024, f"{peak:,} bytes traced at the peak for a {size:,}-byte upload"


async def test_a_stalled_upload_is_cut_off_and_keeps_nothing(api: Api, settings: Settings) -> None:
    _, message = await chat(api)
    preamble, _, headers = upload_head(message["id"], "slow.pdf")
    sent = [preamble, samples.sample("pdf", size=20_000)]

    async def next_chunk() -> bytes | None:
        if sent:
            return sent.pop(0)
        await anyio.sleep(60)  # the client stops sending and keeps the connection open
        return None

    app = create_app(replace(settings, upload_idle_timeout=0.3))
    started = time.monotonic()
    answer = await drive(app, "/api/v1/media/upload", headers, next_chunk, within=10)
    assert answer.status == 408, bytes(answer.body)
    assert time.monotonic() - started < 5
    assert json.loads(answer.body)["status_code"] == 408
    assert api.stored_files() == set()
    assert attachment_rows(settings) == set()


# Small limits, so that a deadline is reached in a second: nothing idles for 0.3 s, and the body must
# average 1 KiB a second once it has been coming for a second.
TRICKLE_LIMITS = {"upload_idle_timeout": 0.3, "upload_min_rate": 1024, "upload_min_rate_grace": 1.0}


def paced(pieces: list[bytes], pause: float) -> Callable[[], Any]:
    """A client that sends each piece `pause` seconds after the one before, then ends the body."""
    queue = list(pieces)

    async def next_chunk() -> bytes | None:
        if not queue:
            return None
        await anyio.sleep(pause)
        return queue.pop(0)

    return next_chunk


async def test_a_body_that_keeps_trickling_is_cut_off_at_a_deadline(api: Api, settings: Settings) -> None:
    _, message = await chat(api)
    preamble, _, headers = upload_head(message["id"], "slow.txt")
    # 16 bytes every 50 ms (320 bytes a second): never idle for 0.3 s, never done either.
    trickle = paced([preamble, *[b"x" * 16] * 100_000], 0.05)

    app = create_app(replace(settings, **TRICKLE_LIMITS))
    answer = await drive(app, "/api/v1/media/upload", headers, trickle, within=8)

    assert answer.status == 408, "the trickle was still being read after 8 seconds"
    refusal = json.loads(answer.body)
    assert refusal["status_code"] == 408
    assert "1,024 bytes a second" in refusal["detail"]
    assert api.stored_files() == set()
    assert attachment_rows(settings) == set()


async def test_a_slow_but_honest_upload_above_the_rate_comes_in(api: Api, settings: Settings) -> None:
    _, message = await chat(api)
    preamble, tail, headers = upload_head(message["id"], "slow.txt")
    lines = [f"line {n:04}: ".encode() + b"-" * 1012 + b"\n" for n in range(40)]  # 1 KiB each
    # 1 KiB every 50 ms (about 20 KiB a second) for two seconds: slow, and well above the floor.
    honest = paced([preamble, *lines, tail], 0.05)

    app = create_app(replace(settings, **TRICKLE_LIMITS))
    answer = await drive(app, "/api/v1/media/upload", headers, honest, within=30)

    assert answer.status == 201, bytes(answer.body)
    [attachment] = json.loads(answer.body)
    assert (api.upload_dir / attachment["filename"]).read_bytes() == b"".join(lines)
    assert attachment_rows(settings) == {attachment["filename"]}


async def test_a_resumable_patch_that_keeps_trickling_is_cut_off_the_same_way(
    api: Api, settings: Settings
) -> None:
    data = b"".join(f"line {n:05}\n".encode() for n in range(2000))  # 22 KB of text
    name = base64.b64encode(b"slow.txt").decode()
    tus = {**bearer("alice"), "Tus-Resumable": "1.0.0"}
    created = await api.client.post(
        "/api/v1/media/uploads",
        headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {name}"},
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]
    pieces = [data[at : at + 16] for at in range(0, len(data), 16)]
    sent = 0
    trickle = paced(pieces, 0.05)

    async def counted() -> bytes | None:
        nonlocal sent
        piece = await trickle()
        sent += len(piece or b"")
        return piece

    patch = {**tus, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"}
    app = create_app(replace(settings, **TRICKLE_LIMITS))
    answer = await drive(app, location, patch, counted, within=8, method="PATCH")

    assert answer.status == 408, "the trickle was still being read after 8 seconds"
    assert json.loads(answer.body)["status_code"] == 408
    assert 0 < sent < len(data)
    # As for any interrupted PATCH, what arrived is kept to resume from; nothing became a file.
    head = await api.client.head(location, headers=tus)
    assert head.headers["upload-offset"] == str(sent)
    assert "upload-attachment-id" not in head.headers
    assert attachment_rows(settings) == set()
    assert {n for n in published(api) if not n.startswith(".resumable/")} == set()
    rest = await api.client.patch(
        location,
        content=data[sent:],
        headers={**patch, "Upload-Offset": str(sent)},
    )
    assert rest.status_code == 204, rest.text
    assert rest.headers["upload-attachment-id"]


async def test_a_burst_of_uploads_meets_a_429(api: Api) -> None:
    _, message = await chat(api)
    statuses = []
    for i in range(100):
        r = await api.upload("alice", message["id"], (f"n{i}.txt", b"hello\n"))
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.headers.get("retry-after"), "a 429 says when to come back"
            assert r.json()["status_code"] == 429
            break
    assert 429 in statuses, f"100 uploads in a burst: {sorted(set(statuses))}"


# ---- Durability and consistency --------------------------------------------------------------------


@dataclass
class CommittedFirst:
    """A broadcaster that, at each event, looks at the database and the store from outside the app."""

    settings: Settings
    events: list[Event] = field(default_factory=list)
    seen: list[tuple[str, bool]] = field(default_factory=list)

    async def publish(self, logged: Logged, audience: frozenset[str]) -> None:
        event = logged.event
        self.events.append(event)
        rows = attachment_rows(self.settings)
        files = {p.name for p in self.settings.upload_dir.iterdir() if p.is_file()}
        if isinstance(event, MessageCreated):
            self.seen.append(("message row there", message_exists(self.settings, event.message.id)))
        elif isinstance(event, MediaAttached):
            for a in event.attachments:
                self.seen.append(("attachment row there", a.filename in rows))
                self.seen.append(("file published", a.filename in files))
        elif isinstance(event, MediaDeleted):
            self.seen.append(
                ("attachment row gone", not any(n.startswith(str(event.media_id)) for n in rows))
            )
            self.seen.append(("file gone", not any(n.startswith(str(event.media_id)) for n in files)))
        elif isinstance(event, MessageDeleted):
            self.seen.append(("message row gone", not message_exists(self.settings, event.message_id)))


@pytest.fixture
def broadcaster(settings: Settings) -> CommittedFirst:  # the `api` fixture broadcasts through it
    return CommittedFirst(settings)


async def test_every_event_is_broadcast_after_its_commit(api: Api, broadcaster: CommittedFirst) -> None:
    _, message = await chat(api)
    first, second = (
        await api.upload(
            "alice", message["id"], ("a.png", samples.sample("png")), ("b.pdf", samples.sample("pdf"))
        )
    ).json()
    assert (
        await api.client.delete(f"/api/v1/media/{first['id']}", headers=bearer("alice"))
    ).status_code == 204
    assert (
        await api.client.delete(f"/api/v1/messages/{message['id']}", headers=bearer("alice"))
    ).status_code == 204
    kinds = [type(e).__name__ for e in broadcaster.events]
    assert kinds == ["MessageCreated", "MediaAttached", "MediaDeleted", "MessageDeleted"]
    assert broadcaster.seen, "nothing was checked"
    assert [what for what, held in broadcaster.seen if not held] == []
    assert second["filename"] not in published(api)


async def test_a_failure_before_the_commit_removes_every_published_file(
    spied: tuple[Api, SpyStore], settings: Settings
) -> None:
    api, spy = spied
    _, message = await chat(api)
    kept_bytes = photos.png(33, 21)  # not a.png's: those would be referred to, not published
    [kept] = (await api.upload("alice", message["id"], ("kept.png", kept_bytes))).json()
    spy.publishes = 0
    # The fourth publish is the third file's: a.png's thumbnail, a.png and b.pdf are published by then.
    spy.fail_publish_number = 4
    r = await api.upload(
        "alice",
        message["id"],
        ("a.png", samples.sample("png")),
        ("b.pdf", samples.sample("pdf")),
        ("c.txt", samples.sample("txt")),
    )
    assert r.status_code == 503, r.text
    assert r.json()["status_code"] == 503
    assert spy.publishes == 4
    kept_files = {kept["filename"], f"{kept['id']}.thumb.webp"}
    assert published(api) == kept_files
    assert api.stored_files() == kept_files  # nothing left in staging either
    assert attachment_rows(settings) == {kept["filename"]}
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    assert [a["id"] for a in listed.json()] == [kept["id"]]


async def test_a_published_file_whose_row_never_came_is_swept(settings: Settings) -> None:
    async with AsyncTestClient(create_app(settings)) as client:
        api = Api(client=client, upload_dir=settings.upload_dir)
        _, message = await chat(api)
        [real] = (await api.upload("alice", message["id"], ("a.png", samples.sample("png")))).json()
    orphan = settings.upload_dir / f"{uuid.uuid4()}.png"  # published, then the process died
    orphan.write_bytes(samples.sample("png"))
    stray_thumbnail = settings.upload_dir / f"{uuid.uuid4()}.thumb.webp"  # its thumbnail, likewise
    stray_thumbnail.write_bytes(b"RIFF")
    day_ago = time.time() - 86_400
    for old in (orphan, stray_thumbnail, settings.upload_dir / real["filename"]):
        os.utime(old, (day_ago, day_ago))
    real_thumbnail = settings.upload_dir / f"{real['id']}.thumb.webp"
    os.utime(real_thumbnail, (day_ago, day_ago))
    async with AsyncTestClient(create_app(settings)) as client:  # the restart
        await anyio.sleep(0.5)
        assert not orphan.exists()
        assert not stray_thumbnail.exists()
        assert (settings.upload_dir / real["filename"]).exists()
        assert real_thumbnail.exists()  # named by its attachment's row
        r = await client.get(real["url"], headers=bearer("bob"))
        assert r.status_code == 200
        r = await client.get(real["thumbnail_url"], headers=bearer("bob"))
        assert r.status_code == 200


async def test_delete_commits_the_row_before_the_file_goes(spied: tuple[Api, SpyStore]) -> None:
    api, spy = spied
    _, message = await chat(api)
    one, two, three = (
        await api.upload(
            "alice",
            message["id"],
            ("a.png", samples.sample("png")),
            ("b.pdf", samples.sample("pdf")),
            ("c.zip", samples.sample("zip")),
        )
    ).json()
    assert (await api.client.delete(f"/api/v1/media/{one['id']}", headers=bearer("alice"))).status_code == 204
    assert (
        await api.client.delete(f"/api/v1/messages/{message['id']}", headers=bearer("alice"))
    ).status_code == 204
    thumbnails = [f"{a['id']}.thumb.webp" for a in (one, two, three) if "thumbnail_url" in a]
    assert thumbnails == [f"{one['id']}.thumb.webp"]  # the PNG's; a PDF and a ZIP have none
    assert sorted(spy.deleted) == sorted(
        [(a["filename"], False) for a in (one, two, three)] + [(t, False) for t in thumbnails]
    ), "(name, a row still named it when the file was unlinked)"
    assert api.stored_files() == set()


# ---- the unknown-id control that the IDOR tests rely on -------------------------------------------


async def test_unknown_ids_of_every_kind_are_plain_404s(api: Api) -> None:
    for method, path in [
        ("GET", f"{FILES}/{uuid.uuid4()}.png"),
        ("GET", f"/api/v1/media/message/{new_id()}"),
        ("DELETE", f"/api/v1/media/{new_id()}"),
        ("DELETE", f"/api/v1/messages/{new_id()}"),
        ("GET", f"/api/v1/conversations/{new_id()}"),
        ("GET", f"/api/v1/conversations/{new_id()}/messages"),
    ]:
        r = await api.client.request(method, path, headers=bearer("alice"))
        assert r.status_code == 404, path
        assert set(r.json()) == {"status_code", "detail"}
        assert r.json()["status_code"] == 404
