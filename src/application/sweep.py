"""Sweeping what nobody will ask for again: drafts never sent, files no row names, and resumable
uploads past their expiry; and scanning again what was stored while the scanner was down."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from application.delete_media import DeleteMediaHandler
from application.ports.clock import Clock
from application.ports.files import FileStore
from application.ports.partials import PartialStore
from application.ports.scanner import Scanner
from application.ports.unit_of_work import UnitOfWorkFactory
from domain.attachment import Attachment
from domain.errors import NotFound, ScannerUnavailable

log = logging.getLogger(__name__)

BATCH = 500


@dataclass(frozen=True, slots=True, kw_only=True)
class SweepReport:
    drafts: int  # draft rows removed, each with its file
    orphans: int  # files removed that no row named
    uploads: int = 0  # resumable upload sessions removed past their expiry, with their bytes
    scanned: int = 0  # files stored unscanned that the scanner has now found clean
    infected: int = 0  # files stored unscanned in which it found malware: removed


class SweepHandler:
    """Rules:
    - a draft older than `draft_ttl` goes: its row and its reference first (commit), then its
      thumbnail and, when it was the last reference to its bytes, their file;
    - a file in the store that no row names (as a content, or as a thumbnail) goes once it is
      older than `orphan_grace`, so that an upload between writing its file and committing its
      row is never touched; a file a row names is never removed;
    - a resumable upload past its expiry goes, finished or not: its row first (commit), then its
      bytes; bytes last written more than `upload_ttl` ago go too, since every session they could
      belong to has expired (what a crash between the two steps left);
    - with a scanner, a file stored unscanned (the scanner was down, SCAN_FAIL=open) is scanned
      again: clean, it is marked scanned; infected, it is deleted as its uploader would delete it
      (`DeleteMediaHandler.remove`: row, files, the members told); while the scanner is still down,
      they wait for the next sweep.
    Each is repeated in batches until nothing is left, so one run clears any backlog."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        files: FileStore,
        clock: Clock,
        *,
        draft_ttl: timedelta,
        orphan_grace: timedelta,
        partials: PartialStore,
        upload_ttl: timedelta,
        scanner: Scanner | None = None,
        removal: DeleteMediaHandler | None = None,
    ) -> None:
        """`removal` deletes what the `scanner` finds infected; both or neither."""
        if (scanner is None) != (removal is None):
            raise ValueError("a sweep that scans needs a removal, and one that removes a scanner")
        self._uow = uow
        self._files = files
        self._clock = clock
        self._draft_ttl = draft_ttl
        self._orphan_grace = orphan_grace
        self._partials = partials
        self._upload_ttl = upload_ttl
        self._scanner = scanner
        self._removal = removal

    async def __call__(self) -> SweepReport:
        drafts, orphans, uploads = await self._drafts(), await self._orphans(), await self._uploads()
        scanned, infected = await self._unscanned()
        return SweepReport(
            drafts=drafts, orphans=orphans, uploads=uploads, scanned=scanned, infected=infected
        )

    async def _drafts(self) -> int:
        cutoff = self._clock.now() - self._draft_ttl
        removed = 0
        while True:
            gone: list[str] = []
            async with self._uow() as uow:
                drafts = await uow.attachments.drafts_created_before(cutoff, BATCH)
                for draft in drafts:
                    gone += await uow.attachments.delete(draft.id)
                await uow.commit()
            for name in gone:  # thumbnails, and the files whose last reference went
                await self._files.delete(name)
            removed += len(drafts)
            if len(drafts) < BATCH:
                return removed

    async def _orphans(self) -> int:
        cutoff = self._clock.now() - self._orphan_grace
        removed = 0
        seen: set[str] = set()
        while True:
            names = [
                n for n in await self._files.published_before(cutoff, BATCH + len(seen)) if n not in seen
            ]
            if not names:
                return removed
            async with self._uow() as uow:
                named = await uow.attachments.stored_filenames(names)
            for name in names:
                if name not in named:
                    await self._files.delete(name)
                    removed += 1
            seen.update(named)

    async def _uploads(self) -> int:
        now = self._clock.now()
        removed = 0
        while True:
            async with self._uow() as uow:
                sessions = await uow.uploads.expired(now, BATCH)
                for session in sessions:
                    await uow.uploads.delete(session.id)
                await uow.commit()
            for session in sessions:
                await self._partials.delete(session.id)
            removed += len(sessions)
            if len(sessions) < BATCH:
                break
        while stale := await self._partials.written_before(now - self._upload_ttl, BATCH):
            for upload_id in stale:
                await self._partials.delete(upload_id)
            if len(stale) < BATCH:
                break
        return removed

    async def _unscanned(self) -> tuple[int, int]:
        """(found clean, found infected and removed), until none is left or the scanner is down."""
        if self._scanner is None or self._removal is None:
            return 0, 0
        clean = infected = 0
        after: uuid.UUID | None = None
        while True:
            async with self._uow() as uow:
                batch = await uow.attachments.unscanned(BATCH, after=after)
            for attachment in batch:
                try:
                    signature = await self._scan(attachment)
                except ScannerUnavailable as exc:
                    log.warning("unscanned files wait for the next sweep: %s", exc)
                    return clean, infected
                if signature is None:
                    async with self._uow() as uow:
                        await uow.attachments.mark_scanned(attachment.id)
                        await uow.commit()
                    clean += 1
                else:
                    log.warning("removing %s: the malware scanner found %s in it", attachment.id, signature)
                    infected += await self._removal.remove(attachment.id)
            if len(batch) < BATCH:
                return clean, infected
            after = batch[-1].id

    async def _scan(self, attachment: Attachment) -> str | None:
        """The signature found in the attachment's file; None when it is clean, or gone (nothing
        of it can be served then)."""
        assert self._scanner is not None
        try:
            async with self._files.open(attachment.stored_as) as opened:
                return (await self._scanner.scan(opened)).signature
        except NotFound:
            return None
