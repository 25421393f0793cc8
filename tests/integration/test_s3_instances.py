"""N instances: two service processes over one PostgreSQL, one Redis and one S3 server. A file
uploaded through one is downloaded (whole and by range) through the other, whose sockets hear of
it; deleted through the second, it is gone from the bucket. Both migrate at start at once
(PostgreSQL's advisory lock makes them take turns) and both sweep the same bucket."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx
import pytest

from adapters.files.s3 import MIN_PART_SIZE
from tests import samples
from tests.integration.http_fixtures import SECRET, bearer, unsigned
from tests.integration.server_process import Server, start_server
from tests.integration.test_ws import token
from tests.integration.ws_client import listen
from tests.s3 import Moto, contents, new_bucket, stored_objects

pytestmark = [pytest.mark.server, pytest.mark.postgres, pytest.mark.redis, pytest.mark.s3]


def start_both(tmp_path: Path, env: dict[str, str]) -> list[Server]:
    servers: list[Server] = []
    errors: list[BaseException] = []

    def start(name: str) -> None:
        try:
            (tmp_path / name).mkdir()
            servers.append(start_server(tmp_path / name, SECRET, **env))
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    starters = [threading.Thread(target=start, args=(name,)) for name in ("a", "b")]
    for starter in starters:
        starter.start()
    for starter in starters:
        starter.join(timeout=90)
    if errors:
        for server in servers:
            server.stop()
        raise errors[0]
    return sorted(servers, key=lambda s: s.port)


def test_upload_through_one_instance_download_and_delete_through_the_other(
    tmp_path: Path, fresh_postgres_url: str, redis_url: str, moto: Moto
) -> None:
    alice, bob = f"alice-{uuid.uuid4().hex[:8]}", f"bob-{uuid.uuid4().hex[:8]}"  # Redis is shared
    bucket = new_bucket(moto)
    env = {
        "DATABASE_URL": fresh_postgres_url,
        "REDIS_URL": redis_url,
        "STORAGE": "s3",
        "S3_BUCKET": bucket,
        "S3_ENDPOINT_URL": moto.endpoint,
        "S3_PART_SIZE": str(MIN_PART_SIZE),
    }
    servers = start_both(tmp_path, env)
    try:
        first, second = servers
        conversation = httpx.post(
            f"{first.base}/api/v1/conversations",
            json={"kind": "group", "member_ids": [bob]},
            headers=bearer(alice),
            timeout=10,
        ).json()
        body = samples.sample("zip", size=MIN_PART_SIZE + 1_000_003)  # two parts through A, as it came
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
                files={"file": ("photos.zip", body)},
                headers=bearer(alice),
                timeout=60,
            )
            assert uploaded.status_code == 201, uploaded.text
            assert bobs_socket.next()["message"]["id"] == message["id"]
            attached = bobs_socket.next()
            assert attached["type"] == "media.attached"
            assert attached["attachments"] == [unsigned(a) for a in uploaded.json()]
            (attachment,) = uploaded.json()
            assert contents(moto, bucket).objects == stored_objects(attachment)

            ranged = httpx.get(
                second.base + attachment["url"],
                headers={**bearer(bob), "Range": f"bytes={MIN_PART_SIZE - 10}-{MIN_PART_SIZE + 9}"},
                timeout=10,
            )
            assert ranged.status_code == 206
            assert ranged.content == body[MIN_PART_SIZE - 10 : MIN_PART_SIZE + 10]
            whole = httpx.get(second.base + attachment["url"], headers=bearer(bob), timeout=30)
            assert whole.content == body

            deleted = httpx.delete(
                f"{second.base}/api/v1/media/{attachment['id']}", headers=bearer(alice), timeout=10
            )
            assert deleted.status_code == 204
            gone = bobs_socket.next()
            assert (gone["type"], gone["media_id"], gone["has_media"]) == (
                "media.deleted",
                attachment["id"],
                False,
            )

        held = contents(moto, bucket)
        assert (held.objects, held.uploads) == (frozenset(), frozenset())
        assert httpx.get(first.base + attachment["url"], headers=bearer(bob), timeout=10).status_code == 404
        for server in servers:  # no file went to local disk on either instance
            assert [p for p in server.upload_dir.rglob("*") if p.is_file()] == []
    finally:
        for server in servers:
            server.stop()


def test_a_bucket_that_is_not_there_stops_start_up_with_a_sentence(tmp_path: Path, moto: Moto) -> None:
    env = {"STORAGE": "s3", "S3_BUCKET": f"missing-{uuid.uuid4().hex[:8]}", "S3_ENDPOINT_URL": moto.endpoint}
    with pytest.raises(RuntimeError, match="the server exited") as exited:
        start_server(tmp_path, SECRET, **env)
    assert f"Configuration error: S3_BUCKET '{env['S3_BUCKET']}' does not exist at {moto.endpoint}." in str(
        exited.value
    )
