"""The FileStore contract, for every adapter of it (memory, local disk, S3); then what only the local
disk can get wrong: links out of the root, odd names, crashed writers, file modes. What only S3 can
get wrong is in test_s3_file_store.py."""

from __future__ import annotations

import hashlib
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import pytest

from adapters.files.local import LocalFileStore
from adapters.files.local import staged as local_staged
from adapters.files.s3 import S3FileStore
from adapters.memory import InMemoryFileStore
from application.ports.files import FileStore, OpenFile
from domain.attachment import stored_name, thumbnail_name
from domain.errors import Conflict, NotFound, StorageUnavailable, UnsupportedMediaType
from tests.s3 import Moto, contents

BODY = bytes(range(256)) * 40 + b"tail"  # 10 244 bytes, every offset distinguishable


@dataclass
class Harness:
    kind: str
    store: FileStore
    leftovers: Callable[[], int]  # staged files not yet published or discarded


def s3_leftovers(store: S3FileStore, moto: Moto) -> int:
    """Staged files open here, plus what the bucket holds besides published files: unfinished
    multipart uploads and every version that is not a current published object."""
    held = contents(moto, store.config.bucket)
    return store.staged_open + len(held.uploads) + held.versions - len(held.objects)


@pytest.fixture(params=["memory", "local", pytest.param("s3", marks=pytest.mark.s3)])
async def harness(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Harness]:
    if request.param == "memory":
        memory = InMemoryFileStore()
        yield Harness("memory", memory, lambda: memory.staged_open)
    elif request.param == "local":
        local = LocalFileStore(tmp_path / "files")
        yield Harness("local", local, lambda: len(os.listdir(local.root / ".staging")))
    else:
        moto: Moto = request.getfixturevalue("moto")
        async with S3FileStore(request.getfixturevalue("s3_config")) as s3:
            yield Harness("s3", s3, lambda: s3_leftovers(s3, moto))


def new_name(ext: str = "png") -> str:
    return stored_name(uuid.uuid4(), ext)


async def put(store: FileStore, data: bytes = BODY, ext: str = "png") -> str:
    name = new_name(ext)
    async with store.stage() as staged:
        for i in range(0, len(data), 4096):
            await staged.write(data[i : i + 4096])
        await staged.publish(name)
    return name


async def read_all(file: OpenFile, start: int = 0, end: int | None = None, chunk: int = 1000) -> bytes:
    parts = [part async for part in file.read(start, file.size if end is None else end, chunk)]
    assert all(0 < len(part) <= chunk for part in parts)
    return b"".join(parts)


async def test_a_published_file_reads_back_whole_and_in_ranges(harness: Harness) -> None:
    name = await put(harness.store)
    async with harness.store.open(name) as file:
        assert file.size == len(BODY)
        assert await read_all(file) == BODY
        assert await read_all(file, 0, 1) == BODY[:1]
        assert await read_all(file, 1000, 1001) == BODY[1000:1001]
        assert await read_all(file, 999, 3001, chunk=7) == BODY[999:3001]
        assert await read_all(file, len(BODY) - 4) == b"tail"
        assert await read_all(file, 5, 5) == b""
    assert harness.leftovers() == 0


async def test_a_staged_file_reads_back_what_was_written_until_it_is_published(harness: Harness) -> None:
    """What a media processor relies on: the upload's bytes, read back before they are published,
    by range through the port, or by path where the store has one."""
    name = new_name()
    async with harness.store.stage() as staged:
        assert staged.size == 0
        for i in range(0, len(BODY), 4096):
            await staged.write(BODY[i : i + 4096])
        assert staged.size == len(BODY)
        parts = [part async for part in staged.read(0, staged.size, 1000)]
        assert b"".join(parts) == BODY
        assert all(0 < len(part) <= 1000 for part in parts)
        assert b"".join([p async for p in staged.read(999, 3001, 7)]) == BODY[999:3001]
        assert b"".join([p async for p in staged.read(len(BODY) - 4, len(BODY) + 100, 64)]) == b"tail"
        local_path = getattr(harness.store, "local_path", lambda _: None)  # the disk store's alone
        path = local_path(staged)
        if harness.kind == "local":
            assert path is not None
            assert Path(path).read_bytes() == BODY
            assert Path(path).parent == harness.store.root / ".staging"  # type: ignore[attr-defined]
        else:
            assert path is None
        await staged.publish(name)
        assert local_path(staged) is None  # published: no temporary path to read any more
    async with harness.store.open(name) as file:
        assert await read_all(file) == BODY


