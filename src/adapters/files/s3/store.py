"""S3FileStore: its clients' lifecycle, and the calls on whole files (open, delete, list, check, sign).

Staging and publishing are `staged`'s, reading an object's bytes `open_file`'s, and removing what
failed uploads left `recovery`'s.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import ClientError

from adapters.clock import SystemClock
from adapters.files.s3.config import (
    FAILURES,
    MIN_PART_SIZE,
    MIN_THROUGHPUT,
    Leftover,
    S3Config,
    http_status,
    staging_name,
)
from adapters.files.s3.open_file import S3OpenFile
from adapters.files.s3.recovery import Leftovers
from adapters.files.s3.staged import S3Staged
from application.ports.clock import Clock
from application.ports.files import OpenFile, StagedFile
from domain.attachment import is_stored_name
from domain.errors import NotFound, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client


@functools.cache
def _session() -> AioSession:
    """One session per process: it loads S3's service model once, not once per client."""
    return get_session()


class S3FileStore:
    """Enter it (`async with`) to open its client; `recover()` cleans what crashes left."""

    def __init__(self, config: S3Config, clock: Clock | None = None) -> None:
        if config.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size must be at least {MIN_PART_SIZE} bytes (S3's minimum part)")
        self.config = config
        self.clock = clock or SystemClock()  # staging names carry their start, for recover()
        self._client: S3Client | None = None
        self._signer: S3Client | None = None
        self._stack = AsyncExitStack()
        self.leftovers = Leftovers(self)
        self.staged_open = 0

    def key(self, name: str) -> str:
        return f"{self.config.prefix}{name}"

    def deadline(self, sending: int = 0) -> AbstractContextManager[anyio.CancelScope]:
        """A deadline for one call, retries included, that sends `sending` bytes (TimeoutError)."""
        per_try = self.config.timeout + sending / MIN_THROUGHPUT
        return anyio.fail_after(per_try * self.config.max_attempts)

    @property
    def client(self) -> S3Client:
        if self._client is None:
            raise StorageUnavailable("The file store is not connected yet.")
        return self._client

    async def __aenter__(self) -> S3FileStore:
        session = _session()
        config = self.config
        options = AioConfig(
            connect_timeout=config.timeout,
            read_timeout=config.timeout,
            retries={"max_attempts": config.max_attempts, "mode": "standard"},
            signature_version="s3v4",  # presigned URLs too: AWS takes no other in newer regions
            s3={"addressing_style": "path" if config.endpoint_url else "auto"},
        )
        self._client = await self._stack.enter_async_context(
            session.create_client(
                "s3", endpoint_url=config.endpoint_url, region_name=config.region, config=options
            )
        )
        self._signer = self._client
        if config.public_endpoint_url is not None:
            self._signer = await self._stack.enter_async_context(
                session.create_client(
                    "s3", endpoint_url=config.public_endpoint_url, region_name=config.region, config=options
                )
            )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._client = self._signer = None
        await self._stack.aclose()

    @asynccontextmanager
    async def stage(self) -> AsyncIterator[StagedFile]:
        staged = S3Staged(self)
        self.staged_open += 1
        try:
            yield staged
        finally:
            self.staged_open -= 1
            with anyio.CancelScope(shield=True):  # an abandoned multipart upload costs until swept
                await staged.discard()

    @asynccontextmanager
    async def open(self, filename: str) -> AsyncIterator[OpenFile]:
        if not is_stored_name(filename):
            raise NotFound("No such file.")
        key = self.key(filename)
        try:
            with self.deadline():
                head = await self.client.head_object(Bucket=self.config.bucket, Key=key)
        except FAILURES as exc:
            if http_status(exc) == 404:
                raise NotFound("No such file.") from None
            raise StorageUnavailable("The file store did not answer.") from exc
        opened = S3OpenFile(self, key, dict(head))
        try:
            yield opened
        finally:
            opened.closed = True

    async def delete(self, filename: str) -> None:
        if not is_stored_name(filename):
            return
        try:
            with self.deadline():
                await self.client.delete_object(Bucket=self.config.bucket, Key=self.key(filename))
        except FAILURES as exc:
            raise StorageUnavailable("The file store did not answer; the file was not deleted.") from exc

    async def published_before(self, cutoff: datetime, limit: int) -> Sequence[str]:
        names: list[str] = []
        prefix = self.config.prefix
        pages = self.client.get_paginator("list_objects_v2")
        try:
            # Delimiter: published names have no '/', so staging/ is one common prefix, not listed.
            async for page in pages.paginate(Bucket=self.config.bucket, Prefix=prefix, Delimiter="/"):
                for item in page.get("Contents", []):
                    name = item["Key"][len(prefix) :]
                    if is_stored_name(name) and item["LastModified"] < cutoff:
                        names.append(name)
                        if len(names) == limit:
                            return names
        except FAILURES as exc:
            raise StorageUnavailable(f"The bucket {self.config.bucket} cannot be listed.") from exc
        return names

    async def check(self) -> None:
        probe = self.key(staging_name(self.clock.now()))
        try:
            with self.deadline():
                put = await self.client.put_object(Bucket=self.config.bucket, Key=probe, Body=b"probe")
            await self.leftovers.remove(Leftover(probe, version_id=put.get("VersionId")))
        except FAILURES as exc:
            raise StorageUnavailable(f"The bucket {self.config.bucket} cannot be written.") from exc

    async def exists(self, key: str) -> bool:
        try:
            with self.deadline():
                await self.client.head_object(Bucket=self.config.bucket, Key=key)
        except ClientError as exc:
            if http_status(exc) == 404:
                return False
            raise
        return True

    async def bucket_status(self) -> int:
        """The HTTP status of a HEAD on the bucket: 200, 403 (not ours), 404 (no such bucket)."""
        try:
            with self.deadline():
                await self.client.head_bucket(Bucket=self.config.bucket)
        except ClientError as exc:
            if http_status(exc) in (301, 400, 401, 403, 404):
                return http_status(exc)
            raise StorageUnavailable("The file store did not answer.") from exc
        except FAILURES as exc:
            raise StorageUnavailable("The file store did not answer.") from exc
        return 200

    async def presigned_download(
        self,
        filename: str,
        *,
        content_type: str,
        content_disposition: str,
        cache_control: str,
        expires_in: int,
    ) -> str:
        """A URL that GETs the file for `expires_in` seconds, its answer carrying these headers."""
        if self._signer is None:
            raise StorageUnavailable("The file store is not connected yet.")
        params = {
            "Bucket": self.config.bucket,
            "Key": self.key(filename),
            "ResponseContentType": content_type,
            "ResponseContentDisposition": content_disposition,
            "ResponseCacheControl": cache_control,
        }
        try:  # signing is local, but finding the credentials may not be (a role, a token file)
            with self.deadline():
                return await self._signer.generate_presigned_url(
                    "get_object", Params=params, ExpiresIn=expires_in
                )
        except FAILURES as exc:
            raise StorageUnavailable("The file store's credentials could not be had.") from exc

    async def recover(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Removes what crashed or failed uploads left: the uploads and staging objects that a
        discard here could not remove, and every unfinished multipart upload and staging object
        of this prefix begun more than `older_than` ago (a live upload is younger: give it the
        longest an upload may take). Returns how many were removed."""
        return await self.leftovers.recover(older_than)
