"""Uploading files to a message, streamed: no file is ever held whole in memory.

An upload is a session: `begin(uploader, message_id)`, then `receive(name, chunks)` for each file
as it arrives, then `commit()`; `abort()` (or leaving its block) drops what was staged. A multipart
form and a finished resumable upload both drive it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from types import TracebackType

from application.intake import Intake, Received
from application.ports.broadcaster import Broadcaster
from application.ports.clock import Clock
from application.ports.files import FileStore, StagedFile
from application.ports.media import MediaProcessor, ProcessedMedia
from application.ports.unit_of_work import UnitOfWorkFactory
from application.scanning import Scanning, scan_upload
from application.upload_commit import attachable, commit_upload
from domain.attachment import Attachment, MediaKind, Rendition
from domain.conversation import Message
from domain.errors import InvalidInput, MalformedUpload
from domain.policy import MAX_FILES_PER_MESSAGE, MediaPolicy

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StagedRendition:
    """A thumbnail or preview made of a file, staged to be published beside it."""

    staged: StagedFile
    sha256: str


@dataclass(slots=True)
class StagedUpload:
    """One file of the session, staged: what it was admitted as, and what processing made of it."""

    staged: StagedFile
    received: Received
    size: int
    sha256: str
    processed: ProcessedMedia = field(default_factory=ProcessedMedia)
    renditions: dict[Rendition, StagedRendition] = field(default_factory=dict)
    unscanned: bool = False  # the scanner did not answer and scanning fails open


class UploadMedia:
    """Rules:
    - one to ten files and an optional message; only the message's sender may attach to it
      (checked when it is named, before any later file is read, and again in the transaction);
      without one, the files are the uploader's drafts, seen by the uploader alone until a
      message names them (nobody is told of a draft);
    - each file goes through the `Intake` (type, signature, body, size cap and quota, at the byte);
    - the uploader's stored bytes, drafts included, stay within `policy.storage_quota` (413,
      counted as the bytes arrive and checked again in the transaction);
    - each file is processed by its kind's processor once all have arrived (metadata removed,
      orientation applied, a thumbnail made); what is stored, hashed and served is its result, and
      a file over the pixel or frame budget is refused like one over the size cap;
    - with `scanning`, each file's processed bytes are scanned before any is published
      (`application.scanning`): malware refuses the upload (422), a scanner down 503 or, failing
      open, the files stored marked unscanned;
    - all or nothing: one refused file keeps none of them;
    - order: stage, process, scan, publish under a fresh UUID name (fsync, rename) with its
      renditions (thumbnail, preview) beside it, commit the rows, then tell the members; a failure
      before the commit removes every published file, renditions included (`upload_commit`).
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        files: FileStore,
        intake: Intake,
        broadcaster: Broadcaster,
        policy: MediaPolicy,
        clock: Clock,
        processors: Mapping[MediaKind, MediaProcessor] | None = None,
        *,
        stored: Callable[[Sequence[Attachment]], None] | None = None,
        scanning: Scanning | None = None,
    ) -> None:
        """`stored` is told what each committed upload stored (the service counts it)."""
        self.uow = uow
        self.files = files
        self.intake = intake
        self.broadcaster = broadcaster
        self.policy = policy
        self.clock = clock
        self.processors = processors or {}
        self.stored = stored
        self.scanning = scanning

    async def begin(self, uploader_id: str, message_id: uuid.UUID | None = None) -> Upload:
        """A session for the uploader's files; a message the uploader may not attach to is refused
        now (404 when they cannot see it, 403 when they did not send it)."""
        upload = Upload(self, uploader_id)
        if message_id is not None:
            await upload.to_message(message_id)
        return upload


class Upload:
    """One upload in progress. Use it as an async context manager, or call `abort()`: what was
    staged and not committed is discarded either way."""

    def __init__(self, use_case: UploadMedia, uploader_id: str) -> None:
        self._use_case = use_case
        self.uploader_id = uploader_id
        self.message: Message | None = None
        self._staging = AsyncExitStack()
        self._files: list[StagedUpload] = []
        self._stored: int | None = None  # the uploader's bytes when the first file came, and since

    async def to_message(self, message_id: uuid.UUID) -> None:
        """Names the message the files go to, if `begin` did not (a form may name it after them)."""
        if self.message is not None:
            raise InvalidInput("The upload names its message twice.")
        async with self._use_case.uow() as uow:
            self.message, _ = await attachable(uow, message_id, self.uploader_id)

    async def receive(self, original_name: str, chunks: AsyncIterable[bytes]) -> None:
        """Stages one file, read to its end; raises what the intake refuses."""
        if len(self._files) == MAX_FILES_PER_MESSAGE:
            raise InvalidInput(f"At most {MAX_FILES_PER_MESSAGE} files go in one upload.")
        use_case = self._use_case
        if self._stored is None:
            self._stored = 0
            if use_case.policy.storage_quota is not None:
                async with use_case.uow() as uow:
                    self._stored = await uow.attachments.bytes_stored_by(self.uploader_id)
                use_case.policy.check_quota(self._stored, 1)  # no room left: refused before a byte
        staged = await self._staging.enter_async_context(use_case.files.stage())
        received = await use_case.intake.receive(original_name, chunks, staged, stored=self._stored)
        self._stored += received.size
        self._files.append(StagedUpload(staged, received, received.size, received.sha256))

    async def commit(self) -> Sequence[Attachment]:
        """Processes the files, publishes them, commits their rows and tells the members."""
        if not self._files:
            raise MalformedUpload("The upload holds no 'file' part.")
        try:
            for item in self._files:
                await self._process(item)
            if self._use_case.scanning is not None:
                await scan_upload(self._use_case.scanning, self._files)
            attachments = await commit_upload(self._use_case, self.uploader_id, self.message, self._files)
        finally:
            await self.abort()  # the published files are no longer staged: only leftovers go
        if self._use_case.stored is not None:
            self._use_case.stored(attachments)
        return attachments

    async def abort(self) -> None:
        """Discards every staged file; safe to call more than once, and after `commit`."""
        await self._staging.aclose()

    async def __aenter__(self) -> Upload:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.abort()

    async def _process(self, item: StagedUpload) -> None:
        """Runs the kind's processor and stages what it made in place of the upload's bytes."""
        admission = item.received.admission
        processor = self._use_case.processors.get(admission.kind)
        if processor is None:
            return
        processed = await processor.process(item.staged, admission, self._stage)
        if processed.note:
            log.info("%s (%s): %s", item.received.original_name, admission.content_type, processed.note)
        item.processed = processed
        original = item.staged
        if processed.restaged is not None:
            item.staged = processed.restaged.file
            item.size, item.sha256 = processed.restaged.size, processed.restaged.sha256
        elif processed.content is not None:
            item.staged = await self._stage()
            item.size = len(processed.content)
            item.sha256 = await item.staged.fill(_once(processed.content))
        if item.staged is not original:
            await original.discard()  # its bytes are not needed any more: free the space now
        for rendition, data in processed.renditions.items():
            staged = await self._stage()
            item.renditions[rendition] = StagedRendition(staged, await staged.fill(_once(data)))

    async def _stage(self) -> StagedFile:
        return await self._staging.enter_async_context(self._use_case.files.stage())


async def _once(data: bytes) -> AsyncIterable[bytes]:
    yield data