async def test_many_chunks_written_at_once_arrive_in_order(harness: Harness) -> None:
    """One write of many chunks (how the upload hands over a batch): empty ones among them, more of
    them than one writev takes, and a part size's worth for S3, in order."""
    pieces = [BODY[i : i + 7] for i in range(0, len(BODY), 7)]  # 1 464 chunks
    chunks = [b"", *pieces[:700], b"", *pieces[700:], b""]
    big = bytes(range(256)) * (6 * 1024 * 4)  # 6 MiB: a part goes up to S3 on the way
    name = new_name()
    async with harness.store.stage() as staged:
        await staged.write(*chunks)
        await staged.write()
        await staged.write(big[: 3 << 20], big[3 << 20 :])
        assert staged.size == len(BODY) + len(big)
        await staged.publish(name)
    async with harness.store.open(name) as file:
        assert await read_all(file, chunk=1 << 20) == BODY + big
    assert harness.leftovers() == 0


async def test_fill_writes_the_chunks_and_returns_their_sha256_with_the_check_fed_in_order(
    harness: Harness,
) -> None:
    """What the upload calls: every chunk written and fed to the check in order, across batches."""
    big = bytes(range(256)) * (12 * 1024 * 4)  # 12 MiB: several batches, parts for S3

    async def chunks() -> AsyncIterator[bytes]:
        for at in range(0, len(big), 300_001):
            yield big[at : at + 300_001]

    class Seen:
        fed = bytearray()

        def feed(self, chunk: bytes) -> None:
            self.fed += chunk

        def finish(self) -> None:
            return None

    check = Seen()
    name = new_name()
    async with harness.store.stage() as staged:
        digest = await staged.fill(chunks(), check)
        assert digest == hashlib.sha256(big).hexdigest()
        assert bytes(check.fed) == big
        await staged.publish(name)
    async with harness.store.open(name) as file:
        assert await read_all(file, chunk=1 << 20) == big


async def test_a_refusing_check_fails_the_fill_and_the_file_is_discarded(harness: Harness) -> None:
    class Refusing:
        def feed(self, chunk: bytes) -> None:
            raise UnsupportedMediaType("not what it claimed")

        def finish(self) -> None:
            return None

    async def chunks() -> AsyncIterator[bytes]:
        yield b"x" * 4096

    with pytest.raises(UnsupportedMediaType):
        async with harness.store.stage() as staged:
            await staged.fill(chunks(), Refusing())
    assert harness.leftovers() == 0


async def test_a_thumbnail_is_published_and_deleted_beside_its_file(harness: Harness) -> None:
    attachment_id = uuid.uuid4()
    for name, data in [(stored_name(attachment_id, "jpg"), BODY), (thumbnail_name(attachment_id), b"thumb")]:
        async with harness.store.stage() as staged:
            await staged.write(data)
            await staged.publish(name)
    async with harness.store.open(thumbnail_name(attachment_id)) as file:
        assert await read_all(file) == b"thumb"
    await harness.store.delete(thumbnail_name(attachment_id))
    with pytest.raises(NotFound):
        async with harness.store.open(thumbnail_name(attachment_id)):
            pass
    async with harness.store.open(stored_name(attachment_id, "jpg")) as file:
        assert file.size == len(BODY)


async def test_a_missing_file_is_not_found(harness: Harness) -> None:
    with pytest.raises(NotFound):
        async with harness.store.open(new_name()):
            pass


async def test_delete_removes_and_a_missing_one_is_fine(harness: Harness) -> None:
    name = await put(harness.store)
    await harness.store.delete(name)
    await harness.store.delete(name)
    await harness.store.delete(new_name())
    with pytest.raises(NotFound):
        async with harness.store.open(name):
            pass


async def test_leaving_the_block_unpublished_discards(harness: Harness) -> None:
    async with harness.store.stage() as staged:
        await staged.write(b"half a file")
        assert harness.leftovers() == 1
    assert harness.leftovers() == 0


async def test_an_error_in_the_block_discards(harness: Harness) -> None:
    async def refused() -> None:
        async with harness.store.stage() as staged:
            await staged.write(b"half a file")
            raise RuntimeError("upload refused")

    with pytest.raises(RuntimeError):
        await refused()
    assert harness.leftovers() == 0


