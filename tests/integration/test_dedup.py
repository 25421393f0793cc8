"""One copy per content, through the real app: identical bytes are stored once whoever uploads them
and wherever, counted in `stored_contents`; access stays per attachment; the last reference takes
the file with it; quotas count what each user uploaded. On the disk store and on S3, over SQLite
and PostgreSQL, and under the two races (the same bytes twice at once; an upload racing the delete
of the last reference)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, replace
from typing import Any

import anyio
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import select

from adapters.clock import SystemClock
from adapters.memory import InMemoryPartialStore, RecordingBroadcaster
from adapters.sniffing import FiletypeSniffer
from adapters.sql.database import create_engine, session_maker
from adapters.sql.models import AttachmentRow, StoredContentRow
from adapters.sql.unit_of_work import SqlUnitOfWorkFactory
from application.delete_media import DeleteMedia
from application.messages import DeleteMessage
from domain.attachment import Attachment
from domain.errors import NotFound
from domain.policy import MediaPolicy
from entrypoints.app import create_app
from entrypoints.di import UseCases, build_use_cases
from entrypoints.settings import Settings
from entrypoints.storage import storage_for
from tests import samples
from tests.integration.http_fixtures import Api, bearer
from tests.s3 import Moto, contents, s3_settings

MEME = samples.sample("pdf", 4000)  # a document: no processing, no thumbnail, so files are exact
OTHER = samples.sample("txt", 3000)
SHA = hashlib.sha256(MEME).hexdigest()
OTHER_SHA = hashlib.sha256(OTHER).hexdigest()


@dataclass
class Service:
    api: Api
    database_url: str
    files: Callable[[], set[str]]  # the names of the files the store holds

    async def refs(self) -> dict[str, int]:
        """sha256 -> references, as the database counts them."""
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                rows = await connection.execute(select(StoredContentRow.sha256, StoredContentRow.refs))
                return {sha: refs for sha, refs in rows}
        finally:
            await engine.dispose()

    async def content_names(self) -> set[str]:
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return set((await connection.scalars(select(StoredContentRow.name))).all())
        finally:
            await engine.dispose()

    async def rows(self) -> int:
        engine = create_engine(self.database_url)
        try:
            async with engine.connect() as connection:
                return len((await connection.scalars(select(AttachmentRow.id))).all())
        finally:
            await engine.dispose()

    async def upload(self, user: str, message_id: str | None, body: bytes, name: str) -> dict[str, Any]:
        r = await self.api.upload(user, message_id, (name, body))
        assert r.status_code == 201, r.text
        return r.json()[0]  # type: ignore[no-any-return]

    async def delete(self, user: str, media_id: str) -> None:
        r = await self.api.client.delete(f"/api/v1/media/{media_id}", headers=bearer(user))
        assert r.status_code == 204, r.text

    async def get(self, user: str, attachment: dict[str, Any]) -> tuple[int, bytes]:
        r = await self.api.client.get(attachment["url"], headers=bearer(user))
        return r.status_code, r.content


def disk_files(settings: Settings) -> Callable[[], set[str]]:
    return lambda: {p.name for p in settings.upload_dir.iterdir() if p.is_file()}


async def service_of(
    settings: Settings, files: Callable[[], set[str]] | None = None
) -> AsyncIterator[Service]:
    app = create_app(settings, broadcaster=RecordingBroadcaster())
    async with AsyncTestClient(app, timeout=30) as client:
        api = Api(client=client, upload_dir=settings.upload_dir)
        yield Service(api, settings.database_url, files or disk_files(settings))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_settings(request: pytest.FixtureRequest, settings: Settings) -> Settings:
    if request.param == "sqlite":
        return settings
    return replace(settings, database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
async def local(database_settings: Settings) -> AsyncIterator[Service]:
    async for service in service_of(database_settings):
        yield service


@pytest.fixture
async def s3(settings: Settings, s3_config: Any, moto: Moto) -> AsyncIterator[Service]:
    configured = replace(settings, s3=s3_settings(s3_config))
    async for service in service_of(configured, lambda: set(contents(moto, s3_config.bucket).objects)):
        yield service


@dataclass
class Racing:
    service: Service  # to set up and to look
    settings: Settings  # for the instance that races


@pytest.fixture(params=["disk", pytest.param("s3", marks=pytest.mark.s3)])
async def racing(request: pytest.FixtureRequest, database_settings: Settings) -> AsyncIterator[Racing]:
    """The races on each store, over each database."""
    if request.param == "disk":
        async for service in service_of(database_settings):
            yield Racing(service, database_settings)
        return
    s3_config, moto = request.getfixturevalue("s3_config"), request.getfixturevalue("moto")
    configured = replace(database_settings, s3=s3_settings(s3_config))
    async for service in service_of(configured, lambda: set(contents(moto, s3_config.bucket).objects)):
        yield Racing(service, configured)


async def message_in(service: Service, user: str, members: list[str], kind: str = "group") -> str:
    conversation = await service.api.conversation(user, members, kind)
    return str((await service.api.message(user, conversation["id"]))["id"])


async def a_sequence_across_users_and_conversations(service: Service) -> None:
    api = service.api
    conversation = await api.conversation("alice", ["bob", "carol"])
    group = str((await api.message("alice", conversation["id"]))["id"])
    direct = await api.conversation("bob", ["dave"], "direct")
    to_dave = str((await api.message("bob", direct["id"]))["id"])

    # 1. alice shares the meme in the group: its first copy, under her attachment's name.
    a = await service.upload("alice", group, MEME, "meme.pdf")
    assert await service.refs() == {SHA: 1}
    assert service.files() == {a["filename"]}
    # 2. bob forwards it to dave: no second file, a second reference; his own public name.
    b = await service.upload("bob", to_dave, MEME, "fwd.pdf")
    assert b["filename"] != a["filename"]
    assert await service.refs() == {SHA: 2}
    assert service.files() == {a["filename"]}
    assert await service.get("dave", b) == (200, MEME)
    # 3. alice keeps it as a draft too, and shares something else.
    draft = await service.upload("alice", None, MEME, "again.pdf")
    other = await service.upload("alice", group, OTHER, "notes.txt")
    assert await service.refs() == {SHA: 3, OTHER_SHA: 1}
    assert service.files() == {a["filename"], other["filename"]}
    # 4. alice deletes the first upload: its file stays, for bob's and her draft.
    await service.delete("alice", a["id"])
    assert await service.refs() == {SHA: 2, OTHER_SHA: 1}
    assert service.files() == {a["filename"], other["filename"]}
    assert await service.get("dave", b) == (200, MEME)
    assert (await service.get("bob", a))[0] == 404
    # 5. bob deletes his message: its attachment's reference goes with it.
    r = await api.client.delete(f"/api/v1/messages/{to_dave}", headers=bearer("bob"))
    assert r.status_code == 204
    assert await service.refs() == {SHA: 1, OTHER_SHA: 1}
    assert service.files() == {a["filename"], other["filename"]}
    assert await service.get("alice", draft) == (200, MEME)
    # 6. the last reference goes: the file with it.
    await service.delete("alice", draft["id"])
    assert await service.refs() == {OTHER_SHA: 1}
    assert service.files() == {other["filename"]}
    # 7. the same bytes again are a new first copy.
    carols = str((await api.message("carol", conversation["id"]))["id"])
    again = await service.upload("carol", carols, MEME, "meme.pdf")
    assert await service.refs() == {SHA: 1, OTHER_SHA: 1}
    assert service.files() == {again["filename"], other["filename"]}
    assert await service.get("bob", again) == (200, MEME)


async def test_one_copy_per_content_on_disk(local: Service) -> None:
    await a_sequence_across_users_and_conversations(local)


@pytest.mark.s3
async def test_one_copy_per_content_in_s3(s3: Service) -> None:
    await a_sequence_across_users_and_conversations(s3)


async def test_seeing_one_attachment_never_grants_another_of_the_same_bytes(local: Service) -> None:
    """Mattermost CVE-2026-4265: a file found by its content instead of by the attachment."""
    alices = await service_upload_in(local, "alice", ["bob"])
    carols = await service_upload_in(local, "carol", ["dave"])
    assert await local.refs() == {SHA: 2}
    assert await local.get("bob", alices) == (200, MEME)
    assert (await local.get("bob", carols))[0] == 404  # same bytes, not his conversation
    assert (await local.get("dave", alices))[0] == 404
    assert await local.get("dave", carols) == (200, MEME)
    draft = await local.upload("alice", None, MEME, "mine.pdf")
    assert (await local.get("bob", draft))[0] == 404
    for name in (alices["filename"], carols["filename"], draft["filename"]):
        head = await local.api.client.head(f"/api/v1/media/files/{name}", headers=bearer("erin"))
        assert head.status_code == 404


async def service_upload_in(service: Service, user: str, members: list[str]) -> dict[str, Any]:
    return await service.upload(user, await message_in(service, user, members), MEME, "meme.pdf")


async def test_quotas_count_what_each_user_uploaded_not_what_is_shared(database_settings: Settings) -> None:
    quota = replace(database_settings, policy=MediaPolicy.from_lists(storage_quota=len(MEME) * 3 // 2))
    async for service in service_of(quota):
        first = await service.upload("alice", None, MEME, "a.pdf")
        await service.upload("bob", None, MEME, "b.pdf")  # shared with alice's: his all the same
        assert (await service.api.upload("alice", None, ("c.pdf", MEME))).status_code == 413
        assert (await service.api.upload("bob", None, ("c.pdf", MEME))).status_code == 413
        assert await service.refs() == {SHA: 2}
        await service.delete("alice", first["id"])
        await service.upload("alice", None, MEME, "c.pdf")  # room again
        assert await service.refs() == {SHA: 2}
        assert len(service.files()) == 1


ROUNDS = 8  # each round races once: a bound in count, not in time


@asynccontextmanager
async def instance(settings: Settings) -> AsyncIterator[UseCases]:
    """The service's use cases on the same database and store, driven directly: the HTTP test
    client answers one request at a time, these run side by side (as two instances would)."""
    engine = create_engine(settings.database_url)
    clock = SystemClock()
    storage = storage_for(settings, clock)
    try:
        async with storage.running():
            yield build_use_cases(
                uow=SqlUnitOfWorkFactory(session_maker(engine), clock),
                files=storage.files,
                partials=InMemoryPartialStore(),
                sniffer=FiletypeSniffer(),
                broadcaster=RecordingBroadcaster(),
                policy=settings.policy,
                clock=clock,
                processors={},
            )
    finally:
        await engine.dispose()


async def upload_with(use_cases: UseCases, user: str, message_id: str | None, body: bytes) -> Attachment:
    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(body), 1024):
            yield body[at : at + 1024]
            await anyio.sleep(0)  # let the other side run between chunks

    mid = None if message_id is None else uuid.UUID(message_id)
    async with await use_cases.upload_media.begin(user, mid) as upload:
        await upload.receive("x.pdf", chunks())
        [attachment] = await upload.commit()
    return attachment


async def upload_into(
    answers: list[Attachment], use_cases: UseCases, user: str, message_id: str | None, body: bytes
) -> None:
    answers.append(await upload_with(use_cases, user, message_id, body))


async def test_two_uploads_of_the_same_bytes_at_once_store_one_file(racing: Racing) -> None:
    local, database_settings = racing.service, racing.settings
    message = await message_in(local, "alice", ["bob"])
    async with instance(database_settings) as use_cases:
        for round_ in range(ROUNDS):
            body = samples.sample("pdf", 5000 + round_)
            sha = hashlib.sha256(body).hexdigest()
            answers: list[Attachment] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(upload_into, answers, use_cases, "alice", message, body)
                tg.start_soon(upload_into, answers, use_cases, "bob", None, body)
            assert (await local.refs())[sha] == 2
            assert {a.stored_as for a in answers} <= await local.content_names()
            assert len({a.stored_as for a in answers}) == 1  # both refer to one copy
            assert len(local.files()) == round_ + 1  # one file per round's bytes, no second copy
            for answer in answers:
                assert await local.get(answer.uploader_id, {"url": files_url(answer)}) == (200, body)


async def test_an_upload_racing_the_last_delete_ends_with_one_file(racing: Racing) -> None:
    local, database_settings = racing.service, racing.settings
    message = await message_in(local, "alice", ["bob"])
    async with instance(database_settings) as use_cases:
        for round_ in range(ROUNDS):
            body = samples.sample("pdf", 6000 + round_)
            sha = hashlib.sha256(body).hexdigest()
            first = await local.upload("alice", message, body, "x.pdf")
            uploaded: list[Attachment] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(
                    use_cases.delete_media, DeleteMedia(user_id="alice", media_id=uuid.UUID(first["id"]))
                )
                tg.start_soon(upload_into, uploaded, use_cases, "bob", None, body)
            assert await local.refs() == {sha: 1}
            # The old file, when the upload came first, or the upload's own: one, and named.
            assert local.files() == await local.content_names() == {uploaded[0].stored_as}
            assert await local.get("bob", {"url": files_url(uploaded[0])}) == (200, body)
            await local.delete("bob", str(uploaded[0].id))
            assert await local.refs() == {}
            assert local.files() == set()
    assert await local.rows() == 0


def files_url(attachment: Attachment) -> str:
    return f"/api/v1/media/files/{attachment.filename}"


async def test_an_upload_racing_the_delete_of_its_message_leaves_no_reference(racing: Racing) -> None:
    local, database_settings = racing.service, racing.settings
    """The message's delete drops its attachments' references itself (its cascade would not): an
    upload to it at the same time lands before (and goes with it) or finds it gone."""
    conversation = await local.api.conversation("alice", ["bob"])
    async with instance(database_settings) as use_cases:
        for round_ in range(ROUNDS):
            message = str((await local.api.message("alice", conversation["id"]))["id"])
            body = samples.sample("pdf", 7000 + round_)
            landed: list[Attachment] = []
            async with anyio.create_task_group() as tg:
                tg.start_soon(refused_or_into, landed, use_cases, message, body)
                tg.start_soon(
                    use_cases.delete_message, DeleteMessage(user_id="alice", message_id=uuid.UUID(message))
                )
            assert await local.refs() == {}
            assert local.files() == set()
    assert await local.rows() == 0


async def refused_or_into(
    landed: list[Attachment], use_cases: UseCases, message_id: str, body: bytes
) -> None:
    with suppress(NotFound):  # the message went first
        await upload_into(landed, use_cases, "alice", message_id, body)
