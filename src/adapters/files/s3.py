"""The FileStore on S3 (or anything that speaks its API: MinIO, Ceph, moto), through aiobotocore.

Staging: a file's bytes stay in memory until they fill one part (`part_size`, at least 5 MiB), then
go to a multipart upload under `<prefix>staging/<ms>-<random>`; at most one part is held per file.
Publishing a file that never filled a part is one PutObject on the final key with
`If-None-Match: *`. Publishing a larger one completes the staging upload, copies it server-side to
the final key with CopyObject and `If-None-Match: *` (after a HEAD, since not every server honours
that condition on a copy: moto ignores it), then deletes the staging object: S3 has no rename.
Past 5 GiB the copy goes in parts into a multipart upload completed with `If-None-Match: *`. Either
way the final key appears whole, in one step, and never replaces an object (412 → Conflict).
A media processor may read a staged file back before it is published: from memory, or, once parts
went up, from the staging object (reading completes the upload, and nothing more may be written).

Reading: `open()` is a HEAD (size, Last-Modified, ETag, VersionId); `read()` is one ranged GET
pinned to that version (or, in a bucket without versioning, to that ETag with If-Match), streamed.
With versioning on, a delete leaves a delete marker and the open file's version stays readable until
a lifecycle rule expires it, which is how "an open file stays whole after a delete" holds on S3.
Without versioning, a GET already under way still completes, but a read that starts after the
delete raises StorageUnavailable (docs/deployment.md says to turn versioning on).

What a crash leaves (an unfinished multipart upload, a completed staging object) is older than any
live upload after `recover(older_than)`'s grace, and is removed then; what a discard could not clean
because S3 did not answer is remembered and retried by the next `recover()`.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from contextlib import AbstractContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
import anyio
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession, get_session
from botocore.exceptions import BotoCoreError, ClientError

from adapters.clock import SystemClock
from adapters.files import write_pipeline
from application.ports.clock import Clock
from application.ports.files import OpenFile, StagedFile
from domain.attachment import is_stored_name
from domain.content_checks import BodyCheck
from domain.errors import Conflict, NotFound, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef, GetObjectOutputTypeDef

log = logging.getLogger(__name__)

MIN_PART_SIZE = 5 * 1024 * 1024  # S3's floor for every part but the last
MAX_COPY_PART = 5 * 1024**3  # S3's ceiling for one UploadPartCopy
# Slowest transfer a call is allowed before its deadline: aiohttp times reads out, but a server that
# stops reading an upload would hold a write forever without a deadline of the call's own.
MIN_THROUGHPUT = 1_000_000  # bytes per second
_STAGING = "staging/"
# aiohttp's ClientPayloadError (a body cut short) reaches us unwrapped from a streamed GET.
_FAILURES = (ClientError, BotoCoreError, aiohttp.ClientError, OSError, TimeoutError)


@dataclass(frozen=True, slots=True, kw_only=True)
class S3Config:
    bucket: str
    endpoint_url: str | None = None  # None: AWS itself, for the region
    region: str | None = None  # None: from the AWS environment (AWS_REGION, the profile)
    prefix: str = ""  # every key starts with it, so one bucket can hold several services
    part_size: int = 8 * 1024 * 1024
    timeout: float = 10.0  # seconds to connect, and between two reads of an answer
    max_attempts: int = 3  # botocore's standard retries, counting the first try
    public_endpoint_url: str | None = None  # presigned URLs point here when clients see S3 elsewhere


@dataclass(frozen=True, slots=True)
class _Leftover:
    """What a failed upload may leave: an unfinished multipart upload, or an object version."""

    key: str
    upload_id: str | None = None
    version_id: str | None = None  # of a staging object in a versioned bucket: deleted for good


def staging_name(at: datetime) -> str:
    """`staging/<ms since the epoch>-<random>`: the key tells its own age, which S3-compatible
    servers do not all report faithfully (moto's ListMultipartUploads says every upload began in
    2010)."""
    return f"{_STAGING}{int(at.timestamp() * 1000):013d}-{uuid.uuid4().hex}"


def _begun(name: str, reported: datetime) -> datetime:
    """When a staging key was made, from its name; else what the server reported."""
    stamp = name[len(_STAGING) :].split("-", 1)[0] if name.startswith(_STAGING) else ""
    return datetime.fromtimestamp(int(stamp) / 1000, UTC) if stamp.isdigit() else reported


@functools.cache
def _session() -> AioSession:
    """One session per process: it loads S3's service model once, not once per client."""
    return get_session()


