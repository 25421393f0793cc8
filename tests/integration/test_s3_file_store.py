"""What only the S3 store can get wrong: multipart uploads (published by a conditional copy, aborted
on every way out), buckets without versioning, what crashes leave, a store that stops answering,
presigned URLs. The contract every store keeps is in test_file_store_contract.py."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from adapters.files.s3 import MIN_PART_SIZE, S3Config, S3FileStore
from domain.attachment import stored_name
from domain.errors import Conflict, NotFound, StorageUnavailable
from tests.integration.fault_proxy import FaultProxy, fault_proxy
from tests.s3 import Moto, contents, new_bucket

pytestmark = pytest.mark.s3

LARGE = bytes(range(256)) * (MIN_PART_SIZE * 2 // 256) + b"tail"  # two full parts and four bytes


def new_name(ext: str = "mp4") -> str:
    return stored_name(uuid.uuid4(), ext)


@pytest.fixture
def config(s3_config: S3Config) -> S3Config:
    return replace(s3_config, part_size=MIN_PART_SIZE)


@pytest.fixture
async def store(config: S3Config) -> AsyncIterator[S3FileStore]:
    async with S3FileStore(config) as opened:
        yield opened


async def write(store: S3FileStore, data: bytes, name: str) -> None:
    async with store.stage() as staged:
        for i in range(0, len(data), 1 << 20):
            await staged.write(data[i : i + (1 << 20)])
        await staged.publish(name)


async def read(store: S3FileStore, name: str, start: int = 0, end: int | None = None) -> bytes:
    async with store.open(name) as file:
        return b"".join([c async for c in file.read(start, file.size if end is None else end, 256 * 1024)])


async def test_a_large_file_goes_up_in_parts_and_reads_back(store: S3FileStore, moto: Moto) -> None:
    name = new_name()
    await write(store, LARGE, name)
    assert await read(store, name) == LARGE
    assert (
        await read(store, name, MIN_PART_SIZE - 3, MIN_PART_SIZE + 5)
        == LARGE[MIN_PART_SIZE - 3 : MIN_PART_SIZE + 5]
    )
    held = contents(moto, store.config.bucket)
    assert held.objects == {name}
    assert held.versions == 1  # the staging object is gone for good, not hidden by a delete marker
    assert held.uploads == frozenset()


async def test_a_large_staged_file_reads_back_then_publishes(store: S3FileStore, moto: Moto) -> None:
    """A media processor reads the upload back before it is published: the parts already in S3
    cannot be read until their upload is completed, so reading completes it, and then seals it."""
    name = new_name()
    async with store.stage() as staged:
        await staged.write(LARGE)
        assert staged.size == len(LARGE)
        assert contents(moto, store.config.bucket).uploads != frozenset()  # parts went up
        back = b"".join([c async for c in staged.read(0, staged.size, 1 << 20)])
        assert back == LARGE
        edge = MIN_PART_SIZE - 3
        assert b"".join([c async for c in staged.read(edge, edge + 9, 4)]) == LARGE[edge : edge + 9]
        with pytest.raises(RuntimeError, match="read back"):
            await staged.write(b"more")
        await staged.publish(name)
    assert await read(store, name) == LARGE
    held = contents(moto, store.config.bucket)
    assert (held.objects, held.versions, held.uploads) == ({name}, 1, frozenset())


async def test_a_staged_file_read_back_then_discarded_leaves_nothing(store: S3FileStore, moto: Moto) -> None:
    async with store.stage() as staged:
        await staged.write(LARGE)
        assert len([c async for c in staged.read(0, 10, 10)]) == 1
    held = contents(moto, store.config.bucket)
    assert (held.objects, held.versions, held.uploads) == (frozenset(), 0, frozenset())


async def test_a_large_file_never_replaces_a_stored_one(store: S3FileStore, moto: Moto) -> None:
    name = new_name()
    await write(store, b"first", name)
    with pytest.raises(Conflict):
        await write(store, LARGE, name)
    assert await read(store, name) == b"first"
    held = contents(moto, store.config.bucket)
    assert (held.objects, held.versions, held.uploads) == ({name}, 1, frozenset())


async def test_a_refused_large_upload_is_aborted(store: S3FileStore, moto: Moto) -> None:
    async def refused() -> None:
        async with store.stage() as staged:
            await staged.write(LARGE[: MIN_PART_SIZE + 10])
            assert contents(moto, store.config.bucket).uploads != frozenset()
            raise RuntimeError("over the size cap")

    with pytest.raises(RuntimeError):
        await refused()
    assert contents(moto, store.config.bucket) == contents(moto, new_bucket(moto))  # empty


async def test_a_cancelled_large_upload_is_aborted(store: S3FileStore, moto: Moto) -> None:
    with anyio.move_on_after(2):
        async with store.stage() as staged:
            await staged.write(LARGE)
            await anyio.sleep(10)
    held = contents(moto, store.config.bucket)
    assert (held.objects, held.versions, held.uploads) == (frozenset(), 0, frozenset())


async def test_without_versioning_a_read_under_way_completes_and_a_later_one_fails(
    config: S3Config, moto: Moto
) -> None:
    async with S3FileStore(replace(config, bucket=new_bucket(moto, versioned=False))) as store:
        name = new_name()
        await write(store, LARGE, name)
        async with store.open(name) as file:
            chunks = file.read(0, file.size, 256 * 1024)
            first = await anext(chunks)
            await store.delete(name)
            assert first + b"".join([c async for c in chunks]) == LARGE
            with pytest.raises(StorageUnavailable, match="deleted"):
                await anext(file.read(0, 10, 10))
        with pytest.raises(NotFound):
            await read(store, name)
        assert contents(moto, store.config.bucket).versions == 0


async def test_reading_after_the_block_fails(store: S3FileStore) -> None:
    name = new_name()
    await write(store, b"x" * 100, name)
    async with store.open(name) as file:
        pass
    with pytest.raises(StorageUnavailable):
        await anext(file.read(0, 10, 10))


async def test_names_the_service_never_gives_are_no_file(store: S3FileStore) -> None:
    for name in ("../x.png", "staging/x", "", f"{uuid.uuid4()}.PNG"):
        with pytest.raises(NotFound):
            async with store.open(name):
                pass
        await store.delete(name)  # no such name is ever stored: nothing to do


async def test_a_missing_bucket_fails_the_check(config: S3Config) -> None:
    async with S3FileStore(replace(config, bucket=f"missing-{uuid.uuid4().hex[:8]}")) as store:
        with pytest.raises(StorageUnavailable, match="cannot be written"):
            await store.check()


WRITER = """
import sys, anyio
from adapters.files.s3 import S3Config, S3FileStore

