"""The file store the settings name, what it needs while the service is up (the local store's crash
recovery at start-up; the S3 store's client and its bucket check), and the sweep of what failed or
crashed uploads left in the store itself, which the service's periodic sweep runs first."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta

from adapters.files.local import LocalFileStore
from adapters.files.s3 import S3FileStore
from application.ports.files import FileStore
from domain.errors import StorageUnavailable
from entrypoints.settings import Settings, SettingsError

log = logging.getLogger(__name__)


def file_store(settings: Settings) -> LocalFileStore | S3FileStore:
    if settings.s3 is not None:
        return S3FileStore(settings.s3.store)
    return LocalFileStore(settings.upload_dir)


@asynccontextmanager
async def running(store: FileStore, settings: Settings) -> AsyncIterator[None]:
    """The store, ready for the service: no cancel scope spans its yield (a lifespan holds it)."""
    if isinstance(store, LocalFileStore):
        removed = await store.recover()
        if removed:
            log.info("removed %d partial upload(s) left by a crash", removed)
        yield
    elif isinstance(store, S3FileStore) and settings.s3 is not None:
        async with store:
            await _check_bucket(store)
            yield
    else:
        yield  # a store handed in by a test: its owner runs it


async def sweep_leftovers(store: FileStore, grace: timedelta) -> int:
    """Removes the store's own leftovers: a local store's staged files whose writer died; an S3
    store's unfinished multipart uploads and staging objects older than `grace` (ORPHAN_GRACE:
    the longest an upload in flight may take), and those a discard could not remove."""
    if isinstance(store, LocalFileStore):
        return await store.recover()
    if isinstance(store, S3FileStore):
        return await store.recover(older_than=grace)
    return 0


async def check_storage(settings: Settings) -> None:
    """What `chat-media serve` runs before it starts the server, so a wrong bucket is one sentence."""
    store = file_store(settings)
    if isinstance(store, S3FileStore):
        async with store:
            await _check_bucket(store)


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
