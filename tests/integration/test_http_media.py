"""The seed's media endpoints through the real app, on SQLite and a real uploads folder."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace

import httpx
import pytest
from litestar.testing import AsyncTestClient

from adapters.memory import RecordingBroadcaster
from application.events import MediaAttached, MediaDeleted
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests import samples
from tests.integration.http_fixtures import Api, bearer, new_id, unsigned

UUID_NAME = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\.[a-z0-9]+")


async def chat(api: Api) -> tuple[dict[str, object], dict[str, object]]:
    group = await api.conversation("alice", ["bob"])
    return group, await api.message("alice", str(group["id"]))


async def test_upload_stores_the_file_under_a_uuid_name_and_marks_the_message(
    api: Api, broadcaster: RecordingBroadcaster
) -> None:
    group, message = await chat(api)
    body = samples.sample("png")
    r = await api.upload("alice", str(message["id"]), ("Holiday Photo.PNG", body))
    assert r.status_code == 201, r.text
    [attachment] = r.json()
    assert set(attachment) >= {
        "id", "message_id", "uploader_id", "filename", "original_name", "content_type",
        "kind", "size", "sha256", "url", "created_at",
    }  # fmt: skip
    assert UUID_NAME.fullmatch(attachment["filename"])
    assert attachment["filename"].endswith(".png")
    assert attachment["original_name"] == "Holiday Photo.PNG"
    assert attachment["content_type"] == "image/png"
    assert attachment["kind"] == "image"
    # Stored, hashed and sized as processed: the PNG without its text chunk (test_media_processing.py).
    stored = (api.upload_dir / attachment["filename"]).read_bytes()
    assert stored.startswith(b"\x89PNG")
    assert b"tEXt" in body
    assert b"tEXt" not in stored
    assert attachment["size"] == len(stored)
    assert attachment["sha256"] == hashlib.sha256(stored).hexdigest()
    # Signed for the uploader (test_signed_urls.py): the path, then exp, u and sig.
    assert attachment["url"].startswith(f"/api/v1/media/files/{attachment['filename']}?exp=")
    assert "&u=alice&sig=" in attachment["url"]
    assert attachment["thumbnail_url"].startswith(f"/api/v1/media/{attachment['id']}/thumbnail?exp=")
    assert api.stored_files() == {attachment["filename"], f"{attachment['id']}.thumb.webp"}
    history = await api.client.get(f"/api/v1/conversations/{group['id']}/messages", headers=bearer("bob"))
    [listed] = history.json()
    assert listed["has_media"] is True
    assert [unsigned(a) for a in listed["attachments"]] == [unsigned(attachment)]
    event = broadcaster.events[-1]
    assert isinstance(event, MediaAttached)
    assert [str(a.id) for a in event.attachments] == [attachment["id"]]


async def test_many_files_in_one_upload_keep_their_order(api: Api) -> None:
    _, message = await chat(api)
    files = [
        ("a.pdf", samples.sample("pdf")),
        ("b.txt", samples.sample("txt")),
        ("c.mp4", samples.sample("mp4")),
    ]
    r = await api.upload("alice", str(message["id"]), *files)
    assert r.status_code == 201, r.text
    assert [a["original_name"] for a in r.json()] == ["a.pdf", "b.txt", "c.mp4"]
    assert [a["kind"] for a in r.json()] == ["document", "document", "video"]
    assert r.json()[1]["content_type"] == "text/plain; charset=utf-8"
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))
    assert listed.status_code == 200
    assert [unsigned(a) for a in listed.json()] == [unsigned(a) for a in r.json()]


async def test_message_id_may_come_before_the_files(api: Api) -> None:
    _, message = await chat(api)
    body = samples.sample("jpg")
    boundary = "b0undary"
    payload = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="message_id"\r\n\r\n{message["id"]}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        + body
        + f"\r\n--{boundary}--\r\n".encode()
    )
    r = await api.client.post(
        "/api/v1/media/upload",
        content=payload,
        headers={**bearer("alice"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("page.jpg", samples.html_page()),
        ("run.jpg", samples.elf_executable()),
        ("doc.pdf", samples.sample("png")),
        ("setup.doc", samples.windows_exe()),
        ("notes.txt", samples.text_with_nul()),
        ("blank.txt", b"\r\n" * 1000 + samples.html_page()),  # a page below a screen of blank lines
        ("gifar.gif", samples.gif_with_script()),
        ("zipped.png", samples.png_with_zip_appended()),
        ("icon.svg", samples.svg_image()),
        ("page.html", samples.html_page()),
        ("noext", samples.sample("png")),
    ],
)
async def test_spoofed_or_forbidden_types_are_415_and_keep_nothing(api: Api, name: str, body: bytes) -> None:
    _, message = await chat(api)
    r = await api.upload("alice", str(message["id"]), ("ok.png", samples.sample("png")), (name, body))
    assert r.status_code == 415, r.text
    assert r.json()["status_code"] == 415
    assert api.stored_files() == set()
    listed = await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("alice"))
    assert listed.json() == []


async def test_the_size_cap_holds_at_the_byte(small_cap: Settings) -> None:
    app = create_app(small_cap)
    async with AsyncTestClient(app) as client:
        api = Api(client=client, upload_dir=small_cap.upload_dir)
        _, message = await chat(api)
        exact = samples.sample("pdf", size=65_536)
        over = samples.sample("pdf", size=65_537)
        assert (await api.upload("alice", str(message["id"]), ("exact.pdf", exact))).status_code == 201
        kept = api.stored_files()
        r = await api.upload("alice", str(message["id"]), ("over.pdf", over))
        assert r.status_code == 413
        assert "65,536" in r.json()["detail"]
        assert api.stored_files() == kept
        listed = await client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("alice"))
        assert len(listed.json()) == 1


async def test_only_the_sender_attaches(api: Api) -> None:
    _, message = await chat(api)
    other_member = await api.upload("bob", str(message["id"]), ("x.png", samples.sample("png")))
    outsider = await api.upload("mallory", str(message["id"]), ("x.png", samples.sample("png")))
    unknown = await api.upload("mallory", new_id(), ("x.png", samples.sample("png")))
    assert other_member.status_code == 403
    assert outsider.status_code == unknown.status_code == 404
    assert outsider.content == unknown.content
    assert api.stored_files() == set()


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [
        (b"not multipart", "text/plain", 400),
        (b"--x\r\nbroken", "multipart/form-data; boundary=x", 400),
        (b"--x\r\nContent-Disposition: form-data; name=\"comment\"\r\n\r\nabc\r\n--x--\r\n",
         "multipart/form-data; boundary=x", 400),
    ],
)  # fmt: skip
async def test_malformed_uploads_are_400(api: Api, content: bytes, content_type: str, status: int) -> None:
    r = await api.client.post(
        "/api/v1/media/upload", content=content, headers={**bearer("alice"), "Content-Type": content_type}
    )
    assert r.status_code == status, r.text
    assert api.stored_files() == set()


async def test_a_message_id_that_is_not_a_uuid_is_422(api: Api) -> None:
    garbage = await api.upload("alice", "not-a-uuid", ("x.png", samples.sample("png")))
    assert garbage.status_code == 422
    assert api.stored_files() == set()


async def test_listing_media_is_for_members_only(api: Api) -> None:
    _, message = await chat(api)
    await api.upload("alice", str(message["id"]), ("x.png", samples.sample("png")))
    path = f"/api/v1/media/message/{message['id']}"
    assert (await api.client.get(path, headers=bearer("bob"))).status_code == 200
    outsider = await api.client.get(path, headers=bearer("mallory"))
    unknown = await api.client.get(f"/api/v1/media/message/{new_id()}", headers=bearer("mallory"))
    assert outsider.status_code == unknown.status_code == 404
    assert outsider.content == unknown.content


async def test_deleting_media_is_for_its_uploader_and_clears_has_media(
    api: Api, broadcaster: RecordingBroadcaster
) -> None:
    group, message = await chat(api)
    [first, second] = (
        await api.upload(
            "alice", str(message["id"]), ("a.png", samples.sample("png")), ("b.pdf", samples.sample("pdf"))
        )
    ).json()
    assert (await api.client.delete(f"/api/v1/media/{first['id']}", headers=bearer("bob"))).status_code == 403
    assert (
        await api.client.delete(f"/api/v1/media/{first['id']}", headers=bearer("mallory"))
    ).status_code == 404
    assert (
        await api.client.delete(f"/api/v1/media/{first['id']}", headers=bearer("alice"))
    ).status_code == 204
    assert api.stored_files() == {second["filename"]}
    assert isinstance(broadcaster.events[-1], MediaDeleted)
    assert broadcaster.events[-1].has_media is True
    assert (
        await api.client.delete(f"/api/v1/media/{second['id']}", headers=bearer("alice"))
    ).status_code == 204
    assert broadcaster.events[-1].has_media is False
    assert api.stored_files() == set()
    [listed] = (
        await api.client.get(f"/api/v1/conversations/{group['id']}/messages", headers=bearer("bob"))
    ).json()
    assert listed["has_media"] is False
    assert (await api.client.get(first["url"], headers=bearer("alice"))).status_code == 404


async def test_deleting_a_message_takes_its_attachments_and_files(api: Api) -> None:
    _, message = await chat(api)
    uploaded = (
        await api.upload(
            "alice", str(message["id"]), ("a.png", samples.sample("png")), ("b.zip", samples.sample("zip"))
        )
    ).json()
    assert (
        await api.client.delete(f"/api/v1/messages/{message['id']}", headers=bearer("alice"))
    ).status_code == 204
    assert api.stored_files() == set()
    for attachment in uploaded:
        assert (await api.client.get(attachment["url"], headers=bearer("alice"))).status_code == 404
        assert (
            await api.client.delete(f"/api/v1/media/{attachment['id']}", headers=bearer("alice"))
        ).status_code == 404


async def test_a_file_in_the_store_without_a_row_is_not_served(api: Api, settings: Settings) -> None:
    await chat(api)
    stray = f"{new_id()}.png"
    settings.upload_dir.mkdir(parents=True, exist_ok=True)
    (settings.upload_dir / stray).write_bytes(samples.sample("png"))
    r = await api.client.get(f"/api/v1/media/files/{stray}", headers=bearer("alice"))
    assert r.status_code == 404


async def test_the_store_failing_at_commit_time_keeps_nothing(settings: Settings) -> None:
    """The database refuses the rows (the message went away meanwhile): the published file goes too."""
    app = create_app(replace(settings))
    async with AsyncTestClient(app) as client:
        api = Api(client=client, upload_dir=settings.upload_dir)
        _, message = await chat(api)
        boundary = "zz"
        head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="message_id"\r\n\r\n{message["id"]}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n\r\n'
        ).encode()

        async def body():  # type: ignore[no-untyped-def]
            yield head
            yield samples.sample("png")
            # The sender deletes the message while the file is still arriving.
            deleted = await client.delete(f"/api/v1/messages/{message['id']}", headers=bearer("alice"))
            assert deleted.status_code == 204
            yield f"\r\n--{boundary}--\r\n".encode()

        # Litestar's test transport reads a request body whole before the app sees it; httpx's ASGI
        # transport streams it, so the delete above runs while the upload is in flight.
        streaming = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        async with streaming:
            r = await streaming.post(
                "/api/v1/media/upload",
                content=body(),
                headers={**bearer("alice"), "Content-Type": f"multipart/form-data; boundary={boundary}"},
            )
        assert r.status_code == 404, r.text
        assert api.stored_files() == set()
