"""Resumable uploads against the service as a real process: a tus client written elsewhere
(`tuspy`), and a connection that really drops at 40% and is resumed by a new client."""

from __future__ import annotations

import hashlib
import io
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from tusclient.client import TusClient

from tests.integration.http_fixtures import SECRET, bearer
from tests.integration.server_process import Server, running_server, wait_until
from tests.samples import sample

pytestmark = pytest.mark.server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, SECRET) as running:
        yield running


def test_tuspy_uploads_a_file_that_becomes_an_attachment(server: Server) -> None:
    data = sample("zip", 300_000)  # a document: stored as sent
    client = TusClient(f"{server.base}/api/v1/media/uploads", headers=bearer("alice"))
    uploader = client.uploader(
        file_stream=io.BytesIO(data), chunk_size=64 * 1024, metadata={"filename": "photos.zip"}
    )
    uploader.upload()

    head = httpx.head(uploader.url, headers={**bearer("alice"), "Tus-Resumable": "1.0.0"})
    assert head.headers["upload-offset"] == str(len(data))
    attachment_id = head.headers["upload-attachment-id"]
    served = httpx.get(f"{server.base}/api/v1/media/files/{attachment_id}.zip", headers=bearer("alice"))
    assert served.status_code == 200
    assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(data).hexdigest()


def test_a_connection_dropped_at_40_percent_resumes_to_the_same_sha256(server: Server) -> None:
    data = sample("pdf", 2_000_000)  # stored as sent (an image would lose its metadata)
    cut = len(data) * 40 // 100
    tus = {**bearer("alice"), "Tus-Resumable": "1.0.0"}
    created = httpx.post(
        f"{server.base}/api/v1/media/uploads",
        headers={**tus, "Upload-Length": str(len(data)), "Upload-Metadata": "filename c2Nhbi5wZGY="},
    )
    assert created.status_code == 201, created.text
    location = created.headers["location"]

    # A PATCH that announces the whole rest, sends 40% of it, and then the connection is gone.
    with socket.create_connection(("127.0.0.1", server.port)) as raw:
        head = (
            f"PATCH {location} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {tus['Authorization']}\r\n"
            f"Tus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\nContent-Type: application/offset+octet-stream\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        raw.sendall(head.encode() + data[:cut])

    def offset() -> int:
        r = httpx.head(f"{server.base}{location}", headers=tus)
        return int(r.headers["upload-offset"])

    assert wait_until(lambda: offset() == cut)
    with httpx.Client(base_url=server.base, headers=tus) as fresh:  # a new client, a new connection
        resumed_at = int(fresh.head(location).headers["upload-offset"])
        r = fresh.patch(
            location,
            headers={"Upload-Offset": str(resumed_at), "Content-Type": "application/offset+octet-stream"},
            content=data[resumed_at:],
        )
        assert r.status_code == 204, r.text
        served = fresh.get(f"/api/v1/media/files/{r.headers['upload-attachment-id']}.pdf")
    assert hashlib.sha256(served.content).hexdigest() == hashlib.sha256(data).hexdigest()
