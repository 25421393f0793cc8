"""A file staged on S3, and how it is published.

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
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

from adapters.files import write_pipeline
from adapters.files.s3.config import FAILURES, MAX_COPY_PART, Leftover, error_code, http_status, staging_name
from adapters.files.s3.open_file import ranged
from domain.attachment import is_stored_name
from domain.content_checks import BodyCheck
from domain.errors import Conflict, StorageUnavailable

if TYPE_CHECKING:
    from types_aiobotocore_s3.type_defs import CompletedPartTypeDef

    from adapters.files.s3.store import S3FileStore


class S3Staged:
    def __init__(self, store: S3FileStore) -> None:
        self._store = store
        self._client = store.client
        self._buffer = bytearray()
        self._staging_key = store.key(staging_name(store.clock.now()))
        self._upload_id: str | None = None
        self._parts: list[CompletedPartTypeDef] = []
        self._size = 0  # bytes sent in parts
        self._staged: Leftover | None = None  # the staging object, once its upload is completed
        self._final_upload: Leftover | None = None  # the copy's multipart upload, while it runs
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
        except FAILURES as exc:
            raise StorageUnavailable("The file store did not answer; the upload was not kept.") from exc
        assert self._staged is not None
        async for chunk in ranged(
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
        self._staged = Leftover(self._staging_key, version_id=done.get("VersionId"))

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
            except FAILURES as exc:
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
        except FAILURES as exc:
            if http_status(exc) == 412 or error_code(exc) in (
                "PreconditionFailed",
                "ConditionalRequestConflict",
            ):
                raise Conflict(f"A file named {filename} is already stored.") from None
            raise StorageUnavailable("The file store did not answer; the file was not stored.") from exc
        self._done = True
        self._buffer = bytearray()
        if self._staged is not None:  # published: the staging object is only garbage now
            await self._store.leftovers.remove_or_remember(self._staged)

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
        self._final_upload = Leftover(key, upload_id=created["UploadId"])
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
        leftovers = self._store.leftovers
        if self._final_upload is not None:
            await leftovers.remove_or_remember(self._final_upload)
        if self._staged is not None:
            await leftovers.remove_or_remember(self._staged)
        elif self._upload_id is not None:
            await leftovers.remove_or_remember(Leftover(self._staging_key, upload_id=self._upload_id))
