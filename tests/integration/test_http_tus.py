"""Resumable uploads (tus 1.0) through the real app: discovery, creation's refusals, offsets,
ownership, termination, and a finished upload that is an attachment like any other."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import replace
from typing import Any

import httpx
from litestar.testing import AsyncTestClient

from domain.policy import MediaPolicy
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests.integration.http_fixtures import Api, bearer
from tests.samples import sample

UPLOADS = "/api/v1/media/uploads"


def tus(user: str, **headers: str) -> dict[str, str]:
    return {**bearer(user), "Tus-Resumable": "1.0.0", **headers}


def metadata(**pairs: str) -> str:
    return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in pairs.items())


async def create(api: Api, user: str, name: str, length: int, **extra: str) -> httpx.Response:
    return await api.client.post(
        UPLOADS,
        headers=tus(
            user, **{"Upload-Length": str(length), "Upload-Metadata": metadata(filename=name, **extra)}
        ),
    )


async def patch(client: Any, user: str, location: str, offset: int, body: bytes) -> httpx.Response:
    headers = tus(user, **{"Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})
    return await client.patch(location, headers=headers, content=body)  # type: ignore[no-any-return]


async def test_discovery_names_the_version_extensions_and_size_cap(api: Api) -> None:
    r = await api.client.options(UPLOADS, headers=bearer("alice"))
    assert r.status_code == 204
    assert r.headers["tus-resumable"] == "1.0.0"
    assert r.headers["tus-version"] == "1.0.0"
    assert set(r.headers["tus-extension"].split(",")) == {"creation", "termination", "expiration"}
    assert r.headers["tus-max-size"] == str(MediaPolicy().max_upload_size)


async def test_every_route_needs_a_token_and_says_tus_resumable_even_when_refusing(api: Api) -> None:
    for method in ("OPTIONS", "POST", "HEAD", "PATCH", "DELETE"):
        path = UPLOADS if method in ("OPTIONS", "POST") else f"{UPLOADS}/00000000-0000-0000-0000-000000000000"
        r = await api.client.request(method, path, headers={"Tus-Resumable": "1.0.0"})
        assert r.status_code == 401, method
        assert r.headers["tus-resumable"] == "1.0.0"


async def test_another_protocol_version_is_412(api: Api) -> None:
    r = await api.client.post(
        UPLOADS, headers={**tus("alice", **{"Upload-Length": "10"}), "Tus-Resumable": "0.2.2"}
    )
    assert r.status_code == 412
    assert r.headers["tus-version"] == "1.0.0"


async def test_a_message_upload_lands_as_an_attachment_and_is_served(api: Api) -> None:
    conversation = await api.conversation("alice", ["bob"])
    message = await api.message("alice", conversation["id"])
    data = sample("pdf", 30_000)  # a PDF is stored as sent (an image would lose its metadata)
    r = await create(api, "alice", "scan.pdf", len(data), message_id=message["id"])
    assert r.status_code == 201, r.text
    location = r.headers["location"]
    assert location.startswith(f"{UPLOADS}/")
    assert "upload-expires" in r.headers

    head = await api.client.head(location, headers=tus("alice"))
    assert (head.status_code, head.headers["upload-offset"], head.headers["upload-length"]) == (
        200,
        "0",
        "30000",
    )
    assert head.headers["cache-control"] == "no-store"

    r = await patch(api.client, "alice", location, 0, data)
    assert r.status_code == 204, r.text
    assert r.headers["upload-offset"] == "30000"
    attachment_id = r.headers["upload-attachment-id"]

    listed = (await api.client.get(f"/api/v1/media/message/{message['id']}", headers=bearer("bob"))).json()
    assert [a["id"] for a in listed] == [attachment_id]
    assert listed[0]["sha256"] == hashlib.sha256(data).hexdigest()
    served = await api.client.get(listed[0]["url"], headers=bearer("bob"))
    assert served.content == data
    assert (await api.client.head(location, headers=tus("alice"))).headers[
        "upload-attachment-id"
    ] == attachment_id
    assert not any(".resumable/" in name for name in api.stored_files())


async def test_creation_refuses_a_type_not_allowed_and_a_message_of_someone_else(api: Api) -> None:
    conversation = await api.conversation("alice", ["bob"])
    message = await api.message("alice", conversation["id"])
    assert (await create(api, "alice", "run.exe", 100)).status_code == 415
    assert (await create(api, "bob", "a.png", 100, message_id=message["id"])).status_code == 403
    assert (await create(api, "mallory", "a.png", 100, message_id=message["id"])).status_code == 404
    r = await api.client.post(UPLOADS, headers=tus("alice", **{"Upload-Length": "100"}))
    assert r.status_code == 400  # no filename


async def test_creation_refuses_a_length_over_the_cap(small_cap: Settings) -> None:
    async with AsyncTestClient(create_app(small_cap)) as client:
        api = Api(client=client, upload_dir=small_cap.upload_dir)
        assert (await create(api, "alice", "a.png", 65_537)).status_code == 413
        assert (await create(api, "alice", "a.png", 65_536)).status_code == 201


async def test_creation_refuses_a_length_past_the_quota(settings: Settings) -> None:
    quota = replace(settings, policy=MediaPolicy.from_lists(storage_quota=100_000))
    async with AsyncTestClient(create_app(quota)) as client:
        api = Api(client=client, upload_dir=quota.upload_dir)
        # A PDF: stored at its full size (an image's stored size is smaller: its padding is metadata).
        assert (await api.upload("alice", None, ("a.pdf", sample("pdf", 60_000)))).status_code == 201
        assert (await create(api, "alice", "b.png", 40_001)).status_code == 413
        assert (await create(api, "alice", "b.png", 40_000)).status_code == 201


async def test_a_wrong_offset_is_409_and_another_users_session_404(api: Api) -> None:
    data = sample("png", 10_000)
    location = (await create(api, "alice", "a.png", len(data))).headers["location"]
    assert (await patch(api.client, "alice", location, 0, data[:4_000])).status_code == 204
    assert (await patch(api.client, "alice", location, 0, data)).status_code == 409
    assert (await patch(api.client, "alice", location, 5_000, data[5_000:])).status_code == 409

    assert (await api.client.head(location, headers=tus("bob"))).status_code == 404
    assert (await patch(api.client, "bob", location, 4_000, data[4_000:])).status_code == 404
    assert (await api.client.delete(location, headers=tus("bob"))).status_code == 404
    assert (await api.client.head(location, headers=tus("alice"))).headers["upload-offset"] == "4000"


async def test_a_patch_needs_the_offset_content_type(api: Api) -> None:
    location = (await create(api, "alice", "a.png", 100)).headers["location"]
    r = await api.client.patch(
        location, headers=tus("alice", **{"Upload-Offset": "0", "Content-Type": "image/png"}), content=b"x"
    )
    assert r.status_code == 415


async def test_bytes_past_the_length_are_refused(api: Api) -> None:
    data = sample("png", 1_000)
    location = (await create(api, "alice", "a.png", len(data))).headers["location"]
    assert (await patch(api.client, "alice", location, 0, data + b"more")).status_code == 413
    assert (await api.client.head(location, headers=tus("alice"))).headers["upload-offset"] == "0"


async def test_bytes_that_are_not_what_the_name_says_are_415_at_the_end(api: Api) -> None:
    data = sample("pdf")
    location = (await create(api, "alice", "a.png", len(data))).headers["location"]
    assert (await patch(api.client, "alice", location, 0, data)).status_code == 415
    assert (await api.client.head(location, headers=tus("alice"))).status_code == 404
    assert api.stored_files() == set()


async def test_termination_removes_the_session_and_its_bytes(api: Api) -> None:
    location = (await create(api, "alice", "a.png", 10_000)).headers["location"]
    assert (await patch(api.client, "alice", location, 0, sample("png", 3_000))).status_code == 204
    assert any(".resumable/" in name for name in api.stored_files())
    assert (await api.client.delete(location, headers=tus("alice"))).status_code == 204
    assert (await api.client.head(location, headers=tus("alice"))).status_code == 404
    assert api.stored_files() == set()


async def test_resumed_by_a_new_client_after_40_percent_the_sha256_is_the_originals(
    settings: Settings, api: Api
) -> None:
    data = sample("zip", 500_000)  # a document: stored as it came
    cut = len(data) * 40 // 100
    location = (await create(api, "alice", "photos.zip", len(data))).headers["location"]
    assert (await patch(api.client, "alice", location, 0, data[:cut])).status_code == 204

    async with AsyncTestClient(create_app(settings)) as other:  # another process's client, as it were
        offset = int((await other.head(location, headers=tus("alice"))).headers["upload-offset"])
        assert offset == cut
        r = await patch(other, "alice", location, offset, data[offset:])
        assert r.status_code == 204, r.text
        attachment = r.headers["upload-attachment-id"]
    # A draft (no message): its stored name is the attachment id and the extension.
    served = await api.client.get(f"/api/v1/media/files/{attachment}.zip", headers=bearer("alice"))
    assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(data).hexdigest()