async def test_cancellation_in_the_block_discards(harness: Harness) -> None:
    with anyio.move_on_after(0.05):
        async with harness.store.stage() as staged:
            await staged.write(b"half a file")
            await anyio.sleep(5)
    assert harness.leftovers() == 0


async def test_discard_after_publish_keeps_the_file(harness: Harness) -> None:
    name = new_name()
    async with harness.store.stage() as staged:
        await staged.write(BODY)
        await staged.publish(name)
        await staged.discard()
    async with harness.store.open(name) as file:
        assert await read_all(file) == BODY


async def test_publish_never_replaces_a_stored_file(harness: Harness) -> None:
    name = await put(harness.store, b"first")

    async def publish_again() -> None:
        async with harness.store.stage() as staged:
            await staged.write(b"second")
            await staged.publish(name)

    with pytest.raises(Conflict):
        await publish_again()
    async with harness.store.open(name) as file:
        assert await read_all(file) == b"first"
    assert harness.leftovers() == 0


async def test_an_open_file_stays_whole_after_a_delete(harness: Harness) -> None:
    name = await put(harness.store)
    async with harness.store.open(name) as file:
        first = b"".join([part async for part in file.read(0, 100, 100)])
        await harness.store.delete(name)
        assert first + await read_all(file, 100) == BODY
    with pytest.raises(NotFound):
        async with harness.store.open(name):
            pass


async def test_published_before_names_published_files_only(harness: Harness) -> None:
    first, second = await put(harness.store), await put(harness.store, b"second")
    async with harness.store.stage() as staged:  # in flight: never a sweeper's to take
        await staged.write(b"not yet")
        later = datetime.now(UTC) + timedelta(minutes=1)
        assert sorted(await harness.store.published_before(later, 10)) == sorted([first, second])
        assert len(await harness.store.published_before(later, 1)) == 1
        assert await harness.store.published_before(datetime.now(UTC) - timedelta(days=1), 10) == []


async def test_check_passes_on_a_working_store(harness: Harness) -> None:
    await harness.store.check()
    assert harness.leftovers() == 0


# --- the local disk only ---------------------------------------------------------------------


@pytest.fixture
def local(tmp_path: Path) -> LocalFileStore:
    return LocalFileStore(tmp_path / "files")


async def assert_not_found(store: LocalFileStore, name: str) -> None:
    with pytest.raises(NotFound):
        async with store.open(name):
            pass


async def test_a_link_out_of_the_root_is_no_file(local: LocalFileStore, tmp_path: Path) -> None:
    secret = tmp_path / "secret.png"
    secret.write_bytes(b"not yours")
    name = new_name()
    (local.root / name).symlink_to(secret)
    await assert_not_found(local, name)
    inside = await put(local)
    other = new_name()
    (local.root / other).symlink_to(local.root / inside)  # a link is never served, even inside
    await assert_not_found(local, other)


@pytest.mark.parametrize(
    "name",
    [
        "../secret.png",
        "..%2fsecret.png",
        "%2e%2e/secret.png",
        "a\x00.png",
        "",
        ".",
        ".staging",
        "/etc/passwd",
        "{uuid}.png/",
        "{uuid}.png\x00",
        "../{uuid}.png",
        "{uuid}.PNG",
        " {uuid}.png",
    ],
)
async def test_only_stored_names_are_opened(local: LocalFileStore, tmp_path: Path, name: str) -> None:
    (tmp_path / "secret.png").write_bytes(b"not yours")
    real = await put(local)
    await assert_not_found(local, name.format(uuid=real.split(".")[0]))


async def test_a_special_file_with_a_stored_name_is_no_file(local: LocalFileStore) -> None:
    fifo = new_name()
    os.mkfifo(local.root / fifo)
    directory = new_name()
    (local.root / directory).mkdir()
    with anyio.fail_after(5):  # a FIFO opened for reading would block without O_NONBLOCK
        await assert_not_found(local, fifo)
    await assert_not_found(local, directory)


async def test_files_are_private_to_the_service(local: LocalFileStore) -> None:
    staging = local.root / ".staging"
    assert stat.S_IMODE(staging.stat().st_mode) == 0o700
    async with local.stage() as staged:
        await staged.write(b"x")
        (part,) = staging.iterdir()
        assert stat.S_IMODE(part.stat().st_mode) == 0o600
        name = new_name()
        await staged.publish(name)
    assert stat.S_IMODE((local.root / name).stat().st_mode) == 0o600
    assert list(staging.iterdir()) == []