def _code(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", ""))
    return ""


def _status(exc: BaseException) -> int:
    if isinstance(exc, ClientError):
        return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return 0


class _S3Staged:
    def __init__(self, store: S3FileStore) -> None:
        self._store = store
        self._client = store.client
        self._buffer = bytearray()
        self._staging_key = store.key(staging_name(store.clock.now()))
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._size = 0  # bytes sent in parts
        self._staged: _Leftover | None = None  # the staging object, once its upload is completed
        self._final_upload: _Leftover | None = None  # the copy's multipart upload, while it runs
        self._done = False  # published or discarded

    @property
    def size(self) -> int:
        return self._size + len(self._buffer)

    async def read(self, start: int, end: int, chunk_size: int) -> AsyncIterator[bytes]:
        """Read back before publishing (a media processor): from memory while no part went up;
        else the staging upload is completed first (its parts cannot be read before), after which
        nothing more may be written."""
        end = min(end, self.size)
        if self._upload_id is None:
            for offset in range(start, end, chunk_size):
                yield bytes(self._buffer[offset : min(offset + chunk_size, end)])
            return
        try:
            with self._store.deadline(len(self._buffer)):
                await self._seal()
        except _FAILURES as exc:
            raise StorageUnavailable("The file store did not answer; the upload was not kept.") from exc
        assert self._staged is not None
        async for chunk in _ranged(
            self._store, self._staging_key, start, end, chunk_size, self._staged.version_id, None
        ):
            yield chunk

    async def _seal(self) -> None:
        """Sends what is left as the last part and completes the staging upload into an object."""
        if self._staged is not None:
            return
        assert self._upload_id is not None
        if self._buffer:
            await self._upload_part(bytes(self._buffer))
            self._buffer = bytearray()
        done = await self._client.complete_multipart_upload(
            Bucket=self._store.config.bucket,
            Key=self._staging_key,
            UploadId=self._upload_id,
            MultipartUpload={"Parts": self._parts},
        )
        self._staged = _Leftover(self._staging_key, version_id=done.get("VersionId"))

    async def fill(self, chunks: AsyncIterable[bytes], check: BodyCheck | None = None) -> str:
        return await write_pipeline.fill(self.write, chunks, check)

    async def write(self, *chunks: bytes) -> None:
        if self._done:
            raise StorageUnavailable("The staged file was already published or discarded.")
        if self._staged is not None:
            raise RuntimeError("nothing may be written to a staged file once it was read back")
        for chunk in chunks:
            self._buffer += chunk
        part_size = self._store.config.part_size
        while len(self._buffer) >= part_size:
            part = bytes(self._buffer[:part_size])
            del self._buffer[:part_size]
            try:
                with self._store.deadline(len(part)):
                    await self._upload_part(part)
            except _FAILURES as exc:
                raise StorageUnavailable("The file store did not answer; the upload was not kept.") from exc

    async def _upload_part(self, part: bytes) -> None:
        bucket = self._store.config.bucket
        if self._upload_id is None:
            created = await self._client.create_multipart_upload(Bucket=bucket, Key=self._staging_key)
            self._upload_id = created["UploadId"]
        number = len(self._parts) + 1
        answer = await self._client.upload_part(
            Bucket=bucket, Key=self._staging_key, UploadId=self._upload_id, PartNumber=number, Body=part
        )
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"]})
        self._size += len(part)

    async def publish(self, filename: str) -> None:
        if not is_stored_name(filename):
            raise ValueError(f"{filename!r} is not a stored name")
        if self._done:
            raise StorageUnavailable("The staged file was already published or discarded.")
        key = self._store.key(filename)
        try:
            if self._upload_id is None:
                with self._store.deadline(len(self._buffer)):
                    await self._client.put_object(
                        Bucket=self._store.config.bucket, Key=key, Body=bytes(self._buffer), IfNoneMatch="*"
                    )
            else:
                with self._store.deadline(self._size + len(self._buffer)):
                    await self._publish_large(key)
        except _FAILURES as exc:
            if _status(exc) == 412 or _code(exc) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise Conflict(f"A file named {filename} is already stored.") from None
            raise StorageUnavailable("The file store did not answer; the file was not stored.") from exc
        self._done = True
        self._buffer = bytearray()
        if self._staged is not None:  # published: the staging object is only garbage now
            await self._store.remove_or_remember(self._staged)

    async def _publish_large(self, key: str) -> None:
        client, bucket = self._client, self._store.config.bucket
        await self._seal()
        assert self._staged is not None
        source = {"Bucket": bucket, "Key": self._staging_key}
        if self._staged.version_id:
            source["VersionId"] = self._staged.version_id
        if self._size <= MAX_COPY_PART:
            # If-None-Match on a copy is honoured by AWS, not by every server (moto ignores it): the
            # HEAD first refuses a taken name there too, racing only a publish of the same fresh
            # UUID name, which the service never makes.
            if await self._store.exists(key):
                raise Conflict(
                    f"A file named {key.removeprefix(self._store.config.prefix)} is already stored."
                )
            await client.copy_object(Bucket=bucket, Key=key, CopySource=source, IfNoneMatch="*")  # type: ignore[arg-type]
            return
        await self._copy_in_parts(key, source)

    async def _copy_in_parts(self, key: str, source: dict[str, str]) -> None:
        """Past 5 GiB a copy goes in parts, into a multipart upload completed with If-None-Match,
        which every server honours."""
        client, bucket = self._client, self._store.config.bucket
        created = await client.create_multipart_upload(Bucket=bucket, Key=key)
        self._final_upload = _Leftover(key, upload_id=created["UploadId"])
        parts: list[CompletedPartTypeDef] = []
        for number, start in enumerate(range(0, self._size, MAX_COPY_PART), 1):
            end = min(start + MAX_COPY_PART, self._size) - 1
            copied = await client.upload_part_copy(
                Bucket=bucket,
                Key=key,
                UploadId=created["UploadId"],
                PartNumber=number,
                CopySource=source,  # type: ignore[arg-type]
                CopySourceRange=f"bytes={start}-{end}",
            )
            parts.append({"PartNumber": number, "ETag": copied["CopyPartResult"]["ETag"]})
        await client.complete_multipart_upload(
            Bucket=bucket,
            Key=key,
            UploadId=created["UploadId"],
            MultipartUpload={"Parts": parts},
            IfNoneMatch="*",
        )
        self._final_upload = None

    async def discard(self) -> None:
        self._buffer = bytearray()
        if self._done:
            return
        self._done = True
        store = self._store
        if self._final_upload is not None:
            await store.remove_or_remember(self._final_upload)
        if self._staged is not None:
            await store.remove_or_remember(self._staged)
        elif self._upload_id is not None:
            await store.remove_or_remember(_Leftover(self._staging_key, upload_id=self._upload_id))


class _S3OpenFile:
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
        async for chunk in _ranged(self._store, self._key, start, end, chunk_size, self._version, self._etag):
            yield chunk


async def _ranged(
    store: S3FileStore, key: str, start: int, end: int, chunk_size: int, version: str | None, etag: str | None
) -> AsyncIterator[bytes]:
    """The object's bytes in `[start, end)` from one ranged GET, pinned to the version (or else
    to the ETag), in chunks of at most `chunk_size`."""
    if start >= end:
        return
    try:
        with store.deadline():
            answer = await _get(store, key, f"bytes={start}-{end - 1}", version, etag)
    except _FAILURES as exc:
        if _status(exc) in (404, 412):
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
    except _FAILURES as exc:
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
        self._orphans: list[_Leftover] = []  # what a discard could not remove
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
        staged = _S3Staged(self)
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
        except _FAILURES as exc:
            if _status(exc) == 404:
                raise NotFound("No such file.") from None
            raise StorageUnavailable("The file store did not answer.") from exc
        opened = _S3OpenFile(self, key, dict(head))
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
        except _FAILURES as exc:
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
        except _FAILURES as exc:
            raise StorageUnavailable(f"The bucket {self.config.bucket} cannot be listed.") from exc
        return names

    async def check(self) -> None:
        probe = self.key(staging_name(self.clock.now()))
        try:
            with self.deadline():
                put = await self.client.put_object(Bucket=self.config.bucket, Key=probe, Body=b"probe")
            await self._remove(_Leftover(probe, version_id=put.get("VersionId")))
        except _FAILURES as exc:
            raise StorageUnavailable(f"The bucket {self.config.bucket} cannot be written.") from exc

    async def exists(self, key: str) -> bool:
        try:
            with self.deadline():
                await self.client.head_object(Bucket=self.config.bucket, Key=key)
        except ClientError as exc:
            if _status(exc) == 404:
                return False
            raise
        return True

    async def bucket_status(self) -> int:
        """The HTTP status of a HEAD on the bucket: 200, 403 (not ours), 404 (no such bucket)."""
        try:
            with self.deadline():
                await self.client.head_bucket(Bucket=self.config.bucket)
        except ClientError as exc:
            if _status(exc) in (301, 400, 401, 403, 404):
                return _status(exc)
            raise StorageUnavailable("The file store did not answer.") from exc
        except _FAILURES as exc:
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
        except _FAILURES as exc:
            raise StorageUnavailable("The file store's credentials could not be had.") from exc

    async def remove_or_remember(self, leftover: _Leftover) -> None:
        """Removes it; when S3 does not answer, keeps it for the next `recover()`."""
        try:
            await self._remove(leftover)
        except _FAILURES as exc:
            log.warning("could not remove %s from the bucket (%s); the sweeper will retry", leftover.key, exc)
            self._orphans.append(leftover)

    async def _remove(self, leftover: _Leftover) -> None:
        with self.deadline():
            await self._remove_now(leftover)

    async def _remove_now(self, leftover: _Leftover) -> None:
        bucket = self.config.bucket
        if leftover.upload_id is None:
            if leftover.version_id:
                await self.client.delete_object(
                    Bucket=bucket, Key=leftover.key, VersionId=leftover.version_id
                )
            else:
                await self.client.delete_object(Bucket=bucket, Key=leftover.key)
            return
        try:
            await self.client.abort_multipart_upload(
                Bucket=bucket, Key=leftover.key, UploadId=leftover.upload_id
            )
        except ClientError as exc:
            if _code(exc) != "NoSuchUpload":  # already aborted or completed: nothing left
                raise

    async def recover(self, older_than: timedelta = timedelta(hours=1)) -> int:
        """Removes what crashed or failed uploads left: the uploads and staging objects that a
        discard here could not remove, and every unfinished multipart upload and staging object
        of this prefix begun more than `older_than` ago (a live upload is younger: give it the
        longest an upload may take). Returns how many were removed."""
        cutoff = self.clock.now() - older_than
        removed = 0
        orphans, self._orphans = self._orphans, []
        try:
            for index, leftover in enumerate(orphans):
                try:
                    await self._remove(leftover)
                except BaseException:
                    self._orphans.extend(orphans[index:])
                    raise
                removed += 1
            removed += await self._sweep(cutoff)
        except _FAILURES as exc:
            raise StorageUnavailable(f"The bucket {self.config.bucket} cannot be swept.") from exc
        return removed

    async def _sweep(self, cutoff: datetime) -> int:
        removed = 0
        bucket, prefix = self.config.bucket, self.config.prefix
        uploads = self.client.get_paginator("list_multipart_uploads")
        async for page in uploads.paginate(Bucket=bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                name = upload["Key"][len(prefix) :]
                ours = name.startswith(_STAGING) or is_stored_name(name)  # the copy step's, too
                if ours and _begun(name, upload["Initiated"]) < cutoff:
                    await self._remove(_Leftover(upload["Key"], upload_id=upload["UploadId"]))
                    removed += 1
        # Versions, not objects: in a versioned bucket a staging object is deleted for good.
        versions = self.client.get_paginator("list_object_versions")
        async for listing in versions.paginate(Bucket=bucket, Prefix=self.key(_STAGING)):
            for item in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
                if _begun(item["Key"][len(prefix) :], item["LastModified"]) < cutoff:
                    await self._remove(_Leftover(item["Key"], version_id=item.get("VersionId")))
                    removed += 1
        return removed
