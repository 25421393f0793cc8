"""Uploading files to a message, streamed: no file is ever held whole in memory."""

from __future__ import annotations

import hashlib
import logging
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field

import anyio
import anyio.to_thread

from application.access import message_in_conversation
from application.events import MediaAttached
from application.ports import (
    Broadcaster,
    Clock,
    ContentSniffer,
    FileStore,
    MediaProcessor,
    ProcessedMedia,
    StagedFile,
    UnitOfWork,
    UnitOfWorkFactory,
)
from application.write_stages import BATCH, Batch, write_stages
from domain.attachment import Attachment, MediaKind, stored_name, thumbnail_name
from domain.content_checks import BodyCheck, body_check_for
from domain.conversation import Conversation, Message
from domain.errors import FileTooLarge, InvalidInput, MalformedUpload, QuotaExceeded
from domain.policy import MAX_FILES_PER_MESSAGE, SNIFF_WINDOW, Admission, MediaPolicy, display_name

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True, kw_only=True)
class FilePart:
    original_name: str
    chunks: AsyncIterator[bytes]  # must be read to its end before the next part is asked for


@dataclass(frozen=True, slots=True, kw_only=True)
class FieldPart:
    name: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class UploadMedia:
    uploader_id: str
    parts: AsyncIterator[FilePart | FieldPart]


@dataclass(slots=True)
class _Received:
    staged: StagedFile
    original_name: str
    admission: Admission
    size: int
    sha256: str
    processed: ProcessedMedia = field(default_factory=ProcessedMedia)
    thumbnail: StagedFile | None = None
    thumbnail_sha256: str | None = None