async def main() -> None:
    config = S3Config(bucket=sys.argv[1], endpoint_url=sys.argv[2], region="us-east-1", part_size=5 << 20)
    async with S3FileStore(config) as store, store.stage() as staged:
        await staged.write(b"x" * (6 << 20))
        print("writing", flush=True)
        await anyio.sleep(60)

anyio.run(main)
"""


@pytest.fixture
def killed_writer(config: S3Config, moto: Moto) -> None:
    """A process that began a multipart upload, then was killed: its upload is left behind."""
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, config.bucket, moto.endpoint], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "writing\n"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.usefixtures("killed_writer")
async def test_recover_aborts_what_a_killed_writer_left_once_it_is_old_enough(
    store: S3FileStore, moto: Moto
) -> None:
    assert len(contents(moto, store.config.bucket).uploads) == 1
    async with store.stage() as live:  # a live upload of this process, as young as the dead one
        await live.write(LARGE)
        assert await store.recover() == 0  # within the grace: it could be a live writer's
        assert await store.recover(older_than=timedelta(0)) == 2  # this test's own included
    assert contents(moto, store.config.bucket).uploads == frozenset()


@pytest.fixture
def proxy(moto: Moto) -> Iterator[FaultProxy]:
    endpoint = urlsplit(moto.endpoint)
    assert endpoint.hostname is not None
    assert endpoint.port is not None
    with fault_proxy(endpoint.hostname, endpoint.port) as running:
        yield running


async def test_a_store_that_stops_answering_is_unavailable_and_swept_once_back(
    config: S3Config, proxy: FaultProxy, moto: Moto
) -> None:
    proxied = replace(config, endpoint_url=f"http://127.0.0.1:{proxy.port}", timeout=0.5, max_attempts=1)

    async def cut_mid_upload(store: S3FileStore) -> None:
        async with store.stage() as staged:
            await staged.write(LARGE[:MIN_PART_SIZE])  # the upload begins: one part is in
            proxy.set_mode("silent")
            await staged.write(LARGE[MIN_PART_SIZE:])  # the second part gets no answer

    async with S3FileStore(proxied) as store:
        with pytest.raises(StorageUnavailable, match="did not answer"):
            await cut_mid_upload(store)
        with pytest.raises(StorageUnavailable):
            await store.check()
        assert contents(moto, config.bucket).uploads != frozenset()  # the abort got no answer either
        proxy.set_mode("pass")
        assert await store.recover() == 1  # remembered, so removed whatever its age
        await store.check()
    assert contents(moto, config.bucket).uploads == frozenset()


async def test_a_presigned_url_serves_the_bytes_with_the_forced_headers(store: S3FileStore) -> None:
    name = new_name("pdf")
    await write(store, b"%PDF-1.4 not really", name)
    url = await store.presigned_download(
        name,
        content_type="application/pdf",
        content_disposition="attachment; filename=\"r.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf",
        cache_control="private, max-age=60",
        expires_in=60,
    )
    answer = httpx.get(url, headers={"Range": "bytes=0-7"})
    assert answer.status_code == 206
    assert answer.content == b"%PDF-1.4"
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].endswith("r%C3%A9sum%C3%A9.pdf")
    assert answer.headers["cache-control"] == "private, max-age=60"
    assert "X-Amz-Signature=" in url  # SigV4, which every AWS region takes


async def test_presigned_urls_point_at_the_public_endpoint(config: S3Config) -> None:
    public = replace(config, public_endpoint_url="https://media.example.test")
    async with S3FileStore(public) as store:
        url = await store.presigned_download(
            new_name(),
            content_type="video/mp4",
            content_disposition="inline",
            cache_control="private",
            expires_in=30,
        )
    assert url.startswith(f"https://media.example.test/{config.bucket}/")
