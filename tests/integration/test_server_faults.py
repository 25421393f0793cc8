"""Faults only a real server process shows: a client that goes away mid-upload, a body over the cap
with a dishonest length, a server killed mid-write, a download racing a delete."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.integration.http_fixtures import SECRET, bearer
from tests.integration.server_process import Server, running_server, start_server, wait_until

pytestmark = pytest.mark.server


def published(upload_dir: Path) -> set[str]:
    return {p.name for p in upload_dir.glob("*") if p.is_file()}


def staging(upload_dir: Path) -> set[str]:
    return {p.name for p in (upload_dir / ".staging").glob("*")}


def new_message(server: Server) -> str:
    conv = httpx.post(
        f"{server.base}/api/v1/conversations",
        json={"kind": "group", "member_ids": ["bob"]},
        headers=bearer("alice"),
        timeout=10,
    ).json()
    message = httpx.post(
        f"{server.base}/api/v1/conversations/{conv['id']}/messages",
        json={"content": "x"},
        headers=bearer("alice"),
        timeout=10,
    ).json()
    return str(message["id"])


def media_of(server: Server, message_id: str) -> list[dict[str, object]]:
    r = httpx.get(f"{server.base}/api/v1/media/message/{message_id}", headers=bearer("alice"), timeout=10)
    assert r.status_code == 200
    return r.json()  # type: ignore[no-any-return]


def open_upload(server: Server, message_id: str, name: str, announced: int) -> tuple[socket.socket, bytes]:
    """A raw socket that has sent the request head and the multipart preamble of one file."""
    boundary = "fault-boundary"
    preamble = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="message_id"\r\n\r\n{message_id}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n\r\n'
    ).encode()
    head = (
        f"POST /api/v1/media/upload HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {bearer('alice')['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {announced}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    sock.sendall(head + preamble)
    return sock, f"\r\n--{boundary}--\r\n".encode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path, SECRET) as running:
        yield running


def test_a_client_that_disconnects_mid_upload_leaves_no_file_and_no_row(server: Server) -> None:
    message_id = new_message(server)
    body = samples.sample("mp4", size=8 * 1024 * 1024)
    sock, _ = open_upload(server, message_id, "clip.mp4", announced=len(body) + 1000)
    sock.sendall(body[: 3 * 1024 * 1024])
    assert wait_until(lambda: staging(server.upload_dir) != set(), timeout=10), "the upload never started"
    sock.close()
    assert wait_until(lambda: staging(server.upload_dir) == set(), timeout=10), staging(server.upload_dir)
    assert published(server.upload_dir) == set()
    assert media_of(server, message_id) == []
    assert "Traceback" not in server.log.read_text()


def test_a_body_over_the_cap_is_413_whatever_the_content_length_says(tmp_path: Path) -> None:
    with running_server(tmp_path, SECRET, MAX_UPLOAD_SIZE="1048576") as server:
        message_id = new_message(server)
        body = samples.sample("pdf", size=3 * 1024 * 1024)
        sock, tail = open_upload(server, message_id, "big.pdf", announced=2_000)  # a lie: far less than sent
        with contextlib.suppress(OSError):  # the server may close as soon as it has answered
            sock.sendall(body + tail)
        answer = b""
        try:
            while b"\r\n\r\n" not in answer:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
        except OSError:
            pass
        sock.close()
        assert answer.startswith(b"HTTP/1.1 4"), answer[:200]
        assert answer.split(b" ", 2)[1] in (b"400", b"413"), answer[:200]
        assert wait_until(lambda: staging(server.upload_dir) == set(), timeout=10)
        assert published(server.upload_dir) == set()
        assert media_of(server, message_id) == []

        honest = httpx.post(
            f"{server.base}/api/v1/media/upload",
            data={"message_id": message_id},
            files={"file": ("big.pdf", body)},
            headers=bearer("alice"),
            timeout=30,
        )
        assert honest.status_code == 413
        assert published(server.upload_dir) == set()


def test_a_server_killed_mid_write_is_clean_after_restart(tmp_path: Path) -> None:
    server = start_server(tmp_path, SECRET)
    try:
        message_id = new_message(server)
        body = samples.sample("mp4", size=8 * 1024 * 1024)
        sock, _ = open_upload(server, message_id, "clip.mp4", announced=len(body) + 1000)
        sock.sendall(body[: 4 * 1024 * 1024])
        assert wait_until(lambda: staging(server.upload_dir) != set(), timeout=10)
        server.kill()
        sock.close()
        assert staging(server.upload_dir) != set(), "the crash should leave its partial file behind"
    finally:
        server.kill()
    with running_server(tmp_path, SECRET) as restarted:
        assert staging(restarted.upload_dir) == set()
        assert published(restarted.upload_dir) == set()
        assert media_of(restarted, message_id) == []


def test_full_and_ranged_downloads_through_the_real_server(server: Server) -> None:
    message_id = new_message(server)
    body = samples.sample("zip", size=5 * 1024 * 1024 + 17)  # a document: served as it came
    r = httpx.post(
        f"{server.base}/api/v1/media/upload",
        data={"message_id": message_id},
        files={"file": ("photos.zip", body)},
        headers=bearer("alice"),
        timeout=30,
    )
    assert r.status_code == 201, r.text
    url = server.base + r.json()[0]["url"]
    full = httpx.get(url, headers=bearer("bob"), timeout=30)
    assert full.status_code == 200
    assert full.content == body
    assert full.headers["etag"] == f'"{hashlib.sha256(body).hexdigest()}"'
    part = httpx.get(url, headers={**bearer("bob"), "Range": "bytes=100-199"}, timeout=30)
    assert part.status_code == 206
    assert part.content == body[100:200]
    head = httpx.head(url, headers=bearer("bob"), timeout=30)
    assert head.status_code == 200
    assert head.headers["content-length"] == str(len(body))
    assert head.content == b""


def test_a_download_racing_a_delete_is_whole_or_404(server: Server) -> None:
    message_id = new_message(server)
    body = samples.sample("zip", size=24 * 1024 * 1024)  # a document: served as it came
    r = httpx.post(
        f"{server.base}/api/v1/media/upload",
        data={"message_id": message_id},
        files={"file": ("photos.zip", body)},
        headers=bearer("alice"),
        timeout=60,
    )
    attachment = r.json()[0]
    url = server.base + attachment["url"]
    digest = hashlib.sha256(body).hexdigest()
    outcomes: list[tuple[int, str]] = []

    def download() -> None:
        with httpx.stream("GET", url, headers=bearer("bob"), timeout=60) as response:
            hasher = hashlib.sha256()
            for chunk in response.iter_bytes(65536):
                hasher.update(chunk)
            outcomes.append((response.status_code, hasher.hexdigest()))

    readers = [threading.Thread(target=download) for _ in range(4)]
    for reader in readers:
        reader.start()
    deleted = httpx.delete(
        f"{server.base}/api/v1/media/{attachment['id']}", headers=bearer("alice"), timeout=30
    )
    for reader in readers:
        reader.join(timeout=60)
    assert deleted.status_code == 204
    assert len(outcomes) == 4
    for status, got in outcomes:
        assert (status == 200 and got == digest) or status == 404, (status, got)
    assert published(server.upload_dir) == set()