class UploadMediaHandler:
    """Rules:
    - one to ten `file` parts and an optional `message_id`; only the message's sender may attach
      to it; without one, the files are the uploader's drafts, seen by the uploader alone until a
      message names them (nobody is told of a draft);
    - each file: an allowed extension, a signature that agrees with it, a body that stays what it
      claimed, at most `policy.max_upload_size` bytes, counted as they arrive (413 at the byte);
    - the uploader's stored bytes, drafts included, stay within `policy.storage_quota` (413, counted
      as the bytes arrive and checked again in the transaction);
    - each file is processed by its kind's processor once all have arrived (metadata removed,
      orientation applied, a thumbnail made); what is stored, hashed and served is its result, and
      a file over the pixel or frame budget is refused like one over the size cap;
    - all or nothing: one refused file keeps none of them;
    - order: stage to a temporary file, process, publish under a fresh UUID name (fsync, rename)
      with its thumbnail beside it, commit the rows, then tell the members; a failure before the
      commit removes every published file, thumbnails included.
    """

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        files: FileStore,
        sniffer: ContentSniffer,
        broadcaster: Broadcaster,
        policy: MediaPolicy,
        clock: Clock,
        processors: Mapping[MediaKind, MediaProcessor] | None = None,
    ) -> None:
        self._uow = uow
        self._files = files
        self._sniffer = sniffer
        self._broadcaster = broadcaster
        self._policy = policy
        self._clock = clock
        self._processors = processors or {}

    async def __call__(self, command: UploadMedia) -> Sequence[Attachment]:
        message: Message | None = None
        quota_left: int | None = None
        async with AsyncExitStack() as staging:
            received: list[_Received] = []
            async for part in command.parts:
                if isinstance(part, FieldPart):
                    if part.name == "message_id":
                        # Checked as soon as it arrives, so a sender who may not attach is told
                        # before any later file is written.
                        async with self._uow() as uow:
                            message, _ = await _attachable(uow, _message_id(part.value), command.uploader_id)
                    continue
                if len(received) == MAX_FILES_PER_MESSAGE:
                    raise InvalidInput(f"At most {MAX_FILES_PER_MESSAGE} files go in one upload.")
                if not received:
                    quota_left = await self._quota_left(command.uploader_id)
                staged = await staging.enter_async_context(self._files.stage())
                item = await self._receive(part, staged, quota_left)
                received.append(item)
                if quota_left is not None:
                    quota_left -= item.size
            if not received:
                raise MalformedUpload("The upload holds no 'file' part.")
            for item in received:
                await self._process(item, staging)
            return await self._commit(message, command.uploader_id, received)

    async def _quota_left(self, uploader_id: str) -> int | None:
        quota = self._policy.storage_quota
        if quota is None:
            return None
        async with self._uow() as uow:
            left = quota - await uow.attachments.bytes_stored_by(uploader_id)
        if left <= 0:
            raise QuotaExceeded(_quota_sentence(quota))
        return left

    async def _receive(self, part: FilePart, staged: StagedFile, quota_left: int | None) -> _Received:
        self._policy.extension_of(part.original_name)  # an .exe is refused before its first byte
        limit = self._policy.max_upload_size
        size = 0

        def counted(chunk: bytes) -> bytes:
            nonlocal size
            size += len(chunk)
            if size > limit:
                raise FileTooLarge(f"'{part.original_name}' is larger than the {limit:,}-byte limit.")
            if quota_left is not None and size > quota_left:
                raise QuotaExceeded(_quota_sentence(self._policy.storage_quota))
            return chunk

        chunks = aiter(part.chunks)
        batch: Batch = []
        async for chunk in chunks:  # the first bytes decide what the file is, before any is written
            batch.append(counted(chunk))
            if size >= SNIFF_WINDOW:
                break
        if size == 0:
            raise InvalidInput(f"'{part.original_name}' is empty.")
        admission, check = self._admit(part.original_name, _head(batch))
        digest = hashlib.sha256()
        async with write_stages(staged, digest, check) as send:
            batched = size
            async for chunk in chunks:
                batch.append(counted(chunk))
                batched += len(chunk)
                if batched >= BATCH:
                    await send(batch)
                    batch, batched = [], 0
            if batch:
                await send(batch)
        check.finish()
        return _Received(
            staged=staged,
            original_name=part.original_name,
            admission=admission,
            size=size,
            sha256=digest.hexdigest(),
        )

    async def _process(self, item: _Received, staging: AsyncExitStack) -> None:
        """Runs the kind's processor and stages what it made in place of the upload's bytes."""
        processor = self._processors.get(item.admission.kind)
        if processor is None:
            return
        processed = await processor.process(item.staged, item.admission)
        if processed.note:
            log.info("%s (%s): %s", item.original_name, item.admission.content_type, processed.note)
        item.processed = processed
        if processed.content is not None:
            original = item.staged
            item.staged = await staging.enter_async_context(self._files.stage())
            item.size, item.sha256 = await _write_all(item.staged, processed.content)
            await original.discard()  # its bytes are not needed any more: free the space now
        if processed.thumbnail is not None:
            item.thumbnail = await staging.enter_async_context(self._files.stage())
            _, item.thumbnail_sha256 = await _write_all(item.thumbnail, processed.thumbnail)

    def _admit(self, original_name: str, head: bytes) -> tuple[Admission, BodyCheck]:
        admission = self._policy.admit(original_name, self._sniffer.sniff(head))
        return admission, body_check_for(admission.extension, admission.kind)

    async def _commit(
        self, message: Message | None, uploader_id: str, received: list[_Received]
    ) -> list[Attachment]:
        now = self._clock.now()
        attachments = []
        for item in received:
            attachment_id = uuid.uuid4()
            attachments.append(
                Attachment(
                    id=attachment_id,
                    message_id=None if message is None else message.id,
                    uploader_id=uploader_id,
                    filename=stored_name(attachment_id, item.admission.extension),
                    original_name=display_name(item.original_name, item.admission.extension),
                    content_type=item.admission.content_type,
                    kind=item.admission.kind,
                    size=item.size,
                    sha256=item.sha256,
                    created_at=now,
                    width=item.processed.width,
                    height=item.processed.height,
                    duration_s=item.processed.duration_s,
                    blurhash=item.processed.blurhash,
                    thumbnail_sha256=item.thumbnail_sha256,
                )
            )
        published: list[str] = []
        try:
            for item, attachment in zip(received, attachments, strict=True):
                await item.staged.publish(attachment.filename)
                published.append(attachment.filename)
                if item.thumbnail is not None:
                    await item.thumbnail.publish(thumbnail_name(attachment.id))
                    published.append(thumbnail_name(attachment.id))
            async with self._uow() as uow:
                quota = self._policy.storage_quota
                if quota is not None:  # again in the transaction: other uploads may have landed
                    stored = await uow.attachments.bytes_stored_by(uploader_id)
                    if stored + sum(a.size for a in attachments) > quota:
                        raise QuotaExceeded(_quota_sentence(quota))
                if message is None:
                    for attachment in attachments:
                        await uow.attachments.add(attachment)
                    await uow.commit()
                    return attachments  # drafts: nobody is told until a message names them
                # Checked again inside the transaction: the message may have gone meanwhile.
                current, conversation = await _attachable(uow, message.id, uploader_id)
                for attachment in attachments:
                    await uow.attachments.add(attachment)
                if not current.has_media:
                    await uow.messages.set_has_media(current.id, True)
                seq = await uow.conversations.advance(conversation.id, now)
                logged = await uow.events.append(
                    MediaAttached(
                        conversation_id=conversation.id,
                        seq=seq,
                        message_id=current.id,
                        attachments=attachments,
                    )
                )
                await uow.commit()
        except BaseException:
            with anyio.CancelScope(shield=True):
                for filename in published:
                    await self._files.delete(filename)
            raise
        await self._broadcaster.publish(logged, conversation.member_ids)
        return attachments


async def _attachable(
    uow: UnitOfWork, message_id: uuid.UUID, uploader_id: str
) -> tuple[Message, Conversation]:
    message, conversation = await message_in_conversation(uow, message_id, uploader_id)
    message.ensure_sender(uploader_id, "attach files to it")
    return message, conversation


async def _write_all(staged: StagedFile, data: bytes) -> tuple[int, str]:
    """Writes processed bytes to a staged file; returns their size and sha256."""
    digest = await anyio.to_thread.run_sync(hashlib.sha256, data)
    await staged.write(data)
    return len(data), digest.hexdigest()


def _head(chunks: Batch) -> bytes:
    """The first SNIFF_WINDOW bytes of the chunks (all of them when they are fewer)."""
    head = bytearray()
    for chunk in chunks:
        head += chunk[: SNIFF_WINDOW - len(head)]
        if len(head) == SNIFF_WINDOW:
            break
    return bytes(head)


def _message_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        raise InvalidInput("message_id must be a UUID.") from None


def _quota_sentence(quota: int | None) -> str:
    return f"This upload would pass your storage quota of {quota:,} bytes: delete some files first."
