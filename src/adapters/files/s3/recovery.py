"""What failed uploads leave in the bucket, and the sweep that removes it.

What a crash leaves (an unfinished multipart upload, a completed staging object) is older than any
live upload after `recover(older_than)`'s grace, and is removed then; what a discard could not clean
because S3 did not answer is remembered and retried by the next `recover()`.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from adapters.files.s3.config import FAILURES, STAGING, Leftover, begun, error_code
from domain.attachment import is_stored_name
from domain.errors import StorageUnavailable

if TYPE_CHECKING:
    from adapters.files.s3.store import S3FileStore

log = logging.getLogger("adapters.files.s3")  # the package's logger, as before it was split


class Leftovers:
    """One store's leftovers: removed at once when S3 answers, else remembered for `recover()`."""

    def __init__(self, store: S3FileStore) -> None:
        self._store = store
        self._orphans: list[Leftover] = []  # what a discard could not remove

    async def remove_or_remember(self, leftover: Leftover) -> None:
        """Removes it; when S3 does not answer, keeps it for the next `recover()`."""
        try:
            await self.remove(leftover)
        except FAILURES as exc:
            log.warning("could not remove %s from the bucket (%s); the sweeper will retry", leftover.key, exc)
            self._orphans.append(leftover)

    async def remove(self, leftover: Leftover) -> None:
        with self._store.deadline():
            await self._remove_now(leftover)

    async def _remove_now(self, leftover: Leftover) -> None:
        client, bucket = self._store.client, self._store.config.bucket
        if leftover.upload_id is None:
            if leftover.version_id:
                await client.delete_object(Bucket=bucket, Key=leftover.key, VersionId=leftover.version_id)
            else:
                await client.delete_object(Bucket=bucket, Key=leftover.key)
            return
        try:
            await client.abort_multipart_upload(Bucket=bucket, Key=leftover.key, UploadId=leftover.upload_id)
        except ClientError as exc:
            if error_code(exc) != "NoSuchUpload":  # already aborted or completed: nothing left
                raise

    async def recover(self, older_than: timedelta) -> int:
        """The remembered leftovers, then those begun before `older_than` ago: `S3FileStore.recover`."""
        cutoff = self._store.clock.now() - older_than
        removed = 0
        orphans, self._orphans = self._orphans, []
        try:
            for index, leftover in enumerate(orphans):
                try:
                    await self.remove(leftover)
                except BaseException:
                    self._orphans.extend(orphans[index:])
                    raise
                removed += 1
            removed += await self._sweep(cutoff)
        except FAILURES as exc:
            raise StorageUnavailable(f"The bucket {self._store.config.bucket} cannot be swept.") from exc
        return removed

    async def _sweep(self, cutoff: datetime) -> int:
        removed = 0
        store = self._store
        bucket, prefix = store.config.bucket, store.config.prefix
        uploads = store.client.get_paginator("list_multipart_uploads")
        async for page in uploads.paginate(Bucket=bucket, Prefix=prefix):
            for upload in page.get("Uploads", []):
                name = upload["Key"][len(prefix) :]
                ours = name.startswith(STAGING) or is_stored_name(name)  # the copy step's, too
                if ours and begun(name, upload["Initiated"]) < cutoff:
                    await self.remove(Leftover(upload["Key"], upload_id=upload["UploadId"]))
                    removed += 1
        # Versions, not objects: in a versioned bucket a staging object is deleted for good.
        versions = store.client.get_paginator("list_object_versions")
        async for listing in versions.paginate(Bucket=bucket, Prefix=store.key(STAGING)):
            for item in [*listing.get("Versions", []), *listing.get("DeleteMarkers", [])]:
                if begun(item["Key"][len(prefix) :], item["LastModified"]) < cutoff:
                    await self.remove(Leftover(item["Key"], version_id=item.get("VersionId")))
                    removed += 1
        return removed
