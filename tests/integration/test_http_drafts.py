"""The upload lifecycle through the real app: drafts sent with a message, the storage quota, the
upload rate, and the sweeper (in the service and as `chat-media sweep`)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import uuid
from dataclasses import replace

import anyio
from litestar.testing import AsyncTestClient

from adapters.memory import RecordingBroadcaster
from application.events import MessageCreated
from domain.policy import MediaPolicy
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests import photos, samples
from tests.integration.http_fixtures import SECRET, Api, bearer, unsigned
from tests.integration.server_process import REPO


async def test_drafts_are_private_until_a_message_sends_them_whole(
    api: Api, broadcaster: RecordingBroadcaster
) -> None:
    group = await api.conversation("alice", ["bob"])
    uploaded = await api.upload(
        "alice", None, ("a.png", samples.sample("png")), ("b.pdf", samples.sample("pdf"))
    )
    assert uploaded.status_code == 201, uploaded.text
    drafts = uploaded.json()
    assert [d["message_id"] for d in drafts] == [None, None]
    assert (await api.client.get(drafts[0]["url"], headers=bearer("alice"))).status_code == 200
    assert (await api.client.get(drafts[0]["url"], headers=bearer("bob"))).status_code == 404
    assert broadcaster.events == []

    sent = await api.client.post(
        f"/api/v1/conversations/{group['id']}/messages",
        json={"content": "", "attachment_ids": [d["id"] for d in drafts]},
        headers=bearer("alice"),
    )

    assert sent.status_code == 201, sent.text
    message = sent.json()
    assert message["has_media"] is True
    assert [a["id"] for a in message["attachments"]] == [d["id"] for d in drafts]
    assert {a["message_id"] for a in message["attachments"]} == {message["id"]}
    [event] = broadcaster.events
    assert isinstance(event, MessageCreated)
    assert [str(a.id) for a in event.attachments] == [d["id"] for d in drafts]
    r = await api.client.get(drafts[0]["url"], headers=bearer("bob"))
    # The PNG as stored: without its text chunk (media processing), hashed as served.
    assert r.content.startswith(b"\x89PNG")
    assert hashlib.sha256(r.content).hexdigest() == drafts[0]["sha256"]
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    assert [unsigned(a) for a in listed.json()] == [unsigned(a) for a in message["attachments"]]


async def test_someone_elses_or_a_sent_draft_is_refused_and_nothing_changes(api: Api) -> None:
    group = await api.conversation("alice", ["bob"])
    [bobs] = (await api.upload("bob", None, ("a.png", samples.sample("png")))).json()
    [mine] = (await api.upload("alice", None, ("b.png", samples.sample("png")))).json()
    path = f"/api/v1/conversations/{group['id']}/messages"

    stolen = await api.client.post(
        path, json={"content": "x", "attachment_ids": [bobs["id"]]}, headers=bearer("alice")
    )
    unknown = await api.client.post(
        path, json={"content": "x", "attachment_ids": [str(uuid.uuid4())]}, headers=bearer("alice")
    )
    assert stolen.status_code == unknown.status_code == 404
    assert stolen.content == unknown.content  # another user's draft is as unknown as no id at all
    first = await api.client.post(
        path, json={"content": "x", "attachment_ids": [mine["id"]]}, headers=bearer("alice")
    )
    assert first.status_code == 201
    again = await api.client.post(
        path, json={"content": "y", "attachment_ids": [mine["id"]]}, headers=bearer("alice")
    )
    assert again.status_code == 409
    forwarded = await api.client.post(
        path, json={"content": "z", "attachment_ids": [mine["id"]]}, headers=bearer("bob")
    )
    assert forwarded.status_code == 403
    history = (await api.client.get(path, headers=bearer("alice"))).json()
    assert [m["id"] for m in history] == [first.json()["id"]]


async def test_the_storage_quota_holds_at_the_byte(settings: Settings) -> None:
    quota = replace(settings, policy=MediaPolicy.from_lists(storage_quota=100_000))
    async with AsyncTestClient(create_app(quota)) as client:
        api = Api(client=client, upload_dir=quota.upload_dir)
        exact = await api.upload("alice", None, ("a.pdf", samples.sample("pdf", 100_000)))
        assert exact.status_code == 201
        kept = api.stored_files()
        over = await api.upload("alice", None, ("b.txt", b"x"))
        assert over.status_code == 413
        assert "quota" in over.json()["detail"]
        assert api.stored_files() == kept
        [draft] = exact.json()
        assert (
            await client.delete(f"/api/v1/media/{draft['id']}", headers=bearer("alice"))
        ).status_code == 204
        assert (await api.upload("alice", None, ("b.txt", b"x"))).status_code == 201


async def test_the_upload_rate_answers_429_with_retry_after(settings: Settings) -> None:
    async with AsyncTestClient(create_app(replace(settings, upload_rate=3))) as client:
        api = Api(client=client, upload_dir=settings.upload_dir)
        statuses = [(await api.upload("alice", None, ("a.txt", b"hi\n"))).status_code for _ in range(3)]
        limited = await api.upload("alice", None, ("a.txt", b"hi\n"))
        other_user = await api.upload("bob", None, ("a.txt", b"hi\n"))
    assert statuses == [201, 201, 201]
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) > 0
    assert limited.json()["status_code"] == 429
    assert other_user.status_code == 201


def test_chat_media_sweep_removes_stale_drafts_and_forgotten_files(settings: Settings) -> None:
    async def prepare() -> tuple[str, str]:
        async with AsyncTestClient(create_app(settings)) as client:
            api = Api(client=client, upload_dir=settings.upload_dir)
            [stale] = (await api.upload("alice", None, ("a.png", samples.sample("png")))).json()
            group = await api.conversation("alice", [])
            message = await api.message("alice", str(group["id"]))
            other_bytes = photos.png(32, 24)  # the draft's bytes would be one copy for both
            [kept] = (await api.upload("alice", str(message["id"]), ("b.png", other_bytes))).json()
        return stale["filename"], kept["filename"]

    stale, kept = anyio.run(prepare)
    forgotten = settings.upload_dir / f"{uuid.uuid4()}.png"
    forgotten.write_bytes(samples.sample("png"))
    hour_and_more = time.time() - 3700
    for path in (
        forgotten,
        settings.upload_dir / kept,
        settings.upload_dir / kept.replace(".png", ".thumb.webp"),
    ):
        os.utime(path, (hour_and_more, hour_and_more))
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "UPLOAD_DIR": str(settings.upload_dir),
        "JWT_SECRET": SECRET,
        "DRAFT_TTL": "1",
    }
    time.sleep(1.1)  # the draft is now older than DRAFT_TTL
    done = subprocess.run(
        [sys.executable, "-m", "entrypoints.cli", "sweep"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "Removed 1 draft(s)" in done.stdout
    assert "1 file(s) no row named" in done.stdout
    kept_thumbnail = kept.replace(".png", ".thumb.webp")  # named by its row, so kept with it
    assert {p.name for p in settings.upload_dir.glob("*") if p.is_file()} == {kept, kept_thumbnail}
    assert stale != kept
