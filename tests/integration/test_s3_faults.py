"""Faults between the service and what it stores in, over PostgreSQL and S3 reached through proxies
that a test can break (the real servers are shared, and go on answering everyone else):

- S3 stops answering mid-upload: 503 with a sentence that says so, no row, and the multipart upload
  aborted once S3 answers again (the abort cannot get through while it is silent; the sweeper
  retries it);
- PostgreSQL stops answering after the object was written: 503, no row, the object removed.

After each, the bucket and the tables are listed: nothing is left that the other does not name."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

import asyncpg
import pytest
from litestar.testing import AsyncTestClient

from adapters.files.s3 import MIN_PART_SIZE, S3Config
from adapters.memory import RecordingBroadcaster
from entrypoints.app import create_app
from entrypoints.settings import Settings
from tests import samples
from tests.databases import PG_HOST, PG_PORT, PG_USER, run_blocking
from tests.integration.fault_proxy import FaultProxy, fault_proxy
from tests.integration.http_fixtures import Api, bearer
from tests.integration.server_process import wait_until
from tests.s3 import Moto, contents, only_deleted_versions, s3_settings

pytestmark = [pytest.mark.postgres, pytest.mark.s3]

BODY = samples.sample("mp4", size=2 * MIN_PART_SIZE + 123_457)  # three parts


@dataclass
class Rig:
    api: Api
    s3: FaultProxy
    database: FaultProxy
    bucket: str
    database_name: str


@pytest.fixture
def s3_proxy(moto: Moto) -> Iterator[FaultProxy]:
    endpoint = urlsplit(moto.endpoint)
    with fault_proxy(str(endpoint.hostname), int(endpoint.port or 80)) as proxy:
        yield proxy


@pytest.fixture
def database_proxy() -> Iterator[FaultProxy]:
    with fault_proxy(PG_HOST, PG_PORT) as proxy:
        yield proxy


@pytest.fixture
async def rig(
    settings: Settings,
    postgres_url: str,
    s3_config: S3Config,
    s3_proxy: FaultProxy,
    database_proxy: FaultProxy,
) -> AsyncIterator[Rig]:
    store = replace(
        s3_config,
        endpoint_url=f"http://127.0.0.1:{s3_proxy.port}",
        part_size=MIN_PART_SIZE,
        timeout=3,  # moto under load can take a second or two to complete an upload
        max_attempts=1,
    )
    proxied = replace(
        settings,
        database_url=postgres_url.replace(f"{PG_HOST}:{PG_PORT}", f"127.0.0.1:{database_proxy.port}"),
        s3=s3_settings(store),
        sweep_interval=1.0,  # the service's sweep, which first removes the store's own leftovers
    )
    app = create_app(proxied, broadcaster=RecordingBroadcaster())
    async with AsyncTestClient(app, timeout=60) as client:
        yield Rig(
            api=Api(client=client, upload_dir=settings.upload_dir),
            s3=s3_proxy,
            database=database_proxy,
            bucket=s3_config.bucket,
            database_name=postgres_url.rsplit("/", 1)[1],
        )


def rows(rig: Rig) -> dict[str, int]:
    """The attachment rows and the events that announce media, read past the proxy."""
    counted: dict[str, int] = {}

    async def count() -> None:
        connection = await asyncpg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, database=rig.database_name
        )
        try:
            counted["media_attachments"] = await connection.fetchval("SELECT count(*) FROM media_attachments")
            counted["media.attached events"] = await connection.fetchval(
                "SELECT count(*) FROM conversation_events WHERE kind = 'media.attached'"
            )
        finally:
            await connection.close()

    run_blocking(count())
    return counted


async def message_of(rig: Rig) -> str:
    conversation = await rig.api.conversation("alice", ["bob"])
    return str((await rig.api.message("alice", conversation["id"]))["id"])


async def test_s3_silent_mid_upload_is_503_with_no_row_and_the_upload_aborted_once_back(
    rig: Rig, moto: Moto
) -> None:
    message_id = await message_of(rig)
    rig.s3.break_after(MIN_PART_SIZE + 512 * 1024, "silent")  # inside the second part
    answer = await rig.api.upload("alice", message_id, ("clip.mp4", BODY))
    assert answer.status_code == 503
    assert answer.json()["detail"] == "The file store did not answer; the upload was not kept."
    assert rows(rig) == {"media_attachments": 0, "media.attached events": 0}
    assert len(contents(moto, rig.bucket).uploads) == 1  # the abort got no answer either
    health = await rig.api.client.get("/health")
    assert health.status_code == 503

    rig.s3.set_mode("pass")
    assert wait_until(lambda: contents(moto, rig.bucket).uploads == frozenset(), timeout=15), (
        "the sweeper did not abort the upload once S3 answered again"
    )
    held = contents(moto, rig.bucket)
    assert (held.objects, held.versions) == (frozenset(), 0)
    assert (await rig.api.client.get("/health")).status_code == 200
    listed = await rig.api.client.get(f"/api/v1/media/message/{message_id}", headers=bearer("alice"))
    assert listed.json() == []


async def test_database_gone_after_the_object_was_written_removes_the_object(rig: Rig, moto: Moto) -> None:
    message_id = await message_of(rig)
    # Once every byte of the file went up, PostgreSQL stops answering: publish succeeds, the commit
    # cannot happen.
    rig.s3.break_after(len(BODY), "pass", then=lambda: rig.database.set_mode("refuse"))
    answer = await rig.api.upload("alice", message_id, ("clip.mp4", BODY))
    assert answer.status_code == 503
    assert answer.json()["detail"] == "The database does not answer; try again shortly."
    assert rig.database.mode == "refuse"

    held = contents(moto, rig.bucket)
    assert (held.objects, held.uploads) == (frozenset(), frozenset())
    # The database went while the processed copy went up: the upload's look-up of the contents
    # already stored (one copy per content), before it publishes, is what finds it gone, so nothing
    # was published. Whatever was (a version behind a delete marker, for the lifecycle rule of
    # docs/deployment.md), no staging object is left, not even hidden.
    assert only_deleted_versions(moto, rig.bucket)
    rig.database.set_mode("pass")
    assert rows(rig) == {"media_attachments": 0, "media.attached events": 0}
    listed = await rig.api.client.get(f"/api/v1/media/message/{message_id}", headers=bearer("alice"))
    assert listed.json() == []
