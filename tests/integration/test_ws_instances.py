"""Two service processes sharing PostgreSQL and Redis: what happens through one is heard on the
other's sockets. Both migrate on start at once; PostgreSQL's advisory lock makes them take turns."""

from __future__ import annotations

import hashlib
import threading
import uuid
from pathlib import Path

import httpx
import pytest

from tests import samples
from tests.integration.http_fixtures import SECRET, bearer, unsigned
from tests.integration.server_process import Server, start_server
from tests.integration.test_ws import token
from tests.integration.ws_client import listen

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis]


def test_an_upload_through_one_instance_reaches_a_socket_on_the_other(
    tmp_path: Path, fresh_postgres_url: str, redis_url: str
) -> None:
    # Redis pub/sub channels are shared by everything that talks to this Redis: unique names.
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"
    env = {"DATABASE_URL": fresh_postgres_url, "REDIS_URL": redis_url, "UPLOAD_DIR": str(tmp_path / "shared")}
    servers: list[Server] = []
    errors: list[BaseException] = []

    def start(name: str) -> None:
        try:
            servers.append(start_server(tmp_path / name, SECRET, **env))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    starters = [threading.Thread(target=start, args=(name,)) for name in ("a", "b")]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(timeout=90)
    try:
        assert not errors, errors
        first, second = sorted(servers, key=lambda s: s.port)
        conversation = httpx.post(
            f"{first.base}/api/v1/conversations",
            json={"kind": "group", "member_ids": [bob]},
            headers=bearer(alice),
            timeout=10,
        ).json()
        with listen(second.base, token(bob)) as bobs_socket:
            assert bobs_socket.next()["type"] == "ready"
            message = httpx.post(
                f"{first.base}/api/v1/conversations/{conversation['id']}/messages",
                json={"content": "through A"},
                headers=bearer(alice),
                timeout=10,
            ).json()
            uploaded = httpx.post(
                f"{first.base}/api/v1/media/upload",
                data={"message_id": message["id"]},
                files={"file": ("a.png", samples.sample("png"))},
                headers=bearer(alice),
                timeout=30,
            )
            assert uploaded.status_code == 201, uploaded.text
            created, attached = bobs_socket.next(), bobs_socket.next()
        assert created["message"]["id"] == message["id"]
        assert attached["type"] == "media.attached"
        assert attached["attachments"] == [unsigned(a) for a in uploaded.json()]
        # The other instance serves it too: one database, one store.
        [shown] = attached["attachments"]
        got = httpx.get(second.base + shown["url"], headers=bearer(bob), timeout=10)
        assert got.status_code == 200
        assert hashlib.sha256(got.content).hexdigest() == shown["sha256"]  # the PNG, its metadata gone
        thumbnail = httpx.get(second.base + shown["thumbnail_url"], headers=bearer(bob), timeout=10)
        assert (thumbnail.status_code, thumbnail.headers["content-type"]) == (200, "image/webp")
        # A URL one instance signed opens on the other with no header: they share MEDIA_URL_SECRET.
        [signed] = uploaded.json()
        assert httpx.get(second.base + signed["url"], timeout=10).content == got.content
    finally:
        for server in servers:
            server.stop()
