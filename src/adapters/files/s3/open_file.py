"""A published file opened on S3, and the ranged reads of an object's bytes.

Reading: `open()` is a HEAD (size, Last-Modified, ETag, VersionId); `read()` is one ranged GET
pinned to that version (or, in a bucket without versioning, to that ETag with If-Match), streamed.
With versioning on, a delete leaves a delete marker and the open file's version stays readable until
a lifecycle rule expires it, which is how "an open file stays whole after a delete" holds on S3.
Without versioning, a GET already under way still completes, but a read that starts after the
delete raises StorageUnavailable (docs/deployment.md says to turn versioning on).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from adapters.files.s3.config import FAILURES, http_status
from domain.errors import StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import GetObjectOutputTypeDef

    from adapters.files.s3.store import S3FileStore


class S3OpenFile:
    def __init__(self, store: S3FileStore, key: str, head: dict[str, Any]) -> None:
        self._store = store
        self._key = key
        self.size: int = head["ContentLength"]
        self._version: str | None = head.get("VersionId")  # read by version, or else by ETag
        self._etag: str = head["ETag"]
        self.closed = False

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        if self.closed:
            raise StorageUnavailable("The file was closed.")
        async for chunk in ranged(self._store, self._key, start, end, chunk_size, self._version, self._etag):
            yield chunk


async def ranged(
    store: S3FileStore, key: str, start: int, end: int, chunk_size: int, version: str | None, etag: str | None
) -> AsyncIterator[bytes]:
    """The object's bytes in `[start, end)` from one ranged GET, pinned to the version (or else
    to the ETag), in chunks of at most `chunk_size`."""
    if start >= end:
        return
    try:
        with store.deadline():
            answer = await _get(store, key, f"bytes={start}-{end - 1}", version, etag)
    except FAILURES as exc:
        if http_status(exc) in (404, 412):
            raise StorageUnavailable("The file was deleted while it was being read.") from exc
        raise StorageUnavailable("The file store did not answer.") from exc
    got = 0
    try:
        async with answer["Body"] as body:
            while got < end - start:
                chunk = await body.read(min(chunk_size, end - start - got))
                if not chunk:
                    break
                got += len(chunk)
                yield chunk
    except FAILURES as exc:
        raise StorageUnavailable("The file store stopped answering mid-file.") from exc
    if got < end - start:
        raise StorageUnavailable("The file is shorter than it was when opened.")


async def _get(
    store: S3FileStore, key: str, byte_range: str, version: str | None, etag: str | None
) -> GetObjectOutputTypeDef:
    client, bucket = store.client, store.config.bucket
    if version:
        return await client.get_object(Bucket=bucket, Key=key, Range=byte_range, VersionId=version)
    if etag:
        return await client.get_object(Bucket=bucket, Key=key, Range=byte_range, IfMatch=etag)
    return await client.get_object(Bucket=bucket, Key=key, Range=byte_range)