async def test_local_path_is_the_real_path_not_a_descriptor(local: LocalFileStore) -> None:
    # A pathsend of /proc/self/fd/N is opened by granian after send() returns; if N was closed and
    # reused meanwhile, another file's bytes would go out. The real path cannot be reused.
    name = await put(local)
    async with local.open(name) as file:
        assert local.local_path(file) == str(local.root / name)
        assert Path(str(local.local_path(file))).read_bytes() == BODY
    assert local.local_path(object()) is None  # not one of its files


async def test_reading_after_the_block_fails_instead_of_reading_another_file(local: LocalFileStore) -> None:
    name = await put(local)
    async with local.open(name) as file:
        pass
    with pytest.raises(StorageUnavailable):
        await read_all(file)


async def test_publish_refuses_a_name_the_service_never_gives(local: LocalFileStore) -> None:
    async with local.stage() as staged:
        await staged.write(b"x")
        with pytest.raises(ValueError, match="stored name"):
            await staged.publish("../escape.png")
    assert sorted(p.name for p in local.root.iterdir()) == [".staging"]


async def test_check_fails_when_the_store_cannot_be_written(local: LocalFileStore) -> None:
    staging = local.root / ".staging"
    staging.rmdir()
    staging.write_bytes(b"")  # works as root too, unlike a chmod
    with pytest.raises(StorageUnavailable):
        await local.check()


WRITER = """
import sys, anyio
from pathlib import Path
from adapters.files import local as local_store
from adapters.files.local import LocalFileStore

async def main() -> None:
    async with LocalFileStore(Path(sys.argv[1])).stage() as staged:
        await staged.write(b"x" * 65536)
        print("writing", flush=True)
        await anyio.sleep(60)

anyio.run(main)
"""


@pytest.fixture
def writer(local: LocalFileStore) -> Iterator[Callable[[], subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []

    def start() -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(local.root)], stdout=subprocess.PIPE, text=True
        )
        started.append(proc)
        assert proc.stdout is not None
        assert proc.stdout.readline() == "writing\n"
        return proc

    yield start
    for proc in started:
        proc.kill()
        proc.wait()


async def test_recover_removes_what_a_killed_writer_left(
    local: LocalFileStore, writer: Callable[[], subprocess.Popen[str]]
) -> None:
    proc = writer()
    proc.kill()  # SIGKILL mid-write: no cleanup runs
    proc.wait()
    assert len(list((local.root / ".staging").iterdir())) == 1
    assert await local.recover() == 1
    assert list((local.root / ".staging").iterdir()) == []


async def test_recover_leaves_live_writers_alone(
    local: LocalFileStore, writer: Callable[[], subprocess.Popen[str]]
) -> None:
    writer()  # alive in another process
    async with local.stage() as staged:  # and alive in this one
        await staged.write(b"mine")
        assert await local.recover() == 0
        assert len(list((local.root / ".staging").iterdir())) == 2
        name = new_name()
        await staged.publish(name)
    async with local.open(name) as file:
        assert await read_all(file) == b"mine"


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="counts descriptors through /proc")
async def test_files_flushed_while_written_publish_whole_and_close_every_descriptor(
    local: LocalFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A flush is started every FLUSH_EVERY bytes while the upload goes on (made small here, so a
    file of 1 MiB starts dozens): the file published is whole, and neither publishing nor
    discarding leaves a descriptor open or a staged file behind, flushes still running or not."""
    monkeypatch.setattr(local_staged, "FLUSH_EVERY", 16 * 1024)
    body = os.urandom(1 << 20)
    before = open_fds()
    name = new_name("zip")
    async with local.stage() as staged:
        for offset in range(0, len(body), 8 * 1024):
            await staged.write(body[offset : offset + 8 * 1024])
        await staged.publish(name)
    async with local.stage() as abandoned:
        for offset in range(0, len(body), 64 * 1024):
            await abandoned.write(body[offset : offset + 64 * 1024])
    assert open_fds() == before
    assert (local.root / name).read_bytes() == body
    assert sorted(p.name for p in local.root.iterdir()) == [".staging", name]
    assert list((local.root / ".staging").iterdir()) == []
