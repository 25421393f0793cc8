"""The end of an upload: its staged files published under fresh UUID names (those whose bytes are
not stored already), their rows and references committed, the members told, in the order that
leaves no row without its file after a crash at any point."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

import anyio

from application.access import message_in_conversation
from application.events import Logged, MediaAttached
from application.ports.unit_of_work import UnitOfWork
from domain.attachment import Attachment, Rendition, rendition_name, stored_name
from domain.conversation import Conversation, Message
from domain.errors import NotFound, StorageUnavailable
from domain.policy import display_name

if TYPE_CHECKING:
    from application.upload_media import StagedUpload, UploadMedia

log = logging.getLogger(__name__)


async def attachable(
    uow: UnitOfWork, message_id: uuid.UUID, uploader_id: str
) -> tuple[Message, Conversation]:
    """The message and its conversation, when the uploader sent it (403 otherwise; 404 when they
    cannot see it)."""
    message, conversation = await message_in_conversation(uow, message_id, uploader_id)
    message.ensure_sender(uploader_id, "attach files to it")
    return message, conversation


async def commit_upload(
    use_case: UploadMedia, uploader_id: str, message: Message | None, files: Sequence[StagedUpload]
) -> list[Attachment]:
    """Publishes the files whose bytes are not stored yet (and every rendition: thumbnail, preview),
    then commits their rows, their references to their contents and, for a message, its event; then
    removes the copies another upload of the same bytes made unneeded meanwhile, and tells the
    members. A failure before the commit removes every file it published.

    One copy per content: bytes already stored (the same sha256) are not published again but
    referred to. Should their last reference go between the look-up and the transaction, the
    transaction finds no content to refer to: it is rolled back, those files are published under
    their own names, and it runs again (a file offering its name cannot fail that way)."""
    now = use_case.clock.now()
    attachments = [_attachment(item, uploader_id, message, now) for item in files]
    published: list[str] = []
    try:
        async with use_case.uow() as uow:
            known = {item.sha256 for item in files if await uow.contents.get(item.sha256) is not None}
        offered: set[str] = set()  # the attachments whose bytes are published under their name
        for item, attachment in zip(files, attachments, strict=True):
            for rendition, staged in item.renditions.items():
                await staged.staged.publish(rendition_name(attachment.id, rendition))
                published.append(rendition_name(attachment.id, rendition))
            if item.sha256 not in known:
                await _publish(item, attachment, published, offered)
        committed = await _commit(use_case, uploader_id, message, attachments, offered, now)
        # Each run publishes what the last one missed, and a file offering its name is never
        # missing: at most one run per file more.
        while isinstance(committed, _ContentGone):
            for item, attachment in zip(files, attachments, strict=True):
                if attachment.filename in committed.missing:
                    await _publish(item, attachment, published, offered)
            committed = await _commit(use_case, uploader_id, message, attachments, offered, now)
    except BaseException:
        with anyio.CancelScope(shield=True):
            for filename in published:
                await use_case.files.delete(filename)
        raise
    for attachment in committed.attachments:
        if attachment.filename in offered and attachment.stored_as != attachment.filename:
            try:  # another upload's copy of the same bytes came first: this one is not needed
                await use_case.files.delete(attachment.filename)
            except StorageUnavailable:  # committed all the same; no content names it: swept later
                log.warning("could not remove %s, a second copy; the sweeper will", attachment.filename)
    if committed.logged is not None and committed.conversation is not None:
        await use_case.broadcaster.publish(committed.logged, committed.conversation.member_ids)
    return committed.attachments


async def _publish(
    item: StagedUpload, attachment: Attachment, published: list[str], offered: set[str]
) -> None:
    await item.staged.publish(attachment.filename)
    published.append(attachment.filename)
    offered.add(attachment.filename)


@dataclass(frozen=True, slots=True)
class _Committed:
    attachments: list[Attachment]
    logged: Logged | None = None  # None for drafts: nobody is told of them
    conversation: Conversation | None = None


@dataclass(frozen=True, slots=True)
class _ContentGone:
    missing: frozenset[str]  # the filenames of the attachments whose content went meanwhile


async def _commit(
    use_case: UploadMedia,
    uploader_id: str,
    message: Message | None,
    attachments: Sequence[Attachment],
    offered: set[str],
    now: datetime,
) -> _Committed | _ContentGone:
    async with use_case.uow() as uow:
        # Again in the transaction: other uploads may have landed meanwhile.
        stored = (
            await uow.attachments.bytes_stored_by(uploader_id)
            if use_case.policy.storage_quota is not None
            else 0
        )
        use_case.policy.check_quota(stored, sum(a.size for a in attachments))
        current = conversation = None
        if message is not None:
            # Checked again inside the transaction: the message may have gone meanwhile.
            current, conversation = await attachable(uow, message.id, uploader_id)
            if not await uow.messages.hold(current.id):
                raise NotFound("No such message.")  # deleted since: as if it never was
        contents: dict[str, str] = {}
        missing: set[str] = set()
        for attachment in sorted(attachments, key=lambda a: a.sha256):  # row locks in one order
            name = attachment.filename if attachment.filename in offered else None
            content = await uow.contents.refer(attachment.sha256, attachment.size, name)
            if content is None:
                missing.add(attachment.filename)
            else:
                contents[attachment.filename] = content
        if missing:
            return _ContentGone(frozenset(missing))  # leaving the block rolls the references back
        referring = [replace(a, content_name=contents[a.filename]) for a in attachments]
        for attachment in referring:
            await uow.attachments.add(attachment)
        if current is None or conversation is None:
            await uow.commit()
            return _Committed(referring)
        if not current.has_media:
            await uow.messages.set_has_media(current.id, True)
        seq = await uow.conversations.advance(conversation.id, now)
        logged = await uow.events.append(
            MediaAttached(
                conversation_id=conversation.id, seq=seq, message_id=current.id, attachments=referring
            )
        )
        await uow.commit()
        return _Committed(referring, logged, conversation)


def _attachment(item: StagedUpload, uploader_id: str, message: Message | None, now: datetime) -> Attachment:
    attachment_id = uuid.uuid4()
    admission, processed = item.received.admission, item.processed
    return Attachment(
        id=attachment_id,
        message_id=None if message is None else message.id,
        uploader_id=uploader_id,
        # A converted file (a HEIC stored as JPEG) is stored and served as what it became; the name
        # shown keeps what the uploader called it.
        filename=stored_name(attachment_id, processed.extension or admission.extension),
        original_name=display_name(item.received.original_name, admission.extension),
        content_type=processed.content_type or admission.content_type,
        kind=admission.kind,
        size=item.size,
        sha256=item.sha256,
        created_at=now,
        width=item.processed.width,
        height=item.processed.height,
        duration_s=item.processed.duration_s,
        blurhash=item.processed.blurhash,
        thumbnail_sha256=_digest(item, Rendition.THUMBNAIL),
        preview_sha256=_digest(item, Rendition.PREVIEW),
        scrubbed=item.processed.scrubbed,
        unscanned=item.unscanned,
    )


def _digest(item: StagedUpload, rendition: Rendition) -> str | None:
    staged = item.renditions.get(rendition)
    return None if staged is None else staged.sha256
