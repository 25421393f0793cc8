"""The file store the settings name, with what the service needs of it beside the `FileStore` port:
what runs while the service is up (the local store's crash recovery at start-up; the S3 store's
client and its bucket check), the sweep of what failed or crashed uploads left in the store itself
(run first by the service's periodic sweep), and the delivery facts the download routes use (a
local path for pathsend and nginx, presigned URLs). Picked by settings, once, here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta

from adapters.files.local import LocalFileStore
from adapters.files.s3 import S3Config, S3FileStore
from application.ports.clock import Clock
from application.ports.files import FileStore
from domain.errors import StorageUnavailable
from entrypoints.settings import S3Settings, Settings
from entrypoints.settings_values import SettingsError

log = logging.getLogger(__name__)


async def _nothing_adopted(_: object) -> str | None:
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Storage:
    files: FileStore
    running: Callable[[], AbstractAsyncContextManager[None]]  # entered for the service's lifetime
    leftovers: Callable[[timedelta], Awaitable[int]]  # removes the store's own, older than the grace
    local_path: Callable[[object], str | None]  # where a staged or open file lies on this disk, if it does
    # For a staged file a child process (ffmpeg) wrote at its local path: its bytes taken, their
    # sha256; None where the store has no such file.
    adopt_written: Callable[[object], Awaitable[str | None]] = _nothing_adopted
    on_local_disk: bool = False  # nginx can send the files (ACCEL_REDIRECT_PREFIX)
    # S3_PRESIGNED_DOWNLOADS: the store that signs the URLs, and how long they work (seconds).
    # Not the route's PresignedDownloads itself: that counts downloads, and the CLI imports this
    # module before the metrics' folder is set (entrypoints.metrics_folder).
    presigned: tuple[S3FileStore, int] | None = None


def storage_for(settings: Settings, clock: Clock) -> Storage:
    """The store of STORAGE (local by default), not yet running."""
    if settings.s3 is not None:
        return _s3_storage(settings.s3, clock)
    return _local_storage(LocalFileStore(settings.upload_dir))


def given_storage(files: FileStore) -> Storage:
    """A store handed in (a test's recording or faulty one): its owner runs it; no delivery facts."""

    async def no_leftovers(_: timedelta) -> int:
        return 0

    return Storage(files=files, running=_idle, leftovers=no_leftovers, local_path=lambda _: None)


def s3_config(s3: S3Settings) -> S3Config:
    return S3Config(
        bucket=s3.bucket,
        endpoint_url=s3.endpoint_url,
        region=s3.region,
        prefix=s3.prefix,
        part_size=s3.part_size,
        timeout=s3.timeout,
        public_endpoint_url=s3.public_endpoint_url,
        max_attempts=s3.max_attempts,
    )


async def check_storage(settings: Settings) -> None:
    """What `chat-media serve` runs before it starts the server, so a wrong bucket is one sentence."""
    if settings.s3 is not None:
        async with S3FileStore(s3_config(settings.s3)) as store:
            await _check_bucket(store)


def _local_storage(store: LocalFileStore) -> Storage:
    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        removed = await store.recover()
        if removed:
            log.info("removed %d partial upload(s) left by a crash", removed)
        yield

    async def leftovers(_: timedelta) -> int:
        return await store.recover()  # staged files whose writer died: their lock tells, not age

    return Storage(
        files=store,
        running=running,
        leftovers=leftovers,
        local_path=store.local_path,
        adopt_written=store.adopt_written,
        on_local_disk=True,
    )


def _s3_storage(s3: S3Settings, clock: Clock) -> Storage:
    store = S3FileStore(s3_config(s3), clock)

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        async with store:  # no cancel scope spans the yield: a lifespan holds it
            await _check_bucket(store)
            yield

    async def leftovers(grace: timedelta) -> int:
        return await store.recover(older_than=grace)

    return Storage(
        files=store,
        running=running,
        leftovers=leftovers,
        local_path=lambda _: None,
        presigned=(store, s3.presign_ttl) if s3.presigned_downloads else None,
    )


@asynccontextmanager
async def _idle() -> AsyncIterator[None]:
    yield


async def _check_bucket(store: S3FileStore) -> None:
    """A bucket that is not there, or not ours to write, stops start-up; S3 not answering does not
    (the health check says 503 until it does)."""
    try:
        status = await store.bucket_status()
    except StorageUnavailable as exc:
        log.warning("S3 does not answer at start-up (%r); /health says 503 until it does", exc.__cause__)
        return
    where = store.config.endpoint_url or "AWS"
    if status == 404:
        raise SettingsError(f"S3_BUCKET '{store.config.bucket}' does not exist at {where}.")
    if status in (401, 403):
        raise SettingsError(
            f"The AWS credentials in the environment may not use S3_BUCKET '{store.config.bucket}' "
            f"at {where}."
        )
