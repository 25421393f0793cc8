"""Malware scanning through the real app and a real clamd (tests/clamd.py: a signature database of
EICAR's alone): infected files refused whole and kept nowhere, clean ones stored, and clamd killed
mid-test under SCAN_FAIL=closed (503) and open (stored unscanned, scanned by the sweep once clamd is
back, and removed by it when infected)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import anyio
import pytest
from bench.clamd import Clamd
from litestar.testing import AsyncTestClient

from adapters.memory import RecordingBroadcaster
from adapters.metrics import REFUSALS
from application.events import MediaDeleted
from entrypoints.app import create_app
from entrypoints.settings import Settings
from entrypoints.settings_values import ScanSettings
from tests import samples
from tests.integration.http_fixtures import Api, bearer
from tests.integration.test_http_tus import create, patch

INFECTED = [
    ("note.txt", samples.eicar_txt()),
    ("archive.zip", samples.eicar_zip()),
    ("packed.zip", samples.eicar_zip(deflated=True)),
    ("paper.pdf", samples.eicar_pdf()),
]
SWEEP_WAIT = 20.0  # seconds the service's sweep (every 0.2 s here) gets to scan what waits


def scanning(settings: Settings, clamd: Clamd, *, fail_open: bool = False) -> Settings:
    scan = ScanSettings(socket_path=clamd.socket_path, timeout=5.0, fail_open=fail_open)
    return replace(settings, scan=scan, sweep_interval=0.2 if fail_open else 0.0)


async def scanned_api(settings: Settings, broadcaster: RecordingBroadcaster) -> AsyncIterator[Api]:
    async with AsyncTestClient(create_app(settings, broadcaster=broadcaster), timeout=30) as client:
        yield Api(client=client, upload_dir=settings.upload_dir)


@pytest.fixture
async def closed(settings: Settings, clamd: Clamd, broadcaster: RecordingBroadcaster) -> AsyncIterator[Api]:
    async for api in scanned_api(scanning(settings, clamd), broadcaster):
        yield api


@pytest.fixture
async def open_(settings: Settings, clamd: Clamd, broadcaster: RecordingBroadcaster) -> AsyncIterator[Api]:
    async for api in scanned_api(scanning(settings, clamd, fail_open=True), broadcaster):
        yield api


async def message_of(api: Api) -> tuple[str, str]:
    group = await api.conversation("alice", ["bob"])
    message = await api.message("alice", str(group["id"]))
    return str(group["id"]), str(message["id"])


async def attachments(api: Api, group_id: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/v1/conversations/{group_id}/messages", headers=bearer("bob"))
    assert r.status_code == 200, r.text
    return [a for message in r.json() for a in message["attachments"]]


@pytest.mark.parametrize(("name", "data"), INFECTED, ids=[n for n, _ in INFECTED])
async def test_an_infected_file_is_refused_422_naming_the_signature_and_nothing_is_kept(
    closed: Api, name: str, data: bytes
) -> None:
    group_id, message_id = await message_of(closed)
    refusals = REFUSALS.labels("scan")._value.get()

    r = await closed.upload("alice", message_id, ("clean.png", samples.sample("png")), (name, data))

    assert r.status_code == 422, r.text
    assert "Test.EICAR" in r.json()["detail"]
    assert name in r.json()["detail"]
    assert await attachments(closed, group_id) == []
    assert closed.stored_files() == set()  # nothing published, nothing left in staging
    assert REFUSALS.labels("scan")._value.get() == refusals + 1


async def test_a_clean_file_is_stored_and_says_nothing_of_scanning(closed: Api) -> None:
    group_id, message_id = await message_of(closed)

    r = await closed.upload("alice", message_id, ("readme.txt", samples.sample("txt")))

    assert r.status_code == 201, r.text
    [attachment] = r.json()
    assert "scanned" not in attachment
    assert [a["id"] for a in await attachments(closed, group_id)] == [attachment["id"]]


async def test_clamd_killed_refuses_uploads_503_when_scanning_fails_closed(closed: Api, clamd: Clamd) -> None:
    group_id, message_id = await message_of(closed)
    clamd.stop()

    r = await closed.upload("alice", message_id, ("readme.txt", samples.sample("txt")))

    assert r.status_code == 503, r.text
    assert "malware scanner" in r.json()["detail"]
    assert await attachments(closed, group_id) == []
    assert closed.stored_files() == set()


async def test_a_resumable_upload_is_scanned_and_refused_like_a_form(closed: Api) -> None:
    _, message_id = await message_of(closed)
    data = samples.eicar_txt()
    created = await create(closed, "alice", "note.txt", len(data), message_id=message_id)
    assert created.status_code == 201, created.text

    r = await patch(closed.client, "alice", created.headers["location"], 0, data)

    assert r.status_code == 422, r.text
    assert "Test.EICAR" in r.json()["detail"]
    assert not any(p.suffix == ".txt" for p in closed.upload_dir.rglob("*"))


async def wait_until(check: Any) -> None:
    deadline = time.monotonic() + SWEEP_WAIT
    while not await check():
        assert time.monotonic() < deadline, "the sweep did not get to the unscanned files"
        await anyio.sleep(0.1)


async def test_clamd_killed_stores_unscanned_when_open_and_the_sweep_scans_and_removes_later(
    open_: Api, clamd: Clamd, broadcaster: RecordingBroadcaster
) -> None:
    group_id, message_id = await message_of(open_)
    clamd.stop()

    r = await open_.upload(
        "alice", message_id, ("readme.txt", samples.sample("txt")), ("note.txt", samples.eicar_txt())
    )

    assert r.status_code == 201, r.text
    clean, infected = r.json()
    assert clean["scanned"] is False
    assert infected["scanned"] is False
    assert {a["id"] for a in await attachments(open_, group_id)} == {clean["id"], infected["id"]}
    await anyio.sleep(0.5)  # sweeps run meanwhile, and leave both waiting
    assert all(a["scanned"] is False for a in await attachments(open_, group_id))

    await anyio.to_thread.run_sync(clamd.start)

    async def swept() -> bool:
        return [a["id"] for a in await attachments(open_, group_id)] == [clean["id"]]

    await wait_until(swept)
    [kept] = await attachments(open_, group_id)
    assert "scanned" not in kept
    assert infected["filename"] not in open_.stored_files()
    assert clean["filename"] in open_.stored_files()
    deleted = [e for e in broadcaster.events if isinstance(e, MediaDeleted)]
    assert [str(e.media_id) for e in deleted] == [infected["id"]]
